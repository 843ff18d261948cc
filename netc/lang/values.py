"""Evaluated values: what a message holds once expressions, loops and templates are expanded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from netc.diagnostics import Span


class Symbol(str):
    """A bare identifier used as a value: an enum name such as MAX, or `true`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Symbol({str(self)!r})"


Value = "int | float | bool | str | Symbol | PMessage | list[Value]"


@dataclass
class PField:
    name: str
    value: object  # int | float | bool | str | Symbol | PMessage
    name_span: Span
    value_span: Span


@dataclass
class PMessage:
    span: Span
    fields: list[PField] = field(default_factory=list)

    def all(self, name: str) -> list[PField]:
        return [f for f in self.fields if f.name == name]

    def first(self, name: str) -> PField | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def values(self, name: str) -> list[object]:
        return [f.value for f in self.fields if f.name == name]

    def without(self, *names: str) -> PMessage:
        return PMessage(self.span, [f for f in self.fields if f.name not in names])

    def __iter__(self) -> Iterator[PField]:
        return iter(self.fields)
