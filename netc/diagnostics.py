"""Source positions and compiler-style diagnostics (file:line:col, the line, a caret, a hint)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Source:
    """A text and the name it is reported under (a path, or `<string>`)."""

    name: str
    text: str = field(repr=False, compare=False)

    def line(self, number: int) -> str:
        lines = self.text.splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else ""


@dataclass(frozen=True)
class Span:
    """A region of a source; lines and columns start at 1, the end is exclusive."""

    source: Source
    line: int
    column: int
    end_line: int
    end_column: int

    @property
    def file(self) -> str:
        return self.source.name

    def __str__(self) -> str:
        return f"{self.source.name}:{self.line}:{self.column}"

    def to(self, other: Span) -> Span:
        return Span(self.source, self.line, self.column, other.end_line, other.end_column)


@dataclass(frozen=True)
class Diagnostic:
    message: str
    span: Span | None = None
    hint: str | None = None
    severity: str = "error"
    notes: tuple[tuple[str, Span], ...] = ()

    def render(self) -> str:
        """The diagnostic as a compiler prints it."""
        where = str(self.span) if self.span else "netc"
        out = [f"{where}: {self.severity}: {self.message}"]
        if self.span is not None:
            out.extend(_excerpt(self.span))
        for note, span in self.notes:
            out.append(f"  note: {note} ({span})")
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)

    def to_json(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "message": self.message,
            "file": self.span.file if self.span else None,
            "line": self.span.line if self.span else None,
            "column": self.span.column if self.span else None,
            "end_line": self.span.end_line if self.span else None,
            "end_column": self.span.end_column if self.span else None,
            "hint": self.hint,
        }


def _excerpt(span: Span) -> list[str]:
    text = span.source.line(span.line).replace("\t", " ")
    if len(text) > 200:  # keep one-line giants (minified or hostile input) readable
        start = max(0, span.column - 80)
        text = text[start : start + 160]
        column = span.column - start
    else:
        column = span.column
    width = span.end_column - span.column if span.end_line == span.line else len(text) - column + 1
    width = max(1, min(width, len(text) - column + 1 if text else 1, 120))
    gutter = f"{span.line:>5}"
    return [f"{gutter} | {text}", f"{' ' * len(gutter)} | {' ' * (column - 1)}{'^' * width}"]


@dataclass
class NetcError(Exception):
    """Invalid input: carries every diagnostic found, in source order."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)

    @classmethod
    def single(cls, message: str, span: Span | None = None, hint: str | None = None) -> NetcError:
        return cls([Diagnostic(message, span, hint)])


class Reporter:
    """Collects independent errors so one run reports them all."""

    def __init__(self, limit: int = 100) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []  # kept apart: they never stop a build
        self.limit = limit

    def warn(self, message: str, span: Span | None = None, hint: str | None = None) -> None:
        """Something netc accepts but the user should know (a fork's field it ignores)."""
        if len(self.warnings) < self.limit:
            self.warnings.append(Diagnostic(message, span, hint, severity="warning"))

    def error(self, message: str, span: Span | None = None, hint: str | None = None) -> None:
        if len(self.diagnostics) >= self.limit:
            raise NetcError(self.sorted())
        self.diagnostics.append(Diagnostic(message, span, hint))

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        for d in diagnostics:
            self.error(d.message, d.span, d.hint)

    def sorted(self) -> list[Diagnostic]:
        def key(d: Diagnostic) -> tuple[str, int, int]:
            return (d.span.file, d.span.line, d.span.column) if d.span else ("", 0, 0)

        return sorted(self.diagnostics, key=key)

    def __bool__(self) -> bool:
        return bool(self.diagnostics)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.diagnostics)

    def raise_if_any(self) -> None:
        if self.diagnostics:
            raise NetcError(self.sorted())


def did_you_mean(word: str, candidates: Sequence[str]) -> str | None:
    """A hint naming the closest candidate, if one is close enough."""
    import difflib

    lowered = {c.lower(): c for c in candidates}
    if word.lower() in lowered:
        return f'did you mean "{lowered[word.lower()]}"?'
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    if not matches:
        low = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        matches = [lowered[m] for m in low]
    return f'did you mean "{matches[0]}"?' if matches else None
