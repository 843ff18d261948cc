"""Drawings of networks: DOT written by netc (`to_dot`), images through Graphviz (`to_image`),
HTML tables of analyses for Jupyter (`netc.render.html`). Imports neither torch nor onnx."""

from __future__ import annotations

from netc.ir.graph import Graph
from netc.render.dot import SHOW_FIELDS, RenderOptions, to_dot
from netc.render.graphviz import IMAGE_FORMATS, GraphvizError, render

__all__ = [
    "IMAGE_FORMATS",
    "SHOW_FIELDS",
    "GraphvizError",
    "RenderOptions",
    "repr_svg",
    "to_dot",
    "to_image",
]


def to_image(graph: Graph, fmt: str, options: RenderOptions | None = None) -> bytes:
    """`graph` drawn as svg, png or pdf. Raises GraphvizError without a working Graphviz."""
    return render(to_dot(graph, options), fmt)


def repr_svg(graph: Graph) -> str | None:
    """Jupyter's SVG of a graph, or None (Jupyter then falls back to the text repr) when
    Graphviz is missing or fails."""
    try:
        return to_image(graph, "svg").decode("utf-8")
    except GraphvizError:
        return None
