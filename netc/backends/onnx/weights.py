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
    from netc.weights.sources import read_torch

    out = read_torch(path)
    if not out:
        raise NetcError.single(
            f"{path}: holds no state_dict (a table of tensors)",
            None,
            "save `model.state_dict()`, or a checkpoint dict with a 'state_dict' or 'model' entry",
        )
    return out
