"""Per-epoch metrics (summed over ranks) and what a person sees while a run goes.

One JSON object per epoch goes to RUNDIR/metrics.jsonl:

    {"epoch": 3, "train_loss": 0.41, "train_acc": 0.87, "test_loss": 0.52, "test_acc": 0.84,
     "lr": 0.01, "seconds": 1.9, "train_seconds": 0.4, "train_samples": 100,
     "test_samples": 1697, "world_size": 1}

`seconds` is the epoch's wall time (training and evaluation), `train_seconds` the
training steps alone. Losses are means of the per-sample cross-entropy, accuracies fractions of samples, over the
whole epoch and every rank; `test_*` are null in an epoch without evaluation (`--eval-every`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

import torch

from netc.training.distributed import Context, sum_across


@dataclass
class Tally:
    """Running sums of one pass: loss × samples, correct predictions, samples."""

    loss_sum: float = 0.0
    correct: float = 0.0
    count: float = 0.0
    _pending: list[torch.Tensor] = field(default_factory=list)

    def add(self, loss: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> None:
        n = labels.shape[0]
        # kept on the device and summed once per epoch: no host sync each step
        self._pending.append(
            torch.stack(
                [
                    loss.detach().double() * n,
                    (logits.detach().argmax(1) == labels).sum().double(),
                ]
            )
        )
        self.count += n

    def total(self, ctx: Context) -> tuple[float, float, int]:
        """(mean loss, accuracy, samples) over every rank."""
        if self._pending:
            sums = torch.stack(self._pending).sum(0).cpu().tolist()
            self.loss_sum += sums[0]
            self.correct += sums[1]
            self._pending.clear()
        loss_sum, correct, count = sum_across([self.loss_sum, self.correct, self.count], ctx)
        if count == 0:
            return float("nan"), float("nan"), 0
        return loss_sum / count, correct / count, round(count)


def epoch_record(
    epoch: int,
    train: tuple[float, float, int],
    test: tuple[float, float, int] | None,
    lr: float,
    seconds: float,
    train_seconds: float,
    world_size: int,
) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "train_loss": train[0],
        "train_acc": train[1],
        "test_loss": test[0] if test else None,
        "test_acc": test[1] if test else None,
        "lr": lr,
        "seconds": round(seconds, 4),
        "train_seconds": round(train_seconds, 4),
        "train_samples": train[2],
        "test_samples": test[2] if test else None,
        "world_size": world_size,
    }


def summary_line(record: dict[str, Any], epochs: int) -> str:
    width = len(str(epochs))
    text = (
        f"epoch {record['epoch']:>{width}}/{epochs}  "
        f"train loss {record['train_loss']:.4f} acc {record['train_acc']:.4f}"
    )
    if record["test_acc"] is not None:
        text += f"  test loss {record['test_loss']:.4f} acc {record['test_acc']:.4f}"
    return text + f"  {record['seconds']:.1f}s"


class Progress:
    """A rich progress bar on a terminal (rank 0 only); nothing between epoch lines otherwise,
    so logs stay plain lines."""

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()

    @contextmanager
    def epoch(self, label: str, total: int) -> Iterator[ProgressTask]:
        if not self.enabled:
            yield ProgressTask(None, None)
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=self.stream),
            transient=True,
        )
        with bar:
            task = bar.add_task(label, total=total, loss="-")
            yield ProgressTask(bar, task)


@dataclass
class ProgressTask:
    bar: Any
    task: Any

    def advance(self, loss: torch.Tensor | None = None, every: int = 1, step: int = 0) -> None:
        if self.bar is None:
            return
        fields: dict[str, str] = {}
        if loss is not None and step % every == 0:  # .item() syncs a GPU: not every step
            fields["loss"] = f"{loss.item():.4f}"
        self.bar.update(self.task, advance=1, **fields)
