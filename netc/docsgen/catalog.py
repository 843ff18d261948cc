"""The catalogue of the zoo (`specs/zoo.yaml`): which paper each spec comes from and the
figures the paper (or a reference implementation) reports.

A list of entries (or `networks:` holding the list); per entry:

```yaml
- file: vgg16.net                      # or `spec:`; the only required field
  name: VGG-16 (configuration D)
  paper: {title: ..., authors: [..], venue: ICLR 2015, year: 2015, arxiv: "1409.1556"}
  year: 2014
  input: [3, 224, 224]                 # or text
  imagenet_top5: {error: 8.8, evaluation: ..., source: ...}    # this network's own figure
  ilsvrc: {error: 7.3, challenge: ..., evaluation: ..., source: ...}   # the challenge entry's
  reference:                           # figures netc reproduces
    - {quantity: params, value: 138357544, source: ...}
    - {quantity: params, value: 138000000, rounding: 1000000, source: "paper, Table 2"}
  notes: ...
```

Also read: `top5_error` / `top5_source` (for `imagenet_top5`) and `reference: {params, macs,
source}`. A field that is missing is left out of the pages; one that cannot be read is left out
with a warning. A catalogue that is not YAML, has no entries list, or names a spec that does not
exist is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any


class CatalogError(Exception):
    """The catalogue cannot be used (not YAML, wrong shape, a spec that does not exist)."""


@dataclass(frozen=True)
class Paper:
    title: str | None = None
    authors: tuple[str, ...] = ()
    venue: str | None = None
    year: int | None = None
    arxiv: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Reported:
    """A number as the catalogue gives it: `value` when it reads as a number, `text` always."""

    text: str
    value: float | None


@dataclass(frozen=True)
class Figure:
    """A reference figure: `quantity` params or macs (others are shown, not compared)."""

    quantity: str
    value: Reported
    rounding: float | None = None
    source: str | None = None


@dataclass(frozen=True)
class ErrorRate:
    error: Reported
    evaluation: str | None = None
    source: str | None = None
    challenge: str | None = None


@dataclass
class Entry:
    spec: str  # relative to the specs folder, POSIX separators
    name: str | None = None
    paper: Paper | None = None
    year: int | None = None
    input: str | None = None
    top5: ErrorRate | None = None  # this network's own top-5 error
    ilsvrc: ErrorRate | None = None  # the paper's challenge entry (an ensemble)
    references: list[Figure] = field(default_factory=list)
    notes: str | None = None
    index: int = 0  # position in the catalogue
    warnings: list[str] = field(default_factory=list)


_SUFFIXES = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9, "t": 1e12}
_NUMBER = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?(?:e[-+]?\d+)?)\s*([kmgbt]?)\s*%?\s*$", re.IGNORECASE)


def short(value: float) -> str:
    """15.5e9 -> 15.5G; 7.3 -> 7.3."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.4g}{unit}"
    return f"{value:g}"


def reported(value: Any) -> Reported | None:
    """A reported figure: 138357544, 1.5e9, "138M", "15.5 G", "7.3%", "~60M" (text kept)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Reported(f"{value:,}", float(value))
    if isinstance(value, float):
        return Reported(short(value) if abs(value) >= 1000 else str(value), value)
    if isinstance(value, str):
        cleaned = value.replace(",", "").replace("_", "").replace("~", "").replace("≈", "")
        match = _NUMBER.match(cleaned)
        number = None
        if match:
            number = float(match.group(1)) * _SUFFIXES[match.group(2).lower()]
            if "e" in match.group(1).lower():  # 15.5e9 reads better as 15.5G
                return Reported(short(number), number)
        return Reported(value.strip(), number)
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return " ".join(value.split()) or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _year(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _input(value: Any) -> str | None:
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return "×".join(str(v) for v in value)
    return _text(value)


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    figure = reported(value)
    return figure.value if figure is not None else None


def _paper(value: Any) -> Paper | None:
    if isinstance(value, str):
        return Paper(title=_text(value))
    if not isinstance(value, dict):
        return None
    authors = value.get("authors")
    if isinstance(authors, str):
        names: tuple[str, ...] = (" ".join(authors.split()),)
    elif isinstance(authors, list):
        names = tuple(" ".join(a.split()) for a in authors if isinstance(a, str))
    else:
        names = ()
    return Paper(
        title=_text(value.get("title")),
        authors=names,
        venue=_text(value.get("venue")),
        year=_year(value.get("year")),
        arxiv=_text(value.get("arxiv")),
        url=_text(value.get("url")),
    )


def _error_rate(value: Any) -> ErrorRate | None:
    if isinstance(value, dict):
        error = reported(value.get("error"))
        if error is None or error.value is None:
            return None
        return ErrorRate(
            error,
            _text(value.get("evaluation")),
            _text(value.get("source")),
            _text(value.get("challenge")),
        )
    error = reported(value)
    return ErrorRate(error) if error is not None and error.value is not None else None


def _references(value: Any, entry: Entry) -> list[Figure]:
    items: list[Any]
    if isinstance(value, dict) and "quantity" not in value:
        source = _text(value.get("source"))
        items = [
            {"quantity": q, "value": value[q], "source": source}
            for q in ("params", "macs")
            if q in value
        ]
    elif isinstance(value, dict):
        items = [value]
    elif isinstance(value, list):
        items = value
    else:
        entry.warnings.append(f"{entry.spec}: reference is neither a list nor a mapping; left out")
        return []
    figures = []
    for item in items:
        figure = reported(item.get("value")) if isinstance(item, dict) else None
        quantity = _text(item.get("quantity")) if isinstance(item, dict) else None
        if figure is None or quantity is None:
            entry.warnings.append(f"{entry.spec}: reference {item!r} is not readable; left out")
            continue
        assert isinstance(item, dict)
        rounding = _number(item.get("rounding")) if item.get("rounding") is not None else None
        figures.append(Figure(quantity.lower(), figure, rounding, _text(item.get("source"))))
    return figures


def _field(raw: dict[str, Any], keys: tuple[str, ...], read: Any, entry: Entry) -> Any:
    for key in keys:
        if key in raw and raw[key] is not None:
            value = read(raw[key])
            if value is None:
                entry.warnings.append(f"{entry.spec}: {key} {raw[key]!r} is not readable; left out")
            return value
    return None


def load_catalog(path: Path, specs: Path) -> list[Entry]:
    """The catalogue's entries, in its order. Raises CatalogError."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise CatalogError(f"{path}: not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise CatalogError(f"{path}{where}: {problem}") from None
    if data is None:
        return []
    networks = data.get("networks") if isinstance(data, dict) else data
    if not isinstance(networks, list):
        raise CatalogError(f"{path}: expected a list of entries (or `networks:` with one)")
    entries: list[Entry] = []
    seen: set[str] = set()
    for index, raw in enumerate(networks):
        spec = raw.get("file", raw.get("spec")) if isinstance(raw, dict) else None
        if not isinstance(raw, dict) or not isinstance(spec, str):
            raise CatalogError(f"{path}: entry {index + 1} has no `file:` (the spec's name)")
        relative = PurePosixPath(spec.strip().replace("\\", "/"))
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise CatalogError(f"{path}: spec {spec!r} must be a path inside {specs}")
        if not (specs / relative).is_file():
            raise CatalogError(f"{path}: spec {spec!r} not found in {specs}")
        key = relative.as_posix()
        if key in seen:
            raise CatalogError(f"{path}: spec {spec!r} is listed twice")
        seen.add(key)
        entry = Entry(spec=key, index=index)
        entry.name = _field(raw, ("name",), _text, entry)
        entry.paper = _field(raw, ("paper",), _paper, entry)
        entry.year = _field(raw, ("year",), _year, entry)
        entry.input = _field(raw, ("input",), _input, entry)
        entry.top5 = _field(raw, ("imagenet_top5", "top5_error"), _error_rate, entry)
        if entry.top5 is not None and entry.top5.source is None:
            source = _text(raw.get("top5_source"))
            if source is not None:
                entry.top5 = ErrorRate(entry.top5.error, entry.top5.evaluation, source)
        entry.ilsvrc = _field(raw, ("ilsvrc",), _error_rate, entry)
        entry.notes = _field(raw, ("notes",), _text, entry)
        if raw.get("reference") is not None:
            entry.references = _references(raw["reference"], entry)
        if entry.year is None and entry.paper is not None:
            entry.year = entry.paper.year
        entries.append(entry)
    return entries
