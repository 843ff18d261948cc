"""ONNX backend: `build_model` turns the IR into an onnx.ModelProto (onnx.helper, no torch);
`save` writes it atomically, with external data past protobuf's 2 GB; `read_weights` reads a
state_dict (.pt/.pth, through torch) or, through `netc.weights`, a .caffemodel/.safetensors.

What each layer becomes is the layer type's knowledge (`LayerType.onnx_*` in netc/layers)."""

from __future__ import annotations

from netc.backends.onnx.builder import (
    BATCH,
    DEFAULT_OPSET,
    MIN_OPSET,
    PRODUCER,
    SEED,
    build_model,
    check_opset,
    max_opset,
)
from netc.backends.onnx.files import EXTERNAL_THRESHOLD, generated_by_netc, save
from netc.backends.onnx.weights import read_weights

__all__ = [
    "BATCH",
    "DEFAULT_OPSET",
    "EXTERNAL_THRESHOLD",
    "MIN_OPSET",
    "PRODUCER",
    "SEED",
    "build_model",
    "check_opset",
    "generated_by_netc",
    "max_opset",
    "read_weights",
    "save",
]
