"""Scale and Bias: a learned (one bottom) or given (two bottoms) factor/offset broadcast from `axis`."""

from __future__ import annotations

import math
from collections.abc import Sequence

from netc.layers.base import (
    BlobSpec,
    Cost,
    LayerContext,
    LayerType,
    Saved,
    Shape,
    ShapeError,
    canonical_axis,
    fmt_shape,
    register,
)


def _operand_shape(ctx: LayerContext, inputs: Sequence[Shape]) -> tuple[int, Shape]:
    """The axis and the shape of the factor (learned blob, or the second bottom)."""
    shape = inputs[0]
    axis = canonical_axis(int(ctx.params["axis"]), len(shape)) if shape else 0
    if len(inputs) > 1:
        other = tuple(inputs[1])
        if tuple(shape[axis : axis + len(other)]) != other:
            raise ShapeError(
                f"second bottom {fmt_shape(other)} does not match the first bottom "
                f"{fmt_shape(shape)} from axis {axis}",
                hint="the second bottom's shape must equal the first's dimensions starting at `axis` "
                "(for an SE gate of N×C use `axis: 0`)",
                field="axis",
            )
        return axis, other
    num_axes = int(ctx.params["num_axes"])
    if num_axes < -1:
        raise ShapeError(
            "num_axes must be -1 (all remaining axes) or non-negative", field="num_axes"
        )
    end = len(shape) if num_axes == -1 else axis + num_axes
    if end > len(shape):
        raise ShapeError(
            f"axis {axis} + num_axes {num_axes} exceeds the {len(shape)} axes of the input",
            field="num_axes",
        )
    return axis, tuple(shape[axis:end])


@register
class Scale(LayerType):
    type = "Scale"
    message = "scale_param"
    family = "norm"
    stem = "scale"
    bottoms = (1, 2)
    in_place = True

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        _operand_shape(ctx, inputs)
        return [tuple(inputs[0])]

    def blobs(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[BlobSpec]:
        _, operand = _operand_shape(ctx, inputs)
        out = [] if len(inputs) > 1 else [BlobSpec("weight", operand)]
        if ctx.params["bias_term"]:
            out.append(BlobSpec("bias", operand))
        return out

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        return Cost(0, (2 if ctx.params["bias_term"] else 1) * math.prod(outputs[0]))

    def cost_as(
        self, counting: str, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> Cost:
        if counting == "netscope":  # Netscope counts one MAC per element of a Scale
            return Cost(math.prod(outputs[0]), math.prod(outputs[0]))
        return super().cost_as(counting, ctx, inputs, outputs)

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        # x · w keeps x (for w's gradient); with a second bottom both factors
        return [Saved("input", i) for i in range(len(inputs))]


@register
class Bias(LayerType):
    type = "Bias"
    message = "bias_param"
    family = "norm"
    stem = "bias"
    bottoms = (1, 2)
    in_place = True

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        _operand_shape(ctx, inputs)
        return [tuple(inputs[0])]

    def blobs(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[BlobSpec]:
        _, operand = _operand_shape(ctx, inputs)
        return [] if len(inputs) > 1 else [BlobSpec("bias", operand)]

    flops_per_element = 1  # one add
