"""`netc fmt` is canonical and idempotent and loses nothing; `netc convert` round-trips Caffe files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, accepted_prototxts
from ir_compare import ir_signature

import netc
from netc.api import read_source
from netc.diagnostics import Source
from netc.lang.convert import to_netc, to_prototxt
from netc.lang.format import format_file
from netc.lang.parser import parse

ZOO_FILES = accepted_prototxts()
SPEC_FILES = sorted((REPO_ROOT / "specs").glob("*.net"))
ALL_FILES = ZOO_FILES + SPEC_FILES


def fmt(text: str, name: str = "<fmt>") -> str:
    return format_file(parse(Source(name, text)))


def comments(text: str) -> list[str]:
    return [c.text for c in parse(Source("<c>", text)).comments]


@pytest.mark.parametrize("path", ALL_FILES, ids=[p.name for p in ALL_FILES])
def test_fmt_is_idempotent_and_faithful(path: Path) -> None:
    source = read_source(path)
    once = fmt(source.text, str(path))
    assert fmt(once, str(path)) == once
    assert comments(once) == comments(source.text)  # every comment kept, in order
    # same network before and after (a spec's imports resolve against its own folder)
    formatted = path.with_name(f".fmt-{path.name}") if path.suffix == ".net" else None
    if formatted is None:
        assert ir_signature(netc.load(Source(str(path), once))) == ir_signature(netc.load(path))
    else:
        assert ir_signature(netc.load(Source(str(path), once))) == ir_signature(netc.load(path))


@pytest.mark.parametrize("path", ZOO_FILES, ids=[p.name for p in ZOO_FILES])
def test_convert_round_trips_caffe_files(path: Path) -> None:
    original = netc.load(path)
    compact = to_netc(parse(read_source(path)))
    via_netc = netc.load(Source(f"{path}.net", compact))
    assert ir_signature(via_netc) == ir_signature(original)
    plain = to_prototxt(netc.expand(Source(f"{path}.net", compact)))
    assert ir_signature(netc.load(Source(f"{path}.back", plain))) == ir_signature(original)
    # compact: parameters flat, a linear chain needs no bottom, every comment survives
    assert "convolution_param" not in compact and "pooling_param" not in compact
    assert len(compact.splitlines()) < len(path.read_text().splitlines())
    assert comments(compact) == comments(path.read_text())
    assert fmt(compact) == compact


def test_convert_leaves_linear_chains_implicit(zoo_dir: Path) -> None:
    compact = to_netc(
        parse(read_source(zoo_dir / "caffe" / "VGG_ILSVRC_16_layers_deploy.prototxt"))
    )
    assert "bottom:" not in compact  # VGG is one chain
    assert "layers {" not in compact and "CONVOLUTION" not in compact  # V1 became `layer`
    assert (
        'layer { name: "conv1_1" type: "Convolution" num_output: 64 pad: 1 kernel_size: 3 }'
        in compact
    )
    assert re.search(r"input_shape \{ dim: 10 dim: 3 dim: 224 dim: 224 \}", compact)


def test_convert_keeps_branch_wiring(zoo_dir: Path) -> None:
    compact = to_netc(parse(read_source(zoo_dir / "caffe" / "bvlc_googlenet.deploy.prototxt")))
    # every branch of an inception block reads the previous block's output explicitly
    assert compact.count('bottom: "pool2/3x3_s2"') == 3  # the first branch follows pool2 implicitly
    assert 'layer { name: "inception_3a/relu_1x1" type: "ReLU" top: "inception_3a/1x1" }' in compact


SPEC_WITH_EXTENSIONS = """
name: "ext"
input: "data" input_shape { dim: 2 dim: 3 dim: 16 dim: 16 }
define conv_bn(n) {
  layer { name: "conv" type: "Convolution" num_output: n kernel_size: 3 pad: 1 bias_term: false }
  layer { name: "bn" type: "BatchNorm" affine: true }
  layer { name: "relu" type: "ReLU" inplace: true }
}
repeat i in 1..2 { conv_bn "block${i}" { n: 4 * i } }
layer { name: "fc" type: "InnerProduct" num_output: 10 }
freeze "block1"
tune "block2" { lr_mult: 0.1 }
"""


def test_to_prototxt_spells_netc_extensions_in_caffe_terms() -> None:
    graph = netc.load(SPEC_WITH_EXTENSIONS)
    plain = to_prototxt(
        netc.expand(SPEC_WITH_EXTENSIONS), {n.name: len(n.blobs) for n in graph.nodes}
    )
    assert "affine" not in plain and "freeze" not in plain and "inplace" not in plain
    caffe = netc.load(plain)
    # affine BatchNorm -> BatchNorm + Scale(bias_term): same learnable and buffer counts
    assert caffe.params_count() == graph.params_count()
    assert caffe.params_count("buffer") == graph.params_count("buffer")
    assert caffe.node("block1.bn/scale").type == "Scale"
    # freeze -> lr_mult 0 on every blob; tune -> its multipliers
    assert all(b.lr_mult == 0 for b in caffe.node("block1.conv").blobs)
    assert [b.lr_mult for b in caffe.node("block2.conv").blobs] == [0.1]
    assert caffe.trainable_count() == graph.trainable_count()
    # explicit wiring: the in-place ReLU reads and writes the BatchNorm's blob
    assert 'bottom: "block1.bn"\n  top: "block1.bn"' in plain


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netc", *args], capture_output=True, text=True, cwd=cwd, check=False
    )


def test_fmt_write_check_and_atomicity(tmp_path: Path) -> None:
    path = tmp_path / "net.net"
    messy = 'name:"n"  # keep me\ninput: "data" input_shape{dim:1 dim:3 dim:8 dim:8}\nlayer<name:"r" type:"ReLU">\n'
    path.write_text(messy)
    os.chmod(path, 0o640)
    assert run("fmt", "--check", str(path)).returncode == 1
    printed = run("fmt", str(path))
    assert printed.returncode == 0 and path.read_text() == messy  # printing never writes
    assert run("fmt", "--write", str(path)).returncode == 0
    assert path.read_text() == printed.stdout
    assert "# keep me" in path.read_text()
    assert os.stat(path).st_mode & 0o777 == 0o640  # permissions survive the atomic replace
    assert run("fmt", "--check", str(path)).returncode == 0
    assert [p.name for p in tmp_path.iterdir()] == ["net.net"]  # no temporary file left behind


def test_fmt_write_leaves_a_bad_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "bad.net"
    path.write_text("layer { name: \n")
    result = run("fmt", "--write", str(path))
    assert result.returncode == 1 and "bad.net:1:15: error: unexpected end of file" in result.stderr
    assert path.read_text() == "layer { name: \n"


def test_convert_output_does_not_overwrite_without_force(zoo_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "lenet.net"
    target.write_text("# mine\n")
    source = zoo_dir / "caffe" / "lenet.prototxt"
    refused = run("convert", str(source), "-o", str(target))
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert target.read_text() == "# mine\n"
    assert run("convert", str(source), "-o", str(target), "--force").returncode == 0
    assert ir_signature(netc.load(target)) == ir_signature(netc.load(source))


def test_fmt_layout_rules() -> None:
    text = "define t(a: int, b = 2 * (3 + 1)) { layer { name: 'x' type: \"ReLU\" } }\nt 'i' { a: - 1 }\n"
    assert fmt(text) == (
        "define t(a: int, b = 2 * (3 + 1)) {\n"
        '  layer { name: "x" type: "ReLU" }\n'
        "}\n"
        't "i" { a: -1 }\n'
    )
    long = "layer { " + " ".join(f"dim: {i}" for i in range(40)) + " }"
    assert fmt(long).splitlines()[1] == "  dim: 0"  # too wide for one line
    assert fmt('a: "x$${y}"\n') == 'a: "x$${y}"\n'  # a literal ${ stays escaped
