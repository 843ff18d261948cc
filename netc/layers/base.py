"""The layer-type interface and its registry.

A layer type is one small class that knows everything about itself: where its parameters
live (its Caffe parameter message, plus netc's extensions), how many bottoms and tops it
takes, its exact Caffe shape rule and its parameter blobs. Later consumers (costs, code
generators, drawings) add their knowledge to the same class.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from netc.diagnostics import Span
from netc.proto.schema import Field

Shape = tuple[int, ...]


class ShapeError(Exception):
    """A shape rule failed; `field` names the parameter to point the diagnostic at."""

    def __init__(self, message: str, hint: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.field = field


class Params:
    """A layer's parameter message after validation: values with Caffe's defaults applied."""

    def __init__(
        self,
        message: str | None,
        values: dict[str, Any],
        defaults: dict[str, Any],
        repeated: set[str],
        spans: dict[str, Span],
    ) -> None:
        self.message = message
        self.values = values  # only what was written (repeated fields as lists)
        self.defaults = defaults
        self.repeated = repeated
        self.spans = spans

    def __getitem__(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name in self.repeated:
            return []
        return self.defaults.get(name)

    def get(self, name: str, default: Any = None) -> Any:
        value = self[name]
        return default if value is None else value

    def has(self, name: str) -> bool:
        value = self.values.get(name)
        return value is not None and value != []

    def span(self, name: str) -> Span | None:
        return self.spans.get(name)

    def written(self) -> Iterator[tuple[str, Any]]:
        return iter(self.values.items())

    def __repr__(self) -> str:
        return f"Params({self.message}, {self.values})"


@dataclass(frozen=True)
class BlobSpec:
    """A parameter blob a layer owns: learnable (`param`) or a running statistic (`buffer`)."""

    name: str
    shape: Shape
    kind: str = "param"  # "param" | "buffer"

    @property
    def size(self) -> int:
        return math.prod(self.shape)


class LayerContext:
    """What a layer's rules see of its node: the parameters, the layer's name and the phase."""

    def __init__(
        self,
        name: str,
        params: Params,
        layer: Params,
        phase: str = "TEST",
        trainable: tuple[bool, ...] | None = None,
    ) -> None:
        self.name = name
        self.params = params  # the type's parameter message (+ netc extensions)
        self.layer = layer  # LayerParameter-level fields (param, include, loss_weight, ...)
        self.phase = phase
        self.trainable = trainable  # per blob, once the IR knows (freeze statements included)

    def blob_trainable(self, index: int = 0) -> bool:
        """Whether blob `index` learns: from the IR when known, else from the layer's own text."""
        if self.trainable is not None and index < len(self.trainable):
            return self.trainable[index]
        return written_lr_mult(self, index) != 0


@dataclass(frozen=True)
class Cost:
    """Arithmetic of one forward pass of a layer over its whole input (batch included)."""

    macs: int = (
        0  # multiply-accumulates of convolution/deconvolution/fully-connected, bias excluded
    )
    flops: int = 0  # all arithmetic, by netc's per-type table (docs/conventions.md)


@dataclass(frozen=True)
class Saved:
    """A tensor a layer keeps for its backward pass: one of its inputs or outputs, or an extra
    buffer (pooling indices, dropout masks, batch statistics)."""

    what: str  # "input" | "output" | "extra"
    index: int = 0
    elements: int = 0  # extras only
    bytes_per_element: int | None = None  # extras only; None means the activation dtype


@dataclass(frozen=True)
class Window:
    """A sliding window along one spatial axis, for receptive fields (stride may be < 1 for
    transposed convolutions)."""

    kernel: int
    stride: float = 1
    pad: float = 0  # a half pixel where a layer samples between pixels (Interp)
    dilation: int = 1


COUNTING = ("netc", "torch", "netscope")

#: Literal values a generated torch constructor may take.
TorchValue = int | float | bool | str | None | tuple["TorchValue", ...]


@dataclass(frozen=True)
class TorchModule:
    """The torch module a layer becomes: `ctor(*args, **kwargs)` with literal values.

    `args` and `kwargs` are (name, value) pairs; the generator writes `args` positionally and
    leaves out keyword arguments whose value equals the one in `defaults`. `ctor` is a torch
    name (`nn.Conv2d`) or a helper class the layer defines in `torch_definitions`."""

    ctor: str
    args: tuple[tuple[str, TorchValue], ...] = ()
    kwargs: tuple[tuple[str, TorchValue], ...] = ()
    defaults: tuple[tuple[str, TorchValue], ...] = ()


@dataclass(frozen=True)
class TorchSite:
    """What a layer's torch rules see beyond its parameters: shapes, and the generator's
    decisions about memory (whether the layer may overwrite its first input) and fusion (the
    parameters of a following layer it absorbs, e.g. the Scale after a BatchNorm)."""

    inputs: tuple[Shape, ...]
    outputs: tuple[Shape, ...]
    inplace: bool = False
    absorbed: LayerContext | None = None


#: Attribute values an ONNX node may take.
OnnxAttr = int | float | str | Sequence[int] | Sequence[float]


@dataclass(frozen=True)
class OnnxSite:
    """What a layer's ONNX rules see beyond its parameters: shapes (batch included, as the
    analyzer has them), the target opset, and the parameters of a following layer it absorbs
    (as in `TorchSite`)."""

    inputs: tuple[Shape, ...]
    outputs: tuple[Shape, ...]
    opset: int
    absorbed: LayerContext | None = None
    decompose_lrn: bool = False  # LRN as elementary ops (onnxruntime's LRN kernel is slow)


class OnnxEmitter(Protocol):
    """How a layer's `onnx_emit` writes into the model (netc/backends/onnx/builder.py)."""

    def node(
        self,
        op: str,
        inputs: Sequence[str],
        outputs: Sequence[str] | None = None,
        **attrs: OnnxAttr,
    ) -> list[str]:
        """Add an ONNX node; `outputs` None gives it one fresh intermediate value. Returns the
        names of its outputs."""
        ...

    def param(self, blob: str, shape: Shape | None = None) -> str:
        """The initializer of this layer's blob (named like the torch state_dict key), holding
        the same values laid out as `shape` (for ONNX's broadcasting) when given."""
        ...

    def const(self, values: Sequence[float] | float, dtype: str = "float32") -> str:
        """An initializer holding constant values (a scalar for a plain number); `dtype` is
        float32 or int64."""
        ...

    def const_array(self, values: Sequence[float], shape: Shape) -> str:
        """A float32 constant of the given shape (row-major values)."""
        ...

    def fresh(self, hint: str) -> str:
        """A new value name, for the outputs of a node that has several (TopK)."""
        ...


def onnx_reduce(
    g: OnnxEmitter,
    op: str,
    x: str,
    axes: Sequence[int],
    opset: int,
    keepdims: bool = True,
    outputs: Sequence[str] | None = None,
) -> str:
    """An ONNX Reduce* over `axes`: ReduceSum takes them as an input from opset 13 (netc's
    minimum), the others (ReduceMean, ReduceL1, ReduceSumSquare, ...) from opset 18."""
    if op == "ReduceSum" or opset >= 18:
        inputs = [x, g.const(list(axes), "int64")]
        return g.node(op, inputs, outputs, keepdims=int(keepdims))[0]
    return g.node(op, [x], outputs, axes=list(axes), keepdims=int(keepdims))[0]


class BackendError(Exception):
    """A layer has no faithful form in a backend; `field` names the parameter responsible."""

    def __init__(self, message: str, hint: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.field = field


class LayerType:
    """Base class: subclasses set the class attributes and override the rules."""

    type: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()  # V1 enum names and other spellings
    message: ClassVar[str | None] = None  # LayerParameter field holding its parameters
    extensions: ClassVar[tuple[Field, ...]] = ()  # netc-only parameters, written flat
    family: ClassVar[str] = "other"  # conv, pool, norm, act, fc, merge, input, loss, reshape
    stem: ClassVar[str] = "layer"  # stem of implicit names: conv1, conv2, ...
    bottoms: ClassVar[tuple[int, int | None]] = (1, 1)  # (min, max); None = any number
    tops: ClassVar[tuple[int, int | None]] = (1, 1)
    in_place: ClassVar[bool] = False  # may run with top == bottom
    overwrites_input: ClassVar[bool] = False  # in place, torch overwrites the input's memory too
    training_only: ClassVar[bool] = False  # loss and metric layers: no role at inference
    declared: ClassVar[bool] = True  # False for a type netc does not know (`undeclared`)
    origin: ClassVar[str] = "BVLC Caffe"  # or the fork whose source defines it
    shape_rule: ClassVar[str] = "the input's shape"  # for docs/layers.md

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        raise NotImplementedError

    flops_per_element: ClassVar[float | None] = None  # a point-wise cost rule, per output element

    def blobs(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[BlobSpec]:
        return []

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        """netc's count. Every type defines this or `flops_per_element` (enforced by `register`)."""
        assert self.flops_per_element is not None
        return Cost(flops=round(self.flops_per_element * sum(math.prod(o) for o in outputs)))

    def cost_as(
        self, counting: str, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> Cost:
        """The count under another tool's convention. torch's FlopCounterMode counts only
        convolutions and matrix products, 2 FLOPs per MAC; Netscope reports MACs as its ops."""
        own = self.cost(ctx, inputs, outputs)
        if counting == "torch":
            return Cost(own.macs, 2 * own.macs)
        if counting == "netscope":
            return Cost(own.macs, own.macs)
        return own

    def extra_params_as(self, counting: str, ctx: LayerContext) -> int:
        """Parameters another tool reports beyond the real blobs (Netscope: 2 per LRN)."""
        return 0

    keeps: ClassVar[tuple[str, ...]] = ()  # the simple case of `saved`: ("input",), ("output",)

    def saved(
        self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]
    ) -> list[Saved]:
        """Tensors kept for backward when the layer's output needs a gradient (torch's rules)."""
        return [Saved(what) for what in self.keeps]

    def frozen_blobs(self, ctx: LayerContext) -> frozenset[str]:
        """Blobs the layer's own parameters keep from learning, whatever `param { lr_mult }`
        says (PSPNet's BN with `frozen: true`)."""
        return frozenset()

    def windows(self, ctx: LayerContext, inputs: Sequence[Shape]) -> list[Window] | None:
        """The window over each spatial axis of the first input; None for point-wise layers."""
        return None

    # ---- PyTorch (netc/backends/torch drives these) ----------------------------------------
    # A layer becomes a module (`torch_module`) called in `forward`, or a functional
    # expression (`torch_forward` without a module). Expressions name their arguments by the
    # strings they are given and may use `torch`, `nn`, `F` and the layer's own definitions.

    def torch_module(self, ctx: LayerContext, site: TorchSite) -> TorchModule | None:
        """The module holding the layer's parameters or state; None (the default) for a
        functional layer, whose `torch_forward` then writes the expression."""
        return None

    def torch_input(self, ctx: LayerContext, site: TorchSite, arg: str) -> str:
        """The expression passed to the module for its (single) input, e.g. a flatten."""
        return arg

    def torch_forward(
        self, ctx: LayerContext, site: TorchSite, module: str | None, args: Sequence[str]
    ) -> str:
        """The expression computing the layer's output (a tuple for several tops)."""
        if module is None:
            raise BackendError(f"{self.type} has no PyTorch form")
        return f"{module}({self.torch_input(ctx, site, args[0])})"

    def torch_update(self, ctx: LayerContext, site: TorchSite, args: Sequence[str]) -> str | None:
        """A statement computing the output into `args[0]`'s memory (`a += b`), used when the
        generator finds that input dead and unsaved; None when the layer has no such form."""
        return None

    def torch_alias(self, ctx: LayerContext) -> bool:
        """Whether every top is the bottom itself in torch (Split): no code, shared memory."""
        return False

    def torch_view(self, ctx: LayerContext) -> bool:
        """Whether the output may share the input's memory (views, reshapes, identity in eval)."""
        return False

    def torch_absorbs(
        self,
        ctx: LayerContext,
        site: TorchSite,
        other: LayerType,
        other_ctx: LayerContext,
        other_site: TorchSite,
    ) -> bool:
        """Whether this layer's module also computes `other`, its output's only consumer
        (Caffe's BatchNorm followed by Scale is one torch BatchNorm2d(affine=True)); the
        absorbed layer's blobs keep their names inside this layer's module."""
        return False

    def torch_state_names(self, ctx: LayerContext, site: TorchSite) -> dict[str, str | None]:
        """Blob names that differ in torch's state_dict (None: torch has no such entry)."""
        return {}

    def torch_extra_state(self, ctx: LayerContext) -> tuple[str, ...]:
        """State_dict entries of the layer's torch module that hold no Caffe blob (the
        `num_batches_tracked` of a fork's BN): accepted in a weights file, never required."""
        return ()

    def torch_eval_always(self, ctx: LayerContext) -> bool:
        """Whether the module must stay in eval mode in training (Caffe's use_global_stats)."""
        return False

    def torch_definitions(self) -> dict[str, str]:
        """Source of the helper classes this layer's modules and expressions may use, by name."""
        return {}

    # ---- ONNX (netc/backends/onnx drives these) --------------------------------------------
    # A layer writes ONNX nodes computing its tops (`outputs`, value names) from its bottoms
    # (`inputs`), its blobs as initializers named like the torch state_dict keys.

    # a layer that is one ONNX operator without attributes (Sigmoid, TanH, ...) names it here
    onnx_op: str | None = None

    def onnx_emit(
        self,
        ctx: LayerContext,
        site: OnnxSite,
        g: OnnxEmitter,
        inputs: Sequence[str],
        outputs: Sequence[str],
    ) -> None:
        """Write the nodes computing `outputs` from `inputs`."""
        if self.onnx_op is None:
            raise BackendError(f"{self.type} has no ONNX form")
        g.node(self.onnx_op, inputs, outputs)

    def onnx_alias(self, ctx: LayerContext) -> bool:
        """Whether every top is the bottom itself at inference (Split, Dropout): no node."""
        return self.torch_alias(ctx)

    def onnx_keeps_batch(self, ctx: LayerContext, site: OnnxSite) -> bool:
        """Whether axis 0 of the outputs is the inputs' batch axis, unmixed with other axes, so
        the model may leave it symbolic (false for a Concat, Slice or flatten over axis 0)."""
        return True

    def initial(self, ctx: LayerContext, blob: str, shapes: dict[str, Shape]) -> tuple[str, float]:
        """How a blob starts without trained weights, as torch's default initialisation of the
        layer's module: ("uniform", b) draws from U(-b, b), ("constant", v) fills with v.
        `shapes` are the layer's blob shapes by name. Default: a weight and its bias are
        U(±1/sqrt(fan_in)) (torch's Conv/Linear: kaiming_uniform with a = sqrt(5)); running
        variances 1; everything else 0."""
        weight = shapes.get("weight")
        if blob in ("weight", "bias") and weight is not None and len(weight) >= 2:
            return ("uniform", 1 / math.sqrt(max(1, math.prod(weight[1:]))))
        if blob == "running_var":
            return ("constant", 1.0)
        return ("constant", 0.0)

    def __repr__(self) -> str:
        return f"<layer type {self.type}>"


class Elementwise(LayerType):
    """Output has the shape of the input (activations, dropout, normalisations)."""

    family = "act"
    in_place = True

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        return [tuple(inputs[0])]


# ---- registry ----------------------------------------------------------------------------

_REGISTRY: dict[str, LayerType] = {}
_CANONICAL: dict[str, LayerType] = {}


class Undeclared(LayerType):
    """A layer of a type netc does not know (a fork's, or a misspelt one): accepted with a
    warning, drawn, its outputs' shapes and its blobs unknown, left out of the totals (which
    say so), refused by the backends."""

    declared = False
    bottoms = (0, None)
    tops = (0, None)

    def shapes(self, ctx: LayerContext, inputs: Sequence[Shape], n_tops: int) -> list[Shape]:
        raise ShapeError(f"netc does not know the {self.type} layer type")

    def cost(self, ctx: LayerContext, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> Cost:
        return Cost()


_UNDECLARED: dict[str, LayerType] = {}


def undeclared(name: str) -> LayerType:
    """The stand-in for an unknown type `name` (one per name, never registered)."""
    if name not in _UNDECLARED:
        _UNDECLARED[name] = type(f"Undeclared_{name}", (Undeclared,), {"type": name})()
    return _UNDECLARED[name]


def register(cls: type[LayerType]) -> type[LayerType]:
    """Class decorator: make a layer type known under its name and aliases. A type without a
    cost rule is refused here, at import, never counted as a silent zero."""
    if cls.cost is LayerType.cost and cls.flops_per_element is None:
        raise TypeError(
            f"layer type {cls.__name__} has no cost rule (define cost or flops_per_element)"
        )
    layer = cls()
    for key in (cls.type, *cls.aliases):
        if key in _REGISTRY and _REGISTRY[key] is not layer:
            raise ValueError(f"layer type {key!r} registered twice")
        _REGISTRY[key] = layer
    _CANONICAL[cls.type] = layer
    return cls


def lookup(name: str) -> LayerType | None:
    _load()
    return _REGISTRY.get(name)


def all_types() -> dict[str, LayerType]:
    _load()
    return dict(_CANONICAL)


def known_names() -> list[str]:
    _load()
    return sorted(_REGISTRY)


def _load() -> None:
    if not _CANONICAL:
        import netc.layers.catalog  # noqa: F401  (registers every type)


# ---- helpers shared by the spatial rules --------------------------------------------------


def spatial(
    params: Params,
    name: str,
    n: int,
    default: int | None,
    *,
    h: str | None = None,
    w: str | None = None,
) -> list[int]:
    """Caffe's repeated spatial parameters: one value for all axes, one per axis, or _h/_w."""
    if h and w and (params.has(h) or params.has(w)):
        if n != 2:
            raise ShapeError(f"{h}/{w} apply to 2-D inputs only", field=h)
        if not (params.has(h) and params.has(w)):
            raise ShapeError(f"{h} and {w} must be given together", field=h if params.has(h) else w)
        if params.has(name):
            raise ShapeError(f"give either {name} or {h}/{w}, not both", field=name)
        return [int(params[h]), int(params[w])]
    values = params[name]
    if isinstance(values, list):
        values = [int(v) for v in values]
    elif values is None:
        values = []
    else:
        values = [int(values)]
    if not values:
        if default is None:
            raise ShapeError(
                f"{name} is required",
                hint=f"add `{name}: N` (or {h} and {w})" if h else f"add `{name}: N`",
                field=name,
            )
        return [default] * n
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise ShapeError(
            f"{name} has {len(values)} values for {n} spatial axes",
            hint=f"give one value, or one per spatial axis ({n})",
            field=name,
        )
    return values


def without_ones(shape: Sequence[int]) -> tuple[int, ...]:
    """A shape without its 1s: how one blob's layouts are told the same (Caffe keeps a bias
    as 1×1×1×N or a BN slope as 1×C×1×1, torch as (N,) and (C,); a shared PReLU slope is a
    scalar in Caffe, (1,) in torch)."""
    return tuple(int(d) for d in shape if d != 1)


def canonical_axis(axis: int, ndim: int, what: str = "axis") -> int:
    if not -ndim <= axis < ndim:
        raise ShapeError(
            f"{what} {axis} is out of range for a {ndim}-D input",
            hint=f"use an axis in [{-ndim}, {ndim - 1}]",
            field=what,
        )
    return axis % ndim


def written_lr_mult(ctx: LayerContext, index: int = 0) -> float | None:
    """A blob's lr_mult as the layer itself writes it (`param { lr_mult }`, V1 `blobs_lr`,
    `frozen: true`); None when unwritten. Freezing by `freeze`/`tune` statements is not seen."""
    layer = ctx.layer
    if layer.message is None:
        return None
    if layer["frozen"]:
        return 0.0
    if layer.message == "V1LayerParameter":
        rates = layer["blobs_lr"]
        return float(rates[index]) if index < len(rates) else None
    specs = layer["param"]
    if index < len(specs) and specs[index].has("lr_mult"):
        return float(specs[index]["lr_mult"])
    return None


def py_float(value: float) -> str:
    """A float as Python source (`0.5`, `float("inf")`) for generated expressions."""
    value = float(value)
    return repr(value) if math.isfinite(value) else f'float("{value}")'


def fmt_shape(shape: Sequence[int]) -> str:
    return "×".join(str(d) for d in shape)
