"""The parse cache (netc/lang/parser.py): a hit equals a fresh parse, never imports Lark, and a
damaged, foreign or disabled cache only means parsing afresh."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import netc
from netc.diagnostics import NetcError, Source
from netc.lang import parser, syntax, treecodec
from netc.lang.format import format_file

SPEC = (
    'name: "cached"\n'
    'input: "data" input_shape { dim: 1 dim: 3 dim: 32 dim: 32 }  # the input\n'
    "define block(width: int) {\n"
    '  layer { name: "conv" type: "Convolution" num_output: width kernel_size: 3 pad: 1 }\n'
    '  layer { name: "relu" type: "ReLU" }\n'
    "}\n"
    'repeat i in 1..2 { block "b${i}" { width: 8 * i } }\n'
)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NETC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("NETC_CACHE", raising=False)
    return tmp_path / "cache" / "parse-cache"


def entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.tree.json")) if cache.is_dir() else []


def test_a_hit_equals_a_fresh_parse_and_points_at_the_file_parsed(
    cache: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.net", tmp_path / "b.net"
    first.write_text(SPEC)
    second.write_text(SPEC)
    fresh = syntax.parse(netc.api.read_source(first))
    miss = parser.parse(netc.api.read_source(first))
    assert len(entries(cache)) == 1
    hit = parser.parse(netc.api.read_source(second))  # same text, another path: one entry
    assert len(entries(cache)) == 1
    assert miss == fresh  # dataclass equality over the whole tree, spans included
    assert hit == syntax.parse(netc.api.read_source(second))
    assert format_file(hit) == format_file(fresh)  # comments kept
    spans = [item.span for item in hit.items]
    assert {span.file for span in spans} == {str(second)}
    # an interpolation's expression is positioned in the file too
    graph = netc.load(second)
    assert [n.name for n in graph.nodes][1:3] == ["b1.conv", "b1.relu"]


def test_errors_are_not_cached_and_name_the_right_file(cache: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.net"
    bad.write_text('layer { name: "c" type: "Convolution" num_output: 8 kernel_size: }\n')
    for _ in range(2):
        with pytest.raises(NetcError) as error:
            netc.load(bad)
        assert str(error.value).startswith(f"{bad}:1:")
    assert entries(cache) == []


def test_a_damaged_entry_is_parsed_afresh(cache: Path, tmp_path: Path) -> None:
    spec = tmp_path / "a.net"
    spec.write_text(SPEC)
    expected = netc.load(spec).tensor("b2.relu").shape
    (entry,) = entries(cache)
    entry.write_bytes(b"\x80\x05 not a pickle")
    assert netc.load(spec).tensor("b2.relu").shape == expected == (1, 16, 32, 32)
    assert netc.load(spec).tensor("b2.relu").shape == expected  # rewritten, read back


def test_an_entry_naming_foreign_classes_is_refused(cache: Path, tmp_path: Path) -> None:
    spec = tmp_path / "a.net"
    spec.write_text(SPEC)
    netc.load(spec)
    (entry,) = entries(cache)
    # a pickle that would call os.system when loaded
    entry.write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    assert netc.load(spec).tensor("b2.relu").shape == (1, 16, 32, 32)


def test_limits_are_part_of_the_key(cache: Path) -> None:
    strict = netc.lang.limits.Limits(max_string_length=3)
    netc.load(SPEC)  # cached under the default limits
    with pytest.raises(NetcError, match="string is too long"):
        netc.load(SPEC, limits=strict)


def test_netc_cache_0_turns_it_off(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETC_CACHE", "0")
    assert parser.cache_dir() is None
    netc.load(SPEC)
    assert entries(cache) == []


def test_an_unwritable_cache_only_costs_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("NETC_CACHE_DIR", str(blocker))
    assert netc.load(SPEC).tensor("b1.conv").shape == (1, 8, 32, 32)


def test_large_texts_are_not_cached(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parser, "CACHE_MAX_CHARS", len(SPEC) - 1)
    netc.load(SPEC)
    assert entries(cache) == []


def test_old_entries_are_pruned(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parser, "CACHE_ENTRIES", 4)
    for width in range(1, 7):
        netc.load(SPEC.replace("8 * i", f"{width} * i"))
    assert 0 < len(entries(cache)) <= 4


def test_a_hit_does_not_import_lark(tmp_path: Path) -> None:
    spec = tmp_path / "a.net"
    spec.write_text(SPEC)
    code = "import sys, netc; netc.load(sys.argv[1]); print('lark' in sys.modules)"
    env = dict(os.environ, NETC_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("NETC_CACHE", None)
    runs = [
        subprocess.run(
            [sys.executable, "-c", code, str(spec)], env=env, capture_output=True, text=True
        )
        for _ in range(2)
    ]
    assert [run.stdout.strip() for run in runs] == ["True", "False"], [r.stderr for r in runs]


# ---- hardening: entries are data, the folder is the user's own -----------------------------


def test_cache_pickle_payload_is_never_executed(cache: Path, tmp_path: Path) -> None:
    """A planted entry that would run code when unpickled (the old loader trusted builtins
    and netc.*) is a miss: nothing runs, the file is parsed afresh."""
    spec = tmp_path / "a.net"
    spec.write_text(SPEC)
    netc.load(spec)
    (entry,) = entries(cache)
    marker = tmp_path / "pwned"
    payload = f"open({str(marker)!r}, 'w').write('x')"
    entry.write_bytes(b"cbuiltins\nexec\n(V" + payload.encode() + b"\ntR.")
    assert netc.load(spec).tensor("b2.relu").shape == (1, 16, 32, 32)
    assert not marker.exists()


@pytest.mark.parametrize(
    "forged",
    [
        '[1, [["os.system", "echo pwned"]], []]',  # a tag that is no node class
        '[1, [["ScalarField", ["a", 1, 1, 1], "num_output", [1, 1, 1, 1], 7]], []]',  # bad span
        '[1, [["Let", [1, 1, 1, 2], "x"]], []]',  # a field missing
        '[1, [["Let", [1, 1, 1, 2], "x", ["Number", [1, 1, 1, 2], "1", "1"]]], []]',  # str value
        "[2, [], []]",  # another format
        "[" * 100_000,  # nested beyond the JSON decoder's depth
    ],
)
def test_a_malformed_entry_is_a_miss(cache: Path, tmp_path: Path, forged: str) -> None:
    spec = tmp_path / "a.net"
    spec.write_text(SPEC)
    netc.load(spec)
    (entry,) = entries(cache)
    entry.write_text(forged)
    assert netc.load(spec).tensor("b2.relu").shape == (1, 16, 32, 32)


def test_the_cache_folder_is_private_and_a_shared_one_is_not_used(
    cache: Path, tmp_path: Path
) -> None:
    spec = tmp_path / "a.net"
    spec.write_text(SPEC)
    netc.load(spec)
    assert cache.stat().st_mode & 0o777 == 0o700
    (entry,) = entries(cache)
    # a well-formed entry for this text with another width: what a writer of the folder could do
    forged = treecodec.encode(syntax.parse(Source(str(spec), SPEC.replace("8 * i", "3 * i"))))
    entry.write_text(forged)
    assert netc.load(spec).tensor("b2.relu").shape == (1, 6, 32, 32)  # the folder is ours
    cache.chmod(0o777)  # now anyone may write entries: the cache is not used
    assert netc.load(spec).tensor("b2.relu").shape == (1, 16, 32, 32)


def test_tree_codec_round_trips_every_spec_and_zoo_file(zoo_prototxts: list[Path]) -> None:
    for path in [*sorted((Path(__file__).parents[1] / "specs").rglob("*.net")), *zoo_prototxts]:
        source = netc.api.read_source(path)
        tree = syntax.parse(source)
        assert treecodec.decode(treecodec.encode(tree), source) == tree, path
