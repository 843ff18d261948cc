"""An Analysis as a table (rich), JSON (schema `netc.analysis/2`), CSV, Markdown or YAML."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from netc.analysis.core import Analysis, Row, TrainingMemory
from netc.layers.base import fmt_shape

SCHEMA = "netc.analysis/2"
FORMATS = ("table", "json", "csv", "markdown", "yaml")
COLUMNS = (
    "name",
    "type",
    "output",
    "weights",
    "biases",
    "trainable",
    "frozen",
    "macs",
    "flops",
    "activation_bytes",
    "receptive_field",
)


def human(value: float, binary: bool = False) -> str:
    """12.3M, 4.09G; with `binary`, bytes as KiB/MiB/GiB."""
    base, units = (
        (1024.0, ["B", "KiB", "MiB", "GiB", "TiB"])
        if binary
        else (1000.0, ["", "K", "M", "G", "T"])
    )
    amount = float(value)
    for unit in units:
        if abs(amount) < base or unit == units[-1]:
            if binary:
                return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.2f} {unit}"
            return f"{amount:.0f}" if unit == "" else f"{amount:.2f}{unit}"
        amount /= base
    return str(value)  # pragma: no cover


def field_text(row: Row) -> str:
    """`212 / 32 / 16` (size / jump / start), or `211×212 / ...` when the axes differ."""
    if not row.field:
        return ""
    sizes = [a.size for a in row.field]
    jumps = [a.jump for a in row.field]
    starts = [a.start for a in row.field]

    def join(values: list[float]) -> str:
        texts = [f"{v:g}" for v in values]
        return texts[0] if len(set(texts)) == 1 else "×".join(texts)

    return f"{join(sizes)} / {join(jumps)} / {join(starts)}"


def row_record(row: Row) -> dict[str, Any]:
    return {
        "name": row.name,
        "type": row.type,
        "layers": row.layers,
        "output": list(row.output) if row.output is not None else None,
        "weights": row.weights,
        "biases": row.biases,
        "params": row.params,
        "trainable": row.trainable,
        "frozen": row.frozen,
        "buffers": row.buffers,
        "macs": row.macs,
        "flops": row.flops,
        "activation_bytes": row.activation_bytes,
        "receptive_field": (
            [{"size": a.size, "jump": a.jump, "start": a.start} for a in row.field]
            if row.field
            else None
        ),
    }


def document(analysis: Analysis) -> dict[str, Any]:
    """The JSON document (see docs/analysis.schema.json)."""
    t, m = analysis.totals, analysis.training
    return {
        "schema": SCHEMA,
        "network": analysis.name,
        "convention": {
            "counting": analysis.counting,
            "macs": "multiply-accumulates of convolution, deconvolution and fully-connected layers, bias excluded",
            "flops": "all arithmetic by netc's per-type table (docs/conventions.md)"
            if analysis.counting == "netc"
            else f"as {analysis.counting} counts them (docs/conventions.md)",
            "dtype": analysis.dtype,
            "optimizer": analysis.optimizer,
        },
        "batch": analysis.batch,
        "inputs": {k: list(v) for k, v in analysis.inputs.items()},
        "outputs": {k: list(v) for k, v in analysis.outputs.items()},
        "totals": {
            "params": t.params,
            "weights": t.weights,
            "biases": t.biases,
            "trainable": t.trainable,
            "frozen": t.frozen,
            "buffers": t.buffers,
            "macs": t.macs,
            "flops": t.flops,
            "forward_activation_bytes": t.forward_activation_bytes,
        },
        "training_memory": _memory_record(m),
        **(
            {"training_memory_unfrozen": _memory_record(analysis.unfrozen)}
            if analysis.unfrozen is not None
            else {}
        ),
        "layers": [row_record(r) for r in analysis.rows],
        **(
            {
                "incomplete": {
                    "undeclared": analysis.undeclared,
                    "unknown_shapes": analysis.incomplete,
                }
            }
            if analysis.incomplete
            else {}
        ),
        **analysis.extra,
    }


def _memory_record(m: TrainingMemory) -> dict[str, int]:
    return {
        "parameters": m.parameters,
        "gradients": m.gradients,
        "optimizer": m.optimizer,
        "activations": m.activations,
        "workspace": m.workspace,
        "peak": m.peak,
    }


def header(analysis: Analysis) -> str:
    inputs = ", ".join(f"{k} {fmt_shape(v)}" for k, v in analysis.inputs.items())
    return (
        f"{analysis.name}: input {inputs}, batch {analysis.batch}, {analysis.dtype}; "
        f"counting: {analysis.counting} (MACs = conv/deconv/fc multiply-accumulates, bias excluded; "
        f"FLOPs = {'all arithmetic, docs/conventions.md' if analysis.counting == 'netc' else analysis.counting + ' convention'})"
    )


def _cells(row: Row) -> list[str]:
    return [
        row.name,
        row.type if row.layers == 1 else f"{row.type} ({row.layers})",
        fmt_shape(row.output) if row.output is not None else ("" if row.known else "?"),
        f"{row.weights:,}" if row.weights else "",
        f"{row.biases:,}" if row.biases else "",
        "frozen"
        if row.frozen and not row.trainable
        else ("partly" if row.frozen else ("yes" if row.trainable else "")),
        human(row.macs) if row.macs else "",
        human(row.flops) if row.flops else "",
        human(row.activation_bytes, binary=True) if row.known else "?",
        field_text(row),
    ]


_HEADINGS = [
    "layer",
    "type",
    "output",
    "weights",
    "biases",
    "trainable",
    "MACs",
    "FLOPs",
    "activations",
    "RF size/jump/start",
]


def totals_lines(analysis: Analysis) -> list[str]:
    t, m = analysis.totals, analysis.training
    return [
        f"params {t.params:,} ({human(t.params)}): trainable {t.trainable:,}, frozen {t.frozen:,}; "
        f"buffers {t.buffers:,}",
        f"MACs {t.macs:,} ({human(t.macs)}), FLOPs {t.flops:,} ({human(t.flops)})",
        f"forward activations {human(t.forward_activation_bytes, binary=True)}",
        f"training memory ({analysis.optimizer}, batch {analysis.batch}): peak {human(m.peak, binary=True)} = "
        f"parameters {human(m.parameters, True)} + gradients {human(m.gradients, True)} + "
        f"optimizer {human(m.optimizer, True)} + saved activations {human(m.activations, True)} + "
        f"workspace {human(m.workspace, True)}",
        *_frozen_saving(analysis),
        *_incomplete(analysis),
    ]


def _incomplete(analysis: Analysis) -> list[str]:
    """What the totals leave out: never a silent zero."""
    if not analysis.incomplete:
        return []
    kinds = sorted({r.type for r in analysis.rows if r.name in set(analysis.undeclared)})
    after = len(analysis.incomplete) - len(analysis.undeclared)
    return [
        f"INCOMPLETE: {len(analysis.undeclared)} layer(s) of types netc does not know "
        f"({', '.join(kinds)}) and {after} layer(s) after them have no known shape; the totals "
        "above leave them out (lower bounds)"
    ]


def _frozen_saving(analysis: Analysis) -> list[str]:
    """What freezing saves against training every parameter of the same network."""
    u, m = analysis.unfrozen, analysis.training
    if u is None:
        return []
    return [
        f"frozen parameters save {human(u.peak - m.peak, binary=True)} of training memory "
        f"(peak {human(u.peak, binary=True)} with every layer trainable: gradients "
        f"+{human(u.gradients - m.gradients, True)}, optimizer "
        f"+{human(u.optimizer - m.optimizer, True)}, saved activations "
        f"+{human(u.activations - m.activations, True)})"
    ]


def render_table(analysis: Analysis, width: int | None = None) -> str:
    """An aligned text table. Written here rather than with rich's Table: rich measures and
    wraps every cell, ~0.4 ms a row, half a second for ResNet-152's 515 layers."""
    numeric = {"weights", "biases", "MACs", "FLOPs", "activations"}
    rows = [_cells(row) for row in analysis.rows]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(_HEADINGS)]

    def line(cells: list[str]) -> str:
        parts = [
            c.rjust(w) if h in numeric else c.ljust(w)
            for c, w, h in zip(cells, widths, _HEADINGS, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [header(analysis), line(_HEADINGS), "  ".join("─" * w for w in widths)]
    out.extend(line(r) for r in rows)
    out.append("")
    out.extend(totals_lines(analysis))
    return "\n".join(out) + "\n"


def render_markdown(analysis: Analysis) -> str:
    lines = [
        f"**{header(analysis)}**",
        "",
        "| " + " | ".join(_HEADINGS) + " |",
        "|" + "---|" * len(_HEADINGS),
    ]
    for row in analysis.rows:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in _cells(row)) + " |")
    lines.append("")
    lines.extend(f"- {line}" for line in totals_lines(analysis))
    return "\n".join(lines) + "\n"


def render_csv(analysis: Analysis) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in analysis.rows:
        writer.writerow(
            [
                row.name,
                row.type,
                "x".join(str(d) for d in row.output) if row.output is not None else "",
                row.weights,
                row.biases,
                row.trainable,
                row.frozen,
                row.macs,
                row.flops,
                row.activation_bytes,
                field_text(row),
            ]
        )
    return buffer.getvalue()


def render(analysis: Analysis, fmt: str, width: int | None = None) -> str:
    if fmt == "table":
        return render_table(analysis, width)
    if fmt == "json":
        return json.dumps(document(analysis), indent=2) + "\n"
    if fmt == "csv":
        return render_csv(analysis)
    if fmt == "markdown":
        return render_markdown(analysis)
    if fmt == "yaml":
        import yaml

        return str(yaml.safe_dump(document(analysis), sort_keys=False, allow_unicode=True))
    raise ValueError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
