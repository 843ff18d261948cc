"""Fields that Caffe's forks added and real files carry: `ceil_mode` (understood: it changes the
pooled size), Intel Caffe's `engine` (accepted with a warning, an error under --strict)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from backend_outputs import torch_and_onnx

import netc

cv2 = pytest.importorskip("cv2")
torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")


def _pooling(extra: str, pool: str = "MAX") -> str:
    return (
        'input: "data" input_shape { dim: 1 dim: 2 dim: 8 dim: 8 }\n'
        'layer { name: "pool" type: "Pooling" bottom: "data" top: "pool" '
        f"pooling_param {{ pool: {pool} kernel_size: 3 stride: 2 {extra} }} }}\n"
    )


# 8 pixels, window 3, stride 2: (8 - 3) / 2 = 2.5, so Caffe's default rounds up to 4 outputs,
# ceil_mode: false down to 3, as round_mode: FLOOR does
@pytest.mark.parametrize("pool", ["MAX", "AVE"])
@pytest.mark.parametrize(
    ("extra", "side"),
    [("", 4), ("ceil_mode: true", 4), ("ceil_mode: false", 3), ("pad: 1 ceil_mode: false", 4)],
)
def test_ceil_mode_agrees_with_opencv_torch_and_onnx(
    extra: str, side: int, pool: str, tmp_path: Path
) -> None:
    text = _pooling(extra, pool)
    graph = netc.load(text)
    assert graph.tensor("pool").shape == (1, 2, side, side)
    data = np.random.default_rng(0).standard_normal((1, 2, 8, 8)).astype(np.float32)
    (tmp_path / "net.prototxt").write_text(text)
    opencv = cv2.dnn.readNetFromCaffe(str(tmp_path / "net.prototxt"))
    opencv.setInput(data)
    expected = opencv.forward("pool")  # OpenCV's importer reads ceil_mode itself
    assert expected.shape == (1, 2, side, side)
    by_torch, by_onnx = torch_and_onnx(graph, {"data": data})
    np.testing.assert_allclose(by_torch, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(by_onnx, expected, rtol=0, atol=1e-6)


SQNXT_HEAD = 'name: "net"\nengine: "MKL2017"\n'  # as SqueezeNext's train_val.prototxt starts


def test_intel_engine_is_a_warning_and_an_error_under_strict(tmp_path: Path) -> None:
    path = tmp_path / "net.prototxt"
    path.write_text(
        SQNXT_HEAD
        + _pooling("").replace(
            'type: "Pooling"', 'type: "Pooling" engine: "MKLDNN"'
        )  # the layer-level field
    )
    graph = netc.load(path)
    assert [(w.span.line, w.severity) for w in graph.warnings if w.span] == [
        (2, "warning"),
        (4, "warning"),
    ]
    assert all('"engine" (Intel Caffe) is ignored' in w.message for w in graph.warnings)

    def check(*flags: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "netc", "check", *flags, str(path)]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    accepted = check()
    assert accepted.returncode == 0
    assert accepted.stderr.startswith(f"{path}:2:1: warning: "), accepted.stderr
    refused = check("--strict")
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"{path}:2:1: error: "), refused.stderr


def test_an_unknown_field_stays_an_error() -> None:
    """A typo must not be dropped with a warning: only catalogued fork fields are accepted."""
    with pytest.raises(netc.NetcError, match='unknown field "ceil_mod"'):
        netc.load(_pooling("ceil_mod: false"))
