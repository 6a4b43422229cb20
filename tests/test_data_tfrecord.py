"""TFRecord framing: round trips, the `tfrecord` package as independent twin, corruption errors."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from circlearn.data.tfrecord import (
    CorruptRecordError,
    masked_crc,
    read_record_at,
    read_records,
    record_index,
    write_records,
)

PAYLOADS = [b"", b"a", b"hello world", bytes(range(256)) * 40]


@pytest.mark.parametrize("name", ["plain.tfrecord", "packed.tfrecord.gz"])
def test_round_trip(tmp_path, name):
    path = tmp_path / name
    assert write_records(path, PAYLOADS) == len(PAYLOADS)
    assert list(read_records(path)) == PAYLOADS


def test_gzip_is_detected_and_deterministic(tmp_path):
    a, b = tmp_path / "a.gz", tmp_path / "b.gz"
    write_records(a, PAYLOADS)
    write_records(b, PAYLOADS)
    assert a.read_bytes()[:2] == b"\x1f\x8b"
    assert a.read_bytes() == b.read_bytes()
    renamed = tmp_path / "c.tfrecord"
    renamed.write_bytes(a.read_bytes())
    assert list(read_records(renamed)) == PAYLOADS


def test_masked_crc_known_value():
    # CRC-32C("123456789") = 0xE3069283 (the standard check value), then TFRecord's mask.
    c = 0xE3069283
    assert masked_crc(b"123456789") == ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) % 2**32


def test_matches_tfrecord_package(tmp_path):
    """The `tfrecord` PyPI writer and ours produce the same bytes; each reads the other."""
    tfw = pytest.importorskip("tfrecord.writer")
    from tfrecord import reader as tfr
    theirs, ours = tmp_path / "theirs.tfrecord", tmp_path / "ours.tfrecord"
    data = [{"x": (bytes([i]) * (i * 7), "byte"), "n": (i, "int")} for i in range(1, 6)]
    w = tfw.TFRecordWriter(str(theirs))
    for datum in data:
        w.write(datum)
    w.close()
    payloads = [tfw.TFRecordWriter.serialize_tf_example(d) for d in data]
    write_records(ours, payloads)
    assert theirs.read_bytes() == ours.read_bytes()
    assert [bytes(v) for v in tfr.tfrecord_iterator(str(ours))] == payloads


def test_record_index_and_random_access(tmp_path):
    path = tmp_path / "x.tfrecord"
    write_records(path, PAYLOADS)
    offsets = record_index(path)
    expected = np.cumsum([0] + [16 + len(p) for p in PAYLOADS[:-1]])
    np.testing.assert_array_equal(offsets, expected)
    with open(path, "rb") as f:
        assert read_record_at(f, path, int(offsets[2])) == PAYLOADS[2]


def _corrupt(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where,problem", [(30, "bad payload CRC"), (16 + 1 + 3, "bad length CRC")])
def test_flipped_byte_names_file_and_offset(tmp_path, where, problem):
    path = tmp_path / "bad.tfrecord"
    write_records(path, [b"A" * 4, b"B" * 20])
    # record 0 occupies bytes [0, 20); record 1 starts at 20.
    _corrupt(path, 20 + where - 16 if problem == "bad payload CRC" else 20 + 3)
    with pytest.raises(CorruptRecordError, match=f"bad.tfrecord: {problem} at byte offset 20"):
        list(read_records(path))


def test_verify_false_reads_damaged_payload(tmp_path):
    path = tmp_path / "bad.tfrecord"
    write_records(path, [b"A" * 8])
    _corrupt(path, 13)
    assert list(read_records(path, verify=False)) == [b"A@" + b"A" * 6]


@pytest.mark.parametrize("cut", [1, 5, 13])
def test_truncated_file(tmp_path, cut):
    path = tmp_path / "cut.tfrecord"
    write_records(path, [b"x" * 10, b"y" * 10])
    data = path.read_bytes()
    path.write_bytes(data[:-cut])
    with pytest.raises(CorruptRecordError, match=r"cut.tfrecord: truncated .* at byte offset 26"):
        list(read_records(path))
    with pytest.raises(CorruptRecordError, match="truncated"):
        record_index(path)


def test_not_a_tfrecord_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("this is plain text, not a TFRecord file at all\n")
    with pytest.raises(CorruptRecordError, match="notes.txt: not a TFRecord file .* offset 0"):
        list(read_records(path))
    assert isinstance(CorruptRecordError(path, 0, "x"), ValueError)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.tfrecord"):
        list(read_records(tmp_path / "nope.tfrecord"))


def test_header_layout(tmp_path):
    path = tmp_path / "one.tfrecord"
    write_records(path, [b"abc"])
    data = path.read_bytes()
    length, crc = struct.unpack("<QI", data[:12])
    assert (length, crc) == (3, masked_crc(data[:8]))
    assert struct.unpack("<I", data[15:19])[0] == masked_crc(b"abc")
