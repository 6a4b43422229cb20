"""YouTube-8M records: round trips, protobuf's own parser as the independent twin, errors."""

from __future__ import annotations

import numpy as np
import pytest

from circlearn.data import protowire as pw
from circlearn.data.tfrecord import write_records
from circlearn.data.yt8m import (
    VideoExample,
    decode_frame_example,
    decode_video_example,
    dequantize,
    encode_frame_example,
    encode_video_example,
    quantize,
    read_frame_examples,
    read_video_examples,
    write_frame_examples,
    write_video_examples,
)

pb = pytest.importorskip("tfrecord.example_pb2")  # compiled from TensorFlow's example.proto
SIZES = {"rgb": 1024, "audio": 128}


def frame_example(rng, vid="Ab3x", n=5, labels=(1, 7, 3861), sizes=SIZES):
    feats = {k: rng.integers(0, 256, size=(n, d), dtype=np.uint8) for k, d in sizes.items()}
    return VideoExample(vid, np.asarray(labels, dtype=np.int64), feats)


def video_example(rng, vid="Ab3x", labels=(1, 7)):
    feats = {f"mean_{k}": rng.normal(size=d).astype(np.float32) for k, d in SIZES.items()}
    return VideoExample(vid, np.asarray(labels, dtype=np.int64), feats)


def assert_same(a: VideoExample, b: VideoExample):
    assert a.id == b.id
    np.testing.assert_array_equal(a.labels, b.labels)
    assert set(a.features) == set(b.features)
    for k in a.features:
        assert a.features[k].dtype == b.features[k].dtype
        np.testing.assert_array_equal(a.features[k], b.features[k])


@pytest.mark.parametrize("n", [0, 1, 2, 31])
@pytest.mark.parametrize("id_key", ["id", "video_id"])
@pytest.mark.parametrize("with_labels", [True, False])
def test_frame_round_trip(tmp_path, rng, n, id_key, with_labels):
    examples = [frame_example(rng, f"v{i}", n + i) for i in range(3)]
    path = tmp_path / "frames.tfrecord"
    assert write_frame_examples(path, examples, id_key=id_key, with_labels=with_labels) == 3
    got = list(read_frame_examples(path))
    for ex, g in zip(examples, got):
        expected = ex if with_labels else VideoExample(ex.id, np.zeros(0, np.int64), ex.features)
        assert_same(expected, g)
        assert g.features["rgb"].shape == (ex.features["rgb"].shape[0], 1024)


@pytest.mark.parametrize("id_key", ["id", "video_id"])
@pytest.mark.parametrize("with_labels", [True, False])
def test_video_round_trip(tmp_path, rng, id_key, with_labels):
    examples = [video_example(rng, f"v{i}") for i in range(3)]
    path = tmp_path / "video.tfrecord"
    write_video_examples(path, examples, id_key=id_key, with_labels=with_labels)
    for ex, g in zip(examples, read_video_examples(path)):
        assert_same(ex if with_labels else VideoExample(ex.id, np.zeros(0, np.int64), ex.features), g)


@pytest.mark.parametrize("n", [0, 1, 4])
def test_frame_bytes_equal_protobuf_serialization(rng, n):
    """TensorFlow's parser reads our bytes: protobuf parses them and re-serializes identically."""
    ex = frame_example(rng, n=n)
    data = encode_frame_example(ex)
    msg = pb.SequenceExample()
    msg.ParseFromString(data)
    assert msg.context.feature["id"].bytes_list.value == [b"Ab3x"]
    assert list(msg.context.feature["labels"].int64_list.value) == [1, 7, 3861]
    rgb = msg.feature_lists.feature_list["rgb"].feature
    assert len(rgb) == n
    if n:
        assert np.frombuffer(rgb[n - 1].bytes_list.value[0], np.uint8).tolist() == \
            ex.features["rgb"][n - 1].tolist()
    assert msg.SerializeToString(deterministic=True) == data


def test_video_bytes_equal_protobuf_serialization(rng):
    ex = video_example(rng)
    data = encode_video_example(ex, id_key="video_id")
    msg = pb.Example()
    msg.ParseFromString(data)
    np.testing.assert_array_equal(np.asarray(msg.features.feature["mean_rgb"].float_list.value,
                                             np.float32), ex.features["mean_rgb"])
    assert msg.SerializeToString(deterministic=True) == data


def _protobuf_frame_bytes(rng, n, extra=True):
    """A SequenceExample built by protobuf itself, with keys in protobuf's own order."""
    msg = pb.SequenceExample()
    msg.context.feature["id"].bytes_list.value.append(b"zz9")
    msg.context.feature["labels"].int64_list.value.extend([0, 5, 2])
    if extra:  # unknown features must be ignored
        msg.context.feature["segment_scores"].float_list.value.extend([1.0, 0.0])
        msg.feature_lists.feature_list["depth"].feature.add().float_list.value.append(3.0)
    frames = {k: rng.integers(0, 256, size=(n, d), dtype=np.uint8) for k, d in SIZES.items()}
    for k, arr in frames.items():
        fl = msg.feature_lists.feature_list[k]
        for row in arr:
            fl.feature.add().bytes_list.value.append(row.tobytes())
    return msg.SerializeToString(), frames


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("n", [0, 1, 7])
def test_decode_protobuf_written_records(rng, fast, n):
    data, frames = _protobuf_frame_bytes(rng, n)
    ex = decode_frame_example(data, fast=fast)
    assert ex.id == "zz9" and ex.labels.tolist() == [0, 5, 2]
    for k in SIZES:
        np.testing.assert_array_equal(ex.features[k], frames[k])


def test_fast_and_generic_decoders_agree(rng):
    data = encode_frame_example(frame_example(rng, n=40, sizes={"rgb": 96, "audio": 12}))
    kw = dict(feature_sizes=(96, 12))
    a, b = decode_frame_example(data, fast=True, **kw), decode_frame_example(data, fast=False, **kw)
    assert_same(a, b)


def test_irregular_layout_falls_back_to_generic(rng):
    """A frame whose Feature carries a trailing unknown field breaks the fixed stride."""
    frames = rng.integers(0, 256, size=(3, 8), dtype=np.uint8)
    feats = [pw.encode_feature("bytes", [r.tobytes()]) for r in frames]
    feats[1] = feats[1] + b"\x20\x01"  # Feature field 4 = 1: unknown, must be skipped
    body = b"".join(pw.len_field(1, f) for f in feats)
    ctx = pw.encode_features({"id": pw.encode_feature("bytes", [b"q"])})
    data = pw.len_field(1, ctx) + pw.len_field(2, pw.encode_feature_lists({"rgb": body}))
    ex = decode_frame_example(data, feature_names=("rgb",), feature_sizes=(8,))
    np.testing.assert_array_equal(ex.features["rgb"], frames)


def test_unpacked_scalars_are_read():
    labels = b"".join(b"\x08" + pw.varint(v) for v in (4, 2))  # Int64List, unpacked
    floats = b"".join(b"\x0d" + np.float32(v).tobytes() for v in (0.5, -1.0))
    fmap = {"id": pw.encode_feature("bytes", [b"u"]), "labels": pw.len_field(3, labels),
            "mean_rgb": pw.len_field(2, floats)}
    ex = decode_video_example(pw.len_field(1, pw.encode_features(fmap)), ("mean_rgb",), (2,))
    assert ex.labels.tolist() == [4, 2] and ex.features["mean_rgb"].tolist() == [0.5, -1.0]


def test_wrong_feature_dimension(tmp_path, rng):
    path = tmp_path / "dims.tfrecord"
    write_frame_examples(path, [frame_example(rng, "ok"), frame_example(
        rng, "bad", sizes={"rgb": 1000, "audio": 128})])
    with pytest.raises(ValueError, match=r"dims.tfrecord: record 1: video 'bad': wrong feature "
                                         r"dimension for 'rgb': frames have 1000 values, expected 1024"):
        list(read_frame_examples(path))


def test_label_out_of_range_names_file_and_record(tmp_path, rng):
    path = tmp_path / "labels.tfrecord"
    write_video_examples(path, [video_example(rng, "a", (1,)), video_example(rng, "b", (3862,))])
    with pytest.raises(ValueError, match=r"labels.tfrecord: record 1: video 'b' has label 3862 "
                                         r"outside \[0, 3862\)"):
        list(read_video_examples(path, num_classes=3862))


@pytest.mark.parametrize("missing", ["id", "rgb"])
def test_missing_required_feature(tmp_path, rng, missing):
    ex = frame_example(rng)
    if missing == "rgb":
        del ex.features["rgb"]
        data = encode_frame_example(ex)
    else:
        lists = pw.encode_feature_lists({"rgb": b"", "audio": b""})
        data = pw.len_field(2, lists)
    path = tmp_path / "missing.tfrecord"
    write_records(path, [data])
    with pytest.raises(ValueError, match=f"missing.tfrecord: record 0: .*{missing}"):
        list(read_frame_examples(path))


def test_dequantize_formula():
    b = np.array([0, 127, 255], dtype=np.uint8)
    expected = b.astype(np.float64) * 4 / 255 + 4 / 512 - 2
    np.testing.assert_allclose(dequantize(b), expected, rtol=0, atol=1e-6)
    assert dequantize(b)[0] == np.float32(-1.9921875) and dequantize(b)[2] == np.float32(2.0078125)


def test_dequantize_torch_matches_numpy():
    torch = pytest.importorskip("torch")
    b = np.arange(256, dtype=np.uint8)
    np.testing.assert_allclose(dequantize(torch.from_numpy(b)).numpy(), dequantize(b), atol=1e-6)


def test_quantize_inverts_dequantize_on_the_grid():
    b = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(quantize(dequantize(b)), b)  # +half-bin bias rounds back
    assert quantize(np.array([-5.0, 5.0])).tolist() == [0, 255]
