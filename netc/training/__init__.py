"""Fine-tuning generated modules: `netc train` (loop, checkpoints, metrics, torchrun/DDP).

`train` and `TrainResult` import torch when first used; the settings, the run-folder checks and
the classifier view do not need it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netc.training.checkpoints import RunDirError
from netc.training.config import TrainConfig, TrainError
from netc.training.model import ClassifierView, classifier_view

if TYPE_CHECKING:
    from netc.training.loop import TrainResult, train

__all__ = [
    "ClassifierView",
    "RunDirError",
    "TrainConfig",
    "TrainError",
    "TrainResult",
    "classifier_view",
    "train",
]


def __getattr__(name: str) -> Any:
    if name in ("train", "TrainResult"):
        from netc.training import loop

        return getattr(loop, name)
    raise AttributeError(f"module 'netc.training' has no attribute {name!r}")
