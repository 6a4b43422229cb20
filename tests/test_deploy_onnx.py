"""ONNX export (circlearn.deploy): graph parity, precisions, CLI, errors, the Deploy page's example.

Exports take ~10 s each on the 2-core CPU (torch.export + decompositions), so the models are
shared module fixtures: three exported tiny models cover the three poolings' kinds of
layers, frame and video level, dense and every circulant placement (embedding, FC, MoE) —
the mask-based graph itself is compared with the model for every combination in torch,
which is cheap — and one briefly trained run on the bundled split checks fp16 and int8 GAP.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from circlearn.cli import main
from circlearn.data import samples
from circlearn.data.yt8m import dequantize
from circlearn.deploy.graph import DeployGraph, all_frames_model
from circlearn.deploy.onnx import export_onnx
from circlearn.models import from_preset, preset_config

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

ROOT = Path(__file__).resolve().parents[1]
DATA = samples.path("yt8m")
FRAME = DATA / "frame"
TINY = {"feature_sizes": (16, 8), "num_classes": 10, "hidden_size": 8}
#: |GAP(file) − GAP(fp32 torch)| allowed on the bundled validation split (300 videos).
GAP_TOLERANCE = {"fp16": 0.002, "int8": 0.01}


def _tiny(preset: str, **overrides):
    torch.manual_seed(0)
    video_only = preset.startswith("dbof-video")
    clusters = {"dbof": (32, 16), "netvlad": (4, 2), "netfv": (4, 2), None: ()}
    base = preset_config(preset)
    sizes = clusters[base.pooling][:1] if video_only else clusters[base.pooling]
    model = from_preset(preset, **{**TINY, "cluster_sizes": sizes, **overrides})
    for m in model.modules():  # non-trivial batch-norm statistics
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _frames(b: int, t: int, d: int, counts: list[int], seed: int = 0):
    """Dequantized random frames (B, T, D) whose padding is *not* zero, and their counts."""
    gen = torch.Generator().manual_seed(seed)
    q = torch.randint(0, 256, (b, t, d), generator=gen, dtype=torch.uint8)
    return dequantize(q), torch.tensor(counts, dtype=torch.int64)


# ----------------------------------------------------------------------------- graph (torch)
GRAPH_CASES = [
    ("dbof", {}), ("dbof", {"dbof_pooling": "average"}),
    ("dbof", {"embedding": "circulant", "fc": "circulant", "classifier_layer": "circulant-plain"}),
    ("dbof-fc-circulant-sign", {}), ("netvlad", {}), ("netvlad-fc-circulant", {}),
    ("netfv", {"embedding": "circulant"}), ("netfv-fc-circulant", {}),
    ("dbof-video-moe-circulant", {}), ("dbof-video-embedding-circulant", {}),
    ("netvlad", {"use_features": ("rgb",), "cluster_sizes": (4,)}),
]


@pytest.mark.parametrize("preset,overrides", GRAPH_CASES)
def test_mask_graph_equals_the_model_in_all_frames_mode(preset, overrides):
    model = all_frames_model(_tiny(preset, **overrides))
    graph = DeployGraph(model)
    x, n = _frames(5, 9, 24, [9, 1, 0, 4, 9])
    with torch.no_grad():
        torch.testing.assert_close(graph(x, n), model(x, n), atol=1e-6, rtol=1e-5)
        # padding content never matters; an empty video pools one zero frame
        y = x.clone()
        y[1, 1:] = 0
        torch.testing.assert_close(graph(y, n), graph(x, n), atol=1e-6, rtol=0)


@pytest.mark.parametrize("preset", ["logistic", "moe"])
def test_mask_graph_video_level(preset):
    torch.manual_seed(0)
    model = from_preset(preset, feature_sizes=(16, 8), num_classes=10,
                        **({"classifier_layer": "circulant-plain"} if preset == "moe" else {}))
    x = torch.randn(4, 24)
    x[2] = 0  # an all-zero video stays finite
    with torch.no_grad():
        out = DeployGraph(model.eval())(x)
        torch.testing.assert_close(out, model(x))
    assert torch.isfinite(out).all()


def test_fp16_graph_keeps_zero_frames_finite():
    model = _tiny("dbof-fc-circulant").half()
    x, n = _frames(2, 5, 24, [5, 0])
    with torch.no_grad():
        out = DeployGraph(model)(x, n)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


# ----------------------------------------------------------------------------- exported models
#: name → (preset, overrides): dbof with a circulant embedding; netfv all dense; video-level
#: MoE with circulant (plain) gates and experts. The trained run below adds NetVLAD with
#: circulant FC and MoE.
EXPORTED = {
    "dbof-embedding": ("dbof", {"embedding": "circulant"}),
    "netfv-dense": ("netfv", {}),
    "video-moe": ("moe", {"classifier_layer": "circulant-plain"}),
}


class _Recorder:
    """Replaces scipy.fft's transforms, the fast path's autograd Function and every numba
    kernel of circlearn.nn.kernels by wrappers that record the call."""

    def __init__(self, monkeypatch):
        import scipy.fft

        from circlearn.nn import fastpath, kernels

        self.calls: list[str] = []
        for name in ("rfft", "irfft", "fft", "ifft"):
            self._wrap(monkeypatch, scipy.fft, name, f"scipy.fft.{name}")
        self._wrap(monkeypatch, fastpath._CirculantLinearFn, "apply", "_CirculantLinearFn")
        for name, obj in list(vars(kernels).items()):
            if type(obj).__module__.startswith("numba"):
                self._wrap(monkeypatch, kernels, name, f"numba {name}")

    def _wrap(self, monkeypatch, owner, name, label):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            self.calls.append(label)
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx")
    files, recorded = {}, {}
    with pytest.MonkeyPatch.context() as mp:
        recorder = _Recorder(mp)
        for name, (preset, overrides) in EXPORTED.items():
            model = _tiny(preset, **overrides) if preset != "moe" else \
                from_preset(preset, feature_sizes=(16, 8), num_classes=10, **overrides).eval()
            path = out / f"{name}.onnx"
            result = export_onnx(model, path)
            files[name] = (model, path, result)
        recorded["export"] = list(recorder.calls)
        # the recorder can fail: the default fast path on a few CPU rows uses scipy.fft
        model = files["dbof-embedding"][0]
        with torch.no_grad():
            model(*_frames(1, 2, 24, [2]))
        recorded["fast path"] = list(recorder.calls[len(recorded["export"]):])
    return files, recorded


def test_export_never_calls_scipy_numba_or_the_autograd_function(exported):
    _, recorded = exported
    assert recorded["export"] == []
    assert any(c.startswith("scipy.fft") for c in recorded["fast path"])


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("name", ["dbof-embedding", "netfv-dense"])
def test_onnx_runtime_matches_the_model_for_any_batch_and_frame_count(exported, name):
    model, path, _ = exported[0][name]
    ref = all_frames_model(model)
    session = _session(path)
    for b, t, counts in ((5, 37, [37, 1, 0, 20, 37]), (1, 300, [300]), (2, 3, [0, 0])):
        x, n = _frames(b, t, 24, counts, seed=t)
        out = session.run(["probabilities"], {"frames": x.numpy(), "num_frames": n.numpy()})[0]
        with torch.no_grad():
            expected = ref(x, n).numpy()
        assert out.shape == (b, 10) and out.dtype == np.float32
        np.testing.assert_allclose(out, expected, atol=1e-5, rtol=0)


def test_zero_frames_is_one_zero_frame_whatever_the_padding(exported):
    model, path, _ = exported[0]["dbof-embedding"]
    session = _session(path)
    x, _ = _frames(3, 6, 24, [0, 0, 0])
    x[1] = 0
    out = session.run(None, {"frames": x.numpy(), "num_frames": np.zeros(3, np.int64)})[0]
    zero = session.run(None, {"frames": np.zeros((1, 1, 24), np.float32),
                              "num_frames": np.zeros(1, np.int64)})[0]
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, np.repeat(zero, 3, axis=0), atol=1e-6, rtol=0)
    # out-of-range counts are clamped to [0, T]
    over = session.run(None, {"frames": x.numpy(), "num_frames": np.array([-3, 6, 99])})[0]
    full = session.run(None, {"frames": x.numpy(), "num_frames": np.array([0, 6, 6])})[0]
    np.testing.assert_allclose(over, full, atol=1e-6, rtol=0)


def test_video_level_onnx(exported):
    model, path, _ = exported[0]["video-moe"]
    session = _session(path)
    assert [i.name for i in session.get_inputs()] == ["features"]
    x = torch.randn(7, 24)
    out = session.run(None, {"features": x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(out, model(x).numpy(), atol=1e-5, rtol=0)


def test_graph_interface_metadata_and_checker(exported):
    _, path, result = exported[0]["dbof-embedding"]
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert {o.domain: o.version for o in proto.opset_import}[""] == 20 == result["opset"]
    ops = {n.op_type for n in proto.graph.node}
    # the circulant embedding: three MatMuls (circlearn.deploy.lowering), no DFT node
    assert "DFT" not in ops and "MatMul" in ops
    inputs = {i.name: i.type.tensor_type for i in proto.graph.input}
    assert inputs["frames"].elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_param or d.dim_value for d in inputs["frames"].shape.dim] == \
        ["batch", "frames", 24]
    assert inputs["num_frames"].elem_type == onnx.TensorProto.INT64
    out = proto.graph.output[0]
    assert out.name == "probabilities"
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["batch", 10]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["feature_names"] == "rgb,audio" and meta["feature_sizes"] == "16,8"
    assert meta["num_classes"] == "10" and meta["eval_sampling"] == "all"
    assert path.stat().st_size == result["bytes"]


# ----------------------------------------------------------------------------- trained run, CLI
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """NetVLAD, circulant FC and circulant (plain) MoE, 15 steps on the bundled data."""
    from circlearn.training import TrainConfig, train

    model = preset_config("netvlad-fc-circulant", feature_sizes=(128, 16), num_classes=50,
                          cluster_sizes=(8, 4), hidden_size=16,
                          classifier_layer="circulant-plain", n_bagging=1, iterations=10)
    run_dir = tmp_path_factory.mktemp("deploy") / "run"
    train(TrainConfig(train_data=str(FRAME / "train*.tfrecord"),
                      eval_data=str(FRAME / "validate*.tfrecord"), run_dir=str(run_dir),
                      model=model, preset="netvlad-fc-circulant", batch_size=50,
                      base_learning_rate=1e-2, learning_rate_decay=1.0, batch_norm_momentum=0.1,
                      max_frames=50, eval_batch_size=300, max_steps=15, eval_every_steps=15,
                      checkpoint_every_steps=0, keep_checkpoints=1, device="cpu",
                      progress=False, log_every_steps=0, tensorboard=False))
    return run_dir


def _export(capsys, run_dir, *argv) -> str:
    assert main(["export", "--train-dir", str(run_dir), "--format", "onnx", *argv]) == 0
    return capsys.readouterr().out


def _gap(out: str) -> tuple[float, float]:
    m = re.search(r"GAP ONNX ([0-9.]+), torch fp32 ([0-9.]+)", out)
    return float(m.group(1)), float(m.group(2))


def test_cli_exports_each_precision_within_its_gap_tolerance(trained, capsys):
    out = _export(capsys, trained)
    path = trained / "export" / "model.onnx"
    assert f"to {path}" in out and "MB" in out and "ONNX opset 20" in out
    assert "on 300 evaluation videos" in out and "eval_sampling=all" in out
    gap32, torch32 = _gap(out)
    assert gap32 > 0.1 and abs(gap32 - torch32) < 1e-4  # trained, and the same model
    sizes = {"fp32": path.stat().st_size}
    for precision in ("fp16", "int8"):
        out = _export(capsys, trained, "--precision", precision)
        gap, ref = _gap(out)
        assert ref == torch32 and abs(gap - ref) <= GAP_TOLERANCE[precision], out
        sizes[precision] = (trained / "export" / f"model.{precision}.onnx").stat().st_size
    assert sizes["int8"] < sizes["fp16"] < sizes["fp32"]
    kinds = {}
    for precision, name in (("fp16", "model.fp16.onnx"), ("int8", "model.int8.onnx")):
        proto = onnx.load(str(trained / "export" / name))
        kinds[precision] = {onnx.TensorProto.DataType.Name(i.data_type) for i in
                            proto.graph.initializer if len(i.dims) >= 2 and np.prod(i.dims) >= 64}
        meta = {p.key: p.value for p in proto.metadata_props}
        assert meta["precision"] == precision and len(meta["vocabulary_sha256"]) == 64
    assert "FLOAT16" in kinds["fp16"] and "INT8" in kinds["int8"]


def test_cli_lowering_choice_writes_dft_nodes_or_none(trained, capsys, tmp_path):
    """``--lowering dft`` keeps ONNX ``DFT`` nodes (the smallest file); the default lowers
    this model's circulant layers to MatMuls (no ``DFT`` node); TorchScript refuses it."""
    files = {}
    for lowering in ("auto", "dft"):
        files[lowering] = tmp_path / f"{lowering}.onnx"
        out = _export(capsys, trained, "--lowering", lowering, "--output", str(files[lowering]))
        assert "GAP ONNX" in out
    ops = {k: {n.op_type for n in onnx.load(str(f)).graph.node} for k, f in files.items()}
    assert "DFT" in ops["dft"] and "DFT" not in ops["auto"] and "MatMul" in ops["auto"]
    with pytest.raises(ValueError, match="apply to --format onnx only"):
        from circlearn.deploy.export import export_run

        export_run(trained, fmt="torchscript", lowering="dft")


def test_deploy_page_onnx_example_runs_with_numpy_and_onnxruntime_alone(trained, capsys):
    """The example of the book's Deploy page (docs/deploy.md), run as written."""
    path = trained / "export" / "model.onnx"
    if not path.is_file():
        _export(capsys, trained)
    page = (ROOT / "docs" / "deploy.md").read_text()
    snippet = re.search(r"<!-- onnx-example -->\s*```python\n(.*?)```", page, re.S).group(1)
    assert len(snippet.strip().splitlines()) <= 10
    code = snippet.replace("runs/dbof/export/model.onnx", str(path))
    code += "\nimport sys\nassert 'torch' not in sys.modules and 'circlearn' not in sys.modules\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=trained)
    assert done.returncode == 0, done.stderr
    pairs = eval(done.stdout.strip())  # the snippet prints [(class, probability), ...]
    assert len(pairs) == 20 and all(0 <= p <= 1 for _, p in pairs)


def _user_error(capsys, argv, pattern):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "Traceback" not in "\n".join(err)
    assert any(pattern in line for line in err), err


def test_clear_errors(trained, tmp_path, capsys):
    for argv, bad in ((["--format", "tflite"], "tflite"),
                      (["--format", "onnx", "--precision", "int4"], "int4")):
        with pytest.raises(SystemExit) as exit_info:  # argparse: usage + one error line
            main(["export", "--train-dir", str(trained), *argv])
        assert exit_info.value.code == 2
        assert f"invalid choice: '{bad}'" in capsys.readouterr().err
    _user_error(capsys, ["export", "--train-dir", str(trained), "--precision", "fp16"],
                "--precision fp16 needs --format onnx")
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text((trained / "config.json").read_text())
    _user_error(capsys, ["export", "--train-dir", str(run), "--format", "onnx"],
                "no checkpoint in")
    with pytest.raises(ValueError, match="unknown precision 'bf16'"):
        export_onnx(_tiny("dbof"), tmp_path / "m.onnx", precision="bf16")


def test_core_package_does_not_import_onnx():
    code = ("import sys, circlearn, circlearn.nn, circlearn.models, circlearn.cli, "
            "circlearn.deploy.graph, circlearn.deploy.onnx, circlearn.deploy.torchscript, "
            "circlearn.deploy.export, circlearn.deploy.cli\n"
            "bad = [m for m in ('onnx', 'onnxscript', 'onnxruntime') if m in sys.modules]\n"
            "assert not bad, bad\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


# ----------------------------------------------------------------------------- one forward
@pytest.mark.parametrize("preset,overrides", [
    ("dbof", {"embedding": "circulant"}), ("netvlad-fc-circulant", {}),
])
def test_eager_torchscript_and_onnx_agree_on_padded_and_empty_videos(tmp_path, preset,
                                                                     overrides):
    """The three forwards are one: the eager model, the TorchScript file (uint8 frames, both
    sampling modes) and the ONNX graph (dequantized floats, every frame), on a batch with
    padded, empty and full videos whose padding is not zero."""
    from circlearn.deploy.torchscript import export_torchscript

    gen = torch.Generator().manual_seed(3)
    q = torch.randint(0, 256, (4, 11, 24), generator=gen, dtype=torch.uint8)  # (B, T, D)
    n = torch.tensor([11, 4, 0, 1])
    x = dequantize(q)
    for sampling in ("all", "random"):
        model = _tiny(preset, eval_sampling=sampling, **overrides)
        with torch.no_grad():
            eager = model(q, n)
        scripted = torch.jit.load(str(export_torchscript(
            model, tmp_path / f"{sampling}.pt", max_batch=8)["path"]))
        with torch.no_grad():
            torch.testing.assert_close(scripted(q, n), eager, atol=1e-6, rtol=1e-5)
        assert torch.isfinite(eager).all()
        if sampling == "all":
            export_onnx(model, tmp_path / "model.onnx")
            out = _session(tmp_path / "model.onnx").run(
                ["probabilities"], {"frames": x.numpy(), "num_frames": n.numpy()})[0]
            np.testing.assert_allclose(out, eager.numpy(), atol=1e-5, rtol=0)
            with torch.no_grad():  # the graph module in torch is the same forward
                torch.testing.assert_close(DeployGraph(model)(x, n), eager, atol=1e-6,
                                           rtol=1e-5)


def test_fp16_eager_model_keeps_zero_frames_finite():
    """The model normalizes in float32 also when its parameters are float16."""
    model = _tiny("dbof").half()
    x, n = _frames(2, 5, 24, [5, 0])
    with torch.no_grad():
        out = model(x, n)
    assert out.dtype == torch.float16 and torch.isfinite(out).all()


def test_export_leaves_logging_to_other_threads(monkeypatch):
    """While a model is exported, the root logger keeps its level and another thread's
    warnings still reach the handlers; the exporting thread's own advice is silenced."""
    import logging
    import threading

    from circlearn.deploy import onnx as deploy_onnx

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    root = logging.getLogger()
    handler = Keep(logging.WARNING)
    root.addHandler(handler)
    level = root.level
    seen = {}
    original = torch.onnx.export

    def export_and_look(*args, **kwargs):
        seen["level"] = root.level
        other = threading.Thread(target=lambda: logging.warning("from another thread"))
        other.start()
        other.join()
        logging.warning("from the exporting thread")
        return original(*args, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", export_and_look)
    try:
        deploy_onnx.build_onnx(_tiny("dbof"), "fp32")
    finally:
        root.removeHandler(handler)
    messages = [r.getMessage() for r in records]
    assert seen["level"] == level == root.level
    assert "from another thread" in messages
    assert "from the exporting thread" not in messages
