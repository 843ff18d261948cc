"""`netc docs`: the model catalogue in docs/zoo, and the generator behind it.

`test_docs_zoo_is_up_to_date` regenerates the catalogue in memory and compares it with
docs/zoo byte for byte (a diagram drawn from the same DOT by another Graphviz version counts as
up to date). When it fails: `netc docs specs/ -o docs/zoo/` and commit the result.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import require_dot

from netc.docsgen import CatalogError, generate, load_catalog, stale, write
from netc.docsgen.catalog import reported
from netc.docsgen.pages import _family

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
ZOO_DOCS = ROOT / "docs" / "zoo"
SMALL = ROOT / "tests" / "golden" / "render_small.net"


@pytest.fixture(autouse=True)
def _plain_dot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETC_GRAPHVIZ", "dot")


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netc", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NETC_GRAPHVIZ": "dot", **(env or {})},
    )


# ---- the committed catalogue ----------------------------------------------------------------


def test_docs_zoo_is_up_to_date() -> None:
    require_dot()
    files = generate(SPECS, ZOO_DOCS)
    problems = stale(files, ZOO_DOCS)
    assert not problems, (
        "docs/zoo is out of date: run `netc docs specs/ -o docs/zoo/` and commit it\n  "
        + "\n  ".join(problems)
    )


def test_docs_zoo_covers_every_spec() -> None:
    pages = {p.stem for p in ZOO_DOCS.glob("*.md")} - {"README"}
    assert pages == {p.stem for p in SPECS.glob("*.net")}
    for stem in pages:
        assert (ZOO_DOCS / f"{stem}.svg").is_file()
    index = (ZOO_DOCS / "README.md").read_text(encoding="utf-8")
    for stem in pages:
        assert f"]({stem}.md)" in index
    assert "AlexNet 15.3% (2012)" in index and "ResNet 3.57% (2015)" in index


def test_generation_is_deterministic(tmp_path: Path) -> None:
    require_dot()
    specs = tmp_path / "specs"
    specs.mkdir()
    for name in ("lenet5.net", "googlenet.net", "resnet18.net"):
        shutil.copy(SPECS / name, specs / name)
    out = tmp_path / "docs" / "zoo"
    first = generate(specs, out)
    assert first == generate(specs, out)
    for data in first.values():
        assert b"\r" not in data and b"<!-- n0" not in data
    for name, data in first.items():
        if name.endswith(".svg"):
            ET.fromstring(data)


# ---- a small catalogue, through the command line --------------------------------------------

CATALOGUE = """\
# both shapes netc docs reads: the list with `file:` and `networks:` with `spec:`
networks:
  - spec: lenet5.net
    name: LeNet-5 <&> | pipes
    paper: {title: "Gradient-Based Learning", authors: [Y. LeCun, L. Bottou, Y. Bengio, P. Haffner], venue: Proc. IEEE, year: 1998}
    year: 1998
    top5_error: 15.4
    top5_source: "https://example.org/table?x=1"
    reference: {params: 61750, macs: "0.42M", source: by hand}
    input: [1, 32, 32]
  - file: small.net
    name: Small
    paper: {title: Small Things, authors: [A. Author, B. Author], venue: ICLR 2015, year: 2015, arxiv: "1409.1556"}
    year: 2014
    imagenet_top5: {error: 9.0, evaluation: single model, source: Table 3}
    ilsvrc: {error: 7.3, challenge: ILSVRC-2014, evaluation: ensemble, source: Table 7}
    reference:
      - {quantity: params, value: 1960, rounding: 100, source: "paper, Table 2"}
      - {quantity: macs, value: 229496, source: by hand}
      - {quantity: widgets, value: 3}
  - spec: alexnet.net
    year: "2012"
    ilsvrc: {error: 15.3, challenge: ILSVRC-2012}
    top5_error: [not, a, number]
    reference: 17
"""


def make_specs(root: Path, catalogue: str = CATALOGUE) -> Path:
    specs = root / "specs"
    specs.mkdir()
    for name in ("lenet5.net", "alexnet.net"):
        shutil.copy(SPECS / name, specs / name)
    shutil.copy(SMALL, specs / "small.net")
    shutil.copy(SPECS / "lenet.net", specs / "zz_uncatalogued.net")
    (specs / "zoo.yaml").write_text(catalogue, encoding="utf-8")
    return specs


def test_cli_writes_the_catalogue(tmp_path: Path) -> None:
    require_dot()
    make_specs(tmp_path)
    result = run("docs", "specs", "-o", "docs/zoo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "warning: alexnet.net: top5_error" in result.stderr
    assert "warning: alexnet.net: reference is neither" in result.stderr
    out = tmp_path / "docs" / "zoo"
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "README.md",
        "alexnet.md",
        "alexnet.svg",
        "chart.svg",
        "lenet5.md",
        "lenet5.svg",
        "small.md",
        "small.svg",
        "zz_uncatalogued.md",
        "zz_uncatalogued.svg",
    ]
    index = (out / "README.md").read_text(encoding="utf-8")
    # by year, the uncatalogued spec last; escaped text; the ILSVRC progression
    rows = [line for line in index.splitlines() if line.startswith("| [")]
    assert [r.split("](")[1].split(")")[0] for r in rows] == [
        "lenet5.md",
        "alexnet.md",
        "small.md",
        "zz_uncatalogued.md",
    ]
    assert "LeNet-5 &lt;&&gt; \\| pipes" in rows[0]
    assert "AlexNet 15.3% (2012) → Small 7.3% (2014)." in index
    assert "[ICLR 2015](https://arxiv.org/abs/1409.1556)" in rows[2]
    assert "](../../specs)" in index and "](../../specs/zoo.yaml)" in index
    small = (out / "small.md").read_text(encoding="utf-8")
    assert "spec: [`small.net`](../../specs/small.net)" in small
    assert "**Paper:** A. Author and B. Author, *Small Things*, ICLR 2015." in small
    assert "| params | 1,960 (± 50) | 1,958 | within rounding | paper, Table 2 |" in small
    assert "| macs | 229,496 | 229,496 | equal | by hand |" in small
    assert "| widgets | 3 |  |  |  |" in small
    assert "**ImageNet top-5 error, this network: 9.0%** — single model (Table 3)" in small
    assert (
        "**ILSVRC result of the paper's entry: 7.3%** — ILSVRC-2014 — ensemble (Table 7)" in small
    )
    assert "| parameters | 1,958 (1.96K) |" in small
    assert "| input | data 1×3×32×32 |" in small  # analysed at batch 1
    assert (
        "![Small](small.svg)" in small
        and "## Layers" in small
        and "| conv1 | Convolution |" in small
    )
    lenet = (out / "lenet5.md").read_text(encoding="utf-8")
    assert "Y. LeCun et al., *Gradient-Based Learning*, Proc. IEEE." in lenet
    assert "| macs | 0.42M | 416,520 | -0.83% | by hand |" in lenet
    assert "[https://example.org/table?x=1](https://example.org/table?x=1)" in lenet
    assert "- Input in the catalogue: 1×32×32" in lenet
    chart = ET.fromstring((out / "chart.svg").read_bytes())
    labels = [t.text for t in chart.iter("{http://www.w3.org/2000/svg}text")]
    assert "LeNet-5 <&> | pipes" in labels and "Small" in labels
    # up to date now; a change to a page, or a stray generated page, makes it stale
    assert run("docs", "specs", "-o", "docs/zoo", "--check", cwd=tmp_path).returncode == 0
    (out / "small.md").write_text(small + "edit\n", encoding="utf-8")
    (out / "old.md").write_text("<!-- Generated by netc docs; do not edit -->\n", encoding="utf-8")
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    result = run("docs", "specs", "-o", "docs/zoo", "--check", cwd=tmp_path)
    assert result.returncode == 1
    assert (
        "small.md is out of date" in result.stderr
        and "old.md is no longer generated" in result.stderr
    )
    result = run("docs", "specs", "-o", "docs/zoo", cwd=tmp_path)
    assert result.returncode == 0 and "1 stale removed" in result.stdout
    assert not (out / "old.md").exists() and (out / "notes.txt").read_text() == "mine\n"
    assert (out / "small.md").read_text(encoding="utf-8") == small


def test_cli_docs_never_overwrites_a_file_it_did_not_write(tmp_path: Path) -> None:
    require_dot()
    make_specs(tmp_path)
    out = tmp_path / "docs" / "zoo"
    out.mkdir(parents=True)
    (out / "small.md").write_text("my own notes\n")
    result = run("docs", "specs", "-o", "docs/zoo", cwd=tmp_path)
    assert result.returncode == 1 and "was not written by netc docs" in result.stderr
    assert (out / "small.md").read_text() == "my own notes\n"
    assert sorted(p.name for p in out.iterdir()) == ["small.md"]


@pytest.mark.parametrize(
    ("catalogue", "message"),
    [
        ("networks: [\n", "zoo.yaml:"),
        ("networks: 3\n", "expected a list of entries"),
        ("- name: no file\n", "has no `file:`"),
        ("- file: missing.net\n", "'missing.net' not found"),
        ("- file: ../specs/small.net\n", "must be a path inside"),
        ("- file: small.net\n- spec: small.net\n", "listed twice"),
    ],
)
def test_cli_docs_bad_catalogue_exits_1(tmp_path: Path, catalogue: str, message: str) -> None:
    make_specs(tmp_path, catalogue)
    result = run("docs", "specs", "-o", "out", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_cli_docs_bad_spec_exits_1(tmp_path: Path) -> None:
    specs = make_specs(tmp_path)
    (specs / "broken.net").write_text('layer { type: "Nope" }\n')
    result = run("docs", "specs", "-o", "out", cwd=tmp_path)
    assert result.returncode == 1 and "broken.net" in result.stderr
    assert run("docs", "nowhere", "-o", "out", cwd=tmp_path).returncode == 2


def test_cli_docs_without_dot_exits_4(tmp_path: Path) -> None:
    make_specs(tmp_path)
    empty = tmp_path / "bin"
    empty.mkdir()
    result = run("docs", "specs", "-o", "out", cwd=tmp_path, env={"PATH": str(empty)})
    assert result.returncode == 4
    assert "apt-get install graphviz" in result.stderr and not (tmp_path / "out").exists()


# ---- pieces ----------------------------------------------------------------------------------


def test_reported_numbers() -> None:
    def value(x: object) -> float | None:
        figure = reported(x)
        return figure.value if figure else None

    assert value(138357544) == 138357544
    assert value("138M") == 138e6 and value("15.5 G") == 15.5e9 and value("1,234") == 1234
    assert value("7.3%") == 7.3 and value("~60M") == 60e6 and value("15.5e9") == 15.5e9
    assert value("about sixty") is None and reported(True) is None and reported([1]) is None
    assert reported(15.5e9) is not None and reported(15.5e9).text == "15.5G"  # type: ignore[union-attr]
    assert reported(9.0).text == "9.0"  # type: ignore[union-attr]


def test_family_names() -> None:
    assert _family(["VGG-11 (configuration A)", "VGG-13 (configuration B)", "VGG-19"]) == "VGG"
    assert _family(["ResNet-18", "ResNet-50 (torchvision, v1.5)"]) == "ResNet"
    assert _family(["GoogLeNet (Inception v1)"]) == "GoogLeNet"
    assert _family(["Alpha", "Beta"]) == "Alpha"


def test_catalogue_of_the_repository_loads() -> None:
    catalogue = SPECS / "zoo.yaml"
    if not catalogue.is_file():
        pytest.skip("specs/zoo.yaml not written yet")
    entries = load_catalog(catalogue, SPECS)
    assert entries and all(not e.warnings for e in entries)
    assert {e.spec for e in entries} <= {p.name for p in SPECS.glob("*.net")}


def test_write_refuses_a_directory_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "a.md").mkdir()
    with pytest.raises(CatalogError):
        write({"a.md": b"x"}, tmp_path)


def test_layers_page_is_generated_from_the_registry() -> None:
    """docs/layers.md is `netc layers --markdown`: every type with its origin, shape rule and
    backends (regenerate it with that command when a layer type is added)."""
    from netc.docsgen.layers import layers_markdown
    from netc.layers.base import all_types

    page = (ROOT / "docs" / "layers.md").read_text(encoding="utf-8")
    assert page == layers_markdown()
    for name, layer in all_types().items():
        if name == layer.type:
            assert f"| `{name}`" in page
    assert "| `BN` | PSPNet (hszhao/PSPNet) |" in page
