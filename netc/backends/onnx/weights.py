"""Weights for `netc build --target onnx --weights FILE`, keyed by the generated torch module's
state_dict keys.

- `.pt`/`.pth`: a state_dict (or a checkpoint dict holding one under `state_dict`/`model`) of
  that module, read with `torch.load(weights_only=True)`: no code from the file runs. This is
  the only path that imports torch.
- Anything else (`.caffemodel`, `.safetensors`, `.npz`): `netc.weights.read_weights`, which
  matches Caffe's layers and blobs to the same keys.

The arrays are checked against the network when the model is built (`build_model`), which
names the layer of a missing or misshapen tensor.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netc.diagnostics import NetcError

if TYPE_CHECKING:
    from netc.ir.graph import Graph

TORCH_SUFFIXES = (".pt", ".pth")


def read_weights(path: Path, graph: Graph) -> dict[str, Any]:
    """{state_dict key: numpy array} from a weights file (see the module docstring)."""
    if not path.exists():
        raise NetcError.single(f"{path}: no such file", None, "check the --weights path")
    if not path.is_file():
        raise NetcError.single(f"{path}: not a file", None, "give a weights file")
    if path.suffix.lower() in TORCH_SUFFIXES:
        return _state_dict(path)
    try:
        from netc.weights import read_weights as read_other
    except ImportError:
        raise NetcError.single(
            f"{path}: netc reads .pt/.pth state_dicts here",
            None,
            "save the generated torch module's state_dict() as a .pt file",
        ) from None
    return dict(read_other(path, graph))


def _state_dict(path: Path) -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        raise NetcError.single(
            f"{path}: reading a .pt/.pth file needs torch",
            None,
            "install torch (pip install 'netc[torch]'), or convert the weights to .safetensors",
        ) from None
    try:
        with warnings.catch_warnings():  # a file that is no checkpoint warns before it fails
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise NetcError.single(
            f"{path}: cannot load as a torch state_dict ({first})",
            None,
            "netc loads tensors only (weights_only=True); save `model.state_dict()`",
        ) from None
    if isinstance(data, Mapping):
        for entry in ("state_dict", "model"):
            inner = data.get(entry)
            if isinstance(inner, Mapping) and inner and _tensors(inner, torch.Tensor):
                data = inner
                break
    if not isinstance(data, Mapping) or not data or not _tensors(data, torch.Tensor):
        raise NetcError.single(
            f"{path}: holds no state_dict (a table of tensors)",
            None,
            "save `model.state_dict()`, or a checkpoint dict with a 'state_dict' or 'model' entry",
        )
    out = {str(k): v.detach().cpu().numpy() for k, v in data.items()}
    if all(k.startswith("module.") for k in out):  # saved from a DistributedDataParallel wrapper
        out = {k[len("module.") :]: v for k, v in out.items()}
    return out


def _tensors(table: Mapping[Any, Any], tensor: type) -> bool:
    return all(isinstance(k, str) and isinstance(v, tensor) for k, v in table.items())
