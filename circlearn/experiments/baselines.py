"""Two reference predictors every experiment is compared with.

Both are computed by circlearn on the same training and evaluation splits as the models and
scored with :func:`circlearn.metrics.gap` (GAP@20):

- **class prior**: every video gets the same scores, the training label frequencies
  ``s_k = n_k / N`` (``n_k`` training videos with label ``k`` out of ``N``). It uses no
  feature at all: the GAP any model must beat to have learned something from the frames.
- **linear on means** (the YouTube-8M starter code's ``LogisticModel`` on video-level
  features): per-class logistic regressions ``σ(W x + b)`` on the **video-level means of the
  dequantized frames** ``x = mean_t dequantize(q_t)`` (the real video-level files hold exactly
  these means), over the concatenated features (``rgb`` then ``audio``). A pooling model that
  does not beat it is not using the frames any better than their average.

Training of the linear model is deterministic and stated once (:data:`LINEAR_PROTOCOL`):
features standardised with the training mean and standard deviation (an affine change of
variables, so the model class is unchanged), loss = mean binary cross-entropy over videos,
summed over classes, ``+ ½ λ ‖W‖²`` (the bias unpenalised), minimised full-batch by L-BFGS
(strong-Wolfe line search) in float64 from ``W = 0`` and ``b = logit`` of the class prior.
The objective is strictly convex in ``W``, so each fit has one optimum. ``λ`` matters (on
the bundled set validate GAP goes from 0.51 at ``λ = 1e-4`` to 0.66 at ``3e-2``), so it is
chosen **on the training split only**: fit on 80 % of the training videos
(a permutation drawn from ``seed``) for each ``λ`` of :data:`L2_GRID`, keep the ``λ`` with
the best GAP on the other 20 %, refit on all training videos. The evaluation split is never
used to choose anything.

The files are read frame-level (``--data`` folders need no video-level copy); a video with no
frame has the mean ``0``. Test records carry no labels: pass ``labels_csv`` (the
``test_labels.csv`` of a generated set, ``VideoId,Labels`` with space-separated label ids)
to score them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from circlearn.data.files import atomic_write, resolve_files
from circlearn.data.yt8m import read_frame_examples, video_mean
from circlearn.metrics import gap, hit_at_one

__all__ = ["baseline_gaps", "record_baselines", "current_protocol", "FittedBaselines", "video_means",
           "read_labels_csv", "class_prior_scores", "fit_linear_means", "select_l2", "L2_GRID",
           "LINEAR_PROTOCOL"]

#: Candidate L2 weights of the linear baseline (chosen on a split of the training videos).
L2_GRID = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)

#: The linear baseline's fixed training protocol (also written into ``results.json``).
LINEAR_PROTOCOL = {"features": "video-level means of dequantized frames, standardised",
                   "loss": "mean BCE over videos, summed over classes, + 0.5*l2*||W||^2",
                   "l2": f"best GAP of {list(L2_GRID)} on a 20% split of train (seeded), "
                         "then refit on all of train",
                   "optimizer": "full-batch L-BFGS (strong Wolfe), float64, max 300 iterations",
                   "init": "W = 0, b = logit(class prior)"}


def current_protocol(saved: dict | None) -> bool:
    """Whether stored baselines (``dataset.json``'s or ``baselines.json``) were computed under
    today's :data:`LINEAR_PROTOCOL`: only those may be reused.

    >>> current_protocol({"protocol": LINEAR_PROTOCOL}), current_protocol({}), current_protocol(None)
    (True, False, False)
    """
    return bool(saved) and saved.get("protocol") == LINEAR_PROTOCOL


def read_labels_csv(path: str | Path) -> dict[str, np.ndarray]:
    """``{video id: label ids (int64)}`` from a ``VideoId,Labels`` file (``test_labels.csv``).

    Raises ``ValueError`` naming the file and line of a malformed row.
    """
    out: dict[str, np.ndarray] = {}
    with open(path, newline="") as f:
        rows = csv.reader(f)
        header = next(rows, None)
        if header is None or [h.strip() for h in header[:2]] != ["VideoId", "Labels"]:
            raise ValueError(f"{path}: line 1: expected the header 'VideoId,Labels', got {header}")
        for line, row in enumerate(rows, start=2):
            if not row:
                continue
            if len(row) != 2:
                raise ValueError(f"{path}: line {line}: expected 2 fields, got {row}")
            try:
                out[row[0]] = np.array([int(x) for x in row[1].split()], dtype=np.int64)
            except ValueError:
                raise ValueError(f"{path}: line {line}: labels must be integers, got "
                                 f"{row[1]!r}") from None
    return out


def video_means(pattern: str, *, feature_sizes: Sequence[int], num_classes: int,
                feature_names: Sequence[str] = ("rgb", "audio"),
                labels: dict[str, np.ndarray] | None = None
                ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Ids, means ``X (videos, sum(feature_sizes))`` float64 and labels ``Y (videos, classes)``.

    ``X[i]`` is the mean over frames of the dequantized features of video ``i`` (``0`` for a
    video without frames). Labels come from the records, or from ``labels`` (by id) when
    given; a video missing from ``labels`` is an error.
    """
    dims = [int(d) for d in feature_sizes]
    ids, rows, targets = [], [], []
    for path in resolve_files(pattern):
        for ex in read_frame_examples(path, tuple(feature_names), dims, num_classes):
            # dequantize is affine, so the mean of dequantized frames = dequantize(mean q)
            parts = [video_mean(ex.features[name], "mean") for name in feature_names]
            if labels is not None:
                if ex.id not in labels:
                    raise ValueError(f"{path}: video {ex.id!r} has no row in the labels file")
                lab = labels[ex.id]
            else:
                lab = ex.labels
            if lab.size and (lab.min() < 0 or lab.max() >= num_classes):
                raise ValueError(f"{path}: video {ex.id!r}: label ids {lab.tolist()} outside "
                                 f"[0, {num_classes})")
            ids.append(ex.id)
            rows.append(np.concatenate(parts))
            targets.append(lab)
    x = np.stack(rows) if rows else np.zeros((0, sum(dims)))  # (N, D)
    y = np.zeros((len(ids), num_classes))  # (N, C)
    for i, lab in enumerate(targets):
        y[i, lab] = 1.0
    return ids, x, y


def class_prior_scores(y_train: np.ndarray) -> np.ndarray:
    """Training label frequencies ``(classes,)``: ``s_k = n_k / N``.

    >>> class_prior_scores(np.array([[1, 0, 1], [1, 1, 0]])).tolist()
    [1.0, 0.5, 0.5]
    """
    if len(y_train) == 0:
        raise ValueError("class prior: the training split has no video")
    return np.asarray(y_train, dtype=np.float64).mean(axis=0)


def fit_linear_means(x: np.ndarray, y: np.ndarray, *, l2: float, max_iter: int = 300,
                     init: tuple[np.ndarray, np.ndarray] | None = None):
    """Fit the per-class logistic model on ``x (N, D)``, ``y (N, C)``; returns ``predict``.

    ``predict(x_new)`` gives probabilities ``(M, C)``; ``predict.params`` is ``(W (D, C),
    b (C,))`` in standardised units, which ``init`` accepts to warm-start another fit (the
    optimum is the same, only reached in fewer iterations). See :data:`LINEAR_PROTOCOL`.
    """
    import torch

    x = np.asarray(x, dtype=np.float64)
    mu, sd = x.mean(axis=0), x.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)  # a constant feature stays 0 after standardising
    prior = np.clip(class_prior_scores(y), 1e-4, 1 - 1e-4)
    xt = torch.from_numpy((x - mu) / sd)  # (N, D)
    yt = torch.from_numpy(np.asarray(y, dtype=np.float64))  # (N, C)
    if init is None:
        init = (np.zeros((x.shape[1], y.shape[1])), np.log(prior / (1 - prior)))
    w = torch.tensor(init[0], dtype=torch.float64, requires_grad=True)  # (D, C)
    b = torch.tensor(init[1], dtype=torch.float64, requires_grad=True)  # (C,)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, history_size=20,
                            tolerance_grad=1e-9, tolerance_change=1e-12,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logits = xt @ w + b  # (N, C)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, yt, reduction="sum")
        loss = bce / len(xt) + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: one thread avoids BLAS contention (restored)
    try:
        opt.step(closure)
    finally:
        torch.set_num_threads(threads)
    w_fit, b_fit = w.detach().numpy().copy(), b.detach().numpy().copy()

    def predict(x_new: np.ndarray) -> np.ndarray:
        z = ((np.asarray(x_new, dtype=np.float64) - mu) / sd) @ w_fit + b_fit  # (M, C)
        return 1.0 / (1.0 + np.exp(-z))

    predict.params = (w_fit, b_fit)
    return predict


def select_l2(x: np.ndarray, y: np.ndarray, *, seed: int = 0, grid: Sequence[float] = L2_GRID,
              top_k: int = 20) -> float:
    """The ``λ`` of ``grid`` with the best GAP on a seeded 20 % split of ``(x, y)``.

    The fits run from the largest ``λ`` down, each warm-started from the previous optimum;
    ties go to the larger ``λ`` (the simpler model). Needs at least 5 videos.
    """
    n = len(x)
    if n < 5:
        raise ValueError(f"choosing the linear baseline's L2 weight needs >= 5 training videos, "
                         f"got {n}")
    order = np.random.default_rng(seed).permutation(n)
    held, fit = order[:n // 5], order[n // 5:]
    best, best_gap, init = None, -np.inf, None
    for l2 in sorted(grid, reverse=True):
        predict = fit_linear_means(x[fit], y[fit], l2=l2, init=init)
        init = predict.params
        g = gap(predict(x[held]), y[held], top_k=top_k) if y[held].any() else 0.0
        if g > best_gap:
            best, best_gap = float(l2), g
    return best


class FittedBaselines:
    """Both baselines fitted on one training split; :meth:`gaps` (GAP) and :meth:`scores`
    (GAP and Hit@1) score any split."""

    def __init__(self, train_pattern: str, *, feature_sizes: Sequence[int], num_classes: int,
                 seed: int = 0, feature_names: Sequence[str] = ("rgb", "audio")):
        self.kw = dict(feature_sizes=feature_sizes, num_classes=num_classes,
                       feature_names=feature_names)
        _, x_train, y_train = video_means(train_pattern, **self.kw)
        self.prior = class_prior_scores(y_train)  # (C,)
        self.l2 = select_l2(x_train, y_train, seed=seed)
        self.predict = fit_linear_means(x_train, y_train, l2=self.l2)

    def scores(self, eval_pattern: str, labels_csv: str | Path | None = None,
               top_k: int = 20) -> dict[str, dict[str, float]]:
        """``{"gap": {"class_prior", "linear_means"}, "hit_at_one": {…}}`` on
        ``eval_pattern`` (Hit@1: the share of videos whose top score is a true label)."""
        truth = read_labels_csv(labels_csv) if labels_csv is not None else None
        _, x_eval, y_eval = video_means(eval_pattern, labels=truth, **self.kw)
        if len(x_eval) == 0:
            raise ValueError(f"{eval_pattern}: no video to evaluate")
        predictions = {"class_prior": np.broadcast_to(self.prior, y_eval.shape),  # (M, C)
                       "linear_means": self.predict(x_eval)}
        return {"gap": {k: float(gap(p, y_eval, top_k=top_k)) for k, p in predictions.items()},
                "hit_at_one": {k: float(hit_at_one(p, y_eval)) for k, p in predictions.items()}}

    def gaps(self, eval_pattern: str, labels_csv: str | Path | None = None,
             top_k: int = 20) -> dict[str, float]:
        """``{"class_prior": GAP, "linear_means": GAP}`` on ``eval_pattern``."""
        return self.scores(eval_pattern, labels_csv, top_k)["gap"]


def baseline_gaps(train_pattern: str, eval_pattern: str, *, feature_sizes: Sequence[int],
                  num_classes: int, labels_csv: str | Path | None = None, seed: int = 0,
                  feature_names: Sequence[str] = ("rgb", "audio"), top_k: int = 20
                  ) -> dict[str, float]:
    """``{"class_prior": GAP, "linear_means": GAP}`` on ``eval_pattern``.

    Both predictors are fitted on ``train_pattern`` (frame-level files). ``labels_csv`` gives
    the evaluation labels by video id (for the unlabelled test split). ``seed`` draws the
    training-split permutation that chooses the linear model's L2 weight (:func:`select_l2`);
    everything else is deterministic. To score several splits, fit once with
    :class:`FittedBaselines`.
    """
    fitted = FittedBaselines(train_pattern, feature_sizes=feature_sizes, num_classes=num_classes,
                             seed=seed, feature_names=feature_names)
    return fitted.gaps(eval_pattern, labels_csv, top_k=top_k)


def record_baselines(root, *, seed: int = 0) -> dict:
    """Compute the set's baseline GAPs and record them in its ``dataset.json``.

    ``{"validate": {"class_prior", "linear_means"}, "test": {…}, "l2": λ, "seed": seed,
    "protocol": LINEAR_PROTOCOL}``
    from one :class:`FittedBaselines` fitted on train (test scored with ``test_labels.csv``);
    a split the set lacks is left out. Returns that dict.
    """
    root = Path(root)
    meta_path = root / "dataset.json"
    meta = json.loads(meta_path.read_text())
    names = tuple(meta.get("frame_features", ("rgb", "audio")))  # as resolve_data reads them
    fitted = FittedBaselines(str(root / "frame" / "train*.tfrecord"),
                             feature_sizes=meta["feature_sizes"], num_classes=meta["num_classes"],
                             seed=seed, feature_names=names)  # one fit scores both splits
    out: dict = {}
    if "validate" in meta["splits"]:
        out["validate"] = fitted.gaps(str(root / "frame" / "validate*.tfrecord"))
    if "test" in meta["splits"]:
        out["test"] = fitted.gaps(str(root / "frame" / "test*.tfrecord"),
                                  labels_csv=root / "test_labels.csv")
    out["l2"] = fitted.l2
    out["protocol"] = LINEAR_PROTOCOL  # a later protocol change does not reuse these numbers
    out["seed"] = seed
    meta["baselines"] = out
    with atomic_write(meta_path, "w") as f:
        f.write(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return out
