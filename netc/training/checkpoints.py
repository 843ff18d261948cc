"""A run's folder: its checkpoint, metrics and final weights, written so nothing is ever half
there.

    RUNDIR/
      config.json      the run's settings (what --resume checks it continues)
      checkpoint.pt    after every epoch: model, optimizer, AMP scaler, epoch, every rank's RNG
                       states, the data-order seed and the metrics so far
      metrics.jsonl    one JSON object per epoch (rewritten from the checkpoint on --resume)
      model.pt         the final state_dict (torch.load(..., weights_only=True); --weights)

Each file is written to a temporary file in RUNDIR, flushed to disk and renamed over the old
one, so a run killed at any instant leaves the previous complete file. (torch is imported
where it is used: the command line checks the folder before paying for it.)
"""

from __future__ import annotations

import errno
import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from netc.util.files import write_atomic, write_stream

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"
CONFIG = "config.json"
FINAL = "model.pt"
FORMAT = "netc-train-checkpoint"
VERSION = 1

# Settings a resumed run must share with the run it continues (--epochs may grow; the device,
# AMP on a different device, and the number of processes may change).
RESUME_KEYS = (
    "spec_sha256",
    "data",
    "labels_per_class",
    "weights",
    "batch",
    "lr",
    "optimizer",
    "momentum",
    "weight_decay",
    "seed",
    "amp",
)


class RunDirError(Exception):
    """The run folder cannot be used as asked (exists, does not match, unreadable)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def check_run_dir(out: Path, *, resume: bool, force: bool) -> bool:
    """Whether a checkpoint will be resumed; refuses to start over an existing run unless
    --force (a run's checkpoint is never overwritten by accident)."""
    if out.exists() and not out.is_dir():
        raise RunDirError(f"{out} exists and is not a folder", "give --out a folder name")
    if resume and (out / CHECKPOINT).exists():
        return True
    # any file a run writes: a folder that holds one of them is never written over unasked
    # (--resume before the first checkpoint: a run killed in its first epoch starts again)
    names = (FINAL,) if resume else (CHECKPOINT, METRICS, FINAL, CONFIG)
    present = [name for name in names if (out / name).exists()]
    if present and not force:
        what = "a run" if (out / CHECKPOINT).exists() else f"{', '.join(present)} (no checkpoint)"
        raise RunDirError(
            f"{out} holds {what}",
            "pass --resume to continue a run, --force to start over, or another --out"
            if what == "a run"
            else "pass --force to replace them, or give another --out",
        )
    return False


def _write_stream(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Atomically write `path` by streaming into a temporary file beside it (one left by a
    killed run is removed by the next write)."""
    write_stream(path, write)


def save_torch(path: Path, obj: object) -> None:
    import torch

    try:
        _write_stream(path, lambda handle: torch.save(obj, handle))
    except RuntimeError as exc:  # torch's writer reports a full disk or I/O error this way
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OSError(errno.EIO, f"could not write the checkpoint ({reason})", str(path)) from None


def load_checkpoint(path: Path) -> dict[str, Any]:
    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say so, not a traceback
        raise RunDirError(f"{path}: not a readable checkpoint ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RunDirError(f"{path}: not a netc train checkpoint")
    if data.get("version") != VERSION:
        raise RunDirError(f"{path}: checkpoint version {data.get('version')} (expected {VERSION})")
    return data


def check_resumable(saved: dict[str, Any], config: dict[str, Any]) -> None:
    """A checkpoint continues only the run it came from."""
    different = [k for k in RESUME_KEYS if saved.get(k) != config.get(k)]
    if different:
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {config.get(k)!r}" for k in different)
        raise RunDirError(
            f"--resume: the checkpoint was made with other settings ({details})",
            "resume with the original settings, or start a new run with another --out",
        )


def write_config(out: Path, config: dict[str, Any]) -> None:
    write_atomic(out / CONFIG, json.dumps(config, indent=2, sort_keys=True) + "\n")


def append_metrics(out: Path, record: dict[str, Any]) -> None:
    """One line, appended and flushed (the checkpoint that follows holds it too)."""
    with (out / METRICS).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def rewrite_metrics(out: Path, history: list[dict[str, Any]]) -> None:
    """metrics.jsonl as the checkpoint knows it: a line the killed run wrote after its last
    checkpoint is dropped, as that epoch runs again."""
    write_atomic(out / METRICS, "".join(json.dumps(r) + "\n" for r in history))


# ---- RNG states ---------------------------------------------------------------------------


def rng_state(cuda: bool) -> dict[str, Any]:
    """This process's random states, in forms torch.load(weights_only=True) accepts."""
    import torch

    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if cuda:
        state["cuda"] = torch.cuda.get_rng_state_all()
    try:
        import numpy as np
    except ImportError:  # numpy is only needed by some data sets
        return state
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state["numpy"] = {
        "kind": str(kind),
        "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached": float(cached),
    }
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "numpy" in state:
        import numpy as np

        saved = state["numpy"]
        np.random.set_state(
            (
                saved["kind"],
                saved["keys"].numpy().astype(np.uint32),
                saved["pos"],
                saved["has_gauss"],
                saved["cached"],
            )
        )
