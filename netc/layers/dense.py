"""InnerProduct (fully connected), flattening everything from `axis` on."""

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
    Window,
    canonical_axis,
    register,
)


@register
class InnerProduct(LayerType):
    type = "InnerProduct"
    aliases = ("INNER_PRODUCT",)
    message = "inner_product_param"
    family = "fc"
    stem = "fc"

    def _dims(self, ctx: LayerContext, shape: Shape) -> tuple[int, int, int]:
        axis = canonical_axis(int(ctx.params["axis"]), len(shape))
        num_output = ctx.params["num_output"]
        if num_output is None or int(num_output) < 1:
            raise ShapeError(
                "num_output must be a positive integer",
                hint="add `num_output: N`",
                field="num_output",
            )
        return axis, math.prod(shape[axis:]), int(num_output)

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        axis, _, num_output = self._dims(ctx, inputs[0])
        return [(*inputs[0][:axis], num_output)]

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        axis, fan_in, num_output = self._dims(ctx, inputs[0])
        rows = math.prod(inputs[0][:axis])
        macs = rows * fan_in * num_output
        return Cost(macs, 2 * macs + (rows * num_output if ctx.params["bias_term"] else 0))

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return [Saved("input")]

    def windows(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[Window] | None:
        # a fully-connected layer sees its whole input: a window as large as each spatial axis
        return [Window(size) for size in inputs[0][2:]]

    def blobs(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[BlobSpec]:
        _, fan_in, num_output = self._dims(ctx, inputs[0])
        weight = (fan_in, num_output) if ctx.params["transpose"] else (num_output, fan_in)
        out = [BlobSpec("weight", weight)]
        if ctx.params["bias_term"]:
            out.append(BlobSpec("bias", (num_output,)))
        return out
