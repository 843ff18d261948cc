"""Every real Caffe file in the shared zoo parses and shape-checks, with the numbers of
../shared/zoo/REFERENCE.md (computed there with Caffe's rules over the official caffe.proto,
and cross-checked against third-party Caffe counters and torchvision)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import WILD_NEEDS_OPTIONS, WILD_PARTIAL, accepted_prototxts

import netc

ZOO_FILES = accepted_prototxts()


def test_zoo_is_present(zoo_dir: Path, zoo_prototxts: list[Path]) -> None:
    # 6 files in caffe/, LeNet again and the 4 MTCNN nets in weights/, 12 in caffe-wild/
    # (zoo/*/SOURCES.md); every one is read, all but WILD_PARTIAL and WILD_NEEDS_OPTIONS whole
    assert len(sorted(zoo_dir.rglob("*.prototxt"))) == 23
    wild = {p.name for p in (zoo_dir / "caffe-wild").glob("*.prototxt")}
    assert set(WILD_PARTIAL) <= wild and set(WILD_NEEDS_OPTIONS) <= wild
    assert len(zoo_prototxts) == 23 - len(WILD_PARTIAL) - len(WILD_NEEDS_OPTIONS)


def _netc(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "netc", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("name", sorted(WILD_PARTIAL))
def test_files_with_unknown_types_check_draw_analyze_and_refuse_to_build(
    zoo_dir: Path, name: str, tmp_path: Path
) -> None:
    """The real files whose fork layers netc does not know yet: a warning for each such layer
    (once, no cascade), a drawing, an analysis marked incomplete, a build refused by name."""
    path = zoo_dir / "caffe-wild" / name
    graph = netc.load(path)
    undeclared = [n for n in graph.nodes if not n.layer.declared]
    assert {n.type for n in undeclared} == WILD_PARTIAL[name]
    checked = _netc("check", str(path))
    assert checked.returncode == 0, checked.stderr
    warnings = re.findall(
        rf"^{re.escape(str(path))}:\d+:\d+: warning: unknown layer type", checked.stderr, re.M
    )
    assert len(warnings) == len(undeclared)  # one per layer, nothing cascades
    assert ": error:" not in checked.stderr
    assert _netc("check", "--strict", str(path)).returncode == 1
    dot = tmp_path / "net.dot"
    assert _netc("render", str(path), "--format", "dot", "-o", str(dot)).returncode == 0
    assert all(f'"{n.name}"' in dot.read_text() or n.name in dot.read_text() for n in undeclared)
    analyzed = _netc("analyze", str(path), "--format", "json")
    assert analyzed.returncode == 0
    document = json.loads(analyzed.stdout)
    assert document["incomplete"]["undeclared"] == [n.name for n in undeclared]
    assert "INCOMPLETE" in _netc("analyze", str(path)).stdout
    built = _netc("build", str(path), "--target", "torch", "-o", str(tmp_path / "net.py"))
    assert built.returncode == 1 and "Traceback" not in built.stderr
    assert f'layer "{undeclared[0].name}" is of type "{undeclared[0].type}"' in built.stderr


def _wild_figures(zoo_dir: Path) -> dict[str, tuple[dict[str, tuple[int, ...]], int, int]]:
    """caffe-wild/SOURCES.md's table: file -> (input shapes, params, conv/fc MACs), for the rows
    with figures (computed there by OpenCV's Caffe importer, or by Caffe's layer rules)."""
    rows: dict[str, tuple[dict[str, tuple[int, ...]], int, int]] = {}
    for line in (zoo_dir / "caffe-wild" / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 10 or not cells[0].endswith(".prototxt") or "–" in cells[8:]:
            continue
        shapes = {}
        for entry in cells[7].split(";"):
            name, dims = entry.split()
            shapes[name] = tuple(int(d) for d in dims.split("×"))
        rows[cells[0]] = (shapes, int(cells[8].replace(",", "")), int(cells[9].replace(",", "")))
    return rows


def test_wild_files_match_their_independent_figures(zoo_dir: Path) -> None:
    """Params and conv/fc MACs at batch 1 of every caffe-wild file netc reads, against
    SOURCES.md (OpenCV 4.14's importer where it reads the file, Caffe's rules otherwise)."""
    from netc.analysis.core import analyze

    figures = _wild_figures(zoo_dir)
    assert len(figures) == 10  # every row but the two forks with no independent count yet
    checked = []
    for name, (shapes, params, macs) in sorted(figures.items()):
        if name in WILD_PARTIAL:
            continue
        stages = WILD_NEEDS_OPTIONS.get(name, ({}, ()))[1]
        graph = netc.load(
            zoo_dir / "caffe-wild" / name, input_shapes=shapes, stages=stages, batch=1
        )
        totals = analyze(graph).totals
        assert (graph.params_count(), totals.macs) == (params, macs), name
        checked.append(name)
    assert len(checked) == len(figures) - len(set(figures) & set(WILD_PARTIAL))


@pytest.mark.parametrize("name", sorted(WILD_NEEDS_OPTIONS))
def test_a_file_without_sizes_or_stage_names_the_flags_and_reads_with_them(
    zoo_dir: Path, name: str, tmp_path: Path
) -> None:
    path = zoo_dir / "caffe-wild" / name
    shapes, stages = WILD_NEEDS_OPTIONS[name]
    size_flags = [
        f"--input-shape={blob}={'x'.join(map(str, shape))}" for blob, shape in shapes.items()
    ]
    stage_flags = [f"--stage={stage}" for stage in stages]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "netc", *args]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    refused = run("check", str(path))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    wanted = "--stage " if stages else "--input-shape data="
    assert f"hint: {wanted}" in refused.stderr or wanted in refused.stderr, refused.stderr
    if stages:  # with the stage, the missing size is named next
        sized = run("check", str(path), *stage_flags)
        assert sized.returncode == 1 and "--input-shape data=" in sized.stderr, sized.stderr
    flags = [*size_flags, *stage_flags]
    for phase in ("TEST", "TRAIN"):
        assert run("check", str(path), "--phase", phase, *flags).returncode == 0
    assert run("analyze", str(path), *flags).returncode == 0
    dot = tmp_path / "net.dot"
    assert run("render", str(path), "--format", "dot", "-o", str(dot), *flags).returncode == 0
    onnx = tmp_path / "net.onnx"
    assert run("build", str(path), "--target", "onnx", "-o", str(onnx), *flags).returncode == 0
    graph = netc.load(path, input_shapes=shapes, stages=stages)
    for label in ("label",) if "label" in {t.blob for t in graph.tensors.values()} else ():
        assert graph.tensor(label).shape == (1,)  # the label follows the data's batch


@pytest.mark.parametrize("path", ZOO_FILES, ids=[p.name for p in ZOO_FILES])
def test_every_prototxt_parses_and_shape_checks(path: Path) -> None:
    graph = netc.load(path)
    assert graph.outputs
    for tensor in graph.tensors.values():
        assert tensor.shape is not None and all(d > 0 for d in tensor.shape), tensor


# REFERENCE.md §1: final blob, params, BN statistics (running mean, variance, factor).
REFERENCE = {
    "bvlc_alexnet.deploy.prototxt": ("prob", (10, 1000), 60_965_224, 0),
    "bvlc_reference_caffenet.deploy.prototxt": ("prob", (10, 1000), 60_965_224, 0),
    "bvlc_googlenet.deploy.prototxt": ("prob", (10, 1000), 6_998_552, 0),
    "lenet.prototxt": ("prob", (64, 10), 431_080, 0),
    "ResNet-50-deploy.prototxt": ("prob", (1, 1000), 25_557_096, 53_173),
    "VGG_ILSVRC_16_layers_deploy.prototxt": ("prob", (10, 1000), 138_357_544, 0),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_numbers(zoo_dir: Path, name: str) -> None:
    blob, shape, params, stats = REFERENCE[name]
    graph = netc.load(zoo_dir / "caffe" / name)
    assert [graph.tensors[t].blob for t in graph.outputs] == [blob]
    assert graph.tensor(blob).shape == shape
    assert graph.params_count() == params
    assert graph.params_count("buffer") == stats


def test_alexnet_intermediate_shapes(zoo_dir: Path) -> None:
    graph = netc.load(zoo_dir / "caffe" / "bvlc_alexnet.deploy.prototxt")
    assert graph.tensor("conv1").shape == (10, 96, 55, 55)  # REFERENCE.md: conv1 96×55×55
    assert graph.tensor("pool5").shape == (10, 256, 6, 6)  # pool5 256×6×6
    weight = graph.node("fc6").blobs[0]
    assert weight.shape == (4096, 9216)  # fc6 fan-in 9216 = 256·6·6
    # the 2-GPU original: conv2, conv4, conv5 are grouped (group: 2) -> half the fan-in
    assert graph.node("conv2").blobs[0].shape == (256, 48, 5, 5)


def test_googlenet_inception_outputs(zoo_dir: Path) -> None:
    graph = netc.load(zoo_dir / "caffe" / "bvlc_googlenet.deploy.prototxt")
    # REFERENCE.md: 3a 256 and 3b 480 at 28², 4a–4c 512, 4d 528, 4e 832 at 14², 5a 832, 5b 1024 at 7²
    expected = {
        "3a": (256, 28),
        "3b": (480, 28),
        "4a": (512, 14),
        "4b": (512, 14),
        "4c": (512, 14),
        "4d": (528, 14),
        "4e": (832, 14),
        "5a": (832, 7),
        "5b": (1024, 7),
    }
    for block, (channels, size) in expected.items():
        assert graph.tensor(f"inception_{block}/output").shape == (10, channels, size, size), block


def test_vgg16_pool5_and_fc6(zoo_dir: Path) -> None:
    graph = netc.load(zoo_dir / "caffe" / "VGG_ILSVRC_16_layers_deploy.prototxt")
    assert graph.tensor("pool5").shape == (10, 512, 7, 7)  # REFERENCE.md: pool5 512×7×7
    assert graph.node("fc6").blobs[0].shape == (4096, 25088)  # fc6 fan-in 25088
    assert graph.node("conv1_1").type == "Convolution"  # legacy V1 `layers` with CONVOLUTION


def test_resnet50_round_up_pooling(zoo_dir: Path) -> None:
    graph = netc.load(zoo_dir / "caffe" / "ResNet-50-deploy.prototxt")
    # REFERENCE.md: pool1 (3×3/2, no pad) 112→56 — only round-up pooling gives 56
    assert graph.tensor("conv1").shape == (1, 64, 112, 112)
    assert graph.tensor("pool1").shape == (1, 64, 56, 56)
    assert math.floor((112 - 3) / 2) + 1 == 55  # what floor rounding would give


def test_mtcnn_shapes(zoo_dir: Path) -> None:
    weights = zoo_dir / "weights" / "caffe-mtcnn"
    # PNet on its 12×12 training input, by hand: conv 3 → 10, pool 2/2 (ceil) → 5, conv 3 → 3, conv 3 → 1
    pnet = netc.load(weights / "det1.prototxt")
    assert pnet.tensor("prob1").shape == (1, 2, 1, 1)
    assert pnet.tensor("conv4-2").shape == (1, 4, 1, 1)
    assert pnet.node("PReLU1").blobs[0].shape == (10,)  # one slope per channel
    # ONet (48×48): conv 3 → 46, pool 3/2 (ceil) → 23, conv 3 → 21, pool 3/2 → 10, conv 3 → 8,
    # pool 2/2 → 4, conv 2 → 3; fc over 128·3·3
    onet = netc.load(weights / "det3.prototxt")
    assert onet.tensor("conv4").shape == (1, 128, 3, 3)
    assert [(onet.tensors[t].blob, onet.tensors[t].shape) for t in onet.outputs] == [
        ("conv6-2", (1, 4)),
        ("conv6-3", (1, 10)),
        ("prob1", (1, 2)),
    ]
    # LNet slices its 15 input channels into five 3-channel patches
    lnet = netc.load(weights / "det4.prototxt")
    assert [lnet.tensor(f"data24{i}").shape for i in range(1, 6)] == [(1, 3, 24, 24)] * 5


def test_check_command_on_the_whole_zoo(zoo_prototxts: list[Path]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "netc", "check", "--json", *map(str, zoo_prototxts)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["file"] for r in reports] == [str(p) for p in zoo_prototxts]
    assert all(r["ok"] for r in reports)
    by_name = {Path(r["file"]).name: r for r in reports}
    assert by_name["ResNet-50-deploy.prototxt"]["outputs"] == {"prob": [1, 1000]}
    assert by_name["ResNet-50-deploy.prototxt"]["params"] == 25_557_096


def test_check_summary_line(zoo_dir: Path) -> None:
    path = zoo_dir / "caffe" / "lenet.prototxt"
    result = subprocess.run(
        [sys.executable, "-m", "netc", "check", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert (
        result.stdout
        == f"{path}: ok: LeNet, 9 layers, inputs data 64×1×28×28 -> outputs prob 64×10\n"
    )
