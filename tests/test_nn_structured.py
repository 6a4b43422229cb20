"""ToeplitzLinear and LowRankLinear against their float64 references (circlearn.reference)."""

import numpy as np
import pytest
import scipy.linalg
import torch
from conftest import tol
from numpy.testing import assert_allclose

from circlearn import reference as ref
from circlearn.nn import LowRankLinear, ToeplitzLinear
from circlearn.nn.toeplitz import toeplitz_embedding_size

SHAPES = [(1, 1), (1, 5), (5, 1), (7, 3), (3, 7), (13, 13), (64, 64), (100, 37), (37, 100),
          (1024, 512), (512, 1024)]


def _toeplitz(n_in, n_out, dtype=torch.float64, device="cpu", seed=0, bias=True):
    torch.manual_seed(seed)
    return ToeplitzLinear(n_in, n_out, bias=bias, dtype=dtype, device=device)


def _low_rank(n_in, n_out, rank, dtype=torch.float64, device="cpu", seed=0, bias=True):
    torch.manual_seed(seed)
    return LowRankLinear(n_in, n_out, rank, bias=bias, dtype=dtype, device=device)


def _cr(layer):
    """(first column, first row) of a ToeplitzLinear's weight, from its vector t."""
    t = layer.t.detach().cpu().double().numpy()
    n = layer.in_features
    return t[n - 1:], t[n - 1::-1]


def _ranks(n_in, n_out):
    """1, 2 and full rank (full rank only for small shapes: an SVD of 1024 × 512 is slow)."""
    full = min(n_in, n_out)
    return sorted({1, min(full, 2)} | ({full} if full <= 100 else set()))


# ------------------------------------------------------------------------------ references
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_reference_toeplitz_matvec_is_the_dense_product(shape, rng):
    n_in, n_out = shape
    c, r = rng.normal(size=n_out), rng.normal(size=n_in)
    r[0] = c[0]
    x = rng.normal(size=(2, 3, n_in))
    W = ref.toeplitz(c, r)
    assert_allclose(ref.toeplitz_matvec(c, r, x), x @ W.T, rtol=1e-10, atol=1e-10)
    assert_allclose(scipy.linalg.toeplitz(W[:, 0], W[0, :]), W)


def test_reference_nearest_toeplitz_is_the_projection(rng):
    W = rng.normal(size=(9, 5))
    c, r = ref.nearest_toeplitz(W)
    P = ref.toeplitz(c, r)
    # the residual is orthogonal to every Toeplitz matrix (one basis matrix per diagonal)
    for k in range(-4, 9):
        basis = np.eye(9, 5, -k)
        assert abs(np.sum((W - P) * basis)) < 1e-12
    assert_allclose(ref.nearest_toeplitz(P)[0], c, atol=1e-14)


def test_reference_nearest_low_rank_is_eckart_young(rng):
    W = rng.normal(size=(8, 6))
    s = np.linalg.svd(W, compute_uv=False)
    for r in range(1, 7):
        u, v = ref.nearest_low_rank(W, r)
        assert u.shape == (8, r) and v.shape == (6, r)
        err = np.linalg.norm(W - ref.low_rank_matrix(u, v))
        assert abs(err - np.sqrt(np.sum(s[r:] ** 2))) < 1e-10
    with pytest.raises(ValueError, match=r"rank must be an integer in \[1, 6\]"):
        ref.nearest_low_rank(W, 7)


def test_reference_bad_inputs_name_shapes():
    with pytest.raises(ValueError, match=r"c\[0\] and r\[0\]"):
        ref.toeplitz([1.0, 2.0], [3.0])
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        ref.toeplitz_matvec([1.0], [1.0, 2.0], np.ones(3))
    with pytest.raises(ValueError, match=r"\(out, rank\) and \(in, rank\)"):
        ref.low_rank_matrix(np.ones((2, 1)), np.ones((3, 2)))


# ------------------------------------------------------------------------------ Toeplitz
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_toeplitz_forward_matches_reference(shape):
    n_in, n_out = shape
    layer = _toeplitz(n_in, n_out)
    x = torch.randn(4, n_in, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    c, r = _cr(layer)
    expected = ref.toeplitz_matvec(c, r, x.numpy()) + layer.bias.detach().numpy()
    assert_allclose(layer(x).detach().numpy(), expected, **tol(torch.float64))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_toeplitz_dense_and_gradients_agree(shape, dtype, device):
    """x @ dense().T + b and the FFT layer: same output, same gradients for x, t and bias;
    dense() is scipy's toeplitz of its first column and row."""
    n_in, n_out = shape
    layer = _toeplitz(n_in, n_out, dtype=dtype, device=device)
    x = torch.randn(3, 2, n_in, dtype=dtype, device=device, requires_grad=True)
    g = torch.randn(3, 2, n_out, dtype=dtype, device=device)
    params = list(layer.parameters())
    grads_fft = torch.autograd.grad(layer(x), [x, *params], g)
    grads_dense = torch.autograd.grad(x @ layer.dense().T + layer.bias, [x, *params], g)
    t = tol(dtype, toeplitz_embedding_size(n_in, n_out))
    torch.testing.assert_close(layer(x), x @ layer.dense().T + layer.bias, **t)
    for a, b in zip(grads_fft, grads_dense):
        scale = max(1.0, float(b.abs().max()))
        torch.testing.assert_close(a / scale, b / scale, **t)
    W = layer.dense().detach().cpu().double().numpy()
    assert_allclose(scipy.linalg.toeplitz(W[:, 0], W[0, :]), W, atol=0)
    if dtype == torch.float64:
        assert_allclose(W, ref.toeplitz(*_cr(layer)), atol=0)


@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (3, 7), (6, 6)], ids=str)
def test_toeplitz_gradcheck_float64(shape):
    layer = _toeplitz(*shape)
    x = torch.randn(2, shape[0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, t, b: torch.func.functional_call(
        layer, {"t": t, "bias": b}, (x,)), (x, layer.t, layer.bias))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_toeplitz_from_dense_exact_on_toeplitz_weights(shape, rng):
    n_in, n_out = shape
    c, r = rng.normal(size=n_out), rng.normal(size=n_in)
    r[0] = c[0]
    W = torch.from_numpy(ref.toeplitz(c, r))
    b = torch.randn(n_out, dtype=torch.float64)
    layer = ToeplitzLinear.from_dense(W, b)
    assert layer.t.dtype == torch.float64
    assert_allclose(layer.dense().detach().numpy(), W.numpy(), atol=1e-15)
    x = torch.randn(2, n_in, dtype=torch.float64)
    torch.testing.assert_close(layer(x), x @ W.T + b, **tol(torch.float64))


def test_toeplitz_from_dense_is_the_projection(rng):
    W = rng.normal(size=(6, 9))
    layer = ToeplitzLinear.from_dense(torch.from_numpy(W), bias=None)
    assert layer.bias is None
    assert_allclose(layer.dense().detach().numpy(), ref.toeplitz(*ref.nearest_toeplitz(W)),
                    atol=1e-15)


def test_toeplitz_parameter_counts_and_repr():
    for n_in, n_out in SHAPES:
        layer = ToeplitzLinear(n_in, n_out)
        n = sum(p.numel() for p in layer.parameters())
        assert n == ref.toeplitz_parameter_count(n_in, n_out, bias=True) == n_in + 2 * n_out - 1
    assert sum(p.numel() for p in ToeplitzLinear(8192, 512, bias=False).parameters()) == 8703
    assert toeplitz_embedding_size(8192, 512) == 8748  # 2² · 3⁷ ≥ 8703
    text = repr(ToeplitzLinear(8192, 512, bias=False))
    assert "fft_size=8748" in text and "params=8,703 (dense 4,194,304)" in text


def test_toeplitz_initialization_matches_linear_variance():
    torch.manual_seed(0)
    layer = ToeplitzLinear(3000, 2000)
    bound = 1 / np.sqrt(3000)
    assert float(layer.t.detach().abs().max()) <= bound
    assert float(layer.bias.detach().abs().max()) <= bound
    assert abs(float(layer.t.detach().var()) * 3 * 3000 - 1) < 0.05  # U(-b, b): variance b²/3
    normal = ToeplitzLinear(3000, 2000, init_std=0.5)
    assert abs(float(normal.t.detach().std()) - 0.5) < 0.02


# ------------------------------------------------------------------------------ low rank
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_low_rank_forward_matches_reference(shape):
    n_in, n_out = shape
    for rank in _ranks(n_in, n_out):
        layer = _low_rank(n_in, n_out, rank)
        x = torch.randn(4, n_in, dtype=torch.float64)
        u, v = layer.u.detach().numpy(), layer.v.detach().numpy()
        expected = ref.low_rank_matvec(u, v, x.numpy()) + layer.bias.detach().numpy()
        assert_allclose(layer(x).detach().numpy(), expected, **tol(torch.float64))
        assert_allclose(layer.dense().detach().numpy(), ref.low_rank_matrix(u, v), atol=1e-15)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_low_rank_dense_and_gradients_agree(shape, dtype, device):
    n_in, n_out = shape
    rank = min(n_in, n_out, 3)
    layer = _low_rank(n_in, n_out, rank, dtype=dtype, device=device)
    x = torch.randn(3, 2, n_in, dtype=dtype, device=device, requires_grad=True)
    g = torch.randn(3, 2, n_out, dtype=dtype, device=device)
    params = list(layer.parameters())
    grads = torch.autograd.grad(layer(x), [x, *params], g)
    grads_dense = torch.autograd.grad(x @ layer.dense().T + layer.bias, [x, *params], g)
    t = tol(dtype, n_in)
    for a, b in zip(grads, grads_dense):
        scale = max(1.0, float(b.abs().max()))
        torch.testing.assert_close(a / scale, b / scale, **t)


def test_low_rank_gradcheck_float64():
    layer = _low_rank(5, 4, 2)
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, u, v, b: torch.func.functional_call(
        layer, {"u": u, "v": v, "bias": b}, (x,)), (x, layer.u, layer.v, layer.bias))


@pytest.mark.parametrize("shape", SHAPES[:-2], ids=str)  # an SVD of 1024 × 512 takes seconds
def test_low_rank_from_dense_exact_on_low_rank_weights(shape, rng):
    n_in, n_out = shape
    for rank in _ranks(n_in, n_out):
        W = rng.normal(size=(n_out, rank)) @ rng.normal(size=(rank, n_in))
        layer = LowRankLinear.from_dense(torch.from_numpy(W), rank=rank)
        assert layer.bias is None and layer.rank == rank
        assert_allclose(layer.dense().detach().numpy(), W, rtol=1e-10, atol=1e-10)


def test_low_rank_from_dense_is_the_truncated_svd(rng):
    W = rng.normal(size=(7, 10))
    b = torch.randn(7, dtype=torch.float64)
    layer = LowRankLinear.from_dense(torch.from_numpy(W), rank=3, bias=b)
    u, v = ref.nearest_low_rank(W, 3)
    assert_allclose(layer.dense().detach().numpy(), u @ v.T, atol=1e-12)
    torch.testing.assert_close(layer.bias.detach(), b)


def test_low_rank_parameter_counts_and_repr():
    for n_in, n_out in SHAPES:
        for rank in _ranks(n_in, n_out):
            n = sum(p.numel() for p in LowRankLinear(n_in, n_out, rank).parameters())
            assert n == ref.low_rank_parameter_count(n_in, n_out, rank, bias=True)
            assert n == rank * (n_in + n_out) + n_out
    text = repr(LowRankLinear(8192, 512, 2, bias=False))
    assert "rank=2" in text and "params=17,408 (dense 4,194,304)" in text


def test_low_rank_initialization_matches_linear_variance():
    torch.manual_seed(0)
    for rank in (1, 4, 32):
        layer = LowRankLinear(2000, 1500, rank)
        w = layer.dense().detach()
        assert abs(float(w.var()) * 3 * 2000 - 1) < 0.15, rank
        # balanced factors
        assert abs(float(layer.u.detach().std()) / float(layer.v.detach().std()) - 1) < 0.1
    layer = LowRankLinear(2000, 1500, 8, init_std=0.1)
    assert abs(float(layer.dense().detach().std()) / 0.1 - 1) < 0.1


# ------------------------------------------------------------------------------ both
@pytest.mark.parametrize("make", [lambda **kw: ToeplitzLinear(5, 3, **kw),
                                  lambda **kw: LowRankLinear(5, 3, 2, **kw)],
                         ids=["toeplitz", "low-rank"])
def test_state_dict_round_trip_and_devices(make):
    a, b = make(), make()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 5)
    torch.testing.assert_close(a(x), b(x))
    half = make(dtype=torch.float64)
    assert half(x.double()).dtype == torch.float64
    meta = make(device="meta")
    assert meta.dense().device.type == "meta"


def test_bad_construction_and_inputs_name_the_problem():
    with pytest.raises(ValueError, match="in_features and out_features must be >= 1"):
        ToeplitzLinear(0, 3)
    with pytest.raises(ValueError, match=r"rank must be an integer in \[1, min.*\] = \[1, 3\]"):
        LowRankLinear(5, 3, 4)
    with pytest.raises(ValueError, match="rank must be an integer"):
        LowRankLinear(5, 3, 0)
    with pytest.raises(ValueError, match="init_std must be > 0"):
        LowRankLinear(5, 3, 1, init_std=0.0)
    with pytest.raises(ValueError, match=r"input must have shape \(\*, 5\), got \(2, 4\)"):
        ToeplitzLinear(5, 3)(torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"input must have shape \(\*, 5\), got \(2, 4\)"):
        LowRankLinear(5, 3, 1)(torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\)"):
        ToeplitzLinear.from_dense(torch.ones(3, 5), torch.ones(4))
    with pytest.raises(ValueError, match=r"weight must have shape \(out_features, in_features\)"):
        LowRankLinear.from_dense(torch.ones(3), rank=1)


def test_half_inputs_compute_in_float32():
    layer = ToeplitzLinear(16, 8)
    x = torch.randn(4, 16)
    y = layer(x.to(torch.bfloat16))
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), layer(x), rtol=2e-2, atol=2e-2)
