"""Caffe's Crop: shapes, costs, receptive field, torch and ONNX against OpenCV's Caffe importer
(an independent implementation of the layer) and a numpy slice."""

from __future__ import annotations

import numpy as np
import pytest
from backend_outputs import torch_and_onnx

import netc
from netc.analysis.core import analyze

cv2 = pytest.importorskip("cv2")
torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")


DATA, REFERENCE = (2, 3, 10, 12), (1, 2, 5, 6)


def _net(crop_param: str) -> str:
    dims = lambda s: " ".join(f"dim: {d}" for d in s)  # noqa: E731
    return (
        f'input: "data" input_shape {{ {dims(DATA)} }}\n'
        f'input: "ref" input_shape {{ {dims(REFERENCE)} }}\n'
        f'layer {{ name: "crop" type: "Crop" bottom: "data" bottom: "ref" top: "crop" '
        f"crop_param {{ {crop_param} }} }}\n"
    )


# (crop_param, the slice of `data` it must give): Caffe's rule, one offset for every axis from
# `axis` on, one per axis, none (0)
CASES = {
    "axis 2, offset 3": ("axis: 2 offset: 3", np.s_[:, :, 3:8, 3:9]),
    "axis 2, offsets 5 and 1": ("axis: 2 offset: 5 offset: 1", np.s_[:, :, 5:10, 1:7]),
    "axis 1, offsets 1 2 4": ("axis: 1 offset: 1 offset: 2 offset: 4", np.s_[:, 1:3, 2:7, 4:10]),
    "no offset": ("axis: 2", np.s_[:, :, 0:5, 0:6]),
    "negative axis": ("axis: -1 offset: 6", np.s_[:, :, :, 6:12]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_crop_agrees_with_opencv_torch_onnx_and_a_slice(case: str, tmp_path: object) -> None:
    crop_param, window = CASES[case]
    text = _net(crop_param)
    graph = netc.load(text)
    rng = np.random.default_rng(0)
    data = rng.standard_normal(DATA).astype(np.float32)
    ref = rng.standard_normal(REFERENCE).astype(np.float32)
    expected = data[window]
    assert graph.tensor("crop").shape == expected.shape

    opencv = cv2.dnn.readNetFromCaffe(_write(tmp_path, text))
    opencv.setInput(data, "data")
    opencv.setInput(ref, "ref")
    np.testing.assert_array_equal(opencv.forward("crop"), expected)

    for got in torch_and_onnx(graph, {"data": data, "ref": ref}):
        np.testing.assert_array_equal(got, expected)


def _write(folder: object, text: str) -> str:
    from pathlib import Path

    path = Path(str(folder)) / "net.prototxt"
    path.write_text(text)
    return str(path)


def test_crop_costs_nothing_and_shifts_the_receptive_field() -> None:
    graph = netc.load(_net("axis: 2 offset: 3"))
    row = next(r for r in analyze(graph).rows if r.name == "crop")
    assert (row.params, row.macs, row.flops) == (0, 0, 0)
    # output position i reads input position i + 3: the field's start moves by 3 input pixels
    assert row.field is not None
    assert [(a.size, a.jump, a.start) for a in row.field] == [(1, 1, 3.5), (1, 1, 3.5)]


@pytest.mark.parametrize(
    ("crop_param", "message"),
    [
        ("axis: 2 offset: 6", "runs past"),  # 6 + 5 > 10
        ("axis: 2 offset: 1 offset: 2 offset: 3", "3 offsets for 2 cropped axes"),
        ("axis: 4", "out of range"),
    ],
)
def test_bad_crops_are_positioned_errors(crop_param: str, message: str) -> None:
    with pytest.raises(netc.NetcError, match=message) as info:
        netc.load(_net(crop_param))
    assert all(d.span is not None for d in info.value.diagnostics)
