"""A minimal protobuf wire-format reader: enough to walk a binary message without its schema.

Protobuf encodes a message as a sequence of (tag, value) records; the tag is a varint
`field_number << 3 | wire_type`. Wire types: 0 varint, 1 fixed64, 2 length-delimited (strings,
bytes, sub-messages, packed repeated scalars), 5 fixed32; 3/4 (groups) are obsolete and never
appear in Caffe files. Unknown fields are skipped by their wire type, which is how newer or
forked Caffe files (MTCNN's) stay readable with BVLC's field numbers.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
# Not wire types: a run of consecutive unpacked fixed-width values of one field, read as one
# record whose value is their bytes (Caffe before 2015 wrote blob data unpacked: 5 bytes a
# float, and one Python object per float took 1.4 GB and 13 s for a 20 MB file).
FIXED32_RUN, FIXED64_RUN = -5, -1
_RUNS = {FIXED32: (4, FIXED32_RUN), FIXED64: (8, FIXED64_RUN)}


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


@dataclass(frozen=True)
class Record:
    """One field occurrence: its number, wire type and value (an int, or a bytes view)."""

    number: int
    wire: int
    value: int | memoryview

    def bytes(self) -> memoryview:
        if not isinstance(self.value, memoryview):
            raise WireError(f"field {self.number}: expected a length-delimited value")
        return self.value

    def int(self) -> int:
        if isinstance(self.value, memoryview):
            raise WireError(f"field {self.number}: expected a number, got bytes")
        return self.value


def read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    """The varint at `pos` and the position after it."""
    result = shift = 0
    end = len(buf)
    while True:
        if pos >= end:
            raise WireError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 10 bytes")


def _run_length(buf: memoryview, start: int, tag: int, stride: int) -> int:
    """How many `stride`-byte elements from `start` begin with the one-byte `tag`: looked at in
    doubling chunks, so the work is linear in the run, not in what follows it."""
    count, chunk = 0, 64
    available = (len(buf) - start) // stride
    while count < available:
        take = min(chunk, available - count)
        heads = np.frombuffer(buf, np.uint8, take * stride, start + count * stride)[::stride]
        mismatch = np.flatnonzero(heads != tag)
        if mismatch.size:
            return count + int(mismatch[0])
        count += take
        chunk *= 2
    return count


def records(buf: memoryview) -> Iterator[Record]:
    """The fields of one message, in file order (repeated fields appear once per occurrence,
    except runs of unpacked fixed-width values: see FIXED32_RUN)."""
    pos, end = 0, len(buf)
    while pos < end:
        start = pos
        tag, pos = read_varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise WireError("field number 0")
        value: int | memoryview
        if (
            wire in _RUNS
            and pos == start + 1
            and pos + _RUNS[wire][0] < end
            and buf[pos + _RUNS[wire][0]] == tag
        ):
            width, run_wire = _RUNS[wire]
            count = _run_length(buf, start, tag, width + 1)
            elements = np.frombuffer(buf, np.uint8, count * (width + 1), start)
            values = elements.reshape(count, width + 1)[:, 1:].tobytes()
            pos = start + count * (width + 1)
            yield Record(number, run_wire, memoryview(values))
            continue
        if wire == VARINT:
            value, pos = read_varint(buf, pos)
        elif wire == FIXED64:
            if pos + 8 > end:
                raise WireError(f"field {number}: truncated fixed64")
            value = int.from_bytes(buf[pos : pos + 8], "little")
            pos += 8
        elif wire == FIXED32:
            if pos + 4 > end:
                raise WireError(f"field {number}: truncated fixed32")
            value = int.from_bytes(buf[pos : pos + 4], "little")
            pos += 4
        elif wire == LENGTH:
            size, pos = read_varint(buf, pos)
            if pos + size > end:
                raise WireError(f"field {number}: length {size} runs past the end")
            value = buf[pos : pos + size]
            pos += size
        else:
            raise WireError(f"field {number}: unsupported wire type {wire}")
        yield Record(number, wire, value)


def text(record: Record) -> str:
    return bytes(record.bytes()).decode("utf-8", errors="replace")


def floats(items: list[Record]) -> NDArray[np.float32]:
    """A repeated float field: packed (one length-delimited run) and/or unpacked (fixed32 each)."""
    parts: list[NDArray[np.float32]] = []
    for r in items:
        if r.wire in (LENGTH, FIXED32_RUN):
            raw = r.bytes()
            if len(raw) % 4:
                raise WireError(f"field {r.number}: packed floats of {len(raw)} bytes")
            parts.append(np.frombuffer(raw, dtype="<f4").astype(np.float32))
        elif r.wire == FIXED32:
            parts.append(np.array(struct.unpack("<f", r.int().to_bytes(4, "little")), np.float32))
        else:
            raise WireError(f"field {r.number}: a float field with wire type {r.wire}")
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def doubles(items: list[Record]) -> NDArray[np.float64]:
    """A repeated double field, packed and/or unpacked (fixed64 each)."""
    parts: list[NDArray[np.float64]] = []
    for r in items:
        if r.wire in (LENGTH, FIXED64_RUN):
            raw = r.bytes()
            if len(raw) % 8:
                raise WireError(f"field {r.number}: packed doubles of {len(raw)} bytes")
            parts.append(np.frombuffer(raw, dtype="<f8").astype(np.float64))
        elif r.wire == FIXED64:
            parts.append(np.array(struct.unpack("<d", r.int().to_bytes(8, "little")), np.float64))
        else:
            raise WireError(f"field {r.number}: a double field with wire type {r.wire}")
    return np.concatenate(parts) if parts else np.zeros(0, np.float64)


def ints(items: list[Record]) -> list[int]:
    """A repeated integer field (int32/int64 as varints), packed and/or unpacked."""
    out: list[int] = []
    for r in items:
        if r.wire == VARINT:
            out.append(_signed(r.int()))
        elif r.wire == LENGTH:
            raw, pos = r.bytes(), 0
            while pos < len(raw):
                value, pos = read_varint(raw, pos)
                out.append(_signed(value))
        else:
            raise WireError(f"field {r.number}: an integer field with wire type {r.wire}")
    return out


def _signed(value: int) -> int:
    """int32/int64 varints are two's complement over 64 bits."""
    return value - (1 << 64) if value >= 1 << 63 else value


def group(buf: memoryview) -> dict[int, list[Record]]:
    """A message's records by field number."""
    out: dict[int, list[Record]] = {}
    for r in records(buf):
        out.setdefault(r.number, []).append(r)
    return out
