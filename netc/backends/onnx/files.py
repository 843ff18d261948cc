"""Writing a model: atomically, and with its tensors in a side file past protobuf's 2 GB."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

from netc.util.files import staging_dir, write_atomic

if TYPE_CHECKING:
    import onnx

#: Protobuf refuses messages of 2 GiB; past this many bytes of initializers (with room left for
#: the graph itself) the tensors go to `<model>.data` beside the model.
EXTERNAL_THRESHOLD = 2**31 - 2**26

# ModelProto's first fields, in field order as protobuf writes them: ir_version (1, a varint)
# then producer_name (2, length-delimited): b"\x12\x04netc" is producer_name "netc".
_PRODUCER_FIELD = b"\x12\x04netc"


def generated_by_netc(path: Path) -> bool:
    """Whether an existing file is a model netc wrote (its producer_name), read from its first
    bytes, without onnx."""
    try:
        with path.open("rb") as handle:
            head = handle.read(64)
    except OSError:
        return False
    return head[:1] == b"\x08" and _PRODUCER_FIELD in head[:16]


def data_path(path: Path) -> Path:
    """Where a model's external data goes: `model.onnx.data` beside `model.onnx`."""
    return path.with_name(path.name + ".data")


def initializer_bytes(model: onnx.ModelProto) -> int:
    """The initializers' data size, from their shapes (netc writes float32 and int64 only);
    reading raw_data would copy every tensor out of the message."""
    sizes = {1: 4, 7: 8}  # TensorProto.FLOAT, TensorProto.INT64
    return sum(math.prod(t.dims) * sizes.get(t.data_type, 8) for t in model.graph.initializer)


def save(model: onnx.ModelProto, path: Path, *, threshold: int = EXTERNAL_THRESHOLD) -> list[Path]:
    """Write `model` to `path` through a temporary file and a rename; with more than
    `threshold` bytes of initializers, the tensors go to `<path>.data` (one file, renamed into
    place before the model that refers to it). Returns the files written."""
    if initializer_bytes(model) <= threshold:
        write_atomic(path, model.SerializeToString())
        return [path]
    import onnx

    target = data_path(path)
    with staging_dir(path) as tmp:
        staged = tmp / path.name
        # onnx writes the data file named by `location` beside the model it saves
        onnx.save_model(
            model,
            staged,
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=target.name,
            size_threshold=1024,
        )
        mode = _mode(path)
        for staged_file, final in ((tmp / target.name, target), (staged, path)):
            os.chmod(staged_file, mode)
            os.replace(staged_file, final)
    return [target, path]


def _mode(path: Path) -> int:
    """An existing file's permissions, else what open() would give a new one."""
    if path.exists():
        return path.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
