"""The network `netc train` fine-tunes: the classifier view of a spec.

A Caffe training spec says what to optimise with a SoftmaxWithLoss layer; its first bottom is
the logits. A deploy spec ends in the class scores (often through a Softmax, as Caffe's
deploy files do). Either way the module `netc train` builds returns the *logits*: the graph is
trimmed to the layers the logits depend on, so a final Softmax, the loss and any Accuracy
layers are left out and `torch.nn.functional.cross_entropy` (Caffe's SoftmaxWithLoss, exactly)
runs on the module's output. The spec's TRAIN phase is used, as Caffe's solver trains its
TRAIN net (Dropout and BatchNorm follow `module.train()`/`.eval()` as usual).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netc.diagnostics import NetcError

if TYPE_CHECKING:
    from netc.ir.graph import Graph, Node

# Caffe's SoftmaxWithLoss is cross-entropy on logits; other losses are not classification.
CLASSIFICATION_LOSS = "SoftmaxWithLoss"


@dataclass(frozen=True)
class ClassifierView:
    """The trimmed graph whose module returns logits, and what it takes."""

    graph: Graph
    input: str  # the tensor id of the image input
    logits: str  # the tensor id the module returns
    input_shape: tuple[int, int, int]  # C, H, W
    num_outputs: int  # logits channels
    how: str  # one line: where the logits came from (printed by `netc train`)


def load_graph(spec: str | os.PathLike[str]) -> Graph:
    """The spec's TRAIN phase (as Caffe's solver trains it)."""
    from netc.api import load

    return load(spec, phase="TRAIN")


def classifier_view(graph: Graph) -> ClassifierView:
    """Find the logits and cut the graph down to what computes them (NetcError if it is not a
    single-input classifier)."""
    losses = [n for n in graph.nodes if n.type == CLASSIFICATION_LOSS]
    others = [n for n in graph.nodes if n.family == "loss" and n.type not in ("Accuracy",)]
    if losses:
        # several SoftmaxWithLoss layers (GoogLeNet's auxiliary heads): the last is the main one
        loss = losses[-1]
        logits = loss.inputs[0]
        how = f"logits {graph.tensors[logits].blob!r}, the input of {loss.name} ({loss.type})"
    elif others:
        node = others[0]
        raise NetcError.single(
            f"{node.name} ({node.type}): netc train fine-tunes classifiers",
            node.span,
            f"use {CLASSIFICATION_LOSS}, or a deploy spec whose output is the class scores",
        )
    else:
        outputs = list(graph.outputs)
        if len(outputs) != 1:
            names = ", ".join(graph.tensors[t].blob for t in outputs) or "none"
            raise NetcError.single(
                f"{graph.name}: netc train needs one output (the class scores); this network has {names}",
                None,
                f"add a {CLASSIFICATION_LOSS} layer on the logits, or `remove` the extra outputs",
            )
        logits = outputs[0]
        producer = _producer(graph, logits)
        if (
            producer is not None
            and producer.type == "Softmax"
            and _softmax_on_channels(graph, producer)
        ):
            # a deploy net's probabilities: train on the Softmax's input (cross-entropy is
            # log-softmax + NLL, stable where log(prob) is not)
            logits = producer.inputs[0]
            how = f"logits {graph.tensors[logits].blob!r}, the input of the final Softmax {producer.name}"
        else:
            how = f"logits {graph.tensors[logits].blob!r}, the network's output"
    trimmed = _trim(graph, logits)
    image_inputs = [
        t
        for t in trimmed.inputs
        if any(t in n.inputs for n in trimmed.nodes if n.family != "input")
    ]
    if len(image_inputs) != 1:
        names = ", ".join(graph.tensors[t].blob for t in image_inputs) or "none"
        raise NetcError.single(
            f"{graph.name}: netc train needs a network with one input (the images); the logits read {names}"
        )
    in_shape = graph.tensors[image_inputs[0]].shape
    out_shape = graph.tensors[logits].shape
    if in_shape is None or len(in_shape) != 4:
        raise NetcError.single(
            f"{graph.name}: the input {graph.tensors[image_inputs[0]].blob!r} has shape "
            f"{in_shape}; netc train needs N×C×H×W images"
        )
    if out_shape is None or len(out_shape) != 2:
        raise NetcError.single(
            f"{graph.name}: the logits {graph.tensors[logits].blob!r} have shape {out_shape}; "
            "netc train needs N×classes",
            None,
            "end the classifier with an InnerProduct layer",
        )
    return ClassifierView(
        graph=trimmed,
        input=image_inputs[0],
        logits=logits,
        input_shape=(in_shape[1], in_shape[2], in_shape[3]),
        num_outputs=out_shape[1],
        how=how,
    )


def _producer(graph: Graph, tensor_id: str) -> Node | None:
    name = graph.tensors[tensor_id].producer
    return graph.node(name) if name is not None else None


def _softmax_on_channels(graph: Graph, node: Node) -> bool:
    axis = node.params.get("axis", 1)
    shape = graph.tensors[node.outputs[0]].shape
    return axis == 1 or (axis == -1 and shape is not None and len(shape) == 2)


def _trim(graph: Graph, logits: str) -> Graph:
    """The graph down to the ancestors of `logits`, with `logits` its only output."""
    needed: set[str] = set()
    pending = [logits]
    seen: set[str] = set()
    while pending:
        tensor = pending.pop()
        if tensor in seen:
            continue
        seen.add(tensor)
        name = graph.tensors[tensor].producer
        if name is None or name in needed:
            continue
        needed.add(name)
        pending.extend(graph.node(name).inputs)
    nodes = [n for n in graph.nodes if n.name in needed]
    produced = {t for n in nodes for t in n.outputs}
    inputs = [t for t in graph.inputs if t in produced or t in seen]
    return dataclasses.replace(graph, nodes=nodes, inputs=inputs, outputs=[logits])
