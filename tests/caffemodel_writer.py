"""A minimal .caffemodel writer for tests: a NetParameter with named layers and their blobs,
serialized with the protobuf wire format by hand (independent of netc's reader)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def caffemodel(layers: Sequence[tuple[str, str, Sequence[np.ndarray]]]) -> bytes:
    """NetParameter.layer (100) = LayerParameter {name (1), type (2), blobs (7)}; BlobProto
    {shape (7) = BlobShape {dim (1), packed}, data (5), packed float}."""
    net = bytearray()
    for name, kind, blobs in layers:
        layer = field(1, name.encode()) + field(2, kind.encode())
        for blob in blobs:
            dims = b"".join(varint(int(d)) for d in blob.shape)
            data = np.ascontiguousarray(blob, dtype="<f4").tobytes()
            layer += field(7, field(7, field(1, dims)) + field(5, data))
        net += field(100, layer)
    return bytes(net)
