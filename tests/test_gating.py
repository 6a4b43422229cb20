"""MixtureOfExperts, ContextGating, LogisticClassifier: references, L2 terms, circulant layers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import TOL
from torch import nn

from circlearn.nn.circulant import CirculantLinear
from circlearn.nn.gating import ContextGating, LogisticClassifier, MixtureOfExperts

D, V, M, B = 10, 7, 3, 5
F64 = TOL[torch.float64]


def _x(gen, b=B, d=D):
    return torch.randn(b, d, generator=gen, dtype=torch.float64)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _ref_moe(moe, x):
    """Per video and class: Σ_m softmax(gate logits)[m] · sigmoid(expert logit m)."""
    wg = moe.gates.weight.detach().numpy()  # (V(M+1), D)
    we, be = moe.experts.weight.detach().numpy(), moe.experts.bias.detach().numpy()
    m = moe.num_mixtures
    out = np.zeros((x.shape[0], moe.num_classes))
    for b in range(x.shape[0]):
        g, e = wg @ x[b], we @ x[b] + be
        for v in range(moe.num_classes):
            gv = np.exp(g[v * (m + 1):(v + 1) * (m + 1)])
            gv /= gv.sum()
            out[b, v] = sum(gv[j] * _sigmoid(e[v * m + j]) for j in range(m))
    return out


@pytest.mark.parametrize("num_mixtures", [1, 2, 4])
def test_moe_matches_reference(num_mixtures, gen):
    torch.manual_seed(0)
    moe = MixtureOfExperts(D, V, num_mixtures, dtype=torch.float64)
    with torch.no_grad():
        moe.experts.bias.uniform_(-1, 1)
    x = _x(gen)
    np.testing.assert_allclose(moe(x).detach().numpy(), _ref_moe(moe, x.numpy()), **F64)


def test_moe_probabilities_and_dummy_expert(gen):
    torch.manual_seed(0)
    moe = MixtureOfExperts(D, V, M, dtype=torch.float64)
    p = moe(_x(gen))
    assert p.shape == (B, V) and bool(((p > 0) & (p < 1)).all())
    with torch.no_grad():  # the dummy gate (index v(M+1) + M) takes all weight → p → 0
        moe.gates.weight.zero_()
        moe.gates.weight[M :: M + 1] = 100.0
    x = _x(gen).abs()
    assert float(moe(x).detach().max()) < 1e-6


def test_moe_dense_init_is_xavier_and_bias_zero():
    torch.manual_seed(0)
    moe = MixtureOfExperts(512, 300, 4)
    bound = math.sqrt(6 / (512 + 300 * 5))
    w = moe.gates.weight
    assert moe.gates.bias is None
    w = w.detach()
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.95 * bound
    assert float(moe.experts.bias.detach().abs().max()) == 0.0


@pytest.mark.parametrize("l2", [0.0, 1e-8, 0.5])
def test_moe_regularization_loss(l2, gen):
    moe = MixtureOfExperts(D, V, M, l2=l2, dtype=torch.float64)
    want = l2 * 0.5 * (moe.gates.weight.square().sum() + moe.experts.weight.square().sum())
    torch.testing.assert_close(moe.regularization_loss(), want, **F64)


def test_moe_circulant_layers_equal_dense_holding_their_weights(gen):
    gates = CirculantLinear(D, V * (M + 1), bias=False, diagonal=None, dtype=torch.float64)
    experts = CirculantLinear(D, V * M, bias=True, diagonal=None, dtype=torch.float64)
    circ = MixtureOfExperts(D, V, M, gates, experts, l2=1e-8, dtype=torch.float64)
    dense = MixtureOfExperts(D, V, M, dtype=torch.float64)
    with torch.no_grad():
        dense.gates.weight.copy_(gates.dense())
        dense.experts.weight.copy_(experts.dense())
        dense.experts.bias.copy_(experts.bias)
    x = _x(gen)
    torch.testing.assert_close(circ(x), dense(x), **F64)
    assert float(circ.regularization_loss()) == 0.0  # structured layers carry no L2


def _ref_context_gating(cg, x):
    z = x @ cg.linear.weight.detach().numpy().T
    if cg.bn is not None:
        bn = cg.bn
        z = ((z - bn.running_mean.numpy()) / np.sqrt(bn.running_var.numpy() + bn.eps)
             * bn.weight.detach().numpy() + bn.bias.detach().numpy())
    else:
        z = z + cg.linear.bias.detach().numpy()
    return x * _sigmoid(z)


@pytest.mark.parametrize("batch_norm", [True, False])
def test_context_gating_matches_reference(batch_norm, gen):
    torch.manual_seed(0)
    cg = ContextGating(V, batch_norm, dtype=torch.float64).eval()
    if batch_norm:
        with torch.no_grad():
            cg.bn.running_mean.uniform_(-0.3, 0.3)
            cg.bn.running_var.uniform_(0.5, 2.0)
            cg.bn.bias.uniform_(-0.5, 0.5)
    x = torch.rand(B, V, generator=gen, dtype=torch.float64)
    np.testing.assert_allclose(cg(x).detach().numpy(), _ref_context_gating(cg, x.numpy()), **F64)


@pytest.mark.parametrize("batch_norm, params", [(True, V * V + 2 * V), (False, V * V + V)])
def test_context_gating_parameter_count(batch_norm, params):
    cg = ContextGating(V, batch_norm)
    assert sum(p.numel() for p in cg.parameters()) == params
    if batch_norm:
        assert (cg.bn.momentum, cg.bn.eps) == (1e-3, 1e-3)


def test_context_gating_init_std():
    torch.manual_seed(0)
    w = ContextGating(400).linear.weight.detach()  # 160,000 draws: std within 1 %
    assert abs(float(w.std()) * math.sqrt(400) - 1) < 0.01


def test_logistic_matches_reference_and_l2(gen):
    torch.manual_seed(0)
    lr = LogisticClassifier(D, V, l2=1e-3, dtype=torch.float64)
    with torch.no_grad():
        lr.layer.bias.uniform_(-1, 1)
    x = _x(gen)
    ref = _sigmoid(x.numpy() @ lr.layer.weight.detach().numpy().T + lr.layer.bias.detach().numpy())
    np.testing.assert_allclose(lr(x).detach().numpy(), ref, **F64)
    torch.testing.assert_close(lr.regularization_loss(),
                               1e-3 * 0.5 * lr.layer.weight.square().sum(), **F64)


@pytest.mark.parametrize("module", ["moe", "cg", "logistic"])
def test_gradients_reach_every_parameter(module, gen):
    make = {"moe": lambda: MixtureOfExperts(D, V, M, dtype=torch.float64),
            "cg": lambda: ContextGating(D, dtype=torch.float64),
            "logistic": lambda: LogisticClassifier(D, V, dtype=torch.float64)}[module]
    m = make().train()
    m(_x(gen).sigmoid()).square().sum().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("make, match", [
    (lambda: MixtureOfExperts(D, V, 0), "num_mixtures"),
    (lambda: MixtureOfExperts(D, V, M, gates=nn.Linear(D, V * M, bias=False)), "gates"),
    (lambda: MixtureOfExperts(D, V, M, gates=nn.Linear(D, V * (M + 1))), "bias"),
    (lambda: MixtureOfExperts(D, V, M, experts=nn.Linear(D + 1, V * M)), "experts"),
    (lambda: MixtureOfExperts(D, V, M, l2=-1.0), "l2"),
    (lambda: ContextGating(0), "size"),
    (lambda: LogisticClassifier(D, V, nn.Linear(D, V + 1)), "layer"),
])
def test_bad_arguments_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()
