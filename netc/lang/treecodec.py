"""Syntax trees as plain JSON data, for the parse cache.

A cache entry is data, never code: it is decoded with `json` and rebuilt only into the syntax
tree's own node classes, field by field, against their declared types. Anything else (an unknown
tag, a field of the wrong type, a missing field) is a `TreeDecodeError`, which the cache treats as
a miss. Nothing in an entry can name a class, a function or a module.

Encoding: a node is `[tag, field, ...]` in the dataclass's field order, a span is
`[line, column, end_line, end_column]` (its source is the file being parsed), a list is a list.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from typing import Any

from netc.diagnostics import Source, Span
from netc.lang import ast

__all__ = ["TreeDecodeError", "decode", "encode"]

FORMAT = 1  # bump when the encoding changes

_Decoder = Callable[[Any], Any]


class TreeDecodeError(ValueError):
    """A cache entry that is not a syntax tree of this netc (damaged, foreign or forged)."""


_NODE_CLASSES: tuple[type, ...] = tuple(
    cls
    for cls in vars(ast).values()
    if isinstance(cls, type)
    and dataclasses.is_dataclass(cls)
    and cls.__module__ == ast.__name__
    and cls is not ast.File
)
_BY_TAG: dict[str, type] = {cls.__name__: cls for cls in _NODE_CLASSES}


def encode(tree: ast.File) -> str:
    """The tree as compact JSON text (its source text is not stored)."""
    return json.dumps(
        [FORMAT, _encode(tree.items), _encode(tree.comments)],
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=True,
    )


def _encode(value: Any) -> Any:
    if isinstance(value, Span):
        return [value.line, value.column, value.end_line, value.end_column]
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if _BY_TAG.get(name) is not type(value):
            raise TypeError(f"not a syntax-tree node: {type(value).__qualname__}")
        return [name, *(_encode(getattr(value, f.name)) for f in dataclasses.fields(value))]
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise TypeError(f"cannot encode {type(value).__qualname__}")


def decode(text: str | bytes, source: Source) -> ast.File:
    """The tree encoded in `text`, its spans pointing at `source`; TreeDecodeError otherwise."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise TreeDecodeError(f"not JSON: {exc}") from None
    if not (isinstance(data, list) and len(data) == 3 and data[0] == FORMAT):
        raise TreeDecodeError("not a netc syntax tree of this format")
    codec = _Codec(source)
    try:
        items = codec.list_of(codec.abstract(ast.Item))(data[1])
        comments = codec.list_of(codec.node(ast.Comment))(data[2])
    except RecursionError:
        raise TreeDecodeError("nested too deeply") from None
    return ast.File(source, items, comments)


class _Codec:
    """Decoders built from the node classes' type hints, for one source."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self._fields: dict[type, list[_Decoder]] = {}

    # -- leaves ------------------------------------------------------------------------------

    def span(self, value: Any) -> Span:
        if (
            isinstance(value, list)
            and len(value) == 4
            and all(type(v) is int and v >= 0 for v in value)
        ):
            return Span(self.source, *value)
        raise TreeDecodeError(f"bad span {value!r:.40}")

    @staticmethod
    def scalar(*kinds: type) -> _Decoder:
        def check(value: Any) -> Any:
            if type(value) in kinds:
                return value
            raise TreeDecodeError(f"expected {'/'.join(k.__name__ for k in kinds)}")

        return check

    # -- structure ---------------------------------------------------------------------------

    def list_of(self, item: _Decoder) -> _Decoder:
        def check(value: Any) -> list[Any]:
            if not isinstance(value, list):
                raise TreeDecodeError("expected a list")
            return [item(v) for v in value]

        return check

    def optional(self, inner: _Decoder) -> _Decoder:
        return lambda value: None if value is None else inner(value)

    def node(self, cls: type) -> _Decoder:
        return self.abstract(cls, exact=True)

    def abstract(self, base: type, exact: bool = False) -> _Decoder:
        allowed = {
            tag: cls
            for tag, cls in _BY_TAG.items()
            if (cls is base if exact else issubclass(cls, base))
        }
        decoders = self._decoders

        def check(value: Any) -> Any:
            if type(value) is not list or not value or type(value[0]) is not str:
                raise TreeDecodeError("expected a node")
            cls = allowed.get(value[0])
            if cls is None:
                raise TreeDecodeError(f"unexpected node {value[0]!r:.40}")
            fields = decoders(cls)
            if len(value) != len(fields) + 1:
                raise TreeDecodeError(f"{value[0]}: wrong number of fields")
            return cls(*[decode(v) for decode, v in zip(fields, value[1:])])  # noqa: B905

        return check

    def _decoders(self, cls: type) -> list[_Decoder]:
        known = self._fields.get(cls)
        if known is None:
            hints = typing.get_type_hints(cls, vars(ast))
            known = [self._for(hints[f.name]) for f in dataclasses.fields(cls)]
            self._fields[cls] = known
        return known

    def _for(self, hint: Any) -> _Decoder:
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if hint is Span:
            return self.span
        if hint in (str, int, bool):
            return self.scalar(hint)
        if origin in (typing.Union, types.UnionType):
            rest = [a for a in args if a is not type(None)]
            if all(a in (int, float) for a in rest):
                inner = self.scalar(*rest)
            elif len(rest) == 1:
                inner = self._for(rest[0])
            else:
                raise TypeError(f"unsupported hint {hint!r}")
            return self.optional(inner) if type(None) in args else inner
        if origin is list:
            return self.list_of(self._for(args[0]))
        if isinstance(hint, type) and hint in _NODE_CLASSES:
            has_subclasses = any(c is not hint and issubclass(c, hint) for c in _NODE_CLASSES)
            return self.abstract(hint) if has_subclasses else self.node(hint)
        raise TypeError(f"unsupported hint {hint!r}")
