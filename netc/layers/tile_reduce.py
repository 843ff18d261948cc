"""BVLC Caffe's Tile and Reduction (src/caffe/layers/tile_layer.cpp, reduction_layer.cpp)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from netc.layers.base import (
    Cost,
    LayerContext,
    LayerType,
    OnnxEmitter,
    OnnxSite,
    Saved,
    Shape,
    ShapeError,
    TorchSite,
    canonical_axis,
    register,
)


@register
class Tile(LayerType):
    """Copies of the blob from `axis` on, `tiles` times along `axis` (as torch's repeat)."""

    type = "Tile"
    shape_rule = "the input's shape, `axis` times `tiles`"
    message = "tile_param"
    family = "reshape"
    stem = "tile"
    flops_per_element = 0  # data movement only

    def _window(self, ctx: LayerContext, shape: Shape) -> tuple[int, int]:
        axis = canonical_axis(int(ctx.params["axis"]), len(shape))
        tiles = ctx.params["tiles"]
        if tiles is None or int(tiles) < 1:
            raise ShapeError("Tile needs tiles ≥ 1", hint="add `tiles: N`", field="tiles")
        return axis, int(tiles)

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        axis, tiles = self._window(ctx, inputs[0])
        shape = list(inputs[0])
        shape[axis] *= tiles
        return [tuple(shape)]

    def _repeats(self, ctx: LayerContext, shape: Shape) -> list[int]:
        axis, tiles = self._window(ctx, shape)
        return [tiles if i == axis else 1 for i in range(len(shape))]

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        return f"{args[0]}.repeat({', '.join(map(str, self._repeats(ctx, site.inputs[0])))})"

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        repeats = g.const(self._repeats(ctx, site.inputs[0]), "int64")
        g.node("Tile", [inputs[0], repeats], outputs)

    def onnx_keeps_batch(self, ctx: LayerContext, site: OnnxSite) -> bool:
        return self._window(ctx, site.inputs[0])[0] != 0


_TORCH_REDUCTIONS = {
    "SUM": "{x}.sum(-1)",
    "MEAN": "{x}.mean(-1)",
    "ASUM": "{x}.abs().sum(-1)",
    "SUMSQ": "{x}.pow(2).sum(-1)",
}
_ONNX_REDUCTIONS = {
    "SUM": "ReduceSum",
    "MEAN": "ReduceMean",
    "ASUM": "ReduceL1",
    "SUMSQ": "ReduceSumSquare",
}


@register
class Reduction(LayerType):
    """Every axis from `axis` on reduced to one number (SUM, ASUM, SUMSQ or MEAN), times
    `coeff`: the output keeps the axes before `axis` (a scalar for axis 0)."""

    type = "Reduction"
    shape_rule = "the axes before `axis` (a scalar for axis 0)"
    message = "reduction_param"
    family = "merge"
    stem = "reduce"

    def _axis(self, ctx: LayerContext, shape: Shape) -> int:
        return canonical_axis(int(ctx.params["axis"]), len(shape))

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        return [tuple(inputs[0][: self._axis(ctx, inputs[0])])]

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        # an add an element (abs or square first: one more), then the coefficient per output
        per_element = 1 if ctx.params["operation"] in ("SUM", "MEAN") else 2
        scale = math.prod(outputs[0]) if float(ctx.params["coeff"]) != 1.0 else 0
        return Cost(0, per_element * math.prod(inputs[0]) + scale)

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return [] if ctx.params["operation"] in ("SUM", "MEAN") else [Saved("input")]

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        axis = self._axis(ctx, site.inputs[0])
        flat = f"{args[0]}.flatten({axis})" if axis else f"{args[0]}.reshape(-1)"
        reduced = _TORCH_REDUCTIONS[str(ctx.params["operation"])].format(x=flat)
        coeff = float(ctx.params["coeff"])
        return reduced if coeff == 1.0 else f"{coeff!r} * {reduced}"

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        axis = self._axis(ctx, site.inputs[0])
        flat = g.node("Reshape", [inputs[0], g.const([0] * axis + [-1], "int64")])[0]
        op = _ONNX_REDUCTIONS[str(ctx.params["operation"])]
        coeff = float(ctx.params["coeff"])
        done = outputs if coeff == 1.0 else None
        # ReduceSum takes its axes as an input (netc's opsets start at 13), the others from 18
        if op == "ReduceSum" or site.opset >= 18:
            reduced = g.node(op, [flat, g.const([axis], "int64")], done, keepdims=0)[0]
        else:
            reduced = g.node(op, [flat], done, axes=[axis], keepdims=0)[0]
        if done is None:
            g.node("Mul", [reduced, g.const(coeff)], outputs)

    def onnx_keeps_batch(self, ctx: LayerContext, site: OnnxSite) -> bool:
        return self._axis(ctx, site.inputs[0]) > 0
