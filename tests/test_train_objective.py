"""The paper's loss, staircase schedule and gradient clipping against NumPy twins."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from circlearn.training.objective import (
    clip_gradients,
    cross_entropy_on_probabilities,
    staircase_learning_rate,
)

TOL64 = {"rtol": 1e-12, "atol": 1e-12}
TOL32 = {"rtol": 1e-5, "atol": 1e-6}


def _np_loss(p, y, eps=1e-5):  # paper.md §3.6, literally
    return np.mean(np.sum(-(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)), axis=1))


@pytest.mark.parametrize("shape", [(1, 1), (4, 7), (16, 50)])
def test_loss_matches_numpy_formula(rng, shape):
    p = rng.uniform(0, 1, shape)
    y = (rng.uniform(size=shape) < 0.3).astype(np.float64)
    got = cross_entropy_on_probabilities(torch.from_numpy(p).double(), torch.from_numpy(y))
    # float32 at least: compare in float32 tolerance
    np.testing.assert_allclose(float(got), _np_loss(p, y), **TOL32)


def test_loss_is_finite_at_saturated_probabilities():
    p = torch.tensor([[0.0, 1.0]])
    y = torch.tensor([[1.0, 0.0]])
    assert math.isclose(float(cross_entropy_on_probabilities(p, y)), -2 * math.log(1e-5),
                        rel_tol=1e-5)


def test_loss_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="must both be"):
        cross_entropy_on_probabilities(torch.zeros(2, 3), torch.zeros(2, 4))


@pytest.mark.parametrize("examples,expected_power", [(0, 0), (3_999_999, 0), (4_000_000, 1),
                                                     (12_500_000, 3)])
def test_staircase_schedule(examples, expected_power):
    assert staircase_learning_rate(2e-4, 0.8, 4_000_000, examples) == 2e-4 * 0.8 ** expected_power


def _grads(rng, scales):
    params = [torch.nn.Parameter(torch.zeros(n, dtype=torch.float64)) for n, _ in scales]
    for p, (n, s) in zip(params, scales):
        p.grad = torch.from_numpy(rng.normal(size=n) * s)
    return params


SCALES = [(3, 0.01), (10, 5.0), (7, 0.5), (1, 100.0)]


def test_per_tensor_clipping_is_tf_clip_by_norm(rng):
    params = _grads(rng, SCALES)
    before = [p.grad.numpy().copy() for p in params]
    clip_gradients(params, 1.0, "per-tensor")
    for p, g in zip(params, before):  # tf.clip_by_norm: g * c / max(||g||, c)
        np.testing.assert_allclose(p.grad.numpy(), g * 1.0 / max(np.linalg.norm(g), 1.0), **TOL64)


def test_global_clipping_matches_torch(rng):
    ours, theirs = _grads(rng, SCALES), _grads(np.random.default_rng(0), SCALES)
    total = clip_gradients(ours, 1.0, "global")
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert math.isclose(total, float(expected), rel_tol=1e-12)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6, atol=1e-12)


def test_clipping_none_leaves_gradients(rng):
    params = _grads(rng, SCALES)
    before = [p.grad.clone() for p in params]
    clip_gradients(params, 1.0, "none")
    assert all(torch.equal(p.grad, b) for p, b in zip(params, before))
