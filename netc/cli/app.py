"""The `netc` command line (typer). Heavy modules are imported inside the commands that need them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from netc.diagnostics import NetcError

app = typer.Typer(
    name="netc",
    help="netc: compile and analyze neural-network definitions (Caffe prototxt and the netc language).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXIT_INVALID = 1  # the input is wrong
EXIT_USAGE = 2  # the command line is wrong (typer/click use 2 too)
EXIT_INTERNAL = 70


PhaseOption = Annotated[
    str, typer.Option("--phase", help="Which view of the net: TEST (deploy) or TRAIN.")
]
InputShapeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--input-shape", help="Override an input's shape, e.g. data=1x3x320x320 (repeatable)."
    ),
]


def report(error: NetcError) -> None:
    print(str(error), file=sys.stderr)
    count = len(error.diagnostics)
    if count > 1:
        print(f"{count} errors", file=sys.stderr)


def fail(error: NetcError) -> NoReturn:
    report(error)
    raise typer.Exit(EXIT_INVALID)


def usage(message: str) -> NoReturn:
    print(f"netc: error: {message}", file=sys.stderr)
    raise typer.Exit(EXIT_USAGE)


def parse_input_shapes(values: list[str] | None) -> dict[str, tuple[int, ...]] | None:
    if not values:
        return None
    shapes: dict[str, tuple[int, ...]] = {}
    for value in values:
        name, sep, dims = value.partition("=")
        try:
            shape = tuple(int(d) for d in dims.lower().replace("×", "x").split("x"))
        except ValueError:
            shape = ()
        if not sep or not name or not shape or any(d < 1 for d in shape):
            usage(f"--input-shape {value!r}: expected NAME=DxDxD, e.g. data=1x3x224x224")
        shapes[name] = shape
    return shapes


def check_phase(phase: str) -> str:
    if phase.upper() not in ("TEST", "TRAIN"):
        usage(f"--phase {phase!r}: expected TEST or TRAIN")
    return phase.upper()


@app.command()
def check(
    files: Annotated[
        list[Path], typer.Argument(help="Network files (.net or .prototxt).", show_default=False)
    ],
    phase: PhaseOption = "TEST",
    input_shape: InputShapeOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file.")] = False,
) -> None:
    """Parse, expand and shape-check networks; print one summary line per file."""
    from netc.api import load
    from netc.ir.graph import Graph
    from netc.layers.base import fmt_shape

    phase = check_phase(phase)
    shapes = parse_input_shapes(input_shape)
    failed = 0
    for path in files:
        try:
            graph = load(path, phase=phase, input_shapes=shapes)
        except NetcError as error:
            failed += 1
            if as_json:
                print(
                    json.dumps(
                        {
                            "file": str(path),
                            "ok": False,
                            "diagnostics": [d.to_json() for d in error.diagnostics],
                        }
                    )
                )
            else:
                report(error)
            continue

        def describe(ids: list[str], graph: Graph = graph) -> str:
            return ", ".join(
                f"{graph.tensors[t].blob} {fmt_shape(graph.tensors[t].shape or ())}" for t in ids
            )

        if as_json:
            print(
                json.dumps(
                    {
                        "file": str(path),
                        "ok": True,
                        "name": graph.name,
                        "layers": len(graph),
                        "inputs": {
                            graph.tensors[t].blob: list(graph.tensors[t].shape or ())
                            for t in graph.inputs
                        },
                        "outputs": {
                            graph.tensors[t].blob: list(graph.tensors[t].shape or ())
                            for t in graph.outputs
                        },
                        "params": graph.params_count(),
                    }
                )
            )
        else:
            print(
                f"{path}: ok: {graph.name}, {len(graph)} layers, "
                f"inputs {describe(graph.inputs) or 'none'} -> outputs {describe(graph.outputs) or 'none'}"
            )
    if failed:
        if len(files) > 1:
            print(f"{failed} of {len(files)} files have errors", file=sys.stderr)
        raise typer.Exit(EXIT_INVALID)


@app.command()
def fmt(
    file: Annotated[Path, typer.Argument(help="The file to format.", show_default=False)],
    write: Annotated[
        bool, typer.Option("--write", "-w", help="Rewrite the file in place (atomically).")
    ] = False,
    check_only: Annotated[
        bool, typer.Option("--check", help="Exit 1 if the file is not formatted.")
    ] = False,
) -> None:
    """Print a file in canonical form (comments kept; idempotent)."""
    from netc.api import read_source
    from netc.lang.format import format_file
    from netc.lang.parser import parse

    try:
        source = read_source(file)
        text = format_file(parse(source))
    except NetcError as error:
        fail(error)
    if check_only:
        if text != source.text:
            print(f"{file}: would be reformatted", file=sys.stderr)
            raise typer.Exit(EXIT_INVALID)
        return
    if write:
        from netc.util.files import write_atomic

        if text != source.text:
            write_atomic(file, text)
        return
    sys.stdout.write(text)


@app.command()
def convert(
    file: Annotated[
        Path, typer.Argument(help="A Caffe .prototxt or a netc file.", show_default=False)
    ],
    to: Annotated[
        str, typer.Option("--to", help="netc (compact) or prototxt (plain Caffe).")
    ] = "netc",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing output file.")
    ] = False,
) -> None:
    """Convert Caffe prototxt to the compact netc form, or any spec to plain prototxt."""
    from netc.api import expand, parse_file
    from netc.ir.build import build
    from netc.lang.convert import to_netc, to_prototxt

    if to not in ("netc", "prototxt"):
        usage(f"--to {to!r}: expected netc or prototxt")
    try:
        if to == "netc":
            text = to_netc(parse_file(file))
        else:
            net = expand(file)
            graph = build(net)  # checks the network, and counts blobs to spell `freeze`
            text = to_prototxt(net, {n.name: len(n.blobs) for n in graph.nodes})
    except NetcError as error:
        fail(error)
    if output is None:
        sys.stdout.write(text)
        return
    from netc.util.files import write_atomic

    if output.exists() and not force:
        usage(f"{output} exists; pass --force to overwrite it")
    write_atomic(output, text)


@app.command()
def layers() -> None:
    """List the layer types netc knows, with their family and parameter message."""
    from netc.layers.base import all_types

    for name, layer in sorted(all_types().items()):
        aliases = ", ".join(a for a in layer.aliases if a != name)
        extra = f"  (also {aliases})" if aliases else ""
        print(f"{name:<26} {layer.family:<8} {layer.message or '-'}{extra}")


def main() -> None:
    """Entry point: diagnostics and exit codes, never a traceback."""
    try:
        app()  # standalone: usage errors print click's message and exit 2
    except NetcError as error:
        print(str(error), file=sys.stderr)
        sys.exit(EXIT_INVALID)
    except KeyboardInterrupt:
        print("netc: interrupted", file=sys.stderr)
        sys.exit(130)
    except (RecursionError, MemoryError) as exc:
        print(
            f"netc: error: input too large or too deeply nested ({type(exc).__name__})",
            file=sys.stderr,
        )
        sys.exit(EXIT_INVALID)
    except Exception as exc:
        print(f"netc: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(
            "  hint: this is a bug in netc; please report it with the input that caused it",
            file=sys.stderr,
        )
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
