"""SSD's fork layers (weiliu89/caffe, ssd): Normalize, Permute and PriorBox against OpenCV's
Caffe importer (which reads all three), in torch and ONNX; the SSD300 file's counts against
SOURCES.md (OpenCV's importer too)."""

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


def _all_three(
    text: str,
    feeds: dict[str, np.ndarray],
    top: str,
    tmp_path: Path,
    blobs: dict | None = None,
    opencv: bool = True,
) -> list[np.ndarray]:
    """[OpenCV, torch, ONNX] outputs of `top` (torch and ONNX only without `opencv`), with the
    layers' blobs from `blobs`."""
    graph = netc.load(text)
    (tmp_path / "net.prototxt").write_text(text)
    layers = [(name, "", [v]) for name, v in (blobs or {}).items()]
    (tmp_path / "net.caffemodel").write_bytes(caffemodel(layers))
    outputs = []
    if opencv:
        reader = cv2.dnn.readNetFromCaffe(
            str(tmp_path / "net.prototxt"), str(tmp_path / "net.caffemodel")
        )
        for name, value in feeds.items():
            reader.setInput(value, name)
        outputs.append(reader.forward(top))
    weights = {f"{name}.weight": v.reshape(-1) for name, v in (blobs or {}).items()}
    outputs += torch_and_onnx(graph, feeds, weights)
    return outputs


@pytest.mark.parametrize("across_spatial", ["true", "false"])
@pytest.mark.parametrize("channel_shared", ["true", "false"])
def test_normalize_agrees_with_opencv(
    across_spatial: str, channel_shared: str, tmp_path: Path
) -> None:
    text = (
        'input: "data" input_shape { dim: 2 dim: 3 dim: 4 dim: 5 }\n'
        'layer { name: "norm" type: "Normalize" bottom: "data" top: "norm" norm_param { '
        f"across_spatial: {across_spatial} channel_shared: {channel_shared} }} }}\n"
    )
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    scale = rng.uniform(1, 20, (1,) if channel_shared == "true" else (3,)).astype(np.float32)
    # normalize_layer.cpp: x / sqrt(sum of squares + 1e-10), the sum over C×H×W or over C
    axes = (1, 2, 3) if across_spatial == "true" else (1,)
    expected = x / np.sqrt((x**2).sum(axes, keepdims=True) + 1e-10)
    expected = expected * (scale if channel_shared == "true" else scale.reshape(1, 3, 1, 1))
    outputs = _all_three(text, {"data": x}, "norm", tmp_path, {"norm": scale}, opencv=False)
    if not (across_spatial == "true" and channel_shared == "false"):  # OpenCV asserts there
        outputs = _all_three(text, {"data": x}, "norm", tmp_path, {"norm": scale})
    for got in outputs:
        np.testing.assert_allclose(got, expected, atol=1e-5)
    row = next(r for r in analyze(netc.load(text)).rows if r.name == "norm")
    assert row.params == scale.size


def test_permute_agrees_with_opencv(tmp_path: Path) -> None:
    text = (
        'input: "data" input_shape { dim: 2 dim: 3 dim: 4 dim: 5 }\n'
        'layer { name: "perm" type: "Permute" bottom: "data" top: "perm" '
        "permute_param { order: 0 order: 2 order: 3 order: 1 } }\n"
    )
    x = np.random.default_rng(8).standard_normal((2, 3, 4, 5)).astype(np.float32)
    assert netc.load(text).tensor("perm").shape == (2, 4, 5, 3)
    for got in _all_three(text, {"data": x}, "perm", tmp_path):
        np.testing.assert_array_equal(got, x.transpose(0, 2, 3, 1))


PRIORS = [
    # SSD300's conv4_3 head (min 30, max 60, ratio 2, step 8) on a 6×5 map of a 48×40 image
    "min_size: 30.0 max_size: 60.0 aspect_ratio: 2 flip: true clip: false "
    "variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 step: 8 offset: 0.5",
    # two sizes, two ratios with flips, clipped, one variance, the step from the shapes
    "min_size: 10 min_size: 20 aspect_ratio: 2 aspect_ratio: 3 flip: true clip: true variance: 0.1",
]


@pytest.mark.parametrize("params", PRIORS, ids=["ssd300-head", "clipped"])
def test_prior_box_agrees_with_opencv(params: str, tmp_path: Path) -> None:
    text = (
        'input: "map" input_shape { dim: 1 dim: 2 dim: 6 dim: 5 }\n'
        'input: "image" input_shape { dim: 1 dim: 3 dim: 48 dim: 40 }\n'
        'layer { name: "priors" type: "PriorBox" bottom: "map" bottom: "image" top: "priors" '
        f"prior_box_param {{ {params} }} }}\n"
    )
    rng = np.random.default_rng(9)
    feeds = {
        "map": rng.standard_normal((1, 2, 6, 5)).astype(np.float32),
        "image": rng.standard_normal((1, 3, 48, 40)).astype(np.float32),
    }
    by_opencv, by_torch, by_onnx = _all_three(text, feeds, "priors", tmp_path)
    assert netc.load(text).tensor("priors").shape == by_opencv.shape
    np.testing.assert_allclose(by_torch, by_opencv, atol=1e-6)
    np.testing.assert_allclose(by_onnx, by_opencv, atol=1e-6)


def test_ssd300_file_counts_equal_opencvs(zoo_dir: Path) -> None:
    """SOURCES.md: 26,285,486 parameters and 31,373,537,792 conv/fc MACs (OpenCV 4.14); the
    last layer, DetectionOutput, is one netc does not know (no parameters, no MACs)."""
    graph = netc.load(zoo_dir / "caffe-wild" / "ssd300_vgg_voc0712.deploy.prototxt")
    analysis = analyze(graph)
    assert (graph.params_count(), analysis.totals.macs) == (26_285_486, 31_373_537_792)
    assert analysis.undeclared == ["detection_out"]
    assert graph.tensor("mbox_priorbox").shape == (1, 2, 8732 * 4)  # SSD300's 8,732 boxes
