"""Scale and Bias: a learned (one bottom) or given (two bottoms) factor/offset broadcast from `axis`."""

from __future__ import annotations

import math
from collections.abc import Sequence

from netc.layers.base import (
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
    canonical_axis,
    fmt_shape,
    register,
)


def _trailing(ctx: LayerContext, site: TorchSite) -> tuple[Shape, int]:
    """The operand's shape and how many axes of the input follow it (broadcast as size 1)."""
    axis, operand = _operand_shape(ctx, site.inputs)
    return operand, len(site.inputs[0]) - axis - len(operand)


def _broadcast(arg: str, trailing: int) -> str:
    """A second bottom spanning axes from `axis`, with size-1 axes after it: gate[..., None, None]."""
    return f"{arg}[..., {', '.join(['None'] * trailing)}]" if trailing else arg


def _onnx_operand(
    ctx: LayerContext, site: OnnxSite, g: OnnxEmitter, inputs: Sequence[str]
) -> tuple[Shape, int, str | None]:
    """(operand shape, trailing axes, the second bottom shaped to broadcast against the first or
    None): ONNX broadcasts from the right, so the operand gains `trailing` axes of size 1."""
    axis, operand = _operand_shape(ctx, site.inputs)
    trailing = len(site.inputs[0]) - axis - len(operand)
    if len(inputs) < 2:
        return operand, trailing, None
    if not trailing:
        return operand, trailing, inputs[1]
    axes = g.const(list(range(len(operand), len(operand) + trailing)), "int64")
    return operand, trailing, g.node("Unsqueeze", [inputs[1], axes])[0]


def _learned_batch(ctx: LayerContext, site: OnnxSite) -> bool:
    """Whether a learned operand spans the batch axis (one bottom, axis 0): its size is fixed."""
    return len(site.inputs) == 1 and _operand_shape(ctx, site.inputs)[0] == 0


def _operand_shape(ctx: LayerContext, inputs: Sequence[Shape]) -> tuple[int, Shape]:
    """The axis and the shape of the factor (learned blob, or the second bottom)."""
    shape = inputs[0]
    axis = canonical_axis(int(ctx.params["axis"]), len(shape)) if shape else 0
    if len(inputs) > 1:
        other = tuple(inputs[1])
        if tuple(shape[axis : axis + len(other)]) != other:
            raise ShapeError(
                f"second bottom {fmt_shape(other)} does not match the first bottom "
                f"{fmt_shape(shape)} from axis {axis}",
                hint="the second bottom's shape must equal the first's dimensions starting at `axis` "
                "(for an SE gate of N×C use `axis: 0`)",
                field="axis",
            )
        return axis, other
    num_axes = int(ctx.params["num_axes"])
    if num_axes < -1:
        raise ShapeError(
            "num_axes must be -1 (all remaining axes) or non-negative", field="num_axes"
        )
    end = len(shape) if num_axes == -1 else axis + num_axes
    if end > len(shape):
        raise ShapeError(
            f"axis {axis} + num_axes {num_axes} exceeds the {len(shape)} axes of the input",
            field="num_axes",
        )
    return axis, tuple(shape[axis:end])


@register
class Scale(LayerType):
    type = "Scale"
    shape_rule = "the first bottom's shape"
    message = "scale_param"
    family = "norm"
    stem = "scale"
    bottoms = (1, 2)
    in_place = True

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        _operand_shape(ctx, inputs)
        return [tuple(inputs[0])]

    def blobs(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[BlobSpec]:
        _, operand = _operand_shape(ctx, inputs)
        out = [] if len(inputs) > 1 else [BlobSpec("weight", operand)]
        if ctx.params["bias_term"]:
            out.append(BlobSpec("bias", operand))
        return out

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        return Cost(0, (2 if ctx.params["bias_term"] else 1) * math.prod(outputs[0]))

    def cost_as(
        self, counting: str, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> Cost:
        if counting == "netscope":  # Netscope counts one MAC per element of a Scale
            return Cost(math.prod(outputs[0]), math.prod(outputs[0]))
        return super().cost_as(counting, ctx, inputs, outputs)

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        # x · w keeps x (for w's gradient); with a second bottom both factors
        return [Saved("input", i) for i in range(len(inputs))]

    # torch: a learned factor is the helper module Scale (weight, bias); a second bottom is a
    # broadcast product, with a learned bias in the helper module Bias.
    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        operand, trailing = _trailing(ctx, site)
        bias = bool(ctx.params["bias_term"])
        if len(site.inputs) > 1:
            if not bias:
                return None
            return TorchModule("Bias", args=(("shape", operand),), kwargs=(("trailing", trailing),))
        return TorchModule(
            "Scale",
            args=(("shape", operand),),
            kwargs=(("trailing", trailing), ("bias", bias)),
            defaults=(("trailing", 0), ("bias", False)),
        )

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        if len(args) == 1:
            assert module is not None
            return f"{module}({args[0]})"
        _, trailing = _trailing(ctx, site)
        product = f"{args[0]} * {_broadcast(args[1], trailing)}"
        return f"{module}({product})" if module else product

    def torch_definitions(self) -> dict[str, str]:
        return {"Scale": _SCALE, "Bias": _BIAS}

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        # x · factor (a learned blob, or the second bottom: an SE gate) [+ a learned bias]
        operand, trailing, other = _onnx_operand(ctx, site, g, inputs)
        view = (*operand, *([1] * trailing))
        factor = other if other is not None else g.param("weight", view)
        if not ctx.params["bias_term"]:
            g.node("Mul", [inputs[0], factor], outputs)
            return
        product = g.node("Mul", [inputs[0], factor])[0]
        g.node("Add", [product, g.param("bias", view)], outputs)

    def onnx_keeps_batch(self, ctx: LayerContext, site: OnnxSite) -> bool:
        return not _learned_batch(ctx, site)

    def initial(self, ctx: LayerContext, blob: str, shapes: dict[str, Shape]) -> tuple[str, float]:
        return ("constant", 1.0 if blob == "weight" else 0.0)  # the torch helper's ones, zeros


@register
class Bias(LayerType):
    type = "Bias"
    shape_rule = "the first bottom's shape"
    message = "bias_param"
    family = "norm"
    stem = "bias"
    bottoms = (1, 2)
    in_place = True

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        _operand_shape(ctx, inputs)
        return [tuple(inputs[0])]

    def blobs(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[BlobSpec]:
        _, operand = _operand_shape(ctx, inputs)
        return [] if len(inputs) > 1 else [BlobSpec("bias", operand)]

    flops_per_element = 1  # one add

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        if len(site.inputs) > 1:
            return None
        operand, trailing = _trailing(ctx, site)
        return TorchModule(
            "Bias",
            args=(("shape", operand),),
            kwargs=(("trailing", trailing),),
            defaults=(("trailing", 0),),
        )

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        if module is not None:
            return f"{module}({args[0]})"
        _, trailing = _trailing(ctx, site)
        return f"{args[0]} + {_broadcast(args[1], trailing)}"

    def torch_definitions(self) -> dict[str, str]:
        return {"Bias": _BIAS}

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        # x + bias (learned: per channel, or per position as AlphaGo's 1×19×19; or the second
        # bottom)
        operand, trailing, other = _onnx_operand(ctx, site, g, inputs)
        bias = other if other is not None else g.param("bias", (*operand, *([1] * trailing)))
        g.node("Add", [inputs[0], bias], outputs)

    def onnx_keeps_batch(self, ctx: LayerContext, site: OnnxSite) -> bool:
        return not _learned_batch(ctx, site)

    def initial(self, ctx: LayerContext, blob: str, shapes: dict[str, Shape]) -> tuple[str, float]:
        return ("constant", 0.0)  # the torch helper's zeros


_SCALE = '''
class Scale(nn.Module):
    """Caffe's Scale: x times a learned factor spanning `shape` from Caffe's `axis` (plus a
    learned bias); `trailing` input axes after it broadcast."""

    def __init__(self, shape: tuple[int, ...], trailing: int = 0, bias: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape)) if bias else None
        self.view = list(shape) + [1] * trailing

    def forward(self, x: Tensor) -> Tensor:
        out = x * self.weight.view(self.view)
        if self.bias is not None:
            out = out + self.bias.view(self.view)
        return out
'''

_BIAS = '''
class Bias(nn.Module):
    """Caffe's Bias: x plus a learned bias spanning `shape` from Caffe's `axis` (one per channel,
    or one per position); `trailing` input axes after it broadcast."""

    def __init__(self, shape: tuple[int, ...], trailing: int = 0) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(shape))
        self.view = list(shape) + [1] * trailing

    def forward(self, x: Tensor) -> Tensor:
        return x + self.bias.view(self.view)
'''
