"""Layers of PSPNet's Caffe fork (hszhao/PSPNet), also in DeepLab v2 and the segmentation
models built on them: BN (batch normalisation with its own scale and shift) and Interp
(bilinear resizing with aligned corners)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from netc.layers.base import (
    BlobSpec,
    Cost,
    Elementwise,
    LayerContext,
    LayerType,
    OnnxAttr,
    OnnxEmitter,
    OnnxSite,
    Saved,
    Shape,
    ShapeError,
    TorchModule,
    TorchSite,
    Window,
    register,
)


@register
class BN(Elementwise):
    """PSPNet's BN (src/caffe/layers/bn_layer.cpp, from ChenglongChen/batch_normalization):
    y = slope · (x − mean) / √(var + eps) + bias per channel, with the moving averages at TEST
    and, `frozen: true`, in training too. Four blobs of 1×C×1×1: slope, bias, mean, variance
    (the last two without learning rate); the moving average keeps `momentum` of the old."""

    origin = "PSPNet (hszhao/PSPNet)"
    type = "BN"
    message = "bn_param"
    family = "norm"
    stem = "bn"

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        if len(inputs[0]) != 4:
            raise ShapeError(f"BN normalises N×C×H×W blobs, not {len(inputs[0])}-D ones")
        return [inputs[0]]

    def blobs(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[BlobSpec]:
        channels = inputs[0][1]
        return [
            BlobSpec("weight", (channels,)),
            BlobSpec("bias", (channels,)),
            BlobSpec("running_mean", (channels,), "buffer"),
            BlobSpec("running_var", (channels,), "buffer"),
        ]

    def frozen_blobs(self, ctx: LayerContext) -> frozenset[str]:
        # bn_layer.cpp's LayerSetUp sets the slope's and bias's lr_mult to 0 when frozen
        return frozenset(("weight", "bias")) if ctx.params["frozen"] else frozenset()

    def _batch_statistics(self, ctx: LayerContext) -> bool:
        return ctx.phase == "TRAIN" and not ctx.params["frozen"]

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        # subtract the mean, multiply by 1/sqrt(var + eps), · slope, + bias; with batch
        # statistics: their mean and variance, 4 more an element (as Caffe's BatchNorm)
        per_element = 4 + (4 if self._batch_statistics(ctx) else 0)
        return Cost(0, per_element * math.prod(outputs[0]))

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return [Saved("input"), Saved("extra", 0, 2 * inputs[0][1], 4)]  # + mean and 1/std

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        p = ctx.params
        return TorchModule(
            "nn.BatchNorm2d",
            args=(("num_features", site.inputs[0][1]),),
            kwargs=(
                ("eps", float(p["eps"])),
                # Caffe keeps `momentum` of the old average, torch `momentum` of the new batch
                ("momentum", float(f"{1 - float(p['momentum']):.12g}")),
            ),
            defaults=(("eps", 1e-5), ("momentum", 0.1)),
        )

    def torch_extra_state(self, ctx: LayerContext) -> tuple[str, ...]:
        return ("num_batches_tracked",)  # BatchNorm2d's counter: the fork has no such blob

    def torch_eval_always(self, ctx: LayerContext) -> bool:
        return bool(ctx.params["frozen"])  # the moving averages in training too

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        g.node(
            "BatchNormalization",
            [
                inputs[0],
                g.param("weight"),
                g.param("bias"),
                g.param("running_mean"),
                g.param("running_var"),
            ],
            outputs,
            epsilon=float(ctx.params["eps"]),
        )

    def initial(self, ctx: LayerContext, blob: str, shapes: dict[str, Shape]) -> tuple[str, float]:
        # torch's BatchNorm: slope 1, bias 0, mean 0, variance 1
        return ("constant", 1.0 if blob in ("weight", "running_var") else 0.0)


@register
class Interp(LayerType):
    """DeepLab v2's Interp, in PSPNet's fork (src/caffe/layers/interp_layer.cpp and
    src/caffe/util/interp.cpp): bilinear resizing with aligned corners (output i samples
    input i·(in−1)/(out−1)) of the input cropped by pad_beg/pad_end (≤ 0). The size: height
    and width; or zoom_factor (in + (in−1)(zoom−1)); or shrink_factor ((in−1)/shrink + 1);
    or shrink, then zoom."""

    origin = "PSPNet, DeepLab v2"
    type = "Interp"
    shape_rule = (
        "N × C × height × width, or zoomed (in + (in − 1)(zoom − 1)) / shrunk ((in − 1)/shrink + 1)"
    )
    message = "interp_param"
    family = "reshape"
    stem = "interp"

    def _sizes(self, ctx: LayerContext, shape: Shape) -> tuple[int, list[int], list[int]]:
        """(the crop at the start, the cropped input size, the output size), per spatial axis."""
        p = ctx.params
        begin, end = int(p["pad_beg"]), int(p["pad_end"])
        if begin > 0 or end > 0:
            raise ShapeError(
                "Interp pads only by cropping: pad_beg and pad_end must be 0 or negative",
                field="pad_beg" if begin > 0 else "pad_end",
            )
        cropped = [d + begin + end for d in shape[2:]]
        if any(d < 1 for d in cropped):
            raise ShapeError(
                f"pad_beg/pad_end crop the {list(shape[2:])} input away", field="pad_beg"
            )
        shrink, zoom = p.has("shrink_factor"), p.has("zoom_factor")
        if shrink or zoom:
            out = cropped
            if shrink:
                factor = int(p["shrink_factor"])
                if factor < 1:
                    raise ShapeError("shrink_factor must be at least 1", field="shrink_factor")
                out = [(d - 1) // factor + 1 for d in out]
            if zoom:
                factor = int(p["zoom_factor"])
                if factor < 1:
                    raise ShapeError("zoom_factor must be at least 1", field="zoom_factor")
                out = [d + (d - 1) * (factor - 1) for d in out]
        elif p.has("height") and p.has("width"):
            out = [int(p["height"]), int(p["width"])]
            if min(out) < 1:
                raise ShapeError("height and width must be positive", field="height")
        else:
            raise ShapeError(
                "Interp needs its output size",
                hint="give height and width, zoom_factor or shrink_factor",
            )
        return -begin, cropped, out

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        if len(inputs[0]) != 4:
            raise ShapeError(f"Interp resizes N×C×H×W blobs, not {len(inputs[0])}-D ones")
        _, _, out = self._sizes(ctx, inputs[0])
        return [(*inputs[0][:2], *out)]

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        # each output: 4 neighbours weighted and summed (4 multiplies, 3 adds)
        return Cost(0, 7 * math.prod(outputs[0]))

    def windows(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[Window] | None:
        crop, cropped, out = self._sizes(ctx, inputs[0])
        # output i is centred on input i·r (+ the crop) and reads the two pixels around it
        return [
            Window(2, (c - 1) / (o - 1) if o > 1 else 1, 0.5 - crop)
            for c, o in zip(cropped, out, strict=True)
        ]

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        crop, cropped, out = self._sizes(ctx, site.inputs[0])
        x = args[0]
        if cropped != list(site.inputs[0][2:]):
            x = f"{x}[:, :, {crop}:{crop + cropped[0]}, {crop}:{crop + cropped[1]}]"
        if cropped == out:  # Caffe copies
            return x
        size = f"({out[0]}, {out[1]})"
        return f'F.interpolate({x}, size={size}, mode="bilinear", align_corners=True)'

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        crop, cropped, out = self._sizes(ctx, site.inputs[0])
        x = inputs[0]
        resize = cropped != out
        if cropped != list(site.inputs[0][2:]):
            starts = g.const([crop, crop], "int64")
            ends = g.const([crop + cropped[0], crop + cropped[1]], "int64")
            x = g.node(
                "Slice", [x, starts, ends, g.const([2, 3], "int64")], None if resize else outputs
            )[0]
        if not resize:
            if x == inputs[0]:
                g.node("Identity", [x], outputs)
            return
        modes: dict[str, OnnxAttr] = {
            "mode": "linear",
            "coordinate_transformation_mode": "align_corners",
        }
        if site.opset >= 18:  # the spatial sizes only: the batch axis may stay symbolic
            g.node("Resize", [x, "", "", g.const(out, "int64")], outputs, axes=[2, 3], **modes)
            return
        sizes = g.const([*site.inputs[0][:2], *out], "int64")
        g.node("Resize", [x, "", "", sizes], outputs, **modes)

    def onnx_keeps_batch(self, ctx: LayerContext, site: OnnxSite) -> bool:
        # before opset 18, Resize takes the sizes of every axis, the batch's too
        return site.opset >= 18
