"""PSPNet's fork layers, BN and Interp: shapes, parameters, costs, the fork's weight layout and
forward against OpenCV's Caffe importer (Interp) or a numpy transcription of the fork's
forward (BN), in torch and ONNX; the whole PSPNet-50 file against an architectural count."""

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


def _bilinear_align_corners(x: np.ndarray, out: tuple[int, int]) -> np.ndarray:
    """caffe_cpu_interp2 (PSPNet src/caffe/util/interp.cpp): output i samples input
    i·(in−1)/(out−1), weighting its two neighbours on each axis."""
    h, w = x.shape[2:]
    rows = np.arange(out[0]) * ((h - 1) / (out[0] - 1) if out[0] > 1 else 0)
    cols = np.arange(out[1]) * ((w - 1) / (out[1] - 1) if out[1] > 1 else 0)
    r0, c0 = rows.astype(int), cols.astype(int)
    r1, c1 = np.minimum(r0 + 1, h - 1), np.minimum(c0 + 1, w - 1)
    dr, dc = (rows - r0)[:, None], (cols - c0)[None, :]
    top = x[:, :, r0][:, :, :, c0] * (1 - dc) + x[:, :, r0][:, :, :, c1] * dc
    bottom = x[:, :, r1][:, :, :, c0] * (1 - dc) + x[:, :, r1][:, :, :, c1] * dc
    return (top * (1 - dr) + bottom * dr).astype(np.float32)


INTERP = {
    # interp_param -> (output size, the crop (begin, end) of the 7x9 input)
    "height: 12 width: 5": ((12, 5), (0, 0)),
    "zoom_factor: 3": ((19, 25), (0, 0)),
    "shrink_factor: 2": ((4, 5), (0, 0)),
    "shrink_factor: 2 zoom_factor: 3": ((10, 13), (0, 0)),
    "zoom_factor: 2 pad_beg: -1 pad_end: -1": ((9, 13), (1, 1)),
    "height: 7 width: 9": ((7, 9), (0, 0)),  # Caffe copies
}


@pytest.mark.parametrize("param", sorted(INTERP))
def test_interp_agrees_with_opencv_a_reference_torch_and_onnx(param: str, tmp_path: Path) -> None:
    size, (begin, end) = INTERP[param]
    text = (
        'input: "data" input_shape { dim: 1 dim: 2 dim: 7 dim: 9 }\n'
        f'layer {{ name: "up" type: "Interp" bottom: "data" top: "up" interp_param {{ {param} }} }}\n'
    )
    graph = netc.load(text)
    assert graph.tensor("up").shape == (1, 2, *size)
    x = np.random.default_rng(1).standard_normal((1, 2, 7, 9)).astype(np.float32)
    cropped = x[:, :, begin : 7 - end, begin : 9 - end]
    expected = _bilinear_align_corners(cropped, size)
    if begin == 0 and end == 0 and "shrink" not in param:  # what OpenCV 4's Interp reads
        (tmp_path / "net.prototxt").write_text(text)
        opencv = cv2.dnn.readNetFromCaffe(str(tmp_path / "net.prototxt"))
        opencv.setInput(x)
        np.testing.assert_allclose(opencv.forward("up"), expected, rtol=0, atol=1e-5)
    for got in torch_and_onnx(graph, {"data": x}):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    row = next(r for r in analyze(graph).rows if r.name == "up")
    assert (row.params, row.macs, row.flops) == (0, 0, 7 * 2 * size[0] * size[1])


def test_interp_without_a_size_is_a_positioned_error() -> None:
    with pytest.raises(netc.NetcError, match="needs its output size") as info:
        netc.load(
            'input: "data" input_shape { dim: 1 dim: 2 dim: 7 dim: 9 }\n'
            'layer { name: "up" type: "Interp" bottom: "data" top: "up" }\n'
        )
    assert info.value.diagnostics[0].span is not None


BN_TEXT = (
    'input: "data" input_shape { dim: 2 dim: 3 dim: 4 dim: 5 }\n'
    'layer { name: "bn" type: "BN" bottom: "data" top: "bn" '
    "param { lr_mult: 1 } param { lr_mult: 1 } param { lr_mult: 0 } param { lr_mult: 0 } "
    "bn_param { frozen: FROZEN eps: 0.001 momentum: 0.95 } }\n"
)


@pytest.mark.parametrize("frozen", ["true", "false"])
def test_bn_loads_the_forks_blobs_and_agrees_with_its_forward(frozen: str, tmp_path: Path) -> None:
    graph = netc.load(BN_TEXT.replace("FROZEN", frozen))
    rng = np.random.default_rng(2)
    # the fork's layout: slope, bias, mean, variance, each 1×C×1×1 (bn_layer.cpp LayerSetUp)
    slope, bias, mean = (rng.standard_normal((1, 3, 1, 1)).astype(np.float32) for _ in range(3))
    var = rng.uniform(0.5, 2.0, (1, 3, 1, 1)).astype(np.float32)
    path = tmp_path / "bn.caffemodel"
    path.write_bytes(caffemodel([("bn", "BN", [slope, bias, mean, var])]))
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    # the fork's Forward_cpu at TEST: (x − mean) · (var + eps)^−½ · slope + bias
    expected = (x - mean) / np.sqrt(var + 0.001) * slope + bias

    from netc.weights import load_into, read_weights

    module = graph.to_torch().eval()
    load_into(module, path, graph)
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(x)).numpy(), expected, atol=1e-5)
    onnx_out = torch_and_onnx(graph, {"data": x}, dict(read_weights(path, graph)))[1]
    np.testing.assert_allclose(onnx_out, expected, atol=1e-5)
    # frozen: the moving averages in training too (eval-always) and no learning of slope/bias
    node = graph.node("bn")
    learning = [b.lr_mult for b in node.blobs if b.kind == "param"]
    assert learning == ([0.0, 0.0] if frozen == "true" else [1.0, 1.0])
    module.train()
    with torch.no_grad():
        trained = module(torch.from_numpy(x)).numpy()
    assert np.allclose(trained, expected, atol=1e-5) == (frozen == "true")


def test_bn_counts() -> None:
    graph = netc.load(BN_TEXT.replace("FROZEN", "true"))
    row = next(r for r in analyze(graph).rows if r.name == "bn")
    # slope and bias are parameters (3 each), mean and variance buffers; 4 FLOPs an element
    assert (row.params, row.buffers, row.flops) == (6, 6, 4 * 2 * 3 * 4 * 5)


def _pspnet50_counts() -> tuple[int, int]:
    """PSPNet-50 (Zhao et al., CVPR 2017) as hszhao/PSPNet's ADE20K file builds it, counted
    from its architecture: a 3-conv stem, ResNet-50's bottlenecks (conv3 stride 2, conv4 and
    conv5 dilated at 60×60), a 4-level pyramid (1, 2, 3, 6 bins), conv5_4, a 150-class conv6.
    BN: slope and bias per channel. Returns (params, conv MACs) at 473×473."""
    params = macs = 0

    def conv(cin: int, cout: int, k: int, side: int, bias: bool = False, bn: bool = True) -> None:
        nonlocal params, macs
        params += cin * cout * k * k + (cout if bias else 0) + (2 * cout if bn else 0)
        macs += cin * cout * k * k * side * side

    conv(3, 64, 3, 237), conv(64, 64, 3, 237), conv(64, 128, 3, 237)
    channels, side = 128, 119  # after the 3×3 stride-2 max pooling
    for mid, out, blocks, stride in (
        (64, 256, 3, 1),
        (128, 512, 4, 2),
        (256, 1024, 6, 1),
        (512, 2048, 3, 1),
    ):
        for i in range(blocks):
            side = (side - 1) // stride + 1 if i == 0 else side
            conv(channels, mid, 1, side), conv(mid, mid, 3, side), conv(mid, out, 1, side)
            if i == 0:
                conv(channels, out, 1, side)
            channels = out
    for bins in (1, 2, 3, 6):
        conv(2048, 512, 1, bins)
    conv(4096, 512, 3, 60)
    conv(512, 150, 1, 60, bias=True, bn=False)
    return params, macs


def test_pspnet50_file_counts_agree_with_its_architecture(zoo_dir: Path) -> None:
    graph = netc.load(zoo_dir / "caffe-wild" / "pspnet50_ade20k_473.prototxt")
    assert graph.tensor("conv6_interp").shape == (1, 150, 473, 473)
    assert (graph.params_count(), analyze(graph).totals.macs) == _pspnet50_counts()
