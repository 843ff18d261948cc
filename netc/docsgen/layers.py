"""docs/layers.md: every layer type netc knows, from the registry (`netc layers --markdown`)."""

from __future__ import annotations

from netc.layers.base import LayerType, all_types

HEADER = """\
# Layer types

Generated from netc's layer registry by `netc layers --markdown`; tests/test_docs.py checks it
is current. Origin: BVLC Caffe's own catalogue, or the fork whose source defines the type (its
class names the repository and file). torch and ONNX: whether `netc build` writes the type;
training-only layers (losses, metrics) are left out of both, by design. A type netc does not
know is a warning, not an error (docs/language.md §1).

| type | origin | family | parameters | output shape | torch | ONNX |
|---|---|---|---|---|---|---|
"""


def _overrides(layer: LayerType, *names: str) -> bool:
    return any(getattr(type(layer), n) is not getattr(LayerType, n) for n in names)


def _backends(layer: LayerType) -> tuple[str, str]:
    if layer.training_only:
        return "left out", "left out"
    if layer.family == "input":
        return "an argument", "an input"
    torch = _overrides(layer, "torch_module", "torch_forward", "torch_alias")
    onnx = layer.onnx_op is not None or _overrides(layer, "onnx_emit", "onnx_alias", "torch_alias")
    return ("yes" if torch else "no"), ("yes" if onnx else "no")


def layers_markdown() -> str:
    rows = []
    for name, layer in sorted(all_types().items(), key=lambda item: item[0].lower()):
        if name != layer.type:
            continue  # an alias
        aliases = [a for a in layer.aliases if a != name]
        label = f"`{name}`" + (f" (also {', '.join(f'`{a}`' for a in aliases)})" if aliases else "")
        torch, onnx = _backends(layer)
        cells = [
            label,
            layer.origin,
            layer.family,
            f"`{layer.message}`" if layer.message else "–",
            layer.shape_rule,
            torch,
            onnx,
        ]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return HEADER + "\n".join(rows) + "\n"
