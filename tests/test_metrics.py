"""circlearn.metrics against the reference oracles (yt8m.md §2.4), the literal twin, and itself
(streaming vs one-shot, NumPy vs torch selection); tie rules; bad inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from circlearn.metrics import (
    EvaluationMetrics,
    gap,
    hit_at_one,
    literal,
    mean_average_precision,
    perr,
)
from circlearn.metrics.average_precision import (
    _segment_keys,
    average_precision,
    class_average_precisions,
)
from circlearn.metrics.selection import summarize_batch

TWIN_TOL = 1e-9  # fast vs literal twin on tie-free data
EXACT = 0.0  # deterministic paths: bitwise equal

# --- oracles (yt8m.md §2.4) -------------------------------------------------------------------

AP_CASES = {  # scores (sorted), labels, exact ap, ap_at_n for n = 3, 5, 10, 20 (4 decimals)
    "A": ([.98, .88, .77, .65, .64, .59, .45, .43, .20, .05], [1, 1, 0, 0, 0, 1, 1, 0, 0, 1],
          (1 + 1 + 3 / 6 + 4 / 7 + 5 / 10) / 5, [0.6667, 0.4, 0.7143, 0.7143]),
    "B": ([.878, .832, .759, .621, .458, .285, .134], [1, 0, 1, 0, 0, 1, 0],
          (1 + 2 / 3 + 3 / 6) / 3, [0.5556, 0.5556, 0.7222, 0.7222]),
    "C": ([0.98], [1], 1.0, [1, 1, 1, 1]),
    "D": ([0.56], [0], 0.0, [0, 0, 0, 0]),
}
P_ORACLE = np.array([[.9, .8, .1, .05], [.2, .7, .6, .1], [.3, .1, .95, .4]])
Y_ORACLE = np.array([[1, 0, 0, 1], [0, 1, 1, 0], [0, 0, 1, 0]])


@pytest.mark.parametrize("case", sorted(AP_CASES))
def test_ap_oracle(case):
    scores, labels, expected, _ = AP_CASES[case]
    assert average_precision(np.array(scores), np.array(labels, bool)) == pytest.approx(
        expected, abs=1e-12)


@pytest.mark.parametrize("case", sorted(AP_CASES))
@pytest.mark.parametrize("n_index, n", list(enumerate([3, 5, 10, 20])))
def test_literal_ap_at_n_oracle(case, n_index, n):
    scores, labels, _, at_n = AP_CASES[case]
    got = literal.ap_at_n(np.array(scores), np.array(labels), n=n)
    assert got == pytest.approx(at_n[n_index], abs=5e-5)


@pytest.mark.parametrize("name, fn, expected", [
    ("hit_at_one", lambda p, y: hit_at_one(p, y), 1.0),
    ("perr", lambda p, y: perr(p, y), 5 / 6),
    ("gap@2", lambda p, y: gap(p, y, top_k=2), (1 / 1 + 2 / 2 + 3 / 4 + 4 / 5) / 5),
    ("gap@4", lambda p, y: gap(p, y, top_k=4), (1 + 1 + 3 / 4 + 4 / 5 + 5 / 12) / 5),
    ("map@2", lambda p, y: mean_average_precision(p, y, top_k=2), 0.625),
    ("literal gap@2", lambda p, y: literal.calculate_gap(p, y, top_k=2), 0.71),
    ("literal gap@4", lambda p, y: literal.calculate_gap(p, y, top_k=4), 0.79333),
    ("literal perr", literal.calculate_precision_at_equal_recall_rate, 0.83333),
    ("literal hit", literal.calculate_hit_at_one, 1.0),
])
def test_matrix_oracle(name, fn, expected):
    assert fn(P_ORACLE, Y_ORACLE) == pytest.approx(expected, abs=5e-6)


def test_matrix_oracle_class_aps():
    s = summarize_batch(P_ORACLE, Y_ORACLE, 2)
    aps = class_average_precisions(s.scores.ravel(), s.classes.ravel(), s.labels.ravel(),
                                   s.positives)
    np.testing.assert_allclose(aps, [1.0, 0.5, 1.0, 0.0], atol=1e-12)


# --- literal twin on random tie-free data -----------------------------------------------------

def random_batch(rng, n_videos, n_classes, mean_labels=3.0, label_dtype=bool):
    """Tie-free float64 scores (normal, with signal on positives and negative values)."""
    labels = np.zeros((n_videos, n_classes), dtype=bool)
    counts = np.minimum(rng.poisson(mean_labels, n_videos), n_classes)
    for v, c in enumerate(counts):
        labels[v, rng.choice(n_classes, c, replace=False)] = True
    scores = rng.standard_normal((n_videos, n_classes)) + 2.0 * labels
    assert np.unique(scores).size == scores.size  # tie-free, so the twin is exact
    return scores, labels.astype(label_dtype)


def literal_metrics(scores, labels, top_k, filter_empty_classes, batch=64):
    ref = literal.LiteralEvaluationMetrics(scores.shape[1], top_k, filter_empty_classes)
    for s in range(0, scores.shape[0], batch):
        ref.accumulate(scores[s:s + batch], labels[s:s + batch])
    return ref.get()


@pytest.mark.parametrize("n_classes, top_k, mean_labels", [
    (1, 20, 0.5), (5, 3, 1.0), (37, 20, 3.0), (500, 20, 3.0), (500, 1, 3.0),
    (400, 5, 12.0),  # many videos with more labels than top_k (outside positives count)
])
@pytest.mark.parametrize("filter_empty", [True, False])
def test_streaming_matches_literal_twin(n_classes, top_k, mean_labels, filter_empty):
    rng = np.random.default_rng([n_classes, top_k])
    scores, labels = random_batch(rng, 200, n_classes, mean_labels)
    ref = literal_metrics(scores, labels, top_k, filter_empty)
    m = EvaluationMetrics(n_classes, top_k, filter_empty_classes=filter_empty)
    for s in range(0, 200, 64):
        m.accumulate(scores[s:s + 64], labels[s:s + 64])
    got = m.compute()
    for key in ("gap", "hit_at_one", "perr", "map"):
        assert got[key] == pytest.approx(float(ref[key]), abs=TWIN_TOL, nan_ok=True), key
    assert got["num_examples"] == ref["num_examples"]


@pytest.mark.parametrize("label_dtype", [bool, np.int64, np.float32, np.float64])
def test_functional_matches_literal_twin(label_dtype):
    rng = np.random.default_rng(7)
    scores, labels = random_batch(rng, 150, 300, 3.0, label_dtype)
    assert gap(scores, labels) == pytest.approx(literal.calculate_gap(scores, labels),
                                                abs=TWIN_TOL)
    assert hit_at_one(scores, labels) == pytest.approx(
        literal.calculate_hit_at_one(scores, labels), abs=TWIN_TOL)
    assert perr(scores, labels) == pytest.approx(
        literal.calculate_precision_at_equal_recall_rate(scores, labels), abs=TWIN_TOL)
    calc = literal.MeanAveragePrecisionCalculator(300, filter_empty_classes=False)
    calc.accumulate(*literal.top_k_by_class(scores, labels, 20))
    assert mean_average_precision(scores, labels, filter_empty_classes=False) == pytest.approx(
        np.mean(calc.peek_map_at_n()), abs=TWIN_TOL)


# --- streaming == one-shot; NumPy == torch; tie rules -----------------------------------------

def tie_heavy_batch(rng, n_videos, n_classes):
    """Scores rounded to one decimal: ties everywhere, at every boundary."""
    scores, labels = random_batch(rng, n_videos, n_classes)
    return np.round(scores, 1), labels


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("sizes", [(200,), (1, 7, 50, 142), (99, 1, 100)])
def test_streaming_uneven_batches_equal_one_shot(ties, sizes):
    rng = np.random.default_rng(3)
    scores, labels = (tie_heavy_batch if ties else random_batch)(rng, 200, 250)
    m = EvaluationMetrics(250, top_k=20)
    start = 0
    for size in sizes:
        m.accumulate(scores[start:start + size], labels[start:start + size])
        start += size
    got = m.compute()
    assert got["gap"] == gap(scores, labels)
    assert got["map"] == mean_average_precision(scores, labels)
    assert got["hit_at_one"] == hit_at_one(scores, labels)
    assert got["perr"] == perr(scores, labels)


@pytest.mark.parametrize("n_classes, top_k", [(3, 20), (40, 5), (300, 20), (300, 2)])
@pytest.mark.parametrize("ties", [False, True])
def test_numpy_and_torch_selection_agree(n_classes, top_k, ties):
    rng = np.random.default_rng(n_classes)
    scores, labels = (tie_heavy_batch if ties else random_batch)(rng, 120, n_classes)
    a = summarize_batch(scores, labels, top_k, backend="numpy")
    b = summarize_batch(torch.from_numpy(scores), torch.from_numpy(labels), top_k,
                        backend="torch")
    for field in ("positives", "hits", "perr"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    # Order inside a run of equal scores may differ; the entries themselves may not.
    np.testing.assert_array_equal(a.scores, b.scores)
    key = lambda s: np.lexsort((s.classes, -s.scores), axis=-1)  # noqa: E731
    for field in ("classes", "labels"):
        np.testing.assert_array_equal(np.take_along_axis(getattr(a, field), key(a), 1),
                                      np.take_along_axis(getattr(b, field), key(b), 1))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_equal_numpy():
    rng = np.random.default_rng(11)
    scores, labels = tie_heavy_batch(rng, 300, 500)
    m = EvaluationMetrics(500)
    m.accumulate(torch.from_numpy(scores).cuda(), torch.from_numpy(labels).cuda())
    got = m.compute()
    assert got["gap"] == gap(scores, labels)
    assert got["map"] == mean_average_precision(scores, labels)
    assert got["perr"] == perr(scores, labels)


@pytest.mark.parametrize("seed", range(6))
def test_tie_groups_score_the_expectation_over_orders(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 3, 7).astype(float)  # 7 entries, 3 distinct scores
    labels = rng.random(7) < 0.5
    extra = int(rng.integers(0, 3))  # positives outside the list
    total = int(labels.sum()) + extra
    aps = []
    for perm in itertools.permutations(range(7)):
        order = sorted(perm, key=lambda i: -scores[i])  # stable: ties keep the permutation
        hits = np.cumsum(labels[order])
        ranks = np.arange(1, 8)
        aps.append((hits / ranks)[labels[order]].sum() / total if total else 0.0)
    assert average_precision(scores, labels, total) == pytest.approx(np.mean(aps), abs=1e-12)


@pytest.mark.parametrize("name, fn, expected", [
    ("hit@1: lowest index among tied maxima", lambda: hit_at_one([[1., 1., 0.]], [[0, 1, 0]]),
     0.0),
    ("perr: expected share of 3 tied for 2 places", lambda: perr([[.5, .5, .5, .1]],
                                                                 [[1, 0, 0, 1]]), 1 / 3),
    ("perr: a positive at score 0 never counts", lambda: perr([[0., -1.]], [[1, 0]]), 0.0),
    ("perr: a video without labels counts 0", lambda: perr([[1., 0.], [1., 0.]],
                                                           [[0, 0], [1, 0]]), 0.5),
    ("top-k keeps the lowest tied classes", lambda: gap([[.5, .5, .5]], [[0, 0, 1]], 2), 0.0),
    ("tied pooled pair scores its expectation", lambda: gap([[.5, .5, .5]], [[1, 0, 0]], 2),
     0.75),
    ("no positive at all gives GAP 0", lambda: gap([[.5, .2]], [[0, 0]]), 0.0),
])
def test_tie_and_edge_rules(name, fn, expected):
    assert fn() == pytest.approx(expected, abs=1e-12)


def test_map_without_positive_class_is_nan_when_filtered():
    assert np.isnan(mean_average_precision([[.5, .2]], [[0, 0]]))
    assert mean_average_precision([[.5, .2]], [[0, 0]], filter_empty_classes=False) == 0.0


def test_accumulate_returns_batch_values_and_reset_forgets():
    m = EvaluationMetrics(4, top_k=2)
    batch = m.accumulate(P_ORACLE, Y_ORACLE)
    assert batch == {"hit_at_one": 1.0, "perr": pytest.approx(5 / 6), "num_examples": 3}
    m.reset()
    with pytest.raises(ValueError, match="no examples"):
        m.compute()


# --- bad inputs -------------------------------------------------------------------------------

NAN_ROW = np.array([[.1, np.nan, .3]])


@pytest.mark.parametrize("predictions, labels, top_k, match", [
    (np.zeros((2, 3)), np.zeros((2, 4)), 20, "shape"),
    (np.zeros(3), np.zeros(3), 20, "shape"),
    (np.zeros((1, 2, 3)), np.zeros((1, 2, 3)), 20, "shape"),
    (np.zeros((0, 3)), np.zeros((0, 3)), 20, "empty"),
    (np.zeros((2, 0)), np.zeros((2, 0)), 20, "empty"),
    (NAN_ROW, np.zeros((1, 3)), 20, r"NaN \(first at video 0, class 1\)"),
    (np.repeat(np.linspace(0, 1, 600)[None], 4, 0) * np.where(np.arange(600) == 7, np.nan, 1),
     np.zeros((4, 600)), 20, "NaN"),  # chunked path
    (np.zeros((1, 3)), np.array([[0, 2, 0]]), 20, r"0 or 1; found 2 at video 0, class 1"),
    (np.zeros((1, 3)), np.array([[0, .5, 0]]), 20, "0 or 1"),
    (np.zeros((1, 3)), np.array([[0, -1, 0]]), 20, "0 or 1"),
    (np.zeros((1, 3)), np.array([[0, np.nan, 0]]), 20, "0 or 1"),
    (np.zeros((1, 3), complex), np.zeros((1, 3)), 20, "real"),
    (np.zeros((1, 3)), np.array([["a", "b", "c"]]), 20, "labels"),
    (np.zeros((1, 3)), np.zeros((1, 3)), 0, "top_k"),
    (np.zeros((1, 3)), np.zeros((1, 3)), 2.5, "top_k"),
    (np.zeros((1, 3)), np.zeros((1, 3)), True, "top_k"),
])
def test_bad_inputs_raise_value_error(predictions, labels, top_k, match):
    with pytest.raises(ValueError, match=match):
        gap(predictions, labels, top_k=top_k)


@pytest.mark.parametrize("labels", [torch.tensor([[0., 2., 0.]]), torch.tensor([[0, 3, 0]])])
def test_bad_labels_raise_on_torch_backend(labels):
    with pytest.raises(ValueError, match="0 or 1"):
        summarize_batch(torch.zeros(1, 3), labels, 20, backend="torch")


def test_nan_raises_on_torch_backend():
    with pytest.raises(ValueError, match="NaN"):
        summarize_batch(torch.from_numpy(NAN_ROW), torch.zeros(1, 3), 20, backend="torch")


@pytest.mark.parametrize("kwargs, match", [
    ({"num_classes": 0}, "num_classes"), ({"num_classes": 4, "top_k": -1}, "top_k"),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EvaluationMetrics(**kwargs)


def test_accumulate_rejects_wrong_class_count():
    with pytest.raises(ValueError, match="num_classes=5"):
        EvaluationMetrics(5).accumulate(P_ORACLE, Y_ORACLE)


# --- pooled-AP key paths (float32 bits, truncated float64, dense-rank fallback) ---------------

@pytest.mark.parametrize("scale", [1.0, 1e-300, 1e300])
def test_float32_scores_match_float64_path(scale):
    rng = np.random.default_rng(5)
    scores, labels = tie_heavy_batch(rng, 150, 200)
    s32 = (scores * 0 + rng.standard_normal(scores.shape)).astype(np.float32)
    s64 = s32.astype(np.float64) * scale  # same order and ties, never float32-representable
    for fn in (gap, mean_average_precision):
        assert fn(s32, labels) == fn(s64, labels), fn.__name__


def test_near_equal_float64_scores_keep_their_order():
    """Scores one ulp apart in one class: the truncated composite key would merge them, the
    check falls back to dense ranks, and the result stays the reference's."""
    rng = np.random.default_rng(9)
    base = 0.5 + np.arange(6) * 1e-3  # one value per class ...
    scores = base + np.arange(40)[:, None] * np.spacing(base)  # ... + 0..39 ulps per video
    scores = np.concatenate([scores, rng.random((40, 4)) + 2.0], axis=1)  # (40, 10)
    labels = rng.random(scores.shape) < 0.4
    assert np.unique(scores).size == scores.size
    classes = np.broadcast_to(np.arange(10), scores.shape).ravel()
    assert _segment_keys(scores.ravel(), classes, 10)[1] == 32  # the dense-rank fallback ran
    for filter_empty in (True, False):
        ref = literal_metrics(scores, labels, 10, filter_empty)
        assert mean_average_precision(scores, labels, 10, filter_empty) == pytest.approx(
            ref["map"], abs=TWIN_TOL)
    assert gap(scores, labels, 10) == pytest.approx(ref["gap"], abs=TWIN_TOL)


def test_negative_zero_ties_with_zero():
    assert gap([[-0.0, 0.0, -1.0]], [[0, 1, 0]], 2) == pytest.approx(0.75, abs=1e-12)
    for dtype in (np.float32, np.float64):  # one class, two videos: a tied pair
        scores = np.array([[-0.0], [0.0]], dtype)
        assert mean_average_precision(scores, [[0], [1]], 1) == pytest.approx(0.75, abs=1e-12)


def test_tied_float64_scores_keep_the_truncated_keys():
    """Repeated composite keys that are true ties (equal scores) need no dense-rank fallback,
    and give the same class APs as the dense ranks would."""
    rng = np.random.default_rng(13)
    scores = np.round(rng.standard_normal(600), 1)  # (600,) many exact ties per class
    classes = rng.integers(0, 10, 600)
    labels = rng.random(600) < 0.3
    keys, shift, ranked = _segment_keys(scores, classes, 10)
    assert shift == 64 - 4  # truncated keys kept: 10 segments take 4 bits
    np.testing.assert_array_equal(ranked, np.sort(keys))
    dense = np.unique(scores, return_inverse=True)[1].astype(float)  # same order, same ties
    positives = np.bincount(classes[labels], minlength=10) + 1
    np.testing.assert_array_equal(class_average_precisions(scores, classes, labels, positives),
                                  class_average_precisions(dense, classes, labels, positives))
