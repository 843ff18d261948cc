"""The language: protobuf text format as Caffe uses it, then netc's templates, loops, conditions,
expressions, imports and transfer statements."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import netc
from netc.diagnostics import NetcError

H = 'input: "data" input_shape { dim: 1 dim: 3 dim: 32 dim: 32 }\n'


def error_of(text: str) -> str:
    with pytest.raises(NetcError) as info:
        netc.load(text)
    return info.value.diagnostics[0].message


# ---- protobuf text format ----------------------------------------------------------------


def test_protobuf_text_format_spellings() -> None:
    graph = netc.load(
        """
        # a comment
        name: 'quoted' "and" 'joined'            # adjacent strings concatenate
        input: "data"; input_dim: 1, input_dim: 0x3  input_dim: 16 input_dim: 16
        layer: {                                   # optional ':' before a message
          name: "conv\\x31" type: "Convolution"     # escapes in strings: \\x31 is "1"
          convolution_param < num_output: 4 kernel_size: 3 bias_term: False >
          param { lr_mult: .5 decay_mult: 1e-4 }
        }
        layer { name: "pool" type: "Pooling" pool: 1 kernel_size: 2 stride: 2 }   # enum by number (AVE)
        layer { name: "relu" type: "ReLU" negative_slope: -inf }
        layer { name: "drop" type: "Dropout" dropout_ratio: 5e-1 }
        layer { name: "bn" type: "BatchNorm" use_global_stats: t }
        """
    )
    assert graph.name == "quotedandjoined"
    conv = graph.node("conv1")
    assert conv.params["bias_term"] is False and len(conv.blobs) == 1
    assert [(b.lr_mult, b.decay_mult) for b in conv.blobs] == [(0.5, 1e-4)]
    assert graph.tensor("data").shape == (1, 3, 16, 16)
    assert graph.node("pool").params["pool"] == "AVE"
    assert graph.node("relu").params["negative_slope"] == -math.inf
    assert graph.node("drop").params["dropout_ratio"] == 0.5
    assert graph.node("bn").params["use_global_stats"] is True


@pytest.mark.parametrize(
    ("spelling", "value"),
    [
        ("true", True),
        ("True", True),
        ("t", True),
        ("1", True),
        ("false", False),
        ("False", False),
        ("f", False),
        ("0", False),
    ],
)
def test_booleans_in_every_protobuf_spelling(spelling: str, value: bool) -> None:
    graph = netc.load(
        H
        + f'layer {{ name: "c" type: "Convolution" num_output: 2 kernel_size: 1 bias_term: {spelling} }}'
    )
    assert graph.node("c").params["bias_term"] is value


def test_strings_with_escapes() -> None:
    graph = netc.load(H + 'layer { name: "a\\"b\\\\c\\101\\u00e9" type: "ReLU" }')
    assert graph.nodes[-1].name == 'a"b\\cAé'


def test_non_repeated_field_twice_is_an_error_repeated_is_not() -> None:
    assert (
        error_of(H + 'layer { name: "p" type: "Pooling" kernel_size: 2 kernel_size: 2 }')
        == '"kernel_size" is given twice'
    )
    graph = netc.load(
        H + 'layer { name: "c" type: "Convolution" num_output: 2 kernel_size: 3 kernel_size: 1 }'
    )
    assert graph.node("c").blobs[0].shape == (2, 3, 3, 1)  # repeated: one size per spatial axis


def test_legacy_v1_layers_with_enum_types_by_name_and_number() -> None:
    graph = netc.load(
        H
        + "layers { name: 'c' type: CONVOLUTION convolution_param { num_output: 2 kernel_size: 1 } blobs_lr: 1 blobs_lr: 2 weight_decay: 1 weight_decay: 0 }\n"
        + "layers { name: 'r' type: 18 }\n"  # V1 enum number 18 = RELU
    )
    assert [n.type for n in graph.nodes] == ["Input", "Convolution", "ReLU"]
    assert [(b.lr_mult, b.decay_mult) for b in graph.node("c").blobs] == [(1, 1), (2, 0)]


def test_include_exclude_phases_default_to_test() -> None:
    text = (
        'layer { name: "train_data" type: "Input" top: "data" shape { dim: 64 dim: 1 dim: 28 dim: 28 } include { phase: TRAIN } }\n'
        'layer { name: "test_data" type: "Input" top: "data" shape { dim: 100 dim: 1 dim: 28 dim: 28 } include { phase: TEST } }\n'
        'layer { name: "fc" type: "InnerProduct" num_output: 10 }\n'
        'layer { name: "drop" type: "Dropout" exclude { phase: TEST } }\n'
    )
    test = netc.load(text)
    assert [n.name for n in test.nodes] == ["test_data", "fc"]
    assert test.tensor("fc").shape == (100, 10)
    train = netc.load(text, phase="TRAIN")
    assert [n.name for n in train.nodes] == ["train_data", "fc", "drop"]
    assert train.tensor("fc").shape == (64, 10)


def test_data_layer_with_crop_size_is_the_input() -> None:
    graph = netc.load(
        'layer { name: "data" type: "Data" top: "data" top: "label" data_param { batch_size: 50 source: "x" }'
        " transform_param { crop_size: 227 mirror: true } }\n"
        'layer { name: "conv1" type: "Convolution" bottom: "data" num_output: 96 kernel_size: 11 stride: 4 }\n'
    )
    assert graph.tensor("data").shape == (50, 3, 227, 227)
    assert graph.tensor("label").shape == (50,)
    assert graph.tensor("conv1").shape == (50, 96, 55, 55)  # (227 - 11) / 4 + 1
    assert [graph.tensors[t].blob for t in graph.inputs] == ["data", "label"]


# ---- netc extensions -----------------------------------------------------------------------


def test_flat_parameters_equal_nested_ones() -> None:
    flat = netc.load(
        H + 'layer { name: "c" type: "Convolution" num_output: 8 kernel_size: 3 stride: 2 }'
    )
    nested = netc.load(
        H
        + 'layer { name: "c" type: "Convolution" convolution_param { num_output: 8 kernel_size: 3 stride: 2 } }'
    )
    assert flat.node("c").params.values == nested.node("c").params.values
    assert flat.tensor("c").shape == nested.tensor("c").shape == (1, 8, 15, 15)
    assert "is given twice" in error_of(
        H
        + 'layer { name: "c" type: "Convolution" num_output: 8 convolution_param { num_output: 8 } kernel_size: 1 }'
    )


def test_implicit_wiring_and_naming() -> None:
    graph = netc.load(
        H
        + 'layer { type: "Convolution" num_output: 4 kernel_size: 3 }\n'
        + 'layer { type: "ReLU" }\n'
        + 'layer { type: "Convolution" num_output: 4 kernel_size: 3 }\n'
        + 'layer { type: "ReLU" inplace: true }\n'
    )
    assert [n.name for n in graph.nodes] == ["data", "conv1", "relu1", "conv2", "relu2"]
    relu2 = graph.node("relu2")
    assert relu2.inputs == ["conv2"] and relu2.outputs == ["conv2#1"] and relu2.in_place
    assert graph.node("conv2").inputs == ["relu1"]


TEMPLATES = """
name: "tiny-resnet"
input: "data" input_shape { dim: 1 dim: 3 dim: 32 dim: 32 }

define basic(planes: int, stride: int = 1, project: bool = false) {
  layer { name: "conv1" type: "Convolution" num_output: planes kernel_size: 3 pad: 1 stride: stride bias_term: false }
  layer { name: "bn1" type: "BatchNorm" affine: true }
  layer { name: "relu" type: "ReLU" inplace: true }
  layer { name: "conv2" type: "Convolution" num_output: planes kernel_size: 3 pad: 1 bias_term: false }
  if project {
    layer { name: "downsample" bottom: input type: "Convolution" num_output: planes kernel_size: 1 stride: stride bias_term: false }
  }
  layer { name: "add" type: "Eltwise" bottom: "conv2" bottom: project ? "downsample" : input }
}

define stage(planes, blocks, stride) {
  repeat i in 0..blocks - 1 {
    basic "${i}" { planes: planes stride: i == 0 ? stride : 1 project: i == 0 and stride != 1 }
  }
}

layer { name: "stem" type: "Convolution" num_output: 16 kernel_size: 3 pad: 1 }
repeat i, cfg in [[16, 2, 1], [32, 2, 2]] {
  stage "layer${i + 1}" { planes: cfg[0] blocks: cfg[1] stride: cfg[2] }
}
layer { name: "fc" type: "InnerProduct" num_output: 10 }
"""


def test_templates_scopes_repeat_if_and_expressions() -> None:
    graph = netc.load(TEMPLATES)
    names = [n.name for n in graph.nodes]
    assert "layer1.0.conv1" in names and "layer2.1.add" in names
    assert "layer1.0.downsample" not in names  # stride 1, same width: identity shortcut
    assert "layer2.0.downsample" in names and "layer2.1.downsample" not in names
    assert graph.node("layer1.0.add").inputs == [
        "layer1.0.conv2",
        "stem",
    ]  # `input` = the block input
    assert graph.node("layer2.0.add").inputs == ["layer2.0.conv2", "layer2.0.downsample"]
    assert graph.tensor("layer2.1.add").shape == (1, 32, 16, 16)
    frames = graph.node("layer2.1.conv1").frames
    assert [(f.template, f.path) for f in frames] == [("stage", "layer2"), ("basic", "layer2.1")]
    assert graph.node("layer2.1.conv1").scope == "layer2.1"


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("64 / 16", 4),  # exact division stays an integer
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 % 3", 2),
        ("2 ** 3 ** 2", 512),  # right-associative
        ("(1 + 2) * 3", 9),
        ("1 + 2 * 3", 7),
        ("max(3, 8, 5) - min([4, 2])", 6),
        (
            "len([1, 2, 3]) + int(2.9) + round(2.5) + ceil(0.1) + floor(-0.5)",
            7,
        ),  # round half to even
        ("3 > 2 and not 1 == 2 ? 10 : 20", 10),
        ("[8, 16, 32][-1]", 32),
        ("abs(-4) * float(2)", 8.0),
    ],
)
def test_expressions(expression: str, value: float) -> None:
    graph = netc.load(f"let v = {expression}\nname: str(v)\n")
    assert graph.name == netc.lang.evaluate.render(value)


# The grammar lexes a lone literal field value as one token (a speed path); whatever follows
# it decides whether it is lone, so each value below must mean what the expression says.
@pytest.mark.parametrize(
    ("value_text", "channels"),
    [
        ("64", 64),
        ("0x10", 16),
        ("0x10 + 1", 17),  # "0" must not be taken alone
        ("16\n    * 2", 32),  # an expression continued on the next line
        ("8  # eight\n    + 8", 16),
        ("k", 3),
        ("k\n    + 1", 4),
        ("max(k, 2)", 3),
        ("k > 2 ? 5 : 6", 5),
        ("k == 3\n    and true ? 7 : 8", 7),
        ("2.0f == 2 ? 9 : 1", 9),
    ],
)
def test_field_values_lone_or_continued(value_text: str, channels: int) -> None:
    text = H + (
        "let k = 3\n"
        f'layer {{ name: "c" type: "Convolution" num_output: {value_text}\n'
        "        kernel_size: 1 }\n"
    )
    assert netc.load(text).tensor("c").shape == (1, channels, 32, 32)


def test_string_interpolation_in_names() -> None:
    graph = netc.load(
        H
        + 'repeat i in 1..3 { layer { name: "conv${i}_${2 * i}" type: "ReLU" } }\nlayer { name: "x$${i}" type: "ReLU" }'
    )
    assert [n.name for n in graph.nodes[1:]] == ["conv1_2", "conv2_4", "conv3_6", "x${i}"]


def test_import_templates_from_a_subfolder(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.net").write_text(
        'import "more.net"\nlet width = 8\ndefine conv_relu(n = width) {\n'
        '  layer { name: "conv" type: "Convolution" num_output: n kernel_size: 3 pad: 1 }\n'
        '  layer { name: "relu" type: "ReLU" inplace: true }\n}\n'
    )
    (tmp_path / "lib" / "more.net").write_text(
        'define head(k) { layer { name: "fc" type: "InnerProduct" num_output: k } }\n'
    )
    main = tmp_path / "net.net"
    main.write_text(
        H
        + 'import "lib/blocks.net"\nconv_relu "a" { }\nconv_relu "b" { n: width * 2 }\nhead "out" { k: 3 }\n'
    )
    graph = netc.load(main)
    assert graph.tensor("a.conv").shape == (1, 8, 32, 32)
    assert graph.tensor("b.conv").shape == (1, 16, 32, 32)
    assert graph.tensor("out.fc").shape == (1, 3)


def test_extends_reaches_up_inside_a_project_only(tmp_path: Path) -> None:
    base = 'input: "data" input_shape { dim: 1 dim: 1 dim: 8 dim: 8 }\nlayer { name: "fc" type: "InnerProduct" num_output: 4 }\n'
    (tmp_path / "outside.net").write_text(base)
    project = tmp_path / "project"
    (project / "recipes").mkdir(parents=True)
    (project / "base.net").write_text(base)
    recipe = project / "recipes" / "r.net"
    recipe.write_text(
        'extends "../base.net"\nreplace "fc" { layer { name: "fc2" type: "InnerProduct" num_output: 2 } }\n'
    )
    with pytest.raises(NetcError, match="leaves the importing file's folder"):
        netc.load(recipe)  # no project marker: a file's imports stay below its folder
    (project / "netc.toml").write_text("")
    assert netc.load(recipe).tensor("fc2").shape == (1, 2)
    escape = project / "recipes" / "e.net"
    escape.write_text('extends "../../outside.net"\n')
    with pytest.raises(NetcError, match="leaves the project"):
        netc.load(escape)


def test_imported_files_hold_templates_only(tmp_path: Path) -> None:
    (tmp_path / "lib.net").write_text('layer { name: "x" type: "ReLU" }\n')
    main = tmp_path / "net.net"
    main.write_text(H + 'import "lib.net"\n')
    with pytest.raises(NetcError) as info:
        netc.load(main)
    diagnostic = info.value.diagnostics[0]
    assert "may hold only templates" in diagnostic.message
    assert diagnostic.span is not None and diagnostic.span.file.endswith("lib.net")


BASE = (
    'name: "base"\n'
    + H
    + 'layer { name: "conv1" type: "Convolution" num_output: 8 kernel_size: 3 }\n'
    'layer { name: "relu1" type: "ReLU" inplace: true }\n'
    'layer { name: "conv2" type: "Convolution" num_output: 8 kernel_size: 3 }\n'
    'layer { name: "relu2" type: "ReLU" inplace: true }\n'
    'layer { name: "fc" type: "InnerProduct" num_output: 1000 }\n'
    'layer { name: "prob" type: "Softmax" }\n'
)


def test_derive_replace_the_head_and_freeze(tmp_path: Path) -> None:
    (tmp_path / "base.net").write_text(BASE)
    derived = tmp_path / "finetune.net"
    derived.write_text(
        'extends "base.net"\nname: "finetune"\n'
        'replace "fc" { layer { name: "fc_flowers" type: "InnerProduct" num_output: 102 } }\n'
        'freeze "conv1" .. "relu2"\n'
        'tune "fc_flowers" { param { lr_mult: 10 decay_mult: 1 } param { lr_mult: 20 decay_mult: 0 } }\n'
    )
    graph = netc.load(derived)
    assert graph.name == "finetune"
    assert [n.name for n in graph.nodes] == [
        "data",
        "conv1",
        "relu1",
        "conv2",
        "relu2",
        "fc_flowers",
        "prob",
    ]
    assert graph.tensor("prob").shape == (1, 102)
    assert graph.node("prob").inputs == ["fc_flowers"]
    assert not any(b.trainable for n in graph.nodes[:5] for b in n.blobs)
    assert [(b.lr_mult, b.decay_mult) for b in graph.node("fc_flowers").blobs] == [(10, 1), (20, 0)]
    assert graph.node("conv2").frozen and not graph.node("fc_flowers").frozen
    # trainable = the new head only: 102 · (8·28·28) weights + 102 biases
    assert graph.trainable_count() == 102 * 8 * 28 * 28 + 102


def test_remove_and_append_a_new_head(tmp_path: Path) -> None:
    (tmp_path / "base.net").write_text(BASE)
    derived = tmp_path / "features.net"
    derived.write_text(
        'extends "base.net"\nremove "prob"\nremove "fc"\nlayer { name: "embed" type: "InnerProduct" num_output: 64 }\n'
    )
    graph = netc.load(derived)
    assert graph.node("embed").inputs == ["conv2#1"]  # continues from the last remaining top
    assert [graph.tensors[t].blob for t in graph.outputs] == ["embed"]


def test_freeze_a_whole_instance_and_a_layer_flag() -> None:
    graph = netc.load(TEMPLATES + 'freeze "layer1"\n')
    frozen = {n.name for n in graph.nodes if n.frozen}
    assert frozen == {n.name for n in graph.nodes if n.name.startswith("layer1.")}
    flagged = netc.load(
        H + 'layer { name: "c" type: "Convolution" num_output: 2 kernel_size: 1 frozen: true }'
    )
    assert flagged.trainable_count() == 0 and flagged.params_count() == 2 * 3 + 2


def test_resnet152_style_spec_is_short() -> None:
    # the goal of the language: a deep net in a few dozen lines, not thousands
    assert len(TEMPLATES.strip().splitlines()) < 30
    # data + stem + 4 blocks × 5 layers + one projection + fc
    assert len(netc.load(TEMPLATES)) == 1 + 1 + 4 * 5 + 1 + 1


def test_an_instance_can_be_fed_and_named_as_a_blob() -> None:
    graph = netc.load(
        H
        + "define branch(n) {\n"
        + '  layer { name: "conv" type: "Convolution" num_output: n kernel_size: 1 }\n'
        + '  layer { name: "relu" type: "ReLU" inplace: true }\n'
        + "}\n"
        + "define inception() {\n"
        + '  branch "b1" { n: 2 }\n'
        + '  branch "b2" { n: 3 input: input }\n'  # both branches read the block's input
        + '  layer { name: "cat" type: "Concat" bottom: "b1" bottom: "b2" }\n'  # instances as blobs
        + "}\n"
        + 'inception "mixed" { }\n'
        + 'branch "tail" { n: 4 input: "data" }\n'
    )
    assert graph.node("mixed.b2.conv").inputs == ["data"]
    assert graph.node("mixed.cat").inputs == ["mixed.b1.conv#1", "mixed.b2.conv#1"]
    assert graph.tensor("mixed.cat").shape == (1, 5, 32, 32)
    assert graph.node("tail.conv").inputs == ["data"]
