"""Layers that bring data in: Input, and the training-time data layers read as inputs.

Data layers know their batch size and, through `crop_size` or an explicit size, the image
size; the channel count of a database is not in the prototxt, so netc assumes colour (3)
unless `channels` (a netc extension) says otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

from netc.layers.base import (
    LayerContext,
    LayerType,
    Params,
    Shape,
    ShapeError,
    register,
)
from netc.proto.schema import Field, Kind

_CHANNELS = Field("channels", 1001, Kind.UINT, default=3)


def _dims(blob_shape: Params | None) -> Shape:
    return tuple(int(d) for d in (blob_shape["dim"] if blob_shape is not None else []))


@register
class Input(LayerType):
    type = "Input"
    shape_rule = "each `shape` as written (or --input-shape)"
    message = "input_param"
    family = "input"
    stem = "input"
    flops_per_element = 0
    bottoms = (0, 0)
    tops = (1, None)

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        shapes = [_dims(s) for s in ctx.params["shape"]]
        if not shapes:
            raise ShapeError(
                "Input needs a shape",
                hint="add `shape { dim: 1 dim: 3 dim: 224 dim: 224 }`",
                field="shape",
            )
        if len(shapes) == 1:
            shapes = shapes * n_tops
        if len(shapes) != n_tops:
            raise ShapeError(
                f"{len(shapes)} shapes for {n_tops} tops",
                hint="give one shape, or one per top",
                field="shape",
            )
        for shape in shapes:
            if not shape or any(d < 1 for d in shape):
                raise ShapeError(
                    f"invalid input shape {list(shape)}",
                    hint="dims must be positive",
                    field="shape",
                )
        return shapes


def _required(params: Params, name: str) -> int:
    value = params[name]
    if value is None:
        raise ShapeError(f"{name} is required", hint=f"add {name}: N", field=name)
    return int(value)


def _image_tops(batch: int, channels: int, height: int, width: int, n_tops: int) -> list[Shape]:
    if batch < 1:
        raise ShapeError("batch_size must be positive", field="batch_size")
    tops: list[Shape] = [(batch, channels, height, width)]
    if n_tops > 1:
        tops.append((batch,))
    return tops


def _crop(ctx: LayerContext) -> int:
    """transform_param's crop_size; old files keep it in the data parameter (Caffe upgrades it)."""
    transform = ctx.layer["transform_param"]
    if transform is not None and transform.has("crop_size"):
        return int(transform["crop_size"])
    return int(ctx.params.get("crop_size", 0))


@register
class Data(LayerType):
    type = "Data"
    shape_rule = "batch_size × channels × crop_size × crop_size (or --input-shape), label N"
    aliases = ("DATA",)
    message = "data_param"
    extensions = (_CHANNELS,)
    family = "input"
    stem = "data"
    flops_per_element = 0
    bottoms = (0, 0)
    tops = (1, 2)

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        crop = _crop(ctx)
        if not crop:
            raise ShapeError(
                "the image size of a Data layer is not in the prototxt",
                hint="add `transform_param { crop_size: N }`, or use an Input layer with a shape",
            )
        return _image_tops(
            int(ctx.params["batch_size"] or 0), int(ctx.params["channels"]), crop, crop, n_tops
        )


@register
class ImageData(LayerType):
    type = "ImageData"
    shape_rule = "batch_size × 3 (1 if gray) × new_height or crop × new_width or crop, label N"
    aliases = ("IMAGE_DATA",)
    message = "image_data_param"
    family = "input"
    stem = "data"
    flops_per_element = 0
    bottoms = (0, 0)
    tops = (1, 2)

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        p = ctx.params
        crop = _crop(ctx)
        height, width = (crop, crop) if crop else (int(p["new_height"]), int(p["new_width"]))
        if not (height and width):
            raise ShapeError(
                "the image size of an ImageData layer is not in the prototxt",
                hint="add `transform_param { crop_size: N }` or new_height/new_width",
            )
        channels = 3 if p["is_color"] else 1
        return _image_tops(int(p["batch_size"]), channels, height, width, n_tops)


@register
class WindowData(LayerType):
    type = "WindowData"
    shape_rule = "batch_size × 3 × crop_size × crop_size, label N"
    aliases = ("WINDOW_DATA",)
    message = "window_data_param"
    family = "input"
    stem = "data"
    flops_per_element = 0
    bottoms = (0, 0)
    tops = (1, 2)

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        crop = _crop(ctx)
        if not crop:
            raise ShapeError(
                "WindowData needs crop_size",
                hint="add transform_param { crop_size: N }",
                field="crop_size",
            )
        return _image_tops(_required(ctx.params, "batch_size"), 3, crop, crop, n_tops)


@register
class MemoryData(LayerType):
    type = "MemoryData"
    shape_rule = "batch_size × channels × height × width, label N"
    aliases = ("MEMORY_DATA",)
    message = "memory_data_param"
    family = "input"
    stem = "data"
    flops_per_element = 0
    bottoms = (0, 0)
    tops = (1, 2)

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        p = ctx.params
        batch, channels, height, width = (
            _required(p, n) for n in ("batch_size", "channels", "height", "width")
        )
        return _image_tops(batch, channels, height, width, n_tops)


@register
class DummyData(LayerType):
    type = "DummyData"
    shape_rule = "each `shape` as written"
    aliases = ("DUMMY_DATA",)
    message = "dummy_data_param"
    family = "input"
    stem = "data"
    flops_per_element = 0
    bottoms = (0, 0)
    tops = (1, None)

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        p = ctx.params
        shapes = [_dims(s) for s in p["shape"]]
        if not shapes:  # the legacy form: num, channels, height, width, one value each or per top
            legacy = [p["num"], p["channels"], p["height"], p["width"]]
            count = max(len(v) for v in legacy)
            if count and any(len(v) not in (1, count) for v in legacy):
                raise ShapeError(
                    "num, channels, height and width need one value each, or one per top",
                    hint="or write shape { dim: ... } per top",
                    field="num",
                )
            shapes = (
                [tuple(int(v[min(i, len(v) - 1)]) for v in legacy) for i in range(count)]
                if count
                else []
            )
        if not shapes:
            raise ShapeError("DummyData needs shape { dim ... }", field="shape")
        if len(shapes) == 1:
            shapes = shapes * n_tops
        if len(shapes) != n_tops:
            raise ShapeError(f"{len(shapes)} shapes for {n_tops} tops", field="shape")
        return shapes


@register
class HDF5Data(LayerType):
    type = "HDF5Data"
    shape_rule = "the file's shapes (given with --input-shape)"
    aliases = ("HDF5_DATA",)
    message = "hdf5_data_param"
    family = "input"
    stem = "data"
    flops_per_element = 0
    bottoms = (0, 0)
    tops = (1, None)

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        raise ShapeError(
            "the shapes of an HDF5Data layer are stored in its files, not in the prototxt",
            hint="use an Input layer with explicit shapes for analysis",
        )
