"""circlearn.nn.functional against circlearn.reference and scipy's dense circulant."""

import numpy as np
import pytest
import scipy.linalg
import torch
from conftest import tol
from numpy.testing import assert_allclose

from circlearn import reference as ref
from circlearn.nn import CirculantLinear, fast_path
from circlearn.nn import functional as F

SIZES = [1, 2, 3, 13, 64, 1000, 1024]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("n", SIZES)
def test_circulant_matmul_equals_dense_and_reference(n, dtype, rng, device):
    c = rng.standard_normal(n)
    x = rng.standard_normal((4, n))
    expected = x @ scipy.linalg.circulant(c).T
    assert_allclose(ref.circulant_matvec(c, x), expected, atol=1e-10)
    got = F.circulant_matmul(torch.tensor(x, dtype=dtype, device=device),
                             torch.tensor(c, dtype=dtype, device=device))
    assert got.dtype == dtype
    assert_allclose(got.cpu().double().numpy(), expected, **tol(dtype, n))


@pytest.mark.parametrize("n", [1, 3, 13, 64])
def test_diag_circulant_matmul(n, rng):
    c, d, x = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal((3, n))
    got = F.diag_circulant_matmul(*(torch.tensor(a) for a in (x, c, d)))
    assert_allclose(got.numpy(), x @ ref.diag_circulant(c, d).T, atol=1e-10)


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("with_d", [True, False])
@pytest.mark.parametrize("n_in,n_out", [(7, 3), (3, 7), (13, 13), (1024, 8192), (1152, 8192),
                                        (8192, 512)])
def test_block_circulant_matmul_equals_reference(n_in, n_out, with_d, k, rng):
    blocks = ref.num_blocks(n_in, n_out)
    cs = rng.standard_normal((blocks, k, n_in)) / np.sqrt(n_in)
    ds = rng.standard_normal((blocks, k, n_in)) if with_d else None
    x = rng.standard_normal((2, n_in))
    expected = ref.rectangular_matvec(cs, ds, x, n_out)
    got = F.block_circulant_matmul(torch.tensor(x), torch.tensor(cs),
                                   None if ds is None else torch.tensor(ds), n_out)
    assert got.shape == (2, n_out)
    assert_allclose(got.numpy(), expected, **tol(torch.float64))


# k > 1 multiplies dense n x n factors (O(n^3)), so only small maps get chains.
@pytest.mark.parametrize("n_in,n_out,k", [(7, 3, 1), (3, 7, 1), (5, 5, 1), (1024, 8192, 1),
                                          (7, 3, 2), (3, 7, 2), (5, 5, 3)])
def test_circulant_dense_equals_reference_matrix(n_in, n_out, k, rng):
    blocks = ref.num_blocks(n_in, n_out)
    cs, ds = rng.standard_normal((blocks, k, n_in)), rng.standard_normal((blocks, k, n_in))
    W = F.circulant_dense(torch.tensor(cs), torch.tensor(ds), n_out)
    assert_allclose(W.numpy(), ref.rectangular_matrix(cs, ds, n_out), atol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("n", [13, 64])  # 13: not a power of two (cuFFT's half-precision rule)
def test_half_inputs_compute_in_float32_and_return_input_dtype(n, dtype, rng, device):
    c = torch.tensor(rng.standard_normal(n), dtype=torch.float32, device=device) / n ** 0.5
    x = torch.tensor(rng.standard_normal((4, n)), dtype=torch.float32, device=device)
    y = F.circulant_matmul(x.to(dtype), c)
    assert y.dtype == dtype
    expected = F.circulant_matmul(x.to(dtype).float(), c)
    torch.testing.assert_close(y.float(), expected, **tol(dtype))


@pytest.mark.parametrize("call,match", [
    (lambda: F.circulant_matmul(torch.ones(3), torch.ones(4)), r"\(\.\.\., 4\)"),
    (lambda: F.circulant_matmul(torch.ones(0), torch.ones(0)), "n = 0"),
    (lambda: F.block_circulant_matmul(torch.ones(4), torch.ones(1, 1, 4), None, 9), "blocks"),
    (lambda: F.block_circulant_matmul(torch.ones(4), torch.ones(1, 4), None, 4), "shape"),
    (lambda: F.diag_circulant_matmul(torch.ones(4), torch.ones(4), torch.ones(3)), "d must"),
    (lambda: F.circulant_linear(torch.ones(4), torch.ones(2, 4), None, 6, bias=torch.ones(8)),
     r"bias must have shape \(6,\)"),
])
def test_bad_shapes_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("chunk", [128, 3])  # 3: many chunks, ragged last chunk
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("with_d", [True, False])
@pytest.mark.parametrize("n_in,n_out", [(7, 3), (3, 7), (13, 13), (64, 200), (1024, 8192)])
def test_fast_path_equals_autograd_twin(n_in, n_out, with_d, with_bias, chunk):
    """circulant_linear (hand-written backward) ≡ block_circulant_matmul (autograd) + bias."""
    g = torch.Generator().manual_seed(0)
    blocks = ref.num_blocks(n_in, n_out)
    c = torch.randn(blocks, n_in, dtype=torch.float64, generator=g, requires_grad=True)
    d = torch.randn(blocks, n_in, dtype=torch.float64, generator=g,
                    requires_grad=True) if with_d else None
    bias = torch.randn(n_out, dtype=torch.float64, generator=g,
                       requires_grad=True) if with_bias else None
    x = torch.randn(2, 5, n_in, dtype=torch.float64, generator=g, requires_grad=True)
    gy = torch.randn(2, 5, n_out, dtype=torch.float64, generator=g)
    inputs = [x, c] + ([d] if with_d else []) + ([bias] if with_bias else [])
    with fast_path(chunk_transforms=chunk):
        fast = F.circulant_linear(x, c, d, n_out, bias=bias)
        twin = F.block_circulant_matmul(x, c[:, None], None if d is None else d[:, None], n_out)
        if with_bias:
            twin = twin + bias
        torch.testing.assert_close(fast, twin, **tol(torch.float64))
        grads_fast = torch.autograd.grad(fast, inputs, gy)
    for a, b in zip(grads_fast, torch.autograd.grad(twin, inputs, gy)):
        torch.testing.assert_close(a, b, **tol(torch.float64))


@pytest.mark.parametrize("with_d", [True, False])
def test_fast_path_gradcheck(with_d):
    g = torch.Generator().manual_seed(1)
    c = torch.randn(3, 4, dtype=torch.float64, generator=g, requires_grad=True)
    x = torch.randn(3, 4, dtype=torch.float64, generator=g, requires_grad=True)
    d = torch.randn(3, 4, dtype=torch.float64, generator=g, requires_grad=True)
    bias = torch.randn(10, dtype=torch.float64, generator=g, requires_grad=True)
    if with_d:
        assert torch.autograd.gradcheck(lambda x, c, d: F.circulant_linear(x, c, d, 10), (x, c, d))
        assert torch.autograd.gradcheck(lambda x, c, d, b: F.circulant_linear(x, c, d, 10, bias=b),
                                        (x, c, d, bias))
    else:
        assert torch.autograd.gradcheck(lambda x, c: F.circulant_linear(x, c, None, 10), (x, c))
        assert torch.autograd.gradcheck(lambda x, c, b: F.circulant_linear(x, c, None, 10, bias=b),
                                        (x, c, bias))


def test_fast_path_with_cached_spectrum(rng):
    c = torch.tensor(rng.standard_normal((2, 16)))
    x = torch.tensor(rng.standard_normal((3, 16)))
    spec = F.circulant_spectrum(c)
    torch.testing.assert_close(F.circulant_linear(x, c, None, 20, spectrum=spec),
                               F.block_circulant_matmul(x, c[:, None], None, 20))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
@pytest.mark.parametrize("with_d", [True, False])
@pytest.mark.parametrize("n_in,n_out", [(7, 3), (3, 7), (13, 13), (1024, 8192)])
def test_small_cpu_inference_path_equals_torch_path(n_in, n_out, with_d, dtype, rng):
    """The scipy.fft inference path (few rows, CPU) ≡ the torch.fft path."""
    blocks = ref.num_blocks(n_in, n_out)
    c = torch.tensor(rng.standard_normal((blocks, n_in)) / np.sqrt(n_in))
    d = torch.tensor(rng.standard_normal((blocks, n_in))) if with_d else None
    x = torch.tensor(rng.standard_normal((2, n_in))).to(dtype)
    c32, d32 = c.to(compute := F.compute_dtype(x)), None if d is None else d.to(compute)
    expected = F.circulant_linear(x, c32, d32, n_out)
    got = F.circulant_linear_small_cpu(x, d32, n_out, F.circulant_spectrum(c32), in_features=n_in)
    assert got.dtype == dtype and got.shape == expected.shape
    torch.testing.assert_close(got, expected, **tol(dtype, n_in))


def test_small_cpu_inference_path_rejects_wrong_sizes():
    """A spectrum of width n//2+1 fits n and n+1 (odd): the input size is checked against n."""
    layer = CirculantLinear(4, 4, diagonal=None).eval()
    with torch.no_grad(), pytest.raises(ValueError, match=r"x must have shape \(\.\.\., 4\)"):
        layer(torch.randn(1, 5))  # 5 // 2 + 1 == 4 // 2 + 1
    spectrum = F.circulant_spectrum(torch.randn(2, 4))  # 2 blocks: 4 -> 5 … 8
    with pytest.raises(ValueError, match=r"4 -> 3 needs ceil\(3/4\) blocks, spectrum has 2"):
        F.circulant_linear_small_cpu(torch.randn(1, 4), None, 3, spectrum, in_features=4)


def test_circulant_spectrum_keeps_autograd_for_few_rows():
    """The scipy route for few CPU rows must not cut the graph of a tensor needing a gradient."""
    c = torch.randn(2, 16, requires_grad=True)
    spec = F.circulant_spectrum(c)
    assert spec.requires_grad
    (g,) = torch.autograd.grad(spec.abs().sum(), c)
    (expected,) = torch.autograd.grad(torch.fft.rfft(c).abs().sum(), c)
    torch.testing.assert_close(g, expected)
    with torch.no_grad():
        torch.testing.assert_close(F.circulant_spectrum(c), torch.fft.rfft(c))
