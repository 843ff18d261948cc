"""Text to syntax tree: Lark (LALR) for the grammar, then an iterative conversion to `ast`.
Callers use `netc.lang.parser`, which puts a content-addressed cache in front of this module.

The conversion walks the Lark tree with an explicit stack, so deeply nested input cannot
exhaust Python's recursion limit; `_check_nesting` rejects absurd nesting before Lark runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from netc.diagnostics import Diagnostic, NetcError, Source, Span
from netc.lang import ast
from netc.lang.limits import DEFAULT_LIMITS, Limits

GRAMMAR_NAME = "netc.lark"


def grammar_text() -> str:
    """The grammar: shipped inside the wheel, or read from the source tree's `grammar/`."""
    packaged = resources.files("netc").joinpath("grammar", GRAMMAR_NAME)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "grammar" / GRAMMAR_NAME).read_text("utf-8")


@cache
def _lark() -> Lark:
    options: dict[str, Any] = {
        "parser": "lalr",
        "lexer": "contextual",
        "propagate_positions": True,
        "maybe_placeholders": True,
        "start": ["start", "expr"],
    }
    try:  # a cached parser table makes `netc check` start in milliseconds
        return Lark(grammar_text(), cache=True, **options)
    except OSError:
        return Lark(grammar_text(), **options)


_TOKEN_NAMES = {
    "NAME": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "LONE_VALUE": "a value",
    "LBRACE": '"{"',
    "RBRACE": '"}"',
    "LSQB": '"["',
    "RSQB": '"]"',
    "LPAR": '"("',
    "RPAR": '")"',
    "COLON": '":"',
    "LESSTHAN": '"<"',
    "MORETHAN": '">"',
    "COMMA": '","',
    "_SEP": '";"',
    "$END": "end of file",
    "COMPARE": "a comparison",
    "ADD_OP": '"+" or "-"',
    "MUL_OP": "an operator",
    "EQUAL": '"="',
    "QMARK": '"?"',
    "__ANON_0": '".."',
}


def _describe(token_type: str) -> str:
    if token_type in _TOKEN_NAMES:
        return _TOKEN_NAMES[token_type]
    if token_type.isupper() and token_type.isalpha():
        return f'"{token_type.lower()}"'
    return token_type


# ---- public entry points ---------------------------------------------------------------


def parse(source: Source, limits: Limits = DEFAULT_LIMITS) -> ast.File:
    """Parse a whole file; raises NetcError with a positioned diagnostic."""
    size = len(source.text.encode("utf-8", errors="replace"))
    if size > limits.max_source_bytes:
        raise NetcError.single(
            f"file is too large ({size / 1e6:.1f} MB; the limit is "
            f"{limits.max_source_bytes / 1e6:.1f} MB)",
            Span(source, 1, 1, 1, 2),
            "split the network into files joined with `import`, or raise the limit with "
            "--max-source-bytes",
        )
    _check_nesting(source, limits)
    _check_tokens(source, limits)
    comments: list[ast.Comment] = []
    try:
        tree = _lark().parse(source.text, start="start")
    except UnexpectedInput as exc:
        raise NetcError([_syntax_diagnostic(source, exc)]) from None
    for token in _comment_tokens(source):
        comments.append(token)
    items = _Converter(source, limits).convert(tree)
    return ast.File(source, items, comments)


def parse_expression(text: str, span: Span, limits: Limits = DEFAULT_LIMITS) -> ast.Expr:
    """Parse the expression inside a `${...}` interpolation, positioned at `span`."""
    sub = Source(span.source.name, span.source.text)
    depth = 0
    for offset, char in enumerate(text):
        depth += 1 if char in "([{" else -1 if char in ")]}" else 0
        if depth > limits.max_nesting:
            column = span.column + offset
            raise NetcError.single(
                f"nesting is deeper than {limits.max_nesting} levels",
                Span(sub, span.line, column, span.line, column + 1),
                "split the expression with `let` bindings",
            )
    try:
        tree = _lark().parse(text, start="expr")
    except UnexpectedInput as exc:
        column = span.column + max(0, getattr(exc, "column", 1) - 1)
        raise NetcError.single(
            "invalid expression inside ${...}",
            Span(sub, span.line, column, span.line, column + 1),
            "write a name or an expression, e.g. ${i} or ${2 * i + 1}",
        ) from None
    converter = _Converter(span.source, limits, offset=span)
    result = converter.convert_one(tree)
    assert isinstance(result, ast.Expr)
    return result


# ---- comments, nesting, syntax errors --------------------------------------------------

_STRIP = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|#[^\n]*")
_COMMENT = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|(#[^\n]*)")
_BRACKETS = re.compile(r"[^{}()\[\]<>\n]+")


def _comment_tokens(source: Source) -> list[ast.Comment]:
    out: list[ast.Comment] = []
    if "#" not in source.text:
        return out
    line_starts = [0]
    for m in re.finditer("\n", source.text):
        line_starts.append(m.end())
    import bisect

    for m in _COMMENT.finditer(source.text):
        if m.group(1) is None:
            continue
        start = m.start(1)
        line = bisect.bisect_right(line_starts, start)
        column = start - line_starts[line - 1] + 1
        text = m.group(1).rstrip()
        out.append(ast.Comment(text, Span(source, line, column, line, column + len(text))))
    return out


_TOKEN = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|#[^\n]*|[A-Za-z_0-9.]+|\S")


def _check_tokens(source: Source, limits: Limits) -> None:
    """Bound the parser's time (about 20 µs a token) before it starts."""
    if len(source.text) <= limits.max_tokens:
        return  # cannot hold that many tokens
    count = 0
    for count, match in enumerate(_TOKEN.finditer(source.text), start=1):
        if count > limits.max_tokens:
            before = source.text[: match.start()]
            line = before.count("\n") + 1
            column = match.start() - (before.rfind("\n") + 1) + 1
            raise NetcError.single(
                f"file has more than {limits.max_tokens:,} tokens",
                Span(source, line, column, line, column + 1),
                "split the network into template libraries joined with `import`",
            )


def _check_nesting(source: Source, limits: Limits) -> None:
    """Reject nesting deeper than the limit in linear time, before the parser sees it."""
    text = source.text
    if sum(text.count(c) for c in "{([<") <= limits.max_nesting:
        return
    stripped = _STRIP.sub(lambda m: " " * len(m.group(0)), text)
    depth = 0
    line = 1
    line_start = 0
    for m in re.finditer(r"[{}()\[\]\n]", stripped):
        ch = m.group(0)
        if ch == "\n":
            line += 1
            line_start = m.end()
        elif ch in "{([":
            depth += 1
            if depth > limits.max_nesting:
                column = m.start() - line_start + 1
                raise NetcError.single(
                    f"nesting is deeper than {limits.max_nesting} levels",
                    Span(source, line, column, line, column + 1),
                    "flatten the structure, or move repeated parts into a template",
                )
        else:
            depth = max(0, depth - 1)


def _syntax_diagnostic(source: Source, exc: UnexpectedInput) -> Diagnostic:

    line = getattr(exc, "line", 1) or 1
    column = getattr(exc, "column", 1) or 1
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        char = source.text[pos] if pos < len(source.text) else ""
        span = Span(source, line, column, line, column + 1)
        if char in "\"'":
            return Diagnostic("unterminated string", span, "close the string on the same line")
        return Diagnostic(
            f"unexpected character {char!r}",
            span,
            "names are letters, digits and _; strings are quoted; comments start with #",
        )
    expected = sorted(getattr(exc, "expected", None) or getattr(exc, "accepts", None) or [])
    readable = sorted({_describe(t) for t in expected if not t.startswith("__ANON")} - {""})
    if isinstance(exc, UnexpectedEOF) or (
        isinstance(exc, UnexpectedToken) and exc.token.type == "$END"
    ):
        lines = source.text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        opened = _unclosed(source.text)
        hint = (
            f'a "{opened}" is never closed'
            if opened
            else "the file ends in the middle of a statement"
        )
        return Diagnostic(
            "unexpected end of file",
            Span(source, line, max(1, column), line, column + 1),
            hint,
        )
    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    token = Token.new_borrow_pos(_token_kind(token), token.value, token)
    text = str(token)
    width = max(1, len(text.splitlines()[0]) if text else 1)
    span = Span(source, line, column, line, column + width)
    hint = _hint_for(token, readable)
    return Diagnostic(f"unexpected {_token_phrase(token)}", span, hint)


def _token_kind(token: Token) -> str:
    """The token's type, with the grammar's fast-path LONE_VALUE resolved to what it holds."""
    if token.type != "LONE_VALUE":
        return str(token.type)
    first = token[0]
    if first in "\"'":
        return "STRING"
    return "NAME" if first.isalpha() or first == "_" else "NUMBER"


def _token_phrase(token: Token) -> str:
    if token.type == "NAME":
        return f'name "{token}"'
    if token.type == "NUMBER":
        return f"number {token}"
    if token.type == "STRING":
        return f"string {token}"
    return f'"{token}"'


_TOP_LEVEL_WORDS = ("DEFINE", "IMPORT", "EXTENDS", "FREEZE", "TUNE", "REPLACE", "REMOVE")


def _hint_for(token: Token, readable: list[str]) -> str:
    if token.type in _TOP_LEVEL_WORDS:
        return f"`{token}` belongs at the top level of a file, not inside a message or template"
    if token.type == "NAME" and '":"' in readable:
        return 'a field is written `name: value` or `name { ... }`: is a ":" missing?'
    if token.type in ("RBRACE", "MORETHAN") and readable:
        return "this closes a block that was never opened, or a value is missing before it"
    if token.type == "STRING" and '":"' in readable:
        return 'a field is written `name: value`: is a ":" missing?'
    if token.type in ("NUMBER", "STRING") and "a name" in readable:
        return "a value needs a field name before it, as in `num_output: 64`"
    if readable:
        shown = ", ".join(readable[:6]) + (", ..." if len(readable) > 6 else "")
        return f"expected {shown}"
    return "check the syntax near this point"


def _unclosed(text: str) -> str | None:
    stripped = _STRIP.sub("", text)
    stack: list[str] = []
    pairs = {"}": "{", ")": "(", "]": "["}
    for ch in _BRACKETS.sub("", stripped):
        if ch in "{([":
            stack.append(ch)
        elif ch in pairs and stack and stack[-1] == pairs[ch]:
            stack.pop()
    return stack[-1] if stack else None


# ---- strings and numbers ---------------------------------------------------------------

_SIMPLE_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}
_ESCAPE = re.compile(
    r"\\(?:([ntrabfv\\'\"?])|([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{4})|(.))"
)


def unescape(raw: str, span: Span) -> str:
    """Protobuf text-format string escapes."""
    if "\\" not in raw:
        return raw

    def replace(m: re.Match[str]) -> str:
        simple, octal, hexa, uni, bad = m.groups()
        if simple:
            return _SIMPLE_ESCAPES[simple]
        if octal:
            return chr(int(octal, 8))
        if hexa:
            return chr(int(hexa, 16))
        if uni:
            code = int(uni, 16)
            if 0xD800 <= code <= 0xDFFF:
                raise NetcError.single(
                    f"\\u{uni} is a lone surrogate, not a character",
                    span,
                    "write the character itself, or a \\uHHHH escape outside D800-DFFF",
                )
            return chr(code)
        raise NetcError.single(
            f"invalid escape sequence \\{bad}",
            span,
            "valid escapes: \\n \\t \\r \\\\ \\\" \\' \\xHH \\ooo \\uHHHH",
        )

    return _ESCAPE.sub(replace, raw)


def number_value(text: str) -> int | float:
    """The value of a NUMBER token; raises ValueError for absurdly long literals."""
    body = text
    if len(body) > 400:  # longer than any float or 64-bit integer can use
        raise ValueError(body)
    if body[:2].lower() == "0x":
        return int(body, 16)
    if body[-1] in "fF":
        return float(body[:-1])
    if any(c in body for c in ".eE"):
        return float(body)
    return int(body)


# ---- tree conversion -------------------------------------------------------------------

_INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")


class _Converter:
    """Lark tree -> ast, bottom-up with an explicit stack."""

    def __init__(self, source: Source, limits: Limits, offset: Span | None = None) -> None:
        self.source = source
        self.limits = limits
        self.offset = offset  # for interpolated expressions: their position in the file
        self.depths: dict[int, int] = {}  # id(block item) -> nesting depth below it
        self.handlers: dict[str, Callable[[Span, list[Any]], Any]] = {
            "start": lambda span, c: c,
            "scalar_field": self._scalar_field,
            "message_field": self._message_field,
            "angle_message_field": lambda span, c: self._message_field(span, c, angle=True),
            "define": self._define,
            "param": lambda span, c: ast.Param(
                str(c[0]), self._tok_span(c[0]), str(c[1]) if c[1] is not None else None, c[2]
            ),
            "instance": self._instance,
            "repeat": self._repeat,
            "range": lambda span, c: ("range", c[0], c[1]),
            "sequence": lambda span, c: ("sequence", c[0]),
            "if_stmt": self._if,
            "else_if": lambda span, c: [c[0]],
            "else_block": lambda span, c: c,
            "let": lambda span, c: ast.Let(span, str(c[0]), c[1]),
            "import_stmt": lambda span, c: ast.Import(span, c[0]),
            "extends": lambda span, c: ast.Extends(span, c[0]),
            "freeze": lambda span, c: ast.Freeze(span, c[0]),
            "tune": lambda span, c: ast.Tune(span, c[0], c[1:]),
            "replace": lambda span, c: ast.Replace(span, c[0], c[1:]),
            "remove": lambda span, c: ast.Remove(span, c[0]),
            "layer_range": lambda span, c: ast.LayerRange(c[0], c[1]),
            "number": self._number,
            "signed_number": self._signed_number,
            "string": self._string,
            "name": lambda span, c: ast.Name(span, str(c[0])),
            "call": self._call,
            "list_expr": self._list,
            "conditional": lambda span, c: self._op(span, "?:", c),
            "or_op": lambda span, c: self._op(span, "or", c),
            "and_op": lambda span, c: self._op(span, "and", c),
            "not_op": lambda span, c: self._op(span, "not", c),
            "compare": lambda span, c: self._op(span, str(c[1]), [c[0], c[2]]),
            "binary": lambda span, c: self._op(span, str(c[1]), [c[0], c[2]]),
            "unary_op": lambda span, c: self._op(span, "neg" if c[0] == "-" else "pos", [c[1]]),
            "power_op": lambda span, c: self._op(span, "**", [c[0], c[2]]),
            "index": lambda span, c: self._op(span, "[]", c),
        }

    # Spans ------------------------------------------------------------------------------
    def _span(self, line: int, column: int, end_line: int, end_column: int) -> Span:
        if self.offset is not None:  # an interpolation: one line, shifted into the string
            base = self.offset
            return Span(
                self.source,
                base.line,
                base.column + column - 1,
                base.line,
                base.column + end_column - 1,
            )
        return Span(self.source, line, column, end_line, end_column)

    def _tok_span(self, token: Token) -> Span:
        return self._span(
            token.line or 1,
            token.column or 1,
            token.end_line or token.line or 1,
            token.end_column or (token.column or 1) + 1,
        )

    def _tree_span(self, tree: Tree[Any]) -> Span:
        meta = tree.meta
        if getattr(meta, "empty", True):
            return self._span(1, 1, 1, 2)
        return self._span(meta.line, meta.column, meta.end_line, meta.end_column)

    # Walk -------------------------------------------------------------------------------
    def convert(self, tree: Tree[Any]) -> list[ast.Item]:
        result = self.convert_one(tree)
        items = result if isinstance(result, list) else [result]
        return [i for i in items if isinstance(i, ast.Item)]

    def convert_one(self, root: Tree[Any] | Token) -> Any:
        if not isinstance(root, Tree):
            return self._token_value(root)
        done: list[Any] = []
        stack: list[tuple[Any, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if not isinstance(node, Tree):  # a token, or None for an absent optional part
                done.append(node)
            elif expanded:
                count = len(node.children)
                children = done[len(done) - count :] if count else []
                if count:
                    del done[len(done) - count :]
                handler = self.handlers[str(node.data)]
                result = handler(self._tree_span(node), children)
                if isinstance(result, ast.Item):
                    self._nest(result)
                done.append(result)
            else:
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(node.children))
        assert len(done) == 1
        return done[0]

    def _token_value(self, token: Token) -> Any:
        kind = _token_kind(token)
        if kind == "NUMBER":
            return self._number(self._tok_span(token), [token])
        if kind == "NAME":
            return ast.Name(self._tok_span(token), str(token))
        if kind == "STRING":
            return self._string(self._tok_span(token), [token])
        return token

    def _nest(self, item: ast.Item) -> None:
        """Record a block's depth; blocks nested past the limit are an error (any bracket kind)."""
        children = [*getattr(item, "items", []), *getattr(item, "orelse", [])]
        if not children:
            return
        depth = 1 + max(self.depths.get(id(child), 0) for child in children)
        if depth > self.limits.max_nesting:
            raise NetcError.single(
                f"blocks are nested deeper than {self.limits.max_nesting} levels",
                item.span,
                "flatten the structure, or move repeated parts into a template",
            )
        self.depths[id(item)] = depth

    # Statements -------------------------------------------------------------------------
    def _scalar_field(self, span: Span, c: list[Any]) -> ast.ScalarField:
        value = c[1]
        if isinstance(value, Token):
            value = self._token_value(value)
        return ast.ScalarField(span, str(c[0]), self._tok_span(c[0]), value)

    def _message_field(self, span: Span, c: list[Any], angle: bool = False) -> ast.MessageField:
        items = [i for i in c[1:] if isinstance(i, ast.Item)]
        return ast.MessageField(span, str(c[0]), self._tok_span(c[0]), items, angle)

    def _define(self, span: Span, c: list[Any]) -> ast.Define:
        name = c[0]
        params: list[ast.Param] = []
        rest = c[1:]
        while rest and (rest[0] is None or isinstance(rest[0], ast.Param)):
            if rest[0] is not None:
                params.append(rest[0])
            rest = rest[1:]
        return ast.Define(span, str(name), self._tok_span(name), params, list(rest))

    def _instance(self, span: Span, c: list[Any]) -> ast.Instance:
        items = [i for i in c[2:] if isinstance(i, ast.Item)]
        return ast.Instance(span, str(c[0]), self._tok_span(c[0]), c[1], items)

    def _repeat(self, span: Span, c: list[Any]) -> ast.Repeat:
        var, value_var, iterable, *items = c
        kind = iterable[0]
        start, stop, seq = (
            (iterable[1], iterable[2], None) if kind == "range" else (None, None, iterable[1])
        )
        return ast.Repeat(
            span,
            str(var),
            str(value_var) if value_var is not None else None,
            start,
            stop,
            seq,
            [i for i in items if isinstance(i, ast.Item)],
        )

    def _if(self, span: Span, c: list[Any]) -> ast.If:
        condition, *rest = c
        orelse: list[ast.Item] = []
        if rest and (rest[-1] is None or isinstance(rest[-1], list)):
            tail = rest.pop()
            orelse = list(tail) if tail else []
        return ast.If(span, condition, [i for i in rest if isinstance(i, ast.Item)], orelse)

    # Expressions ------------------------------------------------------------------------
    def _depth_check(self, span: Span, depth: int) -> int:
        if depth > self.limits.max_expression_depth:
            raise NetcError.single(
                f"expression is nested deeper than {self.limits.max_expression_depth} levels",
                span,
                "split it with `let` bindings",
            )
        return depth

    def _op(self, span: Span, op: str, operands: list[Any]) -> ast.Operation:
        operands = [self._token_value(o) if isinstance(o, Token) else o for o in operands]
        depth = self._depth_check(span, 1 + max(o.depth for o in operands))
        return ast.Operation(span, op, operands, depth)

    def _call(self, span: Span, c: list[Any]) -> ast.Call:
        args = [self._token_value(a) if isinstance(a, Token) else a for a in c[1:] if a is not None]
        depth = self._depth_check(span, 1 + max((a.depth for a in args), default=0))
        return ast.Call(span, str(c[0]), args, depth)

    def _list(self, span: Span, c: list[Any]) -> ast.ListExpr:
        items = [self._token_value(a) if isinstance(a, Token) else a for a in c if a is not None]
        depth = self._depth_check(span, 1 + max((a.depth for a in items), default=0))
        return ast.ListExpr(span, items, depth)

    def _value(self, text: str, span: Span) -> int | float:
        try:
            return number_value(text)
        except ValueError:
            raise NetcError.single(
                f"number literal of {len(text):,} characters",
                span,
                "numbers in a network definition are at most 64-bit integers or floats",
            ) from None

    def _number(self, span: Span, c: list[Any]) -> ast.Number:
        text = str(c[0])
        return ast.Number(span, text, self._value(text, span))

    def _signed_number(self, span: Span, c: list[Any]) -> ast.Number:
        sign, token = str(c[0]), str(c[1])
        value = self._value(token, span)
        return ast.Number(span, sign + token, -value if sign == "-" else value)

    def _string(self, span: Span, tokens: list[Any]) -> ast.Str:
        parts: list[ast.StrPart] = []
        quote = '"'
        for token in tokens:
            if isinstance(token, ast.Str):  # already converted (single-token path)
                parts.extend(token.parts)
                continue
            tspan = self._tok_span(token)
            raw = str(token)
            quote = raw[0]
            body = raw[1:-1]
            if len(body) > self.limits.max_string_length:
                raise NetcError.single("string is too long", tspan, "shorten the string")
            position = 0
            for m in _INTERPOLATION.finditer(body):
                if m.start() > 0 and body[m.start() - 1] == "$":  # `$${` is a literal `${`
                    parts.append(ast.StrPart(unescape(body[position : m.start() - 1], tspan)))
                    parts.append(ast.StrPart(m.group(0)))
                    position = m.end()
                    continue
                parts.append(ast.StrPart(unescape(body[position : m.start()], tspan)))
                inner_col = tspan.column + 1 + m.start(1)
                inner_span = Span(
                    self.source, tspan.line, inner_col, tspan.line, inner_col + len(m.group(1))
                )
                text = m.group(1).strip()
                if not text:
                    start = tspan.column + 1 + m.start()
                    inner_span = Span(
                        self.source, tspan.line, start, tspan.line, start + len(m.group(0))
                    )
                    raise NetcError.single(
                        "empty ${} in string", inner_span, "write ${name} or ${expression}"
                    )
                parts.append(
                    ast.StrPart(expr=parse_expression(m.group(1), inner_span, self.limits))
                )
                position = m.end()
            parts.append(ast.StrPart(unescape(body[position:], tspan)))
        merged: list[ast.StrPart] = []
        for part in parts:
            if part.expr is None and merged and merged[-1].expr is None:
                merged[-1] = ast.StrPart(merged[-1].text + part.text)
            elif part.expr is not None or part.text:
                merged.append(part)
        if not merged:
            merged = [ast.StrPart("")]
        return ast.Str(span, merged, quote)
