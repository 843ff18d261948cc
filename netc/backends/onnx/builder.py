"""The IR as an ONNX ModelProto, built with onnx.helper (no torch).

A thin driver over the layer registry (`LayerType.onnx_*`):
1. Deploy view, as the torch backend's: training-only layers (losses, metrics) are left out,
   input layers become graph inputs, and a layer absorbs its output's only consumer where its
   type says so (Caffe's BatchNorm + Scale is one BatchNormalization; `netc/ir/fusion.py`).
2. Values: every IR tensor maps to the ONNX value holding it; layers that are the identity at
   inference (Split, Dropout) write no node, their tops are their bottom.
3. Batch: axis 0 is the symbolic dimension "N" when every input has the same batch size and no
   layer mixes axis 0 with others (`onnx_keeps_batch`); otherwise the shapes stay fixed.
4. Initializers are named like the generated torch module's state_dict keys and hold the given
   weights (validated against the IR's shapes) or netc's seeded initialisation.
5. value_info: the analyzer's shape for every layer's output; ONNX's own inference (run over a
   weightless copy) for the few values inside one layer's nodes (a flatten before a Gemm).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from netc.diagnostics import Diagnostic, NetcError
from netc.ir.deploy import computes_nothing, refuse_undeclared, unread_tensors
from netc.ir.fusion import absorptions
from netc.ir.graph import Blob, Graph, Node
from netc.layers.base import (
    BackendError,
    LayerContext,
    OnnxAttr,
    OnnxSite,
    Shape,
    TorchSite,
    fmt_shape,
    without_ones,
)

if TYPE_CHECKING:
    import numpy as np
    import onnx
    from numpy.typing import NDArray

DEFAULT_OPSET = 17
MIN_OPSET = 13  # Softmax/Split/Unsqueeze take their current (axis-exact, input-driven) forms
PRODUCER = "netc"
BATCH = "N"
SEED = 0  # the seeded initialisation without --weights (see docs/onnx.md)
HINT = "netc build --target onnx supports the layers listed in docs/onnx.md"


def max_opset() -> int:
    """The newest default-domain opset the installed onnx package knows."""
    import onnx

    return int(onnx.defs.onnx_opset_version())


def check_opset(opset: int) -> None:
    newest = max_opset()
    if not MIN_OPSET <= opset <= newest:
        raise NetcError.single(
            f"opset {opset} is not supported",
            None,
            f"give an opset from {MIN_OPSET} to {newest} (default {DEFAULT_OPSET})",
        )


@dataclass
class _Layer:
    node: Node
    ctx: LayerContext
    site: OnnxSite
    absorbed: Node | None
    inputs: list[str]
    outputs: list[str]
    alias: bool


def _blob_keys(layer: _Layer) -> Iterator[tuple[Node, Blob, str | None]]:
    """(node, blob, state_dict key or None) of a layer's blobs and its absorbed layer's."""
    renames = layer.node.layer.torch_state_names(
        layer.ctx, TorchSite(layer.site.inputs, layer.site.outputs)
    )
    for node in (layer.node, layer.absorbed):
        if node is None:
            continue
        for blob in node.blobs:
            name = renames.get(blob.name, blob.name) if node is layer.node else blob.name
            yield node, blob, (f"{layer.node.name}.{name}" if name is not None else None)


class _Emitter:
    """Collects nodes and initializers; implements `netc.layers.base.OnnxEmitter`."""

    def __init__(
        self, graph: Graph, weights: Mapping[str, Any] | None, seed: int, origin: str
    ) -> None:
        import numpy

        self.np = numpy
        self.graph = graph
        self.weights = weights
        self.seed = seed
        self.origin = origin
        self.nodes: list[onnx.NodeProto] = []
        self.params: dict[str, NDArray[np.float32]] = {}  # state_dict key -> ONNX layout
        self.consts: dict[str, NDArray[Any]] = {}
        self.used_keys: set[str] = set()
        self.errors: list[Diagnostic] = []
        self.names: set[str] = set()
        self.temps: list[str] = []  # values inside one layer's nodes
        self.node_names: set[str] = set()
        self.layer: _Layer | None = None
        self.keys: dict[str, str] = {}  # blob name -> state_dict key, for the current layer
        self.blob_keys: dict[tuple[str, str], str] = {}  # (node, blob) -> key, every layer
        self.blob_shapes: dict[str, Shape] = {}
        self.owner: dict[str, Node] = {}
        self.first: int = 0

    # ---- per layer ------------------------------------------------------------------------

    def index(self, layers: Sequence[_Layer]) -> None:
        """Every blob's state_dict key, so that a blob shared with another layer (Caffe's
        `param { name: }`) reads its owner's one initializer."""
        for layer in layers:
            for node, blob, key in _blob_keys(layer):
                if key is not None:
                    self.blob_keys[(node.name, blob.name)] = key

    def begin(self, layer: _Layer) -> None:
        self.layer = layer
        self.first = len(self.nodes)
        self.keys, self.blob_shapes, self.owner = {}, {}, {}
        for node, blob, key in _blob_keys(layer):
            if blob.shared_from is not None:
                key = self.blob_keys.get(blob.shared_from, key)
            if key is not None:
                self.keys[blob.name] = key
            self.blob_shapes[blob.name] = blob.shape
            self.owner[blob.name] = node

    def end(self) -> None:
        """Name the layer's nodes: the one writing its first top by the layer, the others by
        the layer and their operator (`fc6:Flatten`)."""
        assert self.layer is not None
        own = self.nodes[self.first :]
        main = next((n for n in own if self.layer.outputs[0] in n.output), own[-1] if own else None)
        for n in own:
            base = self.layer.node.name if n is main else f"{self.layer.node.name}:{n.op_type}"
            name, k = base, 1
            while name in self.node_names:
                k += 1
                name = f"{base}:{k}"
            n.name = name
            self.node_names.add(name)

    def fresh(self, hint: str) -> str:
        name, k = hint, 1
        while name in self.names:
            k += 1
            name = f"{hint}:{k}"
        self.names.add(name)
        return name

    # ---- OnnxEmitter ------------------------------------------------------------------------

    def node(
        self,
        op: str,
        inputs: Sequence[str],
        outputs: Sequence[str] | None = None,
        **attrs: OnnxAttr,
    ) -> list[str]:
        from onnx import helper

        assert self.layer is not None
        if outputs is None:
            outs = [self.fresh(f"{self.layer.node.name}:{op.lower()}")]
            self.temps.extend(outs)
        else:
            outs = list(outputs)
        clean = {k: _attr(v) for k, v in attrs.items()}
        self.nodes.append(helper.make_node(op, list(inputs), outs, **clean))
        return outs

    def param(self, blob: str, shape: Shape | None = None) -> str:
        assert self.layer is not None
        key = self.keys.get(blob)
        if key is None:
            raise BackendError(f"{self.layer.node.type} has no blob {blob!r} in torch's state_dict")
        if key not in self.params:
            value = self._value(blob, key)
            if value is None:
                return key  # reported; keep building to find every error
            if shape is not None:
                value = value.reshape(shape)
            self.params[key] = value
        self.used_keys.add(key)
        return key

    def const(self, values: Sequence[float] | float, dtype: str = "float32") -> str:
        array = self.np.asarray(
            values, dtype=self.np.int64 if dtype == "int64" else self.np.float32
        )
        return self._const(array)

    def const_array(self, values: Sequence[float], shape: Shape) -> str:
        return self._const(self.np.asarray(values, dtype=self.np.float32).reshape(shape))

    def _const(self, array: NDArray[Any]) -> str:
        assert self.layer is not None
        name = self.fresh(f"{self.layer.node.name}::const")
        self.consts[name] = array
        return name

    # ---- weights ----------------------------------------------------------------------------

    def _value(self, blob: str, key: str) -> NDArray[np.float32] | None:
        xp = self.np
        shape = self.blob_shapes[blob]
        node = self.owner[blob]
        if self.weights is None:
            ctx = LayerContext(node.name, node.params, node.layer_params, self.graph.phase)
            own = {b.name: b.shape for b in node.blobs}
            kind, number = node.layer.initial(ctx, blob, own)
            if kind == "uniform":
                # one generator per key: a layer's values do not depend on the others
                rng = xp.random.default_rng([self.seed, zlib.crc32(key.encode("utf-8"))])
                drawn: NDArray[np.float32] = rng.random(shape, dtype=xp.float32)
                drawn *= 2 * number  # U(-b, b) in place: float32 throughout, no copies
                drawn -= number
                return drawn
            filled: NDArray[np.float32] = xp.full(shape, number, dtype=xp.float32)
            return filled
        if key not in self.weights:
            self.errors.append(
                Diagnostic(
                    f"{node.name} ({node.type}): {self.origin} has no {key!r}",
                    node.span,
                    "the weights need every layer's tensors: a state_dict of the module "
                    "`netc build --target torch` generates from this spec (keys are layer names), "
                    "or a .caffemodel with a layer of this name",
                )
            )
            return None
        array = xp.asarray(self.weights[key])
        if without_ones(array.shape) != without_ones(shape):
            self.errors.append(
                Diagnostic(
                    f"{node.name} ({node.type}): {key} in {self.origin} is "
                    f"{fmt_shape(array.shape) or 'a scalar'}, the layer needs "
                    f"{fmt_shape(shape) or 'a scalar'}",
                    node.span,
                    "were the weights saved from another network or input size?",
                )
            )
            return None
        if not xp.issubdtype(array.dtype, xp.floating):
            self.errors.append(
                Diagnostic(
                    f"{node.name} ({node.type}): {key} in {self.origin} holds {array.dtype}, "
                    "not floating-point numbers",
                    node.span,
                )
            )
            return None
        given: NDArray[np.float32] = xp.ascontiguousarray(array, dtype=xp.float32).reshape(shape)
        return given


def _attr(value: OnnxAttr) -> Any:
    """Plain Python values for onnx.helper (it refuses numpy scalars and tuples of mixed kinds)."""
    if isinstance(value, (bool, int)):
        return int(value)
    if isinstance(value, (float, str)):
        return value
    items = list(value)
    if all(isinstance(v, int) for v in items):
        return [int(v) for v in items]
    return [float(v) for v in items]


def backend_error(node: Node, exc: BackendError) -> Diagnostic:
    span = (node.params.span(exc.field) or node.layer_params.span(exc.field)) if exc.field else None
    return Diagnostic(
        f"{node.name} ({node.type}): {exc.message}", span or node.span, exc.hint or HINT
    )


def _shape(graph: Graph, ids: Sequence[str]) -> tuple[Shape, ...]:
    shapes = [graph.tensors[t].shape for t in ids]
    if any(s is None for s in shapes):
        raise NetcError.single("the ONNX backend needs a shape-checked network")
    return tuple(s for s in shapes if s is not None)


def build_model(
    graph: Graph,
    *,
    weights: Mapping[str, Any] | None = None,
    opset: int = DEFAULT_OPSET,
    source_name: str | None = None,
    seed: int = SEED,
    weights_origin: str = "the weights",
    decompose_lrn: bool = False,
) -> onnx.ModelProto:
    """The network as an ONNX model. `weights` maps the generated torch module's state_dict
    keys to arrays (numpy, or anything `numpy.asarray` takes); without it, blobs start as
    torch's default initialisation would, drawn from a generator seeded with `seed`.
    `weights_origin` names the weights in errors. `decompose_lrn` writes Caffe's
    ACROSS_CHANNELS LRN as elementary ops instead of ONNX's LRN (the same function; several
    times faster in onnxruntime 1.32, whose LRN kernel is slow)."""
    from onnx import TensorProto, helper

    from netc import __version__

    check_opset(opset)
    refuse_undeclared(graph, "the ONNX model")
    deploy = [n for n in graph.nodes if not n.layer.training_only]
    sources = [n for n in deploy if n.layer.family == "input"]
    compute = [n for n in deploy if n.layer.family != "input"]
    absorber = absorptions(graph, compute)
    by_name = {n.name: n for n in compute}
    absorbs = {node.name: by_name[name] for name, node in absorber.items()}

    canon: dict[str, str] = {}

    def value(t: str) -> str:
        return canon.get(t, t)

    def context(node: Node) -> LayerContext:
        return LayerContext(node.name, node.params, node.layer_params, graph.phase)

    errors: list[Diagnostic] = []
    layers: list[_Layer] = []
    for node in compute:
        if node.name in absorber:
            continue
        other = absorbs.get(node.name)
        tops = other.outputs if other is not None else node.outputs
        site = OnnxSite(
            _shape(graph, node.inputs),
            _shape(graph, tops),
            opset,
            context(other) if other is not None else None,
            decompose_lrn,
        )
        ctx = context(node)
        inputs = [value(t) for t in node.inputs]
        alias = node.layer.onnx_alias(ctx)
        if alias:
            for t in node.outputs:
                canon[t] = inputs[0]
        elif other is not None:
            canon[node.outputs[0]] = other.outputs[0]
        layers.append(_Layer(node, ctx, site, other, inputs, [value(t) for t in tops], alias))

    consumed = {v for layer in layers if not layer.alias for v in layer.inputs}
    args: list[str] = []
    for node in sources:
        for t in node.outputs:
            v = value(t)
            if (v in consumed or any(v in layer.inputs for layer in layers)) and v not in args:
                args.append(v)
    produced = {v for layer in layers if not layer.alias for v in layer.outputs}
    results = list(dict.fromkeys(value(t) for t in unread_tensors(compute)))
    missing = sorted({v for v in consumed if v not in produced and v not in args})
    if missing:
        raise NetcError.single(f"the ONNX backend found no producer for {missing[0]!r}")
    if not results:
        raise computes_nothing(graph, "the ONNX model")

    shapes: dict[str, Shape] = {}
    for tensor in graph.tensors.values():
        if tensor.shape is not None:
            shapes.setdefault(value(tensor.id), tensor.shape)
    symbolic = len({shapes[a][0] for a in args if shapes[a]}) == 1 and all(shapes[a] for a in args)
    for layer in layers:
        if symbolic and not layer.alias:
            try:
                symbolic = layer.node.layer.onnx_keeps_batch(layer.ctx, layer.site)
            except BackendError as exc:
                errors.append(backend_error(layer.node, exc))

    emitter = _Emitter(graph, weights, seed, weights_origin)
    emitter.names.update(shapes)
    emitter.index([layer for layer in layers if not layer.alias])
    for layer in layers:
        if layer.alias:
            continue
        emitter.begin(layer)
        try:
            layer.node.layer.onnx_emit(layer.ctx, layer.site, emitter, layer.inputs, layer.outputs)
        except BackendError as exc:
            errors.append(backend_error(layer.node, exc))
            continue
        emitter.end()
    errors.extend(emitter.errors)
    for key in sorted(set(emitter.params) & set(graph.tensors)):  # ONNX has one namespace
        producer = graph.tensors[key].producer
        errors.append(
            Diagnostic(
                f"the blob {key!r} has the name of a weight (a state_dict key)",
                graph.node(producer).span if producer is not None else None,
                "rename the blob (its layer's top)",
            )
        )
    if weights is not None:
        errors.extend(_unexpected(graph, layers, weights, emitter.used_keys, weights_origin))
    if errors:
        raise NetcError(errors)

    # a result that is an input, or read only by an identity (Dropout at the end), still needs a
    # node of its own to be a graph output
    nodes = list(emitter.nodes)
    outputs: list[str] = []
    for v in results:
        if v in args:
            out = f"{v}:output"
            nodes.append(helper.make_node("Identity", [v], [out], name=out))
            shapes[out] = shapes[v]
            v = out
        outputs.append(v)

    def dims(shape: Shape) -> list[int | str]:
        out: list[int | str] = [int(d) for d in shape]
        if symbolic and out:
            out[0] = BATCH
        return out

    def info(name: str, shape: Shape) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims(shape))

    graph_inputs = [info(a, shapes[a]) for a in args]
    graph_outputs = [info(o, shapes[o]) for o in outputs]
    known = set(args) | set(outputs)
    value_info = [
        info(v, shapes[v])
        for layer in layers
        if not layer.alias
        for v in layer.outputs
        if v not in known and v in shapes
    ]
    value_info += _inner_value_info(nodes, graph_inputs, graph_outputs, emitter, opset)

    origin = source_name or (graph.sources[0].name if graph.sources else "<string>")
    doc = f"{graph.name}: generated by netc {__version__} from {origin}"
    onnx_graph = helper.make_graph(
        nodes,
        graph.name or "net",
        graph_inputs,
        graph_outputs,
        value_info=value_info,
        doc_string=f"netc spec {origin}",
    )
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(
        onnx_graph,
        opset_imports=opsets,
        producer_name=PRODUCER,
        producer_version=__version__,
        doc_string=doc,
        ir_version=helper.find_min_ir_version_for(opsets),
    )
    helper.set_model_props(model, {"netc.source": origin, "netc.batch": BATCH if symbolic else ""})
    # the weights go straight into the model's own message: make_graph/make_model would copy
    # every tensor twice more (seconds for VGG-16's 528 MB)
    for name, array in [*emitter.params.items(), *emitter.consts.items()]:
        add_initializer(model.graph, name, array)
    return model


def add_initializer(graph: onnx.GraphProto, name: str, array: NDArray[Any]) -> None:
    """Append a float32 or int64 tensor, little-endian raw data (ONNX's layout)."""
    from onnx import TensorProto

    tensor = graph.initializer.add()
    tensor.name = name
    tensor.data_type = TensorProto.INT64 if array.dtype.kind == "i" else TensorProto.FLOAT
    tensor.dims.extend(int(d) for d in array.shape)
    tensor.raw_data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()


def _inner_value_info(
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    emitter: _Emitter,
    opset: int,
) -> list[onnx.ValueInfoProto]:
    """Types of the values inside one layer's nodes, by ONNX's shape inference over a copy whose
    weights are typed inputs (no data is copied): a viewer then shows every edge's shape."""
    from onnx import TensorProto, helper, numpy_helper, shape_inference

    wanted = set(emitter.temps)
    if not wanted:
        return []
    typed = [
        helper.make_tensor_value_info(k, TensorProto.FLOAT, list(a.shape))
        for k, a in emitter.params.items()
    ]
    consts = [numpy_helper.from_array(a, k) for k, a in emitter.consts.items()]
    probe = helper.make_model(
        helper.make_graph(nodes, "probe", inputs + typed, outputs, initializer=consts),
        opset_imports=[helper.make_opsetid("", opset)],
    )
    inferred = shape_inference.infer_shapes(probe)
    return [v for v in inferred.graph.value_info if v.name in wanted]


def _unexpected(
    graph: Graph,
    layers: list[_Layer],
    weights: Mapping[str, Any],
    used: set[str],
    origin: str,
) -> list[Diagnostic]:
    """Keys the generated module would not accept (torch's strict load_state_dict refuses them
    too); entries torch keeps that ONNX does not need (num_batches_tracked) are fine."""
    known = set(used)
    for layer in layers:
        known.update(key for _, _, key in _blob_keys(layer) if key is not None)
        extra_state = layer.node.layer.torch_extra_state(layer.ctx)
        known.update(f"{layer.node.name}.{entry}" for entry in extra_state)
    extra = sorted(k for k in weights if k not in known)
    if not extra:
        return []
    shown = ", ".join(repr(k) for k in extra[:5]) + (
        f" and {len(extra) - 5} more" if len(extra) > 5 else ""
    )
    return [
        Diagnostic(
            f"{origin} has {len(extra)} entr{'y' if len(extra) == 1 else 'ies'} the network "
            f"{graph.name!r} does not: {shown}",
            None,
            "the weights must be a state_dict of the module `netc build --target torch` "
            "generates from this spec",
        )
    ]
