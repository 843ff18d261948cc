"""Pooling with Caffe's rounding: up by default, dropping a last window that starts in the padding."""

from __future__ import annotations

import math
from collections.abc import Sequence

from netc.layers.base import (
    BackendError,
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
    TorchValue,
    Window,
    fmt_shape,
    register,
    spatial,
)


def rounds_up(params: Params) -> bool:
    """Caffe rounds the pooled size up; BVLC master's `round_mode: FLOOR` and the forks'
    `ceil_mode: false` (Caffe pull request 3057) round it down."""
    return params["round_mode"] != "FLOOR" and bool(params["ceil_mode"])


@register
class Pooling(LayerType):
    type = "Pooling"
    shape_rule = "⌈(in + 2·pad − k) / stride⌉ + 1 per spatial axis (⌊⌋ with round_mode FLOOR or ceil_mode false), less a last window starting in the padding"
    aliases = ("POOLING",)
    message = "pooling_param"
    family = "pool"
    stem = "pool"

    def window(self, ctx: LayerContext, shape: Shape) -> tuple[list[int], list[int], list[int]]:
        p = ctx.params
        if len(shape) != 4:
            raise ShapeError(f"Pooling takes a 4-D input (N×C×H×W); got {fmt_shape(shape)}")
        if p["global_pooling"]:
            if p.has("kernel_size") or p.has("kernel_h"):
                raise ShapeError(
                    "global_pooling sets the window to the whole input; drop kernel_size",
                    field="kernel_size" if p.has("kernel_size") else "kernel_h",
                )
            if spatial(p, "pad", 2, 0, h="pad_h", w="pad_w") != [0, 0] or spatial(
                p, "stride", 2, 1, h="stride_h", w="stride_w"
            ) != [1, 1]:
                raise ShapeError(
                    "global_pooling allows only pad 0 and stride 1",
                    hint="drop pad and stride (Caffe rejects them too)",
                    field="stride" if p.has("stride") or p.has("stride_h") else "pad",
                )
            return [shape[2], shape[3]], [0, 0], [1, 1]
        kernel = spatial(p, "kernel_size", 2, None, h="kernel_h", w="kernel_w")
        pad = spatial(p, "pad", 2, 0, h="pad_h", w="pad_w")
        stride = spatial(p, "stride", 2, 1, h="stride_h", w="stride_w")
        if any(s < 1 for s in stride):
            raise ShapeError("stride must be positive", field="stride")
        if any(k < 1 for k in kernel):
            raise ShapeError("kernel_size must be positive", field="kernel_size")
        if any(pd >= k for pd, k in zip(pad, kernel, strict=True)):
            raise ShapeError("pad must be smaller than the kernel", field="pad")
        return kernel, pad, stride

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        shape = inputs[0]
        kernel, pad, stride = self.window(ctx, shape)
        ceil = rounds_up(ctx.params)
        dims = []
        padded = any(pad)  # Caffe clips both axes when either is padded
        for i, (size, k, p, s) in enumerate(zip(shape[2:], kernel, pad, stride, strict=True)):
            if size + 2 * p < k:
                raise ShapeError(
                    f"pooling window {k} is larger than the padded input {size + 2 * p} on axis {'HW'[i]}",
                    hint="use a smaller kernel or global_pooling",
                    field="kernel_size",
                )
            span = (size + 2 * p - k) / s
            out = (math.ceil(span) if ceil else math.floor(span)) + 1
            if padded and (out - 1) * s >= size + p:
                out -= 1  # the last window would start inside the padding: Caffe clips it
            dims.append(out)
        tops = [(*shape[:2], *dims)]
        if n_tops == 2:  # MAX pooling may output its argmax mask as a second top
            tops.append(tops[0])
        return tops

    tops = (1, 2)

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        kernel, _, _ = self.window(ctx, inputs[0])
        area = math.prod(kernel)
        # MAX: area - 1 comparisons per output; AVE (and STOCHASTIC): area - 1 adds and a divide
        per_output = area - 1 if ctx.params["pool"] == "MAX" else area
        return Cost(0, per_output * math.prod(outputs[0]))

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        if ctx.params["pool"] == "MAX":  # the input and the argmax indices (int64)
            return [Saved("input"), Saved("extra", 0, math.prod(outputs[0]), 8)]
        if ctx.params["global_pooling"]:
            return []  # torch's AdaptiveAvgPool2d(1) is a mean: it keeps only the sizes
        return [Saved("input")]

    def windows(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[Window] | None:
        kernel, pad, stride = self.window(ctx, inputs[0])
        return [Window(k, s, p) for k, s, p in zip(kernel, stride, pad, strict=True)]

    # ---- torch -----------------------------------------------------------------------------
    # torch's pooling matches Caffe's when the output sizes agree: both round up over the padded
    # input and divide an average by the window clipped to the padded input. They differ when
    # torch drops a last window Caffe keeps (Caffe clips only when padded; stride > kernel), or
    # when pad exceeds half the kernel (torch refuses it): then CaffePool2d pads explicitly.

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        p = ctx.params
        mode = str(p["pool"])
        if mode not in ("MAX", "AVE"):
            raise BackendError(f"torch has no {mode} pooling", field="pool")
        if len(site.outputs) > 1:
            raise BackendError(
                "the argmax top of MAX pooling has no torch form",
                hint="drop the second top (torch returns int64 indices, Caffe a float mask)",
            )
        if p["global_pooling"]:
            return TorchModule(
                "nn.AdaptiveMaxPool2d" if mode == "MAX" else "nn.AdaptiveAvgPool2d",
                args=(("output_size", 1),),
            )
        kernel, pad, stride = self.window(ctx, site.inputs[0])
        ceil = rounds_up(p)
        torch_sizes = [
            _torch_pooled(size, k, pd, s, ceil)
            for size, k, pd, s in zip(site.inputs[0][2:], kernel, pad, stride, strict=True)
        ]
        native = list(site.outputs[0][2:]) == torch_sizes and all(
            2 * pd <= k for pd, k in zip(pad, kernel, strict=True)
        )
        if not native:
            return TorchModule(
                "CaffePool2d",
                args=(("mode", mode),),
                kwargs=(
                    ("kernel_size", tuple(kernel)),
                    ("stride", tuple(stride)),
                    ("padding", tuple(pad)),
                    ("ceil_mode", ceil),
                ),
            )
        kwargs: list[tuple[str, TorchValue]] = [
            ("kernel_size", _collapse(kernel)),
            ("stride", _collapse(stride)),
            ("padding", _collapse(pad)),
            ("ceil_mode", ceil),
        ]
        return TorchModule(
            "nn.MaxPool2d" if mode == "MAX" else "nn.AvgPool2d",
            kwargs=tuple(kwargs),
            defaults=(("padding", 0), ("ceil_mode", False)),
        )

    def torch_definitions(self) -> dict[str, str]:
        return {"CaffePool2d": _CAFFE_POOL}

    # ---- ONNX -------------------------------------------------------------------------------
    # Pads are written out, never left to ceil_mode (whose last-window rule differs between
    # opsets and runtimes): the end pad grows by what Caffe's rounded-up last window needs
    # beyond the input (`_extra`), and the pooling then rounds down. MAX ignores pads. AVE
    # pools with count_include_pad (Caffe's divisor counts the padding) and, where the last
    # window overhangs the padded input, Caffe divides by its part inside the padded input
    # only: a constant factor k·k / count corrects those positions.

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        p = ctx.params
        mode = str(p["pool"])
        if mode not in ("MAX", "AVE"):
            raise BackendError(f"ONNX has no {mode} pooling", field="pool")
        if len(site.outputs) > 1:
            raise BackendError(
                "the argmax top of MAX pooling has no ONNX form", hint="drop the second top"
            )
        if p["global_pooling"]:
            g.node("GlobalMaxPool" if mode == "MAX" else "GlobalAveragePool", inputs, outputs)
            return
        shape = site.inputs[0]
        kernel, pad, stride = self.window(ctx, shape)
        out = site.outputs[0][2:]
        extra = [
            max(0, (o - 1) * s + k - size - 2 * pd)
            for o, size, k, pd, s in zip(out, shape[2:], kernel, pad, stride, strict=True)
        ]
        begin, end = list(pad), [pd + e for pd, e in zip(pad, extra, strict=True)]
        x = inputs[0]
        if any(e >= k for e, k in zip(end, kernel, strict=True)):
            # runtimes refuse a pad as large as the kernel: pad explicitly (MAX with Caffe's
            # -FLT_MAX start, AVE with zeros), then pool the padded input
            low = -3.4028234663852886e38 if mode == "MAX" else 0.0
            widths = g.const([0, 0, *begin, 0, 0, *end], "int64")
            x = g.node("Pad", [x, widths, g.const(low)], mode="constant")[0]
            begin, end = [0, 0], [0, 0]
        pads = [*begin, *end]
        if mode == "MAX":
            g.node("MaxPool", [x], outputs, kernel_shape=kernel, strides=stride, pads=pads)
            return
        done = None if any(extra) else outputs
        pooled = g.node(
            "AveragePool",
            [x],
            done,
            kernel_shape=kernel,
            strides=stride,
            pads=pads,
            count_include_pad=1,
        )[0]
        if done is not None:
            return
        factors = _caffe_divisor_factors(shape[2:], kernel, pad, stride, out)
        g.node("Mul", [pooled, g.const_array(factors, tuple(out))], outputs)


def _caffe_divisor_factors(
    sizes: Sequence[int],
    kernel: Sequence[int],
    pad: Sequence[int],
    stride: Sequence[int],
    out: Sequence[int],
) -> list[float]:
    """Per output position, k_h·k_w / Caffe's divisor: the window clipped to the padded input
    (pooling_layer.cpp: `hend = min(hstart + kernel_h, height + pad_h)`)."""
    counts: list[list[int]] = []
    for size, k, pd, s, o in zip(sizes, kernel, pad, stride, out, strict=True):
        counts.append([min(i * s - pd + k, size + pd) - (i * s - pd) for i in range(o)])
    area = math.prod(kernel)
    return [area / (ch * cw) for ch in counts[0] for cw in counts[1]]


def _collapse(values: list[int]) -> int | tuple[int, ...]:
    return values[0] if len(set(values)) == 1 else tuple(values)


def _torch_pooled(size: int, k: int, p: int, s: int, ceil: bool) -> int:
    """torch's pooled size (aten's pooling_output_shape): it drops a last window that starts
    in the right padding, padded or not."""
    out = (size + 2 * p - k + (s - 1 if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out


_CAFFE_POOL = '''
class CaffePool2d(nn.Module):
    """Caffe's pooling where torch's would differ: the padded input is extended on the right
    until the last window Caffe keeps fits; an average divides by the window's part inside the
    padded input, as Caffe does."""

    def __init__(
        self,
        mode: str,
        kernel_size: tuple[int, int],
        stride: tuple[int, int],
        padding: tuple[int, int],
        ceil_mode: bool,
    ) -> None:
        super().__init__()
        self.mode = mode
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.ceil_mode = ceil_mode

    def extra(self, size: int, k: int, s: int, p: int, clip: bool) -> int:
        span = size + 2 * p - k
        out = (span + s - 1) // s + 1 if self.ceil_mode else span // s + 1
        if clip and (out - 1) * s >= size + p:
            out -= 1
        return max(0, (out - 1) * s + k - size - 2 * p)

    def forward(self, x: Tensor) -> Tensor:
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        h, w = x.shape[-2], x.shape[-1]
        eh = self.extra(h, kh, sh, ph, ph > 0 or pw > 0)
        ew = self.extra(w, kw, sw, pw, ph > 0 or pw > 0)
        if self.mode == "MAX":  # a window with no input value gives Caffe's -FLT_MAX
            x = F.pad(x, [pw, pw + ew, ph, ph + eh], value=torch.finfo(x.dtype).min)
            return F.max_pool2d(x, [kh, kw], [sh, sw])
        total = F.avg_pool2d(F.pad(x, [pw, pw + ew, ph, ph + eh]), [kh, kw], [sh, sw], divisor_override=1)
        inside = F.pad(x.new_ones([1, 1, h + 2 * ph, w + 2 * pw]), [0, ew, 0, eh])
        count = F.avg_pool2d(inside, [kh, kw], [sh, sw], divisor_override=1)
        return total / count.clamp(min=1)
'''
