"""The IR as torch sees it: the deploy layers, fusions, memory decisions and template instances.

Steps, each a thin driver over the layer registry (`netc/layers`, the `torch_*` rules):
1. Deploy view: training-only layers (losses, metrics) are left out; input layers become the
   forward's arguments.
2. Fusion: a layer's module may absorb its output's only consumer (`torch_absorbs`: Caffe's
   BatchNorm + Scale is one BatchNorm2d(affine=True)).
3. Values: every tensor maps to the value that holds it in torch (`canon`): an absorbed
   layer's input, and Split's tops, are the same value as what produced them.
4. Memory: a layer may overwrite its first input (Caffe's in-place ReLU/Dropout, a sum into
   its first term) only when no other reader of that memory comes later and no layer keeps it
   for backward (the `saved` rules): torch's autograd would refuse it otherwise.
5. Instances: the template instances (`Node.frames`) nest into a tree of scopes; one that is
   interleaved with other layers, or whose name hosts layers from outside, is dissolved into
   its parent (its modules stay under its name, in a plain container).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from netc.diagnostics import NetcError, Span
from netc.ir.deploy import computes_nothing, refuse_undeclared, unread_tensors
from netc.ir.fusion import absorptions
from netc.ir.graph import Graph, Node
from netc.layers.base import BackendError, LayerContext, Shape, TorchModule, TorchSite


@dataclass(eq=False)
class Layer:
    """One deploy layer: its node, its torch site and module, and the values it reads/writes."""

    node: Node
    index: int  # execution order
    ctx: LayerContext
    site: TorchSite
    module: TorchModule | None
    inputs: list[str]  # canonical values
    outputs: list[str]  # canonical values
    absorbed: Node | None = None
    update: bool = False  # computes into its first input (`torch_update`)
    alias: bool = False  # its tops are its bottom (Split): no code
    frames: tuple[str, ...] = ()  # instance paths, outermost first (after dissolving)

    @property
    def name(self) -> str:
        return self.node.name

    def saved_values(self) -> tuple[set[str], set[str]]:
        """(inputs, outputs) it keeps for backward, by torch's rules (`LayerType.saved`)."""
        node = self.node
        kept_in: set[str] = set()
        kept_out: set[str] = set()
        for item in node.layer.saved(self.ctx, self.site.inputs, self.site.outputs):
            if item.what == "input" and item.index < len(self.inputs):
                kept_in.add(self.inputs[item.index])
            elif item.what == "output" and item.index < len(self.outputs):
                kept_out.add(self.outputs[item.index])
        return kept_in, kept_out


@dataclass(eq=False)
class Instance:
    """A template instance (or the network itself, path ""): its direct items in order."""

    path: str
    template: str | None
    span: Span | None
    parent: Instance | None
    items: list[Layer | Instance] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)  # values read from outside, by first use
    outputs: list[str] = field(default_factory=list)  # values used outside, by production
    depth: int = 0

    def layers(self) -> list[Layer]:
        out: list[Layer] = []
        for item in self.items:
            out.extend([item] if isinstance(item, Layer) else item.layers())
        return out

    def key(self, item: Layer | Instance) -> str:
        """An item's name relative to this scope (`conv1`, `downsample.0`, `layer1.0`)."""
        name = item.name if isinstance(item, Layer) else item.path
        return name[len(self.path) + 1 :] if self.path else name

    @property
    def name(self) -> str:
        return self.path


@dataclass
class Lowered:
    graph: Graph
    layers: list[Layer]
    args: list[str]  # forward arguments (values)
    results: list[str]  # forward results (values)
    canon: dict[str, str]  # tensor id -> value
    root: Instance
    shapes: dict[str, Shape]  # value -> shape


def backend_error(node: Node, exc: BackendError) -> NetcError:
    span = (node.params.span(exc.field) or node.layer_params.span(exc.field)) if exc.field else None
    return NetcError.single(
        f"{node.name} ({node.type}): {exc.message}",
        span or node.span,
        exc.hint or "netc build --target torch supports the layers listed in docs/torch.md",
    )


def _shapes(graph: Graph, ids: list[str]) -> tuple[Shape, ...]:
    shapes = [graph.tensors[t].shape for t in ids]
    if any(s is None for s in shapes):
        raise NetcError.single("the torch backend needs a shape-checked network")
    return tuple(s for s in shapes if s is not None)


def lower(graph: Graph) -> Lowered:
    refuse_undeclared(graph, "the torch module")
    deploy = [n for n in graph.nodes if not n.layer.training_only]
    sources = [n for n in deploy if n.layer.family == "input"]
    compute = [n for n in deploy if n.layer.family != "input"]

    def context(node: Node) -> LayerContext:
        return LayerContext(node.name, node.params, node.layer_params, graph.phase)

    def site(node: Node, **extra: object) -> TorchSite:
        return TorchSite(_shapes(graph, node.inputs), _shapes(graph, node.outputs), **extra)  # type: ignore[arg-type]

    # 2. fusion
    absorber = absorptions(
        graph, compute
    )  # absorbed node name -> the node whose module computes it
    by_name = {n.name: n for n in compute}
    absorbs = {node.name: by_name[name] for name, node in absorber.items()}

    # 3. values
    canon: dict[str, str] = {}

    def value(t: str) -> str:
        return canon.get(t, t)

    layers: list[Layer] = []
    for node in compute:
        if node.name in absorber:
            continue
        ctx = context(node)
        other = absorbs.get(node.name)
        node_site = site(node, absorbed=context(other) if other else None)
        if other is not None:
            canon[node.outputs[0]] = value(other.outputs[0])
            canon[other.outputs[0]] = value(other.outputs[0])
        try:
            alias = node.layer.torch_alias(ctx)
            module = None if alias else node.layer.torch_module(ctx, node_site)
        except BackendError as exc:
            raise backend_error(node, exc) from None
        inputs = [value(t) for t in node.inputs]
        if alias:
            for t in node.outputs:
                canon[t] = inputs[0]
        outputs = [value(t) for t in (other.outputs if other else node.outputs)]
        layers.append(
            Layer(node, len(layers), ctx, node_site, module, inputs, outputs, other, alias=alias)
        )

    consumed = {v for layer in layers for v in layer.inputs}
    args: list[str] = []
    for node in sources:
        for t in node.outputs:
            if value(t) in consumed and value(t) not in args:
                args.append(value(t))
    produced = {v for layer in layers if not layer.alias for v in layer.outputs}
    missing = sorted(consumed - produced - set(args))
    if missing:
        raise NetcError.single(f"the torch backend found no producer for {missing[0]!r}")
    results = list(dict.fromkeys(value(t) for t in unread_tensors(compute)))
    if not results:
        raise computes_nothing(graph, "the torch module")
    shapes: dict[str, Shape] = {}
    for tensor in graph.tensors.values():
        if tensor.shape is not None:
            shapes.setdefault(value(tensor.id), tensor.shape)

    _decide_memory(layers, args, results)
    root = _instances(graph, layers, args, results)
    return Lowered(graph, layers, args, results, canon, root, shapes)


# ---- 4. memory ----------------------------------------------------------------------------


@dataclass
class _Memory:
    """One piece of memory and the values living in it (a tensor, its in-place updates and its
    views): who reads it last, who keeps it for backward, whether it must survive the forward."""

    last_read: int = -1
    keepers: set[int] = field(default_factory=set)  # ids of layers keeping it for backward
    pinned: bool = False


def _decide_memory(layers: list[Layer], args: list[str], results: list[str]) -> None:
    """Which layers write into their first input, and the module flags that follow. A network
    result is read after every layer: memory it shares (a view of it, or itself) is never
    overwritten."""
    readers: dict[str, list[Layer]] = {}
    producer: dict[str, Layer] = {}
    kept = {id(layer): layer.saved_values() for layer in layers}
    for layer in layers:
        for v in layer.inputs:
            readers.setdefault(v, []).append(layer)
        for v in layer.outputs:
            producer.setdefault(v, layer)
    root: dict[str, str] = {v: v for v in args}  # value -> the value whose memory it is in
    memory: dict[str, _Memory] = {}  # root value -> what is known of that memory
    external = set(args)
    final = set(results)

    def add(r: str, v: str) -> None:
        """Value `v` lives in the memory of `r`: fold its readers and pins in (O(readers))."""
        mem = memory.setdefault(r, _Memory())
        for reader in readers.get(v, ()):
            mem.last_read = max(mem.last_read, reader.index)
            if v in kept[id(reader)][0]:
                mem.keepers.add(id(reader))
        made = producer.get(v)
        if v in final or (made is not None and v in kept[id(made)][1]):
            mem.pinned = True  # returned by forward, or kept for backward by its producer

    for v in args:
        add(v, v)

    def safe(layer: Layer) -> bool:
        target = root.get(layer.inputs[0], layer.inputs[0])
        if target in external:
            return False
        if target not in memory:
            add(target, target)
        mem = memory[target]
        return (
            not mem.pinned
            and mem.last_read <= layer.index  # no later reader would see overwritten data
            and not mem.keepers - {id(layer)}  # nobody keeps it for backward
        )

    for layer in layers:
        node = layer.node
        wants_inplace = node.in_place and node.layer.overwrites_input and len(layer.inputs) == 1
        probe = [f"a{i}" for i in range(len(layer.inputs))]
        wants_update = (
            not layer.alias
            and layer.module is None
            and len(layer.outputs) == 1
            and node.layer.torch_update(layer.ctx, layer.site, probe) is not None
        )
        shares = False
        if (wants_inplace or wants_update) and safe(layer):
            if wants_inplace:
                layer.site = TorchSite(
                    layer.site.inputs, layer.site.outputs, True, layer.site.absorbed
                )
                try:
                    layer.module = node.layer.torch_module(layer.ctx, layer.site)
                except BackendError as exc:
                    raise backend_error(node, exc) from None
            else:
                layer.update = True
            shares = True
        view = layer.alias or shares or node.layer.torch_view(layer.ctx)
        for v in layer.outputs:
            if v in root:
                continue
            r = root.get(layer.inputs[0], layer.inputs[0]) if view and layer.inputs else v
            root[v] = r
            if r != v and r not in memory:
                add(r, r)
            add(r, v)


# ---- 5. instances -----------------------------------------------------------------------


def _instances(graph: Graph, layers: list[Layer], args: list[str], results: list[str]) -> Instance:
    """The tree of template instances over the deploy layers (alias layers emit nothing)."""
    positions: dict[str, list[int]] = {}
    templates: dict[str, tuple[str, Span]] = {}
    parents: dict[str, str] = {}
    for layer in layers:
        outer = ""
        for frame in layer.node.frames:
            positions.setdefault(frame.path, []).append(layer.index)
            templates.setdefault(frame.path, (frame.template, frame.span))
            parents.setdefault(frame.path, outer)
            outer = frame.path
    dissolved: set[str] = set()
    for path, where in positions.items():
        if max(where) - min(where) + 1 != len(where):
            dissolved.add(path)  # interleaved with other layers
        if not path or any(not part for part in path.split(".")):
            dissolved.add(path)
    paths = set(positions)
    for layer in layers:
        own = {f.path for f in layer.node.frames}
        parts = layer.name.split(".")
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            if prefix in paths and prefix not in own:
                dissolved.add(prefix)  # the instance's name hosts a layer from outside it
        for f in layer.node.frames:
            if not layer.name.startswith(f.path + "."):
                dissolved.add(f.path)
    for path in positions:  # an instance nests in its parent's name
        parent = parents[path]
        if parent and not path.startswith(parent + "."):
            dissolved.add(path)

    root = Instance("", None, None, None)
    made: dict[str, Instance] = {"": root}
    for layer in layers:
        layer.frames = tuple(f.path for f in layer.node.frames if f.path not in dissolved)
        if layer.alias:
            continue
        scope = root
        for path in layer.frames:
            child = made.get(path)
            if child is None:
                template, span = templates[path]
                child = Instance(path, template, span, scope, depth=scope.depth + 1)
                made[path] = child
                scope.items.append(child)
            scope = child
        scope.items.append(layer)

    consumers: dict[str, list[Layer]] = {}
    for layer in layers:
        if layer.alias:
            continue  # its tops are its bottom: their readers are the value's readers
        for v in layer.inputs:
            consumers.setdefault(v, []).append(layer)
    final = set(results)

    def fill(instance: Instance) -> None:
        inside = instance.layers()
        members = {id(layer) for layer in inside}
        made_here = {v for layer in inside for v in layer.outputs}
        for layer in inside:
            for v in layer.inputs:
                if v not in made_here and v not in instance.inputs:
                    instance.inputs.append(v)
        for layer in inside:
            for v in layer.outputs:
                used_outside = any(id(c) not in members for c in consumers.get(v, []))
                if (used_outside or v in final) and v not in instance.outputs:
                    instance.outputs.append(v)
        for item in instance.items:
            if isinstance(item, Instance):
                fill(item)

    fill(root)
    # the network's own signature: forward's arguments in the order of its inputs (not of
    # first use), its results with an input returned as it is (through a Split) included
    root.inputs, root.outputs = list(args), list(results)
    return root


def channels(shape: Shape | None) -> int | None:
    """The channel count of a value (axis 1), for naming constructor parameters."""
    return shape[1] if shape is not None and len(shape) >= 2 else None


def numel(shape: Shape) -> int:
    return math.prod(shape)
