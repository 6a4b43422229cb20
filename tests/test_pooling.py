"""DBoF, NetVLAD, NetFV: NumPy references, padding/order invariance, circulant projections."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TOL
from torch import nn

from circlearn.nn.blocks import BN_EPS, BN_MOMENTUM, l2_normalize
from circlearn.nn.circulant import CirculantLinear
from circlearn.nn.pooling import DBoF, NetFV, NetVLAD

F, K, B, T = 12, 6, 4, 7
F64 = TOL[torch.float64]
F32 = TOL[torch.float32]


def _make(kind: str, projection=None, pooling="max", dtype=torch.float64):
    torch.manual_seed(0)
    if kind == "dbof":
        m = DBoF(F, K, pooling, projection, dtype=dtype)
    elif kind == "netvlad":
        m = NetVLAD(F, K, projection, dtype=dtype)
    else:
        m = NetFV(F, K, projection, dtype=dtype)
    # non-trivial batch-norm state so that eval mode tests more than the identity
    bn = m.bn
    with torch.no_grad():
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 1.5)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    return m


def _frames(gen, b=B, t=T, f=F, dtype=torch.float64):
    return torch.randn(b, t, f, generator=gen, dtype=dtype)


# ---------------------------------------------------------------- NumPy references (slow twins)
def _np_bn_eval(z, bn):
    mean, var = bn.running_mean.detach().numpy(), bn.running_var.detach().numpy()
    w, b = bn.weight.detach().numpy(), bn.bias.detach().numpy()
    return (z - mean) / np.sqrt(var + BN_EPS) * w + b


def _np_l2(v):
    return v / np.sqrt(max((v * v).sum(), 1e-12))


def _np_softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def _ref_dbof(m, x, n):
    w = m.projection.weight.detach().numpy()  # (K, F)
    out = []
    for b in range(x.shape[0]):
        frames = x[b, : max(n[b], 1)] * (n[b] > 0)
        h = np.clip(_np_bn_eval(frames @ w.T, m.bn), 0, 6)  # (n, K)
        out.append(h.max(0) if m.pooling == "max" else h.mean(0))
    return np.stack(out)


def _ref_assign(m, xt):
    w = m.assignment.weight.detach().numpy()
    return _np_softmax(_np_bn_eval(xt @ w.T, m.bn))  # (K,)


def _ref_netvlad(m, x, n):
    c = m.anchors.detach().numpy()  # (F, K)
    out = []
    for b in range(x.shape[0]):
        v = np.zeros((F, K))
        for t in range(max(n[b], 1)):
            xt = x[b, t] * (n[b] > 0)
            a = _ref_assign(m, xt)
            for k in range(K):
                v[:, k] += a[k] * (xt - c[:, k])
        for k in range(K):
            v[:, k] = _np_l2(v[:, k])
        out.append(_np_l2(v.reshape(-1)))  # feature-major: index f*K + k
    return np.stack(out)


def _ref_netfv(m, x, n):
    c = m.anchors.detach().numpy()
    var = m.covar.detach().numpy() ** 2 + 1e-6
    out = []
    for b in range(x.shape[0]):
        fv1, fv2 = np.zeros((F, K)), np.zeros((F, K))
        for t in range(max(n[b], 1)):
            xt = x[b, t] * (n[b] > 0)
            a = _ref_assign(m, xt)
            for k in range(K):
                fv1[:, k] += a[k] * (xt - c[:, k]) / var[:, k]
                fv2[:, k] += a[k] * ((xt - c[:, k]) ** 2 / var[:, k] ** 2 - 1)
        for k in range(K):
            fv1[:, k] = _np_l2(fv1[:, k])
        out.append(np.concatenate([_np_l2(fv1.reshape(-1)), _np_l2(fv2.reshape(-1))]))
    return np.stack(out)


REFS = {"dbof": _ref_dbof, "netvlad": _ref_netvlad, "netfv": _ref_netfv}
KINDS = list(REFS)
NUM_FRAMES = [[T, 3, 1, 0], [T, T, T, T], [2, 5, 0, T]]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("num_frames", NUM_FRAMES)
def test_matches_numpy_reference(kind, num_frames, gen):
    m = _make(kind).eval()
    x = _frames(gen)
    n = torch.tensor(num_frames)
    got = m(x, n).detach().numpy()
    np.testing.assert_allclose(got, REFS[kind](m, x.numpy(), num_frames), **F64)


def test_dbof_average_matches_reference(gen):
    m = _make("dbof", pooling="average").eval()
    x, n = _frames(gen), [T, 3, 1, 0]
    got = m(x, torch.tensor(n)).detach().numpy()
    np.testing.assert_allclose(got, _ref_dbof(m, x.numpy(), n), **F64)


@pytest.mark.parametrize("kind", KINDS)
def test_output_shape(kind, gen):
    m = _make(kind, dtype=torch.float32)
    out = m(_frames(gen, dtype=torch.float32), torch.tensor([T, 1, 0, 4]))
    assert out.shape == (B, m.output_size)
    assert m.output_size == {"dbof": K, "netvlad": F * K, "netfv": 2 * F * K}[kind]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("training", [True, False])
def test_padding_never_changes_the_result(kind, training, gen):
    m = _make(kind).train(training)
    n = torch.tensor([T, 3, 1, 0])
    x = _frames(gen)
    garbage = x.clone()
    pos = torch.arange(T).view(1, T, 1)
    garbage = torch.where(pos < n.view(B, 1, 1), x, 100 * torch.randn(x.shape, generator=gen,
                                                                      dtype=x.dtype))
    longer = torch.cat([garbage, torch.randn(B, 5, F, generator=gen, dtype=x.dtype)], dim=1)
    torch.testing.assert_close(m(garbage, n), m(x, n), **F64)
    torch.testing.assert_close(m(longer, n), m(x, n), **F64)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("training", [True, False])
def test_invariant_to_frame_order(kind, training, gen):
    m = _make(kind).train(training)
    x = _frames(gen)
    perm = torch.randperm(T, generator=gen)
    torch.testing.assert_close(m(x[:, perm]), m(x), **F64)


@pytest.mark.parametrize("kind", KINDS)
def test_no_num_frames_means_every_frame(kind, gen):
    m = _make(kind).eval()
    x = _frames(gen)
    torch.testing.assert_close(m(x), m(x, torch.full((B,), T)), **F64)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("diagonal", ["learned", "sign", None])
def test_circulant_projection_equals_dense_holding_its_weight(kind, diagonal, gen):
    circ = CirculantLinear(F, K, bias=False, diagonal=diagonal, dtype=torch.float64, sign_seed=1)
    dense = nn.Linear(F, K, bias=False, dtype=torch.float64)
    with torch.no_grad():
        dense.weight.copy_(circ.dense())
    a, b = _make(kind, circ), _make(kind, dense)
    if kind != "dbof":  # same anchors / covariances
        b.load_state_dict({k: v for k, v in a.state_dict().items()
                           if not k.startswith("assignment.")}, strict=False)
    a.eval(), b.eval()
    x, n = _frames(gen), torch.tensor([T, 3, 1, 0])
    torch.testing.assert_close(a(x, n), b(x, n), **F64)


@pytest.mark.parametrize("kind", KINDS)
def test_gradients_reach_every_parameter(kind, gen):
    circ = CirculantLinear(F, K, bias=False, dtype=torch.float64)
    m = _make(kind, circ).train()
    m(_frames(gen), torch.tensor([T, 3, 1, 0])).square().sum().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("kind", ["netvlad", "netfv"])
def test_gradcheck(kind, gen):
    torch.manual_seed(0)
    m = (NetVLAD if kind == "netvlad" else NetFV)(4, 3, dtype=torch.float64).eval()
    x = _frames(gen, b=2, t=3, f=4).requires_grad_()
    assert torch.autograd.gradcheck(lambda v: m(v, torch.tensor([3, 2])), (x,))


def test_batch_norm_settings():
    m = DBoF(F, K)
    assert (m.bn.momentum, m.bn.eps) == (BN_MOMENTUM, BN_EPS) == (1e-3, 1e-3)


@pytest.mark.parametrize("kind", KINDS)
def test_training_batch_norm_uses_real_frames_only(kind, gen):
    """Running statistics after one training step equal those of the real rows alone."""
    a, b = _make(kind), _make(kind)
    x, n = _frames(gen), torch.tensor([T, 3, 1, 2])
    a.train()(x, n)
    rows = torch.cat([x[i, : int(n[i])] for i in range(B)]).unsqueeze(0)  # (1, N, F)
    b.train()(rows)
    torch.testing.assert_close(a.bn.running_mean, b.bn.running_mean, **F64)
    torch.testing.assert_close(a.bn.running_var, b.bn.running_var, **F64)


@pytest.mark.parametrize("bad, match", [
    (torch.tensor([T + 1, 1, 1, 1]), "num_frames"),
    (torch.tensor([-1, 1, 1, 1]), "num_frames"),
    (torch.tensor([1, 1]), "num_frames"),
])
def test_bad_num_frames_raise(bad, match, gen):
    with pytest.raises(ValueError, match=match):
        DBoF(F, K)(_frames(gen, dtype=torch.float32), bad)


@pytest.mark.parametrize("make, match", [
    (lambda: DBoF(F, K, pooling="median"), "pooling"),
    (lambda: DBoF(F, K, projection=nn.Linear(F, K + 1, bias=False)), "projection"),
    (lambda: DBoF(F, K, projection=nn.Linear(F, K)), "bias"),
    (lambda: NetVLAD(F, K, nn.Linear(F + 1, K, bias=False)), "assignment"),
    (lambda: NetFV(0, K), "feature_size"),
])
def test_bad_construction_raises(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_frames_shape_raises():
    with pytest.raises(ValueError, match="frames"):
        NetVLAD(F, K)(torch.zeros(B, F))


def test_netvlad_without_batch_norm_has_cluster_bias(gen):
    m = NetVLAD(F, K, add_batch_norm=False, dtype=torch.float64)
    assert m.bn is None and m.cluster_bias.shape == (K,)
    assert sum(p.numel() for p in m.parameters()) == 2 * F * K + K
    assert m(_frames(gen)).shape == (B, F * K)


@pytest.mark.parametrize("shape", [(3,), (2, 5), (4, 3, 2)])
def test_l2_normalize_matches_tensorflow_semantics(shape, gen):
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    ref = x / x.norm(dim=-1, keepdim=True)
    torch.testing.assert_close(l2_normalize(x), ref, **F64)
    tiny = torch.full(shape, 1e-9, dtype=torch.float64)  # Σx² < 1e-12: divided by 1e-6
    torch.testing.assert_close(l2_normalize(tiny), tiny / 1e-6, **F64)


@pytest.mark.parametrize("kind", ["dbof", "netvlad", "netfv"])
def test_a_mask_pools_the_frames_it_marks(kind, gen):
    """``mask`` may mark any frames: the result is that of the marked frames alone; a prefix
    mask equals ``num_frames``; a video without marked frames equals an empty video."""
    m = _make(kind).eval()
    x = _frames(gen, b=3, t=6)
    mask = torch.tensor([[1, 0, 1, 1, 0, 1], [1, 1, 1, 0, 0, 0], [0] * 6], dtype=torch.bool)
    with torch.no_grad():
        got = m(x, mask=mask)
        first = m(x[0:1, mask[0]])
        prefix = m(x[1:2], torch.tensor([3]))
        empty = m(x[2:3], torch.tensor([0]))
    torch.testing.assert_close(got[0:1], first)
    torch.testing.assert_close(got[1:2], prefix)
    torch.testing.assert_close(got[2:3], empty)
    with pytest.raises(ValueError, match="num_frames or mask"):
        m(x, torch.tensor([1, 1, 1]), mask=mask)
    with pytest.raises(ValueError, match="mask must be a bool"):
        m(x, mask=mask.long())
