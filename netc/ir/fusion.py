"""Layers one module computes together (Caffe's BatchNorm followed in place by Scale is one
torch BatchNorm2d(affine=True)). The layer types decide (`torch_absorbs`); the code generator
fuses them, and the analyzer's memory model follows what the fused module keeps."""

from __future__ import annotations

from netc.ir.graph import Graph, Node
from netc.layers.base import LayerContext, Shape, TorchSite


def _site(graph: Graph, node: Node) -> TorchSite:
    shapes = (
        [graph.tensors[t].shape for t in node.inputs],
        [graph.tensors[t].shape for t in node.outputs],
    )
    inputs: tuple[Shape, ...] = tuple(s for s in shapes[0] if s is not None)
    outputs: tuple[Shape, ...] = tuple(s for s in shapes[1] if s is not None)
    return TorchSite(inputs, outputs)


def absorptions(graph: Graph, nodes: list[Node] | None = None) -> dict[str, Node]:
    """absorbed layer's name -> the layer whose module also computes it. A layer absorbs its
    output's only consumer when its type says it can (`LayerType.torch_absorbs`)."""
    compute = nodes if nodes is not None else [n for n in graph.nodes if n.layer.family != "input"]
    readers: dict[str, list[Node]] = {}
    for node in compute:
        for t in node.inputs:
            readers.setdefault(t, []).append(node)

    def context(node: Node) -> LayerContext:
        return LayerContext(node.name, node.params, node.layer_params, graph.phase)

    absorber: dict[str, Node] = {}
    for node in compute:
        if len(node.outputs) != 1 or node.name in absorber:
            continue
        consumers = readers.get(node.outputs[0], [])
        if len(consumers) != 1 or consumers[0].inputs[0] != node.outputs[0]:
            continue
        reader = consumers[0]
        if node.layer.torch_absorbs(
            context(node), _site(graph, node), reader.layer, context(reader), _site(graph, reader)
        ):
            absorber[reader.name] = node
    return absorber
