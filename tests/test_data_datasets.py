"""Loaders: patterns, sharding across ranks x workers, determinism, resume, transforms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from circlearn.data.batch import frames_to_inputs
from circlearn.data.datasets import LoaderConfig, YT8MDataset, YT8MLoader, shuffle_buffer_order
from circlearn.data.files import resolve_files
from circlearn.data.yt8m import VideoExample, dequantize, write_frame_examples, write_video_examples

SIZES = (6, 2)
# 3 DataLoader workers on a 2-core machine is intended here (2 ranks x 3 workers).
pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")
CLASSES = 10


@pytest.fixture
def frame_dir(tmp_path):
    """4 shards of 7, 5, 9, 4 videos; video k has k % 13 frames, labels {k % 10}."""
    rng = np.random.default_rng(0)
    k = 0
    for shard, n in enumerate([7, 5, 9, 4]):
        exs = []
        for _ in range(n):
            t = k % 13
            feats = {"rgb": rng.integers(1, 256, (t, SIZES[0]), dtype=np.uint8),
                     "audio": rng.integers(1, 256, (t, SIZES[1]), dtype=np.uint8)}
            exs.append(VideoExample(f"v{k:03d}", np.array([k % CLASSES]), feats))
            k += 1
        write_frame_examples(tmp_path / f"train{shard:04d}.tfrecord", exs)
    return tmp_path


def cfg(**kw):
    base = dict(batch_size=4, feature_sizes=SIZES, num_classes=CLASSES, max_frames=12,
                shuffle_buffer=8, seed=3)
    base.update(kw)
    return LoaderConfig(**base)


def ids_of(loader):
    return [v for b in loader for v in b.ids]


def test_resolve_files_comma_globs(frame_dir):
    files = resolve_files(f"{frame_dir}/train000[23].tfrecord,{frame_dir}/train0000.tfrecord")
    assert [f[-18:] for f in files] == ["train0002.tfrecord", "train0003.tfrecord",
                                        "train0000.tfrecord"]
    assert resolve_files([files[0], files[0]]) == files[:1]


def test_pattern_without_match_shows_pattern(frame_dir):
    pattern = f"{frame_dir}/train*.tfrecord,{frame_dir}/validate*.tfrecord"
    with pytest.raises(FileNotFoundError, match="validate\\*.tfrecord"):
        resolve_files(pattern)


@pytest.mark.parametrize("shuffle", [True, False])
def test_two_ranks_three_workers_cover_every_record_once(frame_dir, shuffle):
    """25 videos, 2 ranks: 12 each (1 ragged-tail video dropped), equal steps, no duplicates."""
    seen, steps = [], []
    for rank in range(2):
        loader = YT8MLoader(f"{frame_dir}/train*", cfg(shuffle=shuffle), num_workers=3,
                            rank=rank, world_size=2)
        batches = list(loader)
        steps.append(len(batches))
        seen += [v for b in batches for v in b.ids]
        assert len(batches) == len(loader.dataset)
    assert steps[0] == steps[1] == 3
    assert len(seen) == len(set(seen)) == 24
    uneven = [ids_of(YT8MLoader(f"{frame_dir}/train*", cfg(shuffle=shuffle, even_ranks=False),
                                rank=r, world_size=2)) for r in range(2)]
    assert sorted(uneven[0] + uneven[1]) == [f"v{k:03d}" for k in range(25)]


@pytest.mark.parametrize("workers", [0, 2])
def test_order_does_not_depend_on_workers(frame_dir, workers):
    ref = ids_of(YT8MLoader(f"{frame_dir}/train*", cfg()))
    assert ids_of(YT8MLoader(f"{frame_dir}/train*", cfg(), num_workers=workers)) == ref


def test_deterministic_per_seed_and_epoch(frame_dir):
    a, b = YT8MLoader(f"{frame_dir}/train*", cfg()), YT8MLoader(f"{frame_dir}/train*", cfg())
    a0, a1 = ids_of(a), ids_of(a)
    assert (a0, a1) == (ids_of(b), ids_of(b))
    assert a0 != a1 and sorted(a0) == sorted(a1)
    assert ids_of(YT8MLoader(f"{frame_dir}/train*", cfg(seed=4))) != a0


@pytest.mark.parametrize("workers", [0, 3])
def test_resume_continues_with_the_next_batch(frame_dir, workers):
    c = cfg(iterations=5, n_bags=2)
    ref = YT8MLoader(f"{frame_dir}/train*", c)
    list(ref)  # epoch 0; the reference is the full epoch 1
    expected = list(ref)  # epoch 1
    run = YT8MLoader(f"{frame_dir}/train*", c)
    list(run)
    it = iter(run)
    for _ in range(3):
        next(it)
    state = run.state_dict()
    assert (state["epoch"], state["batch"]) == (1, 3)
    resumed = YT8MLoader(f"{frame_dir}/train*", c, num_workers=workers)
    resumed.load_state_dict(state)
    rest = list(resumed)
    assert len(rest) == len(expected) - 3
    for got, want in zip(rest, expected[3:]):
        assert got.ids == want.ids
        assert torch.equal(got.frames, want.frames) and torch.equal(got.labels, want.labels)
    assert resumed.state_dict()["epoch"] == 2


def test_resume_refuses_other_data(frame_dir):
    state = YT8MLoader(f"{frame_dir}/train*", cfg()).state_dict()
    other = YT8MLoader(f"{frame_dir}/train000[01].tfrecord", cfg())
    with pytest.raises(ValueError, match="cannot resume: data"):
        other.load_state_dict(state)


def test_padding_num_frames_and_labels(frame_dir):
    batch = next(iter(YT8MLoader(f"{frame_dir}/train0000.tfrecord", cfg(shuffle=False,
                                                                         max_frames=4))))
    assert batch.frames.dtype == torch.uint8 and batch.frames.shape == (4, 4, 8)
    assert batch.num_frames.tolist() == [0, 1, 2, 3]
    assert batch.ids == ["v000", "v001", "v002", "v003"]
    assert batch.labels.dtype == torch.float32 and batch.labels.shape == (4, CLASSES)
    assert batch.labels.argmax(1).tolist() == [0, 1, 2, 3] and batch.labels.sum() == 4
    assert (batch.frames[3, :3] > 0).all() and (batch.frames[2, 2:] == 0).all()


def test_streams_concatenated_in_feature_order(frame_dir):
    from circlearn.data.yt8m import read_frame_examples
    ex = list(read_frame_examples(f"{frame_dir}/train0000.tfrecord", feature_sizes=SIZES))[5]
    batch = list(YT8MLoader(f"{frame_dir}/train0000.tfrecord", cfg(shuffle=False)))[1]
    frames = batch.frames[batch.ids.index(ex.id), :5].numpy()
    np.testing.assert_array_equal(frames, np.concatenate([ex.features["rgb"], ex.features["audio"]], 1))


def test_half_videos_and_sampling(frame_dir):
    loader = YT8MLoader(f"{frame_dir}/train0000.tfrecord",
                        cfg(shuffle=False, half_videos=True, max_frames=12))
    batch = next(iter(loader))
    assert batch.frames.shape == (8, 6, 8) and batch.num_frames.tolist() == [0, 0, 1, 0, 1, 1, 2, 1]
    assert batch.ids[:2] == ["v000", "v000"] and torch.equal(batch.labels[0], batch.labels[1])
    sampled = next(iter(YT8MLoader(f"{frame_dir}/train0000.tfrecord",
                                   cfg(shuffle=False, iterations=5, n_bags=3))))
    assert sampled.frames.shape == (4, 15, 8) and sampled.num_frames.tolist() == [15] * 4
    full = next(iter(YT8MLoader(f"{frame_dir}/train0000.tfrecord", cfg(shuffle=False))))
    row = full.frames[3, :3]  # video v003 has 3 frames; every sampled frame is one of them
    assert all(any(torch.equal(f, r) for r in row) for f in sampled.frames[3])


def test_video_level_batches(tmp_path):
    rng = np.random.default_rng(1)
    exs = [VideoExample(f"w{i}", np.array([i % 3]), {"mean_rgb": rng.normal(size=4).astype(np.float32),
                                                      "mean_audio": np.full(2, i, np.float32)})
           for i in range(5)]
    write_video_examples(tmp_path / "v.tfrecord", exs)
    c = LoaderConfig(batch_size=5, frame_level=False, feature_sizes=(4, 2), num_classes=3,
                     shuffle=False)
    batch = next(iter(YT8MLoader(tmp_path / "v.tfrecord", c)))
    assert batch.frames is None and batch.features.shape == (5, 6)
    np.testing.assert_array_equal(batch.features[2].numpy(),
                                  np.concatenate([exs[2].features["mean_rgb"], [2, 2]]))
    x = batch.inputs()
    np.testing.assert_allclose(x.norm(dim=1).numpy(), 1.0, rtol=1e-6)


def test_label_too_large_names_file_and_record(frame_dir):
    loader = YT8MLoader(f"{frame_dir}/train0001.tfrecord", cfg(num_classes=8, shuffle=False))
    with pytest.raises(ValueError, match=r"train0001.tfrecord: record 1: video 'v008' has label 8"):
        list(loader)


def test_inputs_dequantize_mask_and_normalize():
    frames = torch.tensor([[[0, 255], [10, 20], [7, 7]]], dtype=torch.uint8)  # (1, 3, 2)
    x = frames_to_inputs(frames, torch.tensor([2]), normalize=False)
    np.testing.assert_allclose(x[0, :2].numpy(), dequantize(frames[0, :2].numpy()), atol=1e-6)
    assert (x[0, 2] == 0).all()
    y = frames_to_inputs(frames, torch.tensor([2]))
    np.testing.assert_allclose(y[0, :2].norm(dim=1).numpy(), 1.0, rtol=1e-6)


@pytest.mark.parametrize("n,buffer", [(0, 4), (1, 4), (10, 1), (10, 4), (50, 100)])
def test_shuffle_buffer_is_a_permutation(n, buffer):
    order = shuffle_buffer_order(n, buffer, np.random.default_rng(0))
    assert sorted(order.tolist()) == list(range(n))


def test_shuffle_buffer_bounds_displacement():
    order = shuffle_buffer_order(200, 5, np.random.default_rng(0))
    # an item cannot come out before it entered the buffer: position i emits an item < i + 5
    assert all(order[i] < i + 5 for i in range(200))


def test_rank_out_of_range(frame_dir):
    with pytest.raises(ValueError, match="rank must be in"):
        YT8MDataset(f"{frame_dir}/train*", cfg(), rank=2, world_size=2)
