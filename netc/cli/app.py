"""The `netc` command line (typer). Heavy modules are imported inside the commands that need them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from netc.cli.loading import StageOption, StrictOption
from netc.diagnostics import NetcError

if TYPE_CHECKING:
    from fractions import Fraction

    from netc.analysis.budget import Clause
    from netc.ir.graph import Graph

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
EXIT_BUDGET = 3  # a --budget was exceeded
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
    strict: StrictOption = False,
    stage: StageOption = None,
) -> None:
    """Parse, expand and shape-check networks; print one summary line per file."""
    from netc.api import load
    from netc.cli.loading import show_warnings
    from netc.layers.base import fmt_shape

    phase = check_phase(phase)
    shapes = parse_input_shapes(input_shape)
    failed = 0
    for path in files:
        try:
            graph = load(
                path, phase=phase, input_shapes=shapes, strict=strict, stages=tuple(stage or ())
            )
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
                        "warnings": [d.to_json() for d in graph.warnings],
                    }
                )
            )
        else:
            show_warnings(graph)
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
        from netc.cli.output import write_output

        if text != source.text:
            write_output(file, text)  # through a symbolic link to the file it names
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
    from netc.cli.output import guard_output, write_output

    guard_output(output, force=force, ours=lambda _: False, inputs=[file])
    write_output(output, text)


def parse_size_option(value: str | None, what: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        size = tuple(int(d) for d in value.lower().replace("×", "x").split("x"))
    except ValueError:
        size = ()
    if not size or any(d < 1 for d in size):
        usage(f"{what} {value!r}: expected e.g. 320x320")
    return size


def choice(value: str, options: tuple[str, ...], what: str) -> str:
    if value not in options:
        usage(f"{what} {value!r}: expected one of {', '.join(options)}")
    return value


SORT_KEYS = ("order", "name", "params", "macs", "flops", "activations")


@app.command()
def analyze(
    file: Annotated[
        Path, typer.Argument(help="A network file (.net or .prototxt).", show_default=False)
    ],
    batch: Annotated[
        int | None, typer.Option("--batch", help="Batch size (the first dimension of every input).")
    ] = None,
    input_size: Annotated[
        str | None, typer.Option("--input-size", help="Spatial input size, e.g. 320x320.")
    ] = None,
    dtype: Annotated[str, typer.Option("--dtype", help="fp32, fp16 or bf16.")] = "fp32",
    optimizer: Annotated[
        str, typer.Option("--optimizer", help="sgd, sgd-momentum, adam or adamw.")
    ] = "sgd-momentum",
    depth: Annotated[
        int | None, typer.Option("--depth", help="Collapse template instances below this depth.")
    ] = None,
    sort: Annotated[
        str, typer.Option("--sort", help="order, name, params, macs, flops or activations.")
    ] = "order",
    top: Annotated[int | None, typer.Option("--top", help="Show only the first N rows.")] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="table, json, csv, markdown or yaml.")
    ] = "table",
    count: Annotated[
        str, typer.Option("--count", help="netc, torch or netscope conventions.")
    ] = "netc",
    phase: PhaseOption = "TEST",
    input_shape: InputShapeOption = None,
    fit: Annotated[
        str | None,
        typer.Option("--fit", help="Find the largest batch whose training peak fits, e.g. 24GiB."),
    ] = None,
    budget: Annotated[
        str | None,
        typer.Option(
            "--budget",
            help='Fail (exit 3) if exceeded, e.g. "params<25M,macs<4G,train_mem(batch=64)<20GiB".',
        ),
    ] = None,
    strict: StrictOption = False,
    stage: StageOption = None,
) -> None:
    """Shapes, parameters, MACs/FLOPs, memory and receptive fields, per layer and in total."""
    from netc.analysis.core import DTYPE_BYTES, OPTIMIZER_STATE, collapse, frames_index
    from netc.analysis.core import analyze as run_analysis
    from netc.analysis.report import FORMATS, render
    from netc.api import load
    from netc.cli.loading import show_warnings
    from netc.layers.base import COUNTING

    phase = check_phase(phase)
    choice(dtype, tuple(DTYPE_BYTES), "--dtype")
    choice(optimizer, tuple(OPTIMIZER_STATE), "--optimizer")
    choice(count, COUNTING, "--count")
    choice(fmt, FORMATS, "--format")
    choice(sort, SORT_KEYS, "--sort")
    if batch is not None and batch < 1:
        usage("--batch must be positive")
    if depth is not None and depth < 1:
        usage("--depth must be at least 1")
    if top is not None and top < 0:
        usage("--top must not be negative")
    size = parse_size_option(input_size, "--input-size")
    shapes = parse_input_shapes(input_shape)
    clauses: list[Clause] = []
    limit: Fraction | None = None
    if budget or fit:  # exact arithmetic (fractions, decimal): imported only when asked for
        from netc.analysis import budget as budgets

        try:
            clauses = budgets.parse_budget(budget) if budget else []
            limit = budgets.parse_size(fit) if fit else None
        except budgets.BudgetError as exc:
            usage(str(exc))

    def load_at(n: int | None) -> Graph:
        return load(
            file,
            phase=phase,
            input_shapes=shapes,
            batch=n,
            input_size=size,
            strict=strict,
            stages=tuple(stage or ()),
        )

    try:
        graph = load_at(batch)
    except NetcError as error:
        fail(error)
    show_warnings(graph)
    analysis = run_analysis(graph, dtype=dtype, counting=count, optimizer=optimizer)
    if depth is not None:
        analysis.rows = collapse(analysis.rows, frames_index(graph), depth)
    if sort != "order":
        key = {
            "name": lambda r: r.name,
            "params": lambda r: -r.params,
            "macs": lambda r: -r.macs,
            "flops": lambda r: -r.flops,
            "activations": lambda r: -r.activation_bytes,
        }[sort]
        analysis.rows.sort(key=key)
    if top is not None:
        analysis.rows = analysis.rows[:top]
    if limit is not None:
        best, peak, per_sample = budgets.fit_batch(load_at, limit, dtype=dtype, optimizer=optimizer)
        analysis.extra["fit"] = {
            "limit_bytes": int(limit),
            "batch": best,
            "peak_bytes": peak,
            "bytes_per_sample": per_sample,
        }
    verdicts = budgets.evaluate(clauses, analysis, load_at) if clauses else []
    if verdicts:
        analysis.extra["budget"] = [
            {"clause": v.clause.text, "value": v.value, "ok": v.ok} for v in verdicts
        ]
    sys.stdout.write(render(analysis, fmt))
    if fmt == "table":
        from netc.analysis.report import human

        if limit is not None:
            fit_info = analysis.extra["fit"]
            assert isinstance(fit_info, dict)
            print(
                f"fit {human(float(limit), True)}: batch {fit_info['batch']} "
                f"(peak {human(fit_info['peak_bytes'], True)}, {human(fit_info['bytes_per_sample'], True)} per sample)"
            )
        for v in verdicts:
            shown = human(v.value, binary=v.clause.metric in budgets.MEMORY_METRICS)
            print(f"budget {v.clause.text}: {'ok' if v.ok else 'EXCEEDED'} ({shown})")
    failed = [v for v in verdicts if not v.ok]
    if failed:
        for v in failed:
            print(f"netc: budget exceeded: {v.clause.text} (value {v.value:,.0f})", file=sys.stderr)
        raise typer.Exit(EXIT_BUDGET)


@app.command()
def diff(
    first: Annotated[Path, typer.Argument(help="The network before.", show_default=False)],
    second: Annotated[Path, typer.Argument(help="The network after.", show_default=False)],
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    count: Annotated[
        str, typer.Option("--count", help="netc, torch or netscope conventions.")
    ] = "netc",
    phase: PhaseOption = "TEST",
) -> None:
    """Totals and per-layer changes of two networks, side by side."""
    from netc.analysis.compare import compare, render_diff
    from netc.analysis.core import analyze as run_analysis
    from netc.api import load
    from netc.layers.base import COUNTING

    choice(fmt, ("table", "json"), "--format")
    choice(count, COUNTING, "--count")
    phase = check_phase(phase)
    try:
        graphs = [load(path, phase=phase) for path in (first, second)]
    except NetcError as error:
        fail(error)
    analyses = [run_analysis(g, counting=count) for g in graphs]
    sys.stdout.write(render_diff(compare(*analyses), fmt))


@app.command()
def layers(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="The table of docs/layers.md, with shape rules.")
    ] = False,
) -> None:
    """List the layer types netc knows: family, parameter message, origin (BVLC or a fork)."""
    from netc.layers.base import all_types

    if markdown:
        from netc.docsgen.layers import layers_markdown

        sys.stdout.write(layers_markdown())
        return
    for name, layer in sorted(all_types().items()):
        aliases = ", ".join(a for a in layer.aliases if a != name)
        extra = f"  (also {aliases})" if aliases else ""
        origin = "" if layer.origin == "BVLC Caffe" else f"  [{layer.origin}]"
        print(f"{name:<26} {layer.family:<8} {layer.message or '-'}{extra}{origin}")


def _register_subcommands() -> None:
    from netc.cli import render_cmd

    render_cmd.register(app)
    from netc.cli import build_cmd

    build_cmd.register(app)
    from netc.cli import features_cmd

    features_cmd.register(app)
    from netc.cli import train_cmd

    train_cmd.register(app)
    from netc.cli import serve_cmd

    serve_cmd.register(app)


_register_subcommands()


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
    except OSError as exc:  # a file that cannot be read or written: the user's to fix
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"netc: error: {where}{exc.strerror or exc}", file=sys.stderr)
        print("  hint: check the path, its folder and their permissions", file=sys.stderr)
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
