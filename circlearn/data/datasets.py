"""YouTube-8M datasets and loaders: sharded, shuffled, deterministic, resumable.

Usage::

    cfg = LoaderConfig(batch_size=80, num_classes=3862, iterations=30)
    loader = YT8MLoader("data/train*.tfrecord", cfg, num_workers=4, rank=rank, world_size=world)
    for epoch in range(epochs):
        for batch in loader:                  # circlearn.data.batch.Batch, frames uint8
            x = batch.inputs(device)          # dequantise + L2-normalise on the device
        ...
    state = loader.state_dict()               # resume mid-epoch: load_state_dict(state)

The batch format is documented in :mod:`circlearn.data.batch`.

**Epoch order** (a pure function of ``seed``, ``epoch``, ``rank``): the files are shuffled
with ``seed, epoch`` (the same on every rank) and their records concatenated; rank ``r``
takes the ``r``-th contiguous chunk of ``N // world`` records — the last ``N mod world``
records of the epoch order (fewer than ``world``; different videos each epoch) are the
documented ragged tail, dropped so every rank runs the same number of steps
(``even_ranks=False`` instead gives the first ``N mod world`` ranks one more video, for
evaluation). The rank's records then pass through a shuffle buffer of ``shuffle_buffer``
(seeded with ``seed, epoch, rank``) and are cut into batches ``0, 1, …`` of ``batch_size``
(the last one smaller unless ``drop_last``). With ``shuffle=False`` the order is the file
order and no record is dropped between ranks unless ``even_ranks``.

**Workers**: DataLoader worker ``w`` of ``W`` builds batches ``start + w, start + w + W, …``,
reading only their records; the DataLoader's round-robin then returns batches in order
``start, start + 1, …`` — so the sequence does not depend on the number of workers and a
resume (``start`` > 0) continues with exactly the next batch.

**Frame-level transforms** (in this order): pad/truncate to ``max_frames``; half-video
augmentation (:func:`circlearn.data.augmentation.split_halves`, ``2B`` examples of
``max_frames // 2`` frames); frame sampling (``iterations`` frames per bag, ``n_bags`` bags,
:func:`circlearn.data.frames.sample_frame_indices`, seeded by ``seed, epoch, rank, batch``):
frames become ``(B, n_bags * iterations, D)`` (bag-major) and ``num_frames`` is
``n_bags * iterations``. ``iterations=None`` keeps all frames (deterministic evaluation).
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass

import numpy as np
import torch

from circlearn.data.frames import gather_frames, sample_frame_indices

from .augmentation import split_halves
from .batch import Batch
from .files import RecordIndex, resolve_files
from .tfrecord import is_gzip, open_records, read_record_at
from .yt8m import _sizes, decode_frame_example, decode_video_example

__all__ = ["LoaderConfig", "YT8MDataset", "YT8MLoader", "shuffle_buffer_order"]


@dataclass
class LoaderConfig:
    """Everything that defines a loader's stream (see the module docstring)."""

    batch_size: int = 32
    frame_level: bool = True
    feature_names: tuple[str, ...] | None = None  # default rgb,audio / mean_rgb,mean_audio
    feature_sizes: tuple[int, ...] | None = None  # default: the official sizes
    num_classes: int = 3862
    max_frames: int = 300
    shuffle: bool = True
    shuffle_buffer: int = 1024
    seed: int = 0
    drop_last: bool = False
    even_ranks: bool = True
    half_videos: bool = False
    iterations: int | None = None
    n_bags: int = 1
    verify: bool = True

    def __post_init__(self):
        if self.feature_names is None:
            self.feature_names = ("rgb", "audio") if self.frame_level else ("mean_rgb", "mean_audio")
        self.feature_names = tuple(self.feature_names)
        sizes = _sizes(self.feature_names, self.feature_sizes)
        if any(s is None for s in sizes):
            raise ValueError(f"feature_sizes needed for {list(self.feature_names)}")
        self.feature_sizes = tuple(sizes)
        for name in ("batch_size", "num_classes", "max_frames", "shuffle_buffer", "n_bags"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.iterations is not None and self.iterations < 1:
            raise ValueError(f"iterations must be >= 1 or None, got {self.iterations}")
        if self.half_videos and self.max_frames % 2:
            raise ValueError(f"half_videos needs an even max_frames, got {self.max_frames}")


def shuffle_buffer_order(n: int, buffer: int, rng: np.random.Generator) -> np.ndarray:
    """Positions ``0..n-1`` as a streaming shuffle buffer of size ``buffer`` emits them.

    The buffer fills with the first ``buffer`` items; each further item replaces a uniformly
    chosen buffered item, which is emitted; at the end the rest comes out in random order.
    """
    if n <= 1 or buffer <= 1:
        return np.arange(n, dtype=np.int64)
    k = min(buffer, n)
    buf = list(range(k))
    picks = rng.integers(0, k, size=n - k).tolist()
    out = []
    for item, j in zip(range(k, n), picks):
        out.append(buf[j])
        buf[j] = item
    out.extend(np.asarray(buf)[rng.permutation(k)].tolist())
    return np.asarray(out, dtype=np.int64)


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)[0] >> 1)


class YT8MDataset(torch.utils.data.IterableDataset):
    """Batches of one rank's share of the YouTube-8M records (worker-side batching).

    Use with ``DataLoader(dataset, batch_size=None, num_workers=...)`` or, better,
    :class:`YT8MLoader`, which also keeps the resume position.
    """

    def __init__(self, files, config: LoaderConfig | None = None, rank: int = 0,
                 world_size: int = 1):
        self.config = config or LoaderConfig()
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
        self.rank, self.world_size = int(rank), int(world_size)
        self.index = RecordIndex.build(resolve_files(files))
        self.epoch, self.start = 0, 0

    def set_position(self, epoch: int, start: int = 0) -> None:
        """Make the next iteration produce batches ``start, start + 1, …`` of ``epoch``."""
        self.epoch, self.start = int(epoch), int(start)

    def rank_records(self, epoch: int) -> np.ndarray:
        """Global record ids of this rank's epoch, in stream order, ``(n_rank,)``."""
        cfg, idx = self.config, self.index
        n, world = len(idx), self.world_size
        counts = idx.counts()
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        if cfg.shuffle:
            files = np.random.default_rng([cfg.seed, epoch, 0]).permutation(len(idx.files))
        else:
            files = np.arange(len(idx.files))
        order = np.concatenate([np.arange(starts[f], starts[f] + counts[f]) for f in files]) \
            if len(files) else np.zeros(0, np.int64)
        per, extra = divmod(n, world)
        if cfg.even_ranks:
            lo, hi = self.rank * per, (self.rank + 1) * per
        else:
            lo = self.rank * per + min(self.rank, extra)
            hi = lo + per + (self.rank < extra)
        mine = order[lo:hi]
        if cfg.shuffle:
            rng = np.random.default_rng([cfg.seed, epoch, 1, self.rank])
            mine = mine[shuffle_buffer_order(len(mine), cfg.shuffle_buffer, rng)]
        return mine

    def num_batches(self, epoch: int | None = None) -> int:
        """Batches per epoch on this rank (equal on every rank when ``even_ranks``)."""
        n = len(self.rank_records(self.epoch if epoch is None else epoch)) if not \
            self.config.even_ranks else len(self.index) // self.world_size
        b = self.config.batch_size
        return n // b if self.config.drop_last else -(-n // b)

    def __len__(self) -> int:
        return self.num_batches()

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        epoch, start = self.epoch, self.start
        records = self.rank_records(epoch)
        b = self.config.batch_size
        nb = len(records) // b if self.config.drop_last else -(-len(records) // b)
        handles: dict[int, io.IOBase] = {}
        try:
            for j in range(start + worker, nb, workers):
                yield self._batch(records[j * b:(j + 1) * b], handles, epoch, j)
        finally:
            for f in handles.values():
                f.close()

    def _payload(self, g: int, handles: dict) -> bytes:
        idx = self.index
        fi = int(idx.file[g])
        if fi not in handles:
            path = idx.files[fi]
            if is_gzip(path):
                with open_records(path) as f:
                    handles[fi] = io.BytesIO(f.read())
            else:
                handles[fi] = open(path, "rb")
        return read_record_at(handles[fi], idx.files[fi], int(idx.offset[g]), self.config.verify)

    def _batch(self, records: np.ndarray, handles: dict, epoch: int, j: int) -> Batch:
        cfg, idx = self.config, self.index
        n = len(records)
        labels = np.zeros((n, cfg.num_classes), dtype=np.float32)  # (B, C)
        dims = cfg.feature_sizes
        ids: list[str] = []
        if cfg.frame_level:
            frames = np.zeros((n, cfg.max_frames, sum(dims)), dtype=np.uint8)  # (B, T, D)
            num_frames = np.zeros(n, dtype=np.int64)
        else:
            feats = np.zeros((n, sum(dims)), dtype=np.float32)  # (B, D)
        for i, g in enumerate(records):
            payload = self._payload(int(g), handles)
            try:
                if cfg.frame_level:
                    ex = decode_frame_example(payload, cfg.feature_names, dims, cfg.num_classes,
                                              copy=False)
                else:
                    ex = decode_video_example(payload, cfg.feature_names, dims, cfg.num_classes)
            except ValueError as exc:
                raise ValueError(f"{idx.files[int(idx.file[g])]}: record {int(idx.local[g])}: "
                                 f"{exc}") from None
            ids.append(ex.id)
            labels[i, ex.labels] = 1.0
            off = 0
            if cfg.frame_level:
                t = min(ex.num_frames, cfg.max_frames)
                num_frames[i] = t
                for name, d in zip(cfg.feature_names, dims):
                    frames[i, :t, off:off + d] = ex.features[name][:t]
                    off += d
            else:
                for name, d in zip(cfg.feature_names, dims):
                    feats[i, off:off + d] = ex.features[name]
                    off += d
        if not cfg.frame_level:
            return Batch(ids, torch.from_numpy(labels), features=torch.from_numpy(feats))
        fr, nf, lab = torch.from_numpy(frames), torch.from_numpy(num_frames), torch.from_numpy(labels)
        if cfg.half_videos:
            fr, nf = split_halves(fr, nf)  # (2B, T/2, D), (2B,)
            lab = lab.repeat_interleave(2, dim=0)  # (2B, C)
            ids = [v for v in ids for _ in range(2)]
        if cfg.iterations is not None:
            gen = torch.Generator().manual_seed(_seed(cfg.seed, epoch, self.rank, j))
            sel = sample_frame_indices(nf, cfg.iterations, cfg.n_bags, gen)  # (B, bags, it)
            fr = gather_frames(fr, sel).reshape(fr.shape[0], -1, fr.shape[2])  # (B, bags*it, D)
            nf = torch.full_like(nf, cfg.n_bags * cfg.iterations)
        return Batch(ids, lab, frames=fr, num_frames=nf)


class YT8MLoader:
    """A DataLoader over :class:`YT8MDataset` that knows its position.

    Iterating runs (the rest of) one epoch: a loop that stops early and a new ``for`` loop
    continues the same epoch with the next batch. ``state_dict()`` records the epoch and the
    number of batches already returned, ``load_state_dict()`` restores them.
    """

    def __init__(self, files, config: LoaderConfig | None = None, *, num_workers: int = 0,
                 rank: int = 0, world_size: int = 1, pin_memory: bool = False,
                 prefetch_factor: int | None = None):
        self.dataset = YT8MDataset(files, config, rank, world_size)
        self.config = self.dataset.config
        self.num_workers, self.pin_memory = int(num_workers), pin_memory
        self.prefetch_factor = prefetch_factor
        self.epoch, self.batch = 0, 0

    def __len__(self) -> int:
        return self.dataset.num_batches(self.epoch)

    def __iter__(self):
        self.dataset.set_position(self.epoch, self.batch)
        kwargs = {}
        if self.num_workers and self.prefetch_factor:
            kwargs["prefetch_factor"] = self.prefetch_factor
        loader = torch.utils.data.DataLoader(self.dataset, batch_size=None,
                                             num_workers=self.num_workers,
                                             pin_memory=self.pin_memory, **kwargs)
        for batch in loader:
            self.batch += 1
            yield batch
        self.epoch, self.batch = self.epoch + 1, 0

    def state_dict(self) -> dict:
        """The resume position plus what must match to resume safely."""
        return {"epoch": self.epoch, "batch": self.batch, "rank": self.dataset.rank,
                "world_size": self.dataset.world_size, "config": asdict(self.config),
                "data": self.dataset.index.fingerprint()}

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state``; the data, world size and stream settings must match."""
        mine = self.state_dict()
        for key in ("world_size", "data"):
            if state.get(key) != mine[key]:
                raise ValueError(f"cannot resume: {key} was {state.get(key)}, now {mine[key]}")
        for key in ("batch_size", "seed", "shuffle", "shuffle_buffer", "drop_last", "even_ranks"):
            if state["config"].get(key) != mine["config"][key]:
                raise ValueError(f"cannot resume: config {key} was {state['config'].get(key)}, "
                                 f"now {mine['config'][key]}")
        self.epoch, self.batch = int(state["epoch"]), int(state["batch"])
