"""One experiment run (``circlearn.experiments.runner.run_one``) reports the final step's GAP."""

from __future__ import annotations

import json

import pytest

from circlearn.data import samples
from circlearn.experiments.runner import read_curve, run_one
from circlearn.models import preset_config
from circlearn.training import TrainConfig

FRAME = samples.path("yt8m") / "frame"


def tiny_config(run_dir, **changes) -> TrainConfig:
    """A scaled-down DBoF on the bundled data: 10 steps per epoch of a few milliseconds."""
    model = preset_config("dbof-fc-circulant", feature_sizes=(128, 16), num_classes=50,
                          cluster_sizes=(16, 8), hidden_size=16, n_bagging=2, iterations=5)
    fields = dict(train_data=str(FRAME / "train0000.tfrecord"),
                  eval_data=str(FRAME / "validate0000.tfrecord"), run_dir=str(run_dir),
                  model=model, preset="dbof-fc-circulant", max_frames=50, batch_size=50,
                  num_epochs=2, base_learning_rate=5e-3, batch_norm_momentum=0.1,
                  checkpoint_every_steps=0, keep_checkpoints=1, device="cpu", progress=False,
                  log_every_steps=0, tensorboard=False)
    fields.update(changes)
    return TrainConfig(**fields)


@pytest.mark.parametrize("changes,final", [({"max_steps": 13, "eval_every_steps": 0}, 13),
                                           ({"eval_every_steps": 6}, 20)],
                         ids=["max-steps-inside-an-epoch", "eval-every-not-dividing"])
def test_run_one_reports_the_final_step(tmp_path, changes, final):
    result = run_one(tiny_config(tmp_path, **changes).to_dict(), None, None)
    rows = read_curve(tmp_path)
    assert result["steps"] == rows[-1]["step"] == final
    assert result["gap"] == rows[-1]["gap"]
    assert result["curve"][-1] == {"epoch": rows[-1]["epoch"], "gap": rows[-1]["gap"]}


def test_run_one_refuses_an_older_evaluation(tmp_path, monkeypatch):
    import circlearn.training as training

    def stale_run(config):  # a run directory whose last row is not the final step
        row = {"epoch": 1.0, "step": 10, "gap": 0.5, "videos_per_s": 100.0}
        (tmp_path / "metrics.jsonl").write_text(json.dumps(row) + "\n")
        return {"step": 13, "videos_per_s": 100.0}

    monkeypatch.setattr(training, "train", stale_run)
    with pytest.raises(ValueError, match="last evaluation in metrics.jsonl is of step 10, but "
                                         "training ended at step 13"):
        run_one(tiny_config(tmp_path).to_dict(), None, None)
