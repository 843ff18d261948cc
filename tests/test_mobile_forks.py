"""The SENet and ShuffleNet releases' fork layers: Axpy, ShuffleChannel, ConvolutionDepthwise.
Shapes, parameters and costs, and forward in torch and ONNX against OpenCV's Caffe importer
where it reads the type, the fork's own formula otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from backend_outputs import torch_and_onnx
from caffemodel_writer import caffemodel

import netc
from netc.analysis.core import analyze

cv2 = pytest.importorskip("cv2")
torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("scale_shape", [(2, 4), (2, 4, 1, 1)])
def test_axpy_is_scale_times_x_plus_y(scale_shape: tuple[int, ...]) -> None:
    dims = lambda s: " ".join(f"dim: {d}" for d in s)  # noqa: E731
    text = (
        f'input: "a" input_shape {{ {dims(scale_shape)} }}\n'
        'input: "x" input_shape { dim: 2 dim: 4 dim: 3 dim: 5 }\n'
        'input: "y" input_shape { dim: 2 dim: 4 dim: 3 dim: 5 }\n'
        'layer { name: "axpy" type: "Axpy" bottom: "a" bottom: "x" bottom: "y" top: "out" }\n'
    )
    graph = netc.load(text)
    assert graph.tensor("out").shape == (2, 4, 3, 5)
    rng = np.random.default_rng(4)
    feeds = {
        "a": rng.standard_normal(scale_shape).astype(np.float32),
        "x": rng.standard_normal((2, 4, 3, 5)).astype(np.float32),
        "y": rng.standard_normal((2, 4, 3, 5)).astype(np.float32),
    }
    # axpy_layer.cpp: top = y, then caffe_axpy(a[n, c], x[n, c], top[n, c]) per sample/channel
    expected = feeds["a"].reshape(2, 4, 1, 1) * feeds["x"] + feeds["y"]
    for got in torch_and_onnx(graph, feeds):
        np.testing.assert_allclose(got, expected, atol=1e-6)
    row = next(r for r in analyze(graph).rows if r.name == "axpy")
    assert (row.params, row.flops) == (0, 2 * 2 * 4 * 3 * 5)


def test_axpy_refuses_a_scale_of_another_shape() -> None:
    with pytest.raises(netc.NetcError, match="must be N×C"):
        netc.load(
            'input: "a" input_shape { dim: 2 dim: 3 }\n'
            'input: "x" input_shape { dim: 2 dim: 4 dim: 3 dim: 5 }\n'
            'layer { name: "axpy" type: "Axpy" bottom: "a" bottom: "x" bottom: "x" }\n'
        )


@pytest.mark.parametrize("group", [1, 2, 3, 6])
def test_shuffle_channel_agrees_with_opencv_torch_and_onnx(group: int, tmp_path: Path) -> None:
    text = (
        'input: "data" input_shape { dim: 2 dim: 6 dim: 3 dim: 4 }\n'
        'layer { name: "shuffle" type: "ShuffleChannel" bottom: "data" top: "shuffle" '
        f"shuffle_channel_param {{ group: {group} }} }}\n"
    )
    graph = netc.load(text)
    x = np.random.default_rng(5).standard_normal((2, 6, 3, 4)).astype(np.float32)
    # output channel j·group + i is input channel i·(C/group) + j
    per = 6 // group
    order = [i * per + j for j in range(per) for i in range(group)]
    expected = x[:, order]
    (tmp_path / "net.prototxt").write_text(text)
    opencv = cv2.dnn.readNetFromCaffe(str(tmp_path / "net.prototxt"))
    opencv.setInput(x)
    np.testing.assert_array_equal(opencv.forward("shuffle"), expected)
    for got in torch_and_onnx(graph, {"data": x}):
        np.testing.assert_array_equal(got, expected)


def test_depthwise_convolution_agrees_with_opencv_torch_and_onnx(tmp_path: Path) -> None:
    text = (
        'input: "data" input_shape { dim: 1 dim: 4 dim: 7 dim: 7 }\n'
        'layer { name: "dw" type: "ConvolutionDepthwise" bottom: "data" top: "dw" '
        "convolution_param { num_output: 4 kernel_size: 3 stride: 2 pad: 1 } }\n"
    )
    graph = netc.load(text)
    assert graph.tensor("dw").shape == (1, 4, 4, 4)
    rng = np.random.default_rng(6)
    weight = rng.standard_normal((4, 1, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    x = rng.standard_normal((1, 4, 7, 7)).astype(np.float32)
    # each channel convolved with its own filter (a direct loop, padding 1, stride 2)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.empty((1, 4, 4, 4), np.float32)
    for c in range(4):
        for i in range(4):
            for j in range(4):
                window = padded[0, c, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3]
                expected[0, c, i, j] = (window * weight[c, 0]).sum() + bias[c]
    # OpenCV reads the same file with the type written as a grouped Convolution
    grouped = text.replace('"ConvolutionDepthwise"', '"Convolution"').replace(
        "pad: 1", "pad: 1 group: 4"
    )
    (tmp_path / "net.prototxt").write_text(grouped)
    (tmp_path / "net.caffemodel").write_bytes(caffemodel([("dw", "Convolution", [weight, bias])]))
    opencv = cv2.dnn.readNetFromCaffe(
        str(tmp_path / "net.prototxt"), str(tmp_path / "net.caffemodel")
    )
    opencv.setInput(x)
    np.testing.assert_allclose(opencv.forward("dw"), expected, atol=1e-5)
    for got in torch_and_onnx(graph, {"data": x}, {"dw.weight": weight, "dw.bias": bias}):
        np.testing.assert_allclose(got, expected, atol=1e-5)
    row = next(r for r in analyze(graph).rows if r.name == "dw")
    assert (row.params, row.macs) == (4 * 9 + 4, 4 * 9 * 4 * 4)  # one 3×3 filter a channel
