"""`netc render`: DOT written by netc, images through the real Graphviz.

The rendering tests need Graphviz's `dot` (scripts/setup.sh installs it): without it they are
skipped on a developer's machine and fail under CI (`CI=true`). The missing-`dot` path is
tested by running netc with a PATH that holds no `dot`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require_dot

import netc
from netc.analysis.core import analyze
from netc.ir.graph import Graph
from netc.ir.scopes import scopes
from netc.render import RenderOptions, to_dot, to_image
from netc.render.dot import FAMILIES, edge_label, plan, resolve_depth
from netc.render.graphviz import GraphvizError, normalise_svg, render
from netc.render.text import dot_quote, visible

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.net"))
GOLDEN = ROOT / "tests" / "golden"
SMALL = GOLDEN / "render_small.net"
EXIT_GRAPHVIZ = 4
HEAVY = ("torch", "onnx", "onnxruntime")


@pytest.fixture(autouse=True)
def _plain_dot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the dot program (not a pygraphviz that happens to be installed)."""
    monkeypatch.setenv("NETC_GRAPHVIZ", "dot")


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "NETC_GRAPHVIZ": "dot", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "netc", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=full,
    )


def svg_lines(svg: bytes | str) -> list[str]:
    """The text lines of an SVG drawing, after checking that it is well-formed XML."""
    root = ET.fromstring(svg)
    return [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]


def expected_labels(graph: Graph, depth: int | None) -> Iterator[str]:
    """Every name the drawing must show: each layer's (folded ones included) or, collapsed,
    its instance's path."""
    chains = scopes(graph)
    for node in graph.nodes:
        chain = chains[node.name]
        if depth is not None and len(chain) >= depth:
            yield chain[depth - 1].path
        else:
            yield node.name


def assert_shows_every_name(graph: Graph, svg: bytes, depth: int | None) -> None:
    lines = svg_lines(svg)
    starts = {line.split(" · ")[0].removeprefix("+ ") for line in lines if " · " in line}
    missing = [n for n in dict.fromkeys(expected_labels(graph, depth)) if visible(n) not in starts]
    assert not missing, f"{graph.name}: not in the drawing: {missing[:10]}"


# ---- every network of the zoo -------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_every_spec_renders_to_svg(spec: Path) -> None:
    require_dot()
    graph = netc.load(spec)
    depths: list[int | str] = ["auto", "full", 1]
    for depth in depths:
        options = RenderOptions(depth=depth)
        svg = to_image(graph, "svg", options)
        assert_shows_every_name(graph, svg, resolve_depth(graph, depth))


def test_every_zoo_prototxt_renders_to_svg(zoo_prototxts: list[Path]) -> None:
    require_dot()
    for path in zoo_prototxts:
        graph = netc.load(path)
        for depth in ("auto", "full"):
            svg = to_image(graph, "svg", RenderOptions(depth=depth))
            assert_shows_every_name(graph, svg, resolve_depth(graph, depth))


def test_spec_files_fixture_sees_the_zoo(spec_files: list[Path]) -> None:
    assert spec_files == SPECS and len(SPECS) >= 20


def test_default_depth_keeps_every_zoo_drawing_small() -> None:
    for spec in SPECS:
        graph = netc.load(spec)
        depth = resolve_depth(graph, "auto")
        assert len(plan(graph, depth).units) <= 90, spec.name


def test_resnet152_at_depth_1_is_stem_four_stages_head() -> None:
    graph = netc.load(ROOT / "specs" / "resnet152.net")
    drawing = plan(graph, 1)
    firsts = [
        u.frame.path if u.frame else (u.nodes[0].name if u.nodes else u.kind) for u in drawing.units
    ]
    assert firsts == [
        "data",
        "conv1",
        "bn1",
        "maxpool",
        "layer1",
        "layer2",
        "layer3",
        "layer4",
        "avgpool",
        "fc",
        "output",
    ]
    layer3 = drawing.units[6]
    assert layer3.kind == "instance" and len(layer3.nodes) == 36 * 10 + 2
    dot = to_dot(graph, RenderOptions(depth=1))
    assert '"layer3 · 36 × bottleneck\\n362 layers · 40.61M params · 8.02G MACs"' in dot
    # depth 2: the stages are clusters, the 50 blocks single nodes
    assert sum(u.kind == "instance" for u in plan(graph, 2).units) == 50
    assert dot.count("subgraph cluster_") == 0
    assert to_dot(graph, RenderOptions(depth=2)).count("subgraph cluster_") == 4


# ---- what the DOT says ----------------------------------------------------------------------


def small_dot(**options: object) -> str:
    return to_dot(netc.load(SMALL), RenderOptions(**options))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("golden", "options"),
    [
        ("render_small.dot", {"depth": "full"}),
        (
            "render_small_depth1_lr_show.dot",
            {"depth": 1, "rankdir": "LR", "show": ("params", "macs", "memory")},
        ),
    ],
)
def test_golden_dot(golden: str, options: dict[str, object]) -> None:
    """Pins the drawing's style. Regenerate deliberately: NETC_REGEN_GOLDEN=1 pytest -k golden."""
    text = small_dot(**options)
    path = GOLDEN / golden
    if os.environ.get("NETC_REGEN_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{golden} changed (see the docstring)"


def test_labels_fold_and_parameters() -> None:
    dot = small_dot(depth="full")
    assert '"conv1 · Conv 5×5/2 · 8\\n+ relu1 · ReLU"' in dot  # in place: folded
    assert (
        '"stage.0.conv · Conv 3×3 · 8\\n+ stage.0.bn · BatchNorm + Scale\\n+ stage.0.relu · ReLU"'
        in dot
    )
    assert '"pool1 · MAX 3×3/2"' in dot
    assert '"gap · AVE global"' in dot
    assert '"fc · FC · 10\\n+ drop · Dropout 0.25"' in dot
    assert '"add · Eltwise MAX"' in dot
    assert (
        "subgraph cluster_" in dot and '"stage.0 · block"' in dot and '"stage · 2 × block"' in dot
    )
    assert '-> n1 [label="3×32×32"]' in dot  # batch omitted on edges
    assert "data · Input · 2×3×32×32" in dot  # and shown once, on the input


def test_alexnet_labels() -> None:
    dot = to_dot(netc.load(ROOT / "specs" / "alexnet.net"))
    assert '"conv1 · Conv 11×11/4 · 96\\n+ relu1 · ReLU"' in dot
    assert "conv2 · Conv 5×5 · 256 · group 2" in dot
    assert '"fc6 · FC · 4096\\n+ relu6 · ReLU\\n+ drop6 · Dropout 0.5"' in dot


def test_an_in_place_layer_whose_input_is_also_read_elsewhere_is_not_folded() -> None:
    graph = netc.load(
        'input: "data" input_shape { dim: 1 dim: 4 dim: 8 dim: 8 }\n'
        'layer { name: "c" type: "Convolution" num_output: 4 kernel_size: 1 }\n'
        'layer { name: "side" type: "Convolution" bottom: "c" num_output: 4 kernel_size: 1 }\n'
        'layer { name: "r" type: "ReLU" bottom: "c" top: "c" }\n'
        'layer { name: "sum" type: "Eltwise" bottom: "c" bottom: "side" }\n'
    )
    units = plan(graph, None).units
    assert [[n.name for n in u.nodes] for u in units if u.kind == "layer"] == [
        ["data"],
        ["c"],
        ["side"],
        ["r"],
        ["sum"],
    ]


def test_show_adds_figures_and_rankdir_sets_direction() -> None:
    plain = small_dot(depth="full")
    shown = small_dot(depth="full", show=("params", "macs", "memory"))
    assert "params" not in plain.split("digraph", 1)[1].split("\n", 2)[2]
    row = next(r for r in analyze(netc.load(SMALL)).rows if r.name == "conv1")
    assert row.params == 608 and row.macs == 307200
    assert (
        "conv1 · Conv 5×5/2 · 8\\n+ relu1 · ReLU\\n608 params · 307.20K MACs · 16.00 KiB" in shown
    )
    only_macs = small_dot(depth="full", show=("macs",))
    assert '\\n307.20K MACs"' in only_macs and "608 params" not in only_macs
    assert "rankdir=LR" in small_dot(rankdir="LR") and "rankdir=TB" in plain


def test_render_options_are_checked() -> None:
    for bad in ({"depth": 0}, {"depth": "some"}, {"rankdir": "XY"}, {"show": ("flops",)}):
        with pytest.raises(ValueError):
            RenderOptions(**bad)  # type: ignore[arg-type]


def test_dot_is_deterministic() -> None:
    graph = netc.load(ROOT / "specs" / "googlenet.net")
    assert to_dot(graph) == to_dot(netc.load(ROOT / "specs" / "googlenet.net"))


def test_svg_is_byte_stable() -> None:
    require_dot()
    graph = netc.load(ROOT / "specs" / "googlenet.net")
    first = to_image(graph, "svg")
    assert first == to_image(graph, "svg")
    assert b"<!-- n" not in first and b"Generated by graphviz" in first


def test_normalise_svg_drops_comments_but_the_version() -> None:
    raw = b"<?xml?>\r\n<!-- Generated by graphviz version 2.43.0 (0)\r\n -->\r\n<!-- n0 -->\r\n<g/>\r\n"
    assert (
        normalise_svg(raw)
        == b"<?xml?>\n<!-- Generated by graphviz version 2.43.0 (0)\n -->\n<g/>\n"
    )


def test_edge_labels() -> None:
    graph = netc.load(SMALL)
    assert edge_label(graph, "data") == "3×32×32"
    assert edge_label(graph, "fc") == "10"
    assert edge_label(graph, "no such tensor") == "?"


def test_every_family_has_a_colour() -> None:
    from netc.layers.base import all_types

    assert {t.family for t in all_types().values()} <= set(FAMILIES)


# ---- hostile text ---------------------------------------------------------------------------

HOSTILE = r"""name: "evil \" net\n{}<script>&amp;"
input: "data"
input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }
define blk(n: int) {
  layer { name: "c\"q\\" type: "Convolution" num_output: n kernel_size: 1 }
  layer { name: "r}\n{" type: "ReLU" inplace: true }
}
layer { name: "c\"1\\x{}<b>&amp;\n]; n0 -> n1 [label=x" type: "Convolution" num_output: 4 kernel_size: 3 }
layer { name: "r\\N\\G\\\\" type: "ReLU" inplace: true }
layer { name: "tab\there\x07bell\u2028\uFFFF" type: "Pooling" pool: MAX kernel_size: 2 stride: 2 }
blk "in\"st\\{1}" { n: 2 }
blk "in\"st\\{2}" { n: 2 }
layer { name: "</text><script>x</script>" type: "Softmax" }
"""


def test_visible_and_quote() -> None:
    assert visible("a\nb\x07c\ud800\ufffe\u2028") == "a\\nb\\x07c\\ud800\\ufffe\\u2028"
    assert dot_quote('say "hi" \\N & go') == '"say \\"hi\\" \\\\N &amp; go"'


def test_hostile_names_give_valid_dot_and_svg(tmp_path: Path) -> None:
    require_dot()
    graph = netc.load(HOSTILE)
    names = [n.name for n in graph.nodes]
    assert 'c"1\\x{}<b>&amp;\n]; n0 -> n1 [label=x' in names and "r\\N\\G\\\\" in names
    for depth in ("full", 1):
        dot = to_dot(graph, RenderOptions(depth=depth, show=("params",)))
        # one statement per line: no spec text opened a new line or a new statement
        body = dot.splitlines()[2:-1]
        assert all(line.strip().endswith(("];", "{", "}")) for line in body), dot
        svg = render(dot, "svg")
        assert_shows_every_name(graph, svg, resolve_depth(graph, depth))
        lines = svg_lines(svg)
        assert 'evil " net\\n{}<script>&amp;' in lines  # the title, literally
        assert not ET.fromstring(svg).findall(".//{http://www.w3.org/2000/svg}script")
    result = run("render", "-", "-o", str(tmp_path / "x.svg"), cwd=tmp_path)
    assert result.returncode == 1  # "-" is not a file: a diagnostic, not a traceback
    (tmp_path / "evil.net").write_text(HOSTILE, encoding="utf-8")
    for fmt in ("svg", "png", "pdf", "dot"):
        out = tmp_path / f"evil.{fmt}"
        result = run("render", "evil.net", "-o", out.name, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert out.stat().st_size > 0
    assert (tmp_path / "evil.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "evil.pdf").read_bytes().startswith(b"%PDF")


# ---- the command line -----------------------------------------------------------------------


def test_cli_writes_each_format(tmp_path: Path) -> None:
    require_dot()
    result = run("render", str(SMALL), "-o", str(tmp_path / "s.svg"), "--show", "params,macs")
    assert result.returncode == 0, result.stderr
    assert any(
        "608 params · 307.20K MACs" in line for line in svg_lines((tmp_path / "s.svg").read_bytes())
    )
    result = run("render", str(SMALL))  # DOT on stdout
    assert result.returncode == 0 and result.stdout == to_dot(netc.load(SMALL))
    result = run("render", str(SMALL), "--format", "svg", "--rankdir", "LR", "--depth", "1")
    assert result.returncode == 0 and result.stdout.startswith("<?xml")
    result = run("render", str(SMALL), "-o", str(tmp_path / "s.gv"), "--depth", "full")
    assert result.returncode == 0
    assert (tmp_path / "s.gv").read_text() == to_dot(netc.load(SMALL), RenderOptions(depth="full"))


def test_cli_overwrites_the_requested_output_only(tmp_path: Path) -> None:
    require_dot()
    out = tmp_path / "s.svg"
    out.write_text("old")
    (tmp_path / "s.dot").write_text("mine")
    # a file netc did not draw is replaced only with --force (tests/test_hardening.py)
    assert run("render", str(SMALL), "-o", str(out)).returncode == 2
    assert out.read_text() == "old"
    assert run("render", str(SMALL), "-o", str(out), "--force").returncode == 0
    assert out.read_bytes().startswith(b"<?xml")
    assert (tmp_path / "s.dot").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.dot", "s.svg"]  # no temp files


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--depth", "0"], "--depth"),
        (["--depth", "deep"], "--depth"),
        (["--rankdir", "XY"], "--rankdir"),
        (["--show", "params,flops"], "--show 'flops'"),
        (["-o", "x.jpg"], "cannot tell the format"),
        (["--format", "gif"], "--format"),
        (["--phase", "VAL"], "--phase"),
    ],
)
def test_cli_usage_errors(args: list[str], message: str) -> None:
    result = run("render", str(SMALL), *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_cli_refuses_to_overwrite_its_input(tmp_path: Path) -> None:
    spec = tmp_path / "n.net"
    spec.write_text(SMALL.read_text())
    result = run("render", str(spec), "--format", "dot", "-o", str(spec))
    assert result.returncode == 2 and "is the input file" in result.stderr
    assert spec.read_text() == SMALL.read_text()


def test_cli_bad_input_exits_1_with_a_diagnostic(tmp_path: Path) -> None:
    bad = tmp_path / "bad.net"
    bad.write_text(
        'input: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
        'layer { name: "c" type: "Convlution" num_output: 8 kernel_size: 3 }\n'
    )
    result = run("render", str(bad), "-o", str(tmp_path / "bad.svg"))
    assert result.returncode == 1
    assert 'unknown layer type "Convlution"' in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "bad.svg").exists() and not (tmp_path / "bad.dot").exists()
    result = run("render", str(tmp_path / "missing.net"))
    assert result.returncode == 1 and "no such file" in result.stderr
    result = run("render", str(SMALL), "-o", str(tmp_path / "no" / "dir" / "x.dot"))
    assert result.returncode == 1 and "cannot write" in result.stderr


def test_cli_without_dot_writes_the_dot_and_exits_4(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {"PATH": str(empty)}
    out = tmp_path / "s.svg"
    result = run("render", str(SMALL), "-o", str(out), env=env)
    assert result.returncode == EXIT_GRAPHVIZ
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "apt-get install graphviz" in lines[0] and "brew install graphviz" in lines[0]
    assert f"wrote {tmp_path / 's.dot'}" in lines[0]
    assert not out.exists()
    assert (tmp_path / "s.dot").read_text() == to_dot(netc.load(SMALL))
    # a second run replaces its own .dot, but never a .dot that netc did not write
    assert run("render", str(SMALL), "-o", str(out), env=env).returncode == EXIT_GRAPHVIZ
    (tmp_path / "s.dot").write_text("digraph mine {}\n")
    result = run("render", str(SMALL), "-o", str(out), env=env)
    assert result.returncode == EXIT_GRAPHVIZ and "did not overwrite" in result.stderr
    assert (tmp_path / "s.dot").read_text() == "digraph mine {}\n"
    # the DOT itself needs no Graphviz
    assert run("render", str(SMALL), "-o", str(tmp_path / "t.dot"), env=env).returncode == 0


def test_library_without_dot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    graph = netc.load(SMALL)
    with pytest.raises(GraphvizError) as info:
        to_image(graph, "svg")
    assert info.value.missing
    assert graph._repr_svg_() is None  # Jupyter falls back to the text repr


def test_pygraphviz_backend(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The pip-only path, through a stand-in `pygraphviz` module that calls the real dot."""
    require_dot()
    fake = tmp_path / "site" / "pygraphviz"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "import subprocess\n"
        f"DOT = {shutil.which('dot')!r}\n"
        "__graphviz_version__ = 'stand-in'\n"
        "class AGraph:\n"
        "    def __init__(self, string):\n"
        "        self.text = string\n"
        "    def draw(self, format, prog):\n"
        "        return subprocess.run([DOT, '-T' + format], input=self.text.encode(),\n"
        "                              capture_output=True, check=True).stdout\n"
    )
    empty = tmp_path / "bin"
    empty.mkdir()
    out = tmp_path / "s.svg"
    env = {"PATH": str(empty), "PYTHONPATH": str(tmp_path / "site"), "NETC_GRAPHVIZ": "auto"}
    result = run("render", str(SMALL), "-o", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert_shows_every_name(netc.load(SMALL), out.read_bytes(), None)


def test_timeout_is_enforced(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    slow = tmp_path / "dot"  # a "dot" that never ends, and starts a child that never ends
    slow.write_text(f"#!/bin/sh\n{shutil.which('sleep')} 30\n")
    slow.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    started = time.monotonic()
    with pytest.raises(GraphvizError, match="took more than"):
        render("digraph {}", "svg", timeout=0.5)
    assert time.monotonic() - started < 10


def test_render_imports_neither_torch_nor_onnx(tmp_path: Path) -> None:
    """With empty decoy torch/onnx packages on the path, even a guarded import would show."""
    decoys = tmp_path / "decoys"
    for name in HEAVY:
        (decoys / name).mkdir(parents=True)
        (decoys / name / "__init__.py").write_text("", encoding="utf-8")
    code = (
        "import sys\n"
        "from netc.cli.app import main\n"
        f"sys.argv = ['netc', 'render', {str(SMALL)!r}, '--show', 'params,macs', "
        f"'-o', {str(tmp_path / 'x.dot')!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        f"heavy = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r}]\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": str(decoys), "NETC_GRAPHVIZ": "dot"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "x.dot").is_file()


# ---- Jupyter --------------------------------------------------------------------------------


def test_repr_svg() -> None:
    require_dot()
    svg = netc.load(SMALL)._repr_svg_()
    assert svg is not None and svg.startswith("<?xml")
    assert_shows_every_name(netc.load(SMALL), svg.encode(), resolve_depth(netc.load(SMALL), "auto"))


def test_repr_html_escapes_everything() -> None:
    graph = netc.load(HOSTILE)
    html = analyze(graph)._repr_html_()
    root = ET.fromstring(html)  # well-formed
    assert root.findall(".//script") == []
    cells = [td.text for td in root.iter("td")]
    assert "</text><script>x</script>" in cells
    assert 'c"1\\x{}<b>&amp;\\n]; n0 -> n1 [label=x' in cells
    assert len(root.findall(".//tbody/tr")) == len(graph.nodes)
