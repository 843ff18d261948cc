"""Expansion: templates, repeat, if, let, import, extends and transfer edits -> a flat layer list.

The result (`NetDecl`) is plain Caffe again: every layer has a scoped name and explicit
bottoms and tops, so the IR builder never sees a template, and `convert --to prototxt`
can print it directly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from netc.diagnostics import Diagnostic, NetcError, Source, Span, did_you_mean
from netc.lang import ast
from netc.lang.evaluate import Scope, describe, evaluate, truth, type_name
from netc.lang.limits import DEFAULT_LIMITS, Limits
from netc.lang.values import PField, PMessage, Symbol
from netc.layers.base import lookup
from netc.util.files import read_capped

#: Reads an imported file: (path as written, span of the string, importing source) -> Source.
Loader = Callable[[str, Span, Source], Source]

TYPE_NAMES = ("int", "float", "bool", "string", "list", "message", "any")


@dataclass(frozen=True)
class Frame:
    """One template instance on the way to a layer: `layer3` (stage), then `layer3.1` (block)."""

    template: str
    path: str
    span: Span


@dataclass
class LayerDecl:
    kind: str  # "layer", or "layers" for Caffe's legacy V1 format
    name: str  # scoped: layer3.1.conv2
    message: PMessage  # every field as written and evaluated
    bottoms: list[tuple[str, Span]]
    tops: list[tuple[str, Span]]
    span: Span
    frames: tuple[Frame, ...] = ()
    frozen: bool = False
    tune: PMessage | None = None  # lr/decay multipliers set by a `tune` statement


@dataclass
class NetDecl:
    name: str | None
    header: PMessage  # NetParameter fields other than name and layers
    layers: list[LayerDecl]
    sources: list[Source] = field(default_factory=list)


@dataclass
class _Template:
    define: ast.Define
    source: Source


@dataclass
class _Context:
    scope: Scope
    prefix: str
    frames: tuple[Frame, ...]
    source: Source
    top_level: bool


def _fail(message: str, span: Span | None, hint: str | None) -> NetcError:
    return NetcError.single(message, span, hint)


class Expander:
    def __init__(self, loader: Loader, limits: Limits = DEFAULT_LIMITS) -> None:
        self.loader = loader
        self.limits = limits
        self.templates: dict[str, _Template] = {}
        self.globals = Scope()
        self.layers: list[LayerDecl] = []
        self.known: set[str] = set()  # blob names produced so far
        self.names: set[str] = set()
        self.name_bytes = 0  # characters of every layer, bottom and top name so far
        self.counters: dict[tuple[str, str], int] = {}
        self.cursor: str | None = None
        self.outputs: dict[str, str] = {}  # instance path -> the blob it produced last
        self.steps = 0
        self.depth = 0
        self.import_depth = 0
        self.net_name: str | None = None
        self.header = PMessage(Span(Source("<net>", ""), 1, 1, 1, 1))
        self.sources: list[Source] = []
        self.errors: list[Diagnostic] = []

    # ---- entry ------------------------------------------------------------------------
    def run(self, file: ast.File) -> NetDecl:
        self.header = PMessage(Span(file.source, 1, 1, 1, 1))
        self._file(file)
        if self.errors:
            raise NetcError(self.errors)
        return NetDecl(self.net_name, self.header, self.layers, self.sources)

    def _file(self, file: ast.File) -> None:
        self.sources.append(file.source)
        ctx = _Context(self.globals, "", (), file.source, True)
        self._collect_defines(file.items, file.source)
        for index, item in enumerate(file.items):
            if isinstance(item, ast.Extends):
                if index != 0:
                    self._error(
                        "`extends` must be the first statement of a file",
                        item.span,
                        "move it to the top; a network derives from one base",
                    )
                    continue
                self._extends(item, file.source)
                continue
            self._guard(functools.partial(self._item, item, ctx))

    def _guard(self, action: Callable[[], None]) -> None:
        """Run one top-level statement; record its error and go on with the next."""
        try:
            action()
        except NetcError as exc:
            self.errors.extend(exc.diagnostics)
            if len(self.errors) > 50:
                raise NetcError(self.errors) from None

    def _error(self, message: str, span: Span | None, hint: str | None = None) -> None:
        self.errors.append(Diagnostic(message, span, hint))

    def _step(self, span: Span) -> None:
        self.steps += 1
        if self.steps > self.limits.max_steps:
            raise _fail(
                f"expansion takes more than {self.limits.max_steps:,} steps",
                span,
                "a loop or recursive template is too large; check repeat bounds and recursion",
            )

    # ---- statements -------------------------------------------------------------------
    def _collect_defines(self, items: list[ast.Item], source: Source) -> None:
        for item in items:
            if isinstance(item, ast.Define):
                if item.name in self.templates:
                    previous = self.templates[item.name].define
                    self._error(
                        f'template "{item.name}" is defined twice',
                        item.name_span,
                        f"the first definition is at {previous.name_span}",
                    )
                    continue
                for i, param in enumerate(item.params):
                    if param.type is not None and param.type not in TYPE_NAMES:
                        self._error(
                            f'unknown parameter type "{param.type}"',
                            param.span,
                            did_you_mean(param.type, TYPE_NAMES)
                            or f"types: {', '.join(TYPE_NAMES)}",
                        )
                    if any(p.name == param.name for p in item.params[:i]):
                        self._error(f'parameter "{param.name}" is declared twice', param.span)
                self.templates[item.name] = _Template(item, source)

    def _items(self, items: list[ast.Item], ctx: _Context) -> None:
        for item in items:
            self._item(item, ctx)

    def _item(self, item: ast.Item, ctx: _Context) -> None:
        self._step(item.span)
        if isinstance(item, ast.MessageField) and item.name in ("layer", "layers"):
            self._layer(item, ctx)
        elif isinstance(item, ast.ScalarField | ast.MessageField):
            self._net_field(item, ctx)
        elif isinstance(item, ast.Instance):
            self._instance(item, ctx)
        elif isinstance(item, ast.Repeat):
            self._repeat(item, ctx, lambda body, c: self._items(body, c))
        elif isinstance(item, ast.If):
            self._if(item, ctx, lambda body, c: self._items(body, c))
        elif isinstance(item, ast.Let):
            ctx.scope.values[item.name] = evaluate(item.value, ctx.scope)
        elif isinstance(item, ast.Define):
            if not ctx.top_level:
                raise _fail(
                    "templates are defined at the top level of a file",
                    item.span,
                    "move the define out of the block",
                )
        elif isinstance(item, ast.Import):
            self._import(item, ctx)
        elif isinstance(item, ast.Extends):
            raise _fail(
                "`extends` must be the first statement of a file", item.span, "move it to the top"
            )
        elif isinstance(item, ast.Freeze | ast.Tune | ast.Replace | ast.Remove):
            if not ctx.top_level:
                raise _fail(
                    "transfer statements (freeze, tune, replace, remove) belong at the top level",
                    item.span,
                    "write them after the layers they refer to, outside any block",
                )
            self._transfer(item, ctx)
        else:  # pragma: no cover - the grammar produces nothing else
            raise _fail(f"unexpected {type(item).__name__}", item.span, "remove it")

    def _net_field(self, item: ast.ScalarField | ast.MessageField, ctx: _Context) -> None:
        if not ctx.top_level:
            raise _fail(
                f'"{item.name}" cannot appear inside a template',
                item.name_span,
                "a template holds layers, instances, repeat, if and let",
            )
        if item.name == "name" and isinstance(item, ast.ScalarField):
            value = evaluate(item.value, ctx.scope)
            if not isinstance(value, str) or isinstance(value, Symbol):
                raise _fail(
                    "the network name must be a string", item.value.span, 'write name: "MyNet"'
                )
            self.net_name = value
            return
        fields = self._fields(item, ctx.scope)
        self.header.fields.extend(fields)
        if item.name == "input":
            for f in fields:
                if isinstance(f.value, str):
                    self.known.add(f.value)
                    if self.cursor is None:
                        self.cursor = f.value

    def _repeat(
        self, item: ast.Repeat, ctx: _Context, body: Callable[[list[ast.Item], _Context], None]
    ) -> None:
        values: list[Any]
        if item.sequence is not None:
            seq = evaluate(item.sequence, ctx.scope)
            if not isinstance(seq, list):
                raise _fail(
                    f"repeat needs a list or a range a..b, got {type_name(seq)}",
                    item.sequence.span,
                    "write repeat i in 1..4 { } or repeat i, v in [64, 128] { }",
                )
            values = seq
        else:
            assert item.start is not None and item.stop is not None
            start = evaluate(item.start, ctx.scope)
            stop = evaluate(item.stop, ctx.scope)
            for value, expr in ((start, item.start), (stop, item.stop)):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise _fail(
                        f"range bounds must be integers, got {type_name(value)}",
                        expr.span,
                        "write e.g. 0..n-1",
                    )
            count = stop - start + 1
            if count > self.limits.max_steps or count > self.limits.max_layers:
                raise _fail(
                    f"repeat of {count:,} iterations exceeds the limit of {self.limits.max_layers:,}",
                    item.span,
                    "networks this large are not supported; check the range bounds",
                )
            values = list(range(start, stop + 1))
        for index, value in enumerate(values):
            self._step(item.span)
            bindings = (
                {item.var: index, item.value_var: value} if item.value_var else {item.var: value}
            )
            inner = _Context(ctx.scope.child(bindings), ctx.prefix, ctx.frames, ctx.source, False)
            body(item.items, inner)

    def _if(
        self, item: ast.If, ctx: _Context, body: Callable[[list[ast.Item], _Context], None]
    ) -> None:
        branch = (
            item.items
            if truth(evaluate(item.condition, ctx.scope), item.condition.span)
            else item.orelse
        )
        inner = _Context(ctx.scope.child(), ctx.prefix, ctx.frames, ctx.source, False)
        body(branch, inner)

    # ---- templates ----------------------------------------------------------------------
    def _instance(self, item: ast.Instance, ctx: _Context) -> None:
        template = self.templates.get(item.template)
        if template is None:
            hint = did_you_mean(item.template, list(self.templates))
            if item.template in ("freeze", "tune", "replace", "remove", "import", "extends"):
                hint = f"`{item.template}` statements belong at the top level of a file"
            if hint is None and not item.items:
                hint = f'a field is written `{item.template}: value`: is a ":" missing?'
            raise _fail(
                f'unknown template "{item.template}"',
                item.template_span,
                hint or "define it with `define`",
            )
        name = evaluate(item.name, ctx.scope)
        if not isinstance(name, str) or not name:
            raise _fail(
                "an instance name must be a non-empty string",
                item.name.span,
                'write e.g. block "layer1" { ... }',
            )
        if self.depth >= self.limits.max_template_depth:
            raise _fail(
                f"templates nest deeper than {self.limits.max_template_depth} levels "
                f'(does "{item.template}" instantiate itself?)',
                item.template_span,
                "a template may not (directly or indirectly) contain an instance of itself without an end",
            )
        define = template.define
        args = self._arguments(item, define, ctx)
        if "input" in args and not any(p.name == "input" for p in define.params):
            self.cursor = args["input"] = self._resolve(args["input"], ctx.prefix)  # fed explicitly
        elif self.cursor is not None:
            args.setdefault("input", self.cursor)
        path = f"{ctx.prefix}.{name}" if ctx.prefix else name
        frames = (*ctx.frames, Frame(define.name, path, item.span))
        inner = _Context(self.globals.child(args), path, frames, template.source, False)
        self.depth += 1
        try:
            self._items(define.items, inner)
        finally:
            self.depth -= 1
        if self.cursor is not None:
            self.outputs[path] = self.cursor  # `bottom: "name"` may name the instance itself

    def _arguments(self, item: ast.Instance, define: ast.Define, ctx: _Context) -> dict[str, Any]:
        params = {p.name: p for p in define.params}
        given: dict[str, tuple[Any, Span]] = {}
        declared_input = "input" in params
        for arg in item.items:
            if isinstance(arg, ast.ScalarField) and arg.name == "input" and not declared_input:
                value = evaluate(arg.value, ctx.scope)
                if not isinstance(value, str) or isinstance(value, Symbol):
                    raise _fail(
                        f"an instance's input is a blob name, got {describe(value)}",
                        arg.value.span,
                        'write input: "blob"',
                    )
                given["input"] = (value, arg.value.span)
                continue
            if not isinstance(arg, ast.ScalarField | ast.MessageField):
                raise _fail(
                    "an instance takes arguments only (`name: value`)",
                    arg.span,
                    "put layers and statements in the template's definition",
                )
            if arg.name not in params:  # (`input` is accepted above: it feeds the instance)
                raise _fail(
                    f'template "{define.name}" has no parameter "{arg.name}"',
                    arg.name_span,
                    did_you_mean(arg.name, list(params))
                    or (
                        f"its parameters: {', '.join(params)}"
                        if params
                        else "it takes no parameters"
                    ),
                )
            if arg.name in given:
                raise _fail(
                    f'argument "{arg.name}" is given twice',
                    arg.name_span,
                    "give each argument once",
                )
            if isinstance(arg, ast.ScalarField):
                value = evaluate(arg.value, ctx.scope, symbols=True)
                span = arg.value.span
            else:
                value = PMessage(arg.span, self._message_items(arg.items, ctx.scope))
                span = arg.span
            given[arg.name] = (value, span)
        values: dict[str, Any] = (
            {"input": given["input"][0]} if "input" in given and not declared_input else {}
        )
        missing = []
        for param in define.params:
            if param.name in given:
                value, span = given[param.name]
            elif param.default is not None:
                value, span = evaluate(param.default, self.globals, symbols=True), param.span
            else:
                missing.append(param.name)
                continue
            if param.type and param.type != "any" and not _has_type(value, param.type):
                raise _fail(
                    f'parameter "{param.name}" of "{define.name}" is {param.type}, got {describe(value)}',
                    span,
                    f"declared at {param.span}",
                )
            values[param.name] = value
        if missing:
            raise _fail(
                f'instance of "{define.name}" lacks argument{"s" * (len(missing) > 1)}: {", ".join(missing)}',
                item.name.span,
                f"add {'; '.join(f'{m}: ...' for m in missing)} inside the braces",
            )
        return values

    # ---- layers ---------------------------------------------------------------------------
    def _layer(self, item: ast.MessageField, ctx: _Context) -> None:
        if len(self.layers) >= self.limits.max_layers:
            raise _fail(
                f"the network expands to more than {self.limits.max_layers:,} layers",
                item.span,
                "check repeat counts and recursive templates",
            )
        message = PMessage(item.span, self._message_items(item.items, ctx.scope))
        type_value = message.first("type")
        layer_type = lookup(_type_key(type_value.value)) if type_value else None
        min_bottoms = layer_type.bottoms[0] if layer_type else 1
        max_tops = layer_type.tops[1] if layer_type else 1
        stem = layer_type.stem if layer_type else "layer"

        name_field = message.first("name")
        if name_field is not None:
            if not isinstance(name_field.value, str) or isinstance(name_field.value, Symbol):
                raise _fail(
                    "a layer name must be a string",
                    name_field.value_span,
                    f'write name: "{name_field.value}"',
                )
            local = name_field.value
        else:
            local = self._implicit_name(ctx.prefix, stem)
        name = f"{ctx.prefix}.{local}" if ctx.prefix else local
        self.names.add(name)

        written_bottoms: list[str] = []
        bottoms: list[tuple[str, Span]] = []
        for f in message.all("bottom"):
            if not isinstance(f.value, str) or isinstance(f.value, Symbol):
                raise _fail(
                    f"a bottom is a blob name (a string), got {describe(f.value)}",
                    f.value_span,
                    f'write bottom: "{f.value}"; inside a template, `input` names the instance input',
                )
            written_bottoms.append(f.value)
            bottoms.append((self._resolve(f.value, ctx.prefix), f.value_span))
        if not bottoms and min_bottoms > 0:
            if self.cursor is None:
                raise _fail(
                    f'layer "{name}" has no input',
                    item.span,
                    'add `bottom: "blob"`, or declare an input first (input: "data" or an Input layer)',
                )
            bottoms = [(self.cursor, item.span)]

        tops: list[tuple[str, Span]] = []
        for f in message.all("top"):
            if not isinstance(f.value, str) or isinstance(f.value, Symbol):
                raise _fail(
                    f"a top is a blob name (a string), got {describe(f.value)}",
                    f.value_span,
                    'write top: "name"',
                )
            if f.value in written_bottoms:  # in place: the same blob as that bottom
                tops.append((bottoms[written_bottoms.index(f.value)][0], f.value_span))
            else:
                tops.append((f"{ctx.prefix}.{f.value}" if ctx.prefix else f.value, f.value_span))
        in_place = message.first("inplace")
        if not tops and (max_tops is None or max_tops > 0):
            if in_place is not None and in_place.value is True and bottoms:
                tops = [(bottoms[0][0], in_place.value_span)]
            else:
                tops = [(name, item.span)]

        self._count_names(name, bottoms, tops, item.span)
        decl = LayerDecl(
            item.name,
            name,
            message,
            bottoms,
            tops,
            item.span,
            ctx.frames,
        )
        self.layers.append(decl)
        for top, _ in tops:
            self.known.add(top)
        if tops:
            self.cursor = tops[0][0]

    def _count_names(
        self, name: str, bottoms: list[tuple[str, Span]], tops: list[tuple[str, Span]], span: Span
    ) -> None:
        """Bound what names cost: templates and repeats multiply long names, and every
        consumer (tables, JSON, drawings) repeats them."""
        longest = max([name, *(b for b, _ in bottoms), *(t for t, _ in tops)], key=len)
        if len(longest) > self.limits.max_name_length:
            raise _fail(
                f"a name of {len(longest):,} characters exceeds the limit of "
                f"{self.limits.max_name_length:,}: {longest[:60]}...",
                span,
                "shorten the layer, blob or instance names (scoped names join them with dots)",
            )
        self.name_bytes += (
            len(name) + sum(len(b) for b, _ in bottoms) + sum(len(t) for t, _ in tops)
        )
        if self.name_bytes > self.limits.max_name_bytes:
            raise _fail(
                f"the network's names add up to more than {self.limits.max_name_bytes:,} "
                "characters",
                span,
                "shorten the names, or check repeat counts and recursive templates",
            )

    def _implicit_name(self, prefix: str, stem: str) -> str:
        key = (prefix, stem)
        while True:
            self.counters[key] = self.counters.get(key, 0) + 1
            local = f"{stem}{self.counters[key]}"
            if (f"{prefix}.{local}" if prefix else local) not in self.names:
                return local

    def _resolve(self, blob: str, prefix: str) -> str:
        """A bottom name, looked up from the innermost instance scope outwards; the name of an
        instance stands for its output."""
        parts = prefix.split(".") if prefix else []
        candidates = [".".join(parts[:n]) + "." + blob for n in range(len(parts), 0, -1)] + [blob]
        for candidate in candidates:
            if candidate in self.known:
                return candidate
        for candidate in candidates:
            if candidate in self.outputs:
                return self.outputs[candidate]
        return blob

    def _fields(self, item: ast.ScalarField | ast.MessageField, scope: Scope) -> list[PField]:
        if isinstance(item, ast.MessageField):
            return [
                PField(
                    item.name,
                    PMessage(item.span, self._message_items(item.items, scope)),
                    item.name_span,
                    item.span,
                )
            ]
        value = evaluate(item.value, scope, symbols=True)
        values = value if isinstance(value, list) else [value]
        out = []
        for v in values:
            if isinstance(v, list):
                raise _fail(
                    "a field value cannot be a nested list",
                    item.value.span,
                    "a repeated field takes a flat list",
                )
            out.append(PField(item.name, v, item.name_span, item.value.span))
        return out

    def _message_items(self, items: list[ast.Item], scope: Scope) -> list[PField]:
        out: list[PField] = []

        def run(body: list[ast.Item], ctx: _Context) -> None:
            for item in body:
                self._step(item.span)
                if isinstance(item, ast.ScalarField | ast.MessageField):
                    out.extend(self._fields(item, ctx.scope))
                elif isinstance(item, ast.Repeat):
                    self._repeat(item, ctx, run)
                elif isinstance(item, ast.If):
                    self._if(item, ctx, run)
                elif isinstance(item, ast.Let):
                    ctx.scope.values[item.name] = evaluate(item.value, ctx.scope)
                elif isinstance(item, ast.Instance) and not item.items:
                    raise _fail(
                        f'expected ":" after "{item.template}"',
                        item.template_span,
                        f"a field is written `{item.template}: value`",
                    )
                else:
                    raise _fail(
                        f"{_statement_name(item)} cannot appear inside a message",
                        item.span,
                        "a message holds fields, and repeat/if/let around them",
                    )

        dummy = Source("<message>", "")
        run(items, _Context(scope.child(), "", (), dummy, False))
        return out

    # ---- files -------------------------------------------------------------------------
    def _load(self, path: ast.Str, ctx_source: Source, what: str) -> ast.File:
        from netc.lang.parser import parse

        value = evaluate(path, self.globals)
        if not isinstance(value, str):
            raise _fail(f"{what} needs a file name", path.span, f'write {what} "file.net"')
        if self.import_depth >= self.limits.max_import_depth:
            raise _fail(
                f"{what}s nest deeper than {self.limits.max_import_depth} files",
                path.span,
                "is there an import cycle?",
            )
        source = self.loader(value, path.span, ctx_source)
        if any(s.name == source.name for s in self.sources):
            raise _fail(
                f'"{value}" is already loaded ({what} cycle or repeated {what})',
                path.span,
                f"{what} each file once",
            )
        return parse(source, self.limits)

    def _import(self, item: ast.Import, ctx: _Context) -> None:
        if not ctx.top_level:
            raise _fail(
                "`import` belongs at the top level of a file",
                item.span,
                "move it to the top of the file",
            )
        file = self._load(item.path, ctx.source, "import")
        self.sources.append(file.source)
        self._collect_defines(file.items, file.source)
        inner = _Context(self.globals, "", (), file.source, True)
        self.import_depth += 1
        try:
            for sub in file.items:
                if isinstance(sub, ast.Define):
                    continue
                if isinstance(sub, ast.Let | ast.Import):
                    self._item(sub, inner)
                else:
                    raise _fail(
                        "an imported file may hold only templates (define), let and import",
                        sub.span,
                        "use `extends` to build on another network",
                    )
        finally:
            self.import_depth -= 1

    def _extends(self, item: ast.Extends, source: Source) -> None:
        file = self._load(item.path, source, "extends")
        self.import_depth += 1
        try:
            self._file(file)
        finally:
            self.import_depth -= 1

    # ---- transfer edits ----------------------------------------------------------------
    def _select(self, rng: ast.LayerRange, ctx: _Context) -> list[int]:
        first = self._range_name(rng.first, ctx)
        matches = [i for i, d in enumerate(self.layers) if _matches(d.name, first)]
        if not matches:
            raise self._no_layer(first, rng.first.span)
        if rng.last is None:
            return matches
        last = self._range_name(rng.last, ctx)
        last_matches = [i for i, d in enumerate(self.layers) if _matches(d.name, last)]
        if not last_matches:
            raise self._no_layer(last, rng.last.span)
        start, stop = min(matches), max(last_matches)
        if stop < start:
            raise _fail(
                f'"{last}" comes before "{first}"',
                rng.last.span,
                "write the range in network order",
            )
        return list(range(start, stop + 1))

    def _range_name(self, expr: ast.Str, ctx: _Context) -> str:
        value = evaluate(expr, ctx.scope)
        if not isinstance(value, str):
            raise _fail("a layer name is a string", expr.span, 'write "conv1"')
        return value

    def _no_layer(self, name: str, span: Span) -> NetcError:
        return _fail(
            f'no layer named "{name}"',
            span,
            did_you_mean(name, [d.name for d in self.layers])
            or (
                "name a layer declared above this statement"
                if self.layers
                else "the network has no layers yet"
            ),
        )

    def _transfer(self, item: ast.Item, ctx: _Context) -> None:
        if isinstance(item, ast.Freeze):
            for i in self._select(item.range, ctx):
                self.layers[i].frozen = True
        elif isinstance(item, ast.Tune):
            tune = PMessage(item.span, self._message_items(item.items, ctx.scope))
            for f in tune:
                if f.name not in ("lr_mult", "decay_mult", "param"):
                    raise _fail(
                        f'tune sets lr_mult, decay_mult or param {{ }}, not "{f.name}"',
                        f.name_span,
                        did_you_mean(f.name, ["lr_mult", "decay_mult", "param"])
                        or 'write e.g. tune "conv5_1" .. "fc7" { lr_mult: 0.1 }',
                    )
            for i in self._select(item.range, ctx):
                self.layers[i].tune = tune
        elif isinstance(item, ast.Remove):
            for i in reversed(self._select(item.range, ctx)):
                self._remove_at(i, item.span)
        elif isinstance(item, ast.Replace):
            self._replace(item, ctx)

    def _remove_at(self, index: int, span: Span) -> None:
        decl = self.layers.pop(index)
        source = decl.bottoms[0][0] if decl.bottoms else None
        for top, _ in decl.tops:
            if top in [b for b, _ in decl.bottoms]:
                continue  # in place: consumers keep reading the same blob
            self._rewire(top, source, index, span)
        self._recompute_known()

    def _rewire(self, old: str, new: str | None, start: int, span: Span) -> None:
        for later in self.layers[start:]:
            if any(b == old for b, _ in later.bottoms):
                if new is None:
                    raise _fail(
                        f'layer "{later.name}" reads "{old}", which the edit removes',
                        span,
                        "remove or replace that layer too",
                    )
                later.bottoms = [(new if b == old else b, s) for b, s in later.bottoms]
        if self.cursor == old:
            self.cursor = new

    def _recompute_known(self) -> None:
        self.known = {t for d in self.layers for t, _ in d.tops} | {
            f.value for f in self.header.all("input") if isinstance(f.value, str)
        }
        self.names = {d.name for d in self.layers}

    def _replace(self, item: ast.Replace, ctx: _Context) -> None:
        target = self._range_name(item.target, ctx)
        indices = [i for i, d in enumerate(self.layers) if d.name == target]
        if not indices:
            raise self._no_layer(target, item.target.span)
        index = indices[0]
        old = self.layers.pop(index)
        self._recompute_known()
        tail = self.layers[index:]
        self.layers = self.layers[:index]
        saved_cursor = self.cursor
        self.cursor = old.bottoms[0][0] if old.bottoms else None
        self._items(item.items, _Context(self.globals.child(), "", (), ctx.source, False))
        new_output = self.cursor
        self.layers.extend(tail)
        self.cursor = saved_cursor
        for top, _ in old.tops:
            self._rewire(top, new_output, len(self.layers) - len(tail), item.span)
        self._recompute_known()


def _has_type(value: Any, expected: str) -> bool:
    actual = type_name(value)
    if expected == "float":
        return actual in ("int", "float")
    if expected == "string":
        return actual == "string"
    return actual == expected


def _matches(name: str, target: str) -> bool:
    return name == target or name.startswith(target + ".")


def _type_key(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        from netc.proto.caffe_schema import CAFFE

        return CAFFE.enum("V1LayerParameter.LayerType").by_number(value) or str(value)
    return str(value)


def _statement_name(item: ast.Item) -> str:
    names = {
        ast.Define: "define",
        ast.Instance: "a template instance",
        ast.Import: "import",
        ast.Extends: "extends",
        ast.Freeze: "freeze",
        ast.Tune: "tune",
        ast.Replace: "replace",
        ast.Remove: "remove",
    }
    return names.get(type(item), type(item).__name__)


# ---- file loading with confinement -------------------------------------------------------


PROJECT_MARKERS = ("netc.toml", "pyproject.toml", ".git")


def project_root(folder: Path) -> Path:
    """The nearest folder at or above `folder` holding a project marker, else `folder`."""
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in PROJECT_MARKERS):
            return candidate
    return folder


def confined_loader(
    base: Path | None = None, boundary: Path | None = None, limits: Limits = DEFAULT_LIMITS
) -> Loader:
    """Imports resolve against the importing file's folder and stay inside its project: the
    nearest folder above it with a netc.toml, pyproject.toml or .git, else the importing file's
    own folder. `base` is the folder of a top-level text whose name is not a path (a string, a
    file shown by `netc serve`), and `boundary` a fixed project folder instead of the markers."""

    def load(path: str, span: Span, importer: Source) -> Source:
        pure = PurePosixPath(path.replace("\\", "/"))
        if pure.is_absolute() or (len(path) > 1 and path[1] == ":"):
            raise _fail(
                f'"{path}" is an absolute path',
                span,
                "imports are relative to the importing file's folder and stay inside its project",
            )
        name = Path(importer.name)
        if base is not None and not name.is_absolute():  # imported files have absolute names
            folder = base
        elif importer.name.startswith("<"):
            folder = Path.cwd()
        else:
            folder = name.resolve().parent
        try:
            root = (boundary or project_root(folder)).resolve()
            target = (folder / Path(*pure.parts)).resolve()
        except (OSError, ValueError, RuntimeError) as exc:  # too long, a NUL byte, a link loop
            raise _fail(
                f'cannot import "{path[:80]}": {getattr(exc, "strerror", None) or exc}',
                span,
                "give the relative path of a .net file beside the importing one",
            ) from None
        if not target.is_relative_to(root):
            if ".." not in pure.parts:
                raise _fail(
                    f'"{path}" resolves outside the importing file\'s folder',
                    span,
                    "symbolic links may not leave it",
                )
            where = (
                "the importing file's folder" if root == folder.resolve() else f"the project {root}"
            )
            raise _fail(
                f'"{path}" leaves {where}',
                span,
                "imports stay inside the project: the nearest folder above the file with a "
                "netc.toml, pyproject.toml or .git (else the file's own folder)",
            )
        try:
            found = target.is_file()
        except OSError:
            found = False
        if not found:
            raise _fail(f'cannot find "{path}"', span, f"looked for {target}")
        try:
            text = read_capped(target, limits.max_source_bytes).decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _fail(
                f'cannot read "{path}": {exc}',
                span,
                "check the file's size, permissions and encoding",
            ) from None
        return Source(str(target), text)

    return load
