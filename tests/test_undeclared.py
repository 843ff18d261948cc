"""A layer of a type netc does not know is a warning, not the end: the network checks, draws
and analyzes (its totals marked incomplete, never a silent zero) and refuses to build, naming
the layer. And py-faster-rcnn's `scale_train: false` dropout, which changes the deploy output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import netc
from netc.analysis.core import analyze

TEXT = """\
input: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 4 kernel_size: 3 } }
layer { name: "mystery" type: "Mystery" bottom: "conv" top: "m" mystery_param { k: 2 } }
layer { name: "after" type: "Convolution" bottom: "m" top: "after"
        convolution_param { num_output: 2 kernel_size: 1 } }
layer { name: "side" type: "ReLU" bottom: "conv" top: "side" }
"""


def _netc(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netc", *args, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_an_undeclared_type_is_one_warning_and_leaves_shapes_unknown() -> None:
    graph = netc.load(TEXT)
    (warning,) = graph.warnings  # its unknown parameter message and the layer after: silent
    assert warning.severity == "warning" and warning.span is not None
    assert (warning.span.line, warning.span.column) == (4, 31)  # at "Mystery"
    assert 'unknown layer type "Mystery"' in warning.message
    assert graph.tensor("m").shape is None and graph.tensor("after").shape is None
    assert graph.tensor("side").shape == (1, 4, 6, 6)  # the rest of the network is exact
    with pytest.raises(netc.NetcError, match="unknown layer type"):
        netc.load(TEXT, strict=True)


def test_the_analysis_says_what_it_leaves_out() -> None:
    analysis = analyze(netc.load(TEXT))
    assert analysis.undeclared == ["mystery"]
    assert analysis.incomplete == ["mystery", "after"]  # `after`'s weights depend on m's shape
    # the totals are exactly what is known: conv's 3·4·3·3 + 4 weights and its MACs at 6×6
    assert analysis.totals.params == 3 * 4 * 3 * 3 + 4
    assert analysis.totals.macs == 3 * 4 * 3 * 3 * 6 * 6


def test_every_command_on_an_undeclared_type(tmp_path: Path) -> None:
    path = tmp_path / "net.prototxt"
    path.write_text(TEXT)
    checked = _netc(path, "check")
    assert checked.returncode == 0
    assert checked.stderr.count(": warning: ") == 1 and ": error:" not in checked.stderr
    assert _netc(path, "check", "--strict").returncode == 1
    table = _netc(path, "analyze")
    assert table.returncode == 0 and "INCOMPLETE: 1 layer(s)" in table.stdout
    document = json.loads(_netc(path, "analyze", "--format", "json").stdout)
    assert document["schema"] == "netc.analysis/2"
    assert document["incomplete"] == {
        "undeclared": ["mystery"],
        "unknown_shapes": ["mystery", "after"],
    }
    dot = tmp_path / "net.dot"
    drawn = _netc(path, "render", "--format", "dot", "-o", str(dot))
    assert drawn.returncode == 0 and "Mystery" in dot.read_text()
    for target in ("torch", "onnx"):
        built = _netc(path, "build", "--target", target, "-o", str(tmp_path / f"out.{target}"))
        assert built.returncode == 1 and "Traceback" not in built.stderr
        assert f"{path}:4:1: error: " in built.stderr
        assert 'layer "mystery" is of type "Mystery", which netc does not know' in built.stderr


def _dropout(scale_train: str) -> str:
    return (
        'input: "data" input_shape { dim: 2 dim: 5 }\n'
        'layer { name: "drop" type: "Dropout" bottom: "data" top: "drop" '
        f"dropout_param {{ dropout_ratio: 0.25 scale_train: {scale_train} }} }}\n"
    )


@pytest.mark.parametrize("scale_train", ["true", "false"])
def test_unscaled_dropout_multiplies_by_the_kept_fraction_at_inference(scale_train: str) -> None:
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    from netc.backends.onnx import build_model

    graph = netc.load(_dropout(scale_train))
    x = np.random.default_rng(3).standard_normal((2, 5)).astype(np.float32)
    # caffe-fast-rcnn's dropout_layer.cpp at TEST: a copy, divided by scale_ = 1/(1 − ratio)
    # when scale_train is false
    expected = x if scale_train == "true" else x * 0.75
    module = graph.to_torch().eval()
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(x)).numpy(), expected, atol=1e-6)
    session = ort.InferenceSession(
        build_model(graph).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    np.testing.assert_allclose(session.run(None, {"data": x})[0], expected, atol=1e-6)
    if scale_train == "false":  # in training: x·mask, unscaled (kept values are x itself)
        module.train()
        torch.manual_seed(0)
        with torch.no_grad():
            trained = module(torch.from_numpy(np.ones((64, 5), np.float32))).numpy()
        assert set(np.unique(np.round(trained, 6))) <= {0.0, 1.0}
    row = next(r for r in analyze(graph).rows if r.name == "drop")
    assert row.flops == (0 if scale_train == "true" else 10)
