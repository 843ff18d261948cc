"""The static analyzer (netc/analysis) against numbers from independent sources.

Where a number comes from (each test names its source in a comment):
- "REF §1" / "REF §2": zoo/REFERENCE.md — §1 the real Caffe files (Caffe's own shape rules;
  third-party Caffe counters; Netscope), §2 torchvision 0.29.1 (`sum(p.numel())`, MACs =
  `torch.utils.flop_counter.FlopCounterMode` FLOPs ÷ 2).
- "VGG Table 2": Simonyan & Zisserman, ICLR 2015, parameters in millions.
- "GoogLeNet Table 1": Szegedy et al., CVPR 2015, per-module params and ops.
- "CS231n": the VGGNet memory/weights table of Stanford CS231n's "ConvNets" notes.
- "by hand": the arithmetic is written out in the test, independently of netc's rules.

Everything here calls functions (no subprocess); the CLI has tests/test_analysis_cli.py.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import netc
from netc.analysis.budget import (
    BudgetError,
    Verdict,
    evaluate,
    fit_batch,
    parse_budget,
    parse_size,
)
from netc.analysis.core import (
    Analysis,
    Row,
    analyze,
    collapse,
    frames_index,
    saved_storages,
    training_memory,
)
from netc.analysis.report import document, render
from netc.layers.base import all_types

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
DOCS = ROOT / "docs"
GiB = 2**30


@functools.cache
def spec(name: str, batch: int | None = 1) -> netc.Graph:
    return netc.load(SPECS / f"{name}.net", batch=batch)


@functools.cache
def spec_analysis(name: str, counting: str = "netc") -> Analysis:
    return analyze(spec(name), counting=counting)


def rows_by_name(analysis: Analysis) -> dict[str, Row]:
    return {r.name: r for r in analysis.rows}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---- docs/conventions.md covers the registry ---------------------------------------------------


def test_every_layer_type_has_a_conventions_row() -> None:
    text = (DOCS / "conventions.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| (\w+) \|", text, flags=re.MULTILINE))
    missing = sorted(set(all_types()) - documented)
    assert not missing, f"docs/conventions.md has no row for: {', '.join(missing)}"


def test_conventions_document_the_presets_and_memory_model() -> None:
    text = (DOCS / "conventions.md").read_text(encoding="utf-8")
    for needle in (
        "FlopCounterMode",
        "**`netscope`**",
        "726,791,936",
        "`--fit",
        "`--budget",
        "**3**",
    ):
        assert needle in text, needle


# ---- REF §1: the real Caffe files ----------------------------------------------------------------

CAFFE = [
    # file, params, BN statistic values, MACs per image — all REF §1.
    ("bvlc_alexnet.deploy.prototxt", 60_965_224, 0, 724_406_816),
    ("bvlc_reference_caffenet.deploy.prototxt", 60_965_224, 0, 724_406_816),
    ("bvlc_googlenet.deploy.prototxt", 6_998_552, 0, 1_582_671_872),
    ("lenet.prototxt", 431_080, 0, 2_293_000),
    ("ResNet-50-deploy.prototxt", 25_557_096, 53_173, 3_857_973_248),
    ("VGG_ILSVRC_16_layers_deploy.prototxt", 138_357_544, 0, 15_470_264_320),
]


@pytest.mark.parametrize(("name", "params", "buffers", "macs"), CAFFE, ids=[c[0] for c in CAFFE])
def test_caffe_params_and_macs(
    zoo_dir: Path, name: str, params: int, buffers: int, macs: int
) -> None:
    # At the file's own batch (10, 64 or 1), divided by the batch ...
    native = analyze(netc.load(zoo_dir / "caffe" / name))
    assert native.totals.params == params
    assert native.totals.buffers == buffers
    assert native.totals.macs == macs * native.batch
    # ... and loaded at batch 1.
    single = analyze(netc.load(zoo_dir / "caffe" / name, batch=1))
    assert single.batch == 1
    assert single.totals.macs == macs


NETSCOPE = [
    # REF §1 "Netscope ... figures per image" (MACs), and its 2 "parameters" per LRN:
    # AlexNet and GoogLeNet have 2 LRN layers each, ResNet-50 none.
    ("bvlc_alexnet.deploy.prototxt", 726_791_936, 60_965_224 + 2 * 2),
    ("bvlc_googlenet.deploy.prototxt", 1_586_685_952, 6_998_552 + 2 * 2),
    ("ResNet-50-deploy.prototxt", 3_868_560_384, 25_557_096),
]


@pytest.mark.parametrize(("name", "macs", "params"), NETSCOPE, ids=[n[0] for n in NETSCOPE])
def test_netscope_counting(zoo_dir: Path, name: str, macs: int, params: int) -> None:
    analysis = analyze(netc.load(zoo_dir / "caffe" / name, batch=1), counting="netscope")
    assert analysis.totals.macs == macs
    assert analysis.totals.params == params


def test_netscope_lrn_and_scale_rules(zoo_dir: Path) -> None:
    # REF §1: Netscope adds LRN elements × local_size and one per Scale element to its MACs.
    # By hand for AlexNet: norm1 96·55·55 · 5 = 1,452,000, norm2 256·27·27 · 5 = 933,120;
    # 724,406,816 + 1,452,000 + 933,120 = 726,791,936 (the Netscope figure above).
    rows = rows_by_name(
        analyze(
            netc.load(zoo_dir / "caffe" / "bvlc_alexnet.deploy.prototxt", batch=1),
            counting="netscope",
        )
    )
    assert rows["norm1"].macs == 96 * 55 * 55 * 5 == 1_452_000
    assert rows["norm2"].macs == 256 * 27 * 27 * 5 == 933_120
    assert rows["norm1"].weights == 2  # alpha and beta, as Netscope lists them
    # ResNet-50: 3,868,560,384 - 3,857,973,248 = 10,587,136 = the elements of its Scale layers.
    resnet = analyze(
        netc.load(zoo_dir / "caffe" / "ResNet-50-deploy.prototxt", batch=1), counting="netscope"
    )
    scale_elements = sum(math.prod(r.output or ()) for r in resnet.rows if r.type == "Scale")
    assert scale_elements == 3_868_560_384 - 3_857_973_248


def test_netscope_affine_batchnorm_counts_like_batchnorm_plus_scale(tmp_path: Path) -> None:
    # docs/language.md §9: `affine: true` = BatchNorm followed by Scale with bias; `netc convert
    # --to prototxt` spells it so. Netscope on that prototxt counts one MAC per Scale element,
    # so resnet18 should count conv/fc MACs (REF §2: 1,814,073,344) + the BN output elements.
    from netc.api import expand
    from netc.lang.convert import to_prototxt

    graph = spec("resnet18")
    bn_elements = sum(
        math.prod(graph.tensors[n.outputs[0]].shape or ())
        for n in graph.nodes
        if n.type == "BatchNorm"
    )
    net = expand(SPECS / "resnet18.net")
    converted = write(
        tmp_path, "r18.prototxt", to_prototxt(net, {n.name: len(n.blobs) for n in graph.nodes})
    )
    as_caffe = analyze(netc.load(converted, batch=1), counting="netscope").totals.macs
    assert as_caffe == 1_814_073_344 + bn_elements  # the converted file is counted right
    assert analyze(graph, counting="netscope").totals.macs == as_caffe


# ---- REF §2: the native zoo against torchvision ---------------------------------------------------

TORCHVISION = [
    # spec, params, BN buffers, MACs per image at 224² — all REF §2 (torchvision 0.29.1).
    ("alexnet_torchvision", 61_100_840, 0, 714_188_480),
    ("vgg11", 132_863_336, 0, 7_609_090_048),
    ("vgg13", 133_047_848, 0, 11_308_466_176),
    ("vgg16", 138_357_544, 0, 15_470_264_320),
    ("vgg19", 143_667_240, 0, 19_632_062_464),
    ("vgg16_bn", 138_365_992, 8_461, 15_470_264_320),
    ("googlenet_torchvision", 6_624_904, 14_617, 1_498_376_192),
    ("resnet18", 11_689_512, 9_620, 1_814_073_344),
    ("resnet34", 21_797_672, 17_060, 3_663_761_408),
    ("resnet50", 25_557_032, 53_173, 4_089_184_256),
    ("resnet101", 44_549_160, 105_448, 7_801_405_440),
    ("resnet152", 60_192_808, 151_579, 11_513_626_624),
]


@pytest.mark.parametrize(
    ("name", "params", "buffers", "macs"), TORCHVISION, ids=[t[0] for t in TORCHVISION]
)
def test_spec_params_and_macs(name: str, params: int, buffers: int, macs: int) -> None:
    analysis = spec_analysis(name)
    assert analysis.batch == 1
    assert analysis.totals.params == params
    assert analysis.totals.buffers == buffers
    assert analysis.totals.macs == macs
    # REF §2's MACs are FlopCounterMode's FLOPs ÷ 2: the torch preset gives those FLOPs back.
    assert spec_analysis(name, "torch").totals.flops == 2 * macs


@pytest.mark.parametrize("name", [t[0] for t in TORCHVISION] + ["alexnet", "googlenet", "lenet5"])
def test_torch_counting_is_two_flops_per_mac_and_nothing_else(name: str) -> None:
    # FlopCounterMode counts convolutions and matrix products only, 2 FLOPs per MAC, no bias:
    # every row's FLOPs are exactly twice its MACs (pooling, BN, ReLU, LRN, softmax add 0).
    torch_rows = spec_analysis(name, "torch").rows
    assert all(r.flops == 2 * r.macs for r in torch_rows)
    assert [r.macs for r in torch_rows] == [r.macs for r in spec_analysis(name).rows]
    # netc's own FLOPs count more (biases, activations, pooling): strictly more here.
    assert spec_analysis(name).totals.flops > spec_analysis(name, "torch").totals.flops


# ---- VGG Table 2 ---------------------------------------------------------------------------------

VGG_TABLE_2 = [
    # VGG Table 2, "Number of parameters (in millions)": A 133, A-LRN 133, B 133, C 134, D 138,
    # E 144 (configurations A..E of Table 1 = these specs).
    ("vgg11", 133),
    ("vgg11_lrn", 133),
    ("vgg13", 133),
    ("vgg16_c", 134),
    ("vgg16", 138),
    ("vgg19", 144),
]


@pytest.mark.parametrize(("name", "millions"), VGG_TABLE_2, ids=[v[0] for v in VGG_TABLE_2])
def test_vgg_table_2(name: str, millions: int) -> None:
    assert round(spec_analysis(name).totals.params / 1e6) == millions


# ---- GoogLeNet Table 1 ---------------------------------------------------------------------------

GOOGLENET_TABLE_1 = [
    # GoogLeNet Table 1: module, input channels, spatial size, [#1×1, #3×3 reduce, #3×3,
    # #5×5 reduce, #5×5, pool proj], paper params (K), paper ops (M).
    ("3a", 192, 28, [64, 96, 128, 16, 32, 32], 159, 128),
    ("3b", 256, 28, [128, 128, 192, 32, 96, 64], 380, 304),
    ("4a", 480, 14, [192, 96, 208, 16, 48, 64], 364, 73),
    ("4b", 512, 14, [160, 112, 224, 24, 64, 64], 437, 88),
    ("4c", 512, 14, [128, 128, 256, 24, 64, 64], 463, 100),
    ("4d", 512, 14, [112, 144, 288, 32, 64, 64], 580, 119),
    ("4e", 528, 14, [256, 160, 320, 32, 128, 128], 840, 170),
    ("5a", 832, 7, [256, 160, 320, 32, 128, 128], 1072, 54),
    ("5b", 832, 7, [384, 192, 384, 48, 128, 128], 1388, 71),
]

# The paper's rounding is loose (REF §2). Its ops are within 1M of the exact count except (5a):
# 54M, not even consistent with its own 1072K params × 7·7 = 52.5M (exact: 51,079,168). Its
# params run 2-4.4% above or below the exact count, (4c) 10.2% (463K vs 510,104, while its own
# 100M ops ÷ 14·14 imply 510K). docs/conventions.md §6 shows both side by side.
OPS_SLACK = {"5a": 3_000_000}
PARAMS_SLACK = {"4c": 0.11}


@pytest.mark.parametrize(
    ("module", "channels", "size", "widths", "paper_k", "paper_m"),
    GOOGLENET_TABLE_1,
    ids=[g[0] for g in GOOGLENET_TABLE_1],
)
def test_googlenet_table_1(
    module: str, channels: int, size: int, widths: list[int], paper_k: int, paper_m: int
) -> None:
    graph = spec("googlenet")
    collapsed = {
        r.name: r for r in collapse(spec_analysis("googlenet").rows, frames_index(graph), 1)
    }
    row = collapsed[f"inception_{module}"]
    # by hand: 1×1 convs read the module input (#1×1, both reduces, pool proj); the 3×3 and 5×5
    # read their reduces; every conv has a bias; all run at size×size, stride 1.
    n1, r3, n3, r5, n5, proj = widths
    weights = channels * (n1 + r3 + r5 + proj) + r3 * 9 * n3 + r5 * 25 * n5
    biases = n1 + r3 + n3 + r5 + n5 + proj
    assert row.type == "inception"
    assert row.output == (1, n1 + n3 + n5 + proj, size, size)
    assert (row.weights, row.biases) == (weights, biases)
    assert row.macs == weights * size * size
    # ... and the paper's figures, within its rounding.
    assert abs(row.macs - paper_m * 1_000_000) <= OPS_SLACK.get(module, 1_000_000)
    assert abs(row.params / (paper_k * 1000) - 1) <= PARAMS_SLACK.get(module, 0.05)


# ---- CS231n's VGG-16 table, and AlexNet conv1 ----------------------------------------------------


def vgg16_layers() -> list[tuple[str, tuple[int, int, int], int]]:
    """(torchvision name, (H, W, C) of the output, weights) for every conv/pool/fc of VGG-16,
    computed here: 3×3 convs with pad 1 keep the size, 2×2/2 pools halve it."""
    out: list[tuple[str, tuple[int, int, int], int]] = []
    index, size, channels = 0, 224, 3
    for width, convs in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]:
        for _ in range(convs):
            out.append((f"features.{index}", (size, size, width), 3 * 3 * channels * width))
            index, channels = index + 2, width  # conv, then its ReLU
        size //= 2
        out.append((f"features.{index}", (size, size, channels), 0))
        index += 1
    fan_in = 7 * 7 * 512
    for name, units in (("classifier.0", 4096), ("classifier.3", 4096), ("classifier.6", 1000)):
        out.append((name, (1, 1, units), fan_in * units))
        fan_in = units
    return out


# CS231n's VGGNet table: activation memory ("224*224*64=3.2M", ..., "7*7*512=25K") and weights
# ("(3*3*3)*64 = 1,728", "(3*3*64)*64 = 36,864", ..., "7*7*512*4096 = 102,760,448",
# "4096*4096 = 16,777,216", "4096*1000 = 4,096,000"), in network order.
CS231N_MEMORY = [
    3.2e6, 3.2e6, 800e3, 1.6e6, 1.6e6, 400e3, 800e3, 800e3, 800e3, 200e3,
    400e3, 400e3, 400e3, 100e3, 100e3, 100e3, 100e3, 25e3, 4096, 4096, 1000,
]  # fmt: skip
CS231N_WEIGHTS = [
    1_728, 36_864, 0, 73_728, 147_456, 0, 294_912, 589_824, 589_824, 0,
    1_179_648, 2_359_296, 2_359_296, 0, 2_359_296, 2_359_296, 2_359_296, 0,
    102_760_448, 16_777_216, 4_096_000,
]  # fmt: skip


def test_vgg16_cs231n_table() -> None:
    rows = rows_by_name(spec_analysis("vgg16"))
    layers = vgg16_layers()
    assert len(layers) == len(CS231N_MEMORY) == len(CS231N_WEIGHTS) == 21
    for (name, (h, w, c), weights), memory, cs_weights in zip(
        layers, CS231N_MEMORY, CS231N_WEIGHTS, strict=True
    ):
        row = rows[name]
        elements = h * w * c
        assert row.activation_bytes == 4 * elements, name  # fp32, batch 1
        assert abs(elements - memory) / memory < 0.004, name  # CS231n rounds to 2 digits
        assert row.weights == weights == cs_weights, name
        assert row.biases == (c if weights else 0), name  # biases apart, as CS231n leaves them
    assert rows["data"].activation_bytes == 4 * 224 * 224 * 3  # CS231n INPUT: 150K


def test_vgg16_forward_activation_memory() -> None:
    # by hand: the input and every conv/pool/fc output, each once — the ReLUs run in place
    # (torchvision's ReLU(inplace=True)) and share their input's memory; the two dropouts of the
    # classifier write new memory (4096 each), as torchvision's do.
    elements = 224 * 224 * 3 + sum(h * w * c for _, (h, w, c), _ in vgg16_layers())
    assert elements == 15_237_608
    assert spec_analysis("vgg16").totals.forward_activation_bytes == 4 * (elements + 2 * 4096)


def test_alexnet_conv1(zoo_dir: Path) -> None:
    # REF §1 "AlexNet conv1 96×55×55"; by hand (227 - 11)/4 + 1 = 55, weights 11·11·3·96.
    rows = rows_by_name(analyze(netc.load(zoo_dir / "caffe" / "bvlc_alexnet.deploy.prototxt")))
    conv1 = rows["conv1"]
    assert conv1.output == (10, 96, 55, 55)
    assert conv1.weights == 11 * 11 * 3 * 96 == 34_848
    assert conv1.biases == 96
    assert conv1.macs == 10 * 55 * 55 * 34_848


# ---- receptive fields ----------------------------------------------------------------------------

HEAD = 'name: "t"\ninput: "data"\ninput_shape { dim: 1 dim: 3 dim: 32 dim: 32 }\n'


def fields(text: str) -> dict[str, tuple[tuple[float, float, float], ...] | None]:
    rows = analyze(netc.load(text)).rows
    return {
        r.name: tuple((a.size, a.jump, a.start) for a in r.field) if r.field else None for r in rows
    }


def test_three_stacked_3x3_convolutions_see_7() -> None:
    # by hand: 1 + 2 + 2 + 2 = 7; stride 1 keeps the jump at 1; pad 1 keeps the first output
    # centred on pixel 0 (start 0.5).
    f = fields(
        HEAD
        + "".join(
            f'layer {{ name: "c{i}" type: "Convolution" num_output: 4 kernel_size: 3 pad: 1 }}\n'
            for i in range(3)
        )
    )
    assert f["data"] == ((1, 1, 0.5),) * 2
    assert f["c0"] == ((3, 1, 0.5),) * 2
    assert f["c2"] == ((7, 1, 0.5),) * 2


def test_padded_strided_and_dilated_fields() -> None:
    f = fields(
        HEAD
        + 'layer { name: "a" type: "Convolution" num_output: 4 kernel_size: 5 stride: 2 pad: 1 }\n'
        'layer { name: "b" type: "Convolution" num_output: 4 kernel_size: 3 }\n'
        'layer { name: "c" type: "Convolution" num_output: 4 kernel_size: 3 dilation: 2 pad: 2 }\n'
        'layer { name: "p" type: "Pooling" pool: MAX kernel_size: 2 stride: 2 }\n'
    )
    # by hand, a: 5×5/2 pad 1 — the first output covers pixels -1..3, centre pixel 1 -> 1.5.
    assert f["a"] == ((5, 2, 1.5),) * 2
    # b: 3×3/1 pad 0 over a's outputs 0..2: 5 + 2·2 = 9, centre = a's output 1 = 1.5 + 2 = 3.5.
    assert f["b"] == ((9, 2, 3.5),) * 2
    # c: dilation 2 makes the 3×3 span 5 of b's outputs: 9 + 4·2 = 17; pad 2 keeps the centre.
    assert f["c"] == ((17, 2, 3.5),) * 2
    # p: 2×2/2 over c: 17 + 2 = 19, jump 4, centre between c's outputs 0 and 1: 3.5 + 1 = 4.5.
    assert f["p"] == ((19, 4, 4.5),) * 2


def test_deconvolution_size_and_jump() -> None:
    # by hand: a 4×4/2 transposed convolution (pad 1) after a 3×3 conv: each output is fed by
    # at most ceil(4/2) = 2 neighbouring inputs, so the field grows by 1 input (1 pixel) to 4,
    # and neighbouring outputs are half an input apart (jump 1/2). (Its start: §5 caveat.)
    f = fields(
        HEAD + 'layer { name: "conv" type: "Convolution" num_output: 4 kernel_size: 3 }\n'
        'layer { name: "up" type: "Deconvolution" num_output: 4 kernel_size: 4 stride: 2 pad: 1 }\n'
    )
    assert f["up"] is not None
    assert [(size, jump) for size, jump, _ in f["up"]] == [(4, 0.5)] * 2


def test_fully_connected_flatten_and_global_pooling_see_the_whole_map() -> None:
    conv = 'layer { name: "conv" type: "Convolution" num_output: 4 kernel_size: 3 }\n'
    # by hand: conv 3×3 on 32² -> 30² outputs centred at 1.5 .. 30.5; the whole map spans
    # 3 + 29 = 32 pixels centred at (1.5 + 30.5) / 2 = 16.
    whole = ((32, 1, 16.0),) * 2
    for tail in (
        'layer { name: "x" type: "InnerProduct" num_output: 2 }\n',
        'layer { name: "x" type: "Flatten" }\n',
        'layer { name: "x" type: "Pooling" pool: AVE global_pooling: true }\n',
    ):
        assert fields(HEAD + conv + tail)["x"] == whole, tail


def test_fully_connected_after_reshape_sees_the_whole_map() -> None:
    f = fields(
        HEAD + 'layer { name: "conv" type: "Convolution" num_output: 4 kernel_size: 3 }\n'
        'layer { name: "flat" type: "Reshape" shape { dim: 0 dim: -1 } }\n'
        'layer { name: "fc" type: "InnerProduct" num_output: 2 }\n'
    )
    assert f["fc"] == ((32, 1, 16.0),) * 2  # as directly or after Flatten (test above)


def test_lrn_within_channel_grows_the_field() -> None:
    f = fields(
        HEAD + 'layer { name: "conv" type: "Convolution" num_output: 4 kernel_size: 3 }\n'
        'layer { name: "n" type: "LRN" local_size: 3 norm_region: WITHIN_CHANNEL }\n'
    )
    assert f["n"] == ((5, 1, 1.5),) * 2  # by hand: 3 + (3 - 1)·1, centred (pad 1)


def test_vgg16_pool5_field_is_212() -> None:
    # by hand: five stages of n 3×3 convs then a 2×2/2 pool; size grows 2·jump per conv and
    # 1·jump per pool, jump doubles per pool: (1+4+1) = 6, +2·2·2+2 = 16, +3·2·4+4 = 44,
    # +3·2·8+8 = 100, +3·2·16+16 = 212; jump 32; start: each pool moves the centre by jump/2:
    # 0.5 + 0.5 + 1 + 2 + 4 + 8 = 16.
    pool5 = rows_by_name(spec_analysis("vgg16"))["features.30"]
    assert pool5.type == "Pooling"
    assert pool5.field is not None
    assert [(a.size, a.jump, a.start) for a in pool5.field] == [(212, 32, 16)] * 2


def test_resnet50_field_through_the_shortcut() -> None:
    # by hand (torchvision ResNet-50): conv1 7×7/2 pad 3 -> 7 (jump 2); maxpool 3×3/2 pad 1 ->
    # 7 + 2·2 = 11 (jump 4); layer1.0: conv1 1×1 -> 11, conv2 3×3 -> 11 + 2·4 = 19, conv3 1×1 ->
    # 19; the shortcut (downsample 1×1) stays at 11; the sum takes the larger: 19.
    rows = rows_by_name(spec_analysis("resnet50"))

    def size(name: str) -> float:
        field = rows[name].field
        assert field is not None and len({a.size for a in field}) == 1
        return field[0].size

    assert [size(n) for n in ("conv1", "maxpool")] == [7, 11]
    assert size("layer1.0.conv2") == 19
    assert size("layer1.0.downsample.1") == 11
    assert size("layer1.0.add") == size("layer1.0.relu3") == 19
    field = rows["layer1.0.relu3"].field
    assert field is not None
    assert {(a.jump, a.start) for a in field} == {(4, 0.5)}
    # layer2.0 (v1.5: stride in the 3×3): 19 + 2·2·4 (two more 3×3s in layer1.1/1.2) = 35 at its
    # input; conv2 3×3/2 -> 35 + 2·4 = 43 (jump 8); shortcut 1×1/2 -> 35. Sum: 43.
    assert size("layer2.0.downsample.1") == 35
    assert size("layer2.0.add") == 43


# ---- training memory -----------------------------------------------------------------------------

OPTIMIZERS = [("sgd", 0), ("sgd-momentum", 1), ("adam", 2), ("adamw", 2)]


@pytest.mark.parametrize(("dtype", "size"), [("fp32", 4), ("fp16", 2), ("bf16", 2)])
@pytest.mark.parametrize(("optimizer", "copies"), OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_parameter_gradient_and_optimizer_bytes(
    dtype: str, size: int, optimizer: str, copies: int
) -> None:
    # by hand from REF §2 resnet50: 25,557,032 params (all trainable) + 53,173 BN buffers.
    # parameters hold both; gradients the trainable ones; SGD keeps no state, momentum one
    # buffer, Adam/AdamW two moments per trainable parameter.
    memory = training_memory(spec("resnet50"), dtype=dtype, optimizer=optimizer)
    assert memory.parameters == (25_557_032 + 53_173) * size
    assert memory.gradients == 25_557_032 * size
    assert memory.optimizer == copies * 25_557_032 * size
    assert memory.peak == (
        memory.parameters
        + memory.gradients
        + memory.optimizer
        + memory.activations
        + memory.workspace
    )


TINY = """name: "tiny"
input: "data"
input_shape { dim: 2 dim: 3 dim: 8 dim: 8 }
layer { name: "conv" type: "Convolution" num_output: 4 kernel_size: 3 pad: 1 }
layer { name: "relu" type: "ReLU" inplace: true }
layer { name: "pool" type: "Pooling" pool: MAX kernel_size: 2 stride: 2 }
layer { name: "bn" type: "BatchNorm" affine: true }
layer { name: "drop" type: "Dropout" dropout_ratio: 0.5 inplace: true }
layer { name: "fc" type: "InnerProduct" num_output: 10 }
layer { name: "prob" type: "Softmax" }
"""


def test_tiny_training_memory_by_hand() -> None:
    # by hand, fp32, batch 2. Tensors: data 2·3·8·8 = 384, conv 2·4·8·8 = 512 (the in-place
    # ReLU overwrites it), pool 2·4·4·4 = 128, bn 128, drop 128 (new memory, as in torch), fc
    # 2·10 = 20, prob 20. Params: conv 4·3·3·3 + 4 = 112, bn γ,β 4 + 4 = 8, fc 10·64 + 10 = 650
    # (770, all trainable) + buffers: bn mean 4, var 4, factor 1 = 9.
    graph = netc.load(TINY)
    analysis = analyze(graph, optimizer="sgd-momentum")
    assert (analysis.totals.params, analysis.totals.trainable, analysis.totals.buffers) == (
        770,
        770,
        9,
    )
    assert analysis.totals.forward_activation_bytes == (384 + 512 + 128 + 128 + 128 + 20 + 20) * 4
    # Saved for backward (the first layer is trainable, so every layer's output needs a grad):
    # conv its input (data, 384·4 = 1,536); relu its output (= conv's memory, 512·4 = 2,048);
    # pool its input (the same memory: counted once) + int64 indices 128·8 = 1,024; bn its input
    # (pool, 128·4 = 512) + batch mean and 1/std 2·4·4 = 32; dropout its mask 128·1 = 128; fc its
    # input (the dropout's output, 512); softmax its output 20·4 = 80.
    kept, extras = saved_storages(graph)
    assert kept == {"data": 1_536, "conv": 2_048, "pool": 512, "bn#1": 512, "prob": 80}
    assert extras == 1_024 + 32 + 128
    memory = analysis.training
    assert memory.activations == 1_536 + 2_048 + 1_024 + 512 + 32 + 128 + 512 + 80 == 5_872
    assert memory.parameters == (770 + 9) * 4
    assert memory.gradients == memory.optimizer == 770 * 4
    assert memory.workspace == 512 * 4  # the largest tensor, conv's output
    assert memory.peak == 3_116 + 3_080 + 3_080 + 5_872 + 2_048


def test_tiny_frozen_backbone_saves_only_from_the_first_trainable_layer() -> None:
    # Freezing conv .. bn leaves fc the first trainable layer: nothing upstream of it needs a
    # gradient, so only fc's input (the dropout's output, 512) and softmax's output (80) are kept.
    full = netc.load(TINY)
    frozen = netc.load(TINY + 'freeze "conv" .. "bn"\n')
    kept, extras = saved_storages(frozen)
    assert kept == {"bn#1": 512, "prob": 80}
    assert extras == 0
    memory = training_memory(frozen)
    assert memory.activations == 592 < training_memory(full).activations
    assert memory.gradients == 650 * 4  # fc only
    assert memory.parameters == training_memory(full).parameters  # frozen weights still exist


def test_vgg16_frozen_backbone(tmp_path: Path) -> None:
    # extends + freeze: the 13 convolutions frozen, the classifier trainable.
    (tmp_path / "vgg16.net").write_text((SPECS / "vgg16.net").read_text(encoding="utf-8"))
    derived = write(
        tmp_path,
        "frozen.net",
        'extends "vgg16.net"\nname: "vgg16-frozen"\nfreeze "features.0" .. "features.30"\n',
    )
    graph = netc.load(derived)
    full, part = training_memory(spec("vgg16")), training_memory(graph)
    assert part.activations < full.activations
    # by hand: trainable = the classifier, 25088·4096 + 4096 + 4096·4096 + 4096 + 4096·1000 +
    # 1000 = 123,642,856 (REF §2 vgg16 138,357,544 minus the convolutions' 14,714,688).
    assert graph.trainable_count() == 123_642_856 == 138_357_544 - 14_714_688
    assert part.gradients == 4 * 123_642_856
    # Nothing upstream of classifier.0 is saved except its own input (pool5, 25,088 values);
    # then by hand: classifier.1 ReLU output 4096·4 (classifier.0's memory), classifier.2 mask
    # 4096·1, classifier.3 input (the dropout's own output, 4096·4), classifier.4 output 4096·4,
    # classifier.5 mask 4096·1, classifier.6 input (the second dropout's output, 4096·4).
    first = next(i for i, n in enumerate(graph.nodes) if any(b.trainable for b in n.blobs))
    assert graph.nodes[first].name == "classifier.0"
    allowed = set(graph.nodes[first].inputs) | {t for n in graph.nodes[first:] for t in n.outputs}
    kept, extras = saved_storages(graph)
    assert set(kept) <= allowed
    assert extras == 2 * 4096  # the two dropout masks
    assert part.activations == 25_088 * 4 + 4 * (4096 * 4) + 2 * 4096 == 174_080


def test_fit_finds_the_largest_batch() -> None:
    path = SPECS / "resnet18.net"

    def load(batch: int) -> netc.Graph:
        return netc.load(path, batch=batch)

    limit = 4 * GiB
    batch, peak, per_sample = fit_batch(load, limit, dtype="fp32", optimizer="adam")
    assert batch > 1
    assert peak == training_memory(load(batch), optimizer="adam").peak <= limit
    assert training_memory(load(batch + 1), optimizer="adam").peak > limit
    # affine in the batch: each sample adds the same bytes
    one, two = (training_memory(load(b), optimizer="adam").peak for b in (1, 2))
    assert per_sample == two - one
    assert peak == one + (batch - 1) * per_sample
    # nothing fits below the batch-1 peak
    assert fit_batch(load, one - 1, dtype="fp32", optimizer="adam")[0] == 0


def test_budget_parsing_and_evaluation() -> None:
    assert parse_size("24GiB") == 24 * GiB
    assert parse_size("4G") == 4e9
    assert parse_size("25M") == 25e6
    assert parse_size("1e9") == 1e9
    clauses = parse_budget("params<25M, macs<=4090M, train_mem(batch=2, optimizer=sgd)<1GiB")
    assert [(c.metric, c.op, c.limit) for c in clauses] == [
        ("params", "<", 25e6),
        ("macs", "<=", 4.09e9),
        ("train_mem", "<", GiB),
    ]
    assert clauses[2].options == {"batch": "2", "optimizer": "sgd"}
    analysis = spec_analysis("resnet50")
    verdicts = evaluate(clauses, analysis, lambda b: netc.load(SPECS / "resnet50.net", batch=b))
    # REF §2: 25,557,032 params > 25M; 4,089,184,256 MACs <= 4,090M
    assert [v.ok for v in verdicts][:2] == [False, True]
    assert verdicts[2].value == training_memory(spec("resnet50", 2), optimizer="sgd").peak
    for bad in ("params<<3", "speed<3", "params<3XB", "", "train_mem(epochs=3)<1G"):
        with pytest.raises(BudgetError):
            parse_budget(bad)


def test_budget_limit_is_the_written_decimal() -> None:
    (clause,) = parse_budget("macs<=4.1G")
    assert clause.limit == 4_100_000_000
    assert Verdict(clause, 4_100_000_000).ok


# ---- batch and input size ------------------------------------------------------------------------


def test_batch_and_input_size_scale_macs() -> None:
    # by hand: torchvision ResNet-50's maps at 224² are 112, 56, 28, 14, 7 and at 320² 160, 80,
    # 40, 20, 10 — every one × 10/7, so convolution MACs scale by (10/7)² = 100/49 per image and
    # by the batch; fc (after global pooling) only by the batch. REF §2: 4,089,184,256 MACs, of
    # which fc 2048·1000 = 2,048,000.
    conv_224 = 4_089_184_256 - 2_048_000
    assert conv_224 % 49 == 0
    graph = netc.load(SPECS / "resnet50.net", batch=8, input_size=(320, 320))
    analysis = analyze(graph)
    assert analysis.batch == 8
    assert analysis.inputs == {"data": (8, 3, 320, 320)}
    assert analysis.totals.macs == 8 * (conv_224 * 100 // 49 + 2_048_000)
    assert analysis.totals.params == 25_557_032  # the weights do not depend on the input
    rows = rows_by_name(analysis)
    assert rows["conv1"].macs == 8 * 160 * 160 * 64 * 3 * 7 * 7
    assert rows["conv1"].activation_bytes == 4 * 8 * 64 * 160 * 160


# ---- the report formats --------------------------------------------------------------------------

SCHEMA_PATH = DOCS / "analysis.schema.json"


def schema_validator() -> Any:
    """A jsonschema validator for docs/analysis.schema.json; skipped locally without jsonschema,
    a failure under CI (CI=true), where the dependency must be installed."""
    try:
        import jsonschema
    except ImportError:
        message = "jsonschema is not installed: the JSON schema cannot be checked"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_is_versioned() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["schema"]["const"] == "netc.analysis/2"
    assert set(schema["required"]) >= {"schema", "totals", "training_memory", "layers"}


REPORTED = ["vgg16", "resnet50", "googlenet", "lenet5", "alphago_policy"]


@pytest.mark.parametrize("name", REPORTED)
def test_json_yaml_csv_agree(name: str) -> None:
    analysis = spec_analysis(name)
    doc = json.loads(render(analysis, "json"))
    assert doc == json.loads(json.dumps(document(analysis)))
    assert doc["schema"] == "netc.analysis/2"
    assert yaml.safe_load(render(analysis, "yaml")) == doc
    table = list(csv.DictReader(io.StringIO(render(analysis, "csv"))))
    assert [r["name"] for r in table] == [layer["name"] for layer in doc["layers"]]
    assert len(table) == len(analysis.rows) == len(doc["layers"])
    assert sum(int(r["macs"]) for r in table) == doc["totals"]["macs"]


@pytest.mark.parametrize("name", REPORTED)
def test_json_validates_against_the_schema(name: str) -> None:
    validator = schema_validator()
    analysis = spec_analysis(name)
    validator.validate(json.loads(render(analysis, "json")))
    # collapsed rows, other conventions and dtypes validate too
    graph = spec(name)
    other = analyze(graph, counting="netscope", dtype="fp16", optimizer="adam")
    other.rows = collapse(other.rows, frames_index(graph), 1)
    validator.validate(json.loads(render(other, "json")))


def test_schema_rejects_a_wrong_document() -> None:
    validator = schema_validator()
    doc = json.loads(render(spec_analysis("lenet5"), "json"))
    for broken in (
        {**doc, "schema": "netc.analysis/1"},  # the version before: its own schema file
        {**doc, "totals": {**doc["totals"], "macs": -1}},
        {k: v for k, v in doc.items() if k != "layers"},
        {**doc, "surprise": 1},
    ):
        assert not validator.is_valid(broken)
