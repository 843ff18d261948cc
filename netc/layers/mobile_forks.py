"""Layers of the Caffe releases of SENet and ShuffleNet: Axpy (SENet's fused scale-and-add)
and ShuffleChannel. (Their depthwise convolution is netc/layers/conv.py's
ConvolutionDepthwise.)"""

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
    register,
)


@register
class Axpy(LayerType):
    """SENet's Axpy (hujie-frank/SENet, src/caffe/layers/axpy_layer.cpp): bottoms a (N×C or
    N×C×1×1), x and y (alike); top = a[n, c] · x + y, the excitation's scale and the residual
    sum in one layer."""

    origin = "SENet (hujie-frank/SENet)"
    type = "Axpy"
    shape_rule = "x's shape (the scale is N×C or N×C×1×1)"
    family = "merge"
    stem = "axpy"
    bottoms = (3, 3)

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        a, x, y = inputs
        if x != y:
            raise ShapeError(f"x {x} and y {y} must have one shape (Axpy adds them)")
        if len(x) < 2 or tuple(a[:2]) != tuple(x[:2]) or any(d != 1 for d in a[2:]):
            raise ShapeError(
                f"the scale {list(a)} must be N×C (or N×C×1×1) of x {list(x)}",
                hint="Axpy's first bottom is one scale per sample and channel",
            )
        return [x]

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        return Cost(0, 2 * math.prod(outputs[0]))  # a multiply and an add an element

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return [Saved("input", 0), Saved("input", 1)]  # d/dx needs a, d/da needs x

    def _scale(self, a: Shape, x: Shape) -> str:
        """Indexing that lines the scale up with x's axes."""
        return (
            "[" + ", ".join([":", ":"] + ["None"] * (len(x) - len(a))) + "]"
            if len(a) < len(x)
            else ""
        )

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        a, x, y = args
        scale = self._scale(site.inputs[0], site.inputs[1])
        return f"{a}{scale} * {x} + {y}"

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        a, x, y = inputs
        missing = len(site.inputs[1]) - len(site.inputs[0])
        if missing:  # N×C: as N×C×1×1 (0 keeps a dimension, so the batch stays symbolic)
            a = g.node("Reshape", [a, g.const([0, 0, *[1] * missing], "int64")])[0]
        scaled = g.node("Mul", [a, x])[0]
        g.node("Add", [scaled, y], outputs)


@register
class ShuffleChannel(LayerType):
    """ShuffleNet's channel shuffle (farmingyard/ShuffleNet, shuffle_channel_layer.cpp): the C
    channels read as a group×(C/group) matrix, transposed: output channel j·group + i is input
    channel i·(C/group) + j."""

    origin = "ShuffleNet (farmingyard/ShuffleNet)"
    type = "ShuffleChannel"
    shape_rule = "the input's shape"
    message = "shuffle_channel_param"
    family = "reshape"
    stem = "shuffle"
    flops_per_element = 0  # data movement only

    def _group(self, ctx: LayerContext, shape: Shape) -> int:
        group = int(ctx.params["group"])
        if len(shape) < 2 or group < 1 or shape[1] % group:
            raise ShapeError(
                f"group {group} must divide the {shape[1] if len(shape) > 1 else 0} channels",
                field="group",
            )
        return group

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        self._group(ctx, inputs[0])
        return [inputs[0]]

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        shape = site.inputs[0]
        group = self._group(ctx, shape)
        rest = ", ".join(str(d) for d in shape[2:])
        split = f"{args[0]}.reshape(-1, {group}, {shape[1] // group}{', ' + rest if rest else ''})"
        return f"{split}.transpose(1, 2).reshape(-1, {', '.join(str(d) for d in shape[1:])})"

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        shape = site.inputs[0]
        group = self._group(ctx, shape)
        split = g.node(
            "Reshape", [inputs[0], g.const([0, group, shape[1] // group, *shape[2:]], "int64")]
        )[0]
        order = list(range(len(shape) + 1))
        order[1], order[2] = 2, 1
        swapped = g.node("Transpose", [split], perm=order)[0]
        g.node("Reshape", [swapped, g.const([0, *shape[1:]], "int64")], outputs)
