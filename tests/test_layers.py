"""Every layer type's shape rule and parameter blobs, checked against Caffe's own semantics.

Each expected value is computed here, independently of netc, with the formula written out and
a comment naming the Caffe source (BVLC/caffe, src/caffe/layers/*.cpp or caffe.proto) that
defines it. Tests marked `xfail(strict=True, reason="BUG: ...")` assert Caffe's behaviour where
netc currently differs; they start failing (XPASS) once netc is fixed, and the mark goes.
"""

from __future__ import annotations

import math
import re

import pytest

import netc
from netc.diagnostics import Diagnostic
from netc.layers.base import all_types

Shape = tuple[int, ...]

# ---- helpers ------------------------------------------------------------------------------


def net(*layers: str, shape: Shape = (1, 3, 32, 32), name: str = "data", **inputs: Shape) -> str:
    """A prototxt: one header input (`name`, `shape`) plus `inputs`, then the layers."""
    header = [(name, shape), *inputs.items()] if shape else list(inputs.items())
    lines = [
        f'input: "{n}" input_shape {{ {" ".join(f"dim: {d}" for d in s)} }}' for n, s in header
    ]
    return "\n".join([*lines, *layers]) + "\n"


def one(type_: str, params: str = "", shape: Shape = (1, 3, 32, 32), name: str = "l") -> str:
    """A net of one layer of `type_` with flat `params`, fed by the input `data` of `shape`."""
    return net(f'layer {{ name: "{name}" type: "{type_}" {params} }}', shape=shape)


def out_shape(type_: str, params: str, shape: Shape) -> Shape | None:
    return netc.load(one(type_, params, shape)).tensor("l").shape


def blob_shapes(g: netc.Graph, node: str) -> dict[str, Shape]:
    return {b.name: b.shape for b in g.node(node).blobs}


def error(text: str) -> Diagnostic:
    """The (first) diagnostic of a spec that must not compile."""
    with pytest.raises(netc.NetcError) as info:
        netc.load(text)
    assert info.value.diagnostics, "NetcError without diagnostics"
    return info.value.diagnostics[0]


def where(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """1-based (line, column) of the `nth` occurrence of `needle` in `text`, searched from the
    first layer on (so the input header's dims never match)."""
    index = max(text.find("layer"), 0) - 1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, column


def assert_error(text: str, message: str, at: str | None = None, nth: int = 0) -> Diagnostic:
    """The spec fails with `message` in the diagnostic, pointing at the `at` text if given."""
    d = error(text)
    assert message in d.message, d.message
    if at is not None:
        assert d.span is not None, f"no position for {d.message!r}"
        assert (d.span.line, d.span.column) == where(text, at, nth), (
            f"{d.message!r} points at {d.span.line}:{d.span.column}, "
            f"expected {where(text, at, nth)} ({at!r})"
        )
    return d


def caffe_pool(
    size: tuple[int, int],
    kernel: tuple[int, int],
    pad: tuple[int, int] = (0, 0),
    stride: tuple[int, int] = (1, 1),
    ceil: bool = True,
) -> tuple[int, int]:
    """PoolingLayer::Reshape (pooling_layer.cpp), transcribed:

    pooled = int(ceil|floor(float(size + 2*pad - kernel) / stride)) + 1
    if (pad_h_ || pad_w_) { if ((pooled - 1) * stride >= size + pad) --pooled; }  (per axis,
    but the guard tests the pads of BOTH axes).
    """
    rnd = math.ceil if ceil else math.floor
    out = [
        rnd((s + 2 * p - k) / st) + 1 for s, k, p, st in zip(size, kernel, pad, stride, strict=True)
    ]
    if pad[0] or pad[1]:
        out = [
            o - 1 if (o - 1) * st >= s + p else o
            for o, s, p, st in zip(out, size, pad, stride, strict=True)
        ]
    return out[0], out[1]


# ---- Convolution ---------------------------------------------------------------------------
# conv_layer.cpp compute_output_shape:
#   kernel_extent = dilation * (kernel - 1) + 1
#   output_dim = (input_dim + 2 * pad - kernel_extent) / stride + 1      (integer division)
# base_conv_layer.cpp LayerSetUp: top = bottom[:channel_axis] + (num_output,) + output dims;
#   weight = (num_output, channels / group, *kernel), bias = (num_output,) if bias_term.

CONV_SHAPES = [
    pytest.param(
        "num_output: 8 kernel_size: 3",
        (1, 3, 32, 32),
        (1, 8, (32 - 3) // 1 + 1, (32 - 3) // 1 + 1),
        id="k3",
    ),
    pytest.param(
        "num_output: 16 kernel_size: 3 pad: 1 stride: 2",
        (1, 3, 32, 32),
        (1, 16, (32 + 2 * 1 - 3) // 2 + 1, (32 + 2 * 1 - 3) // 2 + 1),
        id="k3-p1-s2",
    ),
    pytest.param(
        "num_output: 8 kernel_size: 3 stride: 2",
        (1, 3, 32, 32),
        (1, 8, (32 - 3) // 2 + 1, (32 - 3) // 2 + 1),  # 29/2 rounds down
        id="floor-division",
    ),
    pytest.param(
        "num_output: 96 kernel_size: 11 stride: 4",
        (10, 3, 227, 227),
        (10, 96, (227 - 11) // 4 + 1, (227 - 11) // 4 + 1),
        id="alexnet-conv1",
    ),
    pytest.param(
        "num_output: 64 kernel_size: 7 pad: 3 stride: 2",
        (1, 3, 224, 224),
        (1, 64, (224 + 2 * 3 - 7) // 2 + 1, (224 + 2 * 3 - 7) // 2 + 1),
        id="resnet-conv1",
    ),
    pytest.param(
        "convolution_param { num_output: 8 kernel_size: 5 pad: 2 }",
        (2, 3, 28, 28),
        (2, 8, (28 + 2 * 2 - 5) // 1 + 1, (28 + 2 * 2 - 5) // 1 + 1),
        id="nested-param-message",
    ),
    pytest.param(
        "num_output: 4 kernel_size: 3 kernel_size: 5 pad: 1 pad: 2 stride: 1 stride: 2",
        (1, 3, 20, 21),
        (1, 4, (20 + 2 * 1 - 3) // 1 + 1, (21 + 2 * 2 - 5) // 2 + 1),
        id="per-axis-repeated",
    ),
    pytest.param(
        "num_output: 4 kernel_h: 1 kernel_w: 7 pad_h: 0 pad_w: 3 stride_h: 2 stride_w: 1",
        (1, 3, 17, 17),
        (1, 4, (17 + 2 * 0 - 1) // 2 + 1, (17 + 2 * 3 - 7) // 1 + 1),
        id="kernel_h-kernel_w",
    ),
    pytest.param(
        "num_output: 4 kernel_size: 3 dilation: 2",
        (1, 3, 32, 32),
        (1, 4, (32 - (2 * (3 - 1) + 1)) // 1 + 1, (32 - (2 * (3 - 1) + 1)) // 1 + 1),
        id="dilation",
    ),
    pytest.param(
        "num_output: 4 kernel_size: 3 pad: 1 stride: 2 dilation: 2",
        (1, 3, 32, 32),
        (
            1,
            4,
            (32 + 2 * 1 - (2 * (3 - 1) + 1)) // 2 + 1,
            (32 + 2 * 1 - (2 * (3 - 1) + 1)) // 2 + 1,
        ),
        id="dilation-pad-stride",
    ),
    pytest.param(
        "num_output: 4 kernel_size: 3 dilation: 1 dilation: 3",
        (1, 3, 32, 32),
        (1, 4, (32 - (1 * (3 - 1) + 1)) // 1 + 1, (32 - (3 * (3 - 1) + 1)) // 1 + 1),
        id="dilation-per-axis",
    ),
    pytest.param(
        "num_output: 32 kernel_size: 3 pad: 1 group: 32",
        (1, 32, 56, 56),
        (1, 32, (56 + 2 - 3) // 1 + 1, (56 + 2 - 3) // 1 + 1),
        id="depthwise",
    ),
    pytest.param(
        "num_output: 4 kernel_size: 3",
        (2, 3, 10),
        (2, 4, (10 - 3) // 1 + 1),
        id="1d",
    ),
    pytest.param(
        "num_output: 4 kernel_size: 3 pad: 1 stride: 2",
        (1, 2, 8, 9, 10),
        (1, 4, (8 + 2 - 3) // 2 + 1, (9 + 2 - 3) // 2 + 1, (10 + 2 - 3) // 2 + 1),
        id="3d",
    ),
    pytest.param(
        "num_output: 4 kernel_size: 1 kernel_size: 3 kernel_size: 3",
        (1, 2, 4, 8, 8),
        (1, 4, (4 - 1) // 1 + 1, (8 - 3) // 1 + 1, (8 - 3) // 1 + 1),
        id="3d-per-axis",
    ),
    # base_conv_layer.cpp: channel_axis_ = CanonicalAxisIndex(axis); the axes before it are
    # kept, every axis after it is spatial.
    pytest.param(
        "num_output: 4 kernel_size: 3 axis: 2",
        (2, 5, 3, 16, 16),
        (2, 5, 4, (16 - 3) // 1 + 1, (16 - 3) // 1 + 1),
        id="axis-2",
    ),
    pytest.param(
        "num_output: 4 kernel_size: 3 axis: -3",
        (2, 3, 16, 16),
        (2, 4, (16 - 3) // 1 + 1, (16 - 3) // 1 + 1),
        id="axis-negative",
    ),
]


@pytest.mark.parametrize(("params", "shape", "expected"), CONV_SHAPES)
def test_convolution_shape(params: str, shape: Shape, expected: Shape) -> None:
    assert out_shape("Convolution", params, shape) == expected


CONV_BLOBS = [
    pytest.param(
        "num_output: 8 kernel_size: 3",
        (1, 3, 32, 32),
        {"weight": (8, 3, 3, 3), "bias": (8,)},
        id="plain",
    ),
    pytest.param(
        "num_output: 8 kernel_size: 3 group: 2",
        (1, 4, 32, 32),
        {"weight": (8, 4 // 2, 3, 3), "bias": (8,)},
        id="group",
    ),
    pytest.param(
        "num_output: 32 kernel_size: 3 group: 32",
        (1, 32, 8, 8),
        {"weight": (32, 32 // 32, 3, 3), "bias": (32,)},
        id="depthwise",
    ),
    pytest.param(
        "num_output: 6 kernel_h: 1 kernel_w: 7",
        (1, 3, 17, 17),
        {"weight": (6, 3, 1, 7), "bias": (6,)},
        id="kernel_h-kernel_w",
    ),
    pytest.param(
        "num_output: 8 kernel_size: 3 bias_term: false",
        (1, 3, 32, 32),
        {"weight": (8, 3, 3, 3)},
        id="no-bias",
    ),
    pytest.param(
        "num_output: 4 kernel_size: 1 kernel_size: 3 kernel_size: 3",
        (1, 2, 4, 8, 8),
        {"weight": (4, 2, 1, 3, 3), "bias": (4,)},
        id="3d",
    ),
    pytest.param(
        "num_output: 4 kernel_size: 3 axis: 2",
        (2, 5, 3, 16, 16),
        {"weight": (4, 3, 3, 3), "bias": (4,)},
        id="axis-2",
    ),
]


@pytest.mark.parametrize(("params", "shape", "expected"), CONV_BLOBS)
def test_convolution_blobs(params: str, shape: Shape, expected: dict[str, Shape]) -> None:
    g = netc.load(one("Convolution", params, shape))
    assert blob_shapes(g, "l") == expected
    assert [b.name for b in g.node("l").blobs] == list(expected)  # weight first, then bias
    assert all(b.kind == "param" and b.trainable for b in g.node("l").blobs)
    assert g.params_count() == sum(math.prod(s) for s in expected.values())
    assert g.params_count("buffer") == 0


def test_convolution_params_count() -> None:
    # 8 filters of 3×3×3 plus 8 biases
    g = netc.load(one("Convolution", "num_output: 8 kernel_size: 3"))
    assert g.node("l").params_count() == 8 * 3 * 3 * 3 + 8
    assert g.params_count() == 8 * 3 * 3 * 3 + 8


CONV_ERRORS = [
    # base_conv_layer.cpp: CHECK_EQ(channels_ % group_, 0)
    pytest.param("num_output: 8 kernel_size: 3 group: 2", (1, 3, 8, 8), "group 2", "2", id="group"),
    # base_conv_layer.cpp: CHECK_EQ(num_output_ % group_, 0) "Number of output should be multiples of group."
    pytest.param(
        "num_output: 6 kernel_size: 3 group: 4", (1, 8, 8, 8), "group 4", "4", id="group-output"
    ),
    pytest.param(
        "num_output: 8 kernel_size: 33",
        (1, 3, 32, 32),
        "larger than the padded input",
        "33",
        id="kernel-too-big",
    ),
    # base_conv_layer.cpp: "kernel_size must be specified once, or once per spatial dimension"
    pytest.param(
        "num_output: 8 kernel_size: 3 kernel_size: 3 kernel_size: 3",
        (1, 3, 32, 32),
        "kernel_size has 3 values for 2 spatial axes",
        "3 kernel_size",
        id="kernel-count",
    ),
    # base_conv_layer.cpp: "Either kernel_size or kernel_h/w should be specified; not both."
    pytest.param(
        "num_output: 8 kernel_size: 3 kernel_h: 3 kernel_w: 3",
        (1, 3, 32, 32),
        "not both",
        "3 kernel_h",
        id="kernel-and-kernel_h",
    ),
    # base_conv_layer.cpp: "For non-square filters both kernel_h and kernel_w are required."
    pytest.param(
        "num_output: 8 kernel_h: 3",
        (1, 3, 32, 32),
        "must be given together",
        "3",
        id="kernel_h-alone",
    ),
    # base_conv_layer.cpp: "kernel_h & kernel_w can only be used for 2D convolution."
    pytest.param(
        "num_output: 8 kernel_h: 3 kernel_w: 3",
        (1, 3, 8, 8, 8),
        "2-D inputs only",
        "3",
        id="kernel_h-3d",
    ),
    pytest.param("num_output: 8", (1, 3, 32, 32), "kernel_size is required", None, id="no-kernel"),
    # base_conv_layer.cpp: CHECK_GT(num_output_, 0)
    pytest.param("kernel_size: 3", (1, 3, 32, 32), "num_output", None, id="no-num_output"),
    pytest.param(
        "num_output: 8 kernel_size: 3 stride: 0",
        (1, 3, 32, 32),
        "stride must be positive",
        "0",
        id="stride-0",
    ),
    pytest.param(
        "num_output: 8 kernel_size: 3 axis: 4",
        (1, 3, 32, 32),
        "axis 4 is out of range",
        "4",
        id="axis-range",
    ),
]


@pytest.mark.parametrize(("params", "shape", "message", "at"), CONV_ERRORS)
def test_convolution_errors(params: str, shape: Shape, message: str, at: str | None) -> None:
    text = one("Convolution", params, shape)
    d = assert_error(text, message)
    if at is not None:  # the first `at` inside the parameters: the offending field's value
        line, column = where(text, params)
        assert d.span is not None
        assert (d.span.line, d.span.column) == (line, column + params.index(at)), d.message


# ---- Deconvolution -------------------------------------------------------------------------
# deconv_layer.cpp compute_output_shape:
#   output_dim = stride * (input_dim - 1) + kernel_extent - 2 * pad
# base_conv_layer.cpp LayerSetUp, reverse_dimensions(): conv_out_channels_ = channels_,
#   conv_in_channels_ = num_output_, so weight = (channels, num_output / group, *kernel).

DECONV = [
    pytest.param(
        "num_output: 16 kernel_size: 4 stride: 2 pad: 1",
        (1, 8, 14, 14),
        (1, 16, 2 * (14 - 1) + 4 - 2 * 1, 2 * (14 - 1) + 4 - 2 * 1),
        {"weight": (8, 16, 4, 4), "bias": (16,)},
        id="upsample-x2",
    ),
    pytest.param(
        "num_output: 21 kernel_size: 64 stride: 32 bias_term: false",
        (1, 21, 16, 16),
        (1, 21, 32 * (16 - 1) + 64, 32 * (16 - 1) + 64),
        {"weight": (21, 21, 64, 64)},
        id="fcn32-upscore",
    ),
    pytest.param(
        "num_output: 8 kernel_size: 4 stride: 2 group: 8 bias_term: false",
        (1, 8, 10, 10),
        (1, 8, 2 * (10 - 1) + 4, 2 * (10 - 1) + 4),
        {"weight": (8, 8 // 8, 4, 4)},
        id="group-bilinear",
    ),
    pytest.param(
        "num_output: 6 kernel_size: 3 dilation: 2",
        (1, 4, 10, 10),
        (1, 6, 1 * (10 - 1) + (2 * (3 - 1) + 1), 1 * (10 - 1) + (2 * (3 - 1) + 1)),
        {"weight": (4, 6, 3, 3), "bias": (6,)},
        id="dilation",
    ),
    pytest.param(
        "num_output: 6 kernel_h: 2 kernel_w: 4 stride_h: 2 stride_w: 1 pad_h: 0 pad_w: 1",
        (1, 4, 5, 7),
        (1, 6, 2 * (5 - 1) + 2 - 2 * 0, 1 * (7 - 1) + 4 - 2 * 1),
        {"weight": (4, 6, 2, 4), "bias": (6,)},
        id="kernel_h-kernel_w",
    ),
    pytest.param(
        "num_output: 12 kernel_size: 2 stride: 2 group: 2",
        (1, 4, 3, 3),
        (1, 12, 2 * (3 - 1) + 2, 2 * (3 - 1) + 2),
        {"weight": (4, 12 // 2, 2, 2), "bias": (12,)},
        id="group",
    ),
]


@pytest.mark.parametrize(("params", "shape", "expected", "blobs"), DECONV)
def test_deconvolution(params: str, shape: Shape, expected: Shape, blobs: dict[str, Shape]) -> None:
    g = netc.load(one("Deconvolution", params, shape))
    assert g.tensor("l").shape == expected
    assert blob_shapes(g, "l") == blobs


def test_deconvolution_non_positive_output() -> None:
    text = one("Deconvolution", "num_output: 4 kernel_size: 1 pad: 3", (1, 2, 2, 2))
    # 1 * (2 - 1) + 1 - 2 * 3 = -4
    assert_error(text, "not positive", at="3 }")


# ---- Pooling -------------------------------------------------------------------------------

POOL = [
    pytest.param(
        "pool: MAX kernel_size: 2 stride: 2",
        (1, 8, 32, 32),
        ((2, 2), (0, 0), (2, 2), True),
        id="max-2-2",
    ),
    # ResNet pool1 (3/2, no pad): ceil((112 - 3) / 2) + 1 = 56, where floor would give 55
    pytest.param(
        "pool: MAX kernel_size: 3 stride: 2",
        (1, 64, 112, 112),
        ((3, 3), (0, 0), (2, 2), True),
        id="resnet-pool1-112",
    ),
    # GoogLeNet pool2/3x3_s2: 56 -> 28 (floor would give 27)
    pytest.param(
        "pool: MAX kernel_size: 3 stride: 2",
        (1, 192, 56, 56),
        ((3, 3), (0, 0), (2, 2), True),
        id="googlenet-pool2-56",
    ),
    # AlexNet pool1: 55 -> 27, exact either way
    pytest.param(
        "pool: MAX kernel_size: 3 stride: 2",
        (1, 96, 55, 55),
        ((3, 3), (0, 0), (2, 2), True),
        id="alexnet-pool1-55",
    ),
    pytest.param(
        "pool: AVE kernel_size: 3 stride: 1 pad: 1",
        (1, 8, 14, 14),
        ((3, 3), (1, 1), (1, 1), True),
        id="ave-same",
    ),
    pytest.param(
        "pool: AVE kernel_size: 3 stride: 2",
        (1, 8, 14, 14),
        ((3, 3), (0, 0), (2, 2), True),
        id="ave-round-up",
    ),
    # the clip: ceil((3 + 2 - 2) / 2) + 1 = 3, but (3 - 1) * 2 = 4 >= 3 + 1, so 2
    pytest.param(
        "pool: MAX kernel_size: 2 stride: 2 pad: 1",
        (1, 1, 3, 3),
        ((2, 2), (1, 1), (2, 2), True),
        id="clip-3",
    ),
    # ceil((5 + 2 - 2) / 2) + 1 = 4, (4 - 1) * 2 = 6 >= 5 + 1: clipped to 3
    pytest.param(
        "pool: MAX kernel_size: 2 stride: 2 pad: 1",
        (1, 1, 5, 5),
        ((2, 2), (1, 1), (2, 2), True),
        id="clip-5",
    ),
    # with pad but no clip: ceil((7 + 2 - 3) / 2) + 1 = 4, (4 - 1) * 2 = 6 < 8
    pytest.param(
        "pool: MAX kernel_size: 3 stride: 2 pad: 1",
        (1, 1, 7, 7),
        ((3, 3), (1, 1), (2, 2), True),
        id="pad-no-clip",
    ),
    pytest.param(
        "pool: MAX kernel_size: 3 stride: 2 round_mode: FLOOR",
        (1, 64, 112, 112),
        ((3, 3), (0, 0), (2, 2), False),
        id="floor-112",
    ),
    pytest.param(
        "pool: MAX kernel_size: 3 stride: 2 round_mode: CEIL",
        (1, 64, 112, 112),
        ((3, 3), (0, 0), (2, 2), True),
        id="ceil-explicit",
    ),
    pytest.param(
        "pool: AVE kernel_size: 2 stride: 2 pad: 1 round_mode: FLOOR",
        (1, 1, 5, 5),
        ((2, 2), (1, 1), (2, 2), False),
        id="floor-pad",
    ),
    pytest.param(
        "pool: MAX kernel_h: 3 kernel_w: 1 stride_h: 2 stride_w: 1",
        (1, 4, 9, 6),
        ((3, 1), (0, 0), (2, 1), True),
        id="kernel_h-kernel_w",
    ),
    pytest.param(
        "pool: MAX kernel_size: 3 pad_h: 1 pad_w: 0 stride: 2",
        (1, 4, 8, 8),
        ((3, 3), (1, 0), (2, 2), True),
        id="pad_h-pad_w",
    ),
    pytest.param(
        "pooling_param { pool: MAX kernel_size: 3 stride: 3 }",
        (2, 4, 10, 11),
        ((3, 3), (0, 0), (3, 3), True),
        id="nested",
    ),
]


@pytest.mark.parametrize(("params", "shape", "window"), POOL)
def test_pooling_shape(
    params: str,
    shape: Shape,
    window: tuple[tuple[int, int], tuple[int, int], tuple[int, int], bool],
) -> None:
    kernel, pad, stride, ceil = window
    expected = (*shape[:2], *caffe_pool((shape[2], shape[3]), kernel, pad, stride, ceil))
    g = netc.load(one("Pooling", params, shape))
    assert g.tensor("l").shape == expected
    assert g.node("l").blobs == []


def test_pooling_ceil_and_floor_differ() -> None:
    # pooling_layer.cpp Reshape: CEIL (the default) rounds (112 - 3) / 2 = 54.5 up, FLOOR down
    base = "pool: MAX kernel_size: 3 stride: 2"
    assert out_shape("Pooling", base, (1, 64, 112, 112)) == (1, 64, math.ceil(109 / 2) + 1, 56)
    floor = out_shape("Pooling", base + " round_mode: FLOOR", (1, 64, 112, 112))
    assert floor == (1, 64, (112 - 3) // 2 + 1, (112 - 3) // 2 + 1) == (1, 64, 55, 55)


@pytest.mark.parametrize(
    ("params", "shape"),
    [
        pytest.param("pool: AVE global_pooling: true", (2, 512, 7, 7), id="ave"),
        pytest.param("pool: MAX global_pooling: true", (1, 8, 5, 3), id="max-non-square"),
        pytest.param("pooling_param { pool: AVE global_pooling: true }", (4, 2048, 1, 1), id="1x1"),
    ],
)
def test_global_pooling(params: str, shape: Shape) -> None:
    # pooling_layer.cpp Reshape: if (global_pooling_) kernel = (height, width) -> 1×1 output
    kernel = (shape[2], shape[3])
    assert out_shape("Pooling", params, shape) == (*shape[:2], *caffe_pool(kernel, kernel))
    assert out_shape("Pooling", params, shape) == (*shape[:2], 1, 1)


def test_pooling_mask_top() -> None:
    # pooling_layer.cpp Reshape: if (top.size() > 1) top[1]->ReshapeLike(*top[0])
    g = netc.load(
        net('layer { name: "p" type: "Pooling" top: "p" top: "mask" kernel_size: 2 stride: 2 }')
    )
    expected = (1, 3, *caffe_pool((32, 32), (2, 2), stride=(2, 2)))
    assert g.tensor("p").shape == g.tensor("mask").shape == expected


POOL_ERRORS = [
    # pooling_layer.cpp LayerSetUp: CHECK_LT(pad_h_, kernel_h_)
    pytest.param(
        "kernel_size: 2 pad: 2",
        (1, 1, 8, 8),
        "pad must be smaller than the kernel",
        "pad: 2",
        id="pad-ge-kernel",
    ),
    # pooling_layer.cpp LayerSetUp: "With Global_pooling: true Filter size cannot specified"
    pytest.param(
        "global_pooling: true kernel_size: 3",
        (1, 1, 8, 8),
        "global_pooling",
        "kernel_size: 3",
        id="global-with-kernel",
    ),
    # pooling_layer.cpp Reshape: CHECK_EQ(4, bottom[0]->num_axes())
    pytest.param("kernel_size: 2", (1, 8, 8), "4-D input", None, id="3d-input"),
    pytest.param("stride: 2", (1, 1, 8, 8), "kernel_size is required", None, id="no-kernel"),
    pytest.param(
        "kernel_size: 9",
        (1, 1, 8, 8),
        "larger than the padded input",
        "kernel_size: 9",
        id="kernel-too-big",
    ),
    pytest.param(
        "kernel_h: 2 kernel_w: 2 kernel_size: 2",
        (1, 1, 8, 8),
        "not both",
        "kernel_size: 2",
        id="kernel-and-kernel_h",
    ),
]


@pytest.mark.parametrize(("params", "shape", "message", "at"), POOL_ERRORS)
def test_pooling_errors(params: str, shape: Shape, message: str, at: str | None) -> None:
    text = one("Pooling", params, shape)
    d = assert_error(text, message)
    if at is not None:
        assert d.span is not None
        line, column = where(text, at)
        value_column = column + (at.index(":") + 2 if ":" in at else 0)
        assert (d.span.line, d.span.column) == (line, value_column), d.message


def test_pooling_clip_applies_to_both_axes_when_either_is_padded() -> None:
    params = "pool: MAX kernel_h: 1 kernel_w: 3 stride_h: 3 stride_w: 1 pad_h: 0 pad_w: 1"
    # H: ceil((5 - 1) / 3) + 1 = 3; pad_w != 0 so the clip runs: (3 - 1) * 3 = 6 >= 5 + 0 -> 2
    # W: ceil((8 + 2 - 3) / 1) + 1 = 8; (8 - 1) * 1 = 7 < 8 + 1 -> 8
    expected = (1, 1, *caffe_pool((5, 8), (1, 3), (0, 1), (3, 1)))
    assert expected == (1, 1, 2, 8)
    assert out_shape("Pooling", params, (1, 1, 5, 8)) == expected


def test_global_pooling_rejects_stride() -> None:
    text = one("Pooling", "pool: AVE global_pooling: true stride: 2", (1, 8, 7, 7))
    assert_error(text, "stride", at="2 }")


# ---- InnerProduct --------------------------------------------------------------------------
# inner_product_layer.cpp: axis = CanonicalAxisIndex(axis); K = count(axis); N = num_output;
#   top = bottom[:axis] + (N,); weight = transpose ? (K, N) : (N, K); bias = (N,).

IP = [
    pytest.param(
        "num_output: 4096",
        (2, 256, 6, 6),
        (2, 4096),
        {"weight": (4096, 256 * 6 * 6), "bias": (4096,)},
        id="alexnet-fc6",
    ),
    pytest.param(
        "num_output: 10", (64, 500), (64, 10), {"weight": (10, 500), "bias": (10,)}, id="2d"
    ),
    pytest.param(
        "num_output: 7 axis: 2",
        (2, 3, 4, 5),
        (2, 3, 7),
        {"weight": (7, 4 * 5), "bias": (7,)},
        id="axis-2",
    ),
    pytest.param(
        "num_output: 7 axis: -1",
        (2, 3, 4),
        (2, 3, 7),
        {"weight": (7, 4), "bias": (7,)},
        id="axis-neg",
    ),
    pytest.param(
        "num_output: 7 axis: 0",
        (2, 3, 4),
        (7,),
        {"weight": (7, 2 * 3 * 4), "bias": (7,)},
        id="axis-0",
    ),
    pytest.param(
        "num_output: 10 transpose: true",
        (2, 256, 6, 6),
        (2, 10),
        {"weight": (256 * 6 * 6, 10), "bias": (10,)},
        id="transpose",
    ),
    pytest.param(
        "num_output: 10 bias_term: false", (2, 20), (2, 10), {"weight": (10, 20)}, id="no-bias"
    ),
    pytest.param(
        "inner_product_param { num_output: 3 axis: 1 }",
        (5, 2, 2),
        (5, 3),
        {"weight": (3, 4), "bias": (3,)},
        id="nested",
    ),
]


@pytest.mark.parametrize(("params", "shape", "expected", "blobs"), IP)
def test_inner_product(params: str, shape: Shape, expected: Shape, blobs: dict[str, Shape]) -> None:
    g = netc.load(one("InnerProduct", params, shape))
    assert g.tensor("l").shape == expected
    assert blob_shapes(g, "l") == blobs
    assert g.params_count() == sum(math.prod(s) for s in blobs.values())


def test_inner_product_errors() -> None:
    assert_error(one("InnerProduct", "", (2, 10)), "num_output")
    text = one("InnerProduct", "num_output: 3 axis: 3", (2, 10))
    assert_error(text, "axis 3 is out of range", at="3 }")


# ---- element-wise layers, in place ---------------------------------------------------------
# neuron_layer.cpp NeuronLayer::Reshape: top[0]->ReshapeLike(*bottom[0]); these may run in place.

IN_PLACE = [
    ("ReLU", ""),
    ("ReLU", "negative_slope: 0.1"),
    ("Sigmoid", ""),
    ("TanH", ""),
    ("Dropout", "dropout_ratio: 0.5"),
    ("ELU", "alpha: 1.0"),
    ("BNLL", ""),
    ("Power", "power: 2 scale: 0.5 shift: 1"),
    ("Exp", "base: 2"),
    ("Log", ""),
    ("Threshold", "threshold: 0.5"),
    ("Clip", "min: 0 max: 6"),
    ("Swish", "beta: 1"),
    ("PReLU", ""),
    ("BatchNorm", ""),
    ("Scale", "bias_term: true"),
    ("Bias", ""),
    ("MVN", ""),
]


def test_absval_refuses_in_place() -> None:
    # absval_layer.cpp LayerSetUp: CHECK_NE(top[0], bottom[0]) << "... does not allow in-place computation."
    text = net(
        'layer { name: "c" type: "Convolution" num_output: 8 kernel_size: 3 }',
        'layer { name: "a" type: "AbsVal" bottom: "c" top: "c" }',
        shape=(1, 3, 16, 16),
    )
    assert_error(text, "cannot run in place")


@pytest.mark.parametrize(("type_", "params"), IN_PLACE, ids=[f"{t}-{p}" for t, p in IN_PLACE])
def test_in_place(type_: str, params: str) -> None:
    conv = (1, 8, (16 - 3) // 1 + 1, (16 - 3) // 1 + 1)
    g = netc.load(
        net(
            'layer { name: "c" type: "Convolution" num_output: 8 kernel_size: 3 }',
            f'layer {{ name: "a" type: "{type_}" bottom: "c" top: "c" {params} }}',
            shape=(1, 3, 16, 16),
        )
    )
    node = g.node("a")
    assert node.in_place
    (out,) = node.outputs
    (inp,) = node.inputs
    assert out != inp  # a new version of the blob ...
    assert g.tensors[out].blob == g.tensors[inp].blob == "c"  # ... of the same Caffe blob
    assert g.tensors[inp].producer == "c"
    assert g.tensors[out].producer == "a"
    assert g.tensor("c").id == out  # the blob name resolves to the latest version
    assert g.tensor("c").shape == g.tensors[inp].shape == conv


@pytest.mark.parametrize("type_", ["ReLU", "Sigmoid", "TanH", "Dropout"])
def test_elementwise_new_top(type_: str) -> None:
    g = netc.load(one(type_, "", (2, 5, 3)))
    assert g.tensor("l").shape == (2, 5, 3)
    assert not g.node("l").in_place
    assert g.node("l").blobs == []


# ---- PReLU ---------------------------------------------------------------------------------
# prelu_layer.cpp LayerSetUp: slope = channel_shared ? Blob(vector<int>(0)) (a scalar)
#   : Blob(vector<int>(1, channels)); channels = bottom[0]->channels() (axis 1).


@pytest.mark.parametrize(
    ("params", "shape", "slope"),
    [
        pytest.param("", (1, 16, 8, 8), (16,), id="per-channel"),
        pytest.param("channel_shared: false", (2, 5, 3), (5,), id="per-channel-3d"),
        pytest.param("channel_shared: true", (1, 16, 8, 8), (), id="shared"),
        pytest.param("prelu_param { channel_shared: true }", (4, 7), (), id="shared-nested"),
    ],
)
def test_prelu(params: str, shape: Shape, slope: Shape) -> None:
    g = netc.load(one("PReLU", params, shape))
    assert g.tensor("l").shape == shape
    assert blob_shapes(g, "l") == {"weight": slope}
    assert g.params_count() == math.prod(slope)  # the scalar slope counts 1


# ---- LRN -----------------------------------------------------------------------------------
# lrn_layer.cpp LayerSetUp: CHECK_EQ(size_ % 2, 1) "LRN only supports odd values for
#   local_size"; Reshape: CHECK_EQ(4, bottom[0]->num_axes()); top is shaped like bottom.


@pytest.mark.parametrize(
    "params",
    [
        "",  # local_size defaults to 5
        "local_size: 5 alpha: 0.0001 beta: 0.75",
        "local_size: 3 norm_region: WITHIN_CHANNEL",
        "lrn_param { local_size: 1 }",
    ],
)
def test_lrn(params: str) -> None:
    g = netc.load(one("LRN", params, (2, 96, 55, 55)))
    assert g.tensor("l").shape == (2, 96, 55, 55)
    assert g.node("l").blobs == []


def test_lrn_errors() -> None:
    text = one("LRN", "local_size: 4", (2, 96, 55, 55))
    assert_error(text, "odd", at="4 }")
    assert_error(one("LRN", "", (2, 96)), "4-D input")


# ---- BatchNorm -----------------------------------------------------------------------------
# batch_norm_layer.cpp LayerSetUp: channels_ = bottom[0]->shape(1); blobs_ = mean (C),
#   variance (C), moving-average factor (1); their lr_mult is forced to 0 (statistics, not
#   parameters). netc's `affine: true` adds Scale's weight and bias (C each).


@pytest.mark.parametrize("shape", [(2, 64, 8, 8), (4, 10), (2, 6, 5)])
def test_batch_norm(shape: Shape) -> None:
    c = shape[1]
    g = netc.load(one("BatchNorm", "", shape))
    assert g.tensor("l").shape == shape
    blobs = g.node("l").blobs
    assert [(b.name, b.shape, b.kind) for b in blobs] == [
        ("running_mean", (c,), "buffer"),
        ("running_var", (c,), "buffer"),
        ("moving_average_factor", (1,), "buffer"),
    ]
    assert not any(b.trainable for b in blobs)
    assert g.params_count() == 0
    assert g.params_count("buffer") == c + c + 1
    assert g.trainable_count() == 0


def test_batch_norm_affine() -> None:
    c = 64
    g = netc.load(one("BatchNorm", "affine: true", (2, c, 8, 8)))
    kinds = {b.name: (b.shape, b.kind) for b in g.node("l").blobs}
    assert kinds == {
        "weight": ((c,), "param"),
        "bias": ((c,), "param"),
        "running_mean": ((c,), "buffer"),
        "running_var": ((c,), "buffer"),
        "moving_average_factor": ((1,), "buffer"),
    }
    assert g.params_count() == 2 * c
    assert g.params_count("buffer") == 2 * c + 1


def test_batch_norm_resnet_style_params() -> None:
    # ResNet prototxts: BatchNorm with three `param { lr_mult: 0 }`, then Scale bias_term: true
    text = net(
        'layer { name: "bn" type: "BatchNorm" bottom: "data" top: "data"'
        " param { lr_mult: 0 } param { lr_mult: 0 } param { lr_mult: 0 }"
        " batch_norm_param { use_global_stats: true } }",
        'layer { name: "sc" type: "Scale" bottom: "data" top: "data" bias_term: true }',
        shape=(1, 64, 56, 56),
    )
    g = netc.load(text)
    assert all(b.lr_mult == 0 and not b.trainable for b in g.node("bn").blobs)
    assert blob_shapes(g, "sc") == {"weight": (64,), "bias": (64,)}
    assert g.params_count() == 64 + 64
    assert g.params_count("buffer") == 64 + 64 + 1


def test_batch_norm_1d_input() -> None:
    g = netc.load(one("BatchNorm", "", (8,)))
    assert g.tensor("l").shape == (8,)
    assert blob_shapes(g, "l") == {
        "running_mean": (1,),
        "running_var": (1,),
        "moving_average_factor": (1,),
    }


# ---- Scale and Bias ------------------------------------------------------------------------
# scale_layer.cpp / bias_layer.cpp LayerSetUp, one bottom: axis = CanonicalAxisIndex(axis);
#   blob shape = bottom shape[axis : axis + num_axes] (num_axes -1: to the end; 0: a scalar);
#   CHECK_GE(bottom[0]->num_axes(), axis_ + num_axes). Scale's bias_term adds a bias of the
#   same shape. The top is shaped like bottom[0].

SCALE_ONE = [
    pytest.param("", (2, 3, 4, 5), (2, 3, 4, 5)[1 : 1 + 1], id="default-axis1-num_axes1"),
    pytest.param("axis: 1 num_axes: 2", (2, 3, 4, 5), (2, 3, 4, 5)[1 : 1 + 2], id="num_axes-2"),
    pytest.param("num_axes: -1", (2, 3, 4, 5), (2, 3, 4, 5)[1:], id="num_axes--1"),
    pytest.param("num_axes: 0", (2, 3, 4, 5), (), id="num_axes-0-scalar"),
    pytest.param("axis: 0 num_axes: -1", (2, 3, 4, 5), (2, 3, 4, 5), id="axis0-all"),
    pytest.param("axis: -1", (2, 3, 4, 5), (2, 3, 4, 5)[3:4], id="axis--1"),
    pytest.param("axis: 2 num_axes: -1", (2, 3, 4, 5), (2, 3, 4, 5)[2:], id="axis2-rest"),
    pytest.param("axis: 0 num_axes: 1", (7, 3), (7,), id="axis0-2d"),
]


@pytest.mark.parametrize(("params", "shape", "blob"), SCALE_ONE)
def test_scale_one_bottom(params: str, shape: Shape, blob: Shape) -> None:
    g = netc.load(one("Scale", params, shape))
    assert g.tensor("l").shape == shape
    assert blob_shapes(g, "l") == {"weight": blob}
    g = netc.load(one("Scale", params + " bias_term: true", shape))
    assert blob_shapes(g, "l") == {"weight": blob, "bias": blob}
    assert g.params_count() == 2 * math.prod(blob)


@pytest.mark.parametrize(("params", "shape", "blob"), SCALE_ONE)
def test_bias_one_bottom(params: str, shape: Shape, blob: Shape) -> None:
    g = netc.load(one("Bias", params, shape))
    assert g.tensor("l").shape == shape
    assert blob_shapes(g, "l") == {"bias": blob}


@pytest.mark.parametrize("type_", ["Scale", "Bias"])
def test_scale_bias_errors(type_: str) -> None:
    # axis 1 + num_axes 4 = 5 > 4 axes
    text = one(type_, "axis: 1 num_axes: 4", (2, 3, 4, 5))
    assert_error(text, "exceeds", at="4 }")
    text = one(type_, "num_axes: -2", (2, 3, 4, 5))
    assert_error(text, "num_axes", at="-2")
    text = one(type_, "axis: 4", (2, 3, 4, 5))
    assert_error(text, "axis 4 is out of range", at="4 }")


# Two bottoms (scale_layer.cpp Reshape): the factor is bottom[1]; for i in bottom[1] axes,
#   CHECK_EQ(bottom[0]->shape(axis_ + i), scale->shape(i)); no learned weight. The SE gate
#   (N×C) multiplies N×C×H×W from axis 0.

SCALE_TWO = [
    pytest.param((2, 16, 8, 8), (2, 16), "axis: 0", id="se-gate-axis0"),
    pytest.param((2, 16, 8, 8), (16,), "", id="per-channel"),
    pytest.param((2, 16, 8, 8), (16, 8, 8), "", id="chw"),
    pytest.param((2, 16, 8, 8), (2, 16, 8, 8), "axis: 0", id="full"),
    pytest.param((2, 16, 8, 8), (8,), "axis: -1", id="last-axis"),
]


@pytest.mark.parametrize(("x", "factor", "params"), SCALE_TWO)
def test_scale_two_bottoms(x: Shape, factor: Shape, params: str) -> None:
    layer = f'layer {{ name: "s" type: "Scale" bottom: "x" bottom: "g" top: "y" {params} }}'
    g = netc.load(net(layer, shape=(), x=x, g=factor))
    assert g.tensor("y").shape == x
    assert g.node("s").blobs == []  # the factor is an input, not a parameter
    layer = layer.replace("top:", "bias_term: true top:")
    g = netc.load(net(layer, shape=(), x=x, g=factor))
    assert blob_shapes(g, "s") == {"bias": factor}


@pytest.mark.parametrize(("x", "factor", "params"), SCALE_TWO)
def test_bias_two_bottoms(x: Shape, factor: Shape, params: str) -> None:
    layer = f'layer {{ name: "b" type: "Bias" bottom: "x" bottom: "g" top: "y" {params} }}'
    g = netc.load(net(layer, shape=(), x=x, g=factor))
    assert g.tensor("y").shape == x
    assert g.node("b").blobs == []


def test_scale_two_bottoms_mismatch() -> None:
    # the SE gate with the default axis 1: bottom[0] axes 1..2 are 16×8, not 2×16
    text = net(
        'layer { name: "s" type: "Scale" bottom: "x" bottom: "g" top: "y" }',
        shape=(),
        x=(2, 16, 8, 8),
        g=(2, 16),
    )
    d = assert_error(text, "does not match")
    assert d.hint is not None and "axis: 0" in d.hint
    text = net(
        'layer { name: "s" type: "Scale" bottom: "x" bottom: "g" top: "y" axis: 2 }',
        shape=(),
        x=(2, 16, 8, 8),
        g=(2, 16),
    )
    assert_error(text, "does not match", at="2 }")


# ---- Softmax -------------------------------------------------------------------------------
# softmax_layer.cpp Reshape: softmax_axis_ = CanonicalAxisIndex(axis); top shaped like bottom.


@pytest.mark.parametrize(
    ("params", "shape"),
    [("", (2, 10)), ("axis: 1", (2, 21, 8, 8)), ("axis: -1", (2, 3, 7)), ("axis: 0", (5,))],
)
def test_softmax(params: str, shape: Shape) -> None:
    g = netc.load(one("Softmax", params, shape))
    assert g.tensor("l").shape == shape
    assert g.node("l").blobs == []


def test_softmax_axis_out_of_range() -> None:
    text = one("Softmax", "axis: 4", (2, 3, 4, 5))
    assert_error(text, "axis 4 is out of range", at="4 }")
    text = one("Softmax", "softmax_param { axis: -5 }", (2, 3, 4, 5))
    assert_error(text, "out of range", at="-5")


# ---- Concat --------------------------------------------------------------------------------
# concat_layer.cpp Reshape: concat_axis_ = has_concat_dim ? concat_dim
#   : CanonicalAxisIndex(axis) (default 1); all other axes must match ("All inputs must have
#   the same shape, except at concat_axis."); top[axis] = sum of bottoms' axis sizes.

CONCAT = [
    pytest.param("", [(2, 3, 8, 8), (2, 5, 8, 8)], (2, 3 + 5, 8, 8), id="channels"),
    pytest.param("axis: 0", [(2, 3, 8, 8), (4, 3, 8, 8)], (2 + 4, 3, 8, 8), id="axis-0"),
    pytest.param("axis: -1", [(2, 3, 4), (2, 3, 6), (2, 3, 1)], (2, 3, 4 + 6 + 1), id="axis--1"),
    pytest.param("concat_dim: 0", [(1, 3), (2, 3)], (1 + 2, 3), id="legacy-concat_dim"),
    pytest.param(
        "concat_dim: 2", [(1, 3, 4, 4), (1, 3, 2, 4)], (1, 3, 4 + 2, 4), id="concat_dim-2"
    ),
    pytest.param(
        "concat_param { axis: 1 }",
        [(2, 64, 28, 28), (2, 128, 28, 28), (2, 32, 28, 28)],
        (2, 64 + 128 + 32, 28, 28),
        id="inception",
    ),
    pytest.param("", [(2, 3, 8, 8)], (2, 3, 8, 8), id="one-bottom"),
]


@pytest.mark.parametrize(("params", "shapes", "expected"), CONCAT)
def test_concat(params: str, shapes: list[Shape], expected: Shape) -> None:
    names = [f"in{i}" for i in range(len(shapes))]
    bottoms = " ".join(f'bottom: "{n}"' for n in names)
    layer = f'layer {{ name: "c" type: "Concat" {bottoms} top: "c" {params} }}'
    g = netc.load(net(layer, shape=(), **dict(zip(names, shapes, strict=True))))
    assert g.tensor("c").shape == expected
    assert g.node("c").blobs == []


def test_concat_mismatch() -> None:
    text = net(
        'layer { name: "c" type: "Concat" bottom: "a" bottom: "b" top: "c" axis: 1 }',
        shape=(),
        a=(2, 3, 8, 8),
        b=(2, 5, 4, 4),
    )
    assert_error(text, "differ on axis 2", at="1 }")
    text = net(
        'layer { name: "c" type: "Concat" bottom: "a" bottom: "b" top: "c" }',
        shape=(),
        a=(2, 3, 8, 8),
        b=(2, 5, 8),
    )
    assert_error(text, "axes")


def test_concat_axis_and_concat_dim() -> None:
    text = net(
        'layer { name: "c" type: "Concat" bottom: "a" bottom: "b" top: "c" axis: 1 concat_dim: 1 }',
        shape=(),
        a=(2, 3, 8, 8),
        b=(2, 5, 8, 8),
    )
    assert_error(text, "concat_dim")


# ---- Eltwise -------------------------------------------------------------------------------
# eltwise_layer.cpp LayerSetUp: CHECK(coeff_size() == 0 || coeff_size() == bottom.size())
#   "Eltwise Layer takes one coefficient per bottom blob."; CHECK(!(op == PROD && coeff_size()))
#   "Eltwise layer only takes coefficients for summation."; Reshape: CHECK(bottom[i]->shape()
#   == bottom[0]->shape()); top->ReshapeLike(*bottom[0]). MinBottomBlobs() == 2.


def eltwise(params: str, *shapes: Shape) -> str:
    names = [f"in{i}" for i in range(len(shapes))]
    bottoms = " ".join(f'bottom: "{n}"' for n in names)
    layer = f'layer {{ name: "e" type: "Eltwise" {bottoms} top: "e" {params} }}'
    return net(layer, shape=(), **dict(zip(names, shapes, strict=True)))


@pytest.mark.parametrize(
    "params",
    [
        "",  # SUM is the default
        "operation: SUM",
        "operation: SUM coeff: 1 coeff: -1 coeff: 0.5",
        "operation: PROD",
        "operation: MAX",
        "eltwise_param { operation: SUM coeff: 2 coeff: 2 coeff: 2 }",
    ],
)
def test_eltwise(params: str) -> None:
    shape = (2, 64, 14, 14)
    g = netc.load(eltwise(params, shape, shape, shape))
    assert g.tensor("e").shape == shape
    assert g.node("e").blobs == []


def test_eltwise_errors() -> None:
    text = eltwise("", (2, 64, 14, 14), (2, 64, 7, 7))
    d = assert_error(text, "bottom 1 is 2×64×7×7")
    assert d.span is not None and d.span.line == where(text, "Eltwise")[0]
    text = eltwise("coeff: 1 coeff: 2 coeff: 3", (2, 4), (2, 4))
    assert_error(text, "3 coeff values for 2 bottoms", at="1 coeff")
    text = eltwise("operation: PROD coeff: 1 coeff: 2", (2, 4), (2, 4))
    # eltwise_layer.cpp LayerSetUp: CHECK(!(operation() == PROD && coeff_size()))
    assert_error(text, "coeff does not apply to PROD", at="1 coeff")
    assert_error(eltwise("", (2, 4)), "it takes 2 or more")


def test_eltwise_max_accepts_coeff() -> None:
    g = netc.load(eltwise("operation: MAX coeff: 1 coeff: 1", (2, 4), (2, 4)))
    assert g.tensor("e").shape == (2, 4)


# ---- Flatten -------------------------------------------------------------------------------
# flatten_layer.cpp Reshape: start = CanonicalAxisIndex(axis) (default 1), end =
#   CanonicalAxisIndex(end_axis) (default -1); top = bottom[:start] + (count(start, end + 1),)
#   + bottom[end + 1:].

FLATTEN = [
    pytest.param("", (2, 3, 4, 5), (2, 3 * 4 * 5), id="default"),
    pytest.param("axis: 2", (2, 3, 4, 5), (2, 3, 4 * 5), id="axis-2"),
    pytest.param("axis: 1 end_axis: 2", (2, 3, 4, 5), (2, 3 * 4, 5), id="end_axis-2"),
    pytest.param("axis: -2 end_axis: -1", (2, 3, 4, 5), (2, 3, 4 * 5), id="negative"),
    pytest.param("axis: 0", (2, 3, 4, 5), (2 * 3 * 4 * 5,), id="axis-0"),
    pytest.param("axis: 1 end_axis: 1", (2, 3, 4, 5), (2, 3, 4, 5), id="one-axis"),
    pytest.param("flatten_param { axis: 0 end_axis: 1 }", (2, 3, 4), (2 * 3, 4), id="nested"),
]


@pytest.mark.parametrize(("params", "shape", "expected"), FLATTEN)
def test_flatten(params: str, shape: Shape, expected: Shape) -> None:
    assert out_shape("Flatten", params, shape) == expected


def test_flatten_errors() -> None:
    assert_error(one("Flatten", "axis: 2 end_axis: 1", (2, 3, 4, 5)), "end_axis", at="1 }")
    assert_error(one("Flatten", "end_axis: 4", (2, 3, 4, 5)), "out of range", at="4 }")


def test_flatten_in_place_rejected() -> None:
    text = net('layer { name: "f" type: "Flatten" bottom: "data" top: "data" }')
    assert_error(text, "cannot run in place")


# ---- Reshape -------------------------------------------------------------------------------
# reshape_layer.cpp: start = axis >= 0 ? axis : num_axes + axis + 1; end = num_axes == -1 ?
#   num_axes(bottom) : start + num_axes; the dims of `shape` replace bottom[start:end];
#   0 copies bottom axis (start + i), a single -1 is inferred from the element count.
#   caffe.proto ReshapeParameter documents the 2×8 examples used below.

RESHAPE = [
    pytest.param("shape { dim: 0 dim: -1 }", (2, 3, 4, 5), (2, 3 * 4 * 5), id="0-and-infer"),
    pytest.param("shape { dim: 0 dim: 0 dim: -1 }", (2, 3, 4, 5), (2, 3, 4 * 5), id="0-0-infer"),
    pytest.param("shape { dim: -1 }", (2, 3, 4, 5), (2 * 3 * 4 * 5,), id="infer-all"),
    pytest.param(
        "shape { dim: 2 dim: -1 dim: 5 }", (2, 3, 4, 5), (2, 120 // (2 * 5), 5), id="infer-middle"
    ),
    pytest.param("shape { dim: 6 dim: 20 }", (2, 3, 4, 5), (6, 20), id="explicit"),
    # caffe.proto: 2×8 -> 2×2×4
    pytest.param("shape { dim: 2 dim: 2 dim: 4 }", (2, 8), (2, 2, 4), id="proto-2x2x4"),
    pytest.param(
        "shape { dim: 0 dim: 2 dim: -1 }", (2, 8), (2, 2, 16 // (2 * 2)), id="proto-0-2-infer"
    ),
    pytest.param("shape { dim: 2 dim: 4 } axis: 1", (2, 8), (2, 2, 4), id="proto-axis-1"),
    pytest.param("shape { dim: 2 dim: 4 } axis: -2", (2, 8), (2, 2, 4), id="axis--2"),
    # caffe.proto: 2×8 -> 1×2×8
    pytest.param("shape { dim: 1 dim: 2 } num_axes: 1", (2, 8), (1, 2, 8), id="proto-num_axes-1"),
    pytest.param("shape { dim: 1 } num_axes: 0", (2, 8), (1, 2, 8), id="proto-num_axes-0"),
    # caffe.proto: 2×8 -> 2×1×8
    pytest.param("shape { dim: 1 } axis: 1 num_axes: 0", (2, 8), (2, 1, 8), id="proto-insert"),
    # axis -1 starts after the last axis: start = 2 + (-1) + 1 = 2
    pytest.param("shape { dim: 1 } axis: -1", (2, 8), (2, 8, 1), id="append"),
    pytest.param(
        "reshape_param { shape { dim: 0 dim: 0 dim: 1 dim: 1 } }",
        (4, 10),
        (4, 10, 1, 1),
        id="nested",
    ),
]


@pytest.mark.parametrize(("params", "shape", "expected"), RESHAPE)
def test_reshape(params: str, shape: Shape, expected: Shape) -> None:
    assert math.prod(expected) == math.prod(shape)
    g = netc.load(one("Reshape", params, shape))
    assert g.tensor("l").shape == expected
    assert g.node("l").blobs == []


RESHAPE_ERRORS = [
    # reshape_layer.cpp LayerSetUp: "new shape contains multiple -1 dims"
    pytest.param(
        "shape { dim: -1 dim: -1 }",
        (2, 3),
        "at most one dimension may be -1",
        "shape {",
        id="two-infer",
    ),
    # "bottom count (120) must be divisible by the product of the specified dimensions (7)"
    pytest.param(
        "shape { dim: 7 dim: -1 }", (2, 3, 4, 5), "cannot infer", "shape {", id="indivisible"
    ),
    # "output count must match input count"
    pytest.param(
        "shape { dim: 2 dim: 3 }", (2, 3, 4, 5), "(6 elements) from", "shape {", id="count"
    ),
    # "new shape contains a 0, but there was no corresponding bottom axis to copy"
    pytest.param(
        "shape { dim: 0 dim: 0 dim: 0 }", (6, 4), "0 (copy axis 2)", "shape {", id="copy-missing"
    ),
    pytest.param("shape { dim: -2 dim: 3 }", (2, 3), "invalid", "shape {", id="negative-dim"),
    # "axis ... out of range for 2-D input blob"
    pytest.param("shape { dim: 6 } axis: 3", (2, 3), "axis 3 is out of range", "3 }", id="axis"),
    # "num_axes must be >= 0, or -1 for all" / "end_axis = axis + num_axes is out of range"
    pytest.param("shape { dim: 6 } num_axes: 3", (2, 3), "num_axes 3", "3 }", id="num_axes"),
    pytest.param("shape { dim: 6 } num_axes: -2", (2, 3), "num_axes -2", "-2", id="num_axes-neg"),
]


@pytest.mark.parametrize(("params", "shape", "message", "at"), RESHAPE_ERRORS)
def test_reshape_errors(params: str, shape: Shape, message: str, at: str) -> None:
    assert_error(one("Reshape", params, shape), message, at=at)


def test_reshape_copy_outside_replaced_axes() -> None:
    # start 1, num_axes 0: top = (2, [dim 0], 1, 4); the 0 copies bottom axis 1 + 0 = 1 (size 1)
    g = netc.load(one("Reshape", "shape { dim: 0 } axis: 1 num_axes: 0", (2, 1, 4)))
    assert g.tensor("l").shape == (2, 1, 1, 4)


# ---- Slice ---------------------------------------------------------------------------------
# slice_layer.cpp Reshape: axis = has_slice_dim ? slice_dim : CanonicalAxisIndex(axis)
#   (default 1); with slice_point: CHECK_EQ(slice_point_.size(), top.size() - 1), each
#   CHECK_GT(slice_point_[i], prev), sizes = differences; without: CHECK_EQ(size % top.size(),
#   0) and an even split.


def slice_net(params: str, shape: Shape, n_tops: int) -> str:
    tops = " ".join(f'top: "s{i}"' for i in range(n_tops))
    return net(f'layer {{ name: "s" type: "Slice" {tops} {params} }}', shape=shape)


SLICE = [
    pytest.param(
        "slice_point: 2 slice_point: 5",
        (2, 6, 8, 8),
        3,
        [(2, 2 - 0, 8, 8), (2, 5 - 2, 8, 8), (2, 6 - 5, 8, 8)],
        id="points",
    ),
    pytest.param("", (2, 6, 8, 8), 3, [(2, 6 // 3, 8, 8)] * 3, id="even"),
    pytest.param("axis: 0", (4, 3), 2, [(4 // 2, 3)] * 2, id="axis-0-even"),
    pytest.param(
        "axis: -1 slice_point: 1", (2, 3, 10), 2, [(2, 3, 1), (2, 3, 10 - 1)], id="axis--1"
    ),
    pytest.param(
        "slice_dim: 2 slice_point: 3",
        (1, 2, 8, 4),
        2,
        [(1, 2, 3, 4), (1, 2, 8 - 3, 4)],
        id="legacy-slice_dim",
    ),
    pytest.param(
        "slice_param { axis: 1 slice_point: 1 }", (5, 2), 2, [(5, 1), (5, 1)], id="nested"
    ),
    pytest.param("", (2, 6), 1, [(2, 6)], id="one-top"),
]


@pytest.mark.parametrize(("params", "shape", "n_tops", "expected"), SLICE)
def test_slice(params: str, shape: Shape, n_tops: int, expected: list[Shape]) -> None:
    g = netc.load(slice_net(params, shape, n_tops))
    assert [g.tensor(f"s{i}").shape for i in range(n_tops)] == expected
    assert g.node("s").blobs == []


SLICE_ERRORS = [
    pytest.param("slice_point: 2", (2, 6), 3, "1 slice_point values for 3 tops", "2 }", id="count"),
    pytest.param(
        "slice_point: 4 slice_point: 2", (2, 6), 3, "must increase", "4 slice", id="order"
    ),
    pytest.param("", (2, 7), 2, "does not split evenly", None, id="uneven"),
    pytest.param("axis: 2", (2, 6), 2, "axis 2 is out of range", "2 }", id="axis"),
]


@pytest.mark.parametrize(("params", "shape", "n_tops", "message", "at"), SLICE_ERRORS)
def test_slice_errors(params: str, shape: Shape, n_tops: int, message: str, at: str | None) -> None:
    assert_error(slice_net(params, shape, n_tops), message, at=at)


def test_slice_axis_and_slice_dim() -> None:
    assert_error(slice_net("axis: 1 slice_dim: 1", (2, 6), 2), "slice_dim")


# ---- Split ---------------------------------------------------------------------------------
# split_layer.cpp Reshape: every top is ReshapeLike(*bottom[0]).


def test_split() -> None:
    g = netc.load(
        net('layer { name: "sp" type: "Split" top: "a" top: "b" top: "c" }', shape=(2, 5, 3))
    )
    assert [g.tensor(t).shape for t in "abc"] == [(2, 5, 3)] * 3


# ---- data layers ---------------------------------------------------------------------------


def test_input_layer_one_shape_for_several_tops() -> None:
    # input_layer.cpp LayerSetUp: CHECK(num_shape == 0 || num_shape == 1 || num_shape ==
    #   num_top); with one shape every top gets it (shape_index = num_shape == 1 ? 0 : i)
    g = netc.load(
        'layer { name: "in" type: "Input" top: "a" top: "b"'
        " input_param { shape { dim: 1 dim: 3 dim: 4 dim: 4 } } }\n"
    )
    assert g.tensor("a").shape == g.tensor("b").shape == (1, 3, 4, 4)
    assert set(g.inputs) == {"a", "b"}


def test_input_layer_one_shape_per_top() -> None:
    g = netc.load(
        'layer { name: "in" type: "Input" top: "a" top: "b"'
        " input_param { shape { dim: 1 dim: 3 } shape { dim: 1 } } }\n"
    )
    assert (g.tensor("a").shape, g.tensor("b").shape) == ((1, 3), (1,))


def test_input_layer_errors() -> None:
    text = (
        'layer { name: "in" type: "Input" top: "a" top: "b" top: "c"'
        " input_param { shape { dim: 1 } shape { dim: 2 } } }\n"
    )
    assert_error(text, "2 shapes for 3 tops", at="shape {")
    assert_error('layer { name: "in" type: "Input" top: "a" }\n', "Input needs a shape")


def test_header_inputs() -> None:
    # legacy input_dim (4 per input) and input_shape
    g = netc.load('input: "data" input_dim: 10 input_dim: 3 input_dim: 227 input_dim: 227\n')
    assert g.tensor("data").shape == (10, 3, 227, 227)
    g = netc.load(net(shape=(1, 2), extra=(3,)))
    assert (g.tensor("data").shape, g.tensor("extra").shape) == ((1, 2), (3,))


# data_layer.cpp DataLayerSetUp: top_shape = data_transformer_->InferBlobShape(datum) (crop_size
#   -> crop×crop); top_shape[0] = batch_size; label_shape = (batch_size,). The channel count is
#   in the database, so netc assumes 3 (or its `channels` extension).


def test_data_layer() -> None:
    g = netc.load(
        'layer { name: "d" type: "Data" top: "data" top: "label"'
        " data_param { source: 'x' batch_size: 64 backend: LMDB }"
        " transform_param { crop_size: 227 mirror: true } }\n"
    )
    assert g.tensor("data").shape == (64, 3, 227, 227)
    assert g.tensor("label").shape == (64,)
    assert set(g.inputs) == {"data", "label"}


def test_data_layer_one_top_and_channels() -> None:
    g = netc.load(
        'layer { name: "d" type: "Data" top: "data" channels: 1'
        " data_param { batch_size: 100 } transform_param { crop_size: 28 } }\n"
    )
    assert g.tensor("data").shape == (100, 1, 28, 28)
    assert len(g.node("d").outputs) == 1


def test_v1_data_crop_size_in_data_param() -> None:
    g = netc.load(
        'layers { name: "d" type: DATA top: "data" top: "label"'
        " data_param { source: 'x' batch_size: 64 crop_size: 227 } }\n"
    )
    assert g.tensor("data").shape == (64, 3, 227, 227)


def test_data_layer_needs_crop_size() -> None:
    text = 'layer { name: "d" type: "Data" top: "data" data_param { batch_size: 64 } }\n'
    assert_error(text, "image size of a Data layer")


# image_data_layer.cpp DataLayerSetUp: cv_img = ReadImageToCVMat(..., new_height, new_width,
#   is_color) -> channels 3 or 1; InferBlobShape(cv_img) (crop_size wins); batch_size default 1.


@pytest.mark.parametrize(
    ("params", "data", "label"),
    [
        pytest.param(
            "image_data_param { batch_size: 32 new_height: 256 new_width: 200 }",
            (32, 3, 256, 200),
            (32,),
            id="resize",
        ),
        pytest.param(
            "image_data_param { batch_size: 8 new_height: 64 new_width: 64 is_color: false }",
            (8, 1, 64, 64),
            (8,),
            id="grey",
        ),
        pytest.param(
            "image_data_param { batch_size: 4 new_height: 256 new_width: 256 }"
            " transform_param { crop_size: 227 }",
            (4, 3, 227, 227),
            (4,),
            id="crop",
        ),
        pytest.param(
            "image_data_param { new_height: 10 new_width: 12 }",
            (1, 3, 10, 12),
            (1,),
            id="default-batch-1",
        ),
    ],
)
def test_image_data(params: str, data: Shape, label: Shape) -> None:
    g = netc.load(f'layer {{ name: "d" type: "ImageData" top: "data" top: "label" {params} }}\n')
    assert g.tensor("data").shape == data
    assert g.tensor("label").shape == label


def test_memory_data() -> None:
    # memory_data_layer.cpp DataLayerSetUp: top[0] = (batch_size, channels, height, width),
    #   top[1] = (batch_size,)
    g = netc.load(
        'layer { name: "d" type: "MemoryData" top: "data" top: "label"'
        " memory_data_param { batch_size: 10 channels: 1 height: 28 width: 24 } }\n"
    )
    assert g.tensor("data").shape == (10, 1, 28, 24)
    assert g.tensor("label").shape == (10,)


def test_window_data() -> None:
    g = netc.load(
        'layer { name: "d" type: "WindowData" top: "data" top: "label"'
        " window_data_param { batch_size: 128 } transform_param { crop_size: 227 } }\n"
    )
    assert g.tensor("data").shape == (128, 3, 227, 227)
    assert g.tensor("label").shape == (128,)


@pytest.mark.parametrize(
    ("params", "tops", "expected"),
    [
        pytest.param("shape { dim: 4 dim: 3 dim: 8 dim: 8 }", 1, [(4, 3, 8, 8)], id="one"),
        # dummy_data_layer.cpp: shape given once applies to every top
        pytest.param("shape { dim: 4 dim: 3 }", 2, [(4, 3), (4, 3)], id="shared-shape"),
        pytest.param(
            "shape { dim: 4 dim: 3 } shape { dim: 4 }", 2, [(4, 3), (4,)], id="shape-per-top"
        ),
        # legacy num/channels/height/width, each given once or once per top
        pytest.param("num: 2 channels: 3 height: 4 width: 5", 1, [(2, 3, 4, 5)], id="legacy"),
        pytest.param(
            "num: 2 channels: 3 channels: 1 height: 4 width: 5",
            2,
            [(2, 3, 4, 5), (2, 1, 4, 5)],
            id="legacy-per-top",
        ),
    ],
)
def test_dummy_data(params: str, tops: int, expected: list[Shape]) -> None:
    names = " ".join(f'top: "t{i}"' for i in range(tops))
    g = netc.load(
        f'layer {{ name: "d" type: "DummyData" {names} dummy_data_param {{ {params} }} }}\n'
    )
    assert [g.tensor(f"t{i}").shape for i in range(tops)] == expected


def test_hdf5_data_shapes_are_not_in_the_prototxt() -> None:
    text = (
        'layer { name: "h" type: "HDF5Data" top: "data" top: "label"'
        " hdf5_data_param { source: 'list.txt' batch_size: 2 } }\n"
    )
    assert_error(text, "HDF5Data")


# ---- losses, metrics, Silence --------------------------------------------------------------
# loss_layer.cpp LossLayer::Reshape: vector<int> loss_shape(0) -> the loss is a scalar, shape ().
# softmax_loss_layer.cpp Reshape: CHECK_EQ(outer_num_ * inner_num_, bottom[1]->count())
#   "Number of labels must match number of predictions"; top[1] (prob) ReshapeLike(*bottom[0]).
# accuracy_layer.cpp Reshape: top[0] scalar; top[1] = (bottom[0]->shape(label_axis_),).


def scores_net(*layers: str, scores: Shape = (2, 10), labels: Shape = (2,)) -> str:
    return net(*layers, shape=(), x=scores, label=labels)


def test_softmax_with_loss() -> None:
    g = netc.load(
        scores_net('layer { name: "loss" type: "SoftmaxWithLoss" bottom: "x" bottom: "label" }')
    )
    assert g.tensor("loss").shape == ()
    assert g.tensor("loss").size == 1
    assert g.node("loss").layer.training_only
    g = netc.load(
        scores_net(
            'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "x" bottom: "label"'
            ' top: "loss" top: "prob" }'
        )
    )
    assert (g.tensor("loss").shape, g.tensor("prob").shape) == ((), (2, 10))


def test_softmax_with_loss_spatial_labels() -> None:
    # segmentation: scores N×C×H×W, labels N×1×H×W (N*H*W labels)
    g = netc.load(
        scores_net(
            'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "x" bottom: "label" }',
            scores=(2, 21, 8, 8),
            labels=(2, 1, 8, 8),
        )
    )
    assert g.tensor("loss").shape == ()


def test_softmax_with_loss_label_mismatch() -> None:
    text = scores_net(
        'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "x" bottom: "label" }',
        labels=(3,),
    )
    assert_error(text, "labels 3 do not match scores 2×10")


def test_accuracy() -> None:
    g = netc.load(
        scores_net('layer { name: "acc" type: "Accuracy" bottom: "x" bottom: "label" top: "acc" }')
    )
    assert g.tensor("acc").shape == ()
    assert g.node("acc").layer.training_only
    g = netc.load(
        scores_net(
            'layer { name: "acc" type: "Accuracy" bottom: "x" bottom: "label"'
            ' top: "acc" top: "per_class" accuracy_param { top_k: 5 } }'
        )
    )
    assert (g.tensor("acc").shape, g.tensor("per_class").shape) == ((), (10,))


def test_accuracy_label_mismatch() -> None:
    text = scores_net(
        'layer { name: "acc" type: "Accuracy" bottom: "x" bottom: "label" top: "acc" }',
        labels=(3,),
    )
    assert_error(text, "label")


@pytest.mark.parametrize(
    ("type_", "bottoms"),
    [
        ("EuclideanLoss", [(4, 3), (4, 3)]),
        ("SigmoidCrossEntropyLoss", [(4, 3), (4, 3)]),
        ("HingeLoss", [(4, 10), (4,)]),
        ("InfogainLoss", [(4, 10), (4,)]),
        ("MultinomialLogisticLoss", [(4, 10), (4,)]),
        ("ContrastiveLoss", [(4, 8), (4, 8), (4,)]),
    ],
)
def test_losses_are_scalars(type_: str, bottoms: list[Shape]) -> None:
    names = [f"b{i}" for i in range(len(bottoms))]
    refs = " ".join(f'bottom: "{n}"' for n in names)
    g = netc.load(
        net(
            f'layer {{ name: "loss" type: "{type_}" {refs} }}',
            shape=(),
            **dict(zip(names, bottoms, strict=True)),
        )
    )
    assert g.tensor("loss").shape == ()
    assert g.node("loss").layer.training_only
    assert g.node("loss").blobs == []


def test_silence() -> None:
    # silence_layer.hpp: MinBottomBlobs 1, ExactNumTopBlobs 0
    g = netc.load(
        net(
            'layer { name: "sp" type: "Split" top: "a" top: "b" }',
            'layer { name: "sil" type: "Silence" bottom: "b" }',
            shape=(2, 3),
        )
    )
    assert g.node("sil").outputs == []
    assert g.node("sil").layer.training_only
    assert "b" not in [g.tensors[t].blob for t in g.outputs]


# ---- learning-rate and decay multipliers ---------------------------------------------------
# upgrade_proto.cpp UpgradeV1LayerParameter: blobs_lr(i) -> param(i).lr_mult, weight_decay(i)
#   -> param(i).decay_mult. net.cpp: a blob without a ParamSpec keeps lr_mult = decay_mult = 1.

V1 = """input: "data"
input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8
layers {
  name: "conv1" type: CONVOLUTION bottom: "data" top: "conv1"
  blobs_lr: 1 blobs_lr: 2 weight_decay: 1 weight_decay: 0
  convolution_param { num_output: 4 kernel_size: 3 }
}
layers { name: "relu1" type: RELU bottom: "conv1" top: "conv1" }
layers { name: "pool1" type: POOLING bottom: "conv1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layers { name: "fc" type: INNER_PRODUCT bottom: "pool1" top: "fc"
  inner_product_param { num_output: 10 } }
"""


def test_v1_layers() -> None:
    g = netc.load(V1)
    conv = (1, 4, (8 - 3) // 1 + 1, (8 - 3) // 1 + 1)
    assert g.tensor("conv1").shape == conv
    assert g.node("relu1").in_place
    pool = (1, 4, *caffe_pool((conv[2], conv[3]), (2, 2), stride=(2, 2)))
    assert g.tensor("pool1").shape == pool
    assert g.tensor("fc").shape == (1, 10)
    assert blob_shapes(g, "fc") == {"weight": (10, math.prod(pool[1:])), "bias": (10,)}
    weight, bias = g.node("conv1").blobs
    assert (weight.lr_mult, weight.decay_mult) == (1.0, 1.0)
    assert (bias.lr_mult, bias.decay_mult) == (2.0, 0.0)
    assert [g.node(n).type for n in ("conv1", "relu1", "pool1", "fc")] == [
        "Convolution",
        "ReLU",
        "Pooling",
        "InnerProduct",
    ]


def test_v1_type_in_a_layer_is_an_error() -> None:
    text = net('layer { name: "c" type: CONVOLUTION num_output: 4 kernel_size: 3 }')
    d = assert_error(text, "legacy V1 spelling", at="CONVOLUTION")
    assert d.hint is not None and '"Convolution"' in d.hint


def test_param_multipliers() -> None:
    g = netc.load(
        one(
            "Convolution",
            "num_output: 8 kernel_size: 3 param { lr_mult: 1 decay_mult: 1 }"
            " param { lr_mult: 2 decay_mult: 0 }",
        )
    )
    weight, bias = g.node("l").blobs
    assert (weight.lr_mult, weight.decay_mult, bias.lr_mult, bias.decay_mult) == (1, 1, 2, 0)


def test_lr_mult_zero_freezes_a_blob() -> None:
    g = netc.load(one("Convolution", "num_output: 8 kernel_size: 3 param { lr_mult: 0 }"))
    weight, bias = g.node("l").blobs
    assert weight.lr_mult == 0 and not weight.trainable
    assert bias.lr_mult == 1 and bias.trainable  # no ParamSpec: the default multiplier
    assert g.trainable_count() == 8  # only the bias
    assert g.params_count() == 8 * 3 * 3 * 3 + 8  # frozen weights still count as parameters


def test_too_many_param_specs() -> None:
    # net.cpp Init: CHECK_LE(param_size, num_param_blobs) "Too many params specified for layer"
    text = one(
        "InnerProduct",
        "num_output: 2 bias_term: false param { lr_mult: 1 } param { lr_mult: 2 }",
        (1, 4),
    )
    assert_error(text, "2 param specs for 1 blobs", at="param {")


# ---- phases --------------------------------------------------------------------------------
# net.cpp FilterNet / StateMeetsRule: a layer with `include` rules is kept if one matches; one
#   with `exclude` rules is dropped if one matches.

PHASES = """
layer { name: "train_data" type: "Data" top: "data" top: "label"
  include { phase: TRAIN }
  data_param { batch_size: 64 } transform_param { crop_size: 28 } }
layer { name: "test_data" type: "Data" top: "data" top: "label"
  include { phase: TEST }
  data_param { batch_size: 100 } transform_param { crop_size: 28 } }
layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" num_output: 10 }
layer { name: "drop" type: "Dropout" bottom: "fc" top: "fc" exclude { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
layer { name: "acc" type: "Accuracy" bottom: "fc" bottom: "label" top: "acc"
  include { phase: TEST } }
"""


@pytest.mark.parametrize(
    ("phase", "batch", "nodes"),
    [
        ("TRAIN", 64, ["train_data", "fc", "drop", "loss"]),
        ("TEST", 100, ["test_data", "fc", "loss", "acc"]),
        ("test", 100, ["test_data", "fc", "loss", "acc"]),
    ],
)
def test_phases(phase: str, batch: int, nodes: list[str]) -> None:
    g = netc.load(PHASES, phase=phase)
    assert [n.name for n in g] == nodes
    assert g.phase == phase.upper()
    assert g.tensor("data").shape == (batch, 3, 28, 28)
    assert g.tensor("fc").shape == (batch, 10)
    assert g.tensor("loss").shape == ()


def test_default_phase_is_test() -> None:
    assert netc.load(PHASES).nodes[0].name == "test_data"


# ---- the registry --------------------------------------------------------------------------

FAMILIES = {"conv", "pool", "norm", "act", "fc", "merge", "input", "loss", "reshape", "dropout"}

#: One smallest working (or, for HDF5Data, deliberately failing) use of every layer type, so a
#: newly registered type without a test fails `test_every_type_is_covered`. Each entry is
#: (prototxt, the tensor to check, its expected shape); a shape of None means "must not load".
COVERED: dict[str, tuple[str, str, Shape | None]] = {
    "ReLU": (one("ReLU", "", (2, 3)), "l", (2, 3)),
    "PReLU": (one("PReLU", "", (2, 3)), "l", (2, 3)),
    "Sigmoid": (one("Sigmoid", "", (2, 3)), "l", (2, 3)),
    "TanH": (one("TanH", "", (2, 3)), "l", (2, 3)),
    "ELU": (one("ELU", "", (2, 3)), "l", (2, 3)),
    "AbsVal": (one("AbsVal", "", (2, 3)), "l", (2, 3)),
    "BNLL": (one("BNLL", "", (2, 3)), "l", (2, 3)),
    "Power": (one("Power", "", (2, 3)), "l", (2, 3)),
    "Exp": (one("Exp", "", (2, 3)), "l", (2, 3)),
    "Log": (one("Log", "", (2, 3)), "l", (2, 3)),
    "Threshold": (one("Threshold", "", (2, 3)), "l", (2, 3)),
    "Clip": (one("Clip", "min: -1 max: 1", (2, 3)), "l", (2, 3)),
    "Swish": (one("Swish", "", (2, 3)), "l", (2, 3)),
    "Dropout": (one("Dropout", "", (2, 3)), "l", (2, 3)),
    "Softmax": (one("Softmax", "", (2, 3)), "l", (2, 3)),
    "Convolution": (
        one("Convolution", "num_output: 2 kernel_size: 1", (1, 3, 4, 4)),
        "l",
        (1, 2, 4, 4),
    ),
    "Deconvolution": (
        one("Deconvolution", "num_output: 2 kernel_size: 2 stride: 2", (1, 3, 4, 4)),
        "l",
        (1, 2, 2 * (4 - 1) + 2, 2 * (4 - 1) + 2),
    ),
    "InnerProduct": (one("InnerProduct", "num_output: 5", (2, 3)), "l", (2, 5)),
    "Input": ('layer { name: "in" type: "Input" top: "x" shape { dim: 2 } }\n', "x", (2,)),
    "Data": (
        'layer { name: "d" type: "Data" top: "x" batch_size: 2 transform_param { crop_size: 4 } }\n',
        "x",
        (2, 3, 4, 4),
    ),
    "ImageData": (
        'layer { name: "d" type: "ImageData" top: "x" new_height: 4 new_width: 5 }\n',
        "x",
        (1, 3, 4, 5),
    ),
    "WindowData": (
        'layer { name: "d" type: "WindowData" top: "x" batch_size: 2 transform_param { crop_size: 4 } }\n',
        "x",
        (2, 3, 4, 4),
    ),
    "MemoryData": (
        'layer { name: "d" type: "MemoryData" top: "x" batch_size: 2 channels: 1 height: 3 width: 4 }\n',
        "x",
        (2, 1, 3, 4),
    ),
    "DummyData": ('layer { name: "d" type: "DummyData" top: "x" shape { dim: 7 } }\n', "x", (7,)),
    "HDF5Data": (
        'layer { name: "d" type: "HDF5Data" top: "x" source: "f" batch_size: 2 }\n',
        "x",
        None,
    ),
    "SoftmaxWithLoss": (
        scores_net('layer { name: "l" type: "SoftmaxWithLoss" bottom: "x" bottom: "label" }'),
        "l",
        (),
    ),
    "EuclideanLoss": (
        scores_net('layer { name: "l" type: "EuclideanLoss" bottom: "x" bottom: "x" }'),
        "l",
        (),
    ),
    "SigmoidCrossEntropyLoss": (
        scores_net('layer { name: "l" type: "SigmoidCrossEntropyLoss" bottom: "x" bottom: "x" }'),
        "l",
        (),
    ),
    "HingeLoss": (
        scores_net('layer { name: "l" type: "HingeLoss" bottom: "x" bottom: "label" }'),
        "l",
        (),
    ),
    "InfogainLoss": (
        scores_net('layer { name: "l" type: "InfogainLoss" bottom: "x" bottom: "label" }'),
        "l",
        (),
    ),
    "MultinomialLogisticLoss": (
        scores_net(
            'layer { name: "l" type: "MultinomialLogisticLoss" bottom: "x" bottom: "label" }'
        ),
        "l",
        (),
    ),
    "ContrastiveLoss": (
        scores_net(
            'layer { name: "l" type: "ContrastiveLoss" bottom: "x" bottom: "x" bottom: "label" }'
        ),
        "l",
        (),
    ),
    "Accuracy": (
        scores_net('layer { name: "l" type: "Accuracy" bottom: "x" bottom: "label" }'),
        "l",
        (),
    ),
    "Silence": (scores_net('layer { name: "s" type: "Silence" bottom: "x" }'), "x", (2, 10)),
    "Concat": (
        net('layer { name: "l" type: "Concat" bottom: "data" bottom: "data" }', shape=(2, 3)),
        "l",
        (2, 3 + 3),
    ),
    "Eltwise": (
        net('layer { name: "l" type: "Eltwise" bottom: "data" bottom: "data" }', shape=(2, 3)),
        "l",
        (2, 3),
    ),
    "LRN": (one("LRN", "", (1, 8, 4, 4)), "l", (1, 8, 4, 4)),
    "BatchNorm": (one("BatchNorm", "", (2, 3)), "l", (2, 3)),
    "MVN": (one("MVN", "", (2, 3, 4, 4)), "l", (2, 3, 4, 4)),
    "Pooling": (one("Pooling", "kernel_size: 2 stride: 2", (1, 3, 4, 4)), "l", (1, 3, 2, 2)),
    "Flatten": (one("Flatten", "", (2, 3, 4)), "l", (2, 3 * 4)),
    "Reshape": (one("Reshape", "shape { dim: -1 }", (2, 3)), "l", (2 * 3,)),
    "Slice": (one("Slice", "", (2, 4)), "l", (2, 4)),
    "Split": (one("Split", "", (2, 4)), "l", (2, 4)),
    "BN": (one("BN", "", (1, 3, 4, 4)), "l", (1, 3, 4, 4)),
    "Normalize": (one("Normalize", "", (1, 3, 4, 4)), "l", (1, 3, 4, 4)),
    "Permute": (
        one("Permute", "order: 0 order: 2 order: 3 order: 1", (1, 3, 4, 5)),
        "l",
        (1, 4, 5, 3),
    ),
    "PriorBox": (
        net(
            'layer { name: "l" type: "PriorBox" bottom: "data" bottom: "data" min_size: 2 }',
            shape=(1, 3, 4, 5),
        ),
        "l",
        (1, 2, 4 * 5 * 1 * 4),
    ),
    "ArgMax": (one("ArgMax", "top_k: 2", (2, 3, 4, 4)), "l", (2, 1, 2, 1)),
    "Tile": (one("Tile", "axis: 1 tiles: 2", (1, 3, 4, 4)), "l", (1, 6, 4, 4)),
    "Reduction": (one("Reduction", "axis: 1", (2, 3, 4)), "l", (2,)),
    "ShuffleChannel": (one("ShuffleChannel", "group: 3", (1, 6, 4, 4)), "l", (1, 6, 4, 4)),
    "ConvolutionDepthwise": (
        one("ConvolutionDepthwise", "num_output: 6 kernel_size: 3", (1, 3, 8, 8)),
        "l",
        (1, 6, 6, 6),
    ),
    "Axpy": (
        net(
            'layer { name: "p" type: "Pooling" bottom: "data" pool: AVE global_pooling: true }\n'
            'layer { name: "l" type: "Axpy" bottom: "p" bottom: "data" bottom: "data" }',
            shape=(1, 3, 4, 4),
        ),
        "l",
        (1, 3, 4, 4),
    ),
    "Interp": (one("Interp", "zoom_factor: 2", (1, 3, 4, 4)), "l", (1, 3, 7, 7)),
    "Crop": (
        net('layer { name: "l" type: "Crop" bottom: "data" bottom: "data" }', shape=(1, 3, 4, 4)),
        "l",
        (1, 3, 4, 4),
    ),
    "Scale": (one("Scale", "", (2, 4)), "l", (2, 4)),
    "Bias": (one("Bias", "", (2, 4)), "l", (2, 4)),
}


@pytest.mark.parametrize("type_", sorted(COVERED))
def test_every_type_smoke(type_: str) -> None:
    text, tensor, expected = COVERED[type_]
    assert f'type: "{type_}"' in text
    if expected is None:
        assert_error(text, type_)
        return
    g = netc.load(text)
    assert g.tensor(tensor).shape == expected
    assert type_ in {n.type for n in g}


def test_every_type_is_covered() -> None:
    registered = set(all_types())
    missing = sorted(registered - set(COVERED))
    assert not missing, f"layer types without a test in tests/test_layers.py: {missing}"
    stale = sorted(set(COVERED) - registered)
    assert not stale, f"COVERED names types that are not registered: {stale}"


@pytest.mark.parametrize("type_", sorted(all_types()))
def test_every_type_has_family_and_stem(type_: str) -> None:
    layer = all_types()[type_]
    assert layer.type == type_
    assert layer.family in FAMILIES, f"{type_}: family {layer.family!r}"
    assert re.fullmatch(r"[a-z][a-z0-9_]*", layer.stem), f"{type_}: stem {layer.stem!r}"
    low, high = layer.bottoms
    assert low >= 0 and (high is None or high >= low)
    low, high = layer.tops
    assert low >= 0 and (high is None or high >= low)


def test_v1_aliases_resolve() -> None:
    # every alias names the same type object as its canonical name
    from netc.layers.base import lookup

    for name, layer in all_types().items():
        assert lookup(name) is layer
        for alias in layer.aliases:
            assert lookup(alias) is layer, alias


def test_a_layer_type_without_a_cost_rule_is_refused_at_registration() -> None:
    # issue 4: "a missing cost rule fails the build of the registry, not a silent zero"
    from netc.layers.base import LayerType, register

    class Uncounted(LayerType):
        type = "Uncounted"

        def shapes(self, ctx: object, inputs: object, n_tops: int) -> list[tuple[int, ...]]:
            return []

    with pytest.raises(TypeError, match="has no cost rule"):
        register(Uncounted)
    assert netc.layers.base.lookup("Uncounted") is None
