"""What a network's generated torch module holds: every state_dict key, with its IR blob.

Keys follow the torch backend (`netc/backends/torch`): a layer's module is reached by its
scoped name, so a blob's key is `<layer name>.<blob name>` (`layer1.0.conv1.weight`,
`conv1/7x7_s2.bias`), with two exceptions the backend makes: a layer absorbed into another's
module (Caffe's Scale after BatchNorm) keeps its blobs under the absorbing layer's name, and a
layer type may rename a blob for torch (`LayerType.torch_state_names`: BatchNorm's third blob
is torch's `num_batches_tracked`). Training-only layers have no module.
"""

from __future__ import annotations

from dataclasses import dataclass

from netc.diagnostics import NetcError, Span
from netc.ir.graph import Graph
from netc.layers.base import Shape


@dataclass(frozen=True)
class Target:
    """One state_dict entry of the generated module."""

    key: str
    node: str  # the IR layer that owns the blob (a Scale absorbed into a BatchNorm is its own)
    type: str  # that layer's Caffe type
    blob: str  # the blob's IR name
    shape: Shape  # the IR's shape (torch may add or drop leading 1s: PReLU, num_batches_tracked)
    kind: str  # "param" | "buffer"
    derived: bool  # the layer is new, or replaced, in a derived spec (`extends`)
    shares: tuple[str, str] | None = None  # (owner node, owner blob): Caffe's param { name: }


@dataclass
class Targets:
    by_key: dict[str, Target]
    by_node: dict[str, list[Target | None]]  # IR blob order; None: no torch state_dict entry
    graph: Graph

    def node_type(self, name: str) -> str:
        return self.graph.node(name).type


def targets(graph: Graph) -> Targets:
    """The state_dict keys of `graph.to_torch()`, computed without torch."""
    from netc.backends.torch.lower import lower

    lowered = lower(graph)
    derived = derived_layers(graph)
    by_key: dict[str, Target] = {}
    by_node: dict[str, list[Target | None]] = {}
    for layer in lowered.layers:
        renames = layer.node.layer.torch_state_names(layer.ctx, layer.site)
        for node in (layer.node, layer.absorbed):
            if node is None:
                continue
            entries: list[Target | None] = []
            for blob in node.blobs:
                name = renames.get(blob.name, blob.name) if node is layer.node else blob.name
                if name is None:
                    entries.append(None)
                    continue
                target = Target(
                    f"{layer.name}.{name}",
                    node.name,
                    node.type,
                    blob.name,
                    blob.shape,
                    blob.kind,
                    node.name in derived,
                    blob.shared_from,
                )
                by_key[target.key] = target
                entries.append(target)
            by_node[node.name] = entries
    return Targets(by_key, by_node, graph)


def derived_layers(graph: Graph) -> set[str]:
    """Layers a derived spec (`extends "base.net"` as its first statement) adds or replaces:
    those whose name the root base lacks or whose declaration is not the root base's. The root
    base is the end of the `extends` chain (A extends B extends C: C), so a head that B adds
    counts as derived in A too. Empty for a spec that extends nothing, so there every layer's
    weights are required and shape-checked."""
    from netc.lang import ast
    from netc.lang.evaluate import Scope, evaluate
    from netc.lang.expand import Expander, confined_loader
    from netc.lang.parser import parse

    if not graph.sources:
        return set()
    loader = confined_loader()
    source = graph.sources[0]
    chain = 0
    try:
        while True:
            items = parse(source).items
            if not items or not isinstance(items[0], ast.Extends):
                break
            path = evaluate(items[0].path, Scope())
            if not isinstance(path, str):
                return set()
            source = loader(path, items[0].path.span, source)
            chain += 1
            if chain > 64:  # the expander bounds the chain; this guards the loop alone
                return set()
        if chain == 0:
            return set()
        base = Expander(loader).run(parse(source))
    except NetcError:  # the graph compiled, so its bases do too; be safe all the same
        return set()
    spans: dict[str, Span] = {decl.name: decl.span for decl in base.layers}
    return {n.name for n in graph.nodes if n.name not in spans or spans[n.name] != n.span}
