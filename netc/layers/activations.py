"""Element-wise layers: activations, dropout and friends (output shape = input shape).

Costs count one operation per arithmetic step per element, a transcendental function (exp,
log, tanh, pow) as one (docs/conventions.md). `saved` follows what torch keeps for backward.
"""

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
    canonical_axis,
    register,
)

_INPUT = [Saved("input")]
_OUTPUT = [Saved("output")]


@register
class ReLU(Elementwise):
    type = "ReLU"
    aliases = ("RELU",)
    message = "relu_param"
    stem = "relu"
    overwrites_input = True  # torch.nn.ReLU(inplace=True)

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        leaky = float(ctx.params["negative_slope"] or 0) != 0
        return Cost(0, (2 if leaky else 1) * math.prod(outputs[0]))  # max (+ a multiply)

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return _OUTPUT


@register
class PReLU(Elementwise):
    type = "PReLU"
    message = "prelu_param"
    stem = "prelu"
    flops_per_element = 2  # compare, multiply

    def blobs(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[BlobSpec]:
        shape = inputs[0]
        if ctx.params["channel_shared"]:
            return [BlobSpec("weight", ())]  # Caffe keeps one scalar slope
        if len(shape) < 2:
            raise ShapeError(
                "PReLU needs a channel axis (input of at least 2 axes)",
                hint="use channel_shared: true",
            )
        return [BlobSpec("weight", (shape[1],))]

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return _INPUT


@register
class Sigmoid(Elementwise):
    type = "Sigmoid"
    aliases = ("SIGMOID",)
    message = "sigmoid_param"
    stem = "sigmoid"
    flops_per_element = 4  # negate, exp, add, divide

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return _OUTPUT


@register
class TanH(Elementwise):
    type = "TanH"
    aliases = ("TANH",)
    message = "tanh_param"
    stem = "tanh"
    flops_per_element = 1  # tanh

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return _OUTPUT


@register
class ELU(Elementwise):
    type = "ELU"
    message = "elu_param"
    stem = "elu"
    flops_per_element = 4  # compare, exp, subtract, multiply

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return _OUTPUT


@register
class AbsVal(Elementwise):
    type = "AbsVal"
    aliases = ("ABSVAL",)
    stem = "abs"
    in_place = False  # Caffe's absval_layer.cpp refuses in-place computation
    flops_per_element = 1

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return _INPUT


@register
class BNLL(Elementwise):
    type = "BNLL"
    stem = "bnll"
    flops_per_element = 3  # log(1 + exp(x)): exp, add, log

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return _INPUT


@register
class Power(Elementwise):
    type = "Power"
    aliases = ("POWER",)
    message = "power_param"
    stem = "power"
    flops_per_element = 3  # (shift + scale·x) ** power: multiply, add, pow

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return _INPUT


@register
class Exp(Elementwise):
    type = "Exp"
    aliases = ("EXP",)
    message = "exp_param"
    stem = "exp"
    flops_per_element = 3  # base ** (shift + scale·x): multiply, add, exp

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return _OUTPUT


@register
class Log(Elementwise):
    type = "Log"
    message = "log_param"
    stem = "log"
    flops_per_element = 3  # log_base(shift + scale·x): multiply, add, log

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return _INPUT


@register
class Threshold(Elementwise):
    type = "Threshold"
    aliases = ("THRESHOLD",)
    message = "threshold_param"
    stem = "threshold"
    flops_per_element = 1  # compare


@register
class Clip(Elementwise):
    type = "Clip"
    message = "clip_param"
    stem = "clip"
    flops_per_element = 2  # min, max

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return _INPUT


@register
class Swish(Elementwise):
    type = "Swish"
    message = "swish_param"
    stem = "swish"
    flops_per_element = 6  # x · sigmoid(beta·x): multiply, sigmoid (4), multiply

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return _INPUT


@register
class Dropout(Elementwise):
    type = "Dropout"
    aliases = ("DROPOUT",)
    message = "dropout_param"
    family = "dropout"
    stem = "drop"
    overwrites_input = True  # torch.nn.Dropout(inplace=True)

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        # the identity at inference; in training a mask test and a scaled multiply per element
        return Cost(0, 2 * math.prod(outputs[0]) if ctx.phase == "TRAIN" else 0)

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return [Saved("extra", 0, math.prod(outputs[0]), 1)]  # the mask, one byte an element


@register
class Softmax(Elementwise):
    type = "Softmax"
    aliases = ("SOFTMAX",)
    message = "softmax_param"
    stem = "prob"
    flops_per_element = 5  # subtract the max (max, subtract), exp, sum, divide

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        canonical_axis(int(ctx.params["axis"]), len(inputs[0]))
        return [tuple(inputs[0])]

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return _OUTPUT
