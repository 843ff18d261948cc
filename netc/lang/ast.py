"""The syntax tree of a netc/prototxt file, as written (before any expansion)."""

from __future__ import annotations

from dataclasses import dataclass, field

from netc.diagnostics import Source, Span

# ---- expressions -----------------------------------------------------------------------


@dataclass
class Expr:
    span: Span

    @property
    def depth(self) -> int:
        return 1


@dataclass
class Number(Expr):
    text: str
    value: int | float


@dataclass
class StrPart:
    """A piece of a string: literal text, or an interpolated `${expr}`."""

    text: str = ""
    expr: Expr | None = None


@dataclass
class Str(Expr):
    parts: list[StrPart]
    quote: str = '"'

    @property
    def literal(self) -> str | None:
        """The plain value when the string has no interpolation."""
        if any(p.expr is not None for p in self.parts):
            return None
        return "".join(p.text for p in self.parts)


@dataclass
class Name(Expr):
    id: str


@dataclass
class Call(Expr):
    func: str
    args: list[Expr]
    _depth: int = 1

    @property
    def depth(self) -> int:
        return self._depth


@dataclass
class ListExpr(Expr):
    items: list[Expr]
    _depth: int = 1

    @property
    def depth(self) -> int:
        return self._depth


@dataclass
class Operation(Expr):
    """Unary, binary, comparison, boolean, power, index and conditional operations."""

    op: str  # "+", "-", "*", "/", "//", "%", "**", "==", ..., "and", "or", "not", "neg", "pos", "[]", "?:"
    operands: list[Expr]
    _depth: int = 1

    @property
    def depth(self) -> int:
        return self._depth


# ---- statements ------------------------------------------------------------------------


@dataclass
class Item:
    span: Span


@dataclass
class ScalarField(Item):
    name: str
    name_span: Span
    value: Expr


@dataclass
class MessageField(Item):
    name: str
    name_span: Span
    items: list[Item]
    angle: bool = False


@dataclass
class Param:
    name: str
    span: Span
    type: str | None  # int, float, bool, string, list, message, any
    default: Expr | None


@dataclass
class Define(Item):
    name: str
    name_span: Span
    params: list[Param]
    items: list[Item]


@dataclass
class Instance(Item):
    template: str
    template_span: Span
    name: Str
    items: list[Item]


@dataclass
class Repeat(Item):
    var: str
    value_var: str | None  # `repeat i, c in [..]`: i is the index, c the element
    start: Expr | None  # a range start..stop (inclusive), or
    stop: Expr | None
    sequence: Expr | None  # a list expression
    items: list[Item]


@dataclass
class If(Item):
    condition: Expr
    items: list[Item]
    orelse: list[Item] = field(default_factory=list)


@dataclass
class Let(Item):
    name: str
    value: Expr


@dataclass
class Import(Item):
    path: Str


@dataclass
class Extends(Item):
    path: Str


@dataclass
class LayerRange:
    first: Str
    last: Str | None


@dataclass
class Freeze(Item):
    range: LayerRange


@dataclass
class Tune(Item):
    range: LayerRange
    items: list[Item]


@dataclass
class Replace(Item):
    target: Str
    items: list[Item]


@dataclass
class Remove(Item):
    range: LayerRange


@dataclass
class Comment:
    text: str
    span: Span


@dataclass
class File:
    source: Source
    items: list[Item]
    comments: list[Comment]
