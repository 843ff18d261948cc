"""Check evaluated messages against the schema and convert values to their field types."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from netc.diagnostics import Reporter, Span, did_you_mean
from netc.lang.evaluate import describe, render
from netc.lang.values import PField, PMessage, Symbol
from netc.layers.base import Params
from netc.proto.schema import Field, Kind, Message, Schema

_TRUE = {"true", "True", "t", "1"}
_FALSE = {"false", "False", "f", "0"}


class _Invalid(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def convert(value: object, spec: Field, schema: Schema) -> object:
    """A scalar converted to the field's kind; raises _Invalid with a readable reason."""
    kind = spec.kind
    if isinstance(value, PMessage):
        raise _Invalid(f'"{spec.name}" is a value, not a message', f"write {spec.name}: value")
    if kind in (Kind.INT, Kind.UINT):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(
                f'"{spec.name}" needs an integer, got {describe(value)}',
                f"write a whole number, e.g. {spec.name}: 64",
            )
        if kind is Kind.UINT and value < 0:
            raise _Invalid(
                f'"{spec.name}" must not be negative, got {value}', "this field is unsigned"
            )
        if value.bit_length() > 64:
            raise _Invalid(f'"{spec.name}" is out of the 64-bit range', "use a smaller value")
        return value
    if kind is Kind.FLOAT:
        if isinstance(value, Symbol) and value.lower() in ("inf", "infinity", "nan"):
            return math.inf if value.lower() != "nan" else math.nan
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or isinstance(value, Symbol)
        ):
            raise _Invalid(
                f'"{spec.name}" needs a number, got {describe(value)}',
                f"write e.g. {spec.name}: 0.5 or 1e-4",
            )
        return float(value)
    if kind is Kind.BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, Symbol) or (isinstance(value, int) and value in (0, 1)):
            text = str(int(value)) if isinstance(value, int) else str(value)
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
        raise _Invalid(
            f'"{spec.name}" needs true or false, got {render(value)}',
            f"write {spec.name}: true or {spec.name}: false",
        )
    if kind in (Kind.STRING, Kind.BYTES):
        if isinstance(value, Symbol) or not isinstance(value, str):
            raise _Invalid(
                f'"{spec.name}" needs a string, got {describe(value)}',
                f'quote it: {spec.name}: "{render(value)}"',
            )
        return str(value)
    if kind is Kind.ENUM:
        assert spec.enum is not None
        enum = schema.enum(spec.enum)
        if isinstance(value, int) and not isinstance(value, bool):
            name = enum.by_number(value)
            if name is None:
                raise _Invalid(
                    f"{value} is not a value of {spec.enum}", f"values: {', '.join(enum.values)}"
                )
            return name
        if isinstance(value, Symbol) and value in enum.values:
            return str(value)
        if isinstance(value, str) and not isinstance(value, Symbol) and value in enum.values:
            raise _Invalid(
                f'"{spec.name}" takes an enum name without quotes', f"write {spec.name}: {value}"
            )
        raise _Invalid(
            f'unknown value {render(value)} for "{spec.name}"',
            did_you_mean(str(value), list(enum.values)) or f"values: {', '.join(enum.values)}",
        )
    raise _Invalid(f'"{spec.name}" is a message', f"write {spec.name} {{ ... }}")


def validate(
    message: PMessage,
    spec: Message,
    schema: Schema,
    reporter: Reporter,
    *,
    extensions: Sequence[Field] = (),
    skip: Sequence[str] = (),
    fields: Sequence[PField] | None = None,
) -> Params:
    """Params for `message` (or just `fields`), reporting unknown, ill-typed and repeated fields."""
    known, defaults, repeated = _tables(spec, tuple(extensions))
    values: dict[str, Any] = {}
    spans: dict[str, Span] = {}
    for f in fields if fields is not None else message.fields:
        if f.name in skip:
            continue
        field_spec = known.get(f.name)
        if field_spec is None:
            reporter.error(
                f'unknown field "{f.name}" in {spec.name}',
                f.name_span,
                did_you_mean(f.name, list(known))
                or f"fields of {spec.name}: {', '.join(list(known)[:12])}...",
            )
            continue
        if not field_spec.repeated and f.name in values:
            reporter.error(
                f'"{f.name}" is given twice',
                f.name_span,
                f"{f.name} takes one value (first given at {spans[f.name]})",
            )
            continue
        converted = _value(f, field_spec, schema, reporter)
        if converted is _ERROR:
            continue
        if field_spec.ignored is not None:
            reporter.warn(
                f'"{f.name}" ({field_spec.origin}) is ignored: {field_spec.ignored}',
                f.name_span,
                "remove it to silence this warning; --strict makes it an error",
            )
        spans.setdefault(f.name, f.value_span)
        if field_spec.repeated:
            values.setdefault(f.name, []).append(converted)
        else:
            values[f.name] = converted
    return Params(spec.name, values, defaults, repeated, spans)


_TABLES: dict[tuple[int, tuple[Field, ...]], tuple[dict[str, Field], dict[str, Any], set[str]]] = {}


def _tables(
    spec: Message, extensions: tuple[Field, ...]
) -> tuple[dict[str, Field], dict[str, Any], set[str]]:
    """A message's fields by name, its defaults and its repeated fields (built once per message)."""
    key = (id(spec), extensions)
    if key not in _TABLES:
        fields = (*spec.fields, *extensions)
        _TABLES[key] = (
            {f.name: f for f in fields},
            {f.name: f.default for f in fields if f.default is not None},
            {f.name for f in fields if f.repeated},
        )
    return _TABLES[key]


_ERROR = object()


def _value(f: PField, spec: Field, schema: Schema, reporter: Reporter) -> object:
    if spec.kind is Kind.MESSAGE:
        assert spec.message is not None
        if not isinstance(f.value, PMessage):
            reporter.error(
                f'"{f.name}" is a message, not a value',
                f.value_span,
                f"write {f.name} {{ ... }}",
            )
            return _ERROR
        return validate(f.value, schema.message(spec.message), schema, reporter)
    try:
        return convert(f.value, spec, schema)
    except _Invalid as exc:
        reporter.error(exc.message, f.value_span, exc.hint)
        return _ERROR
