"""The nesting of a graph's layers: template instances (`Node.frames`), plus a group above
sibling instances whose names share a dotted prefix (`layer3.0` ... `layer3.35` form `layer3`),
so that a ResNet written as one instance per block still shows its four stages. Drawings
(`netc render --depth`) and tables (`netc analyze --depth`) collapse along these scopes.
"""

from __future__ import annotations

from dataclasses import dataclass

from netc.ir.graph import Graph


@dataclass(frozen=True)
class Scope:
    """A level of nesting: a template instance (`layer3.1`, template `bottleneck`), or a
    group of sibling instances whose names share a dotted prefix (`layer3`: `layer3.0` ...
    `layer3.35`), which nests like an instance (template None, `count` members)."""

    path: str
    template: str | None
    count: int = 0  # groups: how many instances

    @property
    def title(self) -> str:
        return self.template if self.template is not None else f"{self.count} instances"


def scopes(graph: Graph) -> dict[str, tuple[Scope, ...]]:
    """node name -> the scopes it sits in, outermost first: its template instances
    (`node.frames`), with a group inserted above sibling instances that share a dotted name
    prefix (at least two of them, contiguous in the network, the prefix naming nothing else)."""
    frames_of = {n.name: n.frames for n in graph.nodes}
    instance_paths = {f.path for frames in frames_of.values() for f in frames}
    names = set(frames_of)
    # (parent path, prefix) -> member instance paths in order, and their templates
    members: dict[tuple[str, str], list[str]] = {}
    templates: dict[tuple[str, str], list[str]] = {}
    order: dict[tuple[str, str], list[int]] = {}
    keys_of: dict[str, list[tuple[int, tuple[str, str] | None]]] = {}
    for index, node in enumerate(graph.nodes):
        keys = []
        parent = ""
        for level, frame in enumerate(node.frames):
            relative = frame.path[len(parent) + 1 :] if parent else frame.path
            key = None
            if "." in relative and frame.path.startswith(parent):
                prefix = relative.rsplit(".", 1)[0]
                key = (parent, f"{parent}.{prefix}" if parent else prefix)
                paths = members.setdefault(key, [])
                if frame.path not in paths:
                    paths.append(frame.path)
                    templates.setdefault(key, []).append(frame.template)
                order.setdefault(key, []).append(index)
            keys.append((level, key))
            parent = frame.path
        keys_of[node.name] = keys
    groups: dict[tuple[str, str], Scope] = {}
    for key, paths in members.items():
        group_path = key[1]
        if len(paths) < 2 or group_path in instance_paths or group_path in names:
            continue
        indices = order[key]
        if indices[-1] - indices[0] + 1 != len(indices):
            continue  # interleaved with other layers: drawing it as one block would mislead
        kinds = sorted(set(templates[key]))
        template = f"{len(paths)} × {kinds[0]}" if len(kinds) == 1 else None
        groups[key] = Scope(group_path, template, len(paths))
    result: dict[str, tuple[Scope, ...]] = {}
    for node in graph.nodes:
        chain: list[Scope] = []
        for (_, key), frame in zip(keys_of[node.name], node.frames, strict=True):
            if key is not None and key in groups:
                chain.append(groups[key])
            chain.append(Scope(frame.path, frame.template))
        result[node.name] = tuple(chain)
    return result
