"""Streaming evaluation over batches, exact under ``torch.distributed``.

Memory: every video keeps its top-k (score, class, label) entries and one PERR value; the
per-class positive counts are ``C`` integers. The ``(videos, classes)`` matrices are never
stored. That is 7 bytes per entry with float32 scores (11 with float64) plus 8 per video:
about 165 MB for the 2018 validation set (1.1 M videos, k = 20, float32), against several GB
of Python tuples in the reference heap. :meth:`EvaluationMetrics.compute` sorts keys and
needs under 100 bytes per entry on top, for the time of the call (``bench_metrics``).

Distributed: with ``EvaluationMetrics(..., distributed=True, group=...)``,
:meth:`EvaluationMetrics.compute` all-gathers every rank's entries and PERR values and
all-reduces the integer counters over ``group``, then computes on the union. Every rank
returns the same values, equal to one process fed all the data: the tie rule
(:mod:`circlearn.metrics.average_precision`) makes AP independent of the entries' order, and
PERR is summed exactly (``math.fsum``). Averaging per-rank GAPs would be wrong: AP is not
additive. Whether to gather is the caller's explicit choice (training passes
``distributed=ctx.distributed`` from its :class:`~circlearn.training.distributed.DistContext`,
as for the loss), never read from ``torch.distributed``'s global state: a process group that
other code initialised, over ranks that each evaluate the same data, would otherwise be
gathered into duplicates.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.distributed as dist

from .average_precision import class_average_precisions, precision_sums
from .functional import reduce_map
from .selection import check_top_k, summarize_batch

__all__ = ["EvaluationMetrics"]


class EvaluationMetrics:
    """Accumulate GAP@k, Hit@1, PERR and mAP over batches of ``(videos, num_classes)`` scores.

    Args:
        num_classes: number of classes ``C`` of every batch.
        top_k: entries kept per video for GAP and mAP (the reference's 20).
        filter_empty_classes: mAP over classes with a positive (True, 2019 reference) or
            over all classes (False, 2017 code and the paper).
        distributed: True gathers over ``group`` in :meth:`compute` (every rank of it must
            call :meth:`compute`; the group must be initialised); False (the default) keeps
            this process's data only, whether or not a process group exists.
        group: the process group of the gather (None: the default group); only with
            ``distributed=True``.
        num_threads: threads for the per-batch work on CPU (None: ``torch.get_num_threads()``);
            results do not depend on it.
        backend: per-batch selection, as :func:`~circlearn.metrics.selection.summarize_batch`
            (None: numba kernels on CPU when installed, else NumPy; torch on other devices).

    >>> m = EvaluationMetrics(num_classes=4, top_k=2)
    >>> P = [[.9, .8, .1, .05], [.2, .7, .6, .1], [.3, .1, .95, .4]]
    >>> Y = [[1, 0, 0, 1], [0, 1, 1, 0], [0, 0, 1, 0]]
    >>> m.accumulate(P[:1], Y[:1])["hit_at_one"]
    1.0
    >>> _ = m.accumulate(P[1:], Y[1:])
    >>> {k: round(v, 5) for k, v in m.compute().items()}
    {'gap': 0.71, 'hit_at_one': 1.0, 'perr': 0.83333, 'map': 0.625, 'num_examples': 3}
    """

    def __init__(self, num_classes: int, top_k: int = 20, *, filter_empty_classes: bool = True,
                 distributed: bool = False, group=None, num_threads: int | None = None,
                 backend: str | None = None):
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
        self.num_classes = num_classes
        self.top_k = check_top_k(top_k)
        self.filter_empty_classes = filter_empty_classes
        if not isinstance(distributed, bool):
            raise ValueError(f"distributed must be True or False, got {distributed!r}")
        if group is not None and not distributed:
            raise ValueError("group is only used with distributed=True (a gather over it); "
                             "pass distributed=True as well, or no group")
        self.distributed = distributed
        self.group = group
        self.num_threads = num_threads
        if backend not in (None, "numba", "numpy", "torch"):
            raise ValueError(f"backend must be 'numba', 'numpy', 'torch' or None, got {backend!r}")
        self.backend = backend
        self.reset()

    def reset(self) -> None:
        """Forget everything accumulated."""
        self._scores: list[np.ndarray] = []
        self._classes: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []
        self._perr: list[np.ndarray] = []
        self._hits = 0
        self._positives = np.zeros(self.num_classes, dtype=np.int64)
        self.num_examples = 0

    def accumulate(self, predictions, labels) -> dict:
        """Add a batch: predictions (B, C) real scores, labels (B, C) 0/1; NumPy arrays or torch
        tensors on any device. Returns this batch's ``hit_at_one``, ``perr``, ``num_examples``."""
        shape = tuple(getattr(predictions, "shape", np.shape(predictions)))
        if len(shape) == 2 and shape[1] != self.num_classes:
            raise ValueError(f"predictions have {shape[1]} classes, expected num_classes="
                             f"{self.num_classes} (shape {shape})")
        threads = self.num_threads if self.num_threads is not None else torch.get_num_threads()
        s = summarize_batch(predictions, labels, self.top_k, num_threads=threads,
                            backend=self.backend)
        self._scores.append(s.scores.ravel())
        self._classes.append(s.classes.ravel())
        self._labels.append(s.labels.ravel())
        self._perr.append(s.perr)
        hits = int(s.hits.sum())
        self._hits += hits
        self._positives += s.positives
        self.num_examples += s.hits.size
        return {"hit_at_one": hits / s.hits.size, "perr": math.fsum(s.perr) / s.perr.size,
                "num_examples": s.hits.size}

    def _local(self) -> tuple[np.ndarray, ...]:
        def cat(parts, dtype):
            return np.concatenate(parts) if parts else np.zeros(0, dtype)
        return (cat(self._scores, np.float32), cat(self._classes, np.int32),
                cat(self._labels, bool), cat(self._perr, np.float64))

    def _gather(self, scores, classes, labels, perr_values):
        """All ranks' entries and PERR values, and the summed counters (same on every rank)."""
        backend = dist.get_backend(self.group)
        device = (torch.device("cuda", torch.cuda.current_device()) if "nccl" in str(backend)
                  else torch.device("cpu"))
        world = dist.get_world_size(self.group)
        counters = torch.as_tensor(np.concatenate([[self._hits, self.num_examples],
                                                   self._positives]), device=device)
        dist.all_reduce(counters, group=self.group)  # int64: exact
        counters = counters.cpu().numpy()
        sizes = torch.tensor([scores.size, perr_values.size], device=device)
        all_sizes = [torch.zeros_like(sizes) for _ in range(world)]
        dist.all_gather(all_sizes, sizes, group=self.group)
        all_sizes = [tuple(int(v) for v in t.cpu()) for t in all_sizes]
        n_max = max(s[0] for s in all_sizes)
        v_max = max(s[1] for s in all_sizes)
        # float64 holds scores (<= float64), class indices and 0/1 labels exactly.
        packed = torch.zeros(3, n_max, dtype=torch.float64, device=device)  # (3, N_max)
        packed[0, :scores.size] = torch.from_numpy(scores.astype(np.float64))
        packed[1, :scores.size] = torch.from_numpy(classes.astype(np.float64))
        packed[2, :scores.size] = torch.from_numpy(labels.astype(np.float64))
        per = torch.zeros(v_max, dtype=torch.float64, device=device)
        per[:perr_values.size] = torch.from_numpy(perr_values)
        all_packed = [torch.empty_like(packed) for _ in range(world)]
        all_per = [torch.empty_like(per) for _ in range(world)]
        dist.all_gather(all_packed, packed, group=self.group)
        dist.all_gather(all_per, per, group=self.group)
        entries = np.concatenate([p[:, :n].cpu().numpy() for p, (n, _) in
                                  zip(all_packed, all_sizes)], axis=1)
        perr_all = np.concatenate([p[:v].cpu().numpy() for p, (_, v) in zip(all_per, all_sizes)])
        return (entries[0], entries[1].astype(np.int64), entries[2] != 0, perr_all,
                int(counters[0]), int(counters[1]), counters[2:])

    def compute(self) -> dict:
        """``{"gap", "hit_at_one", "perr", "map", "num_examples"}`` over everything accumulated
        (with ``distributed=True``: by every rank of the group, over all of them; see the module
        docstring)."""
        scores, classes, labels, perr_values = self._local()
        hits, n, positives = self._hits, self.num_examples, self._positives
        if self.distributed:
            if not (dist.is_available() and dist.is_initialized()):
                raise RuntimeError("EvaluationMetrics(distributed=True) gathers over a "
                                   "torch.distributed process group, and none is initialised "
                                   "(torch.distributed.init_process_group); use "
                                   "distributed=False for this process's data only")
            scores, classes, labels, perr_values, hits, n, positives = self._gather(
                scores, classes, labels, perr_values)
        if n == 0:
            raise ValueError("no examples accumulated: call accumulate() before compute()")
        total = int(positives.sum())
        threads = self.num_threads if self.num_threads is not None else torch.get_num_threads()
        with ThreadPoolExecutor(min(2, threads)) as pool:  # GAP and mAP are independent
            gap_sum = pool.submit(precision_sums, scores, labels)
            aps = pool.submit(class_average_precisions, scores, classes, labels, positives)
            gap = float(gap_sum.result()[0] / total) if total else 0.0
            aps = aps.result()
        return {"gap": gap, "hit_at_one": hits / n, "perr": math.fsum(perr_values) / n,
                "map": reduce_map(aps, positives, self.filter_empty_classes),
                "num_examples": n}
