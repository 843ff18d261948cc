"""specs/zoo.yaml, the zoo's catalogue: one entry per spec, and its reference figures are what
netc computes.

Each entry's `reference` figures (sources in the YAML beside them: REFERENCE.md, by hand, or the
paper's rounded table) are checked against netc.analysis.core.analyze(netc.load(spec, batch=1)):
exactly, or, for a paper's rounded figure, within half its rounding unit.
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

import netc
from netc.analysis.core import Analysis, analyze

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
CATALOGUE = SPECS / "zoo.yaml"


def entries() -> list[dict[str, Any]]:
    data = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    assert isinstance(data, list), "zoo.yaml is a list of entries"
    return data


ENTRIES = entries()
FIGURES = [(e["file"], figure) for e in ENTRIES for figure in e.get("reference") or []]


@functools.cache
def analysis(file: str) -> Analysis:
    return analyze(netc.load(SPECS / file, batch=1))


def test_every_spec_has_exactly_one_entry() -> None:
    files = Counter(e["file"] for e in ENTRIES)
    assert [f for f, n in files.items() if n > 1] == []
    assert set(files) == {p.name for p in SPECS.glob("*.net")}


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_entry_is_complete(entry: dict[str, Any]) -> None:
    assert (SPECS / entry["file"]).is_file()
    assert isinstance(entry["name"], str) and entry["name"]
    paper = entry["paper"]
    assert paper["title"] and paper["venue"]
    assert paper["authors"] and all(isinstance(a, str) for a in paper["authors"])
    assert 1980 <= paper["year"] <= 2030
    assert paper["arxiv"] is None or (isinstance(paper["arxiv"], str) and "." in paper["arxiv"])
    assert 1980 <= entry["year"] <= 2030  # a later variant (Caffe's LeNet) may follow its paper
    for key in ("imagenet_top5", "ilsvrc"):
        figure = entry[key]  # present, null when there is none
        if figure is not None:
            assert 0 < figure["error"] < 100
            assert figure["evaluation"] and figure["source"]
    if entry["ilsvrc"] is not None:
        assert entry["ilsvrc"]["challenge"].startswith("ILSVRC-")
    assert entry["reference"], "every spec has reference figures"


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_input_is_the_specs_input(entry: dict[str, Any]) -> None:
    (shape,) = analysis(entry["file"]).inputs.values()
    assert list(shape) == [1, *entry["input"]]


@pytest.mark.parametrize(
    ("file", "figure"), FIGURES, ids=[f"{f}-{g['quantity']}-{g['value']}" for f, g in FIGURES]
)
def test_reference_figure(file: str, figure: dict[str, Any]) -> None:
    assert figure["source"]
    totals = analysis(file).totals
    computed = {"params": totals.params, "macs": totals.macs}[figure["quantity"]]
    rounding = figure.get("rounding")
    if rounding is None:
        assert computed == figure["value"]
    else:
        # a paper's rounded figure: netc's exact count rounds to it
        assert abs(computed - figure["value"]) <= rounding / 2, f"{computed:,} vs {figure}"


def test_resnet152_is_under_80_lines() -> None:
    assert len((SPECS / "resnet152.net").read_text(encoding="utf-8").splitlines()) < 80
