"""YouTube-8M evaluation metrics: GAP@k, Hit@1, PERR and mAP, identical to the reference.

Definitions (``yt8m.md`` §1.9, §2.3; ``paper.md`` §6). ``predictions`` are real scores and
``labels`` a dense 0/1 matrix, both ``(videos, classes)``:

- **GAP@k**: keep every video's top-k (score, label) entries, pool all videos' entries, rank
  them by descending score; ``GAP = (1/M) * sum over positive ranks i of P@i`` where ``M``
  counts **every** positive of the label matrix, also those outside all top-k lists.
- **Hit@1**: share of videos whose top-scored class is a positive.
- **PERR**: per video with ``L`` labels, the share of its top-L classes that are positive and
  scored > 0; a video with no label contributes 0 and still counts in the mean.
- **mAP**: per class, AP of the entries of the videos' top-k lists naming that class, divided
  by the class's positives in the whole matrix; mean over classes with a positive
  (``filter_empty_classes=True``, the 2019 reference) or over all classes, empty ones as 0
  (``False``, the 2017 code used by the paper).

Ties (the reference breaks them arbitrarily or pseudo-randomly; on tie-free input every
value here equals the reference's):

- Hit@1: the lowest class index among the top scores (``numpy.argmax``, as the reference).
- A video's top-k entries: among scores tied at the k-th place, the lowest class indices.
- PERR: scores tied at the L-th place count with their expected share of positives.
- AP (GAP, mAP): the expectation over all orders of tied scores; see
  :mod:`circlearn.metrics.average_precision`.

API: :func:`gap`, :func:`hit_at_one`, :func:`perr`, :func:`mean_average_precision` (one-shot)
and :class:`EvaluationMetrics` (streaming, distributed). :mod:`circlearn.metrics.literal` is
the slow literal twin of the reference used by the tests and the benchmark.

>>> import numpy as np
>>> P = np.array([[.9, .8, .1, .05], [.2, .7, .6, .1], [.3, .1, .95, .4]])
>>> Y = np.array([[1, 0, 0, 1], [0, 1, 1, 0], [0, 0, 1, 0]])
>>> round(gap(P, Y, top_k=2), 5)  # (1/1 + 2/2 + 3/4 + 4/5) / 5: (video 0, class 3) is missed
0.71
"""

from .functional import gap, hit_at_one, mean_average_precision, perr
from .streaming import EvaluationMetrics

__all__ = ["gap", "hit_at_one", "perr", "mean_average_precision", "EvaluationMetrics"]
