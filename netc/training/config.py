"""The settings of a `netc train` run (no torch import: the command line checks them first)."""

from __future__ import annotations

import math
from dataclasses import dataclass

OPTIMIZERS = ("sgd", "adamw")
DEVICES = ("auto", "cpu", "cuda")


class TrainError(Exception):
    """A run that cannot start or continue, for a reason the user can fix."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass
class TrainConfig:
    spec: str
    data: str
    epochs: int
    batch: int  # the global batch: split over the processes of a torchrun
    lr: float
    weights: str | None = None
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 0.0
    device: str = "auto"
    amp: bool = False
    seed: int = 0
    labels_per_class: int | None = None
    workers: int = 0
    eval_every: int = 1
    out: str | None = None  # None: no run folder (nothing written; for experiments in-process)
    resume: bool = False
    force: bool = False

    def validate(self) -> None:
        if self.epochs < 1:
            raise TrainError("--epochs must be at least 1")
        if self.batch < 1:
            raise TrainError("--batch must be at least 1")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise TrainError("--lr must be a positive number")
        if self.optimizer not in OPTIMIZERS:
            raise TrainError(f"--optimizer {self.optimizer!r}: expected one of sgd, adamw")
        if self.device not in DEVICES:
            raise TrainError(f"--device {self.device!r}: expected one of auto, cpu, cuda")
        if self.momentum < 0 or self.weight_decay < 0:
            raise TrainError("--momentum and --weight-decay must not be negative")
        if self.labels_per_class is not None and self.labels_per_class < 1:
            raise TrainError("--labels-per-class must be at least 1")
        if self.workers < 0:
            raise TrainError("--workers must not be negative")
        if self.eval_every < 0:
            raise TrainError("--eval-every must not be negative (0: only after the last epoch)")
