"""`netc fmt`: print a syntax tree in canonical form, keeping every comment.

Canonical means: two-space indentation, `key: value`, messages with braces and no colon,
double-quoted strings, minimal parentheses, one blank line at most between items, and a
block on one line exactly when it has no comments and fits in `WIDTH` columns. The layout
depends only on the content, so formatting is idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence

from netc.lang import ast

WIDTH = 100
INDENT = "  "

# Binding strength of each operator (higher binds tighter).
_LEVEL = {
    "?:": 1,
    "or": 2,
    "and": 3,
    "not": 4,
    "==": 5,
    "!=": 5,
    "<": 5,
    "<=": 5,
    ">": 5,
    ">=": 5,
    "+": 6,
    "-": 6,
    "*": 7,
    "/": 7,
    "//": 7,
    "%": 7,
    "neg": 8,
    "pos": 8,
    "**": 9,
    "[]": 10,
}
_ATOM = 11


def quote(text: str) -> str:
    """A protobuf text-format string literal."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def render_string(value: ast.Str) -> str:
    body = []
    for part in value.parts:
        if part.expr is not None:
            body.append("${" + render_expr(part.expr) + "}")
        else:
            body.append(quote(part.text)[1:-1].replace("${", "$${"))
    return '"' + "".join(body) + '"'


def render_expr(expr: ast.Expr, parent: int = 0) -> str:
    if isinstance(expr, ast.Number):
        return expr.text
    if isinstance(expr, ast.Str):
        return render_string(expr)
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Call):
        return f"{expr.func}({', '.join(render_expr(a) for a in expr.args)})"
    if isinstance(expr, ast.ListExpr):
        return "[" + ", ".join(render_expr(i) for i in expr.items) + "]"
    assert isinstance(expr, ast.Operation)
    op, args = expr.op, expr.operands
    level = _LEVEL[op]
    if op == "?:":
        text = f"{render_expr(args[0], level + 1)} ? {render_expr(args[1], level)} : {render_expr(args[2], level)}"
    elif op == "not":
        text = f"not {render_expr(args[0], level)}"
    elif op in ("neg", "pos"):
        text = ("-" if op == "neg" else "+") + render_expr(args[0], level)
    elif op == "[]":
        text = f"{render_expr(args[0], level)}[{render_expr(args[1])}]"
    elif op == "**":  # right-associative
        text = f"{render_expr(args[0], level + 1)} ** {render_expr(args[1], level)}"
    elif level == 5:  # comparisons do not chain
        text = f"{render_expr(args[0], level + 1)} {op} {render_expr(args[1], level + 1)}"
    else:  # left-associative
        text = f"{render_expr(args[0], level)} {op} {render_expr(args[1], level + 1)}"
    return f"({text})" if level < parent else text


def _range(r: ast.LayerRange) -> str:
    return render_string(r.first) + (f" .. {render_string(r.last)}" if r.last is not None else "")


class _Formatter:
    def __init__(self, file: ast.File) -> None:
        self.comments = sorted(file.comments, key=lambda c: (c.span.line, c.span.column))
        self.next_comment = 0
        self.lines: list[str] = []

    # ---- comments ----------------------------------------------------------------------
    def _has_comment(self, item: ast.Item) -> bool:
        span = item.span
        for c in self.comments[self.next_comment :]:
            if (c.span.line, c.span.column) > (span.end_line, span.end_column):
                return False
            if (c.span.line, c.span.column) >= (span.line, span.column):
                return True
        return False

    def _leading(self, line: int, indent: str) -> None:
        while (
            self.next_comment < len(self.comments)
            and self.comments[self.next_comment].span.line < line
        ):
            self.lines.append(indent + self.comments[self.next_comment].text)
            self.next_comment += 1

    def _trailing(self, line: int) -> None:
        if (
            self.next_comment < len(self.comments)
            and self.comments[self.next_comment].span.line == line
        ):
            self.lines[-1] += "  " + self.comments[self.next_comment].text
            self.next_comment += 1
            # further comments on the same line cannot exist (a comment runs to the line end)

    # ---- items -------------------------------------------------------------------------
    def items(
        self, items: Sequence[ast.Item], indent: str, end_line: int | None, blank_lines: bool = True
    ) -> None:
        """Print items; blank lines between them are kept except inside messages."""
        previous_end: int | None = None
        for item in items:
            first_line = item.span.line
            if self.next_comment < len(self.comments):
                first_line = min(first_line, self.comments[self.next_comment].span.line)
            if blank_lines and previous_end is not None and first_line > previous_end + 1:
                self.lines.append("")
            self._leading(item.span.line, indent)
            self.item(item, indent)
            self._trailing(item.span.end_line)
            previous_end = item.span.end_line
        if end_line is not None:
            self._leading(end_line, indent)

    def item(self, item: ast.Item, indent: str) -> None:
        single = None if self._has_comment(item) else self.one_line(item)
        if single is not None and len(indent) + len(single) <= WIDTH:
            self.lines.append(indent + single)
            return
        if isinstance(item, ast.If) and item.orelse:
            self._if_else(item, indent)
            return
        head, body, tail = self.block(item)
        if body is None:  # a scalar statement that is simply long
            self.lines.append(indent + self.wrapped(item, indent))
            return
        filled = self.filled(item, head, body, indent) if single is not None else None
        if filled is not None:
            self.lines.extend(filled)
            return
        self.lines.append(indent + head + " {")
        if not body or body[0].span.line > item.span.line:
            self._trailing(item.span.line)  # a comment after the opening brace stays there
        self.items(
            body, indent + INDENT, item.span.end_line, not isinstance(item, ast.MessageField)
        )
        self.lines.append(indent + "}" + tail)

    def filled(
        self, item: ast.Item, head: str, body: list[ast.Item], indent: str
    ) -> list[str] | None:
        """A message or instance a little too wide for one line, flowed onto two:

        layer { name: "conv2" type: "Convolution" num_output: planes kernel_size: 3 pad: 1
                stride: stride bias_term: false }
        """
        if not isinstance(item, ast.MessageField | ast.Instance):
            return None
        chunks = [self.one_line(child) or "" for child in body]
        opening = f"{indent}{head} {{ "
        hang = " " * len(opening)
        lines = [opening]
        for chunk in chunks:
            if lines[-1] not in (opening, hang) and len(lines[-1]) + 1 + len(chunk) > WIDTH - 2:
                lines.append(hang)
            lines[-1] += chunk if lines[-1] in (opening, hang) else f" {chunk}"
        if len(lines[-1]) + 2 > WIDTH:
            return None
        lines[-1] += " }"
        return lines if len(lines) <= 2 and all(len(x) <= WIDTH for x in lines) else None

    def wrapped(self, item: ast.Item, indent: str) -> str:
        """A long `let`/field whose value is a chain of + and -: one operand per line."""
        text = self.statement(item)
        value = item.value if isinstance(item, ast.Let | ast.ScalarField) else None
        if (
            len(indent) + len(text) <= WIDTH
            or not isinstance(value, ast.Operation)
            or value.op not in "+-"
        ):
            return text
        operands: list[tuple[str, ast.Expr]] = []
        node: ast.Expr = value
        while isinstance(node, ast.Operation) and node.op in ("+", "-"):
            operands.append((node.op, node.operands[1]))
            node = node.operands[0]
        prefix = text[: len(text) - len(render_expr(value))]
        hang = indent + " " * (len(prefix) - 2)
        lines = [prefix + render_expr(node, _LEVEL["+"])]
        for op, operand in reversed(operands):
            term = f"{op} {render_expr(operand, _LEVEL['+'] + 1)}"
            if len(indent) + len(lines[-1]) + 1 + len(term) > WIDTH and len(lines) > 0:
                lines.append(hang + term)
            else:
                lines[-1] += " " + term
        return "\n".join(lines)

    def _if_else(self, item: ast.If, indent: str) -> None:
        self.lines.append(f"{indent}if {render_expr(item.condition)} {{")
        if not item.items or item.items[0].span.line > item.span.line:
            self._trailing(item.span.line)
        self.items(item.items, indent + INDENT, item.orelse[0].span.line)
        branch = item.orelse[0]
        if len(item.orelse) == 1 and isinstance(branch, ast.If):
            mark = len(self.lines)
            self.item(branch, indent)
            self.lines[mark] = f"{indent}}} else {self.lines[mark].lstrip()}"
            return
        self.lines.append(f"{indent}}} else {{")
        self.items(item.orelse, indent + INDENT, item.span.end_line)
        self.lines.append(f"{indent}}}")

    def block(self, item: ast.Item) -> tuple[str, list[ast.Item] | None, str]:
        """(header, body items or None for a one-line statement, text after the closing brace)."""
        if isinstance(item, ast.MessageField):
            return item.name, item.items, ""
        if isinstance(item, ast.Define):
            params = ", ".join(
                p.name
                + (f": {p.type}" if p.type else "")
                + (f" = {render_expr(p.default)}" if p.default is not None else "")
                for p in item.params
            )
            return f"define {item.name}({params})", item.items, ""
        if isinstance(item, ast.Instance):
            if not item.items:
                return f"{item.template} {render_string(item.name)}", None, ""
            return f"{item.template} {render_string(item.name)}", item.items, ""
        if isinstance(item, ast.Repeat):
            names = item.var + (f", {item.value_var}" if item.value_var else "")
            if item.sequence is not None:
                what = render_expr(item.sequence)
            else:
                assert item.start is not None and item.stop is not None
                what = f"{render_expr(item.start)}..{render_expr(item.stop)}"
            return f"repeat {names} in {what}", item.items, ""
        if isinstance(item, ast.If):
            return f"if {render_expr(item.condition)}", item.items, ""
        if isinstance(item, ast.Tune):
            return f"tune {_range(item.range)}", item.items, ""
        if isinstance(item, ast.Replace):
            return f"replace {render_string(item.target)}", item.items, ""
        return self.statement(item), None, ""

    def statement(self, item: ast.Item) -> str:
        if isinstance(item, ast.ScalarField):
            return f"{item.name}: {render_expr(item.value)}"
        if isinstance(item, ast.Let):
            return f"let {item.name} = {render_expr(item.value)}"
        if isinstance(item, ast.Import):
            return f"import {render_string(item.path)}"
        if isinstance(item, ast.Extends):
            return f"extends {render_string(item.path)}"
        if isinstance(item, ast.Freeze):
            return f"freeze {_range(item.range)}"
        if isinstance(item, ast.Remove):
            return f"remove {_range(item.range)}"
        raise AssertionError(type(item))

    def one_line(self, item: ast.Item) -> str | None:
        if isinstance(item, ast.Define):
            return None
        if isinstance(item, ast.If) and item.orelse:
            return None
        head, body, _tail = self.block(item)
        if body is None:
            return head
        parts = []
        for child in body:
            text = self.one_line(child)
            if text is None or isinstance(child, ast.Define):
                return None
            parts.append(text)
        return f"{head} {{ {' '.join(parts)} }}" if parts else f"{head} {{}}"


def format_file(file: ast.File) -> str:
    formatter = _Formatter(file)
    formatter.items(file.items, "", None)
    formatter._leading(10**9, "")
    text = "\n".join(formatter.lines).strip("\n")
    return text + "\n" if text else ""
