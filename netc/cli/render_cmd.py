"""`netc render` and `netc docs`: the commands that draw networks (registered on the main app).

Exit codes beyond app.py's: 4 (`EXIT_GRAPHVIZ`) when an image was asked for and Graphviz is
missing, failed or ran out of time; the DOT text is written beside the requested file then.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from netc.cli.loading import StageOption, StrictOption, load_graph

EXIT_GRAPHVIZ = 4  # no image: Graphviz missing, failed or timed out (the .dot was written)
FORMATS = ("dot", "svg", "png", "pdf")


def _format_of(output: Path | None, fmt: str | None) -> str:
    from netc.cli.app import usage

    if fmt is not None:
        value = fmt.lower()
        if value not in FORMATS:
            usage(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
        return value
    if output is None or str(output) == "-":
        return "dot"
    suffix = output.suffix.lower().lstrip(".")
    if suffix == "gv":
        return "dot"
    if suffix not in FORMATS:
        usage(
            f"cannot tell the format of {output} from its suffix: use .svg, .png, .pdf or .dot "
            "(or --format)"
        )
    return suffix


def _depth_option(value: str) -> int | str:
    from netc.cli.app import usage

    text = value.strip().lower()
    if text in ("auto", "full"):
        return text
    try:
        depth = int(text)
    except ValueError:
        depth = 0
    if depth < 1:
        usage(f"--depth {value!r}: expected auto, full or a number >= 1")
    return depth


def _show_option(value: str | None) -> tuple[str, ...]:
    from netc.cli.app import usage
    from netc.render.dot import SHOW_FIELDS

    if not value:
        return ()
    items = [v.strip().lower() for v in value.split(",") if v.strip()]
    for item in items:
        if item not in SHOW_FIELDS:
            usage(f"--show {item!r}: expected a comma-separated list of {', '.join(SHOW_FIELDS)}")
    return tuple(dict.fromkeys(items))


def _is_ours(path: Path) -> bool:
    """Whether a file is a drawing netc wrote (DOT header, or netc's mark in SVG/PNG/PDF)."""
    from netc.render.dot import HEADER
    from netc.render.marks import is_marked

    return is_marked(path, HEADER)


def render(
    file: Annotated[
        Path, typer.Argument(help="A network file (.net or .prototxt).", show_default=False)
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write: .svg, .png, .pdf or .dot (default: DOT on stdout).",
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="dot, svg, png or pdf (default: from the output's suffix)."),
    ] = None,
    depth: Annotated[
        str,
        typer.Option(
            "--depth",
            help="Collapse template instances at this nesting level into single nodes: "
            "a number >= 1, 'full' (none) or 'auto' (the deepest level that stays readable).",
        ),
    ] = "auto",
    rankdir: Annotated[
        str, typer.Option("--rankdir", help="TB (top to bottom) or LR (left to right).")
    ] = "TB",
    show: Annotated[
        str | None,
        typer.Option("--show", help="Figures on every node: params,macs,memory (any of them)."),
    ] = None,
    legend: Annotated[
        bool, typer.Option("--legend/--no-legend", help="Draw the colour legend.")
    ] = True,
    phase: Annotated[
        str, typer.Option("--phase", help="Which view of the net: TEST (deploy) or TRAIN.")
    ] = "TEST",
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds Graphviz may take for the image.")
    ] = 120.0,
    force: Annotated[
        bool,
        typer.Option("--force", help="Overwrite an existing output file that netc did not draw."),
    ] = False,
    input_shape: Annotated[
        list[str] | None,
        typer.Option("--input-shape", help="Set an input's shape, e.g. data=1x3x320x320."),
    ] = None,
    strict: StrictOption = False,
    stage: StageOption = None,
) -> None:
    """Draw a network: DOT written by netc; SVG, PNG or PDF through Graphviz's `dot`."""
    from netc.cli.app import check_phase, fail, parse_input_shapes, usage
    from netc.diagnostics import NetcError

    phase = check_phase(phase)
    shapes = parse_input_shapes(input_shape)
    kind = _format_of(output, fmt)
    options_depth = _depth_option(depth)
    direction = rankdir.strip().upper()
    if direction not in ("TB", "LR"):
        usage(f"--rankdir {rankdir!r}: expected TB or LR")
    figures = _show_option(show)
    if timeout <= 0:
        usage("--timeout must be positive")
    from netc.cli.output import guard_output, is_stdout, write_output

    to_stdout = is_stdout(output)
    if output is not None:
        guard_output(output, force=force, ours=_is_ours, inputs=[file])

    from netc.render.dot import RenderOptions, to_dot

    try:
        graph = load_graph(file, phase=phase, input_shapes=shapes, strict=strict, stages=stage)
    except NetcError as error:
        fail(error)
    if output is not None:  # nor any file the spec imports
        guard_output(
            output, force=force, ours=_is_ours, inputs=[Path(s.name) for s in graph.sources]
        )
    options = RenderOptions(depth=options_depth, rankdir=direction, show=figures, legend=legend)
    dot_text = to_dot(graph, options)
    if kind == "dot":
        write_output(output or Path("-"), dot_text)
        return

    from netc.render.graphviz import INSTALL_HINT, GraphvizError
    from netc.render.graphviz import render as draw

    try:
        image = draw(dot_text, kind, timeout=timeout)
    except GraphvizError as exc:
        _no_image(exc, dot_text, None if to_stdout else output, INSTALL_HINT)
    from netc.render.marks import mark

    write_output(output or Path("-"), image if to_stdout else mark(kind, image))


def _no_image(exc: Exception, dot_text: str, output: Path | None, hint: str) -> NoReturn:
    """Write the DOT beside the requested image (never over a file netc did not write), say
    why there is no image in one line, and exit with EXIT_GRAPHVIZ."""
    from netc.render.graphviz import GraphvizError

    missing = isinstance(exc, GraphvizError) and exc.missing
    reason = str(exc)
    if output is None:
        where = "no DOT written (the image was for stdout; use -o FILE.dot for the DOT)"
    else:
        dot_path = output.with_suffix(".dot")
        from netc.cli.output import write_output

        if dot_path.exists() and not _is_ours(dot_path):
            where = f"did not overwrite {dot_path} (not written by netc)"
        else:
            write_output(dot_path, dot_text)
            where = f"wrote {dot_path}"
    action = hint if missing else "the DOT file shows what was drawn"
    print(f"netc: error: no image: {reason}; {where}; {action}", file=sys.stderr)
    raise typer.Exit(EXIT_GRAPHVIZ)


def docs(
    specs: Annotated[
        Path, typer.Argument(help="The folder of network specs (.net).", show_default=False)
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The folder to write the pages into.")
    ] = Path("docs/zoo"),
    catalog: Annotated[
        Path | None,
        typer.Option("--catalog", help="The catalogue of papers (default: SPECS/zoo.yaml)."),
    ] = None,
    check_only: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 if the pages are out of date."),
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds Graphviz may take for one diagram.")
    ] = 120.0,
) -> None:
    """Write the model catalogue: one Markdown page per network (diagram, numbers, layers,
    the paper's figures beside netc's) and an index comparing them all."""
    from netc.cli.app import EXIT_INVALID, fail, usage
    from netc.diagnostics import NetcError

    if not specs.is_dir():
        usage(f"{specs} is not a folder of specs")
    if timeout <= 0:
        usage("--timeout must be positive")
    from netc.docsgen import CatalogError, generate, stale, write
    from netc.render.graphviz import INSTALL_HINT, GraphvizError

    try:
        files = generate(
            specs,
            output,
            catalog=catalog,
            timeout=timeout,
            warn=lambda message: print(f"netc: warning: {message}", file=sys.stderr),
        )
    except NetcError as error:
        fail(error)
    except CatalogError as exc:
        print(f"netc: error: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_INVALID) from None
    except GraphvizError as exc:
        action = INSTALL_HINT if exc.missing else "run `netc render` on the network to see why"
        print(f"netc: error: no diagrams: {exc}; {action}", file=sys.stderr)
        raise typer.Exit(EXIT_GRAPHVIZ) from None
    if check_only:
        problems = stale(files, output)
        for problem in problems:
            print(f"{output}: {problem}", file=sys.stderr)
        if problems:
            print(
                f"netc: error: {output} is out of date; run `netc docs {specs} -o {output}`",
                file=sys.stderr,
            )
            raise typer.Exit(EXIT_INVALID)
        print(f"{output}: up to date ({len(files)} files)")
        return
    try:
        written, removed = write(files, output)
    except CatalogError as exc:
        print(f"netc: error: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_INVALID) from None
    except OSError as exc:
        print(f"netc: error: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        raise typer.Exit(EXIT_INVALID) from None
    print(
        f"{output}: {len(files)} files ({written} changed"
        + (f", {removed} stale removed" if removed else "")
        + ")"
    )


def register(app: typer.Typer) -> None:
    """Add the drawing commands to `app`."""
    app.command(name="render")(render)
    app.command(name="docs")(docs)
