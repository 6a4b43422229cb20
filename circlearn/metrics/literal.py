"""Slow, literal twin of the YouTube-8M reference evaluation (``yt8m.md`` §2.3, ``paper.md`` §6).

This module re-implements, step by step and with the same data structures, the algorithm of
the starter code's ``eval_util.py`` / ``average_precision_calculator.py`` /
``mean_average_precision_calculator.py`` as described in the design notes (2019 state, with
the ``filter_empty_classes`` switch that selects the 2017 convention):

- per video, ``numpy.argpartition`` picks the top-k (class, score, label) triplets;
- the triplets are regrouped by class; every class keeps a **min-heap of (score, label)
  tuples**, and one global heap receives every triplet of every video;
- at the end the heap is turned back into arrays, shuffled with a generator seeded with 0,
  stable-sorted by score (descending) and walked rank by rank:
  ``AP = (1 / numpos) * sum over positive ranks i of (positives so far) / i``.

It exists to be the slow twin of :mod:`circlearn.metrics` (tests compare both on random,
tie-free data to 1e-9) and the baseline of :mod:`circlearn.bench.metrics`. It keeps every
pooled pair as a Python tuple, which is why the reference needs gigabytes on the full
validation set. Do not use it for real evaluations.

Differences from the original, on purpose:

- the shuffle draws from ``random.Random(0)`` (the same sequence as ``random.seed(0);
  random.sample(...)``) instead of reseeding Python's global generator, so calling it has no
  side effect on other code;
- labels are read as float64. The original ran under NumPy 1.x, where ``1.0 / np.float32(n)``
  is float64; under NumPy 2 (NEP 50) it is float32, which would make float32 labels lose
  precision that the reference never lost.
"""

from __future__ import annotations

import heapq
import random

import numpy as np

__all__ = [
    "ap_at_n",
    "AveragePrecisionCalculator",
    "MeanAveragePrecisionCalculator",
    "top_k_triplets",
    "top_k_by_class",
    "calculate_hit_at_one",
    "calculate_precision_at_equal_recall_rate",
    "calculate_gap",
    "LiteralEvaluationMetrics",
]


def ap_at_n(predictions, actuals, n=20, total_num_positives=None):
    """Non-interpolated AP of the first ``n`` ranks (all ranks if ``n`` is None).

    Ties are ordered by a shuffle seeded with 0, then a stable sort by descending score.

    >>> ap_at_n(np.array([0.9, 0.8, 0.7]), np.array([1, 0, 1]), n=None)  # (1/1 + 2/3) / 2
    0.8333...
    """
    predictions = np.asarray(predictions)
    actuals = np.asarray(actuals)
    if predictions.shape != actuals.shape:
        raise ValueError(f"predictions {predictions.shape} and actuals {actuals.shape} differ")
    shuffled = random.Random(0).sample(range(len(predictions)), len(predictions))
    predictions = predictions[shuffled]
    actuals = actuals[shuffled]
    sortidx = sorted(range(len(predictions)), key=lambda i: predictions[i], reverse=True)
    if total_num_positives is None:
        numpos = np.size(np.where(actuals > 0))
    else:
        numpos = total_num_positives
    if numpos == 0:
        return 0
    if n is not None:
        numpos = min(numpos, n)
    delta_recall = 1.0 / numpos
    poscount = 0.0
    ap = 0.0
    r = len(sortidx) if n is None else min(len(sortidx), n)
    for i in range(r):
        if actuals[sortidx[i]] > 0:
            poscount += 1
            ap += poscount / (i + 1) * delta_recall
    return ap


class AveragePrecisionCalculator:
    """Streaming AP over a min-heap of ``(score, label)`` tuples (unbounded when top_n is None)."""

    def __init__(self, top_n=None):
        self._top_n = top_n
        self._total_positives = 0
        self._heap = []

    @property
    def num_accumulated_positives(self):
        return self._total_positives

    def accumulate(self, predictions, actuals, num_positives=None):
        if len(predictions) != len(actuals):
            raise ValueError("predictions and actuals must have the same length")
        if num_positives is None:
            num_positives = np.size(np.where(np.asarray(actuals) > 1e-5))
        self._total_positives += num_positives
        heap = self._heap
        for i in range(len(predictions)):
            if self._top_n is None or len(heap) < self._top_n:
                heapq.heappush(heap, (predictions[i], actuals[i]))
            elif predictions[i] > heap[0][0]:  # heap[0] is the smallest kept score
                heapq.heappop(heap)
                heapq.heappush(heap, (predictions[i], actuals[i]))

    def peek_ap_at_n(self):
        if len(self._heap) <= 0:
            return 0
        scores, labels = zip(*self._heap)
        return ap_at_n(np.array(scores), np.array(labels), n=self._top_n,
                       total_num_positives=self._total_positives)


class MeanAveragePrecisionCalculator:
    """One :class:`AveragePrecisionCalculator` per class; ``peek_map_at_n`` lists their APs."""

    def __init__(self, num_class, filter_empty_classes=True, top_n=None):
        self._num_class = num_class
        self._filter_empty_classes = filter_empty_classes
        self._ap_calculators = [AveragePrecisionCalculator(top_n) for _ in range(num_class)]

    def accumulate(self, predictions, actuals, num_positives=None):
        if not num_positives:
            num_positives = [None] * self._num_class
        for i in range(self._num_class):
            self._ap_calculators[i].accumulate(predictions[i], actuals[i], num_positives[i])

    def peek_map_at_n(self):
        return [calc.peek_ap_at_n() for calc in self._ap_calculators
                if not self._filter_empty_classes or calc.num_accumulated_positives > 0]


def top_k_triplets(predictions, labels, k=20):
    """The top-k ``(class, score, label)`` triplets of one video (argpartition order)."""
    k = min(k, len(predictions))
    indices = np.argpartition(predictions, -k)[-k:]
    return [(index, predictions[index], labels[index]) for index in indices]


def _labels64(labels):
    return np.asarray(labels, dtype=np.float64)


def top_k_by_class(predictions, labels, k=20):
    """Per-class score lists and label lists of the videos' top-k triplets, and the per-class
    positive counts of the **full** label matrix."""
    predictions, labels = np.asarray(predictions), _labels64(labels)
    if k <= 0:
        raise ValueError("k must be a positive integer")
    k = min(k, predictions.shape[1])
    num_classes = predictions.shape[1]
    triplets = []
    for video in range(predictions.shape[0]):
        triplets.extend(top_k_triplets(predictions[video], labels[video], k))
    out_predictions = [[] for _ in range(num_classes)]
    out_labels = [[] for _ in range(num_classes)]
    for index, score, label in triplets:
        out_predictions[index].append(score)
        out_labels[index].append(label)
    out_true_positives = [np.sum(labels[:, i]) for i in range(num_classes)]
    return out_predictions, out_labels, out_true_positives


def calculate_hit_at_one(predictions, actuals):
    """Mean over videos of ``actuals[argmax(predictions)]``."""
    predictions, actuals = np.asarray(predictions), _labels64(actuals)
    top_prediction = np.argmax(predictions, 1)
    hits = actuals[np.arange(actuals.shape[0]), top_prediction]
    return np.average(hits)


def calculate_precision_at_equal_recall_rate(predictions, actuals):
    """PERR: per video with L labels, the share of its top-L scores that are positive and > 0."""
    predictions, actuals = np.asarray(predictions), _labels64(actuals)
    aggregated_precision = 0.0
    num_videos = actuals.shape[0]
    for row in range(num_videos):
        num_labels = int(np.sum(actuals[row]))
        top_indices = np.argpartition(predictions[row], -num_labels)[-num_labels:]
        item_precision = 0.0
        for label_index in top_indices:
            if predictions[row][label_index] > 0:
                item_precision += actuals[row][label_index]
        item_precision /= top_indices.size
        aggregated_precision += item_precision
    return aggregated_precision / num_videos


def _flatten(lists):
    return [item for sub in lists for item in sub]


def calculate_gap(predictions, actuals, top_k=20):
    """GAP of one batch: every video's top-k pairs pooled, positives counted from all labels."""
    predictions, actuals = np.asarray(predictions), _labels64(actuals)
    calculator = AveragePrecisionCalculator()
    sparse_predictions, sparse_labels, num_positives = top_k_by_class(predictions, actuals, top_k)
    calculator.accumulate(_flatten(sparse_predictions), _flatten(sparse_labels),
                          sum(num_positives))
    return calculator.peek_ap_at_n()


class LiteralEvaluationMetrics:
    """The reference ``EvaluationMetrics`` (no loss): hit@1 and PERR averaged per batch and
    weighted by batch size, per-class heaps for mAP, one global heap for GAP."""

    def __init__(self, num_class, top_k=20, filter_empty_classes=True):
        self.num_class = num_class
        self.top_k = top_k
        self.filter_empty_classes = filter_empty_classes
        self.clear()

    def clear(self):
        self.sum_hit_at_one = 0.0
        self.sum_perr = 0.0
        self.num_examples = 0
        self.map_calculator = MeanAveragePrecisionCalculator(
            self.num_class, filter_empty_classes=self.filter_empty_classes)
        self.global_ap_calculator = AveragePrecisionCalculator()

    def accumulate(self, predictions, labels):
        predictions, labels = np.asarray(predictions), _labels64(labels)
        batch_size = labels.shape[0]
        mean_hit_at_one = calculate_hit_at_one(predictions, labels)
        mean_perr = calculate_precision_at_equal_recall_rate(predictions, labels)
        sparse_predictions, sparse_labels, num_positives = top_k_by_class(
            predictions, labels, k=self.top_k)
        self.map_calculator.accumulate(sparse_predictions, sparse_labels, num_positives)
        self.global_ap_calculator.accumulate(_flatten(sparse_predictions),
                                             _flatten(sparse_labels), sum(num_positives))
        self.num_examples += batch_size
        self.sum_hit_at_one += mean_hit_at_one * batch_size
        self.sum_perr += mean_perr * batch_size

    def get(self):
        aps = self.map_calculator.peek_map_at_n()
        return {
            "gap": float(self.global_ap_calculator.peek_ap_at_n()),
            "hit_at_one": float(self.sum_hit_at_one / self.num_examples),
            "perr": float(self.sum_perr / self.num_examples),
            "map": float(np.mean(aps)) if aps else float("nan"),
            "num_examples": self.num_examples,
        }
