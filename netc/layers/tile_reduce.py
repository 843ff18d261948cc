"""BVLC Caffe's Tile and Reduction (src/caffe/layers/tile_layer.cpp, reduction_layer.cpp)."""

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
    TorchModule,
    TorchSite,
    canonical_axis,
    onnx_reduce,
    register,
)


@register
class Tile(LayerType):
    """Copies of the blob from `axis` on, `tiles` times along `axis` (as torch's repeat)."""

    type = "Tile"
    shape_rule = "the input's shape, `axis` times `tiles`"
    message = "tile_param"
    family = "reshape"
    stem = "tile"
    flops_per_element = 0  # data movement only

    def _window(self, ctx: LayerContext, shape: Shape) -> tuple[int, int]:
        axis = canonical_axis(int(ctx.params["axis"]), len(shape))
        tiles = ctx.params["tiles"]
        if tiles is None or int(tiles) < 1:
            raise ShapeError("Tile needs tiles ≥ 1", hint="add `tiles: N`", field="tiles")
        return axis, int(tiles)

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        axis, tiles = self._window(ctx, inputs[0])
        shape = list(inputs[0])
        shape[axis] *= tiles
        return [tuple(shape)]

    def _repeats(self, ctx: LayerContext, shape: Shape) -> list[int]:
        axis, tiles = self._window(ctx, shape)
        return [tiles if i == axis else 1 for i in range(len(shape))]

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        return f"{args[0]}.repeat({', '.join(map(str, self._repeats(ctx, site.inputs[0])))})"

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        repeats = g.const(self._repeats(ctx, site.inputs[0]), "int64")
        g.node("Tile", [inputs[0], repeats], outputs)

    def onnx_keeps_batch(self, ctx: LayerContext, site: OnnxSite) -> bool:
        return self._window(ctx, site.inputs[0])[0] != 0


_TORCH_REDUCTIONS = {
    "SUM": "{x}.sum(-1)",
    "MEAN": "{x}.mean(-1)",
    "ASUM": "{x}.abs().sum(-1)",
    "SUMSQ": "{x}.pow(2).sum(-1)",
}
_ONNX_REDUCTIONS = {
    "SUM": "ReduceSum",
    "MEAN": "ReduceMean",
    "ASUM": "ReduceL1",
    "SUMSQ": "ReduceSumSquare",
}


@register
class Reduction(LayerType):
    """Every axis from `axis` on reduced to one number (SUM, ASUM, SUMSQ or MEAN), times
    `coeff`: the output keeps the axes before `axis` (a scalar for axis 0)."""

    type = "Reduction"
    shape_rule = "the axes before `axis` (a scalar for axis 0)"
    message = "reduction_param"
    family = "merge"
    stem = "reduce"

    def _axis(self, ctx: LayerContext, shape: Shape) -> int:
        return canonical_axis(int(ctx.params["axis"]), len(shape))

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        return [tuple(inputs[0][: self._axis(ctx, inputs[0])])]

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        # an add an element (abs or square first: one more), then the coefficient per output
        per_element = 1 if ctx.params["operation"] in ("SUM", "MEAN") else 2
        scale = math.prod(outputs[0]) if float(ctx.params["coeff"]) != 1.0 else 0
        return Cost(0, per_element * math.prod(inputs[0]) + scale)

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return [] if ctx.params["operation"] in ("SUM", "MEAN") else [Saved("input")]

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        axis = self._axis(ctx, site.inputs[0])
        flat = f"{args[0]}.flatten({axis})" if axis else f"{args[0]}.reshape(-1)"
        reduced = _TORCH_REDUCTIONS[str(ctx.params["operation"])].format(x=flat)
        coeff = float(ctx.params["coeff"])
        return reduced if coeff == 1.0 else f"{coeff!r} * {reduced}"

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        axis = self._axis(ctx, site.inputs[0])
        flat = g.node("Reshape", [inputs[0], g.const([0] * axis + [-1], "int64")])[0]
        op = _ONNX_REDUCTIONS[str(ctx.params["operation"])]
        coeff = float(ctx.params["coeff"])
        done = outputs if coeff == 1.0 else None
        reduced = onnx_reduce(g, op, flat, [axis], site.opset, keepdims=False, outputs=done)
        if done is None:
            g.node("Mul", [reduced, g.const(coeff)], outputs)

    def onnx_keeps_batch(self, ctx: LayerContext, site: OnnxSite) -> bool:
        return self._axis(ctx, site.inputs[0]) > 0


@register
class ArgMax(LayerType):
    """The `top_k` largest values' indices (as floats, Caffe's blobs hold no integers) along
    `axis`, or their values with `out_max_val`; without `axis`, over each sample flattened:
    N × 1 × top_k × 1… (N × 2 × … with `out_max_val`: indices, then values). Ties go to the
    larger index in Caffe (std::partial_sort of (value, index) pairs); torch and ONNX leave
    their order unspecified."""

    type = "ArgMax"
    shape_rule = "`axis` cut to top_k; without axis N × (1, or 2 with out_max_val) × top_k × 1…"
    aliases = ("ARGMAX",)
    message = "argmax_param"
    family = "merge"
    stem = "argmax"

    def _geometry(self, ctx: LayerContext, shape: Shape) -> tuple[int | None, int]:
        p = ctx.params
        axis = canonical_axis(int(p["axis"]), len(shape)) if p.has("axis") else None
        top_k = int(p["top_k"])
        limit = shape[axis] if axis is not None else math.prod(shape[1:])
        if not 1 <= top_k <= limit:
            raise ShapeError(f"top_k {top_k} must be from 1 to {limit}", field="top_k")
        return axis, top_k

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        shape = inputs[0]
        axis, top_k = self._geometry(ctx, shape)
        if axis is not None:
            return [tuple(top_k if i == axis else d for i, d in enumerate(shape))]
        out = [1] * max(len(shape), 3)
        out[0], out[2] = shape[0], top_k
        if ctx.params["out_max_val"]:
            out[1] = 2
        return [tuple(out)]

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        return Cost(0, math.prod(inputs[0]))  # a comparison an element (top_k = 1)

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        axis, top_k = self._geometry(ctx, site.inputs[0])
        return TorchModule(
            "CaffeArgMax",
            args=(("top_k", top_k), ("axis", axis)),
            kwargs=(
                ("out_max_val", bool(ctx.params["out_max_val"])),
                ("shape", tuple(site.outputs[0][1:])),
            ),
        )

    def torch_definitions(self) -> dict[str, str]:
        return {"CaffeArgMax": _CAFFE_ARGMAX}

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        axis, top_k = self._geometry(ctx, site.inputs[0])
        x = inputs[0]
        if axis is None:
            x = g.node("Flatten", [x], axis=1)[0]
        k = g.const([top_k], "int64")
        values, indices = g.node(
            "TopK",
            [x, k],
            [g.fresh("values"), g.fresh("indices")],
            axis=1 if axis is None else axis,
        )
        if axis is not None and ctx.params["out_max_val"]:
            g.node("Identity", [values], outputs)
            return
        as_float = g.node("Cast", [indices], to=1)[0]  # FLOAT
        if axis is not None:
            g.node("Identity", [as_float], outputs)
            return
        parts = [as_float]
        if ctx.params["out_max_val"]:
            parts.append(values)
        stacked = [g.node("Unsqueeze", [part, g.const([1], "int64")])[0] for part in parts]
        joined = g.node("Concat", stacked, axis=1)[0] if len(stacked) > 1 else stacked[0]
        g.node("Reshape", [joined, g.const([0, *site.outputs[0][1:]], "int64")], outputs)


_CAFFE_ARGMAX = '''
class CaffeArgMax(nn.Module):
    """Caffe's ArgMax: the top_k indices (as floats) or values along `axis`; without an axis,
    over each sample flattened, indices (and values) in Caffe's N x (1 or 2) x top_k layout."""

    def __init__(
        self, top_k: int, axis: int | None, out_max_val: bool, shape: tuple[int, ...]
    ) -> None:
        super().__init__()
        self.top_k, self.axis, self.out_max_val, self.shape = top_k, axis, out_max_val, shape

    def forward(self, x: Tensor) -> Tensor:
        if self.axis is not None:
            best = torch.topk(x, self.top_k, self.axis)
            return best.values if self.out_max_val else best.indices.to(x.dtype)
        best = torch.topk(x.flatten(1), self.top_k, 1)
        parts = [best.indices.to(x.dtype)] + ([best.values] if self.out_max_val else [])
        return torch.stack(parts, 1).reshape(-1, *self.shape)
'''
