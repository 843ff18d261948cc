"""Matching a weights file to a network, and copying it into the generated torch module.

The rule is Caffe's (`Net::CopyTrainedLayersFrom`): weights go to the layer of the same name
(after the optional mapping); a source layer the network lacks is ignored, and a network layer
the source lacks keeps its initialisation. A same-name blob of another shape is an error,
except in a layer that a derived spec (`extends`) added or replaced: that layer keeps its fresh
initialisation, which is how a recipe can `replace "fc8"` by a layer still called "fc8".
With `strict` (the default of `load_into`), every parameter and running statistic of a layer
the base network already had must be loaded.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from netc.diagnostics import Diagnostic, NetcError
from netc.ir.graph import Graph
from netc.layers.base import Shape, fmt_shape, without_ones
from netc.weights.caffe import CaffeLayer, read_caffemodel
from netc.weights.mapping import NameMapping, Renamed, load_mapping
from netc.weights.sources import Arrays, check_file, kind_of, read_flat
from netc.weights.targets import Target, Targets, targets

MappingSpec = str | os.PathLike[str] | Mapping[str, object] | None

NOT_IN_FILE = "not in the weights"
# torch's batch counter: Caffe folds its equivalent into the running statistics, and the
# counter only matters for momentum=None; never required.
OPTIONAL_BLOBS = ("moving_average_factor",)


@dataclass
class Matched:
    """A weights file against a network, before anything is copied."""

    arrays: Arrays = field(default_factory=dict)  # state_dict key -> value
    skipped: dict[str, str] = field(default_factory=dict)  # source name -> why not used
    missing: dict[str, str] = field(default_factory=dict)  # state_dict key -> why no value
    optional: set[str] = field(default_factory=set)  # keys strict loading does not require


@dataclass
class LoadReport:
    """What `load_into` did: the keys loaded, the source entries skipped (with why) and the
    module's keys left at their initialisation (with why)."""

    source: str
    loaded: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{self.source}: loaded {len(self.loaded)} tensors, skipped {len(self.skipped)}, "
            f"kept initialisation for {len(self.missing)}"
        )

    def __str__(self) -> str:
        lines = [self.summary()]
        lines += [f"  skipped {name}: {why}" for name, why in self.skipped.items()]
        lines += [f"  kept {key}: {why}" for key, why in self.missing.items()]
        return "\n".join(lines)


def read_weights(
    path: str | os.PathLike[str], graph: Graph, *, mapping: MappingSpec = None
) -> dict[str, NDArray[Any]]:
    """The arrays of a weights file keyed by `graph.to_torch()`'s state_dict keys, with the
    IR's shapes. Imports torch only for .pt/.pth files. NetcError for an unreadable file, a
    malformed mapping, or a blob whose shape differs from the network's (naming the layer)."""
    return match(path, graph, mapping=mapping).arrays


def match(
    source: str | os.PathLike[str] | Mapping[str, NDArray[Any]],
    graph: Graph,
    *,
    mapping: MappingSpec = None,
) -> Matched:
    """Match a file (or a table already keyed by state_dict names) to the network."""
    table = targets(graph)
    rules = load_mapping(
        mapping if mapping is None or isinstance(mapping, Mapping) else Path(mapping)
    )
    if isinstance(source, Mapping):
        return _match_flat(dict(source), table, rules, "<arrays>")
    path = Path(source)
    if kind_of(path) == "caffe":
        check_file(path)
        _, layers = read_caffemodel(path)
        return _match_caffe(layers, table, rules, str(path))
    return _match_flat(read_flat(path), table, rules, str(path))


def load_into(
    module: Any,
    path_or_arrays: str | os.PathLike[str] | Mapping[str, NDArray[Any]],
    graph: Graph,
    *,
    strict: bool = True,
    mapping: MappingSpec = None,
) -> LoadReport:
    """Copy weights into `module` (built from `graph` by `to_torch()`) in place; see the
    module docstring for the matching rule. NetcError on a shape mismatch, or with `strict`
    when a layer of the base network gets no weights."""
    import torch

    name = "<arrays>" if isinstance(path_or_arrays, Mapping) else str(path_or_arrays)
    found = match(path_or_arrays, graph, mapping=mapping)
    report = LoadReport(name, skipped=dict(found.skipped), missing=dict(found.missing))
    if strict:
        absent = [
            key
            for key, why in found.missing.items()
            if why == NOT_IN_FILE and key not in found.optional
        ]
        if absent:
            shown = ", ".join(absent[:6]) + (
                f" and {len(absent) - 6} more" if len(absent) > 6 else ""
            )
            raise NetcError.single(
                f"{name}: no weights for {len(absent)} tensors of the network: {shown}",
                None,
                "check the layer names (a mapping renames them), or pass strict=False to keep "
                "their initialisation",
            )
    state = module.state_dict()
    pairs = []
    for key, array in found.arrays.items():  # check everything before changing anything
        tensor = state.get(key)
        if tensor is None:
            raise NetcError.single(
                f"the module has no {key!r}",
                None,
                "load into the module that this network's to_torch() built",
            )
        if tensor.is_meta:
            raise NetcError.single(
                f"{key} is on the meta device and has no storage to copy into",
                None,
                "build the module on a real device, or pass read_weights()'s arrays to "
                "load_state_dict(..., assign=True)",
            )
        if array.size != tensor.numel():
            raise NetcError.single(
                f"{key}: weights {fmt_shape(array.shape)}, module {fmt_shape(tuple(tensor.shape))}"
            )
        pairs.append((key, tensor, array))
    with torch.no_grad():
        for key, tensor, array in pairs:
            value = torch.from_numpy(np.ascontiguousarray(array)).reshape(tensor.shape)
            tensor.copy_(value.to(tensor.dtype))
            report.loaded.append(key)
    return report


# ---- matching ------------------------------------------------------------------------------


def fit(array: NDArray[Any], shape: Shape) -> NDArray[Any] | None:
    """`array` in `shape`, when they agree up to 1s (Caffe's legacy 4-D blobs: an
    InnerProduct weight stored 1×1×N×K, a bias 1×1×1×N; PReLU's scalar slope; a fork's BN
    slope 1×C×1×1), else None."""
    if tuple(array.shape) == tuple(shape):
        return array
    if array.size != math.prod(shape) or without_ones(array.shape) != without_ones(shape):
        return None
    return array.reshape(shape)


class _Matcher:
    def __init__(self, table: Targets, origin: str) -> None:
        self.table = table
        self.origin = origin
        self.out = Matched()
        self.errors: list[Diagnostic] = []

    def put(self, source_name: str, array: NDArray[Any], target: Target) -> None:
        value = fit(array, target.shape)
        if value is not None:
            self.out.arrays[target.key] = value
            return
        shapes = f"weights {fmt_shape(array.shape)}, network {fmt_shape(target.shape)}"
        if target.derived:
            self.out.skipped[source_name] = (
                f"{target.node} is replaced in the derived spec ({shapes})"
            )
            return
        node = self.table.graph.node(target.node)
        self.errors.append(
            Diagnostic(
                f'{self.origin}: layer "{target.node}" ({target.type}) {target.blob}: {shapes}',
                node.span,
                "the weights are for another network; a derived spec that changes this layer "
                "should replace it (or give it a new name)",
            )
        )

    def _tie_shared(self) -> None:
        """A blob shared with an earlier layer (Caffe's `param { name: }`) holds its owner's
        values, as in Caffe, whatever the file has under its own name."""
        for key, target in self.table.by_key.items():
            if target.shares is None:
                continue
            node, blob = target.shares
            owner = next(
                (e for e in self.table.by_node.get(node, []) if e is not None and e.blob == blob),
                None,
            )
            if owner is not None and owner.key in self.out.arrays:
                self.out.arrays[key] = self.out.arrays[owner.key]

    def missing_name(self, name: str) -> str:
        """Why a source layer/key has no place in the network."""
        try:
            node = self.table.graph.node(name)
        except KeyError:
            return "no such layer in the network"
        if node.layer.training_only:
            return f"training-only layer ({node.type})"
        return f"{node.type} layer without weights in the network"

    def finish(self) -> Matched:
        if self.errors:
            raise NetcError(self.errors)
        self._tie_shared()
        for key, target in self.table.by_key.items():
            if target.blob in OPTIONAL_BLOBS:
                self.out.optional.add(key)
            if key in self.out.arrays:
                continue
            if target.derived:
                self.out.missing[key] = "new or replaced in the derived spec"
            else:
                self.out.missing[key] = NOT_IN_FILE
        return self.out


def _match_flat(arrays: Arrays, table: Targets, rules: NameMapping | None, origin: str) -> Matched:
    m = _Matcher(table, origin)
    for key, array in arrays.items():
        name = key
        if rules is not None:
            renamed = rules.apply(key)
            if renamed.name is None:
                m.out.skipped[key] = f"dropped by the mapping ({renamed.rule})"
                continue
            name = renamed.name
            if renamed.transforms:
                array = _transform(
                    array, renamed, key, origin, rules.origin, table.by_key.get(name)
                )
        target = table.by_key.get(name)
        if target is None:
            layer = name.rpartition(".")[0]
            m.out.skipped[key] = (
                f"no {name!r} in the network" if layer in table.by_node else m.missing_name(layer)
            )
            continue
        m.put(key, array, target)
    return m.finish()


def _transform(
    array: NDArray[Any], renamed: Renamed, key: str, origin: str, where: str, target: Target | None
) -> NDArray[Any]:
    """A mapping's reshape, then permute, then the network's shape."""
    what = f"{origin}: {key} {fmt_shape(array.shape)}"
    if renamed.reshape is not None:
        if math.prod(renamed.reshape) != array.size:
            raise NetcError.single(
                f"{what}: cannot reshape to {fmt_shape(renamed.reshape)}", None, f"check {where}"
            )
        array = array.reshape(renamed.reshape)
    if renamed.permute is not None:
        if len(renamed.permute) != array.ndim:
            raise NetcError.single(
                f"{what}: permute {list(renamed.permute)} for a {array.ndim}-D array",
                None,
                f"check {where}",
            )
        array = array.transpose(renamed.permute)
    array = np.ascontiguousarray(array)
    if target is not None and array.size == math.prod(target.shape):
        array = array.reshape(target.shape)
    return array


def _match_caffe(
    layers: list[CaffeLayer], table: Targets, rules: NameMapping | None, origin: str
) -> Matched:
    m = _Matcher(table, origin)
    for layer in layers:
        if not layer.blobs:
            continue  # data, pooling, loss, accuracy layers: nothing to load
        name = layer.name
        if rules is not None:
            renamed = rules.apply(name)
            if renamed.transforms:
                raise NetcError.single(
                    f"{rules.origin}: reshape and permute apply to torch files, not to Caffe "
                    f"layer {name!r}"
                )
            if renamed.name is None:
                m.out.skipped[layer.name] = f"dropped by the mapping ({renamed.rule})"
                continue
            name = renamed.name
        entries = table.by_node.get(name)
        if entries is None:
            m.out.skipped[layer.name] = m.missing_name(name)
            continue
        if layer.type == "BatchNorm":
            _caffe_batchnorm(m, layer, [e for e in entries if e is not None], name)
            continue
        params = [e for e in entries if e is not None]
        if layer.type == "Scale" and table.node_type(name) == "BatchNorm":
            # a Caffe Scale mapped onto netc's `affine: true` BatchNorm: its γ and β
            params = [e for e in params if e.blob in ("weight", "bias")]
        if len(layer.blobs) != len(params):
            target_node = table.graph.node(name)
            if any(e.derived for e in params) or not params:
                m.out.skipped[layer.name] = f"{name} is replaced in the derived spec"
                continue
            m.errors.append(
                Diagnostic(
                    f'{origin}: layer "{layer.name}" ({layer.type}) has {len(layer.blobs)} blobs, '
                    f'the network\'s "{name}" ({target_node.type}) has {len(params)}',
                    target_node.span,
                    "a bias_term that differs? the weights are for another network",
                )
            )
            continue
        for index, (array, target) in enumerate(zip(layer.blobs, params, strict=True)):
            m.put(f"{layer.name}[{index}]", array, target)
    return m.finish()


def _caffe_batchnorm(m: _Matcher, layer: CaffeLayer, entries: list[Target], name: str) -> None:
    """Caffe's BatchNorm blobs are mean·s, var·s and s (a moving-average normaliser): its
    forward divides the first two by s (0 when s is 0); torch keeps mean and var themselves."""
    by_blob = {e.blob: e for e in entries}
    if len(layer.blobs) < 3 or "running_mean" not in by_blob:
        node = m.table.graph.node(name)
        m.errors.append(
            Diagnostic(
                f'{m.origin}: layer "{layer.name}" ({layer.type}) with {len(layer.blobs)} blobs '
                f'cannot fill "{name}" ({node.type})',
                node.span,
                "Caffe's BatchNorm has three blobs: mean, variance and their scale factor",
            )
        )
        return
    s = float(layer.blobs[2].reshape(-1)[0]) if layer.blobs[2].size else 0.0
    factor = np.float32(0.0 if s == 0 else 1.0 / s)
    m.put(f"{layer.name}[0]", layer.blobs[0] * factor, by_blob["running_mean"])
    m.put(f"{layer.name}[1]", layer.blobs[1] * factor, by_blob["running_var"])
    m.out.skipped[f"{layer.name}[2]"] = "Caffe's moving-average factor, divided into mean and var"
