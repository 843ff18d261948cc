"""A comparable summary of a graph: what "the same IR" means in round-trip tests."""

from __future__ import annotations

from netc.ir.graph import Graph

Signature = list[tuple[object, ...]]


def ir_signature(graph: Graph) -> Signature:
    """Layers in order with type, input/output blobs and shapes, and every blob's shape and multipliers."""
    return [
        (
            node.name,
            node.type,
            tuple(graph.tensors[t].blob for t in node.inputs),
            tuple((graph.tensors[t].blob, graph.tensors[t].shape) for t in node.outputs),
            tuple((b.name, b.shape, b.kind, b.lr_mult, b.decay_mult) for b in node.blobs),
        )
        for node in graph.nodes
    ]
