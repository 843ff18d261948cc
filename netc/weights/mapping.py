"""Name mappings: how a weights file's names become the network's.

A mapping is a dict (or a JSON/YAML file holding one) from a source name to a target name.
A source name is tried first as an exact name, then, in order, each entry as a regular
expression that must match the whole name (`re.fullmatch`); the target may use the groups
(`\\1`). A target is

- a string: the new name;
- null: drop that entry (reported as skipped);
- a table `{to: NAME, reshape: [...], permute: [...]}` (each key optional): rename, view the
  array in `reshape`'s shape, permute its axes, and view the result in the network's shape
  (torch files only). facenet-pytorch's MTCNN stores conv kernels with H and W swapped
  (`permute: [0, 1, 3, 2]`) and orders the inputs of its first dense layer W, H, C where
  Caffe's order is C, H, W (`reshape: [128, 3, 3, 64], permute: [0, 3, 1, 2]`).

Names not matched keep their own. For a torch or safetensors file the names are state_dict
keys (`prelu1.weight`); for a .caffemodel they are layer names (`conv4-1`), and reshape and
permute are not allowed (a layer's blobs move together).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass
from pathlib import Path

from netc.diagnostics import NetcError

HINT = 'a mapping is a table of source name -> target name, e.g. {"prelu(\\\\d)\\\\.weight": "PReLU\\\\1.weight"}'


@dataclass(frozen=True)
class Rule:
    source: str
    pattern: re.Pattern[str]
    target: str | None
    permute: tuple[int, ...] | None = None
    reshape: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Renamed:
    name: str | None  # None: dropped
    permute: tuple[int, ...] | None
    rule: str | None  # the source entry that applied
    reshape: tuple[int, ...] | None = None

    @property
    def transforms(self) -> bool:
        return self.permute is not None or self.reshape is not None


class NameMapping:
    """Compiled mapping rules; `apply(name)` gives the target name (or None to drop)."""

    def __init__(self, rules: list[Rule], origin: str) -> None:
        self.rules = rules
        self.origin = origin
        self.exact = {r.source: r for r in rules}

    def apply(self, name: str) -> Renamed:
        rule = self.exact.get(name)
        if rule is not None:
            return Renamed(rule.target, rule.permute, rule.source, rule.reshape)
        for rule in self.rules:
            match = rule.pattern.fullmatch(name)
            if match:
                target = None if rule.target is None else match.expand(rule.target)
                return Renamed(target, rule.permute, rule.source, rule.reshape)
        return Renamed(name, None, None)


def load_mapping(mapping: str | Path | AbcMapping[str, object] | None) -> NameMapping | None:
    """A mapping from a dict, or a .json/.yaml/.yml file; NetcError when malformed."""
    if mapping is None:
        return None
    if isinstance(mapping, AbcMapping):
        return compile_mapping(mapping, "<mapping>")
    path = Path(mapping)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NetcError.single(f"{path}: cannot read the mapping ({exc})") from None
    data: object
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise NetcError.single(f"{path}: not valid YAML ({exc})", None, HINT) from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise NetcError.single(
                f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})",
                None,
                "use a .yaml/.yml name for YAML",
            ) from None
    if not isinstance(data, dict):
        raise NetcError.single(f"{path}: the mapping must be a table", None, HINT)
    return compile_mapping(data, str(path))


def compile_mapping(data: AbcMapping[str, object], origin: str) -> NameMapping:
    rules: list[Rule] = []
    for source, value in data.items():
        where = f"{origin}: entry {source!r}"
        if not isinstance(source, str) or not source:
            raise NetcError.single(f"{where}: a source name must be a non-empty string", None, HINT)
        try:
            pattern = re.compile(source)
        except re.error as exc:
            raise NetcError.single(
                f"{where}: not a regular expression ({exc})",
                None,
                "escape special characters (\\. for a dot)",
            ) from None
        permute: tuple[int, ...] | None = None
        reshape: tuple[int, ...] | None = None
        if isinstance(value, dict):
            unknown = sorted(set(value) - {"to", "permute", "reshape"})
            if unknown:
                raise NetcError.single(
                    f"{where}: unknown key {unknown[0]!r}",
                    None,
                    "a table takes `to`, `reshape` and `permute`",
                )
            dims = value.get("reshape")
            if dims is not None:
                if not (
                    isinstance(dims, list)
                    and dims
                    and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in dims)
                ):
                    raise NetcError.single(
                        f"{where}: reshape must list positive sizes, e.g. [128, 3, 3, 64]"
                    )
                reshape = tuple(dims)
            axes = value.get("permute")
            if axes is not None:
                if not (
                    isinstance(axes, list)
                    and all(isinstance(a, int) and not isinstance(a, bool) for a in axes)
                    and sorted(axes) == list(range(len(axes)))
                ):
                    raise NetcError.single(
                        f"{where}: permute must list each axis once, e.g. [0, 1, 3, 2]"
                    )
                permute = tuple(axes)
            value = value.get("to", source)
        if value is not None and not isinstance(value, str):
            raise NetcError.single(f"{where}: a target must be a name, null or a table", None, HINT)
        if value is not None and _max_group(value) > pattern.groups:
            raise NetcError.single(
                f"{where}: the target {value!r} names a group the pattern does not have"
            )
        rules.append(Rule(source, pattern, value, permute, reshape))
    return NameMapping(rules, origin)


def _max_group(target: str) -> int:
    return max((int(g) for g in re.findall(r"\\(\d+)", target)), default=0)
