"""`netc train SPEC --data DIR|digits|mnist ...`: fine-tune a spec's generated module.

Run in one process, or under torchrun for several (`torchrun --nproc_per_node 2 -m netc train
...`); docs/training.md describes the run folder, --resume and the metrics.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer


def register(app: typer.Typer) -> None:
    """Add `netc train` to `app`."""
    app.command(name="train")(train)


def train(
    spec: Annotated[
        Path, typer.Argument(help="The network to train (.net or .prototxt).", show_default=False)
    ],
    data: Annotated[
        str,
        typer.Option(
            "--data",
            help="A folder with one sub-folder per class, digits or mnist.",
            show_default=False,
        ),
    ],
    epochs: Annotated[
        int, typer.Option("--epochs", help="Epochs to train (in all, with --resume).")
    ] = 10,
    batch: Annotated[
        int, typer.Option("--batch", help="Global batch size (split over torchrun's processes).")
    ] = 32,
    lr: Annotated[
        float, typer.Option("--lr", help="Base learning rate (× each blob's lr_mult).")
    ] = 0.01,
    weights: Annotated[
        Path | None,
        typer.Option("--weights", help="Initial weights: .pt/.pth, .safetensors or .caffemodel."),
    ] = None,
    optimizer: Annotated[str, typer.Option("--optimizer", help="sgd or adamw.")] = "sgd",
    momentum: Annotated[float, typer.Option("--momentum", help="SGD momentum.")] = 0.9,
    weight_decay: Annotated[
        float, typer.Option("--weight-decay", help="Weight decay (× each blob's decay_mult).")
    ] = 0.0,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    amp: Annotated[
        bool,
        typer.Option("--amp", help="Mixed precision: fp16 + loss scaling on CUDA, bf16 on CPU."),
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Initial weights, data order and split.")] = 0,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --out from its last checkpoint.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Start over in an --out that holds a run.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="The run folder (default runs/SPEC-NAME).")
    ] = None,
    labels_per_class: Annotated[
        int | None,
        typer.Option("--labels-per-class", help="Train on K labelled samples per class."),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="DataLoader worker processes.")] = 0,
    eval_every: Annotated[
        int, typer.Option("--eval-every", help="Evaluate every N epochs (0: after the last only).")
    ] = 1,
) -> None:
    """Fine-tune a network on a classification data set (checkpoints, metrics, --resume, torchrun)."""
    from netc.cli.app import EXIT_INVALID, EXIT_USAGE, fail
    from netc.diagnostics import NetcError

    if resume and force:
        _error("--resume and --force contradict each other", EXIT_USAGE)
    if weights is not None and not weights.is_file():
        _error(f"--weights {weights}: no such file", EXIT_INVALID)
    from netc.training.checkpoints import RunDirError, check_run_dir
    from netc.training.config import TrainConfig, TrainError
    from netc.training.model import classifier_view, load_graph

    config = TrainConfig(
        spec=str(spec),
        data=data,
        epochs=epochs,
        batch=batch,
        lr=lr,
        weights=str(weights) if weights is not None else None,
        optimizer=optimizer,
        momentum=momentum,
        weight_decay=weight_decay,
        device=device,
        amp=amp,
        seed=seed,
        labels_per_class=labels_per_class,
        workers=workers,
        eval_every=eval_every,
        out=str(out if out is not None else Path("runs") / spec.stem),
        resume=resume,
        force=force,
    )
    # What can be checked without torch is checked first: a mistake costs no torch import.
    try:
        config.validate()
        check_run_dir(Path(config.out or "."), resume=resume, force=force)
        classifier_view(load_graph(spec))
    except TrainError as exc:
        _error(str(exc), EXIT_USAGE, exc.hint)
    except RunDirError as exc:
        _error(str(exc), EXIT_USAGE, exc.hint)
    except NetcError as error:
        fail(error)
    try:
        from netc.training.loop import limit_threads
        from netc.training.loop import train as run
    except ImportError as exc:  # torch is an optional dependency
        _error(
            f"netc train needs torch ({exc.name} is not installed)",
            EXIT_INVALID,
            "pip install 'netc[train]'",
        )
    limit_threads()
    try:
        run(config, log=print)
    except NetcError as error:
        fail(error)
    except RunDirError as exc:
        _error(str(exc), EXIT_USAGE, exc.hint)
    except TrainError as exc:
        _error(str(exc), EXIT_INVALID, exc.hint)
    except OSError as exc:  # an unreadable data or weights file, a full disk
        _error(str(exc), EXIT_INVALID)
    except RuntimeError as exc:
        if "cuda" in str(exc).lower():
            _error(str(exc), EXIT_INVALID, "use --device cpu (or auto)")
        raise


def _error(message: str, code: int, hint: str | None = None) -> NoReturn:
    print(f"netc: error: {message}", file=sys.stderr)
    if hint:
        print(f"  hint: {hint}", file=sys.stderr)
    raise typer.Exit(code)
