"""Activations of a named layer (or blob) of a generated torch module, for off-the-shelf use.

`--layer NAME` names a layer: its output as the layer computes it (before any in-place layer
after it, such as a ReLU on Caffe's `ip1`). A name that is no layer but a blob (a Caffe `top`)
means that blob's final value (after in-place layers: `ip1` written by `relu1`). The value is
read by a forward hook on the module that computes it; a layer without a module of its own
(Flatten, Eltwise, Concat are expressions in `forward`) is read at the input of the module
that consumes it, or from the forward's result. A Caffe BatchNorm fused with its Scale (one
torch BatchNorm2d) gives the Scale's output under either name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from netc.diagnostics import NetcError, did_you_mean
from netc.ir.graph import Graph

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Probe:
    """Where to read a value: a module's output, a module's single input, or a forward result."""

    what: str  # "output" | "input" | "result"
    module: str  # module path (state_dict prefix); "" for a result
    index: int  # result index
    description: str


def probe(graph: Graph, name: str) -> Probe:
    """Where the value that `name` (a layer or blob) denotes can be read."""
    from netc.backends.torch.lower import lower

    lowered = lower(graph)
    by_name = {layer.name: layer for layer in lowered.layers}
    absorbed = {layer.absorbed.name: layer for layer in lowered.layers if layer.absorbed}
    node_names = {n.name for n in graph.nodes}
    if name in node_names:
        node = graph.node(name)
        if node.layer.training_only:
            raise NetcError.single(
                f'layer "{name}" ({node.type}) is training-only and has no output at inference',
                node.span,
            )
        if node.layer.family == "input":
            raise NetcError.single(f'"{name}" is the input layer; its output is the data itself')
        layer = absorbed.get(name) or by_name.get(name)
        if layer is None:
            raise NetcError.single(f'layer "{name}" has no torch form', node.span)
        value = layer.outputs[0]
    else:
        blobs = {t.blob for t in graph.tensors.values()}
        if name not in blobs:
            raise NetcError.single(
                f'no layer or blob named "{name}"',
                None,
                did_you_mean(name, sorted(node_names | blobs)) or "netc check lists the layers",
            )
        tensor = graph.tensor(name)
        value = lowered.canon.get(tensor.id, tensor.id)
    producer = next((lay for lay in lowered.layers if value in lay.outputs and not lay.alias), None)
    if producer is not None and producer.module is not None:
        return Probe(
            "output", producer.name, producer.outputs.index(value), f"{producer.name} output"
        )
    for layer in lowered.layers:
        if layer.module is not None and layer.inputs == [value]:
            return Probe("input", layer.name, 0, f"{layer.name} input")
    if value in lowered.results:
        return Probe("result", "", lowered.results.index(value), "network output")
    raise NetcError.single(
        f'"{name}" is computed inline in forward and read by no single-input module',
        None,
        "name the layer after it, or one before it",
    )


def extract(
    model: torch.nn.Module,
    graph: Graph,
    name: str,
    batches: Any,
    device: torch.device | str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Run `model` (eval mode, no gradients) over `batches` of (images, labels) and return the
    value `name` denotes, N×..., with the labels."""
    import torch

    where = probe(graph, name)
    modules = dict(model.named_modules())
    captured: list[torch.Tensor] = []

    def keep(value: Any) -> None:
        if isinstance(value, tuple | list):
            value = value[where.index]
        captured.append(value.detach().to("cpu", torch.float32).clone())

    handle = None
    if where.what != "result":
        module = modules.get(where.module)
        if module is None:
            raise NetcError.single(
                f"the module has no submodule {where.module!r}",
                None,
                "use the module built by this network's to_torch()",
            )
        if where.what == "output":
            handle = module.register_forward_hook(lambda _m, _a, out: keep(out))
        else:
            handle = module.register_forward_pre_hook(lambda _m, args: keep(args[0]))
    features: list[NDArray[np.float32]] = []
    labels: list[NDArray[np.int64]] = []
    model.eval()
    try:
        with torch.no_grad():
            for images, targets in batches:
                captured.clear()
                out = model(images.to(device))
                if where.what == "result":
                    keep(out)
                if len(captured) != 1:
                    raise NetcError.single(
                        f'"{name}" was computed {len(captured)} times in one forward pass',
                        None,
                        "a module reused in the network; name a layer that runs once",
                    )
                features.append(captured[0].numpy())
                labels.append(np.asarray(targets, dtype=np.int64).reshape(-1))
                if progress is not None:
                    progress(len(images))
    finally:
        if handle is not None:
            handle.remove()
    if not features:
        raise NetcError.single("the dataset is empty")
    return np.concatenate(features), np.concatenate(labels)
