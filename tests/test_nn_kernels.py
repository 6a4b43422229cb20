"""The numba backward kernels ≡ the torch expressions they replace (their twin)."""

import pytest
import torch

from circlearn import reference as ref
from circlearn.nn import fast_path, kernels
from circlearn.nn import functional as F

pytestmark = pytest.mark.skipif(not kernels.HAVE_NUMBA, reason="numba is not installed")


def _complex(shape, dtype, g):
    real = torch.randn(*shape, 2, dtype=dtype, generator=g)
    return torch.view_as_complex(real).contiguous()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("blocks,shared", [(1, False), (3, False), (3, True)])
@pytest.mark.parametrize("scale", [True, False])
@pytest.mark.parametrize("with_sum", [True, False])
def test_frequency_backward_equals_torch(blocks, shared, scale, with_sum, dtype):
    g = torch.Generator().manual_seed(0)
    G = _complex((5, blocks, 9), dtype, g)
    Z = _complex((5, 1 if shared else blocks, 9), dtype, g)
    S = _complex((blocks, 9), dtype, g)
    acc = _complex((blocks, 9), dtype, g)
    acc_sum = _complex((blocks, 9), dtype, g) if with_sum else None
    expected_acc = acc + (G * Z.conj()).sum(0)
    expected_sum = None if acc_sum is None else acc_sum + G.sum(0)
    expected_G = G * S if scale else G.clone()
    kernels.frequency_backward(G, Z, S, acc, scale=scale, acc_sum=acc_sum)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(acc, expected_acc, **tol)
    torch.testing.assert_close(G, expected_G, **tol)
    if with_sum:
        torch.testing.assert_close(acc_sum, expected_sum, **tol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("blocks", [1, 3])
@pytest.mark.parametrize("need_x,need_d", [(True, True), (True, False), (False, True)])
def test_spatial_backward_equals_torch(blocks, need_x, need_d, dtype):
    g = torch.Generator().manual_seed(1)
    gz = torch.randn(6, blocks, 11, dtype=dtype, generator=g)
    x = torch.randn(6, 11, dtype=dtype, generator=g)
    d = torch.randn(blocks, 11, dtype=dtype, generator=g)
    gx = torch.full((6, 11), float("nan"), dtype=dtype) if need_x else None  # fully overwritten
    acc = torch.randn(blocks, 11, dtype=dtype, generator=g) if need_d else None
    expected_acc = None if acc is None else acc + (gz * x.unsqueeze(1)).sum(0)
    kernels.spatial_backward(gz, x, d, gx, acc)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    if need_x:
        torch.testing.assert_close(gx, (gz * d).sum(1), **tol)
    if need_d:
        torch.testing.assert_close(acc, expected_acc, **tol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("with_d", [True, False])
@pytest.mark.parametrize("n_in,n_out", [(7, 3), (13, 13), (64, 200), (256, 1024)])
@pytest.mark.parametrize("wants", ["all", "params", "x", "bias-only"])
def test_fast_path_gradients_equal_with_and_without_kernels(n_in, n_out, with_d, dtype, wants):
    """circulant_linear's gradients are the same whether the kernels or torch compute them."""
    g = torch.Generator().manual_seed(2)
    blocks = ref.num_blocks(n_in, n_out)
    grad_cd = wants in ("all", "params")  # "bias-only": frozen c and d, the bias summed apart
    c = torch.randn(blocks, n_in, dtype=dtype, generator=g, requires_grad=grad_cd)
    d = torch.randn(blocks, n_in, dtype=dtype, generator=g,
                    requires_grad=grad_cd) if with_d else None
    bias = torch.randn(n_out, dtype=dtype, generator=g, requires_grad=wants != "x")
    x = torch.randn(19, n_in, dtype=dtype, generator=g, requires_grad=wants in ("all", "x"))
    gy = torch.randn(19, n_out, dtype=dtype, generator=g)
    inputs = [t for t in (x, c, d, bias) if t is not None and t.requires_grad]
    grads = {}
    for use in (True, False):
        # chunk_transforms=8: several chunks, a ragged last one
        with fast_path(chunk_transforms=8, use_kernels=use):
            y = F.circulant_linear(x, c, d, n_out, bias=bias)
            grads[use] = torch.autograd.grad(y, inputs, gy)
    twin = F.block_circulant_matmul(x, c[:, None], None if d is None else d[:, None], n_out) + bias
    grads["twin"] = torch.autograd.grad(twin, inputs, gy)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-10)
    for a, b, t in zip(grads[True], grads[False], grads["twin"]):
        torch.testing.assert_close(a, b, **tol)
        torch.testing.assert_close(a, t, **tol)


def test_kernels_are_skipped_for_tensors_they_do_not_cover():
    assert not kernels.usable(torch.ones(4, dtype=torch.float16))
    assert not kernels.usable(torch.ones(4, 4).T)  # not contiguous
    assert kernels.usable(torch.ones(4), torch.ones(2, dtype=torch.complex64))


def test_fast_path_calls_the_kernels_on_cpu(monkeypatch):
    """The equality test above would pass trivially if the kernels were never reached."""
    calls = []
    for name in ("frequency_backward", "spatial_backward"):
        real = getattr(kernels, name)
        monkeypatch.setattr(kernels, name,
                            lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k))
    x = torch.randn(3, 16, requires_grad=True)
    c = torch.randn(2, 16, requires_grad=True)
    d = torch.randn(2, 16, requires_grad=True)
    F.circulant_linear(x, c, d, 20).sum().backward()
    assert calls == ["frequency_backward", "spatial_backward"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("blocks", [1, 3])
def test_named_torch_twins_equal_the_kernels(blocks, dtype):
    """The readable backward steps (the fallback) ≡ the numba kernels, on the same inputs."""
    g = torch.Generator().manual_seed(3)
    G = _complex((5, blocks, 9), dtype, g)
    Z = _complex((5, blocks, 9), dtype, g)
    S = _complex((blocks, 9), dtype, g)
    gz = torch.randn(5, blocks, 16, dtype=dtype, generator=g)
    x = torch.randn(5, 16, dtype=dtype, generator=g)
    d = torch.randn(blocks, 16, dtype=dtype, generator=g)
    out = {}
    for name, (freq, spatial) in {"numba": (kernels.frequency_backward, kernels.spatial_backward),
                                  "torch": (kernels.frequency_backward_torch,
                                            kernels.spatial_backward_torch)}.items():
        Gc, acc, acc_sum = G.clone(), torch.zeros_like(S), torch.zeros_like(S)
        freq(Gc, Z, S, acc, scale=True, acc_sum=acc_sum)
        gx, acc_d = torch.empty(5, 16, dtype=dtype), torch.zeros(blocks, 16, dtype=dtype)
        spatial(gz, x, d, gx, acc_d)
        out[name] = (Gc, acc, acc_sum, gx, acc_d)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    for a, b in zip(out["numba"], out["torch"]):
        torch.testing.assert_close(a, b, **tol)


def test_backward_steps_is_the_one_dispatch():
    x, s = torch.ones(2, 4), torch.ones(1, 3, dtype=torch.complex64)
    assert kernels.backward_steps(True, x, s) == (kernels.frequency_backward,
                                                 kernels.spatial_backward)
    torch_twins = (kernels.frequency_backward_torch, kernels.spatial_backward_torch)
    assert kernels.backward_steps(False, x, s) == torch_twins
    assert kernels.backward_steps(True, x.half(), s) == torch_twins
