"""`netc diff A B`: totals side by side, and the layers added, removed or changed."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from netc.analysis.core import Analysis, Row
from netc.analysis.report import human
from netc.layers.base import fmt_shape

_TOTALS = ("params", "trainable", "frozen", "buffers", "macs", "flops", "forward_activation_bytes")
_ROW_FIELDS = ("type", "output", "params", "macs")


@dataclass
class Comparison:
    first: Analysis
    second: Analysis
    totals: list[tuple[str, int, int]]
    removed: list[Row]
    added: list[Row]
    changed: list[tuple[Row, Row, list[str]]]


def compare(first: Analysis, second: Analysis) -> Comparison:
    totals = [(key, getattr(first.totals, key), getattr(second.totals, key)) for key in _TOTALS]
    totals.append(("training_peak", first.training.peak, second.training.peak))
    before = {r.name: r for r in first.rows}
    after = {r.name: r for r in second.rows}
    changed = []
    for name, old in before.items():
        new = after.get(name)
        if new is None:
            continue
        fields = [f for f in _ROW_FIELDS if getattr(old, f) != getattr(new, f)]
        if old.trainable != new.trainable or old.frozen != new.frozen:
            fields.append("trainable")
        if fields:
            changed.append((old, new, fields))
    return Comparison(
        first,
        second,
        totals,
        [r for n, r in before.items() if n not in after],
        [r for n, r in after.items() if n not in before],
        changed,
    )


def _delta(a: int, b: int) -> str:
    if a == b:
        return "="
    sign = "+" if b > a else "-"
    percent = f" ({(b - a) / a:+.1%})" if a else ""
    return f"{sign}{abs(b - a):,}{percent}"


def _describe(row: Row) -> str:
    shape = fmt_shape(row.output) if row.output is not None else "-"
    return f"{row.type} {shape}, {row.params:,} params, {human(row.macs)} MACs"


def _grouped(rows: list[Row], analysis: Analysis) -> list[str]:
    """One line per layer, or per template instance when all of its layers are in `rows`."""
    names = {r.name for r in rows}
    whole = {
        scope
        for scope in {r.scope for r in rows if r.scope}
        if all(x.name in names for x in analysis.rows if x.scope == scope)
    }
    lines, done = [], set()
    for r in rows:
        if r.scope in whole:
            if r.scope not in done:
                done.add(r.scope)
                members = [x for x in rows if x.scope == r.scope]
                params = sum(x.params for x in members)
                macs = sum(x.macs for x in members)
                lines.append(
                    f"{r.scope}: {len(members)} layers, {params:,} params, {human(macs)} MACs"
                )
            continue
        lines.append(f"{r.name}: {_describe(r)}")
    return lines


def document(c: Comparison) -> dict[str, Any]:
    def row(r: Row) -> dict[str, Any]:
        return {
            "name": r.name,
            "type": r.type,
            "output": list(r.output or ()),
            "params": r.params,
            "macs": r.macs,
        }

    return {
        "schema": "netc.diff/1",
        "first": c.first.name,
        "second": c.second.name,
        "counting": c.first.counting,
        "totals": {k: {"first": a, "second": b, "delta": b - a} for k, a, b in c.totals},
        "removed": [row(r) for r in c.removed],
        "added": [row(r) for r in c.added],
        "changed": [
            {"name": a.name, "fields": f, "first": row(a), "second": row(b)}
            for a, b, f in c.changed
        ],
    }


def render_diff(c: Comparison, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(document(c), indent=2) + "\n"
    from rich.console import Console
    from rich.table import Table

    buffer = io.StringIO()
    console = Console(file=buffer, width=160, color_system=None)
    table = Table(
        title=f"{c.first.name} -> {c.second.name} (counting: {c.first.counting})",
        title_justify="left",
    )
    for heading in ("total", c.first.name, c.second.name, "change"):
        table.add_column(heading, justify="left" if heading == "total" else "right")
    for key, a, b in c.totals:
        table.add_row(key, f"{a:,}", f"{b:,}", _delta(a, b))
    console.print(table)
    for label, rows, analysis in (("removed", c.removed, c.first), ("added", c.added, c.second)):
        for line in _grouped(rows, analysis):
            console.print(f"{label:<8} {line}", highlight=False)
    for old, new, fields in c.changed:
        console.print(
            f"changed  {old.name} ({', '.join(fields)}): {_describe(old)} -> {_describe(new)}",
            highlight=False,
        )
    if not (c.removed or c.added or c.changed):
        console.print("no layer differs", highlight=False)
    return buffer.getvalue()
