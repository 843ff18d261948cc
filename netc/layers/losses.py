"""Training-only layers: losses, metrics and Silence. Understood, shape-checked, never run at inference."""

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
    canonical_axis,
    fmt_shape,
    register,
)


class _Loss(LayerType):
    family = "loss"
    stem = "loss"
    bottoms = (2, 3)
    tops = (0, 1)
    training_only = True

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        return [()] * n_tops

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        return Cost(0, 3 * math.prod(inputs[0]))  # e.g. subtract, square, accumulate

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return [Saved("input", i) for i in range(len(inputs))]


@register
class SoftmaxWithLoss(_Loss):
    type = "SoftmaxWithLoss"
    shape_rule = "a scalar (and the probabilities with a second top)"
    aliases = ("SOFTMAX_LOSS",)
    message = "softmax_param"
    tops = (0, 2)

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        return Cost(0, 6 * math.prod(inputs[0]))  # softmax (5) and the log of the label's score

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        scores, labels = inputs[0], inputs[1]
        axis = canonical_axis(int(ctx.params["axis"]), len(scores))
        outer, inner = math.prod(scores[:axis]), math.prod(scores[axis + 1 :])
        if math.prod(labels) != outer * inner:
            raise ShapeError(
                f"labels {fmt_shape(labels)} do not match scores {fmt_shape(scores)}",
                hint=f"expected {outer * inner} labels (one per position outside the softmax axis)",
            )
        return [(), tuple(scores)][:n_tops]


@register
class EuclideanLoss(_Loss):
    type = "EuclideanLoss"
    shape_rule = "a scalar"
    aliases = ("EUCLIDEAN_LOSS",)
    bottoms = (2, 2)


@register
class SigmoidCrossEntropyLoss(_Loss):
    type = "SigmoidCrossEntropyLoss"
    shape_rule = "a scalar"
    aliases = ("SIGMOID_CROSS_ENTROPY_LOSS",)
    bottoms = (2, 2)


@register
class HingeLoss(_Loss):
    type = "HingeLoss"
    shape_rule = "a scalar"
    aliases = ("HINGE_LOSS",)
    message = "hinge_loss_param"
    bottoms = (2, 2)


@register
class InfogainLoss(_Loss):
    type = "InfogainLoss"
    shape_rule = "a scalar"
    aliases = ("INFOGAIN_LOSS",)
    message = "infogain_loss_param"


@register
class MultinomialLogisticLoss(_Loss):
    type = "MultinomialLogisticLoss"
    shape_rule = "a scalar"
    aliases = ("MULTINOMIAL_LOGISTIC_LOSS",)
    bottoms = (2, 2)


@register
class ContrastiveLoss(_Loss):
    type = "ContrastiveLoss"
    shape_rule = "a scalar"
    aliases = ("CONTRASTIVE_LOSS",)
    message = "contrastive_loss_param"
    bottoms = (3, 3)


@register
class Accuracy(LayerType):
    type = "Accuracy"
    shape_rule = "a scalar (and per-class accuracies with a second top)"
    aliases = ("ACCURACY",)
    message = "accuracy_param"
    family = "loss"
    stem = "accuracy"
    bottoms = (2, 2)
    tops = (1, 2)
    training_only = True

    flops_per_element = 0

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        return Cost(0, math.prod(inputs[0]))  # one comparison per score

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        scores, labels = inputs[0], inputs[1]
        axis = canonical_axis(int(ctx.params["axis"]), len(scores))
        if math.prod(labels) != math.prod(scores[:axis]) * math.prod(scores[axis + 1 :]):
            raise ShapeError(
                f"labels {fmt_shape(labels)} do not match predictions {fmt_shape(scores)}",
                hint="one label per prediction (per position outside the class axis)",
            )
        tops: list[Shape] = [()]
        if n_tops > 1:
            tops.append((scores[axis],))  # per-class accuracy
        return tops


@register
class Silence(LayerType):
    type = "Silence"
    shape_rule = "no top"
    aliases = ("SILENCE",)
    family = "loss"
    stem = "silence"
    bottoms = (1, None)
    tops = (0, 0)
    training_only = True

    flops_per_element = 0

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        return []
