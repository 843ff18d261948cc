"""Layers of SSD's Caffe fork (weiliu89/caffe, branch ssd): Normalize (L2 normalisation with a
learned scale), Permute, PriorBox (the default boxes, a function of the shapes alone).
DetectionOutput (decoding and non-maximum suppression, with a data-dependent output size) is
not among them: netc treats it as a type it does not know."""

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
    Params,
    Saved,
    Shape,
    ShapeError,
    TorchModule,
    TorchSite,
    onnx_reduce,
    register,
)

_ORIGIN = "SSD (weiliu89/caffe, ssd)"


@register
class Normalize(LayerType):
    """SSD's Normalize (src/caffe/layers/normalize_layer.cpp): each sample divided by
    √(Σx² + eps) over C×H×W (`across_spatial`, the default) or, per position, over the
    channels; then times a learned scale, one for all channels (`channel_shared`) or one a
    channel."""

    origin = _ORIGIN
    type = "Normalize"
    message = "norm_param"
    family = "norm"
    stem = "norm"

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        if len(inputs[0]) < 2:
            raise ShapeError(f"Normalize needs N×C×…, not {len(inputs[0])}-D input")
        return [inputs[0]]

    def blobs(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[BlobSpec]:
        shared = bool(ctx.params["channel_shared"])
        return [BlobSpec("weight", (1,) if shared else (inputs[0][1],))]

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        # square, sum, divide, scale: 4 an element (the roots, one a norm, not counted)
        return Cost(0, 4 * math.prod(outputs[0]))

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return [Saved("input"), Saved("output")]

    def _axes(self, ctx: LayerContext, ndim: int) -> tuple[int, ...]:
        return tuple(range(1, ndim)) if ctx.params["across_spatial"] else (1,)

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        shape = site.inputs[0]
        return TorchModule(
            "CaffeNormalize",
            args=(
                ("channels", 1 if ctx.params["channel_shared"] else shape[1]),
                ("dims", self._axes(ctx, len(shape))),
                ("eps", float(ctx.params["eps"])),
            ),
        )

    def torch_definitions(self) -> dict[str, str]:
        return {"CaffeNormalize": _CAFFE_NORMALIZE}

    def initial(self, ctx: LayerContext, blob: str, shapes: dict[str, Shape]) -> tuple[str, float]:
        return ("constant", 1.0)  # scale_filler's usual value (SSD's files give 20)

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        shape = site.inputs[0]
        axes = list(self._axes(ctx, len(shape)))
        x = inputs[0]
        square = g.node("Mul", [x, x])[0]
        total = onnx_reduce(g, "ReduceSum", square, axes, site.opset)
        norm = g.node("Sqrt", [g.node("Add", [total, g.const(float(ctx.params["eps"]))])[0]])[0]
        normalised = g.node("Div", [x, norm])[0]
        scale_shape = (1,) if ctx.params["channel_shared"] else (shape[1], *[1] * (len(shape) - 2))
        g.node("Mul", [normalised, g.param("weight", scale_shape)], outputs)


_CAFFE_NORMALIZE = '''
class CaffeNormalize(nn.Module):
    """SSD's Normalize: x / sqrt(sum of squares over `dims` + eps), times a learned scale (one,
    or one a channel)."""

    def __init__(self, channels: int, dims: tuple[int, ...], eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.dims = list(dims)
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        norm = (x.pow(2).sum(self.dims, keepdim=True) + self.eps).sqrt()
        scale = self.weight.view(1, -1, *[1] * (x.dim() - 2)) if self.weight.numel() > 1 else self.weight
        return x / norm * scale
'''


@register
class Permute(LayerType):
    """SSD's Permute (src/caffe/layers/permute_layer.cpp): the axes in `order`, then the axes it
    leaves out in their order."""

    origin = _ORIGIN
    type = "Permute"
    message = "permute_param"
    family = "reshape"
    stem = "permute"
    flops_per_element = 0  # data movement only

    def order(self, ctx: LayerContext, ndim: int) -> list[int]:
        given = [int(o) for o in ctx.params["order"]]
        if any(o >= ndim for o in given) or len(set(given)) != len(given):
            raise ShapeError(
                f"order {given} must name distinct axes of the {ndim}-D input", field="order"
            )
        return given + [i for i in range(ndim) if i not in given]

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        order = self.order(ctx, len(inputs[0]))
        return [tuple(inputs[0][i] for i in order)]

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        order = self.order(ctx, len(site.inputs[0]))
        if order == sorted(order):
            return args[0]
        return f"{args[0]}.permute({', '.join(map(str, order))})"

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
        g.node("Transpose", inputs, outputs, perm=self.order(ctx, len(site.inputs[0])))

    def onnx_keeps_batch(self, ctx: LayerContext, site: OnnxSite) -> bool:
        return self.order(ctx, len(site.inputs[0]))[0] == 0


def _prior_sizes(p: Params) -> list[tuple[float, float]]:
    """(width, height) of each default box at one position, in prior_box_layer.cpp's order (the
    ssd branch): per min size, the square, the square of √(min·max), then min·√ar by min/√ar
    for each aspect ratio ≠ 1 (and its reciprocal when `flip`). Sizes are whole pixels there
    (`int min_size_`)."""
    ratios = [1.0]
    for ar in (float(a) for a in p["aspect_ratio"]):
        if all(abs(ar - r) >= 1e-6 for r in ratios):
            ratios.append(ar)
            if p["flip"]:
                ratios.append(1.0 / ar)
    mins = [int(m) for m in p["min_size"]]
    maxes = [int(m) for m in p["max_size"]]
    if not mins or any(m <= 0 for m in mins):
        raise ShapeError("PriorBox needs positive min_size values", field="min_size")
    if maxes and (
        len(maxes) != len(mins) or any(b <= a for a, b in zip(mins, maxes, strict=False))
    ):
        raise ShapeError("one max_size per min_size, each larger", field="max_size")
    sizes: list[tuple[float, float]] = []
    for i, low in enumerate(mins):
        sizes.append((low, low))
        if maxes:
            side = math.sqrt(low * maxes[i])
            sizes.append((side, side))
        sizes.extend(
            (low * math.sqrt(ar), low / math.sqrt(ar)) for ar in ratios if abs(ar - 1) >= 1e-6
        )
    return sizes


def _image_and_step(p: Params, image: Shape) -> tuple[tuple[int, int], tuple[float, float]]:
    """The image size the boxes are relative to (img_h/img_w, img_size, or the second
    bottom's) and the step between positions as written (0: the image over the map)."""
    size = (
        int(p["img_h"] or p["img_size"] or image[2]),
        int(p["img_w"] or p["img_size"] or image[3]),
    )
    return size, (float(p["step_h"] or p["step"] or 0), float(p["step_w"] or p["step"] or 0))


@register
class PriorBox(LayerType):
    """SSD's PriorBox (src/caffe/layers/prior_box_layer.cpp): for each position of the first
    bottom, its default boxes (corners over the image, the second bottom or img_size) and their
    variances: 1 × 2 × H·W·boxes·4. A function of the shapes alone."""

    origin = _ORIGIN
    type = "PriorBox"
    message = "prior_box_param"
    family = "reshape"  # no arithmetic on its inputs: it reads their shapes alone
    stem = "priorbox"
    bottoms = (2, 2)
    shape_rule = "1 × 2 × H·W·(boxes a position)·4"

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        if len(inputs[0]) != 4 or len(inputs[1]) != 4:
            raise ShapeError("PriorBox reads an N×C×H×W feature map and image")
        variance = list(ctx.params["variance"])
        if len(variance) not in (0, 1, 4):
            raise ShapeError("give one variance, or four", field="variance")
        boxes = len(_prior_sizes(ctx.params))
        return [(1, 2, inputs[0][2] * inputs[0][3] * boxes * 4)]

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        return Cost()  # constants of the shapes: computed once, not per image

    def priors(self, ctx: LayerContext, feature: Shape, image: Shape) -> list[float]:
        """The layer's output, row-major, computed as the fork does (in float32 there)."""
        p = ctx.params
        height, width = feature[2], feature[3]
        (img_h, img_w), (step_h, step_w) = _image_and_step(p, image)
        step_h, step_w = step_h or img_h / height, step_w or img_w / width
        offset = float(p["offset"])
        sizes = _prior_sizes(p)
        coords: list[float] = []
        for h in range(height):
            for w in range(width):
                cx, cy = (w + offset) * step_w, (h + offset) * step_h
                for bw, bh in sizes:
                    coords += [
                        (cx - bw / 2) / img_w,
                        (cy - bh / 2) / img_h,
                        (cx + bw / 2) / img_w,
                        (cy + bh / 2) / img_h,
                    ]
        if p["clip"]:
            coords = [min(max(c, 0.0), 1.0) for c in coords]
        variance = [float(v) for v in p["variance"]] or [0.1]
        return coords + (variance * 4 if len(variance) == 1 else variance) * (len(coords) // 4)

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        p = ctx.params
        image, step = _image_and_step(p, site.inputs[1])
        return TorchModule(
            "PriorBox",
            args=(
                ("sizes", tuple((float(w), float(h)) for w, h in _prior_sizes(p))),
                ("feature", tuple(site.inputs[0][2:])),
                ("image", image),
            ),
            kwargs=(
                ("step", step),
                ("offset", float(p["offset"])),
                ("clip", bool(p["clip"])),
                ("variance", tuple(float(v) for v in p["variance"]) or (0.1,)),
            ),
        )

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        return f"{module}()"

    def torch_definitions(self) -> dict[str, str]:
        return {"PriorBox": _PRIOR_BOX}

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        values = self.priors(ctx, site.inputs[0], site.inputs[1])
        g.node("Identity", [g.const_array(values, site.outputs[0])], outputs)

    def onnx_keeps_batch(self, ctx: LayerContext, site: OnnxSite) -> bool:
        return False  # one set of boxes for the whole batch: 1 × 2 × …


_PRIOR_BOX = '''
class PriorBox(nn.Module):
    """SSD's default boxes for a feature map of a fixed size: corners over the image, then
    their variances (1 x 2 x H*W*boxes*4), computed once, as the fork's PriorBox layer does."""

    def __init__(
        self,
        sizes: tuple[tuple[float, float], ...],
        feature: tuple[int, int],
        image: tuple[int, int],
        step: tuple[float, float],
        offset: float,
        clip: bool,
        variance: tuple[float, ...],
    ) -> None:
        super().__init__()
        (height, width), (img_h, img_w) = feature, image
        step_h, step_w = step[0] or img_h / height, step[1] or img_w / width
        cy = (torch.arange(height, dtype=torch.float64) + offset) * step_h
        cx = (torch.arange(width, dtype=torch.float64) + offset) * step_w
        cy, cx = torch.meshgrid(cy, cx, indexing="ij")
        boxes = torch.tensor(sizes, dtype=torch.float64)  # (boxes, 2): width, height
        half_w, half_h = boxes[:, 0] / 2, boxes[:, 1] / 2
        cx, cy = cx[..., None], cy[..., None]
        corners = torch.stack(
            [(cx - half_w) / img_w, (cy - half_h) / img_h, (cx + half_w) / img_w, (cy + half_h) / img_h], -1
        ).reshape(-1)
        if clip:
            corners = corners.clamp(0, 1)
        spread = torch.tensor(variance if len(variance) == 4 else variance * 4, dtype=torch.float64)
        spread = spread.repeat(corners.numel() // 4)
        self.register_buffer("priors", torch.stack([corners, spread])[None].float(), persistent=False)

    def forward(self) -> Tensor:
        return self.priors
'''
