"""diagonal="sign-output": the authors' fixed signs after the circulant, and why batch norm
makes it a plain circulant (BN(D'Cx) = BN(Cx) with the BN scales started at ±1)."""

import numpy as np
import pytest
import torch
from conftest import tol
from numpy.testing import assert_allclose

from circlearn import reference as ref
from circlearn.models import from_preset
from circlearn.nn import CirculantLinear
from circlearn.nn.blocks import batch_norm

SHAPES = [(1, 1), (3, 3), (13, 13), (64, 64), (7, 3), (3, 7), (8, 20), (1024, 512)]


def _layer(n_in, n_out, k=1, dtype=torch.float64, seed=0, bias=True):
    torch.manual_seed(seed)
    return CirculantLinear(n_in, n_out, bias=bias, diagonal="sign-output", n_factors=k,
                           dtype=dtype, init_std=1 / np.sqrt(n_in), sign_seed=seed + 7)


def _np(t):
    return t.detach().cpu().double().numpy()


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_forward_and_dense_match_reference(shape, k):
    n_in, n_out = shape
    layer = _layer(n_in, n_out, k)
    x = torch.randn(3, n_in, dtype=torch.float64)
    expected = ref.sign_output_matvec(_np(layer.c), _np(layer.d), x.numpy(), n_out)
    assert_allclose(_np(layer(x)), expected + _np(layer.bias), **tol(torch.float64))
    W = ref.sign_output_matrix(_np(layer.c), _np(layer.d), n_out)
    assert_allclose(_np(layer.dense()), W, atol=1e-12)
    if k == 1:  # one factor: diag(s) · (the plain circulant map), rows signed
        s = _np(layer.d)[:, 0].reshape(-1)[:n_out]
        plain = ref.rectangular_matrix(_np(layer.c), None, n_out)
        assert_allclose(W, s[:, None] * plain, atol=1e-12)


@pytest.mark.parametrize("fn", [ref.sign_output_matrix,
                                lambda cs, ss, out: ref.sign_output_matvec(cs, ss, np.ones(4), out)],
                         ids=["matrix", "matvec"])
def test_reference_rejects_a_wrong_block_count(fn):
    cs, ss = np.ones((1, 4)), np.ones((1, 4))  # one block of 4: too few for 4 -> 6
    with pytest.raises(ValueError, match="4 -> 6 needs 2 blocks, got 1"):
        fn(cs, ss, 6)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_gradients_agree_with_dense(shape, k, dtype):
    n_in, n_out = shape
    layer = _layer(n_in, n_out, k, dtype=dtype)
    x = torch.randn(4, n_in, dtype=dtype, requires_grad=True)
    g = torch.randn(4, n_out, dtype=dtype)
    params = list(layer.parameters())  # c and bias; the signs are a buffer
    grads = torch.autograd.grad(layer(x), [x, *params], g)
    grads_dense = torch.autograd.grad(x @ layer.dense().T + layer.bias, [x, *params], g)
    for a, b in zip(grads, grads_dense):
        scale = max(1.0, float(b.abs().max()))
        torch.testing.assert_close(a / scale, b / scale, **tol(dtype, n_in))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_from_dense_exact_on_sign_output_weights(shape):
    n_in, n_out = shape
    layer = _layer(n_in, n_out)
    W = layer.dense().detach()
    back = CirculantLinear.from_dense(W, diagonal="sign-output", sign_seed=layer.sign_seed)
    torch.testing.assert_close(back.dense(), W, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="diagonal='sign-output' needs n_factors=1"):
        CirculantLinear.from_dense(W, diagonal="sign-output", n_factors=2)


def test_parameters_signs_and_state():
    layer = CirculantLinear(8192, 512, bias=False, diagonal="sign-output", sign_seed=3)
    assert sum(p.numel() for p in layer.parameters()) == 8192
    assert ref.parameter_count(8192, 512, "sign-output") == 8192 == ref.parameter_count(
        8192, 512, None)
    assert not layer.d.requires_grad and set(layer.d.unique().tolist()) == {-1.0, 1.0}
    again = CirculantLinear(8192, 512, bias=False, diagonal="sign-output", sign_seed=3)
    torch.testing.assert_close(layer.d, again.d)
    assert "d" in layer.state_dict() and "diagonal='sign-output'" in repr(layer)
    assert "sign_seed=3" in repr(layer)


def _pair(n_in=32, n_out=24, seed=0):
    """A sign-output layer + BN (scales 1) and the plain circulant + BN with scales ±1."""
    authors = _layer(n_in, n_out, bias=False, seed=seed)
    plain = CirculantLinear(n_in, n_out, bias=False, diagonal=None, dtype=torch.float64)
    bn_a = batch_norm(n_out, dtype=torch.float64)
    bn_p = batch_norm(n_out, dtype=torch.float64)
    with torch.no_grad():
        plain.c.copy_(authors.c)
        bn_p.weight.copy_(authors.d[:, 0].reshape(-1)[:n_out])  # the scales start at ±1
    return torch.nn.Sequential(authors, bn_a), torch.nn.Sequential(plain, bn_p)


def test_batch_norm_absorbs_the_output_signs():
    """BN(D'Cx) = BN(Cx) with BN's scales started at the signs: in training mode (batch
    statistics), for the running statistics (eval mode), and after Adam steps on both."""
    a, p = _pair()
    opt_a = torch.optim.Adam(a.parameters(), lr=1e-2)
    opt_p = torch.optim.Adam(p.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(1)
    target = torch.randn(16, 24, dtype=torch.float64, generator=gen)
    for _ in range(5):
        x = torch.randn(16, 32, dtype=torch.float64, generator=gen)
        ya, yp = a(x), p(x)
        torch.testing.assert_close(ya, yp, rtol=1e-10, atol=1e-10)
        for opt, y in ((opt_a, ya), (opt_p, yp)):
            opt.zero_grad()
            ((y - target) ** 2).sum().backward()
            opt.step()
    torch.testing.assert_close(a[0].c, p[0].c, rtol=1e-10, atol=1e-12)
    signs = a[0].d[:, 0].reshape(-1)[:24]
    torch.testing.assert_close(p[1].weight, signs * a[1].weight, rtol=1e-10, atol=1e-12)
    a.eval()
    p.eval()
    x = torch.randn(5, 32, dtype=torch.float64, generator=gen)
    torch.testing.assert_close(a(x), p(x), rtol=1e-10, atol=1e-10)
    # without the signed scales the two differ: the equivalence is not trivial
    with torch.no_grad():
        p[1].weight.abs_()
    assert not torch.allclose(a(x), p(x))


def test_in_the_dbof_model_the_authors_cd_fc_is_a_plain_circulant():
    """The paper's DBoF with its "CD" FC (signs after C, then BN) computes what the plain
    circulant FC computes once the FC's batch-norm scales are set to the signs."""
    small = dict(feature_sizes=(16, 8), num_classes=5, cluster_sizes=(32, 16), hidden_size=16,
                 n_bagging=2, iterations=4, dtype=torch.float64)
    torch.manual_seed(0)
    authors = from_preset("dbof", fc="circulant-sign-output", **small)
    plain = from_preset("dbof", fc="circulant-plain", **small)
    state = authors.state_dict()
    for name, fc in authors.fc.items():
        state.pop(f"fc.{name}.linear.d")
        signs = fc.linear.d[:, 0].reshape(-1)[:fc.linear.out_features]
        state[f"fc.{name}.bn.weight"] = signs * state[f"fc.{name}.bn.weight"]
    plain.load_state_dict(state)
    frames = torch.randint(0, 256, (6, 10, 24), dtype=torch.uint8)
    gen = dict(generator=torch.Generator().manual_seed(2))
    ya = authors(frames, **gen)
    yp = plain(frames, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(ya, yp, rtol=1e-9, atol=1e-12)
