"""Pooling with Caffe's rounding: up by default, dropping a last window that starts in the padding."""

from __future__ import annotations

import math
from collections.abc import Sequence

from netc.layers.base import (
    Cost,
    LayerContext,
    LayerType,
    Saved,
    Shape,
    ShapeError,
    Window,
    fmt_shape,
    register,
    spatial,
)


@register
class Pooling(LayerType):
    type = "Pooling"
    aliases = ("POOLING",)
    message = "pooling_param"
    family = "pool"
    stem = "pool"

    def window(self, ctx: LayerContext, shape: Shape) -> tuple[list[int], list[int], list[int]]:
        p = ctx.params
        if len(shape) != 4:
            raise ShapeError(f"Pooling takes a 4-D input (N×C×H×W); got {fmt_shape(shape)}")
        if p["global_pooling"]:
            if p.has("kernel_size") or p.has("kernel_h"):
                raise ShapeError(
                    "global_pooling sets the window to the whole input; drop kernel_size",
                    field="kernel_size" if p.has("kernel_size") else "kernel_h",
                )
            if spatial(p, "pad", 2, 0, h="pad_h", w="pad_w") != [0, 0] or spatial(
                p, "stride", 2, 1, h="stride_h", w="stride_w"
            ) != [1, 1]:
                raise ShapeError(
                    "global_pooling allows only pad 0 and stride 1",
                    hint="drop pad and stride (Caffe rejects them too)",
                    field="stride" if p.has("stride") or p.has("stride_h") else "pad",
                )
            return [shape[2], shape[3]], [0, 0], [1, 1]
        kernel = spatial(p, "kernel_size", 2, None, h="kernel_h", w="kernel_w")
        pad = spatial(p, "pad", 2, 0, h="pad_h", w="pad_w")
        stride = spatial(p, "stride", 2, 1, h="stride_h", w="stride_w")
        if any(s < 1 for s in stride):
            raise ShapeError("stride must be positive", field="stride")
        if any(k < 1 for k in kernel):
            raise ShapeError("kernel_size must be positive", field="kernel_size")
        if any(pd >= k for pd, k in zip(pad, kernel, strict=True)):
            raise ShapeError("pad must be smaller than the kernel", field="pad")
        return kernel, pad, stride

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        shape = inputs[0]
        kernel, pad, stride = self.window(ctx, shape)
        ceil = ctx.params["round_mode"] != "FLOOR"
        dims = []
        padded = any(pad)  # Caffe clips both axes when either is padded
        for i, (size, k, p, s) in enumerate(zip(shape[2:], kernel, pad, stride, strict=True)):
            if size + 2 * p < k:
                raise ShapeError(
                    f"pooling window {k} is larger than the padded input {size + 2 * p} on axis {'HW'[i]}",
                    hint="use a smaller kernel or global_pooling",
                    field="kernel_size",
                )
            span = (size + 2 * p - k) / s
            out = (math.ceil(span) if ceil else math.floor(span)) + 1
            if padded and (out - 1) * s >= size + p:
                out -= 1  # the last window would start inside the padding: Caffe clips it
            dims.append(out)
        tops = [(*shape[:2], *dims)]
        if n_tops == 2:  # MAX pooling may output its argmax mask as a second top
            tops.append(tops[0])
        return tops

    tops = (1, 2)

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        kernel, _, _ = self.window(ctx, inputs[0])
        area = math.prod(kernel)
        # MAX: area - 1 comparisons per output; AVE (and STOCHASTIC): area - 1 adds and a divide
        per_output = area - 1 if ctx.params["pool"] == "MAX" else area
        return Cost(0, per_output * math.prod(outputs[0]))

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        if ctx.params["pool"] == "MAX":  # the input and the argmax indices (int64)
            return [Saved("input"), Saved("extra", 0, math.prod(outputs[0]), 8)]
        return [Saved("input")]

    def windows(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[Window] | None:
        kernel, pad, stride = self.window(ctx, inputs[0])
        return [Window(k, s, p) for k, s, p in zip(kernel, stride, pad, strict=True)]
