"""Protocol-buffer wire format for ``tf.train.Example`` / ``tf.train.SequenceExample``.

Hand-written encoder and decoder for the handful of messages TensorFlow's ``example.proto`` and
``feature.proto`` define (proto3; field numbers are the schema)::

    Example         { Features features = 1; }
    SequenceExample { Features context = 1; FeatureLists feature_lists = 2; }
    Features        { map<string, Feature> feature = 1; }
    FeatureLists    { map<string, FeatureList> feature_list = 1; }
    FeatureList     { repeated Feature feature = 1; }
    Feature         { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2;
                                   Int64List int64_list = 3; } }
    BytesList { repeated bytes value = 1; }
    FloatList { repeated float value = 1 [packed = true]; }
    Int64List { repeated int64 value = 1 [packed = true]; }

A map entry is a message ``{key = 1; value = 2}``. The encoder writes what protobuf's
deterministic serializer writes (map keys sorted, packed scalars, empty packed lists omitted),
so its bytes equal ``msg.SerializeToString(deterministic=True)``; the decoder also accepts
unpacked scalars, unknown fields and any key order, as every protobuf parser must.

Decoding works on index ranges ``(start, end)`` into one payload buffer, so nothing is copied
until a value is materialised.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ProtoError", "read_varint", "iter_fields", "parse_map", "decode_feature",
           "varint", "len_field", "encode_feature", "encode_features", "encode_feature_lists"]

_U64 = 1 << 64


class ProtoError(ValueError):
    """Malformed protocol-buffer bytes."""


def read_varint(buf, pos: int) -> tuple[int, int]:
    """Decode a base-128 varint at ``pos``; return ``(value, next position)``."""
    try:
        b = buf[pos]
        if b < 0x80:
            return b, pos + 1
        result, shift = b & 0x7F, 7
        while True:
            pos += 1
            b = buf[pos]
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result, pos + 1
            shift += 7
            if shift > 63:
                raise ProtoError(f"varint longer than 10 bytes at position {pos}")
    except IndexError:
        raise ProtoError(f"truncated varint at position {pos}") from None


def iter_fields(buf, pos: int, end: int):
    """Yield ``(field_number, wire_type, a, b)`` for each field in ``buf[pos:end]``.

    For wire type 0 (varint) ``a`` is the value and ``b`` is None; for types 1, 2, 5 the value
    occupies ``buf[a:b]``. Groups (types 3, 4) are not used by these schemas and are an error.
    """
    while pos < end:
        key, pos = read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 2:
            n, pos = read_varint(buf, pos)
            a, pos = pos, pos + n
        elif wire == 0:
            value, pos = read_varint(buf, pos)
            yield field, 0, value, None
            continue
        elif wire == 5:
            a, pos = pos, pos + 4
        elif wire == 1:
            a, pos = pos, pos + 8
        else:
            raise ProtoError(f"unsupported wire type {wire} for field {field} at position {pos}")
        if pos > end:
            raise ProtoError(f"field {field} runs past the end of its message ({pos} > {end})")
        yield field, wire, a, pos


def parse_map(buf, start: int, end: int, field_no: int = 1) -> dict[str, tuple[int, int]]:
    """Parse ``map<string, Message>`` entries (field ``field_no``) into ``{key: (start, end)}``.

    A later entry with the same key replaces an earlier one (protobuf's merge rule for maps).
    """
    out: dict[str, tuple[int, int]] = {}
    for field, wire, a, b in iter_fields(buf, start, end):
        if field != field_no or wire != 2:
            continue
        key, value = "", (b, b)
        for f2, w2, a2, b2 in iter_fields(buf, a, b):
            if f2 == 1 and w2 == 2:
                key = bytes(buf[a2:b2]).decode("utf-8", errors="backslashreplace")
            elif f2 == 2 and w2 == 2:
                value = (a2, b2)
        out[key] = value
    return out


def _signed(v: int) -> int:
    return v - _U64 if v >= 1 << 63 else v


def decode_feature(buf, start: int, end: int):
    """Decode a ``Feature`` message; return ``(kind, value)``.

    ``kind`` is ``"bytes"`` (value: list of ``(start, end)`` ranges), ``"float"`` (float32
    array), ``"int64"`` (int64 array) or ``None`` (no kind set; value ``None``).
    """
    kind, region = None, None
    for field, wire, a, b in iter_fields(buf, start, end):
        if wire == 2 and field in (1, 2, 3):
            kind, region = {1: "bytes", 2: "float", 3: "int64"}[field], (a, b)
    if kind is None:
        return None, None
    a, b = region
    if kind == "bytes":
        return kind, [(x, y) for f, w, x, y in iter_fields(buf, a, b) if f == 1 and w == 2]
    if kind == "float":
        parts = []
        for f, w, x, y in iter_fields(buf, a, b):
            if f != 1:
                continue
            if w == 2 and (y - x) % 4:
                raise ProtoError(f"packed float list of {y - x} bytes is not a multiple of 4")
            if w in (2, 5):
                parts.append(np.frombuffer(buf, dtype="<f4", count=(y - x) // 4, offset=x))
        return kind, (np.concatenate(parts) if parts else np.zeros(0, "<f4")).astype(np.float32)
    values: list[int] = []
    for f, w, x, y in iter_fields(buf, a, b):
        if f != 1:
            continue
        if w == 0:
            values.append(_signed(x))
        elif w == 2:
            pos = x
            while pos < y:
                v, pos = read_varint(buf, pos)
                values.append(_signed(v))
    return kind, np.asarray(values, dtype=np.int64)


# ----------------------------------------------------------------------------- encoding

def varint(n: int) -> bytes:
    """Encode a non-negative integer (< 2**64) as a base-128 varint."""
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def len_field(field: int, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def encode_feature(kind: str, values) -> bytes:
    """Encode a ``Feature``: ``kind`` in ``{"bytes", "float", "int64"}``.

    >>> encode_feature("int64", [1, 300]).hex()
    '1a050a0301ac02'
    """
    if kind == "bytes":
        body = b"".join(len_field(1, bytes(v)) for v in values)
        return len_field(1, body)
    if kind == "float":
        arr = np.asarray(values, dtype="<f4").reshape(-1)
        return len_field(2, len_field(1, arr.tobytes()) if arr.size else b"")
    if kind == "int64":
        ints = [int(v) for v in np.asarray(values, dtype=np.int64).reshape(-1)]
        packed = b"".join(varint(v % _U64) for v in ints)
        return len_field(3, len_field(1, packed) if ints else b"")
    raise ValueError(f"unknown feature kind {kind!r}")


def encode_features(features: dict[str, bytes]) -> bytes:
    """Encode a ``Features`` map from already-encoded ``Feature`` messages (keys sorted)."""
    return b"".join(len_field(1, len_field(1, k.encode()) + len_field(2, v))
                    for k, v in sorted(features.items()))


def encode_feature_lists(lists: dict[str, bytes]) -> bytes:
    """Encode a ``FeatureLists`` map from already-encoded ``FeatureList`` bodies (keys sorted)."""
    return encode_features(lists)
