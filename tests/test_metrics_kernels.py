"""circlearn.metrics.kernels (numba) against a stable full sort, the NumPy chunked selection
(its twin) and the literal reference: ties, NaN, infinities, edge shapes (C < kk, B = 1)."""

from __future__ import annotations

import numpy as np
import pytest

from circlearn.metrics import EvaluationMetrics, kernels, literal, selection
from circlearn.metrics.selection import summarize_batch

TWIN_TOL = 1e-9  # fast vs literal twin on tie-free data

needs_numba = pytest.mark.skipif(not kernels.HAVE_NUMBA, reason="numba is not installed")


def stable_top(x: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
    """The tie rule spelled out: descending, lowest class first among equal scores."""
    order = np.argsort(-x, axis=1, kind="stable")[:, :kk]
    return np.take_along_axis(x, order, axis=1), order


def make_scores(kind: str, rng, n_rows: int, n_cols: int, dtype) -> np.ndarray:
    """Score matrices that stress the guess, the lane bound and the tie rule."""
    if kind == "normal":
        x = rng.standard_normal((n_rows, n_cols))
    elif kind == "ties":  # one decimal: ties at every place
        x = np.round(rng.standard_normal((n_rows, n_cols)), 1)
    elif kind == "few_values":  # 3 distinct values: long runs of equal scores
        x = rng.integers(0, 3, (n_rows, n_cols)).astype(float)
    elif kind == "constant":
        x = np.full((n_rows, n_cols), 0.25)
    elif kind == "ramps":  # ascending / descending rows alternate: the guess keeps failing
        x = np.where(np.arange(n_rows)[:, None] % 2, 1.0, -1.0) * np.arange(n_cols) / n_cols
        x = x + 10.0 * np.arange(n_rows)[:, None] % 7
    elif kind == "scales":  # rows on wildly different scales
        x = rng.standard_normal((n_rows, n_cols)) * 10.0 ** rng.integers(-30, 30, (n_rows, 1))
    elif kind == "specials":  # +-inf, -0.0 / 0.0, extremes
        big = np.finfo(dtype).max
        x = rng.choice([np.inf, -np.inf, -0.0, 0.0, big, -big, 1.0], (n_rows, n_cols))
    else:
        raise AssertionError(kind)
    return x.astype(dtype)


KINDS = ["normal", "ties", "few_values", "constant", "ramps", "scales", "specials"]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n_rows, n_cols, kk", [
    (1, 1, 1), (1, 5, 5), (3, 7, 2), (9, 16, 16), (9, 17, 3), (40, 300, 21), (1, 300, 1),
    (25, 1000, 40), (6, 33, 33),
])
def test_top_entries_equal_stable_sort(dtype, kind, n_rows, n_cols, kk):
    rng = np.random.default_rng([n_rows, n_cols, kk, KINDS.index(kind)])
    x = make_scores(kind, rng, n_rows, n_cols, dtype)
    v, i, nan_row = kernels.top_entries(x, kk)
    ref_v, ref_i = stable_top(x, kk)
    assert nan_row == -1
    assert v.dtype == x.dtype and v.shape == i.shape == (n_rows, kk)
    np.testing.assert_array_equal(i, ref_i)
    np.testing.assert_array_equal(v, ref_v)


@pytest.mark.parametrize("kind", ["normal", "ties", "scales"])
def test_top_entries_equal_numpy_chunked_selection(kind):
    """The NumPy twin: where it proves a row exact, both give the same entries."""
    rng = np.random.default_rng(11)
    x = make_scores(kind, rng, 64, 600, np.float64)
    v, i, _ = kernels.top_entries(x, 21)
    cv, ci, inexact = selection._chunked_top(x, 21)
    exact = ~inexact
    assert exact.any()
    np.testing.assert_array_equal(v[exact], cv[exact])
    np.testing.assert_array_equal(i[exact], ci[exact])


@pytest.mark.parametrize("row, col", [(0, 0), (0, 299), (1, 5), (2, 150), (3, 299), (3, 17)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_top_entries_report_the_first_nan_row(row, col, dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 300)).astype(dtype)
    x[row, col] = np.nan
    x[3, 0] = np.nan  # a later row's NaN: the first one is reported
    assert kernels.top_entries(x, 5)[2] == min(row, 3)


def test_top_entries_reject_kk_outside_the_row():
    with pytest.raises(ValueError, match="kk"):
        kernels.top_entries(np.zeros((2, 3)), 4)
    with pytest.raises(ValueError, match="kk"):
        kernels.top_entries(np.zeros((2, 3)), 0)


@pytest.mark.parametrize("shape, density", [((1, 1), 1.0), ((1, 13), 0.3), ((7, 9), 0.2),
                                             ((50, 301), 0.01), ((33, 64), 0.5), ((3, 5), 0.0)])
def test_bool_label_counts_equal_numpy(shape, density):
    rng = np.random.default_rng(list(shape))
    y = rng.random(shape) < density
    per_row, per_class = kernels.bool_label_counts(y)
    np.testing.assert_array_equal(per_row, y.sum(1))
    np.testing.assert_array_equal(per_class, y.sum(0))
    assert per_row.dtype == per_class.dtype == np.int64


# --- summaries and metrics: numba vs the NumPy path and the literal twin ----------------------

def labelled(kind: str, rng, n_rows: int, n_cols: int, dtype=np.float64):
    y = rng.random((n_rows, n_cols)) < min(0.5, 4.0 / n_cols)
    y[0] = False  # a video without labels
    if n_cols > 1:
        y[-1, :n_cols // 2 + 1] = True  # one with more labels than top_k
    return make_scores(kind, rng, n_rows, n_cols, dtype) + 2.0 * y, y


@needs_numba
@pytest.mark.parametrize("kind", ["normal", "ties", "few_values", "constant", "ramps"])
@pytest.mark.parametrize("n_rows, n_cols, top_k", [(1, 3, 20), (1, 40, 5), (30, 8, 20),
                                                   (300, 300, 20), (300, 500, 2)])
@pytest.mark.parametrize("threads", [1, 2])
def test_numba_and_numpy_summaries_are_identical(kind, n_rows, n_cols, top_k, threads):
    rng = np.random.default_rng([n_rows, n_cols, top_k])
    x, y = labelled(kind, rng, n_rows, n_cols)
    a = summarize_batch(x, y, top_k, backend="numba", num_threads=threads)
    b = summarize_batch(x, y, top_k, backend="numpy", num_threads=threads)
    for field in ("scores", "classes", "labels", "positives", "hits", "perr"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


@needs_numba
@pytest.mark.parametrize("n_classes, top_k", [(1, 20), (37, 20), (500, 20), (400, 5)])
def test_numba_streaming_matches_literal_twin(n_classes, top_k, monkeypatch):
    rng = np.random.default_rng([n_classes, 99])
    y = rng.random((200, n_classes)) < min(0.5, 3.0 / n_classes)
    x = rng.standard_normal((200, n_classes)) + 2.0 * y  # tie-free: the twin is exact
    assert np.unique(x).size == x.size
    ref = literal.LiteralEvaluationMetrics(n_classes, top_k, True)
    m = EvaluationMetrics(n_classes, top_k)
    calls = []
    monkeypatch.setattr(selection, "_chunked_top", lambda *a: calls.append(a))  # never used
    for s in range(0, 200, 64):
        ref.accumulate(x[s:s + 64], y[s:s + 64])
        m.accumulate(x[s:s + 64], y[s:s + 64])
    got, want = m.compute(), ref.get()
    assert not calls
    for key in ("gap", "hit_at_one", "perr", "map"):
        assert got[key] == pytest.approx(float(want[key]), abs=TWIN_TOL, nan_ok=True), key


@needs_numba
def test_numba_path_raises_on_nan_like_numpy():
    x = np.linspace(0, 1, 600)[None].repeat(4, 0)
    x[2, 7] = np.nan
    for backend in ("numba", "numpy"):
        with pytest.raises(ValueError, match=r"NaN \(first at video 2, class 7\)"):
            summarize_batch(x, np.zeros(x.shape), 20, backend=backend)


def test_without_numba_the_numpy_path_runs(monkeypatch):
    rng = np.random.default_rng(4)
    x, y = labelled("ties", rng, 50, 200)
    want = summarize_batch(x, y, 20, backend="numpy")
    monkeypatch.setattr(kernels, "HAVE_NUMBA", False)
    got = summarize_batch(x, y, 20)
    np.testing.assert_array_equal(got.classes, want.classes)
    np.testing.assert_array_equal(got.perr, want.perr)
    with pytest.raises(ValueError, match="numba"):
        summarize_batch(x, y, 20, backend="numba")


@needs_numba
def test_non_native_byte_order_takes_the_numpy_path():
    rng = np.random.default_rng(6)
    x, y = labelled("normal", rng, 20, 100)
    swapped = x.astype(x.dtype.newbyteorder())
    a, b = summarize_batch(swapped, y, 5), summarize_batch(x, y, 5, backend="numpy")
    np.testing.assert_array_equal(a.classes, b.classes)
    np.testing.assert_array_equal(a.scores, b.scores)


@pytest.mark.parametrize("kind", ["normal", "ties", "few_values", "constant"])
@pytest.mark.parametrize("k", [1, 3, 7])
def test_entry_labels_equal_numpy_expressions(kind, k):
    rng = np.random.default_rng([KINDS.index(kind), k])
    x, y = labelled(kind, rng, 60, 50)
    L = y.sum(1)
    kk = max(k, int(L.max())) + 1
    v, i = stable_top(x, kk)
    labk, hits, perr, flag = kernels.entry_labels(v, i, y, L, k)
    want_labk = np.take_along_axis(y, i, axis=1)
    want_perr = (want_labk & (v > 0) & (np.arange(kk) < L[:, None])).sum(1) / np.maximum(L, 1)
    at = np.minimum(L, kk - 1)
    rows = np.arange(60)
    want_flag = ((v[:, 0] == v[:, 1]) | (v[:, k - 1] == v[:, k])
                 | ((L > 0) & (v[rows, np.maximum(at - 1, 0)] == v[rows, at])))
    np.testing.assert_array_equal(labk, want_labk)
    np.testing.assert_array_equal(hits, want_labk[:, 0])
    np.testing.assert_array_equal(perr, want_perr)
    np.testing.assert_array_equal(flag, want_flag)
    assert flag.any() == (kind != "normal")
