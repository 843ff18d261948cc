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
    OnnxEmitter,
    OnnxSite,
    Saved,
    Shape,
    ShapeError,
    TorchModule,
    TorchSite,
    canonical_axis,
    py_float,
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
        # torch's relu keeps its result; leaky_relu (out of place) keeps its input
        return _INPUT if float(ctx.params["negative_slope"] or 0) != 0 else _OUTPUT

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        slope = float(ctx.params["negative_slope"] or 0)
        if slope:
            return TorchModule(
                "nn.LeakyReLU",
                args=(("negative_slope", slope),),
                kwargs=(("inplace", site.inplace),),
                defaults=(("inplace", False),),
            )
        return TorchModule(
            "nn.ReLU", kwargs=(("inplace", site.inplace),), defaults=(("inplace", False),)
        )

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        slope = float(ctx.params["negative_slope"] or 0)
        if slope:
            g.node("LeakyRelu", inputs, outputs, alpha=slope)
        else:
            g.node("Relu", inputs, outputs)


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

    keeps = ("input",)  # for backward (torch)

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        shared = bool(ctx.params["channel_shared"])
        return TorchModule(
            "nn.PReLU",
            kwargs=(("num_parameters", 1 if shared else site.inputs[0][1]),),
            defaults=(("num_parameters", 1),),
        )

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        # the slope broadcasts over the channel axis (1): C×1×…×1 from the right
        ndim = len(site.inputs[0])
        if ctx.params["channel_shared"]:
            slope = g.param("weight", (1,))
        else:
            slope = g.param("weight", (site.inputs[0][1], *([1] * (ndim - 2))))
        g.node("PRelu", [inputs[0], slope], outputs)

    def initial(self, ctx: LayerContext, blob: str, shapes: dict[str, Shape]) -> tuple[str, float]:
        return ("constant", 0.25)  # torch's nn.PReLU (and Caffe's default filler)


@register
class Sigmoid(Elementwise):
    type = "Sigmoid"
    aliases = ("SIGMOID",)
    message = "sigmoid_param"
    stem = "sigmoid"
    flops_per_element = 4  # negate, exp, add, divide

    keeps = ("output",)  # for backward (torch)
    onnx_op = "Sigmoid"

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        return TorchModule("nn.Sigmoid")


@register
class TanH(Elementwise):
    type = "TanH"
    aliases = ("TANH",)
    message = "tanh_param"
    stem = "tanh"
    flops_per_element = 1  # tanh

    keeps = ("output",)  # for backward (torch)
    onnx_op = "Tanh"

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        return TorchModule("nn.Tanh")


@register
class ELU(Elementwise):
    type = "ELU"
    message = "elu_param"
    stem = "elu"
    flops_per_element = 4  # compare, exp, subtract, multiply

    keeps = ("input",)  # torch's elu (out of place) keeps its input, elu_ its result

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        return TorchModule(
            "nn.ELU", kwargs=(("alpha", float(ctx.params["alpha"])),), defaults=(("alpha", 1.0),)
        )

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        g.node("Elu", inputs, outputs, alpha=float(ctx.params["alpha"]))


@register
class AbsVal(Elementwise):
    type = "AbsVal"
    aliases = ("ABSVAL",)
    stem = "abs"
    in_place = False  # Caffe's absval_layer.cpp refuses in-place computation
    flops_per_element = 1

    keeps = ("input",)  # for backward (torch)
    onnx_op = "Abs"

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        return f"torch.abs({args[0]})"


@register
class BNLL(Elementwise):
    type = "BNLL"
    stem = "bnll"
    flops_per_element = 3  # log(1 + exp(x)): exp, add, log

    keeps = ("input",)  # for backward (torch)
    onnx_op = "Softplus"  # log(1 + exp(x))

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        return f"F.softplus({args[0]})"  # log(1 + exp(x))


@register
class Power(Elementwise):
    type = "Power"
    aliases = ("POWER",)
    message = "power_param"
    stem = "power"
    flops_per_element = 3  # (shift + scale·x) ** power: multiply, add, pow

    keeps = ("input",)  # for backward (torch)

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        p = ctx.params
        base = _affine(args[0], float(p["scale"]), float(p["shift"]))
        power = float(p["power"])
        return base if power == 1 else f"torch.pow({base}, {py_float(power)})"

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        p = ctx.params
        power = float(p["power"])
        if power == 1:
            _onnx_affine(g, inputs[0], float(p["scale"]), float(p["shift"]), outputs)
            return
        base = _onnx_affine(g, inputs[0], float(p["scale"]), float(p["shift"]))
        g.node("Pow", [base, g.const(power)], outputs)


@register
class Exp(Elementwise):
    type = "Exp"
    aliases = ("EXP",)
    message = "exp_param"
    stem = "exp"
    flops_per_element = 3  # base ** (shift + scale·x): multiply, add, exp

    keeps = ("output",)  # for backward (torch)

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        p = ctx.params
        exponent = _affine(args[0], float(p["scale"]), float(p["shift"]))
        base = float(p["base"])
        if base == -1:
            return f"torch.exp({exponent})"
        return f"torch.exp({exponent} * {py_float(math.log(base))})"  # base ** y

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        # base ** (shift + scale·x) = exp(ln(base) · (shift + scale·x)); base -1 means e
        p = ctx.params
        base = float(p["base"])
        factor = float(p["scale"]) * (1 if base == -1 else math.log(base))
        shift = float(p["shift"]) * (1 if base == -1 else math.log(base))
        g.node("Exp", [_onnx_affine(g, inputs[0], factor, shift)], outputs)


@register
class Log(Elementwise):
    type = "Log"
    message = "log_param"
    stem = "log"
    flops_per_element = 3  # log_base(shift + scale·x): multiply, add, log

    keeps = ("input",)  # for backward (torch)

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        p = ctx.params
        value = f"torch.log({_affine(args[0], float(p['scale']), float(p['shift']))})"
        base = float(p["base"])
        return value if base == -1 else f"{value} * {py_float(1 / math.log(base))}"

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        # log_base(shift + scale·x) = ln(…) / ln(base); base -1 means e
        p = ctx.params
        base = float(p["base"])
        value = _onnx_affine(g, inputs[0], float(p["scale"]), float(p["shift"]))
        if base == -1:
            g.node("Log", [value], outputs)
            return
        g.node("Mul", [g.node("Log", [value])[0], g.const(1 / math.log(base))], outputs)


@register
class Threshold(Elementwise):
    type = "Threshold"
    aliases = ("THRESHOLD",)
    message = "threshold_param"
    stem = "threshold"
    flops_per_element = 1  # compare

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        threshold = py_float(float(ctx.params["threshold"]))
        return f"({args[0]} > {threshold}).to({args[0]}.dtype)"

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        above = g.node("Greater", [inputs[0], g.const(float(ctx.params["threshold"]))])[0]
        g.node("Cast", [above], outputs, to=1)  # 1: FLOAT


@register
class Clip(Elementwise):
    type = "Clip"
    message = "clip_param"
    stem = "clip"
    flops_per_element = 2  # min, max

    keeps = ("input",)  # for backward (torch)

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        low, high = (py_float(float(ctx.params[n])) for n in ("min", "max"))
        return f"torch.clamp({args[0]}, {low}, {high})"

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        low, high = (g.const(float(ctx.params[n])) for n in ("min", "max"))
        g.node("Clip", [inputs[0], low, high], outputs)


@register
class Swish(Elementwise):
    type = "Swish"
    message = "swish_param"
    stem = "swish"
    flops_per_element = 6  # x · sigmoid(beta·x): multiply, sigmoid (4), multiply

    keeps = ("input",)  # for backward (torch)

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        return TorchModule("nn.SiLU") if float(ctx.params["beta"]) == 1 else None

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        if module is not None:
            return f"{module}({args[0]})"
        beta = py_float(float(ctx.params["beta"]))
        return f"{args[0]} * torch.sigmoid({beta} * {args[0]})"

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        # x · sigmoid(beta·x)
        beta = float(ctx.params["beta"])
        x = inputs[0]
        scaled = x if beta == 1 else g.node("Mul", [x, g.const(beta)])[0]
        g.node("Mul", [x, g.node("Sigmoid", [scaled])[0]], outputs)


@register
class Dropout(Elementwise):
    type = "Dropout"
    aliases = ("DROPOUT",)
    message = "dropout_param"
    family = "dropout"
    stem = "drop"
    # torch's in-place dropout after an in-place ReLU would overwrite what the ReLU saved for
    # backward (autograd refuses), so like torchvision a dropout writes new memory

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        ratio = float(ctx.params["dropout_ratio"])
        if not 0.0 <= ratio < 1.0:  # Caffe's DropoutLayer DCHECKs 0 < ratio < 1
            raise ShapeError(
                f"dropout_ratio {ratio:g} is not a probability below 1",
                "give the fraction of units dropped in training, e.g. dropout_ratio: 0.5",
                "dropout_ratio",
            )
        return super().shapes(ctx, inputs, n_tops)

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return [Saved("extra", 0, math.prod(outputs[0]), 1)]  # the mask, one byte an element

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        return TorchModule(
            "nn.Dropout",
            kwargs=(("p", float(ctx.params["dropout_ratio"])), ("inplace", site.inplace)),
            defaults=(("inplace", False),),
        )

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        # the identity at inference (py-faster-rcnn's scale_train: false: one multiply an
        # element); in training a mask test and a scaled multiply per element
        count = math.prod(outputs[0])
        if ctx.phase == "TRAIN":
            return Cost(0, 2 * count)
        return Cost(0, 0 if self._scaled_in_training(ctx) else count)

    @staticmethod
    def _scaled_in_training(ctx: LayerContext) -> bool:
        return bool(ctx.params["scale_train"])

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        call = super().torch_forward(ctx, site, module, args)
        if self._scaled_in_training(ctx):
            return call
        # unscaled in training, 1 − ratio at TEST: torch's dropout times 1 − ratio, both modes
        keep = float(f"{1 - float(ctx.params['dropout_ratio']):.12g}")
        return f"{keep} * {call}"

    def torch_view(self, ctx: LayerContext) -> bool:
        return self._scaled_in_training(ctx)  # the identity in eval mode

    def onnx_alias(self, ctx: LayerContext) -> bool:
        return self._scaled_in_training(ctx)  # the identity at inference

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        keep = 1 - float(ctx.params["dropout_ratio"])  # scale_train: false, at inference
        g.node("Mul", [inputs[0], g.const(keep)], outputs)


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

    keeps = ("output",)  # for backward (torch)

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        axis = canonical_axis(int(ctx.params["axis"]), len(site.inputs[0]))
        return TorchModule("nn.Softmax", kwargs=(("dim", axis),))

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        # ONNX's Softmax (opset 13 on) normalises along one axis, as Caffe's
        axis = canonical_axis(int(ctx.params["axis"]), len(site.inputs[0]))
        g.node("Softmax", inputs, outputs, axis=axis)


def _affine(arg: str, scale: float, shift: float) -> str:
    """`shift + scale · x` as source, leaving out a unit scale and a zero shift."""
    term = arg if scale == 1 else f"{py_float(scale)} * {arg}"
    return term if shift == 0 else f"({term} + {py_float(shift)})"


def _onnx_affine(
    g: OnnxEmitter, x: str, scale: float, shift: float, outputs: Sequence[str] | None = None
) -> str:
    """`shift + scale · x` as nodes, leaving out a unit scale and a zero shift (an Identity when
    both are left out and the result is a layer's top)."""
    if scale == 1 and shift == 0:
        return g.node("Identity", [x], outputs)[0] if outputs is not None else x
    term = x
    if scale != 1:
        term = g.node("Mul", [x, g.const(scale)], None if shift else outputs)[0]
    if shift == 0:
        return term
    return g.node("Add", [term, g.const(shift)], outputs)[0]
