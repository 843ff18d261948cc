"""The IR: one graph that every consumer reads (analysis, drawings, code generators)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from netc.diagnostics import Source, Span
from netc.lang.expand import Frame
from netc.layers.base import LayerType, Params, Shape


@dataclass
class Blob:
    """A parameter blob of a node: learnable weights/biases, or a buffer (running statistics)."""

    name: str
    shape: Shape
    kind: str = "param"  # "param" | "buffer"
    lr_mult: float = 1.0
    decay_mult: float = 1.0

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def trainable(self) -> bool:
        return self.kind == "param" and self.lr_mult != 0


@dataclass
class Tensor:
    """A value in the graph. In-place layers produce a new version of the same Caffe blob:
    `id` is unique (conv1, conv1#1, ...), `blob` is the name the spec uses."""

    id: str
    blob: str
    shape: Shape | None
    producer: str | None  # node name
    dtype: str = "float32"

    @property
    def size(self) -> int:
        return math.prod(self.shape) if self.shape is not None else 0


@dataclass
class Node:
    name: str  # scoped: layer3.1.conv2
    type: str  # canonical Caffe type name
    layer: LayerType = field(repr=False)
    params: Params = field(repr=False)  # the type's parameter message (+ netc extensions)
    layer_params: Params = field(repr=False)  # LayerParameter-level fields
    inputs: list[str]
    outputs: list[str]
    blobs: list[Blob]
    span: Span = field(repr=False)
    frames: tuple[Frame, ...] = ()
    frozen: bool = False

    @property
    def scope(self) -> str:
        """The instance path this node belongs to ("" at the top level)."""
        return self.frames[-1].path if self.frames else ""

    @property
    def in_place(self) -> bool:
        return any(o.split("#")[0] == i.split("#")[0] for o in self.outputs for i in self.inputs)

    @property
    def family(self) -> str:
        return self.layer.family

    def params_count(self, kind: str = "param") -> int:
        return sum(b.size for b in self.blobs if b.kind == kind)


@dataclass
class Graph:
    name: str
    nodes: list[Node]
    tensors: dict[str, Tensor]
    inputs: list[str]  # tensor ids fed from outside
    outputs: list[str]  # tensor ids nothing consumes
    sources: list[Source] = field(default_factory=list)
    phase: str = "TEST"

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def tensor(self, ref: str) -> Tensor:
        """A tensor by id, or the latest version of a blob name."""
        if ref in self.tensors:
            latest = ref
            for t in self.tensors.values():
                if t.blob == ref:
                    latest = t.id
            return self.tensors[latest]
        raise KeyError(ref)

    def shape(self, ref: str) -> Shape | None:
        return self.tensor(ref).shape

    def params_count(self, kind: str = "param") -> int:
        return sum(n.params_count(kind) for n in self.nodes)

    def trainable_count(self) -> int:
        return sum(b.size for n in self.nodes for b in n.blobs if b.trainable)

    def consumers(self, tensor_id: str) -> list[Node]:
        return [n for n in self.nodes if tensor_id in n.inputs]

    def to_torch(self) -> Any:
        """The network as a torch.nn.Module, built from the source `netc build --target torch`
        writes (imports torch)."""
        from netc.backends.torch import to_torch

        return to_torch(self)

    def _repr_svg_(self) -> str | None:
        """Jupyter: the network drawn as SVG, or None without Graphviz (netc.render)."""
        from netc.render import repr_svg

        return repr_svg(self)
