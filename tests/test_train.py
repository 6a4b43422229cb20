"""End-to-end training on the bundled data: run directory, exact resume, refusals, NaN stop,
evaluation, predictions, export."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from circlearn.data import samples
from circlearn.deploy.torchscript import export_torchscript
from circlearn.models import preset_config
from circlearn.training import TrainConfig, TrainingDiverged, evaluate, load_model, train
from circlearn.training.checkpoint import CheckpointManager, load_checkpoint
from circlearn.training.evaluation import eval_loader
from circlearn.training.predict import predict_top_k, read_predictions, write_predictions

FRAME = samples.path("yt8m") / "frame"
METRIC_KEYS = ("epoch", "step", "examples", "gap", "hit_at_one", "perr", "map", "loss")
RESUME_TOL = {"rtol": 1e-6, "atol": 1e-7}


def tiny_config(run_dir, preset="dbof-fc-circulant", **changes) -> TrainConfig:
    """A scaled-down preset on the bundled data: a step takes a few milliseconds."""
    model = preset_config(preset, feature_sizes=(128, 16), num_classes=50,
                          cluster_sizes=(16, 8), hidden_size=16, n_bagging=2, iterations=5)
    fields = dict(train_data=str(FRAME / "train0000.tfrecord"),
                  eval_data=str(FRAME / "validate0000.tfrecord"), run_dir=str(run_dir),
                  model=model, preset=preset, max_frames=50, batch_size=50, num_epochs=2,
                  base_learning_rate=5e-3, batch_norm_momentum=0.1, eval_every_steps=4,
                  checkpoint_every_steps=3, keep_checkpoints=2, device="cpu", progress=False,
                  log_every_steps=0, tensorboard=False)
    fields.update(changes)
    return TrainConfig(**fields)


def read_metrics(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    summary = train(tiny_config(run_dir, tensorboard=True))
    return run_dir, summary


def test_run_directory_layout(finished_run):
    run_dir, summary = finished_run
    assert summary["step"] == 20  # 2 epochs × 500 videos / 50
    rows = read_metrics(run_dir)
    assert [r["step"] for r in rows] == [4, 8, 12, 16, 20]
    assert all(set(METRIC_KEYS) <= set(r) for r in rows)
    assert json.loads((run_dir / "config.json").read_text())["model"]["num_classes"] == 50
    assert list(run_dir.glob("events.out.tfevents.*"))
    assert CheckpointManager(run_dir / "checkpoints").steps() == [18, 20]  # last 2 kept
    assert (run_dir / "checkpoints" / "best.pt").is_file()
    assert not list((run_dir / "checkpoints").glob("*.tmp"))


def test_learns_something(finished_run):
    rows = read_metrics(finished_run[0])
    assert rows[-1]["gap"] > rows[0]["gap"] and rows[-1]["gap"] > 0.2


def test_checkpoint_loads_with_weights_only(finished_run):
    state = load_checkpoint(finished_run[0] / "checkpoints" / "step-000000020.pt")
    assert state["step"] == 20 and state["examples"] == 1000
    assert set(state) >= {"model", "optimizer", "loader", "rng", "best_gap"}


def test_evaluate_reproduces_the_recorded_metrics(finished_run):
    run_dir, _ = finished_run
    model, config, info = load_model(run_dir)
    # Same batch size as training's evaluations: the sampled frames depend on the position
    # in the batch (the model reseeds its evaluation sampler at every call).
    result = evaluate(model, eval_loader(config.eval_data, config))
    last = read_metrics(run_dir)[-1]
    assert info["step"] == 20
    for key in ("gap", "hit_at_one", "perr", "map", "loss"):
        assert math.isclose(result[key], last[key], rel_tol=1e-9), key


def _run_with_interruptions(run_dir, stops) -> None:
    """Train, 'killing' the run at each step in ``stops`` (an exception in the step hook),
    then resuming by calling train again on the same directory."""
    for stop in stops:
        def hook(step, stop=stop):
            if step == stop:
                raise KeyboardInterrupt("simulated kill")
        with pytest.raises(KeyboardInterrupt):
            train(tiny_config(run_dir), on_step=hook)
    train(tiny_config(run_dir))


def test_checkpoints_keep_the_wall_time_of_every_session(tmp_path):
    """A kill loses no session's time: the resumed run's summary starts from the
    checkpoint's elapsed seconds, which grow across sessions."""
    import time

    def slow_kill(step):
        time.sleep(0.05)
        if step == 7:
            raise KeyboardInterrupt("simulated kill")

    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(tmp_path), on_step=slow_kill)
    first = load_checkpoint(tmp_path / "checkpoints" / "step-000000006.pt")["elapsed_seconds"]
    assert first >= 6 * 0.05  # six slowed steps before the checkpoint
    summary = train(tiny_config(tmp_path), on_step=lambda step: time.sleep(0.05))
    assert summary["elapsed_before_seconds"] == first
    last = load_checkpoint(tmp_path / "checkpoints" / "step-000000020.pt")["elapsed_seconds"]
    assert last >= first + 14 * 0.05  # steps 7 to 20 in the second session


@pytest.mark.parametrize("stops", [[7], [4, 13]], ids=["kill-after-step-7", "kill-twice"])
def test_killed_and_resumed_run_equals_uninterrupted(finished_run, tmp_path, stops):
    # Checkpoints every 3 steps and at every evaluation (every 4): a kill at step 7 resumes
    # from step 6 and redoes step 7; a kill at step 13 resumes from step 12.
    _run_with_interruptions(tmp_path, stops)
    ref, got = read_metrics(finished_run[0]), read_metrics(tmp_path)
    assert [r["step"] for r in got] == [r["step"] for r in ref]
    for a, b in zip(ref, got):
        for key in METRIC_KEYS + ("train_loss",):
            np.testing.assert_allclose(b[key], a[key], **RESUME_TOL, err_msg=key)
    w_ref = load_checkpoint(finished_run[0] / "checkpoints" / "step-000000020.pt")["model"]
    w_got = load_checkpoint(tmp_path / "checkpoints" / "step-000000020.pt")["model"]
    for name in w_ref:
        torch.testing.assert_close(w_got[name], w_ref[name], **RESUME_TOL)


def test_max_steps_stop_then_resume_matches(finished_run, tmp_path):
    train(tiny_config(tmp_path, max_steps=10))
    assert CheckpointManager(tmp_path / "checkpoints").steps()[-1] == 10
    train(tiny_config(tmp_path))
    got = {r["step"]: r["gap"] for r in read_metrics(tmp_path)}
    ref = {r["step"]: r["gap"] for r in read_metrics(finished_run[0])}
    # The stop at step 10 was evaluated (the final step of that schedule); the evaluation
    # changes nothing in the training that follows it.
    assert sorted(got) == [4, 8, 10, 12, 16, 20]
    np.testing.assert_allclose([got[s] for s in ref], list(ref.values()), **RESUME_TOL)


# The final step is always evaluated, once.

def test_max_steps_inside_an_epoch_evaluates_the_final_step(tmp_path):
    summary = train(tiny_config(tmp_path, max_steps=13, eval_every_steps=0))
    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows] == [10, 13]  # the end of epoch 1, then the stop
    assert rows[-1]["step"] == summary["step"] == 13 and rows[-1]["epoch"] == 1.3
    assert summary["last"] == rows[-1]
    assert CheckpointManager(tmp_path / "checkpoints").steps()[-1] == 13
    train(tiny_config(tmp_path, max_steps=13, eval_every_steps=0))  # resume a finished run
    assert read_metrics(tmp_path) == rows


def test_eval_every_not_dividing_the_steps_evaluates_the_final_step(tmp_path):
    summary = train(tiny_config(tmp_path, eval_every_steps=6))  # 20 steps
    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows] == [6, 12, 18, 20]
    assert rows[-1]["step"] == summary["step"] == 20
    assert rows[-1]["train_loss"] > 0  # the mean over steps 19 and 20
    train(tiny_config(tmp_path, eval_every_steps=6))  # resume a finished run
    assert read_metrics(tmp_path) == rows


@pytest.mark.parametrize("changes,steps", [
    ({"eval_every_steps": 5}, [5, 10, 15, 20]),
    ({"eval_every_steps": 0}, [10, 20]),  # at the end of every epoch
    ({"eval_every_steps": 4, "max_steps": 8}, [4, 8]),
    ({"eval_every_steps": 0, "max_steps": 10}, [10]),  # max_steps at the end of an epoch
], ids=["every-5", "every-epoch", "every-4-max-8", "every-epoch-max-10"])
def test_schedule_ending_on_an_evaluation_evaluates_it_once(tmp_path, changes, steps):
    train(tiny_config(tmp_path, checkpoint_every_steps=0, **changes))
    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows] == steps
    train(tiny_config(tmp_path, checkpoint_every_steps=0, **changes))  # resume: nothing to do
    assert read_metrics(tmp_path) == rows


def test_interrupted_final_evaluation_is_redone_once(tmp_path, monkeypatch):
    # Step 9 is checkpointed (every 3 steps) before its final evaluation; a kill after that
    # evaluation's row was written but before its checkpoint leaves a row the checkpoint of
    # step 9 does not cover.
    import circlearn.training.loop as loop

    original = loop._Trainer._save

    def killed_after_final_evaluation(self, best=False):
        if self.step == 9 and self.pending[1] == 0:
            raise KeyboardInterrupt("simulated kill")
        original(self, best)

    monkeypatch.setattr(loop._Trainer, "_save", killed_after_final_evaluation)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(tmp_path, max_steps=9))
    assert [r["step"] for r in read_metrics(tmp_path)] == [4, 8, 9]
    monkeypatch.setattr(loop._Trainer, "_save", original)
    train(tiny_config(tmp_path, max_steps=9))
    assert [r["step"] for r in read_metrics(tmp_path)] == [4, 8, 9]
    ref = tmp_path / "ref"
    train(tiny_config(ref, max_steps=9))
    for a, b in zip(read_metrics(ref), read_metrics(tmp_path)):
        for key in METRIC_KEYS + ("train_loss",):
            np.testing.assert_allclose(b[key], a[key], **RESUME_TOL, err_msg=key)


def test_evaluations_do_not_change_the_training(tmp_path):
    # Evaluation draws nothing the training steps use: the same weights, bitwise, whether
    # the run evaluated every 3 steps or only at the end.
    train(tiny_config(tmp_path / "often", eval_every_steps=3, checkpoint_every_steps=0))
    train(tiny_config(tmp_path / "end", max_steps=20, eval_every_steps=20,
                      checkpoint_every_steps=0))
    often = load_checkpoint(tmp_path / "often" / "checkpoints" / "step-000000020.pt")
    end = load_checkpoint(tmp_path / "end" / "checkpoints" / "step-000000020.pt")
    for name, value in end["model"].items():
        assert torch.equal(often["model"][name], value), name
    # The frame-sampling generator is untouched by evaluation; the global torch RNG is not
    # (each evaluation DataLoader draws its base seed) but no training step reads it.
    assert torch.equal(often["rng"]["sampling"][0], end["rng"]["sampling"][0])


def test_resume_with_incompatible_config_is_refused(tmp_path):
    train(tiny_config(tmp_path, max_steps=3))
    changed = tiny_config(tmp_path, base_learning_rate=1e-3, seed=5)
    with pytest.raises(ValueError, match=r"base_learning_rate \(was 0.005, now 0.001\).*seed"):
        train(changed)
    other_model = tiny_config(tmp_path).replace(model=preset_config(
        "dbof", feature_sizes=(128, 16), num_classes=50, cluster_sizes=(16, 8), hidden_size=16))
    with pytest.raises(ValueError, match="model.fc"):
        train(other_model)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    train(tiny_config(tmp_path, max_steps=3))
    good = load_checkpoint(tmp_path / "checkpoints" / "step-000000003.pt")["model"]

    def poison(step):
        if step == 4:
            for p in model_params:
                p.data.fill_(float("nan"))
    # Poison the weights after step 4 through the hook: the loss of step 5 is NaN.
    import circlearn.training.loop as loop
    original = loop._Trainer.__init__
    model_params = []

    def capture(self, *args, **kwargs):
        original(self, *args, **kwargs)
        model_params.extend(self.model.parameters())
    loop._Trainer.__init__ = capture
    try:
        with pytest.raises(TrainingDiverged, match="loss is nan at step 5"):
            train(tiny_config(tmp_path), on_step=poison)
    finally:
        loop._Trainer.__init__ = original
    steps = CheckpointManager(tmp_path / "checkpoints").steps()
    assert steps == [3, 4]  # step 4 was evaluated (and checkpointed) before the poisoning
    latest = load_checkpoint(tmp_path / "checkpoints" / "step-000000004.pt")["model"]
    assert all(torch.isfinite(v).all() for v in latest.values() if v.is_floating_point())
    assert set(good) == set(latest)


def test_predictions_csv(finished_run, tmp_path):
    run_dir, _ = finished_run
    model, config, _ = load_model(run_dir)
    out = tmp_path / "predictions.csv"
    loader = eval_loader(str(FRAME.parent / "frame" / "test0000.tfrecord"), config)
    n = write_predictions(out, predict_top_k(model, loader, top_k=20))
    parsed = read_predictions(out)
    assert n == len(parsed) == 100
    for pairs in parsed.values():
        assert len(pairs) == 20
        assert len({c for c, _ in pairs}) == 20 and all(0 <= c < 50 for c, _ in pairs)
        scores = [s for _, s in pairs]
        assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("preset", ["dbof-fc-circulant", "netvlad"])
def test_export_reloads_with_the_same_outputs(tmp_path, preset):
    model, config, _ = None, tiny_config(tmp_path, preset=preset), None
    from circlearn.models import VideoClassifier
    model = VideoClassifier(config.model).eval()
    result = export_torchscript(model, tmp_path / "model.pt", max_batch=16, max_frames=50)
    loaded = torch.jit.load(str(tmp_path / "model.pt"))
    frames = torch.randint(0, 256, (9, 31, 144), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(3))
    num = torch.tensor([31, 0, 1, 5, 17, 30, 2, 9, 31])
    torch.testing.assert_close(loaded(frames, num), model(frames, num), rtol=0, atol=1e-6)
    assert result["bytes"] == (tmp_path / "model.pt").stat().st_size > 0
