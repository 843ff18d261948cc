"""Expanded declarations -> IR: phase selection, parameter validation, wiring, shapes, blobs.

One topological pass in declaration order (Caffe's own order). Independent errors are all
reported; a layer whose input has no shape is skipped rather than reported again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from netc.diagnostics import NetcError, Reporter, Span, did_you_mean
from netc.ir.graph import Blob, Graph, Node, Tensor
from netc.lang.evaluate import describe
from netc.lang.expand import LayerDecl, NetDecl
from netc.lang.values import PField, PMessage, Symbol
from netc.layers.base import (
    LayerContext,
    LayerType,
    Params,
    Shape,
    ShapeError,
    all_types,
    fmt_shape,
    lookup,
    undeclared,
)
from netc.proto.caffe_schema import CAFFE
from netc.proto.schema import Field, Kind
from netc.proto.validate import validate

#: Layer-level netc extensions, written flat in any layer.
LAYER_EXTENSIONS = (
    Field("frozen", 2001, Kind.BOOL, default=False),
    Field("inplace", 2002, Kind.BOOL, default=False),
)
_WIRING = ("name", "type", "bottom", "top")


@dataclass
class BuildOptions:
    phase: str = "TEST"
    stages: tuple[str, ...] = ()
    level: int = 0
    input_shapes: dict[str, Shape] | None = None  # overrides, e.g. from --input-shape
    batch: int | None = None  # the first dimension of every input
    input_size: tuple[int, ...] | None = None  # the spatial size of every image input (H, W)
    strict: bool = False  # warnings are errors (CI: refuse what netc would ignore)


def build(net: NetDecl, options: BuildOptions | None = None) -> Graph:
    return _Builder(net, options or BuildOptions()).run()


class _Builder:
    def __init__(self, net: NetDecl, options: BuildOptions) -> None:
        self.net = net
        self.options = options
        self.report = Reporter()
        self.nodes: list[Node] = []
        self.tensors: dict[str, Tensor] = {}
        self.current: dict[str, str] = {}  # blob name -> latest tensor id
        # Caffe's shared parameters: param name -> (owner blob, its node, lr set?, decay set?)
        self.shared: dict[str, _SharedParam] = {}
        self.versions: dict[str, int] = {}
        self.inputs: list[str] = []
        self.consumed: set[str] = set()
        self.producers: dict[str, list[tuple[int, str]]] = {}

    def run(self) -> Graph:
        header = validate(
            self.net.header,
            CAFFE.message("NetParameter"),
            CAFFE,
            self.report,
            skip=("layer", "layers"),
        )
        state = header["state"]
        if state is not None and self.options.phase == "TEST" and state.has("phase"):
            self.options.phase = str(state["phase"])
        self._header_inputs(header)
        layers = self._unique_names([d for d in self.net.layers if self._included(d)])
        self.producers = self._producers(layers)
        for index, decl in enumerate(layers):
            self._layer(decl, index)
        if self.options.strict:
            for warning in self.report.warnings:
                self.report.error(warning.message, warning.span, warning.hint)
        self.report.raise_if_any()
        outputs = [
            t
            for t in self.current.values()
            if t not in self.consumed and self.tensors[t].producer is not None
        ]
        return Graph(
            self.net.name or "net",
            self.nodes,
            self.tensors,
            self.inputs,
            outputs,
            list(self.net.sources),
            self.options.phase,
            self.report.warnings,
        )

    # ---- inputs ------------------------------------------------------------------------
    def _header_inputs(self, header: Params) -> None:
        names: list[str] = header["input"]
        if not names:
            if header.has("input_dim") or header.has("input_shape"):
                self.report.error(
                    "input_dim/input_shape given without `input`",
                    header.span("input_dim") or header.span("input_shape"),
                    'add input: "data" before the dimensions',
                )
            return
        dims: list[int] = header["input_dim"]
        shapes: list[Params] = header["input_shape"]
        span = header.span("input") or self.net.header.span
        if shapes:
            if len(shapes) != len(names):
                self.report.error(
                    f"{len(shapes)} input_shape for {len(names)} inputs",
                    header.span("input_shape"),
                    "give one input_shape per input, in the same order",
                )
                return
            resolved = [tuple(int(d) for d in s["dim"]) for s in shapes]
        elif dims:
            if len(dims) != 4 * len(names):
                self.report.error(
                    f"{len(dims)} input_dim values for {len(names)} input(s)",
                    header.span("input_dim"),
                    "give four input_dim values (N, C, H, W) per input",
                )
                return
            resolved = [tuple(dims[4 * i : 4 * i + 4]) for i in range(len(names))]
        else:
            self.report.error(
                f'input "{names[0]}" has no shape',
                span,
                "add input_shape { dim: 1 dim: 3 dim: 224 dim: 224 } (or four input_dim values)",
            )
            return
        input_type = lookup("Input")
        assert input_type is not None
        for name, shape in zip(names, resolved, strict=True):
            shape = self._override(name, shape)
            if not shape or any(d < 1 for d in shape):
                self.report.error(
                    f'input "{name}" has an invalid shape {list(shape)}',
                    span,
                    "dims must be positive",
                )
                continue
            tensor = self._produce(name, name, shape, span)
            empty = Params("InputParameter", {}, {}, set(), {})
            layer_params = Params("LayerParameter", {}, {}, set(), {})
            self.nodes.append(
                Node(name, "Input", input_type, empty, layer_params, [], [tensor], [], span)
            )
            self.inputs.append(tensor)

    def _override(self, name: str, shape: Shape) -> Shape:
        """An input's shape after --input-shape, --batch and --input-size."""
        options = self.options
        resized = list((options.input_shapes or {}).get(name, shape))
        if options.batch is not None and resized:
            resized[0] = options.batch
        size = options.input_size
        if size is not None and len(resized) == 2 + len(size):
            resized[2:] = size
        return tuple(resized)

    # ---- phases ------------------------------------------------------------------------
    def _included(self, decl: LayerDecl) -> bool:
        includes = [f.value for f in decl.message.all("include") if isinstance(f.value, PMessage)]
        excludes = [f.value for f in decl.message.all("exclude") if isinstance(f.value, PMessage)]
        if includes:
            return any(self._rule_matches(r) for r in includes)
        return not any(self._rule_matches(r) for r in excludes)

    def _rule_matches(self, rule: PMessage) -> bool:
        for f in rule:
            if f.name == "phase" and str(f.value) != self.options.phase:
                return False
            if f.name == "min_level" and self.options.level < int(f.value):  # type: ignore[call-overload]
                return False
            if f.name == "max_level" and self.options.level > int(f.value):  # type: ignore[call-overload]
                return False
            if f.name == "stage" and f.value not in self.options.stages:
                return False
            if f.name == "not_stage" and f.value in self.options.stages:
                return False
        return True

    def _left_out_producer(self, blob: str) -> str | None:
        """A hint when a layer this phase and stage leave out produces `blob`: the flags that
        would include it (Caffe's NetState: a train_test file's data layers by phase/stage),
        preferring one of this phase."""
        hints: list[tuple[bool, str]] = []
        for decl in self.net.layers:
            if self._included(decl) or blob not in [t for t, _ in decl.tops]:
                continue
            for rule in decl.message.all("include"):
                if not isinstance(rule.value, PMessage):
                    continue
                phases = [str(f.value) for f in rule.value if f.name == "phase"]
                other_phase = bool(phases) and phases[0] != self.options.phase
                flags = [f"--phase {p}" for p in phases if other_phase]
                flags += [f"--stage {f.value}" for f in rule.value if f.name == "stage"]
                if flags:
                    hints.append(
                        (other_phase, f'layer "{decl.name}" produces it with {" ".join(flags)}')
                    )
            if not hints:
                hints.append(
                    (
                        True,
                        f'layer "{decl.name}" produces it, but its include/exclude rules leave it out',
                    )
                )
        return min(hints, key=lambda h: h[0])[1] if hints else None

    def _unique_names(self, layers: list[LayerDecl]) -> list[LayerDecl]:
        """Caffe allows two layers one name (BVLC's mnist_autoencoder has two "loss"); the IR,
        torch attributes and state_dict keys need one each: a later namesake becomes
        `name_2` (`_3`, ...: the first suffix no layer of the file has), with a warning."""
        taken = {d.name for d in layers}
        seen: dict[str, Span] = {}
        out = []
        for decl in layers:
            if decl.name in seen:
                n = 2
                while f"{decl.name}_{n}" in taken:
                    n += 1
                renamed = f"{decl.name}_{n}"
                name_field = decl.message.first("name")
                self.report.warn(
                    f'layer name "{decl.name}" is used twice (Caffe allows it); netc calls this '
                    f'layer "{renamed}"',
                    name_field.value_span if name_field is not None else decl.span,
                    f"the first is at {seen[decl.name]}; rename it to choose the name",
                )
                taken.add(renamed)
                decl = replace(decl, name=renamed)
            seen[decl.name] = decl.span
            out.append(decl)
        return out

    @staticmethod
    def _producers(layers: list[LayerDecl]) -> dict[str, list[tuple[int, str]]]:
        """blob -> (index, layer name) of every layer writing it, in order (to tell a cycle,
        a bottom produced only later, from a typo)."""
        producers: dict[str, list[tuple[int, str]]] = {}
        for index, decl in enumerate(layers):
            for top, _ in decl.tops:
                producers.setdefault(top, []).append((index, decl.name))
        return producers

    def _produced_after(self, blob: str, index: int) -> str | None:
        return next((name for i, name in self.producers.get(blob, []) if i >= index), None)

    # ---- layers ------------------------------------------------------------------------
    def _layer(self, decl: LayerDecl, index: int) -> None:
        legacy = decl.kind == "layers"
        spec = CAFFE.message("V1LayerParameter" if legacy else "LayerParameter")
        errors_before = len(self.report.diagnostics)
        layer_type = self._type(decl)
        layer_fields, type_fields = self._split(decl, spec.names(), layer_type)
        layer_params = validate(
            decl.message,
            spec,
            CAFFE,
            self.report,
            extensions=LAYER_EXTENSIONS,
            # the type's own parameter message is validated once, by _type_params
            skip=(*_WIRING, *([layer_type.message] if layer_type and layer_type.message else [])),
            fields=layer_fields,
        )
        params = (
            self._type_params(decl, layer_type, type_fields) if layer_type is not None else None
        )
        inputs = self._bottoms(decl, index)
        if (
            layer_type is None
            or params is None
            or inputs is None
            or not self._arity(decl, layer_type)
            or len(self.report.diagnostics) > errors_before
        ):
            # Already reported: give the tops unknown shapes so later layers do not cascade.
            for top, span in decl.tops:
                self._produce(top, decl.name, None, span)
            return
        shapes = [self.tensors[t].shape for t in inputs]
        ctx = LayerContext(decl.name, params, layer_params)
        out_shapes: list[Shape | None] = [None] * len(decl.tops)
        blobs: list[Blob] = []
        if layer_type.declared and all(s is not None for s in shapes):
            known = [s for s in shapes if s is not None]
            try:
                computed = self._shapes(layer_type, ctx, known, decl)
                if layer_type.family == "input":
                    computed = [
                        self._override(top, s)
                        for (top, _), s in zip(decl.tops, computed, strict=False)
                    ]
                blobs = [Blob(b.name, b.shape, b.kind) for b in layer_type.blobs(ctx, known)]
                out_shapes = (computed + out_shapes)[: len(decl.tops)]
                self._multipliers(decl, blobs, layer_params, legacy, layer_type, ctx)
                self._share(decl, blobs, layer_params, legacy)
            except ShapeError as exc:
                where = (
                    (params.span(exc.field) or layer_params.span(exc.field)) if exc.field else None
                )
                self.report.error(
                    f"{decl.name} ({layer_type.type}): {exc.message}",
                    where or decl.span,
                    exc.hint or self._shape_hint(shapes),
                )
        bottom_blobs = [b for b, _ in decl.bottoms]
        for top, span in decl.tops:
            if top in bottom_blobs and not layer_type.in_place:
                self.report.error(
                    f'{layer_type.type} layer "{decl.name}" cannot run in place (top "{top}" is its bottom)',
                    span,
                    "give the top its own name",
                )
            if top in self.current and top not in bottom_blobs:
                producer = self.tensors[self.current[top]].producer
                self.report.error(
                    f'top "{top}" of layer "{decl.name}" is already produced by "{producer}"',
                    span,
                    "give the top a new name (only an in-place layer, with top equal to its bottom, may reuse one)",
                )
        outputs = [
            self._produce(top, decl.name, shape, span)
            for (top, span), shape in zip(decl.tops, out_shapes, strict=True)
        ]
        frozen = decl.frozen or bool(layer_params["frozen"])
        if layer_type.family == "input":
            self.inputs.extend(outputs)
        self.nodes.append(
            Node(
                decl.name,
                layer_type.type,
                layer_type,
                params,
                layer_params,
                inputs,
                outputs,
                blobs,
                decl.span,
                decl.frames,
                frozen,
            )
        )

    def _shapes(
        self, layer_type: LayerType, ctx: LayerContext, inputs: list[Shape], decl: LayerDecl
    ) -> list[Shape]:
        """The layer's output shapes; for a data layer whose file states no size (LMDB `Data`
        without crop_size), the size given with --input-shape, its label following its batch."""
        try:
            return list(layer_type.shapes(ctx, inputs, len(decl.tops)))
        except ShapeError as exc:
            if layer_type.family != "input":
                raise
            given = self.options.input_shapes or {}
            first = decl.tops[0][0]
            if first not in given:
                raise ShapeError(
                    exc.message,
                    hint=f"pass --input-shape {first}=NxCxHxW, e.g. --input-shape "
                    f"{first}=1x3x32x32" + (f"; or {exc.hint}" if exc.hint else ""),
                    field=exc.field,
                ) from None
            batch = given[first][0]
            return [
                given.get(top, (batch,) if i else given[first])
                for i, (top, _) in enumerate(decl.tops)
            ]

    def _shape_hint(self, shapes: list[Shape | None]) -> str:
        return (
            "input shape"
            + ("s " if len(shapes) > 1 else " ")
            + ", ".join(fmt_shape(s) for s in shapes if s is not None)
        )

    def _type(self, decl: LayerDecl) -> LayerType | None:
        field = decl.message.first("type")
        if field is None:
            self.report.error(
                f'layer "{decl.name}" has no type',
                decl.span,
                'add type: "Convolution" (or another layer type)',
            )
            return None
        value = field.value
        if decl.kind == "layers" and isinstance(value, int) and not isinstance(value, bool):
            value = CAFFE.enum("V1LayerParameter.LayerType").by_number(value) or str(value)
        if isinstance(value, Symbol) and decl.kind == "layer":
            self.report.error(
                f"the type of a `layer` is a string: {value} is the legacy V1 spelling",
                field.value_span,
                f'write type: "{_v1_to_name(value)}" (or use `layers` for the V1 format)',
            )
            return None
        layer_type = lookup(str(value)) if isinstance(value, str) else None
        if layer_type is None and isinstance(value, str) and value and not _misspelt(value):
            # a fork's type (or a typo): drawn and analysed around, refused by the backends
            typo = did_you_mean(str(value), list(all_types()))
            self.report.warn(
                f'unknown layer type "{value}" (layer "{decl.name}"): netc leaves its output '
                "shapes unknown and refuses to build it",
                field.value_span,
                (f"{typo} " if typo else "")
                + "see `netc layers` for the known types; --strict makes this an error",
            )
            return undeclared(str(value))
        if layer_type is None:
            self.report.error(
                f'unknown layer type "{value}"',
                field.value_span,
                did_you_mean(str(value), list(all_types()))
                or "see `netc layers` for the supported types",
            )
        return layer_type

    def _split(
        self, decl: LayerDecl, layer_fields: list[str], layer_type: LayerType | None
    ) -> tuple[list[PField], list[PField]]:
        """Fields of the layer message vs flat fields of the type's parameter message."""
        ext_names = {f.name for f in LAYER_EXTENSIONS}
        own: list[PField] = []
        flat: list[PField] = []
        type_field_names: list[str] = []
        if layer_type is not None:
            if layer_type.message:
                type_field_names = CAFFE.message(_message_type(layer_type.message)).names()
            type_field_names += [f.name for f in layer_type.extensions]
        # a fork's layer-level field and the type's own field of that name, written flat: told
        # apart by the value (Intel Caffe's `engine: "MKL2017"` is a string, the engine of
        # ConvolutionParameter an enum, `engine: CAFFE`)
        forks = {f.name for f in CAFFE.message("LayerParameter").fields if f.origin}
        for f in decl.message:
            if f.name in forks and f.name in type_field_names:
                quoted = isinstance(f.value, str) and not isinstance(f.value, Symbol)
                (own if quoted else flat).append(f)
            elif f.name in layer_fields or f.name in ext_names:
                own.append(f)
            elif f.name in type_field_names:
                flat.append(f)
            elif layer_type is not None and layer_type.declared:  # unknown: already warned
                candidates = [
                    n for n in (*layer_fields, *type_field_names, *ext_names) if n != "layer"
                ]
                self.report.error(
                    f'unknown field "{f.name}" for a {layer_type.type} layer',
                    f.name_span,
                    did_you_mean(f.name, candidates)
                    or (
                        f"{layer_type.type} parameters: {', '.join(type_field_names[:10])}"
                        if type_field_names
                        else f"{layer_type.type} takes no parameters"
                    ),
                )
        return own, flat

    def _type_params(self, decl: LayerDecl, layer_type: LayerType, flat: list[PField]) -> Params:
        if layer_type.message is None:
            if flat:
                self.report.error(
                    f"{layer_type.type} takes no parameters",
                    flat[0].name_span,
                    f'remove "{flat[0].name}"',
                )
            return Params(None, {}, {}, set(), {})
        message_name = _message_type(layer_type.message)
        nested = [f for f in decl.message.all(layer_type.message)]
        fields: list[PField] = list(flat)
        for f in nested:
            if isinstance(f.value, PMessage):
                fields.extend(f.value.fields)
        for f in decl.message:
            if f.name.endswith("_param") and f.name not in (
                layer_type.message,
                "transform_param",
                "loss_param",
            ):
                self.report.error(
                    f"{f.name} does not apply to a {layer_type.type} layer",
                    f.name_span,
                    f"its parameters go in {layer_type.message}",
                )
        return validate(
            PMessage(decl.span, fields),
            CAFFE.message(message_name),
            CAFFE,
            self.report,
            extensions=layer_type.extensions,
        )

    def _bottoms(self, decl: LayerDecl, index: int) -> list[str] | None:
        inputs = []
        ok = True
        for blob, span in decl.bottoms:
            tensor = self.current.get(blob)
            if tensor is None:
                ok = False
                producer = self._produced_after(blob, index)
                if producer is not None:
                    self.report.error(
                        f'layer "{decl.name}" reads "{blob}" before it is produced (by "{producer}")',
                        span,
                        "layers run in order: a bottom must come from an earlier layer (this would be a cycle)",
                    )
                else:
                    self.report.error(
                        f'unknown bottom "{blob}" in layer "{decl.name}"',
                        span,
                        self._left_out_producer(blob)
                        or did_you_mean(blob, list(self.current))
                        or "no earlier layer or input produces it",
                    )
                continue
            inputs.append(tensor)
            self.consumed.add(tensor)
        return inputs if ok else None

    def _arity(self, decl: LayerDecl, layer_type: LayerType) -> bool:
        for what, count, (low, high) in (
            ("bottom", len(decl.bottoms), layer_type.bottoms),
            ("top", len(decl.tops), layer_type.tops),
        ):
            if count < low or (high is not None and count > high):
                expected = (
                    f"{low}"
                    if low == high
                    else f"{low} or more"
                    if high is None
                    else f"{low} to {high}"
                )
                self.report.error(
                    f'{layer_type.type} layer "{decl.name}" has {count} {what}{"s" * (count != 1)}; it takes {expected}',
                    decl.span,
                    f"check the {what} fields",
                )
                return False
        return True

    def _produce(self, blob: str, producer: str, shape: Shape | None, span: Span) -> str:
        """A new tensor for `blob`; an in-place layer makes a new version of its bottom."""
        if blob in self.current:
            version = self.versions.get(blob, 0) + 1
            self.versions[blob] = version
            tensor_id = f"{blob}#{version}"
        else:
            tensor_id = blob
        self.tensors[tensor_id] = Tensor(tensor_id, blob, shape, producer)
        self.current[blob] = tensor_id
        return tensor_id

    def _share(
        self, decl: LayerDecl, blobs: list[Blob], layer_params: Params, legacy: bool
    ) -> None:
        """Caffe's `param { name: "w" }` (Net::AppendParam): the first layer to name a param
        owns the blob; later ones share it, with the same shape (or, with share_mode:
        PERMISSIVE, the same count) and no lr_mult/decay_mult of their own that disagrees."""
        where = layer_params.span("param") or decl.span
        specs: list[Params | None] = [None if legacy else p for p in layer_params["param"]]
        names = [str(p) for p in layer_params["param"]] if legacy else []
        modes = [str(m) for m in layer_params["blob_share_mode"]] if legacy else []
        for i, blob in enumerate(blobs[: len(specs)]):
            spec = specs[i]
            name = names[i] if legacy else (spec["name"] if spec and spec.has("name") else "")
            if not name:
                continue
            owner = self.shared.get(name)
            if owner is None:
                explicit_lr = bool(spec and spec.has("lr_mult"))
                explicit_decay = bool(spec and spec.has("decay_mult"))
                self.shared[name] = _SharedParam(blob, decl.name, explicit_lr, explicit_decay)
                continue
            if legacy:
                permissive = i < len(modes) and modes[i] == "PERMISSIVE"
            else:
                permissive = (
                    bool(spec and spec.has("share_mode"))
                    and str(spec["share_mode"] if spec else "") == "PERMISSIVE"
                )
            same = blob.size == owner.blob.size if permissive else blob.shape == owner.blob.shape
            if not same:
                self.report.error(
                    f'layer "{decl.name}" shares param "{name}" of "{owner.node}", but its '
                    f"{blob.name} is {fmt_shape(blob.shape)} where the owner's is "
                    f"{fmt_shape(owner.blob.shape)}",
                    where,
                    "shared params need the same shape (share_mode: PERMISSIVE: the same count)",
                )
                continue
            for field_name, attr, flag in (
                ("lr_mult", "lr_mult", "lr_set"),
                ("decay_mult", "decay_mult", "decay_set"),
            ):
                if spec is None or not spec.has(field_name):
                    continue
                mine = float(spec[field_name])
                if getattr(owner, flag) and mine != getattr(owner.blob, attr):
                    self.report.error(
                        f'shared param "{name}" has mismatched {field_name}: {mine:g} in '
                        f'"{decl.name}", {getattr(owner.blob, attr):g} in "{owner.node}"',
                        where,
                        f"give both layers the same {field_name} (Caffe refuses this too)",
                    )
                elif not getattr(owner, flag):
                    setattr(owner.blob, attr, mine)
                    setattr(owner, flag, True)
            blob.lr_mult, blob.decay_mult = owner.blob.lr_mult, owner.blob.decay_mult
            blob.shared_from = (owner.node, owner.blob.name)

    def _multipliers(
        self,
        decl: LayerDecl,
        blobs: list[Blob],
        layer_params: Params,
        legacy: bool,
        layer_type: LayerType,
        ctx: LayerContext,
    ) -> None:
        specs: list[tuple[float | None, float | None, Span | None]] = []
        if legacy:
            lrs, decays = layer_params["blobs_lr"], layer_params["weight_decay"]
            for i in range(max(len(lrs), len(decays))):
                specs.append(
                    (
                        lrs[i] if i < len(lrs) else None,
                        decays[i] if i < len(decays) else None,
                        layer_params.span("blobs_lr"),
                    )
                )
        else:
            for p in layer_params["param"]:
                specs.append(
                    (
                        p["lr_mult"] if p.has("lr_mult") else None,
                        p["decay_mult"] if p.has("decay_mult") else None,
                        layer_params.span("param"),
                    )
                )
        if decl.tune is not None:
            tune = decl.tune
            lr_field = tune.first("lr_mult")
            decay_field = tune.first("decay_mult")
            lr = _num(lr_field)
            decay = _num(decay_field)
            per_blob = [f.value for f in tune.all("param") if isinstance(f.value, PMessage)]
            if per_blob:
                specs = [
                    (_num(m.first("lr_mult")), _num(m.first("decay_mult")), tune.span)
                    for m in per_blob
                ]
            if lr is not None or decay is not None:
                specs = [(lr, decay, tune.span)] * max(len(blobs), 1)
        if len(specs) > len(blobs) and decl.tune is None:
            self.report.error(
                f'layer "{decl.name}" gives {len(specs)} param specs for {len(blobs)} blobs',
                specs[0][2] or decl.span,
                "give one param { } per blob, in order (weights, then bias)",
            )
        for blob, (lr, decay, _) in zip(blobs, specs, strict=False):
            if lr is not None:
                blob.lr_mult = float(lr)
            if decay is not None:
                blob.decay_mult = float(decay)
        frozen_by_type = layer_type.frozen_blobs(ctx)
        for blob in blobs:
            if decl.frozen or layer_params["frozen"] or blob.name in frozen_by_type:
                blob.lr_mult = 0.0
                blob.decay_mult = 0.0


@dataclass
class _SharedParam:
    blob: Blob
    node: str
    lr_set: bool
    decay_set: bool


def _misspelt(name: str) -> bool:
    """A type one slip away from a known one (Convlution, Innerproduct) is an error, not a
    fork's type: near-identical spelling (similarity 0.85 or more; ROIPooling vs Pooling is
    0.82, BN vs BNLL 0.67)."""
    import difflib

    lowered = name.lower()
    return any(
        difflib.SequenceMatcher(None, lowered, known.lower()).ratio() >= 0.85
        for known in all_types()
    )


def _num(f: PField | None) -> float | None:
    return _as_float(f.value, f.value_span) if f is not None else None


def _as_float(value: object, span: Span | None = None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise NetcError.single(
            f"lr_mult/decay_mult need numbers, got {describe(value)}",
            span,
            "write e.g. lr_mult: 0.1",
        )
    return float(value)


def _message_type(field_name: str) -> str:
    spec = CAFFE.message("LayerParameter").get(field_name)
    assert spec is not None and spec.message is not None, field_name
    return spec.message


def _v1_to_name(value: str) -> str:
    layer = lookup(value)
    return layer.type if layer else value
