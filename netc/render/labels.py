"""What a node says about itself in a drawing: its type and key parameters, e.g.
`Conv 11×11/4 · 96`, `MAX 3×3/2`, `FC · 4096`, `Eltwise SUM`.

Reads the validated parameters through the same `spatial` helper as the shape rules; anything
unexpected falls back to the bare type name rather than failing a drawing."""

from __future__ import annotations

from collections.abc import Callable

from netc.ir.graph import Graph, Node
from netc.layers.base import ShapeError, fmt_shape, spatial


def _dims(values: list[int]) -> str:
    return "×".join(str(v) for v in values)


def _step(values: list[int]) -> str:
    """A stride or dilation: one number when every axis agrees, else one per axis."""
    return str(values[0]) if len(set(values)) == 1 else _dims(values)


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _spatial_axes(graph: Graph, node: Node, axis: int = 1) -> int:
    shape = graph.tensors[node.inputs[0]].shape if node.inputs else None
    if shape is None or len(shape) <= axis + 1:
        return 2
    return len(shape) - axis - 1


def _conv(graph: Graph, node: Node) -> str:
    p = node.params
    axis = int(p["axis"])
    n = _spatial_axes(graph, node, axis if axis >= 0 else 1)
    kernel = spatial(p, "kernel_size", n, None, h="kernel_h", w="kernel_w")
    stride = spatial(p, "stride", n, 1, h="stride_h", w="stride_w")
    dilation = spatial(p, "dilation", n, 1)
    text = f"{'Conv' if node.type == 'Convolution' else 'Deconv'} {_dims(kernel)}"
    if any(s != 1 for s in stride):
        text += f"/{_step(stride)}"
    parts = [text, str(int(p["num_output"]))]
    group = int(p["group"])
    if group > 1:
        parts.append(f"group {group}")
    if any(d != 1 for d in dilation):
        parts.append(f"dilation {_step(dilation)}")
    return " · ".join(parts)


def _pool(graph: Graph, node: Node) -> str:
    p = node.params
    method = str(p["pool"])
    if p["global_pooling"]:
        return f"{method} global"
    kernel = spatial(p, "kernel_size", 2, None, h="kernel_h", w="kernel_w")
    stride = spatial(p, "stride", 2, 1, h="stride_h", w="stride_w")
    text = f"{method} {_dims(kernel)}"
    if any(s != 1 for s in stride):
        text += f"/{_step(stride)}"
    return text


def _fc(graph: Graph, node: Node) -> str:
    return f"FC · {int(node.params['num_output'])}"


def _lrn(graph: Graph, node: Node) -> str:
    p = node.params
    region = " within" if str(p["norm_region"]) == "WITHIN_CHANNEL" else ""
    return f"LRN {int(p['local_size'])}{region}"


def _relu(graph: Graph, node: Node) -> str:
    slope = node.params["negative_slope"]
    return f"LeakyReLU {_number(slope)}" if slope else "ReLU"


def _dropout(graph: Graph, node: Node) -> str:
    return f"Dropout {_number(node.params['dropout_ratio'])}"


def _eltwise(graph: Graph, node: Node) -> str:
    return f"Eltwise {node.params['operation']}"


def _concat(graph: Graph, node: Node) -> str:
    p = node.params
    axis = int(p["concat_dim"]) if p.has("concat_dim") else int(p["axis"])
    return "Concat" if axis == 1 else f"Concat axis {axis}"


def _batchnorm(graph: Graph, node: Node) -> str:
    return "BatchNorm + Scale" if node.params["affine"] else "BatchNorm"


def _input(graph: Graph, node: Node) -> str:
    shapes = [graph.tensors[t].shape for t in node.outputs]
    return f"{node.type} · " + ", ".join(fmt_shape(s) if s else "?" for s in shapes)


_SUMMARIES: dict[str, Callable[[Graph, Node], str]] = {
    "Convolution": _conv,
    "Deconvolution": _conv,
    "Pooling": _pool,
    "InnerProduct": _fc,
    "LRN": _lrn,
    "ReLU": _relu,
    "Dropout": _dropout,
    "Eltwise": _eltwise,
    "Concat": _concat,
    "BatchNorm": _batchnorm,
    "Input": _input,
}


def summary(graph: Graph, node: Node) -> str:
    """The node's type and key parameters (never raises: falls back to the type name)."""
    rule = _SUMMARIES.get(node.type)
    if rule is None:
        return node.type
    try:
        return rule(graph, node)
    except (ShapeError, TypeError, ValueError, KeyError, IndexError):
        return node.type
