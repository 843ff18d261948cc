"""What both backends keep of a network at inference: its outputs, and the error when none is left.

(Caffe's rule, which the torch module and the ONNX model follow alike: a top nothing reads is
an output of the network; the training-only layers, losses and metrics, are left out.)
"""

from __future__ import annotations

from netc.diagnostics import Diagnostic, NetcError, Span
from netc.ir.graph import Graph, Node


def unread_tensors(nodes: list[Node]) -> list[str]:
    """The tensors `nodes` produce and none of them reads, in production order: the outputs
    of the network those nodes make (a Split's unread top is one too, even though a backend
    computes nothing for it)."""
    read = {t for node in nodes for t in node.inputs}
    return list(dict.fromkeys(t for node in nodes for t in node.outputs if t not in read))


def forward_inputs(graph: Graph) -> list[str]:
    """The inputs the deploy network reads, in the order of the file's inputs: the arguments of
    the torch module's forward and the ONNX model's inputs. A train_val file's label is not one
    when only losses and metrics read it."""
    read = {t for n in graph.nodes if not n.layer.training_only for t in n.inputs}
    return [t for t in graph.inputs if t in read]


def computes_nothing(graph: Graph, left_out: str) -> NetcError:
    """The network has no layer left at inference: the error points at its last layer (a
    loss, a metric) or, for a file without layers, at its first line."""
    where: Span | None = graph.nodes[-1].span if graph.nodes else None
    if where is None and graph.sources:
        where = Span(graph.sources[0], 1, 1, 1, 1)
    return NetcError.single(
        "the network computes nothing at inference",
        where,
        f"{left_out} leaves out training-only layers (losses, accuracy); "
        "give it a layer that computes an output",
    )


def refuse_undeclared(graph: Graph, target: str) -> None:
    """A backend cannot write what netc does not know: one error per layer of an unknown type
    (the network's other layers are fine; the user declares the type, or removes the layer)."""
    unknown = [n for n in graph.nodes if not n.layer.declared]
    if unknown:
        raise NetcError(
            [
                Diagnostic(
                    f'{target} cannot be built: layer "{n.name}" is of type "{n.type}", '
                    "which netc does not know",
                    n.span,
                    "netc knows the types `netc layers` lists; remove the layer, or use a file "
                    "without it",
                )
                for n in unknown
            ]
        )
