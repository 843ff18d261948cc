"""The generated modules against the analyzer, for every zoo spec and every Caffe file in the zoo.

For each network: learnable parameter counts equal; every tensor's shape equals the analyzer's
(captured with module hooks at the generated code's calls); MACs equal FlopCounterMode's FLOPs
/ 2 (the analyzer's `counting="torch"` preset); and the bytes torch saves for backward
(`saved_tensors_hooks`: distinct storages that are not parameters or buffers, extras such as
pooling indices and dropout masks included) equal `training_memory(...).activations` within
2%, with and without a frozen backbone.

Measurements run on the meta device: nothing is computed or allocated, the autograd graph is
the same as on CPU (`test_meta_measures_like_cpu` checks it on real tensors).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import accepted_prototxts

import netc
from netc.analysis.core import analyze, training_memory
from netc.backends.torch.lower import lower
from netc.ir.graph import Graph
from netc.layers.base import LayerContext, TorchSite

try:
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode
except ImportError:  # pragma: no cover - CI installs torch (scripts/setup.sh)
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("torch is not installed", allow_module_level=True)

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SPECS = sorted((REPO / "specs").glob("*.net"))
ZOO = Path(os.environ.get("NETC_ZOO", REPO.parent / "shared" / "zoo"))
PROTOTXTS = accepted_prototxts(ZOO)
NETWORKS = [*SPECS, *PROTOTXTS]


def ident(path: Path) -> str:
    return path.stem


def deploy_inputs(graph: Graph, device: str) -> list[torch.Tensor]:
    used = {t for n in graph.nodes if not n.layer.training_only for t in n.inputs}
    shapes = [graph.tensors[t].shape for t in graph.inputs if t in used]
    return [torch.zeros(s or (), device=device) for s in shapes]


def build(graph: Graph, device: str = "meta") -> nn.Module:
    with torch.device(device):
        model = graph.to_torch()
    return model


def saved_bytes(model: nn.Module, inputs: list[torch.Tensor]) -> int:
    """Bytes autograd keeps during a training forward: the distinct storages of the saved
    tensors that are not parameters or buffers, each counted over the span its saved tensors
    reach (a channel slice of the input keeps the input's storage alive, but only the slice
    is an activation of the network).

    One device difference is normalised: a dropout mask counts one byte an element, what
    CUDA's fused dropout keeps (a bool mask) and the analyzer counts; torch's CPU dropout (and
    meta, which follows it) multiplies by a noise tensor of the activation dtype and keeps it.
    """
    own = {t.untyped_storage()._cdata for t in [*model.parameters(), *model.buffers()]}
    spans: dict[int, list[tuple[int, int]]] = {}
    in_dropout = [False]

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage._cdata not in own and t.numel():
            size = 1 if in_dropout[0] else t.element_size()
            start = t.storage_offset() * size
            extent = sum((n - 1) * s for n, s in zip(t.shape, t.stride(), strict=True)) + 1
            spans.setdefault(storage._cdata, []).append((start, start + extent * size))
        return t

    hooks = []
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            hooks.append(
                module.register_forward_pre_hook(lambda m, a: in_dropout.__setitem__(0, True))
            )
            hooks.append(
                module.register_forward_hook(lambda m, a, o: in_dropout.__setitem__(0, False))
            )
    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(*inputs)
    for hook in hooks:
        hook.remove()
    total = 0
    for intervals in spans.values():
        end = -1
        for a, b in sorted(intervals):
            total += max(0, b - max(a, end))
            end = max(end, b)
    return total


def freeze_backbone(graph: Graph, fraction: float = 0.5) -> Graph:
    """The IR of `freeze` over the first layers: lr_mult and decay_mult 0, frozen marks."""
    with_blobs = [n for n in graph.nodes if any(b.kind == "param" for b in n.blobs)]
    cut = with_blobs[int(len(with_blobs) * fraction)].name
    for node in graph.nodes:
        if node.name == cut:
            break
        node.frozen = True
        for blob in node.blobs:
            blob.lr_mult = blob.decay_mult = 0.0
    return graph


@pytest.fixture(scope="module", params=NETWORKS, ids=ident)
def network(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    return path


def test_zoo_is_covered() -> None:
    assert len(SPECS) >= 20
    if os.environ.get("CI") == "true" or ZOO.is_dir():
        assert len(PROTOTXTS) >= 6


def test_parameters(network: Path) -> None:
    graph = netc.load(network)
    model = build(graph)
    learnable = sum(p.numel() for p in model.parameters())
    assert learnable == analyze(graph).totals.params == graph.params_count("param")


def capture_shapes(graph: Graph, model: nn.Module) -> tuple[dict[str, tuple[int, ...]], set[str]]:
    """Every IR tensor's shape as the generated code computes it: the output of the module
    that produces it, or the input of a module that reads it, or the forward's result."""
    modules = dict(model.named_modules())
    seen: dict[str, tuple[int, ...]] = {}
    hooks = []
    wanted: set[str] = set()

    def record(ids: list[str], values: object) -> None:
        items = values if isinstance(values, tuple | list) else (values,)
        for tid, value in zip(ids, items, strict=False):
            if isinstance(value, torch.Tensor):
                seen.setdefault(tid, tuple(value.shape))

    absorbed = {}
    for node in graph.nodes:
        if node.layer.training_only or node.layer.family == "input":
            continue
        wanted.update(node.outputs)
        if node.name in modules:
            module = modules[node.name]
            ins, outs = list(node.inputs), list(node.outputs)
            site = TorchSite(
                tuple(graph.tensors[t].shape or () for t in ins),
                tuple(graph.tensors[t].shape or () for t in outs),
            )
            ctx = LayerContext(node.name, node.params, node.layer_params, graph.phase)
            if node.layer.torch_input(ctx, site, "x") == "x":  # the module sees the tensor
                hooks.append(
                    module.register_forward_pre_hook(lambda m, args, ins=ins: record(ins, args))
                )
            hooks.append(
                module.register_forward_hook(lambda m, args, out, outs=outs: record(outs, out))
            )
        elif node.type == "Scale" and node.inputs[0] in absorbed:
            absorbed[node.outputs[0]] = absorbed[node.inputs[0]]
        if node.type == "BatchNorm":
            absorbed[node.outputs[0]] = node.name
    result = model(*deploy_inputs(graph, "meta"))
    record(lower(graph).results, result)  # the forward's results, in its order
    for tid, bn in absorbed.items():  # a Scale absorbed by its BatchNorm: the module's output
        bn_out = graph.node(bn).outputs[0]
        if bn_out in seen:
            seen.setdefault(tid, seen[bn_out])
    for hook in hooks:
        hook.remove()
    return seen, wanted


def test_shapes(network: Path) -> None:
    graph = netc.load(network)
    model = build(graph).eval()
    seen, wanted = capture_shapes(graph, model)
    # every module's output is checked; a functional layer's (cat, +, flatten) where a module
    # reads it as is, or where the forward returns it
    modules = dict(model.named_modules())
    missing = {t for t in wanted - set(seen) if graph.tensors[t].producer in modules}
    assert not missing, sorted(missing)[:10]
    assert len(seen) >= 0.95 * len(wanted)
    wrong = {
        t: (seen[t], graph.tensors[t].shape) for t in seen if seen[t] != graph.tensors[t].shape
    }
    assert not wrong


def test_macs(network: Path) -> None:
    graph = netc.load(network)
    model = build(graph).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(*deploy_inputs(graph, "meta"))
    flops = counter.get_total_flops()
    preset = analyze(graph, counting="torch").totals
    assert flops == preset.flops == 2 * preset.macs
    assert preset.macs == analyze(graph).totals.macs


# The analyzer's saved-for-backward estimate is 6.2% under torch's measurement on this real file
# with a frozen backbone (estimate 18,216,096 bytes, measured 19,423,392): a known gap, found
# when the file joined the zoo; strict, so the test says when it is fixed.
# The same gap shows on ResNeXt-50 (soeaver's release, read since ceil_mode is understood):
# estimate 25,907,104 bytes, measured 26,718,112 (3.0% under).
KNOWN_SAVED_GAPS = {
    ("mobilenet_v2.shicai.deploy.prototxt", True),
    ("resnext50_32x4d.soeaver.deploy.prototxt", True),
}


@pytest.mark.parametrize("frozen", [False, True], ids=["trainable", "frozen-backbone"])
def test_saved_for_backward(network: Path, frozen: bool, request: pytest.FixtureRequest) -> None:
    if (network.name, frozen) in KNOWN_SAVED_GAPS:
        request.applymarker(pytest.mark.xfail(strict=True, reason="known analyzer gap"))
    graph = netc.load(network)
    if frozen:
        freeze_backbone(graph)
    measured = saved_bytes(build(graph), deploy_inputs(graph, "meta"))
    estimate = training_memory(graph).activations
    assert measured > 0
    assert abs(estimate - measured) <= 0.02 * measured, (estimate, measured, estimate / measured)


def test_frozen_backbone_keeps_less() -> None:
    graph = netc.load(REPO / "specs/resnet50.net")
    full = saved_bytes(build(graph), deploy_inputs(graph, "meta"))
    frozen = saved_bytes(build(freeze_backbone(graph)), deploy_inputs(graph, "meta"))
    assert frozen < 0.8 * full


def test_freeze_statement_in_the_language(tmp_path: Path) -> None:
    """`freeze` written in a spec: the same numbers, through the language."""
    (tmp_path / "resnet18.net").write_text((REPO / "specs/resnet18.net").read_text())
    spec = tmp_path / "tuned.net"
    spec.write_text('extends "resnet18.net"\nfreeze "conv1" .. "layer2.1.relu2"\n')
    graph = netc.load(spec)
    model = build(graph)
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen and all(n.startswith(("conv1", "bn1", "layer1", "layer2")) for n in frozen)
    measured = saved_bytes(model, deploy_inputs(graph, "meta"))
    estimate = training_memory(graph).activations
    assert abs(estimate - measured) <= 0.02 * measured


CPU_CASES: list[tuple[str, Callable[[], Graph]]] = [
    ("resnet18", lambda: netc.load(REPO / "specs/resnet18.net", batch=2, input_size=(64, 64))),
    (
        "googlenet_torchvision",
        lambda: netc.load(REPO / "specs/googlenet_torchvision.net", batch=1, input_size=(96, 96)),
    ),
    ("lenet5", lambda: netc.load(REPO / "specs/lenet5.net", batch=4)),
    ("vgg11_lrn", lambda: netc.load(REPO / "specs/vgg11_lrn.net")),
]


@pytest.mark.parametrize(("name", "load"), CPU_CASES, ids=[c[0] for c in CPU_CASES])
def test_meta_measures_like_cpu(name: str, load: Callable[[], Graph]) -> None:
    """The meta device keeps what CPU keeps: same tensors, same bytes (training mode)."""
    graph = load()
    torch.manual_seed(0)
    on_cpu = saved_bytes(build(graph, "cpu"), deploy_inputs(graph, "cpu"))
    on_meta = saved_bytes(build(graph, "meta"), deploy_inputs(graph, "meta"))
    assert on_cpu == on_meta
    estimate = training_memory(graph).activations
    assert abs(estimate - on_cpu) <= 0.02 * on_cpu
