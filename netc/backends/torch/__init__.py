"""PyTorch backend: `generate` writes a readable module's source (no torch import);
`to_torch` executes that same source and returns the module."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from netc.backends.torch.codegen import MARKER, Generated, generate

if TYPE_CHECKING:
    from netc.ir.graph import Graph

__all__ = ["MARKER", "Generated", "generate", "to_torch"]


def to_torch(graph: Graph, source_name: str | None = None) -> Any:
    """The network as a torch.nn.Module, built by executing the generated source."""
    from netc.backends.torch.loader import instantiate

    module = instantiate(generate(graph, source_name))
    # what a harness feeds forward, in order (a plain attribute: TorchScript and pickle keep it)
    module.forward_inputs = tuple(graph.tensors[t].blob for t in graph.forward_inputs())
    return module
