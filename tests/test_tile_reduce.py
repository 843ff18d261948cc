"""BVLC Caffe's Tile and Reduction: shapes, costs, and forward in torch and ONNX (at opset 13,
where most reductions take their axes as attributes, and 18, where they are inputs) against
numpy transcriptions of tile_layer.cpp and reduction_layer.cpp."""

from __future__ import annotations

import numpy as np
import pytest
from backend_outputs import torch_and_onnx

import netc
from netc.analysis.core import analyze

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")


SHAPE = (2, 3, 4, 5)


def _net(layer: str) -> str:
    return 'input: "data" input_shape { dim: 2 dim: 3 dim: 4 dim: 5 }\n' + layer + "\n"


def _outputs(text: str, x: np.ndarray, opset: int) -> list[np.ndarray]:
    return torch_and_onnx(netc.load(text), {"data": x}, opset=opset)


@pytest.mark.parametrize("opset", [13, 17])
@pytest.mark.parametrize("axis", [0, 1, 3, -2])
def test_tile_copies_the_blob_from_axis_on(axis: int, opset: int) -> None:
    text = _net(f'layer {{ name: "t" type: "Tile" bottom: "data" top: "t" axis: {axis} tiles: 3 }}')
    x = np.random.default_rng(10).standard_normal(SHAPE).astype(np.float32)
    # tile_layer.cpp: for each index before `axis`, the block from `axis` on, `tiles` times
    outer, inner = int(np.prod(SHAPE[: axis % 4])), int(np.prod(SHAPE[axis % 4 :]))
    expected = np.tile(x.reshape(outer, 1, inner), (1, 3, 1))
    shape = list(SHAPE)
    shape[axis % 4] *= 3
    expected = expected.reshape(shape)
    assert netc.load(text).tensor("t").shape == tuple(shape)
    for got in _outputs(text, x, opset):
        np.testing.assert_array_equal(got, expected)


REDUCE = {
    "SUM": lambda v: v.sum(-1),
    "ASUM": lambda v: np.abs(v).sum(-1),
    "SUMSQ": lambda v: (v**2).sum(-1),
    "MEAN": lambda v: v.mean(-1),
}


@pytest.mark.parametrize("opset", [13, 18])
@pytest.mark.parametrize("operation", sorted(REDUCE))
@pytest.mark.parametrize(("axis", "coeff"), [(0, 1.0), (1, 0.5), (3, -2.0)])
def test_reduction_over_the_tail_axes(operation: str, axis: int, coeff: float, opset: int) -> None:
    text = _net(
        f'layer {{ name: "r" type: "Reduction" bottom: "data" top: "r" '
        f"reduction_param {{ operation: {operation} axis: {axis} coeff: {coeff} }} }}"
    )
    x = np.random.default_rng(11).standard_normal(SHAPE).astype(np.float32)
    # reduction_layer.cpp: each index before `axis` reduces the block from `axis` on, × coeff
    expected = coeff * REDUCE[operation](x.reshape(*SHAPE[:axis], -1))
    assert netc.load(text).tensor("r").shape == SHAPE[:axis]
    for got in _outputs(text, x, opset):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    row = next(r for r in analyze(netc.load(text)).rows if r.name == "r")
    per_element = 1 if operation in ("SUM", "MEAN") else 2
    assert row.flops == per_element * 120 + (int(np.prod(SHAPE[:axis])) if coeff != 1 else 0)


def _caffe_argmax(x: np.ndarray, top_k: int, axis: int | None, out_max_val: bool) -> np.ndarray:
    """argmax_layer.cpp's Forward_cpu: per slice, the top_k (value, index) pairs in descending
    order; indices as floats."""
    if axis is not None:
        order = np.argsort(-x, axis=axis, kind="stable")
        picked = np.take(order, range(top_k), axis=axis)
        values = np.take_along_axis(x, picked, axis)
        return values if out_max_val else picked.astype(np.float32)
    flat = x.reshape(x.shape[0], -1)
    picked = np.argsort(-flat, axis=1, kind="stable")[:, :top_k]
    parts = [picked.astype(np.float32)]
    if out_max_val:
        parts.append(np.take_along_axis(flat, picked, 1))
    out = np.stack(parts, 1)
    return out.reshape(*out.shape, *[1] * (x.ndim - 3))


@pytest.mark.parametrize("out_max_val", [False, True])
@pytest.mark.parametrize(("axis", "top_k"), [(None, 1), (None, 3), (1, 2), (3, 1), (-1, 4)])
def test_argmax_against_caffes_forward(axis: int | None, top_k: int, out_max_val: bool) -> None:
    axis_field = "" if axis is None else f"axis: {axis}"
    text = _net(
        f'layer {{ name: "a" type: "ArgMax" bottom: "data" top: "a" argmax_param {{ '
        f"top_k: {top_k} out_max_val: {str(out_max_val).lower()} {axis_field} }} }}"
    )
    x = np.random.default_rng(12).standard_normal(SHAPE).astype(np.float32)  # no ties
    expected = _caffe_argmax(x, top_k, axis, out_max_val)
    assert netc.load(text).tensor("a").shape == expected.shape
    for got in _outputs(text, x, 17):
        np.testing.assert_array_equal(got, expected)
