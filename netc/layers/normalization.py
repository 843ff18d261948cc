"""Normalisation layers: LRN, BatchNorm (Caffe's, optionally affine), MVN."""

from __future__ import annotations

import math
from collections.abc import Sequence

from netc.layers.base import (
    BlobSpec,
    Cost,
    Elementwise,
    LayerContext,
    Saved,
    Shape,
    ShapeError,
    fmt_shape,
    register,
)
from netc.proto.schema import Field, Kind


@register
class LRN(Elementwise):
    type = "LRN"
    aliases = ("LRN",)
    message = "lrn_param"
    family = "norm"
    stem = "norm"
    in_place = False

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        size = int(ctx.params["local_size"])
        if size < 1 or size % 2 == 0:
            raise ShapeError(
                f"local_size must be a positive odd number, got {size}", field="local_size"
            )
        if len(inputs[0]) != 4:
            raise ShapeError(f"LRN takes a 4-D input (N×C×H×W); got {fmt_shape(inputs[0])}")
        return [tuple(inputs[0])]

    def _window(self, ctx: LayerContext) -> int:
        size = int(ctx.params["local_size"])
        return size * size if ctx.params["norm_region"] == "WITHIN_CHANNEL" else size

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        # square, sum over the window (window - 1 adds), then scale (·alpha/n, +k, **beta, divide)
        return Cost(0, (self._window(ctx) + 4) * math.prod(outputs[0]))

    def cost_as(
        self, counting: str, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> Cost:
        if counting == "netscope":  # Netscope adds elements × local_size to its MACs
            macs = int(ctx.params["local_size"]) * math.prod(outputs[0])
            return Cost(macs, macs)
        return super().cost_as(counting, ctx, inputs, outputs)

    def extra_params_as(self, counting: str, ctx: LayerContext) -> int:
        return 2 if counting == "netscope" else 0  # Netscope lists alpha and beta as parameters

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return [Saved("input"), Saved("output")]


@register
class BatchNorm(Elementwise):
    """Caffe's BatchNorm: statistics only. `affine: true` (netc) adds Scale's γ and β,
    which makes it one torch BatchNorm2d(affine=True)."""

    type = "BatchNorm"
    message = "batch_norm_param"
    extensions = (Field("affine", 1001, Kind.BOOL, default=False),)
    family = "norm"
    stem = "bn"

    def blobs(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[BlobSpec]:
        shape = inputs[0]
        channels = shape[1] if len(shape) > 1 else 1  # Caffe: a 1-D input has one channel
        out = [
            BlobSpec("running_mean", (channels,), "buffer"),
            BlobSpec("running_var", (channels,), "buffer"),
            BlobSpec("moving_average_factor", (1,), "buffer"),
        ]
        if ctx.params["affine"]:
            out = [BlobSpec("weight", (channels,)), BlobSpec("bias", (channels,)), *out]
        return out

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        # normalise: subtract the mean, multiply by 1/sqrt(var + eps); affine: ·γ + β;
        # training statistics (TRAIN without use_global_stats): mean and variance, 4 more
        per_element = 2 + (2 if ctx.params["affine"] else 0)
        if ctx.phase == "TRAIN" and not ctx.params["use_global_stats"]:
            per_element += 4
        return Cost(0, per_element * math.prod(outputs[0]))

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        channels = inputs[0][1] if len(inputs[0]) > 1 else 1
        return [Saved("input"), Saved("extra", 0, 2 * channels, 4)]  # + batch mean and 1/std


@register
class MVN(Elementwise):
    type = "MVN"
    aliases = ("MVN",)
    message = "mvn_param"
    family = "norm"
    stem = "mvn"

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        # mean (add) and subtract; with variance: square, add, divide
        return Cost(0, (5 if ctx.params["normalize_variance"] else 2) * math.prod(outputs[0]))

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return [Saved("input")]
