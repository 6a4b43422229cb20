"""The synthetic generator's two generative models (documented in :mod:`circlearn.data.synth`).

``V1`` draws one video at a time (steps 1–6 of version 1). ``V2`` draws a whole split's
per-video variables at once (verticals, labels, lengths, segments) and then the frames of
``CHUNK`` videos per NumPy call. Both take every random draw from the one generator they are
given, in a fixed order, so a seed gives byte-identical files. ``cfg`` is a
:class:`circlearn.data.synth.SynthConfig`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .yt8m import MAX_QUANTIZED_VALUE, MIN_QUANTIZED_VALUE, quantize, video_mean

__all__ = ["V1", "V2", "CHUNK", "log_uniform_lengths", "gumbel_top_k", "quantize32"]

CHUNK = 64  # videos whose frames one V2 call draws (fixed: it is part of the draw order)


class V1:
    """Version 1: independent labels, uniform lengths, one video at a time."""

    def __init__(self, rng: np.random.Generator, cfg):
        self.rng, self.cfg = rng, cfg
        self.dirs = {"rgb": rng.normal(size=(cfg.num_classes, cfg.rgb_size)),
                     "audio": rng.normal(size=(cfg.num_classes, cfg.audio_size))}
        w = (np.arange(cfg.num_classes) + 1.0) ** -cfg.zipf
        self.p = w / w.sum()
        self.verticals = np.arange(cfg.num_classes) % 8  # names only (vocabulary.csv)

    def _segment(self, t: int) -> slice:
        frac = self.rng.uniform(self.cfg.evidence_min, self.cfg.evidence_max)
        length = max(1, int(np.ceil(frac * t)))
        start = int(self.rng.integers(0, t - length + 1))
        return slice(start, start + length)

    def _video(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        cfg, rng = self.cfg, self.rng
        n_labels = min(1 + int(rng.poisson(cfg.labels_per_video - 1)), cfg.max_labels)
        labels = np.sort(rng.choice(cfg.num_classes, size=n_labels, replace=False, p=self.p))
        t = int(rng.integers(cfg.min_frames, cfg.max_frames + 1))
        events = [(int(k), 1.0, self._segment(t)) for k in labels]
        others = np.setdiff1d(np.arange(cfg.num_classes), labels)
        for _ in range(n_labels):
            if others.size and rng.random() < cfg.distractor:
                events.append((int(rng.choice(others)), 0.5, self._segment(t)))
        feats = {}
        for name, amp in (("rgb", cfg.signal), ("audio", cfg.signal * cfg.audio_signal)):
            d = self.dirs[name].shape[1]
            x = rng.normal(0.0, cfg.noise, size=(t, d)) + rng.normal(0.0, cfg.video_noise, size=d)
            for k, scale, seg in events:
                x[seg] += (amp * scale) * self.dirs[name][k]  # (len, D)
            feats[name] = quantize(x)  # (T, D) uint8
        return labels.astype(np.int64), feats

    def videos(self, n: int) -> Iterator[tuple[np.ndarray, dict, dict]]:
        """``n`` videos: labels, frames ``{name: (T, D) uint8}``, means ``{mean_name: (D,)}``."""
        for _ in range(n):
            labels, feats = self._video()
            means = {f"mean_{k}": video_mean(v).astype(np.float32) for k, v in feats.items()}
            yield labels, feats, means


def quantize32(x: np.ndarray) -> np.ndarray:
    """:func:`circlearn.data.yt8m.quantize` computed in place in float32 (``x`` is consumed).

    ``rint((clip(x, -2, 2) + 2) · 255/4)``; float32 rounding can move a value lying within
    ~1e-5 of a half-integer step to the neighbouring byte (the test bounds it: at most one
    step, rarely).
    """
    np.clip(x, MIN_QUANTIZED_VALUE, MAX_QUANTIZED_VALUE, out=x)
    x += np.float32(-MIN_QUANTIZED_VALUE)
    x *= np.float32(255.0 / (MAX_QUANTIZED_VALUE - MIN_QUANTIZED_VALUE))
    np.rint(x, out=x)
    return x.astype(np.uint8)


def log_uniform_lengths(rng: np.random.Generator, n: int, lo: int, hi: int, cap: int) -> np.ndarray:
    """``min(floor(exp(U[ln lo, ln(hi + 1)))), cap)``: durations in seconds, capped frames.

    >>> t = log_uniform_lengths(np.random.default_rng(0), 10_000, 120, 500, 300)
    >>> int(t.min()) >= 120 and int(t.max()) == 300
    True
    """
    d = np.floor(np.exp(rng.uniform(np.log(lo), np.log(hi + 1), size=n))).astype(np.int64)
    return np.minimum(np.clip(d, lo, hi), cap)


def gumbel_top_k(rng: np.random.Generator, logw: np.ndarray, k: np.ndarray) -> list[np.ndarray]:
    """Per row ``i``, ``k[i]`` distinct columns drawn without replacement ∝ ``exp(logw[i])``.

    The Gumbel-top-k trick: the ``k`` largest ``logw + Gumbel`` are distributed as ``k``
    sequential draws without replacement (Plackett–Luce). ``logw``: (N, K); returns sorted ids.
    """
    keys = logw + rng.gumbel(size=logw.shape)  # (N, K)
    order = np.argsort(-keys, axis=1, kind="stable")
    return [np.sort(order[i, :k[i]]) for i in range(logw.shape[0])]


class V2:
    """Version 2: verticals, log-uniform lengths, signed segments, vectorised per chunk."""

    def __init__(self, rng: np.random.Generator, cfg):
        self.rng, self.cfg = rng, cfg
        k, v = cfg.num_classes, cfg.num_verticals
        self.dirs = {name: self._directions(rng, k, size, cfg.concepts)
                     for name, size in (("rgb", cfg.rgb_size), ("audio", cfg.audio_size))}
        self.looks = {"rgb": rng.standard_normal((v, cfg.rgb_size), dtype=np.float32),
                      "audio": rng.standard_normal((v, cfg.audio_size), dtype=np.float32)}
        w = (np.arange(k) + 1.0) ** -cfg.zipf
        self.p = w / w.sum()  # (K,) class prior
        vw = (np.arange(v) + 1.0) ** -cfg.vertical_zipf
        # every vertical gets at least one class; the rest are assigned ∝ vertical size
        extra = rng.choice(v, size=k - v, p=vw / vw.sum()) if k > v else np.zeros(0, int)
        self.verticals = rng.permutation(np.concatenate([np.arange(min(v, k)), extra]))
        self.vertical_p = np.bincount(self.verticals, weights=self.p, minlength=v)  # (V,)

    @staticmethod
    def _directions(rng: np.random.Generator, k: int, d: int, r: int) -> np.ndarray:
        """``(K, D)`` class directions: i.i.d. ``N(0, I)`` rows (``r = 0``), or ``u_k = A z_k``
        with ``A ~ N(0, I)`` of shape ``(D, r)`` and ``z_k ~ N(0, I_r / r)`` (rank ``r``)."""
        if r == 0:
            return rng.standard_normal((k, d), dtype=np.float32)
        a = rng.standard_normal((d, r), dtype=np.float32)
        z = rng.standard_normal((k, r), dtype=np.float32) / np.float32(np.sqrt(r))
        return z @ a.T  # (K, D)

    def _labels(self, n: int) -> tuple[np.ndarray, list[np.ndarray]]:
        cfg, rng = self.cfg, self.rng
        vert = rng.choice(cfg.num_verticals, size=n, p=self.vertical_p / self.vertical_p.sum())
        counts = np.minimum(1 + rng.poisson(cfg.labels_per_video - 1, size=n), cfg.max_labels)
        inside = self.verticals[None, :] == vert[:, None]  # (N, K)
        own = self.p[None, :] * inside / self.vertical_p[vert][:, None]
        w = cfg.vertical_purity * own + (1 - cfg.vertical_purity) * self.p[None, :]
        with np.errstate(divide="ignore"):
            labels = gumbel_top_k(rng, np.log(w), counts)
        return vert, labels

    def _events(self, labels: list[np.ndarray], lengths: np.ndarray) -> list[np.ndarray]:
        """Per video the rows ``(class, amplitude, start, length)`` of its segments."""
        cfg, rng = self.cfg, self.rng
        out = []
        for y, t in zip(labels, lengths):
            n_d = int((rng.random(y.size) < cfg.distractor).sum())
            others = np.setdiff1d(np.arange(cfg.num_classes), y)
            d = rng.choice(others, size=min(n_d, others.size), replace=False)
            cls = np.concatenate([y, d])
            amp = np.concatenate([np.ones(y.size), np.full(d.size, cfg.distractor_amplitude)])
            amp *= np.where(rng.random(cls.size) < cfg.flip, -1.0, 1.0)
            frac = rng.uniform(cfg.evidence_min, cfg.evidence_max, size=cls.size)
            seg = np.maximum(1, np.ceil(frac * t)).astype(np.int64)
            start = np.floor(rng.random(cls.size) * (t - seg + 1)).astype(np.int64)
            out.append(np.stack([cls, amp, start, seg], axis=1))
        return out

    def _frames(self, vert, lengths, events) -> list[dict[str, np.ndarray]]:
        cfg, rng = self.cfg, self.rng
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        feats = {}
        for name, amp in (("rgb", cfg.signal), ("audio", cfg.signal * cfg.audio_signal)):
            d = self.dirs[name].shape[1]
            x = rng.standard_normal((int(offsets[-1]), d), dtype=np.float32)  # (ΣT, D)
            x *= cfg.noise
            base = rng.standard_normal((lengths.size, d), dtype=np.float32) * cfg.video_noise
            base += cfg.vertical_signal * self.looks[name][vert]  # (N, D)
            for i in range(lengths.size):
                x[offsets[i]:offsets[i + 1]] += base[i]  # (T_i, D) += (D,)
            for i, ev in enumerate(events):
                for cls, a, start, seg in ev:
                    lo = offsets[i] + int(start)
                    x[lo:lo + int(seg)] += np.float32(amp * a) * self.dirs[name][int(cls)]
            feats[name] = quantize32(x)  # (ΣT, D) uint8
        return [{k: v[offsets[i]:offsets[i + 1]] for k, v in feats.items()}
                for i in range(lengths.size)]

    def videos(self, n: int) -> Iterator[tuple[np.ndarray, dict, dict]]:
        """As :meth:`V1.videos`."""
        cfg = self.cfg
        vert, labels = self._labels(n)
        lengths = log_uniform_lengths(self.rng, n, cfg.min_frames, cfg.max_duration,
                                      cfg.max_frames)
        events = self._events(labels, lengths)
        for lo in range(0, n, CHUNK):
            hi = min(n, lo + CHUNK)
            frames = self._frames(vert[lo:hi], lengths[lo:hi], events[lo:hi])
            for i in range(lo, hi):
                feats = frames[i - lo]
                means = {f"mean_{k}": video_mean(v, "sum").astype(np.float32)  # exact int sums
                         for k, v in feats.items()}
                yield labels[i].astype(np.int64), feats, means
