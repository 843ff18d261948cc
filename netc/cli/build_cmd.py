"""`netc build FILE --target torch|onnx [-o FILE]`: generate code (torch, no torch import) or an
ONNX model (onnx.helper, no torch import unless --weights is a .pt/.pth state_dict)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from netc.cli.loading import StageOption, StrictOption, load_graph

TARGETS = ("torch", "onnx")


def register(app: typer.Typer) -> None:
    """Add `netc build` to `app`."""
    app.command(name="build")(build)


def build(
    file: Annotated[
        Path, typer.Argument(help="A network file (.net or .prototxt).", show_default=False)
    ],
    target: Annotated[
        str, typer.Option("--target", "-t", help="What to generate: torch or onnx.")
    ] = "torch",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write here instead of stdout (required for onnx)."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Overwrite an existing output file that netc did not write."),
    ] = False,
    phase: Annotated[
        str, typer.Option("--phase", help="Which view of the net: TEST (deploy) or TRAIN.")
    ] = "TEST",
    input_shape: Annotated[
        list[str] | None,
        typer.Option("--input-shape", help="Override an input's shape, e.g. data=1x3x320x320."),
    ] = None,
    weights: Annotated[
        Path | None,
        typer.Option(
            "--weights",
            "-w",
            help="onnx: trained weights (.pt/.pth state_dict of the generated torch module, "
            ".caffemodel, .safetensors); default: seeded initialisation.",
        ),
    ] = None,
    opset: Annotated[
        int | None, typer.Option("--opset", help="onnx: the ONNX opset (default 17).")
    ] = None,
    decompose_lrn: Annotated[
        bool,
        typer.Option(
            "--decompose-lrn",
            help="onnx: write LRN as elementary ops (faster in onnxruntime) instead of ONNX's LRN.",
        ),
    ] = False,
    strict: StrictOption = False,
    stage: StageOption = None,
) -> None:
    """Generate a PyTorch module (one self-contained file that imports only torch) or an ONNX
    model."""
    from netc.cli.app import check_phase, parse_input_shapes, usage

    if target not in TARGETS:
        usage(f"--target {target!r}: expected one of {', '.join(TARGETS)}")
    phase = check_phase(phase)
    shapes = parse_input_shapes(input_shape)
    if output is not None and output.is_dir():
        example = output / ("model.onnx" if target == "onnx" else "model.py")
        usage(f"{output} is a directory; give a file name, e.g. {example}")
    if output is not None and not output.absolute().parent.is_dir():
        usage(f"{output}: the folder {output.absolute().parent} does not exist")
    if target == "onnx":
        _onnx(file, output, force, phase, shapes, weights, opset, decompose_lrn, strict, stage)
        return
    if weights is not None or opset is not None or decompose_lrn:
        usage("--weights, --opset and --decompose-lrn apply to --target onnx")
    _torch(file, output, force, phase, shapes, strict, stage)


def _torch(
    file: Path,
    output: Path | None,
    force: bool,
    phase: str,
    shapes: dict[str, tuple[int, ...]] | None,
    strict: bool,
    stages: list[str] | None,
) -> None:
    from netc.backends.torch import MARKER, generate
    from netc.cli.app import fail
    from netc.diagnostics import NetcError

    try:
        graph = load_graph(file, phase=phase, input_shapes=shapes, strict=strict, stages=stages)
        source = generate(graph, str(file)).source
    except NetcError as error:
        fail(error)
    from netc.cli.output import guard_output, write_output

    if output is None:
        sys.stdout.write(source)
        return
    guard_output(
        output,
        force=force,
        ours=lambda path: _generated(path, MARKER),
        inputs=[Path(s.name) for s in graph.sources],
    )
    write_output(output, source)


def _onnx(
    file: Path,
    output: Path | None,
    force: bool,
    phase: str,
    shapes: dict[str, tuple[int, ...]] | None,
    weights: Path | None,
    opset: int | None,
    decompose_lrn: bool,
    strict: bool,
    stages: list[str] | None,
) -> None:
    from netc.cli.app import fail, usage
    from netc.diagnostics import NetcError

    if output is None:
        usage("an ONNX model is binary: give the output file, e.g. -o model.onnx")
    try:
        import onnx  # noqa: F401  (checked here so a missing package is one clear message)
    except ImportError:
        usage("--target onnx needs the onnx package: pip install 'netc[onnx]'")
    from netc.backends.onnx import DEFAULT_OPSET, MIN_OPSET, build_model, max_opset, save
    from netc.backends.onnx.files import data_path, generated_by_netc
    from netc.backends.onnx.weights import read_weights

    opset = DEFAULT_OPSET if opset is None else opset
    if not MIN_OPSET <= opset <= max_opset():
        usage(f"--opset {opset}: expected {MIN_OPSET} to {max_opset()}")
    from netc.cli.output import guard_output

    for path in (output, data_path(output)):
        # the side file of external data is netc's when the model beside it is
        guard_output(path, force=force, ours=lambda _: generated_by_netc(output), inputs=[file])
    try:
        graph = load_graph(file, phase=phase, input_shapes=shapes, strict=strict, stages=stages)
        arrays = read_weights(weights, graph) if weights is not None else None
        model = build_model(
            graph,
            weights=arrays,
            opset=opset,
            source_name=str(file),
            weights_origin=str(weights) if weights is not None else "the weights",
            decompose_lrn=decompose_lrn,
        )
    except NetcError as error:
        fail(error)
    del arrays  # the model holds its own copy of every tensor
    try:
        written = save(model, output)
    except OSError as exc:
        _unwritable(output, exc)
    if len(written) > 1:
        print(f"netc: the tensors are in {written[0]} (over 2 GB)", file=sys.stderr)


def _unwritable(path: Path, exc: OSError) -> NoReturn:
    from netc.cli.output import unwritable

    unwritable(path, exc)


def _generated(path: Path, marker: str) -> bool:
    """Whether the file's first line carries netc's generated-file marker."""
    try:
        with path.open("rb") as handle:
            first = handle.readline(4096)
    except OSError:
        return False
    return marker.encode() in first
