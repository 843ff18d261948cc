"""Reading weights files into flat {name: numpy array} tables (no torch for non-torch formats).

- `.pt`, `.pth`, `.bin`: `torch.load(..., weights_only=True)` (no code runs from the file):
  a state_dict, or a checkpoint dict holding one under `state_dict` or `model`. A
  `module.` prefix on every key (DistributedDataParallel's) is removed.
- `.safetensors`: `safetensors.numpy.load_file` (no torch).
- `.npz`: numpy's archive of named arrays (what `netc.weights.save_npz` writes).
- `.caffemodel`: see `netc/weights/caffe.py` (layers and blobs, not a flat table).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from netc.diagnostics import NetcError

TORCH_SUFFIXES = (".pt", ".pth", ".bin")
FORMATS = ".caffemodel, .pt, .pth, .bin, .safetensors, .npz"

Arrays = dict[str, NDArray[Any]]


def kind_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".caffemodel":
        return "caffe"
    if suffix in TORCH_SUFFIXES:
        return "torch"
    if suffix == ".safetensors":
        return "safetensors"
    if suffix == ".npz":
        return "npz"
    raise NetcError.single(
        f"{path}: unknown weights format {suffix or '(no suffix)'}",
        None,
        f"netc reads {FORMATS}",
    )


def check_file(path: Path) -> None:
    if not path.exists():
        raise NetcError.single(f"{path}: no such file", None, "check the weights path")
    if not path.is_file():
        raise NetcError.single(f"{path}: not a file", None, f"give a weights file ({FORMATS})")


def read_flat(path: Path) -> Arrays:
    """A torch, safetensors or npz file as {key: array}."""
    kind = kind_of(path)
    check_file(path)
    if kind == "torch":
        return read_torch(path)
    if kind == "safetensors":
        try:
            from safetensors import SafetensorError
            from safetensors.numpy import load_file
        except ImportError:
            raise NetcError.single(
                f"{path}: reading .safetensors needs the safetensors package",
                None,
                "pip install 'netc[train]'",
            ) from None

        try:
            arrays = dict(load_file(str(path)))
        except (TypeError, AttributeError):  # numpy has no bfloat16/float8: widen them ourselves
            return _safetensors_raw(path)
        except (SafetensorError, OSError, ValueError) as exc:
            raise NetcError.single(f"{path}: not a safetensors file ({exc})") from None
        # once ml_dtypes is imported (onnx does), numpy knows bfloat16 and safetensors returns
        # it: widen it all the same, so the result never depends on what was imported before
        return {
            k: v.astype(np.float32) if v.dtype.name == "bfloat16" else v for k, v in arrays.items()
        }
    if kind == "npz":
        return _npz(path)
    raise AssertionError(kind)


# An .npz of weights barely compresses (float32 noise); past this ratio it is a zip bomb.
NPZ_MAX_RATIO = 64
NPZ_MIN_BUDGET = 256 * 1024 * 1024  # what any archive may unpack to, whatever its ratio


def _npz(path: Path) -> Arrays:
    """numpy's archive, its members checked before any is decompressed: .npy files only, and
    no more bytes unpacked than a weights file can plausibly hold (a zip bomb is refused)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise NetcError.single(f"{path}: not a numpy .npz archive ({exc})") from None
    foreign = [m.filename for m in members if not m.filename.endswith(".npy")]
    if foreign:
        raise NetcError.single(
            f"{path}: the archive holds {foreign[0]!r}, not a .npy array",
            None,
            "an .npz of weights holds one .npy array per state_dict key (numpy.savez)",
        )
    unpacked = sum(m.file_size for m in members)
    budget = max(NPZ_MIN_BUDGET, NPZ_MAX_RATIO * path.stat().st_size)
    if unpacked > budget:
        raise NetcError.single(
            f"{path}: unpacks to {unpacked:,} bytes from {path.stat().st_size:,} "
            f"(over {budget:,}): refused as a zip bomb",
            None,
            "weights barely compress; write them with numpy.savez, not a compressor",
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (OSError, ValueError, EOFError) as exc:
        raise NetcError.single(f"{path}: not a numpy .npz archive ({exc})") from None
    for key, array in arrays.items():
        if array.dtype.kind not in "fiub":  # complex, strings, objects: not weights
            raise NetcError.single(
                f"{path}: {key!r} is {array.dtype} data, not real numbers",
                None,
                "weights are float (or integer) arrays; a complex array would lose its "
                "imaginary part",
            )
    return arrays


_SAFETENSORS_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
    "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}  # fmt: skip


def _float8_table(exponent_bits: int, finite_only: bool) -> NDArray[np.float32]:
    """The float32 value of each of the 256 codes of an 8-bit float (OCP FP8: E4M3 has no
    infinities and one NaN pattern per sign, E5M2 follows IEEE 754)."""
    mantissa_bits = 7 - exponent_bits
    bias = (1 << (exponent_bits - 1)) - 1
    top = (1 << exponent_bits) - 1
    codes = np.arange(256)
    sign = np.where(codes >> 7, -1.0, 1.0)
    exponent = (codes >> mantissa_bits) & top
    mantissa = (codes & ((1 << mantissa_bits) - 1)) / (1 << mantissa_bits)
    values = np.where(
        exponent == 0,
        mantissa * 2.0 ** (1 - bias),  # subnormal
        (1 + mantissa) * 2.0 ** (exponent - bias),
    )
    if finite_only:  # E4M3FN: only all-ones (exponent and mantissa) is NaN
        values = np.where((codes & 0x7F) == 0x7F, np.nan, values)
    else:
        values = np.where(exponent == top, np.where(mantissa == 0, np.inf, np.nan), values)
    return (sign * values).astype(np.float32)


def _bf16(raw: bytes) -> NDArray[np.float32]:
    """bfloat16 is float32's high half: shifting it up is exact."""
    return (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)


_WIDENED: dict[str, Callable[[bytes], NDArray[np.float32]]] = {
    "BF16": _bf16,
    "F8_E4M3": lambda raw: _float8_table(4, True)[np.frombuffer(raw, np.uint8)],
    "F8_E5M2": lambda raw: _float8_table(5, False)[np.frombuffer(raw, np.uint8)],
}


def _safetensors_raw(path: Path) -> Arrays:
    """The safetensors layout read directly (an 8-byte little-endian header size, a JSON
    header of dtype/shape/data_offsets, the data), for the dtypes numpy lacks: bfloat16 and
    float8 become float32, which holds each of their values exactly."""
    import json

    raw = path.read_bytes()
    try:
        size = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8 : 8 + size])
        out: Arrays = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            start, end = (8 + size + int(o) for o in info["data_offsets"])
            if not 8 + size <= start <= end <= len(raw):
                raise ValueError(f"{name}: data_offsets outside the file")
            shape = tuple(int(d) for d in info["shape"])
            kind = str(info["dtype"])
            if kind in _WIDENED:
                values = _WIDENED[kind](raw[start:end])
            elif kind in _SAFETENSORS_DTYPES:
                values = np.frombuffer(raw[start:end], _SAFETENSORS_DTYPES[kind])
            else:
                raise NetcError.single(
                    f"{path}: {name!r} has dtype {kind}, which netc cannot read",
                    None,
                    "save the weights as float32, float16 or bfloat16",
                )
            out[name] = values.reshape(shape)
        return out
    except (ValueError, KeyError, TypeError) as exc:
        raise NetcError.single(f"{path}: not a safetensors file netc can read ({exc})") from None


def read_torch(path: Path) -> Arrays:
    """A torch file's state_dict as {key: array} (weights_only: no code from the file runs)."""
    import pickle
    import warnings

    try:
        import torch
    except ImportError:
        raise NetcError.single(
            f"{path}: reading a torch file needs torch", None, "pip install 'netc[torch]'"
        ) from None

    try:
        with warnings.catch_warnings():  # a file that is no checkpoint warns before it fails
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NetcError.single(
            f"{path}: cannot load as a torch state_dict ({first})",
            None,
            "netc loads tensors only (weights_only=True); save `model.state_dict()`",
        ) from None
    if isinstance(data, Mapping):
        for entry in ("state_dict", "model"):
            inner = data.get(entry)
            if isinstance(inner, Mapping) and inner and _all_tensors(inner):
                data = inner
                break
    if not isinstance(data, Mapping) or not _all_tensors(data):
        raise NetcError.single(
            f"{path}: holds no state_dict (a table of tensors)",
            None,
            "save `model.state_dict()`, or a checkpoint dict with a 'state_dict' or 'model' entry",
        )
    out = {str(k): _tensor_array(path, str(k), v) for k, v in data.items()}
    if out and all(k.startswith("module.") for k in out):  # saved from a DDP wrapper
        out = {k[len("module.") :]: v for k, v in out.items()}
    return out


# A sparse tensor is densified only up to this many bytes, or this many times the file's size:
# past that it is a "sparse bomb" (a tiny file whose dense form exhausts memory).
DENSE_MIN_BUDGET = 256 * 1024 * 1024
DENSE_MAX_RATIO = 64


def _tensor_array(path: Path, key: str, tensor: Any) -> NDArray[Any]:
    """A tensor's values as a numpy array, exactly where numpy can hold them: sparse tensors
    densified, quantized ones dequantized, bfloat16 and float8 widened to float32."""
    import torch

    def refuse(what: str, hint: str) -> NetcError:
        return NetcError.single(f"{path}: {key!r} {what}", None, hint)

    if tensor.is_meta:
        raise refuse("is a meta tensor: it has a shape but no values", "save real weights")
    if tensor.layout != torch.strided:
        dense = tensor.numel() * tensor.element_size()
        budget = max(DENSE_MIN_BUDGET, DENSE_MAX_RATIO * path.stat().st_size)
        if dense > budget:
            raise refuse(
                f"is sparse and would take {dense:,} bytes dense (over {budget:,})",
                "a weights file holds dense tensors; save them with .to_dense()",
            )
        tensor = tensor.to_dense()
    if tensor.is_quantized:
        tensor = tensor.dequantize()
    if tensor.dtype.is_floating_point and str(tensor.dtype) not in _NUMPY_FLOATS:
        tensor = tensor.float()  # bfloat16, float8: float32 holds each value exactly
    try:
        return cast("NDArray[Any]", tensor.detach().cpu().numpy())
    except (TypeError, RuntimeError, NotImplementedError) as exc:
        raise refuse(
            f"holds {tensor.dtype} values netc cannot read ({exc})",
            "save float weights (model.float().state_dict())",
        ) from None


_NUMPY_FLOATS = frozenset(("torch.float16", "torch.float32", "torch.float64"))


def _all_tensors(table: Mapping[Any, Any]) -> bool:
    import torch

    return all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in table.items())


def save_npz(path: str | Path, arrays: Mapping[str, NDArray[Any]]) -> None:
    """Write arrays as an .npz (atomically; numpy's format, readable without netc)."""
    import io

    from netc.util.files import write_atomic

    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **dict(arrays))
    write_atomic(path, buffer.getvalue())
