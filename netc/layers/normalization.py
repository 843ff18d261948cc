"""Normalisation layers: LRN, BatchNorm (Caffe's, optionally affine), MVN."""

from __future__ import annotations

from collections.abc import Sequence

from netc.layers.base import (
    BlobSpec,
    Elementwise,
    LayerContext,
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


@register
class MVN(Elementwise):
    type = "MVN"
    aliases = ("MVN",)
    message = "mvn_param"
    family = "norm"
    stem = "mvn"
