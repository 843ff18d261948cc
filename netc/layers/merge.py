"""Layers that join tensors: Concat along an axis, Eltwise sum/product/max."""

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
    canonical_axis,
    fmt_shape,
    register,
)


@register
class Concat(LayerType):
    type = "Concat"
    shape_rule = "the bottoms' shape with their sizes on `axis` summed"
    aliases = ("CONCAT",)
    message = "concat_param"
    family = "merge"
    stem = "concat"
    flops_per_element = 0  # data movement only
    bottoms = (1, None)

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        first = inputs[0]
        p = ctx.params
        if p.has("axis") and p.has("concat_dim"):
            raise ShapeError(
                "give either axis or concat_dim, not both",
                hint="concat_dim is the legacy name of axis",
                field="concat_dim",
            )
        raw_axis = (
            int(p["concat_dim"]) if p.has("concat_dim") and not p.has("axis") else int(p["axis"])
        )
        axis = canonical_axis(raw_axis, len(first))
        total = 0
        for i, shape in enumerate(inputs):
            if len(shape) != len(first):
                raise ShapeError(
                    f"bottom {i} has {len(shape)} axes ({fmt_shape(shape)}), bottom 0 has {len(first)} "
                    f"({fmt_shape(first)})"
                )
            for d, (a, b) in enumerate(zip(first, shape, strict=True)):
                if d != axis and a != b:
                    raise ShapeError(
                        f"bottom {i} is {fmt_shape(shape)} but bottom 0 is {fmt_shape(first)}: "
                        f"they differ on axis {d}, not only on the concat axis {axis}",
                        hint="all bottoms must agree except along `axis`",
                        field="axis",
                    )
            total += shape[axis]
        return [(*first[:axis], total, *first[axis + 1 :])]

    def _axis(self, ctx: LayerContext, ndim: int) -> int:
        p = ctx.params
        raw = int(p["concat_dim"]) if p.has("concat_dim") and not p.has("axis") else int(p["axis"])
        return canonical_axis(raw, ndim)

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        return f"torch.cat([{', '.join(args)}], {self._axis(ctx, len(site.inputs[0]))})"

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        g.node("Concat", inputs, outputs, axis=self._axis(ctx, len(site.inputs[0])))

    def onnx_keeps_batch(self, ctx: LayerContext, site: OnnxSite) -> bool:
        return self._axis(ctx, len(site.inputs[0])) != 0


@register
class Eltwise(LayerType):
    type = "Eltwise"
    shape_rule = "the bottoms' common shape"
    aliases = ("ELTWISE",)
    message = "eltwise_param"
    family = "merge"
    stem = "add"
    bottoms = (2, None)

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        first = tuple(inputs[0])
        for i, shape in enumerate(inputs[1:], start=1):
            if tuple(shape) != first:
                raise ShapeError(
                    f"bottom {i} is {fmt_shape(shape)} but bottom 0 is {fmt_shape(first)}",
                    hint="Eltwise needs bottoms of identical shape (a projection shortcut fixes ResNet stages)",
                )
        coeff = ctx.params["coeff"]
        if coeff:
            if ctx.params["operation"] == "PROD":
                raise ShapeError(
                    "coeff does not apply to PROD", hint="drop coeff, or use SUM", field="coeff"
                )
            if len(coeff) != len(inputs):
                raise ShapeError(
                    f"{len(coeff)} coeff values for {len(inputs)} bottoms",
                    hint="give one coefficient per bottom",
                    field="coeff",
                )
        return [first]

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        elements, n = math.prod(outputs[0]), len(inputs)
        scaled = ctx.params["operation"] == "SUM" and any(
            float(c) != 1 for c in ctx.params["coeff"]
        )
        return Cost(0, ((n - 1) + (n if scaled else 0)) * elements)

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        if ctx.params["operation"] == "SUM":
            return []
        return [Saved("input", i) for i in range(len(inputs))]  # products and maxima keep both

    # torch: inline arithmetic; a sum of two may add into its first input (`out += identity`)
    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        operation = str(ctx.params["operation"])
        if operation == "PROD":
            return " * ".join(args)
        if operation == "MAX":
            expr = args[0]
            for arg in args[1:]:
                expr = f"torch.maximum({expr}, {arg})"
            return expr
        coeff = [float(c) for c in ctx.params["coeff"]] or [1.0] * len(args)
        expr = ""
        for c, arg in zip(coeff, args, strict=True):
            term = arg if abs(c) == 1 else f"{abs(c)!r} * {arg}"
            if not expr:
                expr = f"-{term}" if c < 0 else term
            else:
                expr += f" - {term}" if c < 0 else f" + {term}"
        return expr

    def torch_update(self, ctx: LayerContext, site: TorchSite, args: Sequence[str]) -> str | None:
        coeff = [float(c) for c in ctx.params["coeff"]]
        if str(ctx.params["operation"]) != "SUM" or len(args) != 2 or any(c != 1 for c in coeff):
            return None
        return f"{args[0]} += {args[1]}"

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        operation = str(ctx.params["operation"])
        if operation in ("PROD", "MAX"):
            op = "Mul" if operation == "PROD" else "Max"
            if op == "Max" or len(inputs) == 2:  # Max is variadic, Mul binary
                g.node(op, inputs, outputs)
                return
            acc = inputs[0]
            for i, arg in enumerate(inputs[1:], start=1):
                acc = g.node("Mul", [acc, arg], outputs if i == len(inputs) - 1 else None)[0]
            return
        # SUM with Caffe's coefficients: Σ coeff_i · x_i (a coefficient of 1 multiplies nothing)
        coeff = [float(c) for c in ctx.params["coeff"]] or [1.0] * len(inputs)
        terms = [
            x if c == 1 else g.node("Mul", [x, g.const(c)])[0]
            for c, x in zip(coeff, inputs, strict=True)
        ]
        g.node("Add" if len(terms) == 2 else "Sum", terms, outputs)
