"""Reading weights files into flat {name: numpy array} tables (no torch for non-torch formats).

- `.pt`, `.pth`, `.bin`: `torch.load(..., weights_only=True)` (no code runs from the file):
  a state_dict, or a checkpoint dict holding one under `state_dict` or `model`. A
  `module.` prefix on every key (DistributedDataParallel's) is removed.
- `.safetensors`: `safetensors.numpy.load_file` (no torch).
- `.npz`: numpy's archive of named arrays (what `netc.weights.save_npz` writes).
- `.caffemodel`: see `netc/weights/caffe.py` (layers and blobs, not a flat table).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
        return _torch(path)
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
        except TypeError:  # numpy has no bfloat16: widen those tensors to float32 ourselves
            return _safetensors_bf16(path)
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
    "I8": "i1", "U8": "u1", "BOOL": "?",
}  # fmt: skip


def _safetensors_bf16(path: Path) -> Arrays:
    """The safetensors layout read directly (an 8-byte little-endian header size, a JSON
    header of dtype/shape/data_offsets, the data); BF16 becomes float32 (its 16 high bits)."""
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
            shape = tuple(int(d) for d in info["shape"])
            if info["dtype"] == "BF16":
                half = np.frombuffer(raw[start:end], "<u2").astype(np.uint32) << 16
                out[name] = half.view(np.float32).reshape(shape)
            else:
                out[name] = np.frombuffer(
                    raw[start:end], _SAFETENSORS_DTYPES[info["dtype"]]
                ).reshape(shape)
        return out
    except (ValueError, KeyError, TypeError) as exc:
        raise NetcError.single(f"{path}: not a safetensors file netc can read ({exc})") from None


def _torch(path: Path) -> Arrays:
    import pickle

    try:
        import torch
    except ImportError:
        raise NetcError.single(
            f"{path}: reading a torch file needs torch", None, "pip install 'netc[torch]'"
        ) from None

    try:
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
    # numpy has no bfloat16: such tensors are widened to float32 (exactly)
    out = {
        str(k): (v.float() if v.dtype == torch.bfloat16 else v).detach().cpu().numpy()
        for k, v in data.items()
    }
    if out and all(k.startswith("module.") for k in out):  # saved from a DDP wrapper
        out = {k[len("module.") :]: v for k, v in out.items()}
    return out


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
