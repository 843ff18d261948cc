"""Element-wise layers: activations, dropout and friends (output shape = input shape)."""

from __future__ import annotations

from collections.abc import Sequence

from netc.layers.base import (
    BlobSpec,
    Elementwise,
    LayerContext,
    Shape,
    ShapeError,
    canonical_axis,
    register,
)


@register
class ReLU(Elementwise):
    type = "ReLU"
    aliases = ("RELU",)
    message = "relu_param"
    stem = "relu"


@register
class PReLU(Elementwise):
    type = "PReLU"
    message = "prelu_param"
    stem = "prelu"

    def blobs(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[BlobSpec]:
        shape = inputs[0]
        if ctx.params["channel_shared"]:
            return [BlobSpec("weight", ())]  # Caffe keeps one scalar slope
        if len(shape) < 2:
            raise ShapeError("PReLU needs a channel axis (input of at least 2 axes)")
        return [BlobSpec("weight", (shape[1],))]


@register
class Sigmoid(Elementwise):
    type = "Sigmoid"
    aliases = ("SIGMOID",)
    message = "sigmoid_param"
    stem = "sigmoid"


@register
class TanH(Elementwise):
    type = "TanH"
    aliases = ("TANH",)
    message = "tanh_param"
    stem = "tanh"


@register
class ELU(Elementwise):
    type = "ELU"
    message = "elu_param"
    stem = "elu"


@register
class AbsVal(Elementwise):
    type = "AbsVal"
    aliases = ("ABSVAL",)
    stem = "abs"
    in_place = False  # Caffe's absval_layer.cpp refuses in-place computation


@register
class BNLL(Elementwise):
    type = "BNLL"
    stem = "bnll"


@register
class Power(Elementwise):
    type = "Power"
    aliases = ("POWER",)
    message = "power_param"
    stem = "power"


@register
class Exp(Elementwise):
    type = "Exp"
    aliases = ("EXP",)
    message = "exp_param"
    stem = "exp"


@register
class Log(Elementwise):
    type = "Log"
    message = "log_param"
    stem = "log"


@register
class Threshold(Elementwise):
    type = "Threshold"
    aliases = ("THRESHOLD",)
    message = "threshold_param"
    stem = "threshold"


@register
class Clip(Elementwise):
    type = "Clip"
    message = "clip_param"
    stem = "clip"


@register
class Swish(Elementwise):
    type = "Swish"
    message = "swish_param"
    stem = "swish"


@register
class Dropout(Elementwise):
    type = "Dropout"
    aliases = ("DROPOUT",)
    message = "dropout_param"
    family = "dropout"
    stem = "drop"


@register
class Softmax(Elementwise):
    type = "Softmax"
    aliases = ("SOFTMAX",)
    message = "softmax_param"
    stem = "prob"

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        canonical_axis(int(ctx.params["axis"]), len(inputs[0]))
        return [tuple(inputs[0])]
