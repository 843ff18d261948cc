"""Layers that rearrange a tensor: Flatten, Reshape (0 and -1), Slice, Split, Crop."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from netc.layers.base import (
    BackendError,
    LayerContext,
    LayerType,
    OnnxEmitter,
    OnnxSite,
    Shape,
    ShapeError,
    TorchSite,
    Window,
    canonical_axis,
    fmt_shape,
    register,
)


@register
class Flatten(LayerType):
    type = "Flatten"
    shape_rule = "the axes from `axis` to `end_axis` multiplied into one"
    aliases = ("FLATTEN",)
    message = "flatten_param"
    family = "reshape"
    stem = "flatten"
    flops_per_element = 0  # data movement only

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        shape = inputs[0]
        start = canonical_axis(int(ctx.params["axis"]), len(shape))
        end = canonical_axis(int(ctx.params["end_axis"]), len(shape), "end_axis")
        if end < start:
            raise ShapeError("end_axis comes before axis", field="end_axis")
        return [(*shape[:start], math.prod(shape[start : end + 1]), *shape[end + 1 :])]

    def windows(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[Window] | None:
        return [Window(size) for size in inputs[0][2:]]  # the vector stands for the whole map

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        ndim = len(site.inputs[0])
        start = canonical_axis(int(ctx.params["axis"]), ndim)
        end = canonical_axis(int(ctx.params["end_axis"]), ndim, "end_axis")
        if end == ndim - 1:
            return f"torch.flatten({args[0]}, {start})"
        return f"torch.flatten({args[0]}, {start}, {end})"

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        # ONNX's Flatten always gives 2-D: Caffe's axis 1 to the end is exactly it; otherwise a
        # Reshape keeping the leading axes (0 copies) and naming the trailing ones
        shape = site.inputs[0]
        start = canonical_axis(int(ctx.params["axis"]), len(shape))
        end = canonical_axis(int(ctx.params["end_axis"]), len(shape), "end_axis")
        if start == 1 and end == len(shape) - 1:
            g.node("Flatten", inputs, outputs, axis=1)
            return
        target = [0] * start + [-1] + [int(d) for d in shape[end + 1 :]]
        g.node("Reshape", [inputs[0], g.const(target, "int64")], outputs)

    def onnx_keeps_batch(self, ctx: LayerContext, site: OnnxSite) -> bool:
        return canonical_axis(int(ctx.params["axis"]), len(site.inputs[0])) != 0

    def torch_view(self, ctx: LayerContext) -> bool:
        return True


@register
class Reshape(LayerType):
    type = "Reshape"
    shape_rule = "`shape` with 0 (copy) and −1 (infer) over the axes `axis`…`num_axes`"
    message = "reshape_param"
    family = "reshape"
    stem = "reshape"
    flops_per_element = 0  # data movement only

    def windows(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[Window] | None:
        out = self.shapes(ctx, inputs, 1)[0]
        if tuple(out[2:]) == tuple(inputs[0][2:]):
            return None  # the spatial axes survive: position by position
        return [Window(size) for size in inputs[0][2:]]  # mixed: each element may see the whole map

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        shape = tuple(inputs[0])
        p = ctx.params
        target = p["shape"]
        dims = [int(d) for d in (target["dim"] if target is not None else [])]
        axis = int(p["axis"])
        num_axes = int(p["num_axes"])
        start = axis if axis >= 0 else len(shape) + axis + 1
        if not 0 <= start <= len(shape):
            raise ShapeError(f"axis {axis} is out of range for {fmt_shape(shape)}", field="axis")
        end = len(shape) if num_axes == -1 else start + num_axes
        if num_axes < -1 or end > len(shape):
            raise ShapeError(
                f"num_axes {num_axes} is out of range for {fmt_shape(shape)}", field="num_axes"
            )
        if dims.count(-1) > 1:
            raise ShapeError("at most one dimension may be -1", field="shape")
        replaced = shape[start:end]
        out: list[int] = []
        for i, d in enumerate(dims):
            if d == 0:  # copies input axis start + i, as Caffe does (even past num_axes)
                if start + i >= len(shape):
                    raise ShapeError(
                        f"dim {i} is 0 (copy axis {start + i}) but the input {fmt_shape(shape)} "
                        f"has {len(shape)} axes",
                        hint="use 0 only where the input has an axis to copy",
                        field="shape",
                    )
                out.append(shape[start + i])
            elif d < -1:
                raise ShapeError(
                    f"dim {d} is invalid; use a positive size, 0 (copy) or -1 (infer)",
                    field="shape",
                )
            else:
                out.append(d)
        known = math.prod(d for d in out if d != -1)
        total = math.prod(replaced)
        if -1 in out:
            if known == 0 or total % known:
                raise ShapeError(
                    f"cannot infer -1: {total} elements do not divide into {known}", field="shape"
                )
            out[out.index(-1)] = total // known
        elif known != total:
            raise ShapeError(
                f"reshape to {fmt_shape(out)} ({known} elements) from {fmt_shape(replaced)} ({total} elements)",
                hint="the element count must not change; use -1 to infer one dimension",
                field="shape",
            )
        return [(*shape[:start], *out, *shape[end:])]

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        # Caffe's dims: 0 copies the input axis at that position, -1 is inferred (as in torch);
        # axes outside [axis, axis + num_axes) are kept
        x, ndim = args[0], len(site.inputs[0])
        p = ctx.params
        target = p["shape"]
        dims = [int(d) for d in (target["dim"] if target is not None else [])]
        axis, num_axes = int(p["axis"]), int(p["num_axes"])
        start = axis if axis >= 0 else ndim + axis + 1
        end = ndim if num_axes == -1 else start + num_axes
        terms = [f"{x}.shape[{i}]" for i in range(start)]
        terms += [f"{x}.shape[{start + i}]" if d == 0 else str(d) for i, d in enumerate(dims)]
        terms += [f"{x}.shape[{i}]" for i in range(end, ndim)]
        return f"{x}.reshape({', '.join(terms)})" if terms else f"{x}.reshape([])"

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        # ONNX's 0 copies the input axis at the same position, as Caffe's does for the axes
        # from `axis` on; leading axes are copied (0) and trailing ones named, so a batch axis
        # left outside the reshaped range stays symbolic
        shape, out = site.inputs[0], site.outputs[0]
        start, end, dims = self._range(ctx, shape)
        target = [0] * start + dims + [int(d) for d in out[start + len(dims) :]]
        if len(target) != len(out) or end < start:
            raise BackendError("a Reshape with these axes has no ONNX form")
        g.node("Reshape", [inputs[0], g.const(target, "int64")], outputs)

    def onnx_keeps_batch(self, ctx: LayerContext, site: OnnxSite) -> bool:
        start, _, dims = self._range(ctx, site.inputs[0])
        return start > 0 or (bool(dims) and dims[0] == 0)

    def _range(self, ctx: LayerContext, shape: Shape) -> tuple[int, int, list[int]]:
        """(first reshaped axis, end of the reshaped range, the target dims)."""
        p = ctx.params
        target = p["shape"]
        dims = [int(d) for d in (target["dim"] if target is not None else [])]
        axis, num_axes = int(p["axis"]), int(p["num_axes"])
        start = axis if axis >= 0 else len(shape) + axis + 1
        end = len(shape) if num_axes == -1 else start + num_axes
        return start, end, dims

    def torch_view(self, ctx: LayerContext) -> bool:
        return True


@register
class Slice(LayerType):
    type = "Slice"
    shape_rule = "the input's shape cut along `axis` at the slice points (or evenly)"
    aliases = ("SLICE",)
    message = "slice_param"
    family = "reshape"
    stem = "slice"
    flops_per_element = 0  # data movement only
    tops = (1, None)

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        shape = inputs[0]
        p = ctx.params
        if p.has("axis") and p.has("slice_dim"):
            raise ShapeError(
                "give either axis or slice_dim, not both",
                hint="slice_dim is the legacy name of axis",
                field="slice_dim",
            )
        raw_axis = (
            int(p["slice_dim"]) if p.has("slice_dim") and not p.has("axis") else int(p["axis"])
        )
        axis = canonical_axis(raw_axis, len(shape))
        size = shape[axis]
        points = [int(v) for v in p["slice_point"]]
        if points:
            if len(points) != n_tops - 1:
                raise ShapeError(
                    f"{len(points)} slice_point values for {n_tops} tops",
                    hint="give one slice_point fewer than there are tops",
                    field="slice_point",
                )
            bounds = [0, *points, size]
            if any(b <= a for a, b in itertools.pairwise(bounds)):
                raise ShapeError(
                    f"slice_point values {points} must increase strictly inside (0, {size})",
                    field="slice_point",
                )
            sizes = [b - a for a, b in itertools.pairwise(bounds)]
        else:
            if size % n_tops:
                raise ShapeError(
                    f"axis {axis} of size {size} does not split evenly into {n_tops} tops",
                    hint="give slice_point values",
                    field="slice_point",
                )
            sizes = [size // n_tops] * n_tops
        return [(*shape[:axis], s, *shape[axis + 1 :]) for s in sizes]

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        p = ctx.params
        raw = int(p["slice_dim"]) if p.has("slice_dim") and not p.has("axis") else int(p["axis"])
        axis = canonical_axis(raw, len(site.inputs[0]))
        sizes = ", ".join(str(o[axis]) for o in site.outputs)
        split = f"torch.split({args[0]}, [{sizes}], {axis})"
        return split if len(site.outputs) > 1 else f"{split}[0]"

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        axis = self._axis(ctx, len(site.inputs[0]))
        if len(outputs) == 1:
            g.node("Identity", inputs, outputs)
            return
        sizes = g.const([int(o[axis]) for o in site.outputs], "int64")
        g.node("Split", [inputs[0], sizes], outputs, axis=axis)

    def onnx_keeps_batch(self, ctx: LayerContext, site: OnnxSite) -> bool:
        return self._axis(ctx, len(site.inputs[0])) != 0

    def _axis(self, ctx: LayerContext, ndim: int) -> int:
        p = ctx.params
        raw = int(p["slice_dim"]) if p.has("slice_dim") and not p.has("axis") else int(p["axis"])
        return canonical_axis(raw, ndim)

    def torch_view(self, ctx: LayerContext) -> bool:
        return True


@register
class Split(LayerType):
    type = "Split"
    shape_rule = "the input's shape, once a top"
    aliases = ("SPLIT",)
    family = "reshape"
    stem = "split"
    flops_per_element = 0  # data movement only
    tops = (1, None)

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        return [tuple(inputs[0]) for _ in range(n_tops)]

    def torch_alias(self, ctx: LayerContext) -> bool:
        return True  # every top is the bottom itself, as Caffe shares the data

    def torch_view(self, ctx: LayerContext) -> bool:
        return True


@register
class Crop(LayerType):
    """BVLC Caffe's Crop (src/caffe/layers/crop_layer.cpp): the first bottom cut to the second
    bottom's size on every axis from `axis` on, starting at `offset` (one value for all those
    axes, or one per axis; none means 0). FCN aligns its upsampled scores with the image so."""

    type = "Crop"
    shape_rule = "the first bottom's axes before `axis`, the second's from `axis` on"
    message = "crop_param"
    family = "reshape"
    stem = "crop"
    flops_per_element = 0  # data movement only
    bottoms = (2, 2)

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        shape, reference = inputs
        if len(shape) != len(reference):
            raise ShapeError(
                f"crops {fmt_shape(shape)} to {fmt_shape(reference)}: their axes differ in number",
                hint="the second bottom gives the size: it needs as many axes as the first",
            )
        axis, offsets = self._window(ctx, shape)
        for i in range(axis, len(shape)):
            if offsets[i - axis] + reference[i] > shape[i]:
                raise ShapeError(
                    f"axis {i}: offset {offsets[i - axis]} + size {reference[i]} runs past "
                    f"{shape[i]}",
                    hint="lower the offset, or crop a larger blob",
                    field="offset",
                )
        return [(*shape[:axis], *reference[axis:])]

    def _window(self, ctx: LayerContext, shape: Shape) -> tuple[int, list[int]]:
        """(first cropped axis, the offset on each cropped axis)."""
        axis = canonical_axis(int(ctx.params["axis"]), len(shape))
        given = [int(v) for v in ctx.params["offset"]]
        count = len(shape) - axis
        if len(given) > 1 and len(given) != count:
            raise ShapeError(
                f"{len(given)} offsets for {count} cropped axes",
                hint="give one offset for all of them, or one per axis",
                field="offset",
            )
        return axis, (given * count if len(given) == 1 else given or [0] * count)

    def windows(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[Window] | None:
        axis, offsets = self._window(ctx, inputs[0])
        spatial_offsets = [offsets[i - axis] if i >= axis else 0 for i in range(2, len(inputs[0]))]
        return [Window(1, 1, -o) for o in spatial_offsets]  # output i reads input i + offset

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        axis, offsets = self._window(ctx, site.inputs[0])
        out = site.outputs[0]
        index = [":"] * axis + [
            f"{o}:{o + out[i]}" if (o, out[i]) != (0, site.inputs[0][i]) else ":"
            for i, o in enumerate(offsets, start=axis)
        ]
        while index and index[-1] == ":":
            index.pop()
        return f"{args[0]}[{', '.join(index)}]" if index else args[0]

    def torch_view(self, ctx: LayerContext) -> bool:
        return True

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        axis, offsets = self._window(ctx, site.inputs[0])
        out = site.outputs[0]
        axes = [
            i for i, o in enumerate(offsets, start=axis) if (o, out[i]) != (0, site.inputs[0][i])
        ]
        if not axes:
            g.node("Identity", inputs[:1], outputs)
            return
        starts = [offsets[i - axis] for i in axes]
        ends = [offsets[i - axis] + out[i] for i in axes]
        g.node(
            "Slice",
            [inputs[0], g.const(starts, "int64"), g.const(ends, "int64"), g.const(axes, "int64")],
            outputs,
        )

    def onnx_keeps_batch(self, ctx: LayerContext, site: OnnxSite) -> bool:
        return self._window(ctx, site.inputs[0])[0] > 0
