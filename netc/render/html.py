"""An Analysis as an HTML table (Jupyter's `_repr_html_`). Every text is escaped."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netc.render.text import xml_text

if TYPE_CHECKING:
    from netc.analysis.core import Analysis

_NUMERIC = {"weights", "biases", "MACs", "FLOPs", "activations"}


def analysis_html(analysis: Analysis) -> str:
    """A summary line, the per-layer table (the columns of `netc analyze`) and the totals."""
    from netc.analysis.report import _HEADINGS, _cells, header, totals_lines

    head = "".join(
        f'<th style="text-align:{"right" if h in _NUMERIC else "left"}">{xml_text(h)}</th>'
        for h in _HEADINGS
    )
    body = []
    for row in analysis.rows:
        cells = "".join(
            f'<td style="text-align:{"right" if h in _NUMERIC else "left"}">{xml_text(c)}</td>'
            for h, c in zip(_HEADINGS, _cells(row), strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    totals = "".join(f"<li>{xml_text(line)}</li>" for line in totals_lines(analysis))
    return (
        '<div class="netc-analysis">'
        f"<p><b>{xml_text(header(analysis))}</b></p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        f"<ul>{totals}</ul></div>"
    )
