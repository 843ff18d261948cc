"""`netc convert`: Caffe prototxt -> compact netc text, and any spec -> plain Caffe prototxt.

To netc: parameters are written flat, a bottom that is the previous layer's top and a top
that is the layer's own name are left implicit, legacy V1 `layers` become `layer`, and
comments stay where they were. No template is invented. To prototxt: the expanded network
with every name, bottom and top explicit and netc's extensions spelled in Caffe terms.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from netc.diagnostics import NetcError, Span
from netc.lang import ast
from netc.lang.expand import LayerDecl, NetDecl
from netc.lang.format import format_file, quote
from netc.lang.values import PField, PMessage, Symbol
from netc.layers.base import lookup
from netc.proto.caffe_schema import CAFFE

# a fork's layer-level field (Intel Caffe's engine) yields to the type's own: not a clash
_LAYER_FIELDS = {f.name for f in CAFFE.message("LayerParameter").fields if f.origin is None} | {
    "frozen",
    "inplace",
}
_V1_RENAMED = {"blobs_lr": "lr_mult", "weight_decay": "decay_mult"}


# ---- Caffe -> netc ------------------------------------------------------------------------


def _literal(item: ast.Item, name: str) -> str | None:
    if isinstance(item, ast.ScalarField) and item.name == name and isinstance(item.value, ast.Str):
        return item.value.literal
    return None


def _values(items: Iterable[ast.Item], name: str) -> list[str | None]:
    return [_literal(i, name) for i in items if isinstance(i, ast.ScalarField) and i.name == name]


def _conditional(items: list[ast.Item]) -> bool:
    return any(isinstance(i, ast.MessageField) and i.name in ("include", "exclude") for i in items)


def _v1_type(item: ast.ScalarField) -> ast.ScalarField:
    value = item.value
    name: str | None = None
    if isinstance(value, ast.Name):
        name = value.id
    elif isinstance(value, ast.Number) and isinstance(value.value, int):
        name = CAFFE.enum("V1LayerParameter.LayerType").by_number(value.value)
    layer = lookup(name) if name else None
    if layer is None:
        raise NetcError.single(
            f"legacy layer type {name or '?'} has no netc equivalent",
            value.span,
            "netc converts the V1 types it supports; see `netc layers`",
        )
    return ast.ScalarField(
        item.span, "type", item.name_span, ast.Str(value.span, [ast.StrPart(layer.type)])
    )


def _v1_params(items: list[ast.Item], span: Span) -> list[ast.Item]:
    """V1 blobs_lr / weight_decay lists -> one `param { lr_mult decay_mult }` per blob."""
    columns: dict[str, list[ast.ScalarField]] = {"blobs_lr": [], "weight_decay": []}
    for item in items:
        if isinstance(item, ast.ScalarField) and item.name in columns:
            columns[item.name].append(item)
    count = max(len(v) for v in columns.values())
    out: list[ast.Item] = []
    for i in range(count):
        fields: list[ast.Item] = []
        for old, new in _V1_RENAMED.items():
            if i < len(columns[old]):
                f = columns[old][i]
                fields.append(ast.ScalarField(f.span, new, f.name_span, f.value))
        first = fields[0].span
        out.append(ast.MessageField(first, "param", first, fields))
    return out


def _compact_layer(
    item: ast.MessageField, previous_top: str | None, previous_conditional: bool
) -> ast.MessageField:
    items = list(item.items)
    if item.name == "layers":
        for sub in items:
            if isinstance(sub, ast.MessageField) and sub.name == "layer":
                raise NetcError.single(
                    "V0 layer definitions are not supported",
                    sub.span,
                    "upgrade the file with Caffe's upgrade_net_proto_text",
                )
        v1_params = _v1_params(items, item.span)
        converted: list[ast.Item] = []
        placed = False
        for sub in items:
            if isinstance(sub, ast.ScalarField) and sub.name == "type":
                converted.append(_v1_type(sub))
            elif isinstance(sub, ast.ScalarField) and sub.name in _V1_RENAMED:
                if not placed:
                    converted.extend(v1_params)
                    placed = True
            else:
                converted.append(sub)
        items = converted
    name = next((v for v in _values(items, "name") if v is not None), None)
    type_name = next((v for v in _values(items, "type") if v is not None), None)
    layer = lookup(type_name) if type_name else None
    bottoms = _values(items, "bottom")
    tops = _values(items, "top")
    conditional = _conditional(items)
    drop_bottom = (
        len(bottoms) == 1
        and bottoms[0] is not None
        and bottoms[0] == previous_top
        and not conditional
        and not previous_conditional
    )
    drop_top = len(tops) == 1 and tops[0] is not None and tops[0] == name
    out: list[ast.Item] = []
    head = [i for i in items if isinstance(i, ast.ScalarField) and i.name in ("name", "type")]
    head.sort(key=lambda i: 0 if isinstance(i, ast.ScalarField) and i.name == "name" else 1)
    out.extend(head)
    for sub in items:
        if sub in head:
            continue
        if isinstance(sub, ast.ScalarField) and sub.name == "bottom" and drop_bottom:
            continue
        if isinstance(sub, ast.ScalarField) and sub.name == "top" and drop_top:
            continue
        if (
            layer is not None
            and isinstance(sub, ast.MessageField)
            and sub.name == layer.message
            and _flattenable(sub)
        ):
            out.extend(sub.items)
            continue
        out.append(sub)
    return ast.MessageField(item.span, "layer", item.name_span, out)


def _flattenable(message: ast.MessageField) -> bool:
    names = [i.name for i in message.items if isinstance(i, ast.ScalarField | ast.MessageField)]
    return len(names) == len(message.items) and not any(n in _LAYER_FIELDS for n in names)


def _header(items: list[ast.Item]) -> list[ast.Item]:
    """`input_dim` quadruples become `input_shape { dim ... }` (same meaning, one line)."""
    dims = [i for i in items if isinstance(i, ast.ScalarField) and i.name == "input_dim"]
    inputs = [i for i in items if isinstance(i, ast.ScalarField) and i.name == "input"]
    if not dims or len(dims) != 4 * len(inputs):
        return items
    out: list[ast.Item] = []
    groups = [dims[4 * k : 4 * k + 4] for k in range(len(inputs))]
    emitted = False
    for item in items:
        if item in dims:
            if not emitted:
                for group in groups:
                    span = group[0].span.to(group[-1].span)
                    fields: list[ast.Item] = [
                        ast.ScalarField(d.span, "dim", d.name_span, d.value) for d in group
                    ]
                    out.append(ast.MessageField(span, "input_shape", group[0].name_span, fields))
                emitted = True
            continue
        out.append(item)
    return out


def to_netc(file: ast.File) -> str:
    items: list[ast.Item] = []
    previous_top: str | None = None
    previous_conditional = False
    header: list[ast.Item] = []
    for item in file.items:
        if isinstance(item, ast.MessageField) and item.name in ("layer", "layers"):
            if header:
                items.extend(_header(header))
                header = []
            compact = _compact_layer(item, previous_top, previous_conditional)
            tops = _values(item.items, "top")
            previous_top = tops[0] if tops else previous_top
            previous_conditional = _conditional(item.items)
            items.append(compact)
        elif not items and isinstance(item, ast.ScalarField | ast.MessageField):
            header.append(item)
            if isinstance(item, ast.ScalarField) and item.name == "input" and previous_top is None:
                previous_top = _literal(item, "input")
        else:
            if header:
                items.extend(_header(header))
                header = []
            items.append(item)
    items.extend(_header(header))
    return format_file(ast.File(file.source, items, file.comments))


# ---- any spec -> plain prototxt --------------------------------------------------------------


def render_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Symbol):
        return str(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if math.isnan(value):
            return "nan"
        return repr(value)
    return str(value)


def _message_lines(fields: Iterable[PField], indent: str) -> list[str]:
    lines = []
    for f in fields:
        if isinstance(f.value, PMessage):
            lines.append(f"{indent}{f.name} {{")
            lines.extend(_message_lines(f.value.fields, indent + "  "))
            lines.append(f"{indent}}}")
        else:
            lines.append(f"{indent}{f.name}: {render_value(f.value)}")
    return lines


def _plain_fields(decl: LayerDecl) -> tuple[str, list[PField], list[str]]:
    """The Caffe type and fields of a declaration; notes for what Caffe cannot express."""
    message = decl.message
    type_field = message.first("type")
    raw_type = type_field.value if type_field else None
    if decl.kind == "layers" and isinstance(raw_type, int) and not isinstance(raw_type, bool):
        raw_type = CAFFE.enum("V1LayerParameter.LayerType").by_number(raw_type)
    layer = lookup(str(raw_type)) if raw_type is not None else None
    type_name = layer.type if layer else str(raw_type)
    span = message.span
    nested: list[PField] = []
    rest: list[PField] = []
    notes: list[str] = []
    own_fields = (
        set(CAFFE.message(_param_type(layer.message)).names()) if layer and layer.message else set()
    )
    extension_names = {e.name for e in layer.extensions} if layer else set()
    v1_lr: list[object] = []
    v1_decay: list[object] = []
    for f in message:
        if f.name in ("name", "type", "bottom", "top", "inplace", "frozen"):
            continue
        if decl.kind == "layers" and f.name == "blobs_lr":
            v1_lr.append(f.value)
        elif decl.kind == "layers" and f.name == "weight_decay":
            v1_decay.append(f.value)
        elif layer is not None and f.name == layer.message and isinstance(f.value, PMessage):
            nested.extend(f.value.fields)
        elif f.name in extension_names:
            if f.name == "affine":
                continue
            notes.append(f"netc: {f.name}: {render_value(f.value)}")
        elif f.name in own_fields and f.name not in _LAYER_FIELDS:
            nested.append(f)
        else:
            rest.append(f)
    for i in range(max(len(v1_lr), len(v1_decay))):
        spec = PMessage(span)
        if i < len(v1_lr):
            spec.fields.append(PField("lr_mult", v1_lr[i], span, span))
        if i < len(v1_decay):
            spec.fields.append(PField("decay_mult", v1_decay[i], span, span))
        rest.append(PField("param", spec, span, span))
    if nested and layer is not None and layer.message:
        rest.insert(0, PField(layer.message, PMessage(span, nested), span, span))
    return type_name, rest, notes


def _override_specs(decl: LayerDecl, count: int) -> list[PField] | None:
    """`param { }` specs for `count` blobs from freeze/tune, or None to keep the written ones."""
    span = decl.span
    frozen = decl.frozen or any(f.name == "frozen" and f.value is True for f in decl.message)
    if frozen:
        zero = [PField("lr_mult", 0, span, span), PField("decay_mult", 0, span, span)]
        return [PField("param", PMessage(span, list(zero)), span, span) for _ in range(count)]
    if decl.tune is None:
        return None
    per_blob = decl.tune.all("param")
    if per_blob:
        return per_blob[:count]
    spec = PMessage(span, [f for f in decl.tune if f.name in ("lr_mult", "decay_mult")])
    return [PField("param", spec, span, span) for _ in range(count)]


def _param_type(field_name: str) -> str:
    spec = CAFFE.message("LayerParameter").get(field_name)
    assert spec is not None and spec.message is not None
    return spec.message


def to_prototxt(net: NetDecl, blob_counts: dict[str, int] | None = None) -> str:
    """Plain Caffe text. `blob_counts` (layer -> number of blobs) spells `freeze` as param specs."""
    lines: list[str] = []
    if net.name:
        lines.append(f"name: {quote(net.name)}")
    lines.extend(_message_lines(net.header.fields, ""))
    counts = blob_counts or {}
    for decl in net.layers:
        type_name, fields, notes = _plain_fields(decl)
        affine = type_name == "BatchNorm" and any(
            f.name == "affine" and f.value is True for f in decl.message
        )
        count = counts.get(decl.name, 0) - (2 if affine else 0)  # γ and β move to the Scale layer
        specs = _override_specs(decl, max(count, 0))
        if specs is not None:
            fields = specs + [f for f in fields if f.name != "param"]
        lines.append("layer {")
        lines.extend(f"  # {note}" for note in notes)
        lines.append(f"  name: {quote(decl.name)}")
        lines.append(f"  type: {quote(type_name)}")
        lines.extend(f"  bottom: {quote(b)}" for b, _ in decl.bottoms)
        lines.extend(f"  top: {quote(t)}" for t, _ in decl.tops)
        lines.extend(_message_lines(fields, "  "))
        lines.append("}")
        if affine:
            top = decl.tops[0][0]
            lines.extend(
                [
                    "layer {",
                    f"  name: {quote(decl.name + '/scale')}",
                    '  type: "Scale"',
                    f"  bottom: {quote(top)}",
                    f"  top: {quote(top)}",
                    *_message_lines(_override_specs(decl, 2) or [], "  "),
                    "  scale_param {",
                    "    bias_term: true",
                    "  }",
                    "}",
                ]
            )
    return "\n".join(lines) + "\n"
