"""Frame-level YouTube-8M reading speed: circlearn vs the ``tfrecord`` package, one core.

The workload: a frame-level TFRecord file of 300-frame videos (rgb 1024 + audio 128
``uint8`` per frame, real sizes), read end to end into per-video ``uint8 (300, dim)`` arrays.

Variants, timed interleaved in rounds (median over rounds), on one pinned core:

* ``circlearn``: :func:`circlearn.data.yt8m.read_frame_examples`, CRCs verified, fast path;
* ``circlearn-generic``: the same with the generic per-frame decoder (the slow twin);
* ``protobuf+join``: our framing, then protobuf's own ``SequenceExample`` parser and a join;
* ``tfrecord``: the ``tfrecord`` package's ``sequence_loader`` (which does *not* check CRCs),
  frames joined with ``np.frombuffer(b"".join(frames))``.

Targets: ``circlearn`` ≥ 4,000 videos/s and ≥ 3× ``tfrecord``.

Run: ``circlearn bench data [--quick]`` (needs the ``tfrecord`` package, a test extra).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch

from circlearn.bench.results import machine_info, write_results
from circlearn.bench.timing import time_rounds
from circlearn.data.tfrecord import read_records
from circlearn.data.yt8m import (
    VideoExample,
    decode_frame_example,
    read_frame_examples,
    write_frame_examples,
)

__all__ = ["run", "make_file"]

DIMS = {"rgb": 1024, "audio": 128}


def make_file(path: Path, videos: int, frames: int = 300, seed: int = 0) -> Path:
    """Write ``videos`` random 300-frame videos with real feature sizes."""
    rng = np.random.default_rng(seed)
    base = {k: rng.integers(0, 256, (frames, d), dtype=np.uint8) for k, d in DIMS.items()}

    def examples():
        for i in range(videos):
            feats = {k: np.roll(v, i, axis=0) for k, v in base.items()}
            yield VideoExample(f"{i:04x}", np.array([i % 3862, (7 * i) % 3862]), feats)

    write_frame_examples(path, examples())
    return path


def _circlearn(path) -> int:
    n = 0
    for ex in read_frame_examples(path):
        n += ex.features["rgb"].shape[0] > 0
    return n


def _circlearn_generic(path) -> int:
    n = 0
    for payload in read_records(path):
        ex = decode_frame_example(payload, fast=False)
        n += ex.features["rgb"].shape[0] > 0
    return n


def _protobuf(path) -> int:
    from tfrecord import example_pb2
    n = 0
    for payload in read_records(path):
        msg = example_pb2.SequenceExample()
        msg.ParseFromString(payload)
        fl = msg.feature_lists.feature_list
        arrays = {k: np.frombuffer(b"".join(f.bytes_list.value[0] for f in fl[k].feature),
                                   np.uint8).reshape(-1, d) for k, d in DIMS.items()}
        n += arrays["rgb"].shape[0] > 0
    return n


def _tfrecord(path) -> int:
    from tfrecord.reader import sequence_loader
    n = 0
    for _ctx, feats in sequence_loader(str(path), None, {"id": "byte", "labels": "int"},
                                       {"rgb": "byte", "audio": "byte"}):
        arrays = {k: np.frombuffer(b"".join(feats[k]), np.uint8).reshape(len(feats[k]), d)
                  for k, d in DIMS.items()}
        n += arrays["rgb"].shape[0] > 0
    return n


VARIANTS = {"circlearn": _circlearn, "circlearn-generic": _circlearn_generic,
            "protobuf+join": _protobuf, "tfrecord": _tfrecord}


def run(quick: bool = False, out_dir=None) -> list[dict]:
    """Time every variant on the same file; write and return the result rows."""
    torch.set_num_threads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    videos, rounds = (100, 3) if quick else (600, 7)
    with tempfile.TemporaryDirectory() as tmp:
        path = make_file(Path(tmp) / "frames300.tfrecord", videos)
        size = path.stat().st_size
        for fn in VARIANTS.values():  # warm-up (page cache, imports), checked
            assert fn(path) == videos
        times = time_rounds({name: lambda fn=fn: fn(path) for name, fn in VARIANTS.items()},
                            rounds, warmup=0)
    base = statistics.median(times["tfrecord"])
    rows = []
    for name, ts in times.items():
        t = statistics.median(ts)
        rows.append({"variant": name, "videos": videos, "frames_per_video": 300,
                     "crc_checked": name != "tfrecord", "median_s": t,
                     "videos_per_s": videos / t, "MB_per_s": size / t / 1e6,
                     "speedup_vs_tfrecord": base / t})
    notes = (f"One pinned core; {videos} videos x 300 frames (rgb 1024 + audio 128 uint8), "
             f"file {size / 1e6:.0f} MB in page cache; median of {rounds} interleaved rounds. "
             "Targets: circlearn >= 4000 videos/s and >= 3x tfrecord.")
    if not quick:  # --quick is a smoke test: it must not overwrite the stored results
        write_results("bench_data", rows, notes=notes, out_dir=out_dir)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small file, fewer rounds")
    parser.add_argument("--out", default=None, help="results directory")
    args = parser.parse_args()
    for row in run(args.quick, args.out):
        print(f"{row['variant']:>18}: {row['videos_per_s']:8.0f} videos/s "
              f"({row['speedup_vs_tfrecord']:.2f}x tfrecord)")
    print(machine_info())


if __name__ == "__main__":
    main()
