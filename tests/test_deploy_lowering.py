"""The ONNX lowering of circulant layers (circlearn.deploy.fourstep, lowering, crossover):
the three products against the NumPy reference and the plain-torch twin at every circulant
size a preset uses (fp32 and fp16), the exported graphs (no DFT where lowered, float32
matrices in fp16 and int8 files), the feature-major DBoF, and the rule's table against the
stored measurement it cites."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from circlearn import reference
from circlearn.deploy import crossover, fourstep
from circlearn.deploy.graph import DeployGraph, all_frames_model
from circlearn.deploy.lowering import (
    FeatureMajorDBoF,
    MatMulCirculant,
    lower_model,
    lowering_plan,
)
from circlearn.models import PRESETS, from_preset, preset_config
from circlearn.nn import CirculantLinear, fast_path
from circlearn.nn.pooling import DBoF

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- the factorization
@pytest.mark.parametrize("n,n1", [(8, 2), (8, 4), (8, 8), (12, 4), (24, 6), (32, 8)])
def test_real_dft_basis_block_diagonalizes_every_circulant(n, n1):
    """P C P⁻¹ = blockdiag(M_s) with P = F ⊗ I (structured.md §5.6), checked densely."""
    rng = np.random.default_rng(n + n1)
    c = rng.standard_normal(n)
    f, mix, _, g, n2 = fourstep.three_matrices(c[None], None, n1)
    p, p_inv = np.kron(f, np.eye(n2)), np.kron(g, np.eye(n2))
    np.testing.assert_allclose(p_inv @ p, np.eye(n), atol=1e-12)
    blocks = p @ reference.circulant(c) @ p_inv
    expected = np.zeros((n, n))
    for s in range(n1 // 2):
        sl = slice(2 * n2 * s, 2 * n2 * (s + 1))
        expected[sl, sl] = mix[0, s]
    np.testing.assert_allclose(blocks, expected, atol=1e-12 * np.abs(c).sum())


@pytest.mark.parametrize("n,out,diagonal", [(16, 16, True), (16, 40, True), (16, 5, True),
                                            (6, 6, False), (12, 30, False), (20, 7, True)])
def test_three_products_equal_the_reference(n, out, diagonal):
    rng = np.random.default_rng(out)
    b = reference.num_blocks(n, out)
    c, d = rng.standard_normal((2, b, n))
    x = rng.standard_normal((5, n))
    expected = reference.rectangular_matvec(c, d if diagonal else None, x, out)
    for n1, _ in {fourstep.split(n), fourstep.split_fft(n, out), (2, 0)}:
        fwd, mix, ds, inv, _ = fourstep.three_matrices(c, d if diagonal else None, n1)
        np.testing.assert_allclose(fourstep.apply_three(fwd, mix, ds, inv, x, out), expected,
                                   atol=1e-12)
        factors = fourstep.fft_factors(c, n1)
        np.testing.assert_allclose(fourstep.apply_fft(factors, d if diagonal else None, x, out),
                                   expected, atol=1e-12)


def test_split_and_bad_sizes():
    assert fourstep.split(1024) == (32, 32) and fourstep.split(8192) == (128, 64)
    assert fourstep.split(15) is None
    with pytest.raises(ValueError, match="n1 must be even and divide n = 12"):
        fourstep.three_matrices(np.ones((1, 12)), None, 3)
    with pytest.raises(ValueError, match="even and >= 2"):
        fourstep.real_dft_matrix(5)


# ----------------------------------------------------------------------------- every preset size
def _preset_layers() -> dict[tuple, tuple[str, str]]:
    """(in, out, diagonal, bias) of every circulant layer of every preset at paper size →
    (the form the export chooses for it, where it is)."""
    sizes = {}
    for preset in PRESETS:
        model = from_preset(preset, device="meta")
        plan = lowering_plan(model)["layers"]
        for name, m in model.named_modules():
            if isinstance(m, CirculantLinear):
                key = (m.in_features, m.out_features, m.diagonal, m.bias is not None)
                sizes.setdefault(key, (plan[name], f"{preset}: {name}"))
    return sizes


PRESET_LAYERS = _preset_layers()
LOWERED = {k: v for k, v in PRESET_LAYERS.items() if v[0] != "dft"}
FORMS = {"matmul": "mix", "matmul-fft": "fft"}


def test_every_preset_size_has_a_choice_and_the_embedding_is_lowered():
    assert LOWERED[(1024, 8192, "learned", False)][0] == "matmul"  # the paper's v2 headline
    assert len(PRESET_LAYERS) >= 8
    for (n, out, *_), (form, where) in PRESET_LAYERS.items():
        assert form in crossover.allowed_forms(n, out), where
        floats = {"matmul": fourstep.stored_floats(n, out, fourstep.split(n)[0]),
                  "matmul-fft": fourstep.stored_floats_fft(n, out, fourstep.split_fft(n, out)[0])}
        assert floats.get(form, 0) < n * out, where  # never more floats than the dense weight


def _layer(key, seed=0):
    n, out, diagonal, bias = key
    torch.manual_seed(seed)
    layer = CirculantLinear(n, out, bias=bias, diagonal=diagonal).eval()
    if bias:
        torch.nn.init.normal_(layer.bias)
    return layer


def _numpy(layer: CirculantLinear, x: np.ndarray) -> np.ndarray:
    c = layer.c.detach()[:, 0].double().numpy()
    d = None if layer.d is None else layer.d.detach()[:, 0].double().numpy()
    y = reference.rectangular_matvec(c, d, x, layer.out_features)
    return y if layer.bias is None else y + layer.bias.detach().double().numpy()


@pytest.mark.parametrize("key", sorted(LOWERED, key=str), ids=lambda k: f"{k[0]}-{k[1]}-{k[2]}")
def test_lowering_matches_reference_and_plain_twin_fp32_and_fp16(key):
    layer = _layer(key)
    lowered = MatMulCirculant(layer, FORMS[LOWERED[key][0]])
    x = torch.randn(3, 2, key[0], generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), fast_path(plain=True):
        twin, y = layer(x), lowered(x)
        twin16 = copy.deepcopy(layer).half()(x.half())
        y16 = lowered(x.half())
    expected = _numpy(layer, x.double().numpy())
    scale = np.abs(expected).max()
    np.testing.assert_allclose(y.double().numpy(), expected, atol=2e-6 * scale, rtol=0)
    torch.testing.assert_close(y, twin, atol=2e-6 * scale, rtol=0)
    assert y16.dtype == torch.float16  # computed in float32, returned in the input's dtype
    expected16 = _numpy(layer, x.half().double().numpy())
    np.testing.assert_allclose(y16.double().numpy(), expected16, atol=2e-3 * scale, rtol=1e-3)
    torch.testing.assert_close(y16.float(), twin16.float(), atol=1e-2 * scale, rtol=1e-2)


@pytest.mark.parametrize("form", ["mix", "fft"])
@pytest.mark.parametrize("key", [(16, 40, "sign-output", True), (16, 40, "sign", False),
                                 (12, 5, None, True), (24, 24, "learned", False)], ids=str)
def test_both_forms_equal_the_dense_weight(key, form):
    layer = _layer(key)
    x = torch.randn(4, key[0])
    expected = x.double().numpy() @ layer.dense().detach().double().numpy().T
    if layer.bias is not None:
        expected += layer.bias.detach().double().numpy()
    with torch.no_grad():
        np.testing.assert_allclose(MatMulCirculant(layer, form)(x).double().numpy(), expected,
                                   atol=1e-5)


def test_lowering_leaves_the_model_untouched():
    model = from_preset("dbof-video-embedding-circulant", feature_sizes=(16, 8),
                        num_classes=10, cluster_sizes=(64,), hidden_size=8).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    lowered = lower_model(model, "matmul", "feature-major")
    assert isinstance(lowered.pooling["rgb"], FeatureMajorDBoF)
    assert isinstance(model.pooling["rgb"], DBoF)  # the original keeps its modules
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="unknown lowering 'fft'"):
        lower_model(model, "fft")
    with pytest.raises(ValueError, match="cannot lower"):
        MatMulCirculant(CirculantLinear(15, 15))
    with pytest.raises(ValueError, match="form 'mix' or 'fft'"):
        MatMulCirculant(CirculantLinear(16, 16), "fast")


# ----------------------------------------------------------------------------- whole graphs
def _tiny(preset, **overrides):
    torch.manual_seed(0)
    cfg = preset_config(preset)
    clusters = (64,) if len(cfg.cluster_sizes) == 1 else (64, 32)
    model = from_preset(preset, **{"feature_sizes": (16, 8), "num_classes": 10,
                                   "hidden_size": 8, "cluster_sizes": clusters, **overrides})
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return all_frames_model(model.eval())


def _frames(b, t, counts, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(b, t, 24, generator=gen) * 4 - 2, torch.tensor(counts)


CASES = [("dbof", {"embedding": "circulant", "fc": "circulant",
                   "classifier_layer": "circulant-plain"}),
         ("dbof", {"dbof_pooling": "average", "embedding": "circulant-sign"}),
         ("dbof-video", {}), ("netvlad-fc-circulant", {"classifier_layer": "circulant-plain"})]


@pytest.mark.parametrize("lowering", ["matmul", "matmul-fft", "dft", "auto"])
@pytest.mark.parametrize("layout", ["batch-major", "feature-major", "auto"])
@pytest.mark.parametrize("preset,overrides", CASES)
def test_lowered_graph_equals_the_model(preset, overrides, lowering, layout):
    model = _tiny(preset, **overrides)
    graph = DeployGraph(lower_model(model, lowering, layout))
    for b, t, counts in ((4, 9, [9, 1, 0, 5]), (1, 3, [3])):
        x, n = _frames(b, t, counts, seed=t)
        with torch.no_grad():
            torch.testing.assert_close(graph(x, n), model(x, n), atol=2e-6, rtol=1e-5)


@pytest.fixture(scope="module")
def protos():
    """fp32, fp16 and int8 graphs of a model with every circulant placement, lowered (three
    exports: the int8 graphs are the fp32 ones quantized, :func:`build_onnx_set`)."""
    onnx = pytest.importorskip("onnx")
    from circlearn.deploy.onnx import build_onnx_set

    model = _tiny("dbof", embedding="circulant", fc="circulant",
                  classifier_layer="circulant-plain")
    plan = lowering_plan(model, "matmul")
    built = build_onnx_set(model, ("fp32", "fp16", "int8"), lowering="matmul")
    built["int8, matmul-fft"] = build_onnx_set(model, ("fp32", "int8"),
                                               lowering="matmul-fft")["int8"]
    return model, plan, built, onnx


def test_onnx_set_quantizes_the_fp32_graph_only_when_int8_lowers_alike(monkeypatch):
    """fp32 and int8 share one export when their lowering plans agree (the layout rule picks
    feature-major for both with a MatMul-lowered embedding), never when they differ (a dense
    DBoF is batch-major in fp32, feature-major in int8: ``crossover.LAYOUT_MS``)."""
    from circlearn.deploy import onnx as deploy_onnx

    calls = []
    monkeypatch.setattr(deploy_onnx, "build_onnx", lambda m, p, **kw: calls.append(p) or p)
    monkeypatch.setattr(deploy_onnx, "quantize_int8", lambda proto: f"quantized {proto}")
    compact = _tiny("dbof-video", embedding="circulant")
    assert lowering_plan(compact, "matmul", precision="int8") == lowering_plan(compact, "matmul")
    built = deploy_onnx.build_onnx_set(compact, ("int8", "fp16", "fp32"), lowering="matmul")
    assert built == {"int8": "quantized fp32", "fp16": "fp16", "fp32": "fp32"}
    assert calls == ["fp32", "fp16"]
    calls.clear()
    dense = _tiny("dbof-video")
    assert lowering_plan(dense, precision="int8") != lowering_plan(dense)
    assert deploy_onnx.build_onnx_set(dense, ("fp32", "int8"))["int8"] == "int8"
    assert calls == ["fp32", "int8"]


def _matrix_inits(proto):
    from circlearn.deploy.lowering import MATRIX_BUFFERS

    return {i.name: i for i in proto.graph.initializer
            if i.name.rsplit(".", 1)[-1] in MATRIX_BUFFERS}


def test_lowered_onnx_has_no_dft_and_keeps_its_matrices_float32(protos):
    model, plan, built, onnx = protos
    ort = pytest.importorskip("onnxruntime")
    assert set(plan["layers"].values()) == {"matmul"} and plan["feature_major"]
    x, n = _frames(3, 7, [7, 2, 0])
    with torch.no_grad():
        ref = model(x, n).numpy()
    for precision, proto in built.items():
        ops = [node.op_type for node in proto.graph.node]
        assert "DFT" not in ops, precision
        inits = _matrix_inits(proto)
        # one mixing (or edge) tensor per layer (equal DFT matrices may be stored once)
        mixing = ".dft_edge" if "fft" in precision else ".dft_mix"
        assert sum(n.endswith(mixing) for n in inits) == len(plan["layers"])
        assert {i.data_type for i in inits.values()} == {onnx.TensorProto.FLOAT}, precision
        readers = [node.op_type for node in proto.graph.node if set(node.input) & set(inits)]
        assert readers and set(readers) == {"MatMul"}, precision  # never MatMulInteger
        session = ort.InferenceSession(proto.SerializeToString(),
                                       providers=["CPUExecutionProvider"])
        out = session.run(None, {"frames": x.numpy(), "num_frames": n.numpy()})[0]
        atol = {"fp32": 1e-5, "fp16": 2e-3}.get(precision, 2e-2)
        np.testing.assert_allclose(out, ref, atol=atol, rtol=0)
    assert "MatMulInteger" in [node.op_type for node in built["int8"].graph.node]  # dense ones
    # the "dft" lowering's file does hold DFT nodes: tests/test_bench_deploy.py, on the
    # benchmark's files


def test_paper_size_embedding_in_onnx_runtime_matches_numpy():
    ort = pytest.importorskip("onnxruntime")
    from circlearn.deploy.onnx import OPSET

    layer = _layer((1024, 8192, "learned", False))
    x = torch.randn(5, 1024, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        program = torch.onnx.export(MatMulCirculant(layer), (x,), dynamo=True, verbose=False,
                                    opset_version=OPSET, input_names=["x"],
                                    dynamic_shapes=({0: torch.export.Dim("rows")},))
    proto = program.model_proto
    assert "DFT" not in [node.op_type for node in proto.graph.node]
    out = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]
                               ).run(None, {"x": x.numpy()})[0]
    expected = _numpy(layer, x.double().numpy())
    np.testing.assert_allclose(out, expected, atol=2e-6 * np.abs(expected).max(), rtol=0)


# ----------------------------------------------------------------------------- the measured rule
def test_the_rule_table_is_the_stored_measurement():
    """Every entry of crossover.CROSSOVER is a row of the file it cites, and its choice is
    that row's fastest compact form (least geometric mean over batch 1 and 32)."""
    stored = json.loads((ROOT / crossover.SOURCE).read_text())
    rows = {(r["in"], r["out"], r["batch"]): r["ms"] for r in stored["layers"]}
    assert len(crossover.CROSSOVER) == len(rows) // 2
    models = {r["precision"]: r["ms"] for r in stored["models"]}
    for (form, precision), ms in crossover.LAYOUT_MS.items():
        for layout, value in ms.items():
            label = ("dense" if form == "dense" else "circulant DFT" if form == "dft"
                     else "circulant MatMul") + f", {layout}"
            assert value == round(models[precision][label], 2), (form, precision, layout)
    for (n, out, place), entry in crossover.CROSSOVER.items():
        for form in ("matmul", "matmul-fft", "dft", "dense"):
            measured = [rows[(n, out, batch)].get(f"ort-{form}") for batch in (1, 32)]
            assert entry[form] == (None if None in measured else
                                   tuple(round(m, 3) for m in measured)), (n, out, form)
        assert crossover.choose_form(n, out, crossover.FRAMES_PER_VIDEO if place == "frame"
                                     else 1) == crossover.winner(entry,
                                                                 crossover.allowed_forms(n, out))


def test_choose_form_only_picks_allowed_forms():
    assert crossover.allowed_forms(65536, 512) == ("matmul-fft", "dft")  # mixing too large
    assert crossover.choose_form(15, 8, 1) == "dft"  # odd: no real four-step split
    assert crossover.choose_form(1024, 8192, crossover.FRAMES_PER_VIDEO) == "matmul"
    for n, out, rows in ((131072, 512, 1), (2048, 64, 1), (96, 300, 300), (6, 6, 1)):
        assert crossover.choose_form(n, out, rows) in crossover.allowed_forms(n, out)
    assert crossover.choose_layout("matmul-fft", "int8") == crossover.choose_layout("matmul",
                                                                                   "int8")
    with pytest.raises(ValueError, match="no measured layout"):
        crossover.choose_layout("dense", "bf16")
