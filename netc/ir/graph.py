"""The IR: one graph that every consumer reads (analysis, drawings, code generators)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from netc.diagnostics import Diagnostic, Source, Span
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
    # Caffe's `param { name: "w" }`: the blob is the one of the layer that first named it
    # (owner node, owner blob); it holds no parameters of its own
    shared_from: tuple[str, str] | None = None

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def owned(self) -> bool:
        """Whether the blob is its own storage (not another layer's shared blob)."""
        return self.shared_from is None

    @property
    def count(self) -> int:
        """The parameters it adds to the network: its size, or 0 when it shares another's."""
        return self.size if self.shared_from is None else 0

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
        """Whether a top is a new version of a bottom (Caffe's bottom == top)."""
        blobs = {i.split("#", 1)[0] for i in self.inputs}
        return any(o.split("#", 1)[0] in blobs for o in self.outputs)

    @property
    def family(self) -> str:
        return self.layer.family

    def params_count(self, kind: str = "param") -> int:
        return sum(b.count for b in self.blobs if b.kind == kind)


@dataclass
class Graph:
    name: str
    nodes: list[Node]
    tensors: dict[str, Tensor]
    inputs: list[str]  # tensor ids fed from outside
    outputs: list[str]  # tensor ids nothing consumes
    sources: list[Source] = field(default_factory=list)
    phase: str = "TEST"
    # what was accepted with a warning (a fork's field netc ignores); `--strict` refuses them
    warnings: list[Diagnostic] = field(default_factory=list, compare=False)
    # lookups built on first use (the graph is complete once built; see _indexes)
    _by_name: dict[str, Node] | None = field(default=None, init=False, repr=False, compare=False)
    _latest: dict[str, str] | None = field(default=None, init=False, repr=False, compare=False)
    _users: dict[str, list[Node]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _indexed: tuple[int, int] = field(default=(-1, -1), init=False, repr=False, compare=False)

    def _indexes(self) -> None:
        """Name, latest-version and user lookups, rebuilt when nodes or tensors were added."""
        if self._indexed == (len(self.nodes), len(self.tensors)):
            return
        by_name: dict[str, Node] = {}
        for n in self.nodes:
            by_name.setdefault(n.name, n)  # the first, as a scan would find
        self._by_name = by_name
        latest: dict[str, str] = {}
        for t in self.tensors.values():
            latest[t.blob] = t.id
        self._latest = latest
        users: dict[str, list[Node]] = {}
        for n in self.nodes:
            for i in dict.fromkeys(n.inputs):
                users.setdefault(i, []).append(n)
        self._users = users
        self._indexed = (len(self.nodes), len(self.tensors))

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, name: str) -> Node:
        self._indexes()
        assert self._by_name is not None
        return self._by_name[name]

    def tensor(self, ref: str) -> Tensor:
        """A tensor by id, or the latest version of a blob name."""
        if ref in self.tensors:
            self._indexes()
            assert self._latest is not None
            return self.tensors[self._latest.get(ref, ref)]
        raise KeyError(ref)

    def shape(self, ref: str) -> Shape | None:
        return self.tensor(ref).shape

    def params_count(self, kind: str = "param") -> int:
        return sum(n.params_count(kind) for n in self.nodes)

    def trainable_count(self) -> int:
        return sum(b.count for n in self.nodes for b in n.blobs if b.trainable)

    def consumers(self, tensor_id: str) -> list[Node]:
        self._indexes()
        assert self._users is not None
        return list(self._users.get(tensor_id, ()))

    def forward_inputs(self) -> list[str]:
        """The inputs `to_torch()`'s forward takes, in order (the deploy view: a train_val
        file's label, read only by losses and metrics, is not one)."""
        from netc.ir.deploy import forward_inputs

        return forward_inputs(self)

    def to_torch(self) -> Any:
        """The network as a torch.nn.Module, built from the source `netc build --target torch`
        writes (imports torch)."""
        from netc.backends.torch import to_torch

        return to_torch(self)

    def _repr_svg_(self) -> str | None:
        """Jupyter: the network drawn as SVG, or None without Graphviz (netc.render)."""
        from netc.render import repr_svg

        return repr_svg(self)
