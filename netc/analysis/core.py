"""Static analysis of a Graph: parameters, MACs and FLOPs, activation and training memory,
receptive fields — per layer and in total. Pure Python over the IR; imports no torch.

The rules live with each layer type (`netc/layers`): `cost`/`cost_as` for arithmetic, `saved`
for what backward keeps, `windows` for receptive fields. This module only drives them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from netc.ir.fusion import absorptions
from netc.ir.graph import Graph, Node
from netc.layers.base import COUNTING, LayerContext, Shape, Window
from netc.util.collector import collector_paused

DTYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}
OPTIMIZER_STATE = {
    "sgd": 0,
    "sgd-momentum": 1,
    "adam": 2,
    "adamw": 2,
}  # copies of the trainable params


@dataclass(frozen=True)
class AxisField:
    """Receptive field along one input axis: size (pixels), jump (stride in input pixels between
    neighbouring outputs) and start (centre of the first output's field; input pixel i is at i + 0.5)."""

    size: float
    jump: float
    start: float

    def through(self, window: Window) -> AxisField:
        extent = window.dilation * (window.kernel - 1) + 1
        return AxisField(
            self.size + (extent - 1) * self.jump,
            self.jump * window.stride,
            self.start + ((extent - 1) / 2 - window.pad) * self.jump,
        )


Field = tuple[AxisField, ...]


@dataclass
class Row:
    """One layer (or, collapsed, one template instance)."""

    name: str
    type: str
    output: Shape | None
    weights: int = 0
    biases: int = 0
    trainable: int = 0
    frozen: int = 0
    buffers: int = 0
    macs: int = 0
    flops: int = 0
    activation_bytes: int = 0
    field: Field | None = None
    layers: int = 1  # how many layers the row stands for
    scope: str = ""
    known: bool = True  # False: its shapes are unknown (an undeclared type, or after one)

    @property
    def params(self) -> int:
        return self.weights + self.biases


@dataclass
class TrainingMemory:
    """Bytes for one training step at the analysed batch size, by category."""

    parameters: int
    gradients: int
    optimizer: int
    activations: int  # saved for backward
    workspace: int  # the largest single output, live while it is produced and consumed

    @property
    def peak(self) -> int:
        return self.parameters + self.gradients + self.optimizer + self.activations + self.workspace


@dataclass
class Totals:
    params: int
    weights: int
    biases: int
    trainable: int
    frozen: int
    buffers: int
    macs: int
    flops: int
    forward_activation_bytes: int


@dataclass
class Analysis:
    name: str
    inputs: dict[str, Shape]
    outputs: dict[str, Shape]
    batch: int
    dtype: str
    counting: str
    optimizer: str
    rows: list[Row]
    totals: Totals
    training: TrainingMemory
    extra: dict[str, object] = field(default_factory=dict)
    # the same step with every parameter trainable, when some are frozen: what freezing saves
    unfrozen: TrainingMemory | None = None
    # layers of a type netc does not know, and every layer whose shapes are unknown because of
    # them: the totals leave these out (they are lower bounds), and say so
    undeclared: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)

    def _repr_html_(self) -> str:
        """Jupyter: the analysis as an HTML table (netc.render.html)."""
        from netc.render.html import analysis_html

        return analysis_html(self)


def _context(graph: Graph, node: Node, all_trainable: bool = False) -> LayerContext:
    trainable = tuple(b.trainable or (all_trainable and b.kind == "param") for b in node.blobs)
    return LayerContext(node.name, node.params, node.layer_params, graph.phase, trainable)


def _shapes(graph: Graph, ids: list[str]) -> list[Shape]:
    shapes = [graph.tensors[t].shape for t in ids]
    assert all(s is not None for s in shapes), "analysis needs a shape-checked graph"
    return [s for s in shapes if s is not None]


def _shaped(graph: Graph, node: Node) -> bool:
    """Whether every input and output shape of the layer is known (not after an undeclared
    layer type)."""
    return node.layer.declared and all(
        graph.tensors[t].shape is not None for t in (*node.inputs, *node.outputs)
    )


def storages(graph: Graph) -> dict[str, str]:
    """tensor id -> the tensor whose memory it lives in: layers that truly overwrite their input
    (torch's ReLU(inplace=True), Dropout(inplace=True)) share it; every other layer writes new
    memory. One pass in topological order, so a chain of in-place layers costs O(length)."""
    home: dict[str, str] = {}
    for tensor_id in graph.inputs:
        home[tensor_id] = tensor_id
    for node in graph.nodes:
        shares = node.in_place and node.layer.overwrites_input
        by_blob = {graph.tensors[i].blob: i for i in node.inputs} if shares else {}
        for out in node.outputs:
            source = by_blob.get(graph.tensors[out].blob)
            home[out] = home.get(source, source) if source is not None else out
    for tensor_id in graph.tensors:
        home.setdefault(tensor_id, tensor_id)
    return home


def receptive_fields(graph: Graph) -> dict[str, Field | None]:
    fields: dict[str, Field | None] = {}
    for tensor_id in graph.inputs:
        shape = graph.tensors[tensor_id].shape or ()
        spatial = len(shape) - 2 if len(shape) > 2 else 0
        fields[tensor_id] = tuple(AxisField(1, 1, 0.5) for _ in range(spatial)) if spatial else None
    for node in graph.nodes:
        if node.type in ("Input",) or node.family == "input":
            for out in node.outputs:
                fields.setdefault(out, fields.get(out))
            continue
        incoming = [fields.get(i) for i in node.inputs]
        known = [f for f in incoming if f is not None]
        result: Field | None = None
        if known and _shaped(graph, node):
            base = tuple(
                max((f[axis] for f in known), key=lambda a: a.size) for axis in range(len(known[0]))
            )
            windows = node.layer.windows(_context(graph, node), _shapes(graph, node.inputs))
            if windows and len(windows) == len(base):
                result = tuple(a.through(w) for a, w in zip(base, windows, strict=True))
            else:
                result = base
        for out in node.outputs:
            fields[out] = result
    return fields


def analyze(
    graph: Graph,
    *,
    dtype: str = "fp32",
    counting: str = "netc",
    optimizer: str = "sgd-momentum",
) -> Analysis:
    """Every layer's and the whole network's shapes, parameters, costs, memory and receptive
    fields, by the conventions of docs/conventions.md."""
    with collector_paused():
        return _analyze(graph, dtype=dtype, counting=counting, optimizer=optimizer)


def _analyze(graph: Graph, *, dtype: str, counting: str, optimizer: str) -> Analysis:
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"dtype {dtype!r}: expected one of {', '.join(DTYPE_BYTES)}")
    if counting not in COUNTING:
        raise ValueError(f"counting {counting!r}: expected one of {', '.join(COUNTING)}")
    if optimizer not in OPTIMIZER_STATE:
        raise ValueError(f"optimizer {optimizer!r}: expected one of {', '.join(OPTIMIZER_STATE)}")
    size = DTYPE_BYTES[dtype]
    fields = receptive_fields(graph)
    rows: list[Row] = []
    incomplete: list[str] = []
    for node in graph.nodes:
        if not _shaped(graph, node):
            incomplete.append(node.name)
            rows.append(
                Row(name=node.name, type=node.type, output=None, scope=node.scope, known=False)
            )
            continue
        ctx = _context(graph, node)
        inputs, outputs = _shapes(graph, node.inputs), _shapes(graph, node.outputs)
        cost = node.layer.cost_as(counting, ctx, inputs, outputs)
        params = [b for b in node.blobs if b.kind == "param"]
        row = Row(
            name=node.name,
            type=node.type,
            output=outputs[0] if outputs else None,
            weights=sum(b.count for b in params if b.name != "bias")
            + node.layer.extra_params_as(counting, ctx),
            biases=sum(b.count for b in params if b.name == "bias"),
            trainable=sum(b.count for b in params if b.trainable),
            frozen=sum(b.count for b in params if not b.trainable),
            buffers=sum(b.count for b in node.blobs if b.kind == "buffer"),
            macs=cost.macs,
            flops=cost.flops,
            activation_bytes=sum(math.prod(o) for o in outputs) * size,
            field=fields.get(node.outputs[0]) if node.outputs else None,
            scope=node.scope,
        )
        rows.append(row)
    fused = {n.outputs[0] for n in absorptions(graph).values()}  # never materialised on its own
    home = storages(graph)
    distinct = {home[t] for t in graph.tensors if t not in fused}
    totals = Totals(
        params=sum(r.params for r in rows),
        weights=sum(r.weights for r in rows),
        biases=sum(r.biases for r in rows),
        trainable=sum(r.trainable for r in rows),
        frozen=sum(r.frozen for r in rows),
        buffers=sum(r.buffers for r in rows),
        macs=sum(r.macs for r in rows),
        flops=sum(r.flops for r in rows),
        forward_activation_bytes=sum(graph.tensors[s].size for s in distinct) * size,
    )
    return Analysis(
        name=graph.name,
        inputs={graph.tensors[t].blob: graph.tensors[t].shape or () for t in graph.inputs},
        outputs={graph.tensors[t].blob: graph.tensors[t].shape or () for t in graph.outputs},
        batch=_batch(graph),
        dtype=dtype,
        counting=counting,
        optimizer=optimizer,
        rows=rows,
        totals=totals,
        training=training_memory(graph, dtype=dtype, optimizer=optimizer),
        unfrozen=training_memory(graph, dtype=dtype, optimizer=optimizer, all_trainable=True)
        if totals.frozen
        else None,
        undeclared=[n.name for n in graph.nodes if not n.layer.declared],
        incomplete=incomplete,
    )


def _batch(graph: Graph) -> int:
    shapes = [graph.tensors[t].shape for t in graph.inputs]
    return next((s[0] for s in shapes if s), 1)


def saved_storages(
    graph: Graph, dtype: str = "fp32", all_trainable: bool = False
) -> tuple[dict[str, int], int]:
    """What backward keeps: {storage tensor id: bytes} and the bytes of extras (indices, masks,
    statistics). A layer keeps nothing when its output needs no gradient, i.e. when neither
    it nor anything upstream has a trainable parameter (`all_trainable`: as if none were
    frozen)."""
    size = DTYPE_BYTES[dtype]
    needs_grad: dict[str, bool] = {}
    kept: dict[str, int] = {}
    extras = 0
    fused = absorptions(graph)  # e.g. a Caffe Scale inside its BatchNorm's module: keeps nothing
    home = storages(graph)
    for node in graph.nodes:
        trainable = any(b.trainable or (all_trainable and b.kind == "param") for b in node.blobs)
        grad = trainable or any(needs_grad.get(i, False) for i in node.inputs)
        for out in node.outputs:
            needs_grad[out] = grad
        if not grad or node.name in fused or not _shaped(graph, node):
            continue  # (what an undeclared layer keeps is unknown: the total is a lower bound)
        ctx = _context(graph, node, all_trainable)
        for item in node.layer.saved(
            ctx, _shapes(graph, node.inputs), _shapes(graph, node.outputs)
        ):
            if item.what == "extra":
                extras += item.elements * (item.bytes_per_element or size)
                continue
            ids = node.inputs if item.what == "input" else node.outputs
            if item.index < len(ids):
                tensor = home[ids[item.index]]
                kept[tensor] = graph.tensors[tensor].size * size
    return kept, extras


def training_memory(
    graph: Graph,
    *,
    dtype: str = "fp32",
    optimizer: str = "sgd-momentum",
    all_trainable: bool = False,
) -> TrainingMemory:
    size = DTYPE_BYTES[dtype]
    blobs = [b for n in graph.nodes for b in n.blobs]
    trainable = sum(b.count for b in blobs if b.trainable or (all_trainable and b.kind == "param"))
    kept, extras = saved_storages(graph, dtype, all_trainable)
    largest = max((t.size for t in graph.tensors.values()), default=0)
    return TrainingMemory(
        parameters=sum(b.count for b in blobs) * size,
        gradients=trainable * size,
        optimizer=OPTIMIZER_STATE[optimizer] * trainable * size,
        activations=sum(kept.values()) + extras,
        workspace=largest * size,
    )


def collapse(rows: list[Row], frames_of: dict[str, tuple[str, ...]], depth: int) -> list[Row]:
    """Rows of the scopes at `depth` folded into one row each (`layer3`, or `layer3.1` one
    level down); `frames_of` comes from `frames_index`."""
    out: list[Row] = []
    groups: dict[str, Row] = {}
    for row in rows:
        paths = frames_of.get(row.name, ())
        key = paths[depth - 1] if len(paths) >= depth else None
        if key is None:
            out.append(row)
            continue
        group = groups.get(key)
        if group is None:
            group = Row(key, "instance", row.output, layers=0, scope=key)
            groups[key] = group
            out.append(group)
        group.type = frames_of.get(f"{key}#template", (group.type,))[0]
        group.output = row.output
        group.field = row.field
        for attr in (
            "weights",
            "biases",
            "trainable",
            "frozen",
            "buffers",
            "macs",
            "flops",
            "activation_bytes",
        ):
            setattr(group, attr, getattr(group, attr) + getattr(row, attr))
        group.layers += 1
    return out


def frames_index(graph: Graph) -> dict[str, tuple[str, ...]]:
    """node name -> scope paths from the outermost (netc.ir.scopes: instances and name groups,
    as drawings nest them); `path#template` -> (template name, or "N × template",)."""
    from netc.ir.scopes import scopes

    index: dict[str, tuple[str, ...]] = {}
    for name, chain in scopes(graph).items():
        index[name] = tuple(s.path for s in chain)
        for scope in chain:
            index[f"{scope.path}#template"] = (scope.template or scope.title,)
    return index
