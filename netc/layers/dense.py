"""InnerProduct (fully connected), flattening everything from `axis` on."""

from __future__ import annotations

import math
from collections.abc import Sequence

from netc.layers.base import (
    BackendError,
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
    Window,
    canonical_axis,
    register,
)


@register
class InnerProduct(LayerType):
    type = "InnerProduct"
    shape_rule = "the axes before `axis`, then num_output"
    aliases = ("INNER_PRODUCT",)
    message = "inner_product_param"
    family = "fc"
    stem = "fc"

    def _dims(self, ctx: LayerContext, shape: Shape) -> tuple[int, int, int]:
        axis = canonical_axis(int(ctx.params["axis"]), len(shape))
        num_output = ctx.params["num_output"]
        if num_output is None or int(num_output) < 1:
            raise ShapeError(
                "num_output must be a positive integer",
                hint="add `num_output: N`",
                field="num_output",
            )
        return axis, math.prod(shape[axis:]), int(num_output)

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        axis, _, num_output = self._dims(ctx, inputs[0])
        return [(*inputs[0][:axis], num_output)]

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        axis, fan_in, num_output = self._dims(ctx, inputs[0])
        rows = math.prod(inputs[0][:axis])
        macs = rows * fan_in * num_output
        return Cost(macs, 2 * macs + (rows * num_output if ctx.params["bias_term"] else 0))

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        # torch's addmm keeps its input only for the weight's gradient: none for a frozen weight
        return [Saved("input")] if ctx.blob_trainable(0) else []

    def windows(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[Window] | None:
        # a fully-connected layer sees its whole input: a window as large as each spatial axis
        return [Window(size) for size in inputs[0][2:]]

    def blobs(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[BlobSpec]:
        _, fan_in, num_output = self._dims(ctx, inputs[0])
        weight = (fan_in, num_output) if ctx.params["transpose"] else (num_output, fan_in)
        out = [BlobSpec("weight", weight)]
        if ctx.params["bias_term"]:
            out.append(BlobSpec("bias", (num_output,)))
        return out

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        _, fan_in, num_output = self._dims(ctx, site.inputs[0])
        if ctx.params["transpose"]:
            raise BackendError(
                "a transposed InnerProduct weight has no nn.Linear form",
                hint="drop `transpose` (and transpose the weights when loading them)",
                field="transpose",
            )
        return TorchModule(
            "nn.Linear",
            args=(("in_features", fan_in), ("out_features", num_output)),
            kwargs=(("bias", bool(ctx.params["bias_term"])),),
            defaults=(("bias", True),),
        )

    def torch_input(self, ctx: LayerContext, site: TorchSite, arg: str) -> str:
        # Caffe flattens every axis from `axis` on (C-order, as torch.flatten)
        axis, _, _ = self._dims(ctx, site.inputs[0])
        return arg if axis == len(site.inputs[0]) - 1 else f"torch.flatten({arg}, {axis})"

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        # Caffe flattens every axis from `axis` on (C-order, as ONNX's Flatten). For axis 1 that
        # is Flatten + Gemm (y = x·Wᵀ + b, Caffe's num_output × fan_in weight); for a later
        # axis the leading axes stay: a Reshape keeping them (0 copies an axis), then MatMul.
        shape = site.inputs[0]
        axis, _, _ = self._dims(ctx, shape)
        transpose = bool(ctx.params["transpose"])  # Caffe's fan_in × num_output weight
        weight = g.param("weight")
        bias = [g.param("bias")] if ctx.params["bias_term"] else []
        if axis == 0:
            raise BackendError(
                "an InnerProduct over axis 0 mixes the batch into its features",
                hint="ONNX export keeps the batch axis; use axis: 1",
                field="axis",
            )
        x = inputs[0]
        if axis == 1:
            if len(shape) > 2:
                x = g.node("Flatten", [x], axis=1)[0]
            g.node("Gemm", [x, weight, *bias], outputs, transB=0 if transpose else 1)
            return
        if axis != len(shape) - 1:
            x = g.node("Reshape", [x, g.const([0] * axis + [-1], "int64")])[0]
        matrix = weight if transpose else g.node("Transpose", [weight], perm=[1, 0])[0]
        if not bias:
            g.node("MatMul", [x, matrix], outputs)
            return
        product = g.node("MatMul", [x, matrix])[0]
        g.node("Add", [product, bias[0]], outputs)

    def initial(self, ctx: LayerContext, blob: str, shapes: dict[str, Shape]) -> tuple[str, float]:
        # torch's nn.Linear: weight and bias U(±1/sqrt(fan_in)); a transposed weight is fan_in × out
        weight = shapes["weight"]
        fan_in = weight[0] if ctx.params["transpose"] else weight[1]
        return ("uniform", 1 / math.sqrt(fan_in))
