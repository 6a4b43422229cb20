"""YouTube-8M records: schemas, readers, writers, (de)quantisation — no TensorFlow.

Schemas (``yt8m.md`` §1.5):

* **video level** — ``tf.train.Example`` with ``id`` (bytes; ``video_id`` in the 2017 files),
  ``labels`` (int64 list, absent or empty in the test split) and float lists ``mean_rgb`` (1024)
  and ``mean_audio`` (128): the means of the *dequantised* frame features.
* **frame level** — ``tf.train.SequenceExample`` with context ``id``/``video_id`` and
  ``labels``, and feature lists ``rgb`` / ``audio``: one bytes entry of 1024 / 128 ``uint8``
  per second of video.

Readers yield :class:`VideoExample`; frame features are ``uint8`` arrays ``(frames, dim)``,
video features ``float32`` arrays ``(dim,)``. Unknown extra features are ignored; a missing
requested feature, a frame of the wrong size or a label outside ``[0, num_classes)`` is a
``ValueError`` naming the file and the record number.

Fast path: in a feature list every frame is framed by the same header bytes (Feature tag and
length, BytesList tag and length, value tag and length), because every frame has the same size.
After checking that layout for the whole list at once, the frames are one strided ``uint8``
view of the record — no per-frame Python work. Lists with any other layout go through the
generic per-frame decoder (:func:`decode_frame_example` with ``fast=False``, the slow twin).

Quantisation (the feature extractor) and dequantisation (the starter code), with ±2 bounds
(``MAX_QUANTIZED_VALUE``, ``MIN_QUANTIZED_VALUE``; the model's frame preparation,
:mod:`circlearn.data.frames`, dequantizes with :func:`dequantize`)::

    quantize(x)   = round((clip(x, -2, 2) + 2) * 255 / 4)       (round half to even)
    dequantize(b) = b * 4 / 255 + 4 / 512 - 2 = b * DEQUANTIZE_SCALE + DEQUANTIZE_BIAS

A video-level feature is the mean over a video's frames of the dequantised frame features
(:func:`video_mean`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import protowire as pw
from .tfrecord import read_records, write_records

__all__ = ["VideoExample", "FEATURE_SIZES", "read_frame_examples", "read_video_examples",
           "write_frame_examples", "write_video_examples", "decode_frame_example",
           "decode_video_example", "encode_frame_example", "encode_video_example",
           "MAX_QUANTIZED_VALUE", "MIN_QUANTIZED_VALUE", "DEQUANTIZE_SCALE", "DEQUANTIZE_BIAS",
           "dequantize", "quantize", "video_mean"]

#: Known feature sizes (official data); other names need explicit sizes for empty videos.
FEATURE_SIZES = {"rgb": 1024, "audio": 128, "mean_rgb": 1024, "mean_audio": 128,
                 "inc3": 1024, "mean_inc3": 1024}
ID_KEYS = ("id", "video_id")


@dataclass
class VideoExample:
    """One video: its id, its label ids and its features by name."""

    id: str
    labels: np.ndarray  # (labels,) int64
    features: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        """Frames of a frame-level example (the shortest feature list)."""
        return min((v.shape[0] for v in self.features.values() if v.ndim == 2), default=0)


#: The range of the quantised features: bytes 0…255 cover [-2, 2].
MAX_QUANTIZED_VALUE = 2.0
MIN_QUANTIZED_VALUE = -2.0
#: ``dequantize(q) = q · DEQUANTIZE_SCALE + DEQUANTIZE_BIAS`` for that range: ``4/255`` and the
#: half-bin offset included, ``4/512 − 2 = −1.9921875``.
DEQUANTIZE_SCALE = (MAX_QUANTIZED_VALUE - MIN_QUANTIZED_VALUE) / 255.0
DEQUANTIZE_BIAS = (MAX_QUANTIZED_VALUE - MIN_QUANTIZED_VALUE) / 512.0 + MIN_QUANTIZED_VALUE


def dequantize(x, max_quantized_value: float = MAX_QUANTIZED_VALUE,
               min_quantized_value: float = MIN_QUANTIZED_VALUE, dtype=None):
    """Bytes → features: ``x * range / 255 + range / 512 + min`` with ``range = max - min``.

    The starter code's ``utils.Dequantize`` (``yt8m.md`` §1.6), half-bin offset included:
    ``q · 4/255 − 1.9921875`` for the default range. Works on NumPy arrays (returns float32)
    and torch tensors (returns ``dtype``, default: torch's default float dtype).

    >>> dequantize(np.array([0, 255], dtype=np.uint8)).tolist()
    [-1.9921875, 2.0078125]
    """
    rng = max_quantized_value - min_quantized_value
    scale, bias = rng / 255.0, rng / 512.0 + min_quantized_value
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return (np.asarray(x, dtype=np.float32) * np.float32(scale) + np.float32(bias))
    import torch  # only for tensors: reading and writing records does not load torch

    return x.to(dtype or torch.get_default_dtype()) * scale + bias


def quantize(x, max_quantized_value: float = MAX_QUANTIZED_VALUE,
             min_quantized_value: float = MIN_QUANTIZED_VALUE) -> np.ndarray:
    """Features → ``uint8`` as the feature extractor does: clip, scale to [0, 255], round.

    >>> quantize(np.array([-3.0, 0.0, 2.0])).tolist()
    [0, 128, 255]
    """
    x = np.clip(np.asarray(x, dtype=np.float64), min_quantized_value, max_quantized_value)
    scaled = (x - min_quantized_value) * (255.0 / (max_quantized_value - min_quantized_value))
    return np.rint(scaled).astype(np.uint8)


def video_mean(q: np.ndarray, method: str = "frames") -> np.ndarray:
    """One video's video-level feature: the mean over frames of ``dequantize(q)``.

    ``q``: the video's frames ``(frames, dim)`` ``uint8``. Returns float64 ``(dim,)``; zeros for a
    video without frames. ``method`` picks one of three roundings of the same value (they
    differ by float rounding only, ~1e-7), each fixed by the data computed with it:

    * ``"frames"``: every frame dequantised in float32 (as :func:`dequantize`), then averaged
      in float64 — the definition; the video-level files of the version 1 synthetic data (the
      bundled samples) and of :mod:`circlearn.data.sequences`.
    * ``"sum"``: the exact integer sum through the affine map,
      ``Σ_t q_t · (DEQUANTIZE_SCALE / T) + DEQUANTIZE_BIAS`` — no float copy of the frames;
      the version 2 synthetic data.
    * ``"mean"``: the mean byte through the affine map,
      ``(Σ_t q_t / T) · DEQUANTIZE_SCALE + DEQUANTIZE_BIAS`` — the linear baseline's inputs
      (:func:`circlearn.experiments.baselines.video_means`).

    >>> q = np.array([[0, 255], [255, 255]], dtype=np.uint8)
    >>> [video_mean(q, m).tolist() for m in ("frames", "sum", "mean")]
    [[0.0078125, 2.0078125], [0.0078125, 2.0078125], [0.0078125, 2.0078125]]
    """
    if method not in ("frames", "sum", "mean"):
        raise ValueError(f"unknown method {method!r}; valid: frames, sum, mean")
    if q.shape[0] == 0:
        return np.zeros(q.shape[1])
    if method == "frames":
        return dequantize(q).astype(np.float64).mean(axis=0)
    if method == "sum":
        return (q.sum(axis=0, dtype=np.int64) * (DEQUANTIZE_SCALE / q.shape[0])
                + DEQUANTIZE_BIAS)
    return q.mean(axis=0, dtype=np.float64) * DEQUANTIZE_SCALE + DEQUANTIZE_BIAS


# ----------------------------------------------------------------------------- decoding

def _id_and_labels(buf, fmap: dict, num_classes: int | None) -> tuple[str, np.ndarray]:
    for key in ID_KEYS:
        if key in fmap:
            kind, value = pw.decode_feature(buf, *fmap[key])
            if kind != "bytes" or len(value) != 1:
                raise ValueError(f"feature {key!r} must hold one bytes value")
            a, b = value[0]
            vid = bytes(buf[a:b]).decode("utf-8", errors="backslashreplace")
            break
    else:
        raise ValueError(f"missing required feature 'id' (or 'video_id'); found {sorted(fmap)}")
    labels = np.zeros(0, dtype=np.int64)
    if "labels" in fmap:
        kind, value = pw.decode_feature(buf, *fmap["labels"])
        if kind not in ("int64", None):
            raise ValueError(f"feature 'labels' of video {vid!r} must be an int64 list, got {kind}")
        labels = value if kind == "int64" else labels
    if num_classes is not None and labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = int(labels[(labels < 0) | (labels >= num_classes)][0])
        raise ValueError(f"video {vid!r} has label {bad} outside [0, {num_classes})")
    return vid, labels


def _frames_fast(buf, start: int, end: int) -> np.ndarray | None:
    """Frames of a FeatureList body as a strided ``(n, dim)`` view, or None if irregular."""
    if start == end:
        return None
    try:
        if buf[start] != 0x0A:
            return None
        lf, p = pw.read_varint(buf, start + 1)
        if buf[p] != 0x0A:
            return None
        lb, q = pw.read_varint(buf, p + 1)
        if buf[q] != 0x0A:
            return None
        dim, h_end = pw.read_varint(buf, q + 1)
    except (IndexError, pw.ProtoError):
        return None
    if q + lb != p + lf or h_end + dim != q + lb:
        return None  # Feature or BytesList holds more than one value
    h = h_end - start
    stride = h + dim
    if (end - start) % stride:
        return None
    n = (end - start) // stride
    rows = np.frombuffer(buf, dtype=np.uint8, count=end - start, offset=start).reshape(n, stride)
    if n > 1 and not (rows[1:, :h] == rows[0, :h]).all():
        return None
    return rows[:, h:]  # (n, dim) view


def _frames_generic(buf, start: int, end: int, name: str, dim: int | None) -> np.ndarray:
    frames = []
    for fnum, wire, a, b in pw.iter_fields(buf, start, end):
        if fnum != 1 or wire != 2:
            continue
        kind, value = pw.decode_feature(buf, a, b)
        if kind != "bytes" or len(value) != 1:
            raise ValueError(f"frame {len(frames)} of {name!r} must be one bytes value, "
                             f"got {kind} with {0 if value is None else len(value)} values")
        x, y = value[0]
        frames.append(np.frombuffer(buf, dtype=np.uint8, count=y - x, offset=x))
    if not frames:
        return np.zeros((0, dim or 0), dtype=np.uint8)
    sizes = {f.size for f in frames}
    if len(sizes) > 1:
        raise ValueError(f"frames of {name!r} have different sizes {sorted(sizes)}")
    return np.stack(frames)


def decode_frame_example(payload, feature_names: Sequence[str] = ("rgb", "audio"),
                         feature_sizes: Sequence[int] | None = None,
                         num_classes: int | None = None, fast: bool = True,
                         copy: bool = True) -> VideoExample:
    """Decode a serialized frame-level ``SequenceExample``.

    ``feature_sizes`` (default: :data:`FEATURE_SIZES`) are checked against each frame.
    ``fast=False`` forces the generic per-frame decoder; ``copy=False`` returns read-only views
    into ``payload``.
    """
    buf = payload
    context, lists = (0, 0), (0, 0)
    for fnum, wire, a, b in pw.iter_fields(buf, 0, len(buf)):
        if wire == 2 and fnum == 1:
            context = (a, b)
        elif wire == 2 and fnum == 2:
            lists = (a, b)
    vid, labels = _id_and_labels(buf, pw.parse_map(buf, *context), num_classes)
    fl = pw.parse_map(buf, *lists)
    sizes = _sizes(feature_names, feature_sizes)
    features = {}
    for name, dim in zip(feature_names, sizes):
        if name not in fl:
            raise ValueError(f"video {vid!r} misses feature list {name!r}; found {sorted(fl)}")
        frames = _frames_fast(buf, *fl[name]) if fast else None
        if frames is None:
            frames = _frames_generic(buf, *fl[name], name, dim)
        if frames.shape[0] == 0:
            frames = np.zeros((0, dim or 0), dtype=np.uint8)
        elif dim is not None and frames.shape[1] != dim:
            raise ValueError(f"video {vid!r}: wrong feature dimension for {name!r}: frames have "
                             f"{frames.shape[1]} values, expected {dim}")
        features[name] = np.ascontiguousarray(frames) if copy else frames
    return VideoExample(vid, labels, features)


def decode_video_example(payload, feature_names: Sequence[str] = ("mean_rgb", "mean_audio"),
                         feature_sizes: Sequence[int] | None = None,
                         num_classes: int | None = None) -> VideoExample:
    """Decode a serialized video-level ``Example``; features are ``float32 (dim,)``."""
    buf = payload
    feats = (0, 0)
    for fnum, wire, a, b in pw.iter_fields(buf, 0, len(buf)):
        if wire == 2 and fnum == 1:
            feats = (a, b)
    fmap = pw.parse_map(buf, *feats)
    vid, labels = _id_and_labels(buf, fmap, num_classes)
    features = {}
    for name, dim in zip(feature_names, _sizes(feature_names, feature_sizes)):
        if name not in fmap:
            raise ValueError(f"video {vid!r} misses feature {name!r}; found {sorted(fmap)}")
        kind, value = pw.decode_feature(buf, *fmap[name])
        if kind != "float":
            raise ValueError(f"video {vid!r}: feature {name!r} must be a float list, got {kind}")
        if dim is not None and value.size != dim:
            raise ValueError(f"video {vid!r}: wrong feature dimension for {name!r}: "
                             f"{value.size} values, expected {dim}")
        features[name] = value
    return VideoExample(vid, labels, features)


def _sizes(names: Sequence[str], sizes: Sequence[int] | None) -> list[int | None]:
    if isinstance(names, str):
        raise ValueError(f"feature_names must be a sequence of names, got the string {names!r}")
    if sizes is None:
        return [FEATURE_SIZES.get(n) for n in names]
    if len(sizes) != len(names):
        raise ValueError(f"{len(names)} feature names {list(names)} but {len(sizes)} sizes")
    return [None if s is None else int(s) for s in sizes]


def _read(path, decode, verify: bool, kwargs) -> Iterator[VideoExample]:
    for i, payload in enumerate(read_records(path, verify=verify)):
        try:
            yield decode(payload, **kwargs)
        except ValueError as exc:
            raise ValueError(f"{path}: record {i}: {exc}") from None


def read_frame_examples(path, feature_names: Sequence[str] = ("rgb", "audio"),
                        feature_sizes: Sequence[int] | None = None,
                        num_classes: int | None = None, verify: bool = True
                        ) -> Iterator[VideoExample]:
    """Yield the frame-level videos of a TFRecord file (``uint8 (frames, dim)`` features)."""
    kw = dict(feature_names=feature_names, feature_sizes=feature_sizes, num_classes=num_classes)
    return _read(path, decode_frame_example, verify, kw)


def read_video_examples(path, feature_names: Sequence[str] = ("mean_rgb", "mean_audio"),
                        feature_sizes: Sequence[int] | None = None,
                        num_classes: int | None = None, verify: bool = True
                        ) -> Iterator[VideoExample]:
    """Yield the video-level videos of a TFRecord file (``float32 (dim,)`` features)."""
    kw = dict(feature_names=feature_names, feature_sizes=feature_sizes, num_classes=num_classes)
    return _read(path, decode_video_example, verify, kw)


# ----------------------------------------------------------------------------- encoding

def _context(ex: VideoExample, id_key: str, with_labels: bool) -> dict[str, bytes]:
    if id_key not in ID_KEYS:
        raise ValueError(f"id_key must be one of {ID_KEYS}, got {id_key!r}")
    ctx = {id_key: pw.encode_feature("bytes", [str(ex.id).encode()])}
    if with_labels:
        ctx["labels"] = pw.encode_feature("int64", np.asarray(ex.labels, dtype=np.int64))
    return ctx


def _frame_list(name: str, frames: np.ndarray) -> bytes:
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 2:
        raise ValueError(f"frame feature {name!r} must be uint8 (frames, dim), "
                         f"got {frames.dtype} {frames.shape}")
    n, dim = frames.shape
    if n == 0:
        return b""
    value = pw.varint(1 << 3 | 2) + pw.varint(dim)
    bytes_list = pw.varint(1 << 3 | 2) + pw.varint(len(value) + dim) + value
    header = pw.varint(1 << 3 | 2) + pw.varint(len(bytes_list) + dim) + bytes_list
    h = len(header)
    rows = np.empty((n, h + dim), dtype=np.uint8)  # (n, header + dim)
    rows[:, :h] = np.frombuffer(header, dtype=np.uint8)
    rows[:, h:] = frames
    return rows.tobytes()


def encode_frame_example(ex: VideoExample, id_key: str = "id", with_labels: bool = True) -> bytes:
    """Serialize a frame-level video (every feature list is written, even when empty)."""
    context = pw.encode_features(_context(ex, id_key, with_labels))
    lists = pw.encode_feature_lists({k: _frame_list(k, v) for k, v in ex.features.items()})
    return pw.len_field(1, context) + pw.len_field(2, lists)


def encode_video_example(ex: VideoExample, id_key: str = "id", with_labels: bool = True) -> bytes:
    """Serialize a video-level video (features as float32 lists)."""
    feats = _context(ex, id_key, with_labels)
    for k, v in ex.features.items():
        v = np.asarray(v)
        if v.ndim != 1:
            raise ValueError(f"video feature {k!r} must be 1-D, got shape {v.shape}")
        feats[k] = pw.encode_feature("float", v)
    return pw.len_field(1, pw.encode_features(feats))


def write_frame_examples(path, examples: Iterable[VideoExample], id_key: str = "id",
                         with_labels: bool = True) -> int:
    """Write frame-level videos to a TFRecord file; return the number written."""
    return write_records(path, (encode_frame_example(e, id_key, with_labels) for e in examples))


def write_video_examples(path, examples: Iterable[VideoExample], id_key: str = "id",
                         with_labels: bool = True) -> int:
    """Write video-level videos to a TFRecord file; return the number written."""
    return write_records(path, (encode_video_example(e, id_key, with_labels) for e in examples))
