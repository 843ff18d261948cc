"""Loading the spec a command works on: its warnings shown once, or refused under `--strict`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from netc.ir.graph import Graph

StrictOption = Annotated[
    bool,
    typer.Option(
        "--strict", help="Treat warnings (fork fields netc ignores) as errors, e.g. in CI."
    ),
]

StageOption = Annotated[
    list[str] | None,
    typer.Option(
        "--stage",
        help="A NetState stage for include/exclude rules, e.g. test-on-test (repeatable).",
    ),
]


def load_graph(
    file: Path, *, strict: bool = False, stages: list[str] | None = None, **options: Any
) -> Graph:
    """`netc.load(file, ...)`, printing what it accepted with a warning to stderr."""
    from netc.api import load

    graph = load(file, strict=strict, stages=tuple(stages or ()), **options)
    show_warnings(graph)
    return graph


def show_warnings(graph: Graph) -> None:
    for warning in graph.warnings:
        print(warning.render(), file=sys.stderr)
