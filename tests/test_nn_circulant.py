"""CirculantLinear: forward and gradients against .dense() and the reference, API, state."""

import io

import numpy as np
import pytest
import torch
from conftest import tol
from numpy.testing import assert_allclose

from circlearn import reference as ref
from circlearn.nn import CirculantLinear

MODES = ["learned", "sign", None]
SQUARE = [1, 2, 3, 13, 64, 1000, 1024]
RECT = [(7, 3), (3, 7), (1024, 8192), (8192, 512), (1152, 8192)]


def _layer(n_in, n_out, diagonal, k, dtype=torch.float64, device="cpu", seed=0):
    torch.manual_seed(seed)
    return CirculantLinear(n_in, n_out, diagonal=diagonal, n_factors=k, dtype=dtype,
                           device=device, init_std=1 / np.sqrt(n_in))


def _ref_weight(layer):
    d = None if layer.d is None else layer.d.detach().cpu().double().numpy()
    return ref.rectangular_matrix(layer.c.detach().cpu().double().numpy(), d,
                                  layer.out_features)


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("diagonal", MODES)
@pytest.mark.parametrize("shape", [(n, n) for n in SQUARE] + RECT, ids=str)
def test_forward_matches_reference_fft(shape, diagonal, k):
    n_in, n_out = shape
    layer = _layer(n_in, n_out, diagonal, k)
    x = torch.randn(3, n_in, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    d = None if layer.d is None else layer.d.detach().numpy()
    expected = ref.rectangular_matvec(layer.c.detach().numpy(), d, x.numpy(), n_out)
    expected = expected + layer.bias.detach().numpy()
    assert_allclose(layer(x).detach().numpy(), expected, **tol(torch.float64))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("diagonal", MODES)
@pytest.mark.parametrize("shape", [(n, n) for n in SQUARE] + RECT, ids=str)
def test_dense_forward_and_gradients_agree(shape, diagonal, dtype, device):
    """x @ dense().T + b and the FFT layer: same output, same gradients for x, c, d, bias."""
    n_in, n_out = shape
    layer = _layer(n_in, n_out, diagonal, 1, dtype=dtype, device=device)
    x = torch.randn(4, n_in, dtype=dtype, device=device, requires_grad=True)
    g = torch.randn(4, n_out, dtype=dtype, device=device)
    params = [p for p in layer.parameters()]
    y_fft = layer(x)
    grads_fft = torch.autograd.grad(y_fft, [x, *params], g)
    y_dense = x @ layer.dense().T + layer.bias
    grads_dense = torch.autograd.grad(y_dense, [x, *params], g)
    t = tol(dtype, n_in)
    torch.testing.assert_close(y_fft, y_dense, **t)
    for a, b in zip(grads_fft, grads_dense):
        scale = max(1.0, float(b.abs().max()))
        torch.testing.assert_close(a / scale, b / scale, **t)
    if dtype == torch.float64 and n_in * n_out <= 2**24:
        assert_allclose(layer.dense().detach().cpu().numpy(), _ref_weight(layer), atol=1e-12)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("diagonal", MODES)
@pytest.mark.parametrize("shape", [(7, 3), (3, 7), (13, 13), (64, 64)], ids=str)
def test_factor_chains_dense_and_gradients(shape, diagonal, k):
    layer = _layer(*shape, diagonal, k)
    x = torch.randn(2, shape[0], dtype=torch.float64, requires_grad=True)
    assert_allclose(layer.dense().detach().numpy(), _ref_weight(layer), atol=1e-12)
    gx_fft, = torch.autograd.grad(layer(x).sum(), x)
    gx_dense, = torch.autograd.grad((x @ layer.dense().T).sum(), x)
    torch.testing.assert_close(gx_fft, gx_dense, **tol(torch.float64))


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("diagonal", MODES)
@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 3), (4, 4), (5, 2), (3, 7)], ids=str)
def test_gradcheck_float64(shape, diagonal, k):
    layer = _layer(*shape, diagonal, k)
    x = torch.randn(2, shape[0], dtype=torch.float64, requires_grad=True)
    names = [name for name, _ in layer.named_parameters()]

    def fn(x, *params):
        state = dict(zip(names, params))
        return torch.func.functional_call(layer, state, (x,))

    assert torch.autograd.gradcheck(fn, (x, *layer.parameters()), fast_mode=True)


def test_parameter_counts_follow_the_paper_rule():
    for (n_in, n_out), diagonal, k in [((8192, 512), "learned", 1), ((1024, 8192), "sign", 2),
                                       ((7, 3), None, 3)]:
        layer = CirculantLinear(n_in, n_out, bias=False, diagonal=diagonal, n_factors=k,
                                device="meta")
        trainable = sum(p.numel() for p in layer.parameters() if p.requires_grad)
        assert trainable == ref.parameter_count(n_in, n_out, diagonal, k)
    assert "params=16,384" in repr(CirculantLinear(8192, 512, bias=False, device="meta"))


def test_paper_initialization_defaults():
    torch.manual_seed(0)
    layer = CirculantLinear(8192, 512, bias=True)
    assert abs(layer.c.std().item() - 1 / np.sqrt(512)) < 2e-3
    assert abs(layer.d.std().item() - 1 / np.sqrt(512)) < 2e-3
    assert torch.all(layer.bias == 1 / np.sqrt(512))
    lin = CirculantLinear(64, 64, init="linear")
    assert torch.all(lin.d == 1) and lin.c.abs().max() <= 1 / 8


def test_sign_diagonal_is_seeded_fixed_and_saved(device):
    a = CirculantLinear(16, 40, diagonal="sign", sign_seed=7, device=device)
    b = CirculantLinear(16, 40, diagonal="sign", sign_seed=7)
    assert set(a.d.unique().tolist()) == {-1.0, 1.0}
    torch.testing.assert_close(a.d.cpu(), b.d)  # identical on every device
    assert "d" in a.state_dict() and not a.d.requires_grad
    assert not any(p is a.d for p in a.parameters())
    a.reset_parameters()
    torch.testing.assert_close(a.d.cpu(), b.d)  # reset does not redraw the signs
    torch.manual_seed(3)
    c1 = CirculantLinear(16, 16, diagonal="sign")
    torch.manual_seed(3)
    c2 = CirculantLinear(16, 16, diagonal="sign")
    torch.testing.assert_close(c1.d, c2.d)


@pytest.mark.parametrize("diagonal", MODES)
def test_state_dict_round_trip(diagonal):
    a = _layer(13, 30, diagonal, 2)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = _layer(13, 30, diagonal, 2, seed=99)
    b.load_state_dict(torch.load(buf, weights_only=True))
    x = torch.randn(3, 13, dtype=torch.float64)
    torch.testing.assert_close(a(x), b(x))


@pytest.mark.parametrize("diagonal", [None, "sign", "learned"])
@pytest.mark.parametrize("shape", [(8, 8), (7, 3), (3, 7)], ids=str)
def test_from_dense_exact_on_circulant_weights(shape, diagonal):
    src = _layer(*shape, diagonal if diagonal != "learned" else None, 1)
    if diagonal == "sign":
        src = CirculantLinear(*shape, diagonal="sign", sign_seed=5, dtype=torch.float64)
    W = src.dense().detach()
    kwargs = {"sign_seed": 5} if diagonal == "sign" else {}
    layer = CirculantLinear.from_dense(W, src.bias.detach(), diagonal=diagonal, **kwargs)
    torch.testing.assert_close(layer.dense(), W, **tol(torch.float64))
    torch.testing.assert_close(layer.bias, src.bias)


def test_from_dense_is_the_projection(rng):
    W = rng.standard_normal((6, 6))
    layer = CirculantLinear.from_dense(torch.tensor(W), diagonal=None)
    assert_allclose(layer.c[0, 0].detach().numpy(), ref.nearest_circulant(W), atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_and_autocast(dtype):
    layer = CirculantLinear(64, 128)
    x = torch.randn(4, 64)
    y = layer(x.to(dtype))
    assert y.dtype == dtype
    torch.testing.assert_close(y.float(), layer(x.to(dtype).float()), **tol(dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = torch.nn.Linear(64, 64)(x)  # bf16 under autocast
        y2 = layer(h)
    assert y2.dtype == h.dtype and torch.isfinite(y2).all()


def test_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    layer = CirculantLinear(1152, 8192, diagonal="sign", sign_seed=1)
    x = torch.randn(8, 1152)
    y_cpu = layer(x)
    y_gpu = layer.cuda()(x.cuda()).cpu()
    torch.testing.assert_close(y_gpu, y_cpu, **tol(torch.float32, 1152))


@pytest.mark.parametrize("kwargs,match", [
    ({"in_features": 0, "out_features": 4}, "in_features"),
    ({"in_features": 4, "out_features": 4, "diagonal": "diag"}, "diagonal"),
    ({"in_features": 4, "out_features": 4, "n_factors": 0}, "n_factors"),
    ({"in_features": 4, "out_features": 4, "init": "xavier"}, "init"),
])
def test_bad_construction_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CirculantLinear(**kwargs)


def test_wrong_input_shape_names_shapes():
    with pytest.raises(ValueError, match=r"\(\.\.\., 8\).*\(2, 7\)"):
        CirculantLinear(8, 4)(torch.ones(2, 7))
    with pytest.raises(ValueError, match=r"\(out_features, in_features\)"):
        CirculantLinear.from_dense(torch.ones(3))


def test_eval_spectrum_cache_is_invalidated_by_updates():
    torch.manual_seed(0)
    layer = CirculantLinear(32, 48).eval()
    x = torch.randn(4, 32)
    with torch.no_grad():
        y0 = layer(x)
        assert layer._spectrum_cache is not None
        torch.testing.assert_close(y0, x @ layer.dense().T + layer.bias)
    opt = torch.optim.SGD(layer.parameters(), lr=0.5)
    layer.train()
    layer(x).pow(2).sum().backward()
    opt.step()
    layer.eval()
    with torch.no_grad():
        y1 = layer(x)
    torch.testing.assert_close(y1, x @ layer.dense().T + layer.bias)
    assert not torch.allclose(y0, y1)


@pytest.mark.parametrize("diagonal", ["sign", "learned"])
def test_torch_compile_traces_the_layer(diagonal):
    """Dynamo traces the custom autograd Function in one graph (no scipy or numba call inside
    compiled code; aot_eager: no C++ toolchain needed); values and gradients are unchanged."""
    torch.manual_seed(0)
    layer = CirculantLinear(16, 40, diagonal=diagonal, sign_seed=2)
    x = torch.randn(3, 16, requires_grad=True)
    compiled = torch.compile(layer, backend="aot_eager", fullgraph=True)
    y = compiled(x)
    torch.testing.assert_close(y, layer(x))
    params = [x] + [p for p in layer.parameters()]
    for a, b in zip(torch.autograd.grad(y.sum(), params),
                    torch.autograd.grad(layer(x).sum(), params)):
        torch.testing.assert_close(a, b)


def test_jit_trace_uses_the_traceable_twin():
    torch.manual_seed(0)
    layer = CirculantLinear(16, 40).eval()
    x = torch.randn(3, 16)
    with torch.no_grad():
        traced = torch.jit.trace(layer, (x,), check_trace=False)
        torch.testing.assert_close(traced(torch.ones(5, 16)), layer(torch.ones(5, 16)))


@pytest.mark.parametrize("batch", [1, 3, 64])  # 1, 3: scipy.fft inference path; 64: torch.fft
@pytest.mark.parametrize("diagonal", MODES)
def test_inference_paths_match_dense(batch, diagonal):
    torch.manual_seed(0)
    layer = CirculantLinear(64, 100, diagonal=diagonal).eval()
    x = torch.randn(batch, 64)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), x @ layer.dense().T + layer.bias,
                                   **tol(torch.float32, 64))
