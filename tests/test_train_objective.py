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


class _FixedProbabilities(torch.nn.Module):
    """A stand-in model whose output is given: row ``i`` of ``probs`` for the video whose
    (video-level) feature is ``[i]``."""

    def __init__(self, probs: torch.Tensor):
        super().__init__()
        self.probs = probs
        self.config = type("Config", (), {"num_classes": probs.shape[1]})()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.probs[features[:, 0].long()]  # (B, C)


def _eval_case(rng, batch_sizes=(7, 1, 12)):
    """Probabilities (saturated entries included) and float32 labels, cut into batches."""
    from circlearn.data.batch import Batch

    n, c = sum(batch_sizes), 30
    p = rng.uniform(0, 1, (n, c))
    p[0, :3], p[1, :3] = 0.0, 1.0  # log(ε) and log(1 + ε) terms
    probs = torch.from_numpy(p).float()
    labels = torch.from_numpy((rng.uniform(size=(n, c)) < 0.2).astype(np.float32))
    batches, start = [], 0
    for size in batch_sizes:
        rows = torch.arange(start, start + size)
        batches.append(Batch(ids=[str(int(i)) for i in rows], labels=labels[rows],
                             features=rows[:, None].float()))
        start += size
    return probs, labels, batches


def test_evaluation_loss_is_the_objective_per_video(rng):
    from circlearn.training.evaluation import evaluate

    probs, labels, batches = _eval_case(rng)
    got = evaluate(_FixedProbabilities(probs), batches, top_k=5)["loss"]
    # Evaluation sums the objective's float32 per-video losses in float64, batch by batch.
    per_batch = [float(cross_entropy_on_probabilities(
        probs[b.features[:, 0].long()], b.labels, reduction="none").double().sum())
        for b in batches]
    assert got == sum(per_batch) / len(probs)
    # The same numbers as the formula evaluation carried inline before calling the
    # objective: bitwise, for the float32 labels batches hold.
    inline = [float((-(b.labels * torch.log(probs[b.features[:, 0].long()] + 1e-5)
                       + (1 - b.labels) * torch.log(1 - probs[b.features[:, 0].long()] + 1e-5)
                       )).sum(1).double().sum()) for b in batches]
    assert got == sum(inline) / len(probs)
    # The training loss (a float32 mean over one batch) agrees up to float32 round-off.
    assert math.isclose(got, float(cross_entropy_on_probabilities(probs, labels)), rel_tol=1e-6)


def test_evaluation_calls_the_objective(rng, monkeypatch):
    import circlearn.training.evaluation as evaluation

    calls = []

    def spy(probs, labels, *args, **kwargs):
        calls.append(kwargs.get("reduction"))
        return cross_entropy_on_probabilities(probs, labels, *args, **kwargs)

    monkeypatch.setattr(evaluation, "cross_entropy_on_probabilities", spy)
    probs, _, batches = _eval_case(rng)
    evaluation.evaluate(_FixedProbabilities(probs), batches, top_k=5)
    assert calls == ["none"] * len(batches)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_reductions(rng, reduction):
    p = torch.from_numpy(rng.uniform(0, 1, (6, 9))).float()
    y = torch.from_numpy((rng.uniform(size=(6, 9)) < 0.3).astype(np.float32))
    per_video = cross_entropy_on_probabilities(p, y, reduction="none")  # (B,)
    expected = {"mean": per_video.mean(), "sum": per_video.sum(), "none": per_video}[reduction]
    assert per_video.shape == (6,)
    torch.testing.assert_close(cross_entropy_on_probabilities(p, y, reduction=reduction),
                               expected, rtol=0, atol=0)
    np.testing.assert_allclose(float(per_video.mean()), _np_loss(p.double().numpy(),
                                                                 y.double().numpy()), **TOL32)


def test_loss_rejects_unknown_reduction():
    with pytest.raises(ValueError, match="reduction 'avg'; valid: mean, sum, none"):
        cross_entropy_on_probabilities(torch.zeros(2, 3), torch.zeros(2, 3), reduction="avg")
