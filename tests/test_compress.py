"""``circlearn compress``: the projections are the reference's nearest structures, batch norm
is re-estimated where it follows them, the run folder evaluates and exports, errors are one
line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from circlearn import reference
from circlearn.cli import main
from circlearn.data import samples
from circlearn.models import preset_config
from circlearn.training.compress import (
    CompressConfig,
    compress_model,
    project_layer,
    reestimate_batch_norm,
)

FRAME = samples.path("yt8m") / "frame"


@pytest.mark.parametrize("shape", [(8, 8), (24, 8), (6, 16)], ids=str)
@pytest.mark.parametrize("kind", ["circulant", "toeplitz", "low-rank"])
def test_projection_is_the_reference_nearest_structure(kind, shape):
    torch.manual_seed(0)
    dense = torch.nn.Linear(shape[1], shape[0], bias=True)
    w = dense.weight.detach().double().numpy()
    layer = project_layer(dense, kind, rank=2)
    got = layer.dense().detach().double().numpy()
    if kind == "circulant":
        c = reference.nearest_block_circulant(w, shape[1])
        expected = reference.rectangular_matrix(c, None, shape[0])
        assert torch.equal(layer.d, torch.ones_like(layer.d))  # the projection onto d = 1
    elif kind == "toeplitz":
        expected = reference.toeplitz(*reference.nearest_toeplitz(w))
    else:
        expected = reference.low_rank_matrix(*reference.nearest_low_rank(w, 2))
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert torch.equal(layer.bias, dense.bias)
    if kind != "low-rank":  # a linear subspace: the residual is orthogonal to all of it
        rng = np.random.default_rng(1)
        other = project_layer(_linear(rng.standard_normal(shape)), kind).dense()
        assert abs(np.sum((w - expected) * other.detach().double().numpy())) < 1e-5


def _linear(w: np.ndarray) -> torch.nn.Linear:
    layer = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
    return layer


def _dense_model(**overrides):
    from circlearn.models import VideoClassifier

    torch.manual_seed(0)
    cfg = preset_config("dbof", feature_sizes=(16, 8), num_classes=10, cluster_sizes=(32, 16),
                        hidden_size=8, **overrides)
    return VideoClassifier(cfg).eval()


def test_compress_model_projects_the_chosen_layers_and_copies_the_rest():
    dense = _dense_model()
    compact = compress_model(dense, CompressConfig(fc="toeplitz", embedding="circulant"))
    assert (compact.config.fc, compact.config.embedding) == ("toeplitz", "circulant")
    state, kept = dense.state_dict(), compact.state_dict()
    changed = ("fc.rgb.linear.", "fc.audio.linear.", "pooling.rgb.projection.",
               "pooling.audio.projection.")
    for k, v in kept.items():
        if not k.startswith(changed):
            assert torch.equal(v, state[k]), k
    np.testing.assert_allclose(compact.fc["rgb"].linear.dense().detach().numpy(),
                               reference.toeplitz(*reference.nearest_toeplitz(
                                   state["fc.rgb.linear.weight"].double().numpy())), atol=1e-6)


def test_batch_norm_reestimated_where_it_follows_a_projected_layer():
    model = compress_model(_dense_model(), CompressConfig(fc="circulant"))
    untouched = model.pooling["rgb"].bn.running_mean.clone()
    seen = []
    hook = model.fc["rgb"].bn.register_forward_pre_hook(lambda m, a: seen.append(a[0].detach()))
    gen = torch.Generator().manual_seed(3)
    batches = [_Batch(torch.randint(0, 256, (6, 12, 24), generator=gen, dtype=torch.uint8))
               for _ in range(3)]
    names = ["fc.rgb.bn", "fc.audio.bn", "context_gating.bn"]
    assert reestimate_batch_norm(model, batches, names) == 3
    hook.remove()
    # momentum None: the plain average of the batches' means (bagging calls the FC once)
    mean = torch.stack([s.mean(0) for s in seen]).mean(0)
    torch.testing.assert_close(model.fc["rgb"].bn.running_mean, mean, atol=1e-6, rtol=1e-5)
    assert torch.equal(model.pooling["rgb"].bn.running_mean, untouched)
    assert model.fc["rgb"].bn.momentum == 1e-3 and not model.training


class _Batch:
    def __init__(self, frames):
        self.frames, self.num_frames = frames, torch.full((frames.shape[0],), frames.shape[1])


@pytest.fixture(scope="module")
def dense_run(tmp_path_factory):
    from circlearn.training import TrainConfig, train

    model = preset_config("dbof", feature_sizes=(128, 16), num_classes=50,
                          cluster_sizes=(32, 16), hidden_size=16, n_bagging=1, iterations=10)
    run_dir = tmp_path_factory.mktemp("compress") / "dense"
    train(TrainConfig(train_data=str(FRAME / "train*.tfrecord"),
                      eval_data=str(FRAME / "validate*.tfrecord"), run_dir=str(run_dir),
                      model=model, preset="dbof", batch_size=50, base_learning_rate=1e-2,
                      learning_rate_decay=1.0, batch_norm_momentum=0.1, max_frames=50,
                      eval_batch_size=300, max_steps=15, eval_every_steps=15,
                      checkpoint_every_steps=0, keep_checkpoints=1, device="cpu",
                      progress=False, log_every_steps=0, tensorboard=False))
    return run_dir


def test_compressed_run_evaluates_exports_and_trains_on(dense_run, tmp_path, capsys):
    out = tmp_path / "compact"
    assert main(["compress", "--train-dir", str(dense_run), "--out", str(out), "--fc",
                 "circulant", "--embedding", "circulant", "--bn-batches", "4",
                 "--base-learning-rate", "0.005"]) == 0
    text = capsys.readouterr().out
    assert "parameters 2" in text and "GAP dense 0." in text and "after 1 fine-tuning" in text
    report = json.loads((out / "compress.json").read_text())
    config = json.loads((out / "config.json").read_text())
    assert config["run_dir"] == str(out) and config["base_learning_rate"] == 0.005
    assert config["model"]["fc"] == config["model"]["embedding"] == "circulant"
    assert report["parameters"]["compact"] < report["parameters"]["dense"]
    assert 0 < report["gap"]["projected"] < 1 and 0 < report["gap"]["fine_tuned"] < 1
    assert [p.name for p in out.parent.iterdir()] == ["compact"]  # no temporary folder left
    assert main(["eval", "--train-dir", str(out), "--eval-data-pattern",
                 str(FRAME / "validate*.tfrecord")]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["gap"] == pytest.approx(report["gap"]["fine_tuned"], abs=1e-9)
    assert main(["export", "--train-dir", str(out), "--verify-videos", "20"]) == 0
    assert (out / "export" / "model.torchscript.pt").is_file()
    pytest.importorskip("onnxruntime")
    assert main(["export", "--train-dir", str(out), "--format", "onnx", "--verify-videos",
                 "20"]) == 0
    assert "max |difference|" in capsys.readouterr().out


def _user_error(capsys, argv, pattern):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and pattern in err[0], err


def test_clear_errors(dense_run, tmp_path, capsys):
    base = ["compress", "--train-dir", str(dense_run), "--out", str(tmp_path / "x")]
    _user_error(capsys, ["compress", "--train-dir", str(tmp_path / "none"), "--out",
                         str(tmp_path / "x"), "--fc", "circulant"], "config.json not found")
    _user_error(capsys, base + ["--fc", "low-rank"], "--fc low-rank needs --rank")
    _user_error(capsys, base + ["--fc", "circulant", "--rank", "4"], "--rank applies to")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "f").write_text("x")
    _user_error(capsys, ["compress", "--train-dir", str(dense_run), "--out",
                         str(tmp_path / "busy"), "--fc", "toeplitz"], "not an empty folder")
    out = tmp_path / "toeplitz"
    assert main(["compress", "--train-dir", str(dense_run), "--out", str(out), "--fc",
                 "toeplitz", "--fine-tune-epochs", "0", "--bn-batches", "2"]) == 0
    assert "not fine-tuned" in capsys.readouterr().out
    assert (out / "checkpoints" / "step-000000000.pt").is_file()
    _user_error(capsys, ["compress", "--train-dir", str(out), "--out", str(tmp_path / "y"),
                         "--fc", "circulant"], "the run's FC is 'toeplitz', not dense")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
