"""An independent forward pass for small Caffe networks, in numpy: Caffe's semantics written
from its layer definitions (caffe/src/caffe/layers/*.cpp), sharing no code with netc's
backends. Every top is a new array, as Caffe's blobs are: an in-place layer replaces the
blob's binding, it never reaches back into values other layers already produced.

Layers: Convolution (square kernel, stride 1, pad), InnerProduct, ReLU, Sigmoid, TanH,
Pooling (MAX/AVE, Caffe's rounding up and clipped windows), Slice, Split, Flatten, Reshape,
Concat, Eltwise (SUM/PROD/MAX).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from netc.ir.graph import Graph, Node

Arrays = dict[str, np.ndarray]


def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, pad: int) -> np.ndarray:
    n, _c, h, wd = x.shape
    o, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = h + 2 * pad - k + 1, wd + 2 * pad - k + 1
    out = np.zeros((n, o, oh, ow), dtype=np.float64)
    for i in range(k):
        for j in range(k):
            patch = xp[:, :, i : i + oh, j : j + ow]  # n c oh ow
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def _pool(x: np.ndarray, kind: str, k: int, stride: int, pad: int) -> np.ndarray:
    n, c, h, w = x.shape
    oh = math.ceil((h + 2 * pad - k) / stride) + 1
    ow = math.ceil((w + 2 * pad - k) / stride) + 1
    if pad and (oh - 1) * stride >= h + pad:
        oh -= 1
    if pad and (ow - 1) * stride >= w + pad:
        ow -= 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            hs, ws = i * stride - pad, j * stride - pad
            he, we = min(hs + k, h + pad), min(ws + k, w + pad)
            area = (he - hs) * (we - ws)  # Caffe's AVE divisor counts padding inside the window
            hs0, ws0, he0, we0 = max(hs, 0), max(ws, 0), min(he, h), min(we, w)
            window = x[:, :, hs0:he0, ws0:we0]
            if kind == "MAX":
                out[:, :, i, j] = window.max(axis=(2, 3))
            else:
                out[:, :, i, j] = window.sum(axis=(2, 3)) / area
    return out


def _layer(
    graph: Graph, node: Node, inputs: list[np.ndarray], weights: Mapping[str, np.ndarray]
) -> list[np.ndarray]:
    p = node.params
    kind = node.type
    if kind == "Convolution":
        bias = weights.get(f"{node.name}.bias")
        pad = int(p["pad"][0]) if p["pad"] else 0
        return [_conv(inputs[0], weights[f"{node.name}.weight"], bias, pad)]
    if kind == "InnerProduct":
        x = inputs[0].reshape(inputs[0].shape[0], -1)
        out = x @ weights[f"{node.name}.weight"].T
        bias = weights.get(f"{node.name}.bias")
        return [out + bias if bias is not None else out]
    if kind == "ReLU":
        x = inputs[0]
        return [np.where(x > 0, x, x * float(p["negative_slope"]))]
    if kind == "Sigmoid":
        return [1 / (1 + np.exp(-inputs[0]))]
    if kind == "TanH":
        return [np.tanh(inputs[0])]
    if kind == "Pooling":
        window = (int(p["kernel_size"]), int(p["stride"]), int(p["pad"]))
        return [_pool(inputs[0], str(p["pool"]), *window)]
    if kind == "Slice":
        axis = int(p["axis"])
        points = [int(v) for v in p["slice_point"]]
        return [a.copy() for a in np.split(inputs[0], points, axis=axis)]
    if kind == "Split":
        return [inputs[0].copy() for _ in node.outputs]
    if kind in ("Flatten", "Reshape"):
        shape = graph.tensors[node.outputs[0]].shape
        assert shape is not None
        return [inputs[0].reshape(shape).copy()]
    if kind == "Concat":
        return [np.concatenate(inputs, axis=int(p["axis"]))]
    if kind == "Eltwise":
        op = str(p["operation"])
        if op == "PROD":
            return [np.prod(np.stack(inputs), axis=0)]
        if op == "MAX":
            return [np.max(np.stack(inputs), axis=0)]
        coeffs = [float(c) for c in p["coeff"]] or [1.0] * len(inputs)
        return [sum(c * x for c, x in zip(coeffs, inputs, strict=True))]
    raise NotImplementedError(kind)


def forward(
    graph: Graph, feeds: Mapping[str, np.ndarray], weights: Mapping[str, np.ndarray]
) -> Arrays:
    """Every tensor's value (by tensor id), in float64."""
    values: Arrays = {k: np.asarray(v, dtype=np.float64) for k, v in feeds.items()}
    for node in graph.nodes:
        if node.layer.family == "input" or node.layer.training_only:
            continue
        outs = _layer(graph, node, [values[i] for i in node.inputs], weights)
        for tensor_id, value in zip(node.outputs, outs, strict=True):
            values[tensor_id] = value
    return values
