"""TFRecord framing, without TensorFlow.

A TFRecord file is a sequence of records, each framed as::

    uint64 length            little-endian, payload size in bytes
    uint32 masked_crc(length bytes)
    byte   payload[length]
    uint32 masked_crc(payload)

with ``masked_crc(b) = ((c >> 15) | (c << 17)) + 0xa282ead8  (mod 2**32)`` where
``c = crc32c(b)`` (CRC-32C, the Castagnoli polynomial, computed by the ``crc32c`` package).
Files may be gzip-compressed as a whole (TensorFlow's ``compression_type="GZIP"``); readers
detect gzip from its magic bytes, writers compress when the name ends in ``.gz`` (or when asked).

Every problem in a file — a bad CRC, a truncated record, a file that is not TFRecord at all — is
a :class:`CorruptRecordError` (a ``ValueError``) naming the file and the byte offset of the
record (offsets count bytes of the *decompressed* stream for gzip files).
"""

from __future__ import annotations

import gzip
import io
import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

import crc32c as _crc32c
import numpy as np

__all__ = ["CorruptRecordError", "masked_crc", "read_records", "write_records",
           "record_index", "open_records", "read_record_at", "is_gzip"]

_HEADER = struct.Struct("<QI")
_CRC = struct.Struct("<I")
_MASK_DELTA = 0xA282EAD8
_GZIP_MAGIC = b"\x1f\x8b"


class CorruptRecordError(ValueError):
    """A TFRecord file is damaged or is not a TFRecord file.

    Attributes ``path`` and ``offset`` (byte offset of the record's header) locate the problem.
    """

    def __init__(self, path, offset: int, problem: str):
        self.path = str(path)
        self.offset = int(offset)
        self.problem = problem
        super().__init__(f"{self.path}: {problem} at byte offset {self.offset}")


def masked_crc(data) -> int:
    """TFRecord's masked CRC-32C of a bytes-like object.

    >>> hex(masked_crc(b""))
    '0xa282ead8'
    """
    c = _crc32c.crc32c(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def is_gzip(path) -> bool:
    """True when the file starts with the gzip magic bytes."""
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def open_records(path) -> io.BufferedIOBase:
    """Open a TFRecord file for binary reading, transparently decompressing gzip."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such TFRecord file: {path}")
    if is_gzip(path):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _read_one(f, path, offset: int, verify: bool, header: bytes | None = None):
    """Read one record whose header starts at ``offset``; return (payload, next offset).

    Returns ``(None, offset)`` at a clean end of file.
    """
    if header is None:
        header = f.read(12)
    if not header:
        return None, offset
    if len(header) < 12:
        raise CorruptRecordError(path, offset, f"truncated record header ({len(header)} of 12 bytes)")
    length, length_crc = _HEADER.unpack(header)
    if verify and masked_crc(header[:8]) != length_crc:
        problem = "bad length CRC" if offset else "not a TFRecord file (bad length CRC)"
        raise CorruptRecordError(path, offset, problem)
    if not verify and length > (1 << 40):
        raise CorruptRecordError(path, offset, f"implausible record length {length}")
    payload = f.read(length)
    if len(payload) < length:
        raise CorruptRecordError(path, offset,
                                 f"truncated record (payload {len(payload)} of {length} bytes)")
    tail = f.read(4)
    if len(tail) < 4:
        raise CorruptRecordError(path, offset, "truncated record (missing payload CRC)")
    if verify and masked_crc(payload) != _CRC.unpack(tail)[0]:
        raise CorruptRecordError(path, offset, "bad payload CRC")
    return payload, offset + 16 + length


def read_records(path, verify: bool = True) -> Iterator[bytes]:
    """Yield the payload of every record of a TFRecord file (plain or gzip).

    With ``verify=True`` (default) both CRCs of every record are checked.

    Raises:
        FileNotFoundError: the file does not exist.
        CorruptRecordError: bad CRC, truncated record, or not a TFRecord file.
    """
    with open_records(path) as f:
        offset = 0
        while True:
            payload, offset = _read_one(f, path, offset, verify)
            if payload is None:
                return
            yield payload


def read_record_at(f, path, offset: int, verify: bool = True) -> bytes:
    """Read the record whose header starts at byte ``offset`` of the open file ``f``."""
    f.seek(offset)
    payload, _ = _read_one(f, path, offset, verify)
    if payload is None:
        raise CorruptRecordError(path, offset, "no record (end of file)")
    return payload


def record_index(path, verify_lengths: bool = True) -> np.ndarray:
    """Byte offsets of every record header, as an int64 array ``(records,)``.

    Uncompressed files are scanned by hopping from header to header (payloads are skipped,
    not read); gzip files are decompressed once. Length CRCs are checked when
    ``verify_lengths``; payload CRCs are checked later, when records are read.
    """
    offsets = []
    with open_records(path) as f:
        size = None if isinstance(f, gzip.GzipFile) else os.fstat(f.fileno()).st_size
        offset = 0
        while True:
            header = f.read(12)
            if not header:
                break
            if len(header) < 12:
                raise CorruptRecordError(path, offset,
                                         f"truncated record header ({len(header)} of 12 bytes)")
            length, length_crc = _HEADER.unpack(header)
            if verify_lengths and masked_crc(header[:8]) != length_crc:
                problem = "bad length CRC" if offset else "not a TFRecord file (bad length CRC)"
                raise CorruptRecordError(path, offset, problem)
            end = offset + 16 + length
            if size is not None:
                if end > size:
                    raise CorruptRecordError(path, offset, "truncated record")
                f.seek(end)
            else:
                skipped = len(f.read(length + 4))
                if skipped < length + 4:
                    raise CorruptRecordError(path, offset, "truncated record")
            offsets.append(offset)
            offset = end
    return np.asarray(offsets, dtype=np.int64)


def write_records(path, records: Iterable[bytes], compression: str | None = "auto") -> int:
    """Write payloads as a TFRecord file; return the number of records written.

    ``compression``: ``"auto"`` gzips when the name ends in ``.gz``; ``"gzip"`` or ``None``
    force it on or off. Gzip output has a zero timestamp, so equal inputs give equal bytes.
    """
    path = Path(path)
    if compression == "auto":
        compression = "gzip" if path.suffix == ".gz" else None
    if compression not in (None, "gzip"):
        raise ValueError(f"compression must be 'auto', 'gzip' or None, got {compression!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(path, "wb") as raw:
        f = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) if compression else raw
        try:
            for payload in records:
                payload = bytes(payload)
                length = struct.pack("<Q", len(payload))
                f.write(length + _CRC.pack(masked_crc(length)))
                f.write(payload)
                f.write(_CRC.pack(masked_crc(payload)))
                count += 1
        finally:
            if compression:
                f.close()
    return count
