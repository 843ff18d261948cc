"""Caffe `.caffemodel` files: a binary `NetParameter`, read with the wire-format reader.

Only what weights need is decoded: each layer's name, type and blobs. Field numbers come from
netc's transcription of caffe.proto (`netc/proto/caffe_schema.py`); every other field is
skipped, so files written by forks with extra fields (MTCNN's) read as well as BVLC's.
Three layer formats exist: `layer` (LayerParameter, field 100, current), `layers`
(V1LayerParameter, field 2, with an enum type) and, inside a V1 layer, `layer`
(V0LayerParameter, the 2014 format, whose blobs are field 50).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from netc.diagnostics import NetcError
from netc.layers.base import lookup
from netc.proto.caffe_schema import CAFFE
from netc.weights import protobuf as pb


def _number(message: str, field: str) -> int:
    found = CAFFE.message(message).get(field)
    if found is None:  # a transcription error, not bad input
        raise AssertionError(f"caffe_schema has no {message}.{field}")
    return found.number


NET_LAYER = _number("NetParameter", "layer")  # 100
NET_LAYERS = _number("NetParameter", "layers")  # 2, legacy V1
NET_NAME = _number("NetParameter", "name")
LAYER_NAME = _number("LayerParameter", "name")
LAYER_TYPE = _number("LayerParameter", "type")
LAYER_BLOBS = _number("LayerParameter", "blobs")
V1_NAME = _number("V1LayerParameter", "name")
V1_TYPE = _number("V1LayerParameter", "type")
V1_BLOBS = _number("V1LayerParameter", "blobs")
V1_V0 = _number("V1LayerParameter", "layer")
V0_NAME = _number("V0LayerParameter", "name")
V0_TYPE = _number("V0LayerParameter", "type")
V0_BLOBS = _number("V0LayerParameter", "blobs")
BLOB_SHAPE = _number("BlobProto", "shape")
BLOB_DATA = _number("BlobProto", "data")
BLOB_DOUBLE = _number("BlobProto", "double_data")
BLOB_LEGACY = tuple(_number("BlobProto", f) for f in ("num", "channels", "height", "width"))
SHAPE_DIM = _number("BlobShape", "dim")


@dataclass
class CaffeLayer:
    """One layer of a .caffemodel: its name, canonical type (V1 enums and V0 strings mapped
    through netc's registry where known) and its blobs in Caffe's order."""

    name: str
    type: str
    blobs: list[NDArray[np.float32]]


def read_caffemodel(path: str | Path) -> tuple[str, list[CaffeLayer]]:
    """The network name and layers of a .caffemodel (NetcError if it is not one)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise NetcError.single(f"{p}: cannot read ({exc.strerror or exc})") from None
    try:
        return parse_net(memoryview(data))
    except pb.WireError as exc:
        raise NetcError.single(
            f"{p}: not a Caffe .caffemodel ({exc})",
            None,
            "a .caffemodel is a binary NetParameter written by Caffe's snapshot",
        ) from None


def parse_net(buf: memoryview) -> tuple[str, list[CaffeLayer]]:
    name = ""
    layers: list[CaffeLayer] = []
    for record in pb.records(buf):
        if record.number == NET_NAME and record.wire == pb.LENGTH:
            name = pb.text(record)
        elif record.number == NET_LAYER and record.wire == pb.LENGTH:
            layers.append(_layer(record.bytes(), LAYER_NAME, LAYER_TYPE, LAYER_BLOBS))
        elif record.number == NET_LAYERS and record.wire == pb.LENGTH:
            layers.append(_v1_layer(record.bytes()))
    if not layers and not name:
        raise pb.WireError("no layers and no name")
    return name, layers


def _layer(buf: memoryview, name_no: int, type_no: int, blobs_no: int) -> CaffeLayer:
    fields = pb.group(buf)
    name = pb.text(fields[name_no][-1]) if name_no in fields else ""
    kind = pb.text(fields[type_no][-1]) if type_no in fields else ""
    registered = lookup(kind)
    blobs = [_blob(r.bytes(), name, i) for i, r in enumerate(fields.get(blobs_no, []))]
    return CaffeLayer(name, registered.type if registered else kind, blobs)


def _v1_layer(buf: memoryview) -> CaffeLayer:
    fields = pb.group(buf)
    if V1_V0 in fields:  # a V0 layer wrapped in a V1 one (Caffe before 2014)
        return _layer(fields[V1_V0][-1].bytes(), V0_NAME, V0_TYPE, V0_BLOBS)
    name = pb.text(fields[V1_NAME][-1]) if V1_NAME in fields else ""
    kind = ""
    if V1_TYPE in fields:
        number = fields[V1_TYPE][-1].int()
        enum = CAFFE.enum("V1LayerParameter.LayerType").by_number(number) or str(number)
        registered = lookup(enum)
        kind = registered.type if registered else enum
    blobs = [_blob(r.bytes(), name, i) for i, r in enumerate(fields.get(V1_BLOBS, []))]
    return CaffeLayer(name, kind, blobs)


def _blob(buf: memoryview, layer: str, index: int) -> NDArray[np.float32]:
    fields = pb.group(buf)
    if BLOB_SHAPE in fields:
        shape = tuple(pb.ints(pb.group(fields[BLOB_SHAPE][-1].bytes()).get(SHAPE_DIM, [])))
    elif any(n in fields for n in BLOB_LEGACY):
        # Caffe's Blob::FromProto: legacy blobs are always 4-D, missing dimensions are 0
        shape = tuple(fields[n][-1].int() if n in fields else 0 for n in BLOB_LEGACY)
    else:
        shape = ()
    if BLOB_DATA in fields:
        values = pb.floats(fields[BLOB_DATA])
    elif BLOB_DOUBLE in fields:
        values = pb.doubles(fields[BLOB_DOUBLE]).astype(np.float32)
    else:
        values = np.zeros(0, np.float32)
    if not shape and values.size:
        shape = (values.size,)
    if any(d < 0 for d in shape) or math.prod(shape) != values.size:
        raise pb.WireError(
            f'layer "{layer}" blob {index}: shape {list(shape)} holds {math.prod(shape)} values, '
            f"the file has {values.size}"
        )
    return values.reshape(shape)
