"""Normalisation layers: LRN, BatchNorm (Caffe's, optionally affine), MVN."""

from __future__ import annotations

import math
from collections.abc import Sequence

from netc.layers.base import (
    BackendError,
    BlobSpec,
    Cost,
    Elementwise,
    LayerContext,
    LayerType,
    OnnxEmitter,
    OnnxSite,
    Saved,
    Shape,
    ShapeError,
    TorchModule,
    TorchSite,
    Window,
    canonical_axis,
    fmt_shape,
    onnx_reduce,
    register,
)
from netc.proto.schema import Field, Kind


@register
class LRN(Elementwise):
    type = "LRN"
    aliases = ("LRN",)
    message = "lrn_param"
    family = "norm"
    stem = "norm"
    in_place = False

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        size = int(ctx.params["local_size"])
        if size < 1 or size % 2 == 0:
            raise ShapeError(
                f"local_size must be a positive odd number, got {size}", field="local_size"
            )
        if len(inputs[0]) != 4:
            raise ShapeError(f"LRN takes a 4-D input (N×C×H×W); got {fmt_shape(inputs[0])}")
        return [tuple(inputs[0])]

    def _window(self, ctx: LayerContext) -> int:
        size = int(ctx.params["local_size"])
        return size * size if ctx.params["norm_region"] == "WITHIN_CHANNEL" else size

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        # square, sum over the window (window - 1 adds), then scale (·alpha/n, +k, **beta, divide)
        return Cost(0, (self._window(ctx) + 4) * math.prod(outputs[0]))

    def cost_as(
        self, counting: str, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> Cost:
        if counting == "netscope":  # Netscope adds elements × local_size to its MACs
            macs = int(ctx.params["local_size"]) * math.prod(outputs[0])
            return Cost(macs, macs)
        return super().cost_as(counting, ctx, inputs, outputs)

    def windows(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[Window] | None:
        if ctx.params["norm_region"] != "WITHIN_CHANNEL":
            return None  # across channels: point-wise in space
        size = int(ctx.params["local_size"])
        return [Window(size, 1, (size - 1) // 2) for _ in inputs[0][2:]]

    def extra_params_as(self, counting: str, ctx: LayerContext) -> int:
        return 2 if counting == "netscope" else 0  # Netscope lists alpha and beta as parameters

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        # torch computes LRN from elementary ops and keeps their operands, not the output:
        # across channels (nn.LocalResponseNorm) the input, the squares padded by size - 1
        # channels (avg_pool3d's input), the base before **beta and the denominator; within a
        # channel (LRNWithinChannel) the input, the squares, the base and the factor.
        n, c, *spatial = inputs[0]
        size = int(ctx.params["local_size"])
        elements = math.prod(inputs[0])
        if ctx.params["norm_region"] == "WITHIN_CHANNEL":
            return [Saved("input"), Saved("extra", 0, 3 * elements)]
        padded = n * (c + size - 1) * math.prod(spatial)
        return [Saved("input"), Saved("extra", 0, padded + 2 * elements)]

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        p = ctx.params
        if p["norm_region"] == "WITHIN_CHANNEL":
            return TorchModule(
                "LRNWithinChannel",
                args=(("size", int(p["local_size"])),),
                kwargs=(("alpha", float(p["alpha"])), ("beta", float(p["beta"]))),
            )
        # torch: x / (k + alpha/n · Σ x²)^beta over n channels centred on each: Caffe's formula
        return TorchModule(
            "nn.LocalResponseNorm",
            args=(("size", int(p["local_size"])),),
            kwargs=(("alpha", float(p["alpha"])), ("beta", float(p["beta"])), ("k", float(p["k"]))),
        )

    def torch_definitions(self) -> dict[str, str]:
        return {"LRNWithinChannel": _LRN_WITHIN}

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        p = ctx.params
        size, alpha, beta = int(p["local_size"]), float(p["alpha"]), float(p["beta"])
        if p["norm_region"] != "WITHIN_CHANNEL" and not site.decompose_lrn:
            # ONNX's LRN is Caffe's ACROSS_CHANNELS: x / (bias + alpha/size · Σ x²)^beta over
            # the size channels centred on each (zero outside)
            g.node("LRN", inputs, outputs, size=size, alpha=alpha, beta=beta, bias=float(p["k"]))
            return
        x = inputs[0]
        pad = (size - 1) // 2
        square = g.node("Mul", [x, x])[0]
        if p["norm_region"] != "WITHIN_CHANNEL":
            # the same from elementary ops, as torch's LocalResponseNorm: the mean of the
            # squares over size channels (zero-padded, divisor size) by a 3-D average pool
            # over a channel axis made spatial
            axis = g.const([1], "int64")
            volume = g.node("Unsqueeze", [square, axis])[0]
            pooled = g.node(
                "AveragePool",
                [volume],
                kernel_shape=[size, 1, 1],
                pads=[pad, 0, 0, pad, 0, 0],
                count_include_pad=1,
            )[0]
            mean = g.node("Squeeze", [pooled, axis])[0]
            scaled = g.node("Mul", [mean, g.const(alpha)])[0]
            base = g.node("Add", [scaled, g.const(float(p["k"]))])[0]
            factor = g.node("Pow", [base, g.const(-beta)])[0]
            g.node("Mul", [x, factor], outputs)
            return
        # WITHIN_CHANNEL (lrn_layer.cpp): x · (1 + alpha/size² · Σ x² over a size×size window,
        # zero-padded)^-beta; the average with the padding counted is that mean
        mean = g.node(
            "AveragePool",
            [square],
            kernel_shape=[size, size],
            pads=[pad] * 4,
            count_include_pad=1,
        )[0]
        scaled = g.node("Mul", [mean, g.const(alpha)])[0]
        base = g.node("Add", [scaled, g.const(1.0)])[0]
        factor = g.node("Pow", [base, g.const(-beta)])[0]
        g.node("Mul", [x, factor], outputs)


@register
class BatchNorm(Elementwise):
    """Caffe's BatchNorm: statistics only. `affine: true` (netc) adds Scale's γ and β,
    which makes it one torch BatchNorm2d(affine=True)."""

    type = "BatchNorm"
    message = "batch_norm_param"
    extensions = (Field("affine", 1001, Kind.BOOL, default=False),)
    family = "norm"
    stem = "bn"

    def blobs(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[BlobSpec]:
        shape = inputs[0]
        channels = shape[1] if len(shape) > 1 else 1  # Caffe: a 1-D input has one channel
        out = [
            BlobSpec("running_mean", (channels,), "buffer"),
            BlobSpec("running_var", (channels,), "buffer"),
            BlobSpec("moving_average_factor", (1,), "buffer"),
        ]
        if ctx.params["affine"]:
            out = [BlobSpec("weight", (channels,)), BlobSpec("bias", (channels,)), *out]
        return out

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        # normalise: subtract the mean, multiply by 1/sqrt(var + eps); affine: ·γ + β;
        # training statistics (TRAIN without use_global_stats): mean and variance, 4 more
        per_element = 2 + (2 if ctx.params["affine"] else 0)
        if ctx.phase == "TRAIN" and not ctx.params["use_global_stats"]:
            per_element += 4
        return Cost(0, per_element * math.prod(outputs[0]))

    def cost_as(
        self, counting: str, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> Cost:
        if counting == "netscope" and ctx.params["affine"]:  # the Scale half: one MAC an element
            return Cost(math.prod(outputs[0]), math.prod(outputs[0]))
        return super().cost_as(counting, ctx, inputs, outputs)

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        channels = inputs[0][1] if len(inputs[0]) > 1 else 1
        return [Saved("input"), Saved("extra", 0, 2 * channels, 4)]  # + batch mean and 1/std

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        shape = site.inputs[0]
        if not 2 <= len(shape) <= 5:
            raise BackendError(f"torch has no BatchNorm for a {len(shape)}-D input")
        p = ctx.params
        kwargs: list[tuple[str, float | bool]] = [("eps", float(p["eps"]))]
        if p.has("moving_average_fraction"):  # else torch's 0.1 (Caffe's running sums differ)
            kwargs.append(("momentum", float(f"{1 - float(p['moving_average_fraction']):.12g}")))
        kwargs.append(("affine", bool(p["affine"]) or site.absorbed is not None))
        dims = {2: 1, 3: 1, 4: 2, 5: 3}[len(shape)]
        return TorchModule(
            f"nn.BatchNorm{dims}d",
            args=(("num_features", shape[1]),),
            kwargs=tuple(kwargs),
            defaults=(("eps", 1e-5), ("momentum", 0.1), ("affine", True)),
        )

    def torch_absorbs(
        self,
        ctx: LayerContext,
        site: TorchSite,
        other: LayerType,
        other_ctx: LayerContext,
        other_site: TorchSite,
    ) -> bool:
        # Caffe's BatchNorm + Scale(bias_term) over the channels: torch's affine BatchNorm
        if ctx.params["affine"] or other.type != "Scale" or len(other_site.inputs) != 1:
            return False
        q = other_ctx.params
        shape = other_site.inputs[0]
        return (
            len(shape) >= 2
            and canonical_axis(int(q["axis"]), len(shape)) == 1
            and int(q["num_axes"]) == 1
            and bool(q["bias_term"])
        )

    def torch_state_names(self, ctx: LayerContext, site: TorchSite) -> dict[str, str | None]:
        return {"moving_average_factor": "num_batches_tracked"}

    def torch_eval_always(self, ctx: LayerContext) -> bool:
        # use_global_stats: true normalises with the running statistics in training too
        return ctx.params["use_global_stats"] is True

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        # inference: (x - running_mean) / sqrt(running_var + eps) · γ + β, γ and β from
        # `affine: true` or the absorbed Scale (state_dict keys `<bn>.weight`/`.bias`), else 1
        # and 0. The running statistics are the torch module's, i.e. Caffe's sums already
        # divided by its scale-factor blob (netc.weights does that for a .caffemodel).
        shape = site.inputs[0]
        if len(shape) < 2:
            raise BackendError(f"ONNX has no BatchNormalization for a {len(shape)}-D input")
        channels = shape[1]
        if ctx.params["affine"] or site.absorbed is not None:
            gamma, beta = g.param("weight"), g.param("bias")
        else:
            gamma, beta = g.const([1.0] * channels), g.const([0.0] * channels)
        g.node(
            "BatchNormalization",
            [inputs[0], gamma, beta, g.param("running_mean"), g.param("running_var")],
            outputs,
            epsilon=float(ctx.params["eps"]),
        )

    def initial(self, ctx: LayerContext, blob: str, shapes: dict[str, Shape]) -> tuple[str, float]:
        # torch's BatchNorm: γ 1, β 0, running mean 0, running variance 1
        return ("constant", 1.0 if blob in ("weight", "running_var") else 0.0)


@register
class MVN(Elementwise):
    type = "MVN"
    aliases = ("MVN",)
    message = "mvn_param"
    family = "norm"
    stem = "mvn"

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        # mean (add) and subtract; with variance: square, add, divide
        return Cost(0, (5 if ctx.params["normalize_variance"] else 2) * math.prod(outputs[0]))

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        return [Saved("input")]

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        ndim = len(site.inputs[0])
        first = 1 if ctx.params["across_channels"] else 2
        if ndim <= first:
            raise BackendError(f"MVN of a {ndim}-D input has no axes to normalise over")
        return TorchModule(
            "MVN",
            args=(("dims", tuple(range(first, ndim))),),
            kwargs=(
                ("normalize_variance", bool(ctx.params["normalize_variance"])),
                ("eps", float(ctx.params["eps"])),
            ),
        )

    def torch_definitions(self) -> dict[str, str]:
        return {"MVN": _MVN}

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        # as the torch helper: x - mean over the axes; divided by sqrt(mean of the squared
        # deviations) + eps when normalize_variance
        ndim = len(site.inputs[0])
        first = 1 if ctx.params["across_channels"] else 2
        if ndim <= first:
            raise BackendError(f"MVN of a {ndim}-D input has no axes to normalise over")
        axes = list(range(first, ndim))
        normalize = bool(ctx.params["normalize_variance"])
        x = inputs[0]
        mean = onnx_reduce(g, "ReduceMean", x, axes, site.opset)
        if not normalize:
            g.node("Sub", [x, mean], outputs)
            return
        centred = g.node("Sub", [x, mean])[0]
        square = g.node("Mul", [centred, centred])[0]
        deviation = g.node("Sqrt", [onnx_reduce(g, "ReduceMean", square, axes, site.opset)])[0]
        denominator = g.node("Add", [deviation, g.const(float(ctx.params["eps"]))])[0]
        g.node("Div", [centred, denominator], outputs)


_LRN_WITHIN = '''
class LRNWithinChannel(nn.Module):
    """Caffe's LRN over a size×size spatial window: x / (1 + alpha/size² · Σ x²)^beta."""

    def __init__(self, size: int, alpha: float, beta: float) -> None:
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta

    def forward(self, x: Tensor) -> Tensor:
        pad = (self.size - 1) // 2
        mean = F.avg_pool2d(x * x, self.size, 1, pad, count_include_pad=True)
        return x * (1 + self.alpha * mean).pow(-self.beta)
'''

_MVN = '''
class MVN(nn.Module):
    """Caffe's MVN: subtract the mean over `dims`, optionally divide by the deviation + eps."""

    def __init__(self, dims: tuple[int, ...], normalize_variance: bool, eps: float) -> None:
        super().__init__()
        self.dims = list(dims)
        self.normalize_variance = normalize_variance
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        out = x - x.mean(self.dims, keepdim=True)
        if self.normalize_variance:
            out = out / (out.pow(2).mean(self.dims, keepdim=True).sqrt() + self.eps)
        return out
'''
