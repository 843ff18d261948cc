"""Convolution and Deconvolution, with Caffe's group, dilation, bias_term and _h/_w forms."""

from __future__ import annotations

import math
from collections.abc import Sequence

from netc.layers.base import (
    BackendError,
    BlobSpec,
    Cost,
    LayerContext,
    LayerType,
    OnnxEmitter,
    OnnxSite,
    Saved,
    Shape,
    ShapeError,
    TorchModule,
    TorchSite,
    Window,
    canonical_axis,
    fmt_shape,
    register,
    spatial,
)


def _collapse(values: list[int]) -> int | tuple[int, ...]:
    """One value for every spatial axis when they agree (torch's `kernel_size=3`), else a tuple."""
    return values[0] if len(set(values)) == 1 else tuple(values)


class _ConvBase(LayerType):
    message = "convolution_param"
    family = "conv"
    stem = "conv"

    def group(self, ctx: LayerContext, channels: int) -> int:
        """How many groups the channels fall into (`group`; a depthwise fork's: all)."""
        return int(ctx.params["group"])

    def geometry(
        self, ctx: LayerContext, shape: Shape
    ) -> tuple[int, int, list[int], list[int], list[int], list[int]]:
        p = ctx.params
        axis = canonical_axis(int(p["axis"]), len(shape))
        n = len(shape) - axis - 1
        if n < 1:
            raise ShapeError(
                f"{self.type} needs spatial axes after the channel axis; input is {fmt_shape(shape)}"
            )
        kernel = spatial(p, "kernel_size", n, None, h="kernel_h", w="kernel_w")
        pad = spatial(p, "pad", n, 0, h="pad_h", w="pad_w")
        stride = spatial(p, "stride", n, 1, h="stride_h", w="stride_w")
        dilation = spatial(p, "dilation", n, 1)
        if any(s < 1 for s in stride):
            raise ShapeError("stride must be positive", field="stride")
        if any(k < 1 for k in kernel):
            raise ShapeError("kernel_size must be positive", field="kernel_size")
        if any(d < 1 for d in dilation):
            raise ShapeError("dilation must be positive", field="dilation")
        num_output = p["num_output"]
        if num_output is None or int(num_output) < 1:
            raise ShapeError(
                "num_output must be a positive integer",
                hint="add `num_output: N`",
                field="num_output",
            )
        channels = shape[axis]
        group = self.group(ctx, channels)
        if group < 1 or channels % group or int(num_output) % group:
            raise ShapeError(
                f"group {group} must divide both the input channels ({channels}) and num_output ({num_output})",
                field="group",
            )
        return axis, int(num_output), kernel, pad, stride, dilation

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        # one MAC per weight per position: output positions (convolution) or input positions
        # (deconvolution, which scatters each input into a window of the output)
        weight = self.blobs(ctx, inputs)[0].shape
        positions = inputs[0] if self.type == "Deconvolution" else outputs[0]
        axis = canonical_axis(int(ctx.params["axis"]), len(inputs[0]))
        macs = math.prod(positions[:axis]) * math.prod(positions[axis + 1 :]) * math.prod(weight)
        bias = math.prod(outputs[0]) if ctx.params["bias_term"] else 0
        return Cost(macs, 2 * macs + bias)

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return [Saved("input")]

    def windows(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[Window] | None:
        _, _, kernel, pad, stride, dilation = self.geometry(ctx, inputs[0])
        if self.type == "Deconvolution":  # in input units: a window of ceil(k/s) inputs, stride 1/s
            return [
                Window(max(1, math.ceil((d * (k - 1) + 1) / s)), 1 / s, 0, 1)
                for k, s, d in zip(kernel, stride, dilation, strict=True)
            ]
        return [
            Window(k, s, p, d) for k, s, p, d in zip(kernel, stride, pad, dilation, strict=True)
        ]

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        shape = site.inputs[0]
        axis, num_output, kernel, pad, stride, dilation = self.geometry(ctx, shape)
        if axis != 1:
            raise BackendError(
                f"torch convolutions take the channels on axis 1, not {axis}", field="axis"
            )
        if len(kernel) > 3:
            raise BackendError(f"torch has no {len(kernel)}-D convolution")
        kind = "ConvTranspose" if self.type == "Deconvolution" else "Conv"
        return TorchModule(
            f"nn.{kind}{len(kernel)}d",
            args=(("in_channels", shape[1]), ("out_channels", num_output)),
            kwargs=(
                ("kernel_size", _collapse(kernel)),
                ("stride", _collapse(stride)),
                ("padding", _collapse(pad)),
                ("dilation", _collapse(dilation)),
                ("groups", self.group(ctx, shape[1])),
                ("bias", bool(ctx.params["bias_term"])),
            ),
            defaults=(
                ("stride", 1),
                ("padding", 0),
                ("dilation", 1),
                ("groups", 1),
                ("bias", True),
            ),
        )

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        # ONNX Conv/ConvTranspose: Caffe's weight layouts, pads begin = end (Caffe pads both
        # sides alike), Caffe's deconvolution size s(i - 1) + d(k - 1) + 1 - 2p with no
        # output_padding
        axis, _, kernel, pad, stride, dilation = self.geometry(ctx, site.inputs[0])
        if axis != 1:
            raise BackendError(
                f"ONNX convolutions take the channels on axis 1, not {axis}", field="axis"
            )
        weights = [g.param("weight")]
        if ctx.params["bias_term"]:
            weights.append(g.param("bias"))
        g.node(
            "ConvTranspose" if self.type == "Deconvolution" else "Conv",
            [inputs[0], *weights],
            outputs,
            kernel_shape=kernel,
            pads=[*pad, *pad],
            strides=stride,
            dilations=dilation,
            group=self.group(ctx, site.inputs[0][axis]),
        )

    def blobs(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[BlobSpec]:
        axis, num_output, kernel, *_ = self.geometry(ctx, inputs[0])
        channels = inputs[0][axis]
        group = self.group(ctx, channels)
        if self.type == "Deconvolution":
            weight: Shape = (channels, num_output // group, *kernel)
        else:
            weight = (num_output, channels // group, *kernel)
        out = [BlobSpec("weight", weight)]
        if ctx.params["bias_term"]:
            out.append(BlobSpec("bias", (num_output,)))
        return out


@register
class Convolution(_ConvBase):
    type = "Convolution"
    shape_rule = (
        "N × num_output × ⌊(in + 2·pad − dilation·(k − 1) − 1) / stride⌋ + 1 per spatial axis"
    )
    aliases = ("CONVOLUTION",)

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        out = []
        for shape in inputs:
            axis, num_output, kernel, pad, stride, dilation = self.geometry(ctx, shape)
            dims = []
            for i, (size, k, p, s, d) in enumerate(
                zip(shape[axis + 1 :], kernel, pad, stride, dilation, strict=True)
            ):
                extent = d * (k - 1) + 1
                if size + 2 * p < extent:
                    raise ShapeError(
                        f"kernel {extent} is larger than the padded input {size + 2 * p} on spatial axis {i}",
                        hint="use a smaller kernel, more padding, or a larger input",
                        field="kernel_size",
                    )
                dims.append((size + 2 * p - extent) // s + 1)
            out.append((*shape[:axis], num_output, *dims))
        return out


@register
class Deconvolution(_ConvBase):
    type = "Deconvolution"
    shape_rule = "N × num_output × stride·(in − 1) + dilation·(k − 1) + 1 − 2·pad per spatial axis"
    aliases = ("DECONVOLUTION",)
    stem = "deconv"

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        out = []
        for shape in inputs:
            axis, num_output, kernel, pad, stride, dilation = self.geometry(ctx, shape)
            dims = []
            for size, k, p, s, d in zip(
                shape[axis + 1 :], kernel, pad, stride, dilation, strict=True
            ):
                size_out = s * (size - 1) + d * (k - 1) + 1 - 2 * p
                if size_out < 1:
                    raise ShapeError(
                        f"output size {size_out} is not positive", hint="reduce pad", field="pad"
                    )
                dims.append(size_out)
            out.append((*shape[:axis], num_output, *dims))
        return out


@register
class ConvolutionDepthwise(Convolution):
    """The depthwise convolution of MobileNet and ShuffleNet Caffe releases
    (yonghenglh6/DepthwiseConvolution, conv_dw_layer.cpp): `convolution_param` as for
    Convolution, each output channel filtering one input channel (num_output a multiple of
    the channels): a Convolution with one group per input channel, weights C'×1×k×k."""

    origin = "MobileNet/ShuffleNet (yonghenglh6/DepthwiseConvolution)"
    type = "ConvolutionDepthwise"
    shape_rule = "as Convolution, with one group a channel"
    aliases = ("DepthwiseConvolution",)

    def group(self, ctx: LayerContext, channels: int) -> int:
        return channels
