"""Expression evaluation: integers, floats, booleans, strings, lists; bare names are enum symbols."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

from netc.diagnostics import NetcError, Span, did_you_mean
from netc.lang import ast
from netc.lang.values import PMessage, Symbol

_BOOL_NAMES = {"true": True, "True": True, "false": False, "False": False}
_FLOAT_NAMES = {"inf": math.inf, "infinity": math.inf, "nan": math.nan}
_MAX_LIST = 100_000
_MAX_STRING = 100_000
_MAX_INT_BITS = 256


class Scope:
    """Name bindings: `let`, template parameters, loop variables, and `input` in templates."""

    def __init__(self, parent: Scope | None = None, values: dict[str, Any] | None = None) -> None:
        self.parent = parent
        self.values: dict[str, Any] = dict(values or {})

    def lookup(self, name: str) -> tuple[bool, Any]:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.values:
                return True, scope.values[name]
            scope = scope.parent
        return False, None

    def names(self) -> list[str]:
        out: list[str] = []
        scope: Scope | None = self
        while scope is not None:
            out.extend(scope.values)
            scope = scope.parent
        return out

    def child(self, values: dict[str, Any] | None = None) -> Scope:
        return Scope(self, values)


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, Symbol):
        return "name"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, PMessage):
        return "message"
    return type(value).__name__


def describe(value: Any) -> str:
    """A value for an error message: `string "eight"`, `int 3`, `name MAX`."""
    if isinstance(value, str) and not isinstance(value, Symbol):
        return f'string "{value}"'
    return f"{type_name(value)} {render(value)}"


def _fail(message: str, span: Span, hint: str | None) -> NetcError:
    return NetcError.single(message, span, hint)


def _number(value: Any, span: Span, what: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(
            f"{what} needs a number, got {describe(value)}",
            span,
            "arithmetic works on int and float values",
        )
    return value


def _check_int(value: Any, span: Span) -> Any:
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value.bit_length() > _MAX_INT_BITS
    ):
        raise _fail("integer is too large", span, f"values are limited to {_MAX_INT_BITS} bits")
    return value


def _divide(a: int | float, b: int | float, span: Span) -> int | float:
    if b == 0:
        raise _fail("division by zero", span, "check the divisor")
    if isinstance(a, int) and isinstance(b, int) and a % b == 0:
        return a // b  # exact division stays an integer: `channels / 16`
    return a / b


def _floordiv(a: int | float, b: int | float, span: Span) -> int | float:
    if b == 0:
        raise _fail("division by zero", span, "check the divisor")
    return a // b


def _mod(a: int | float, b: int | float, span: Span) -> int | float:
    if b == 0:
        raise _fail("modulo by zero", span, "check the divisor")
    return a % b


def _power(a: int | float, b: int | float, span: Span) -> int | float:
    if (
        isinstance(a, int)
        and isinstance(b, int)
        and a not in (0, 1, -1)
        and b * abs(a).bit_length() > _MAX_INT_BITS
    ):
        raise _fail("power is too large", span, f"values are limited to {_MAX_INT_BITS} bits")
    try:
        result = a**b
    except (OverflowError, ZeroDivisionError) as exc:
        raise _fail(f"invalid power: {exc}", span, "check the base and exponent") from None
    if isinstance(result, complex):
        raise _fail("a negative number to a fractional power", span, "the result would be complex")
    return result


_ARITH: dict[str, Callable[[Any, Any, Span], Any]] = {
    "+": lambda a, b, s: a + b,
    "-": lambda a, b, s: a - b,
    "*": lambda a, b, s: a * b,
    "/": _divide,
    "//": _floordiv,
    "%": _mod,
    "**": _power,
}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _call(name: str, args: list[Any], span: Span) -> Any:
    def need(n: int) -> None:
        if len(args) != n:
            raise _fail(
                f"{name}() takes {n} argument{'s' * (n != 1)}, got {len(args)}",
                span,
                f"call it as {name}(x)",
            )

    if name in ("min", "max"):
        items = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        if not items:
            raise _fail(f"{name}() of nothing", span, f"give {name}() at least one number")
        nums = [_number(a, span, f"{name}()") for a in items]
        return min(nums) if name == "min" else max(nums)
    if name == "abs":
        need(1)
        return abs(_number(args[0], span, "abs()"))
    if name in ("int", "floor", "ceil", "round"):
        need(1)
        value = _number(args[0], span, f"{name}()")
        if math.isinf(value) or math.isnan(value):
            raise _fail(f"{name}() of {value}", span, "the value must be finite")
        if name == "floor":
            return math.floor(value)
        if name == "ceil":
            return math.ceil(value)
        return int(value) if name == "int" else round(value)
    if name == "float":
        need(1)
        return float(_number(args[0], span, "float()"))
    if name == "len":
        need(1)
        if not isinstance(args[0], list | str):
            raise _fail(
                f"len() needs a list or string, got {type_name(args[0])}",
                span,
                "write len([1, 2]) or len(name)",
            )
        return len(args[0])
    if name == "str":
        need(1)
        return render(args[0])
    raise _fail(
        f"unknown function {name}()",
        span,
        did_you_mean(name, FUNCTIONS) or f"functions: {', '.join(FUNCTIONS)}",
    )


FUNCTIONS = ("min", "max", "abs", "int", "float", "floor", "ceil", "round", "len", "str")


def weight(value: Any) -> int:
    """Items in a (nested) list plus string lengths, counted up to just past the limit."""
    total, stack = 0, [value]
    while stack and total <= _MAX_LIST:
        item = stack.pop()
        if isinstance(item, list):
            total += len(item)
            stack.extend(item)
        elif isinstance(item, str):
            total += len(item) // 100  # strings count in blocks of 100 characters
    return total


def _bounded(total: int, span: Span) -> None:
    if total > _MAX_LIST:
        raise _fail("list is too long", span, f"lists are limited to {_MAX_LIST:,} items in all")


def render(value: Any) -> str:
    """A value as interpolated into a string: `conv${i}` -> conv3."""
    if isinstance(value, list) and weight(value) > _MAX_LIST // 10:
        return "[...]"  # never build a huge string from a huge list
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    return str(value)


def evaluate(expr: ast.Expr, scope: Scope, *, symbols: bool = False) -> Any:
    """The value of an expression. With `symbols`, an unbound bare name is an enum symbol."""
    if isinstance(expr, ast.Number):
        return expr.value
    if isinstance(expr, ast.Str):
        if len(expr.parts) == 1 and expr.parts[0].expr is None:
            return expr.parts[0].text
        pieces = []
        for part in expr.parts:
            if part.expr is None:
                pieces.append(part.text)
            else:
                value = evaluate(part.expr, scope)
                if isinstance(value, PMessage):
                    raise _fail(
                        "a message cannot be interpolated into a string",
                        part.expr.span,
                        "interpolate numbers or strings",
                    )
                pieces.append(render(value))
        text = "".join(pieces)
        if len(text) > _MAX_STRING:
            raise _fail(
                "string is too long",
                expr.span,
                f"strings are limited to {_MAX_STRING:,} characters",
            )
        return text
    if isinstance(expr, ast.Name):
        found, value = scope.lookup(expr.id)
        if found:
            return value
        if expr.id in _BOOL_NAMES:
            return _BOOL_NAMES[expr.id]
        if symbols:
            return Symbol(expr.id)
        if expr.id.lower() in _FLOAT_NAMES:
            return _FLOAT_NAMES[expr.id.lower()]
        raise _fail(
            f'unknown name "{expr.id}"',
            expr.span,
            did_you_mean(expr.id, scope.names())
            or "names in expressions are template parameters, loop variables or `let` bindings",
        )
    if isinstance(expr, ast.ListExpr):
        items = [evaluate(item, scope, symbols=symbols) for item in expr.items]
        _bounded(weight(items), expr.span)
        return items
    if isinstance(expr, ast.Call):
        return _call(expr.func, [evaluate(a, scope) for a in expr.args], expr.span)
    assert isinstance(expr, ast.Operation)
    return _operation(expr, scope, symbols)


def truth(value: Any, span: Span) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, Symbol) and value in ("t", "f"):
        return value == "t"
    raise _fail(
        f"a condition needs a bool or a number, got {describe(value)}",
        span,
        "compare it, e.g. if n > 1 { ... }",
    )


def _operation(expr: ast.Operation, scope: Scope, symbols: bool) -> Any:
    op, operands, span = expr.op, expr.operands, expr.span
    if op == "?:":
        branch = (
            operands[1] if truth(evaluate(operands[0], scope), operands[0].span) else operands[2]
        )
        return evaluate(branch, scope, symbols=symbols)
    if op == "and":
        return truth(evaluate(operands[0], scope), operands[0].span) and truth(
            evaluate(operands[1], scope), operands[1].span
        )
    if op == "or":
        return truth(evaluate(operands[0], scope), operands[0].span) or truth(
            evaluate(operands[1], scope), operands[1].span
        )
    if op == "not":
        return not truth(evaluate(operands[0], scope), operands[0].span)
    if op in ("neg", "pos"):
        value = evaluate(operands[0], scope)
        number = _number(value, span, "unary " + ("-" if op == "neg" else "+"))
        return -number if op == "neg" else number
    if op == "[]":
        target = evaluate(operands[0], scope)
        index = evaluate(operands[1], scope)
        if not isinstance(target, list | str):
            raise _fail(
                f"only lists and strings can be indexed, not {type_name(target)}",
                operands[0].span,
                "index a list, e.g. cfg[0]",
            )
        if isinstance(index, bool) or not isinstance(index, int):
            raise _fail(
                f"an index must be an integer, got {type_name(index)}",
                operands[1].span,
                "write e.g. cfg[0]",
            )
        if not -len(target) <= index < len(target):
            raise _fail(
                f"index {index} is out of range for length {len(target)}",
                operands[1].span,
                f"use an index in [{-len(target)}, {len(target) - 1}]",
            )
        return target[index]
    left = evaluate(operands[0], scope)
    right = evaluate(operands[1], scope)
    if op in _COMPARE:
        if type_name(left) != type_name(right) and not (
            isinstance(left, int | float) and isinstance(right, int | float)
        ):
            if op in ("==", "!="):
                return (op == "!=") ^ (left == right)
            raise _fail(
                f"cannot compare {type_name(left)} with {type_name(right)}",
                span,
                "compare values of one kind",
            )
        try:
            return _COMPARE[op](left, right)
        except TypeError:
            raise _fail(
                f"cannot compare {type_name(left)} with {type_name(right)}",
                span,
                "compare values of one kind",
            ) from None
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        if len(left) + len(right) > _MAX_STRING:
            raise _fail(
                "string is too long", span, f"strings are limited to {_MAX_STRING:,} characters"
            )
        return left + right
    if op == "+" and isinstance(left, list) and isinstance(right, list):
        _bounded(weight(left) + weight(right), span)
        return left + right
    if (
        op == "*"
        and isinstance(left, list)
        and isinstance(right, int)
        and not isinstance(right, bool)
    ):
        _bounded(weight(left) * max(right, 0), span)
        return left * right
    a = _number(left, operands[0].span, f'"{op}"')
    b = _number(right, operands[1].span, f'"{op}"')
    return _check_int(_ARITH[op](a, b, span), span)
