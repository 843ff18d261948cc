"""`netc features SPEC --layer fc7 --weights W --data SRC -o feats.npy`: activations of a layer.

Writes the features as an N×... float32 array and the labels beside them: `feats.npy` plus
`feats.labels.npy` (int64), or one `feats.npz` holding `features`, `labels` and `classes`.
Existing outputs are kept unless `--force`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add `netc features` to `app`."""
    app.command(name="features")(features)


def outputs_for(output: Path) -> list[Path]:
    """The files `-o` names: one .npz, or the .npy and its `.labels.npy` sibling."""
    if output.suffix.lower() == ".npz":
        return [output]
    return [output, output.with_name(output.stem + ".labels.npy")]


def features(
    spec: Annotated[
        Path, typer.Argument(help="A network (.net or .prototxt).", show_default=False)
    ],
    layer: Annotated[
        str, typer.Option("--layer", "-l", help="A layer name (its output) or a blob name.")
    ],
    data: Annotated[
        str,
        typer.Option("--data", "-d", help="mnist, mnist:DIR, digits, or an image folder."),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="feats.npy (+ feats.labels.npy) or feats.npz.")
    ],
    weights: Annotated[
        Path | None,
        typer.Option("--weights", "-w", help=".caffemodel, .pt/.pth, .safetensors or .npz."),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option("--mapping", help="A JSON/YAML name mapping for the weights."),
    ] = None,
    split: Annotated[str, typer.Option("--split", help="train or test.")] = "test",
    labels_per_class: Annotated[
        int | None,
        typer.Option("--labels-per-class", help="Samples per class in the train split."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the per-class choice.")] = 0,
    scale: Annotated[
        float | None,
        typer.Option("--scale", help="Pixel factor (default 1/256 for 8-bit images)."),
    ] = None,
    mean: Annotated[
        str | None,
        typer.Option(
            "--mean",
            help="Subtracted after scaling: one value or one per channel, e.g. 104,117,123.",
        ),
    ] = None,
    batch: Annotated[int, typer.Option("--batch", "-b", help="Images per forward pass.")] = 64,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda or auto.")] = "cpu",
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing outputs.")] = False,
) -> None:
    """Save the activations of a layer over a dataset (DeCAF-style off-the-shelf features)."""
    from netc.cli.app import EXIT_USAGE, fail, usage
    from netc.diagnostics import NetcError

    if batch < 1:
        usage(f"--batch {batch}: expected a positive number")
    if split not in ("train", "test"):
        usage(f"--split {split!r}: expected train or test")
    if output.suffix.lower() not in (".npy", ".npz"):
        usage(f"-o {output}: give a .npy or .npz file name")
    means: list[float] | None = None
    if mean is not None:
        try:
            means = [float(v) for v in mean.split(",")]
        except ValueError:
            usage(f"--mean {mean!r}: expected numbers separated by commas")
    try:
        import torch  # noqa: F401 - fail early and clearly without it
    except ImportError:
        print("netc: error: netc features needs torch (pip install 'netc[train]')", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE) from None
    targets = outputs_for(output)
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        print(f"netc: error: {existing[0]} exists; pass --force to overwrite it", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE)
    try:
        _run(
            spec,
            layer,
            data,
            targets,
            weights,
            mapping,
            split,
            labels_per_class,
            seed,
            scale,
            means,
            batch,
            device,
        )
    except NetcError as error:
        fail(error)


def _run(
    spec: Path,
    layer: str,
    data: str,
    targets: list[Path],
    weights: Path | None,
    mapping: Path | None,
    split: str,
    labels_per_class: int | None,
    seed: int,
    scale: float | None,
    mean: list[float] | None,
    batch: int,
    device_name: str,
) -> None:
    import io

    import numpy as np
    import torch

    from netc.api import load
    from netc.data import open_dataset
    from netc.data.features import extract, probe
    from netc.diagnostics import NetcError
    from netc.util.files import write_atomic
    from netc.weights import load_into

    device = _device(device_name)
    graph = load(spec)
    where = probe(graph, layer)  # a bad name fails before any work
    if len(graph.inputs) != 1:
        raise NetcError.single(f"{spec}: features need a network with one input")
    shape = graph.tensors[graph.inputs[0]].shape
    if shape is None or len(shape) != 4:
        raise NetcError.single(f"{spec}: features need an N×C×H×W input, got {shape}")
    model = graph.to_torch().eval()
    if weights is not None:
        report = load_into(model, weights, graph, mapping=mapping)
        print(report.summary(), file=sys.stderr)
    else:
        print(
            "netc: warning: no --weights: features of a randomly initialised network",
            file=sys.stderr,
        )
    dataset = open_dataset(
        data,
        split=split,
        input_shape=(shape[1], shape[2], shape[3]),
        labels_per_class=labels_per_class,
        seed=seed,
        scale=scale,
        mean=mean,
    )
    model.to(device)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=False)
    feats, labels = extract(model, graph, layer, loader, device)
    if targets[0].suffix.lower() == ".npz":
        buffer = io.BytesIO()
        np.savez(buffer, features=feats, labels=labels, classes=np.array(dataset.classes))
        write_atomic(targets[0], buffer.getvalue())
    else:
        for path, array in ((targets[0], feats), (targets[1], labels)):
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            write_atomic(path, buffer.getvalue())
    dims = "×".join(str(d) for d in feats.shape)
    print(
        f"{' and '.join(str(p) for p in targets)}: {dims} float32 features of {where.description} "
        f"({dataset.name}), {len(dataset.classes)} classes",
        file=sys.stderr,
    )


def _device(name: str) -> str:
    import torch

    from netc.cli.app import usage

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        usage(f"--device {name!r}: expected cpu, cuda or auto")
    if name.startswith("cuda") and not torch.cuda.is_available():
        usage("--device cuda: no CUDA device is available")
    return name
