"""torchvision parity: the generated modules of the torchvision-named specs are torchvision's.

torchvision does not import beside this project's CPU torch wheel, so another environment
(torch 2.14.1 + torchvision 0.29.1, tools/torchvision_fixtures/make_env.sh) recorded each
model once (tools/torchvision_fixtures/make_fixtures.py -> tests/fixtures/torchvision/*.json):
its state_dict keys, shapes and dtypes; the checksums of a deterministic fill
(tools/torchvision_fixtures/fill.py, "netc-fill-v1", identical bits on both torch versions);
the logits of that filled model on a fixed input (2×3×224×224); its FLOPs, parameters and
buffers. A fixture's "fill_options" (e.g. the BatchNorm scales' mean) are passed to the fill. Here, with the project's torch and no torchvision:

- the generated state_dict has exactly torchvision's keys, in order, with its shapes and dtypes;
- the same fill gives the same tensors (the fixture's checksums), and loads with strict=True;
- the logits equal torchvision's within 1e-5, and FlopCounterMode counts the same FLOPs.

These tests need only the committed fixtures: they run (never skip) wherever torch does.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType

import pytest

import netc

try:
    import torch
    from torch.utils.flop_counter import FlopCounterMode
except ImportError:  # pragma: no cover - CI installs torch (scripts/setup.sh)
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("torch is not installed", allow_module_level=True)

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "torchvision"
FILL = REPO / "tools" / "torchvision_fixtures" / "fill.py"

# torchvision model -> the spec laid out with its names
MODELS = {
    "alexnet": "alexnet_torchvision",
    "vgg11": "vgg11",
    "vgg13": "vgg13",
    "vgg16": "vgg16",
    "vgg19": "vgg19",
    "vgg16_bn": "vgg16_bn",
    "googlenet": "googlenet_torchvision",
    "resnet18": "resnet18",
    "resnet34": "resnet34",
    "resnet50": "resnet50",
    "resnet101": "resnet101",
    "resnet152": "resnet152",
}
DTYPES = {"float32": torch.float32, "int64": torch.int64}
# Tensors above this size (the VGG and AlexNet classifiers' weights, 4-102 M values) are checked
# with float64 sums against the exact checksums (relative 1e-12) instead of fill.checksum's
# exact integer sums, which take ~0.1 s per million values.
EXACT_LIMIT = 1 << 22


def load_fill() -> ModuleType:
    spec = importlib.util.spec_from_file_location("netc_torchvision_fill", FILL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fill() -> ModuleType:
    return load_fill()


def fixture(model: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((FIXTURES / f"{model}.json").read_text())
    return data


def test_every_fixture_is_tested() -> None:
    assert {p.stem for p in FIXTURES.glob("*.json")} == set(MODELS)


def matches(fill: ModuleType, tensor: torch.Tensor, expected: list[float]) -> bool:
    if tensor.numel() <= EXACT_LIMIT:
        return bool(fill.checksum(tensor) == expected)
    flat = tensor.reshape(-1)
    total, absolute, first = expected
    sums = (flat.double().sum().item(), flat.double().abs().sum().item())
    close = all(
        abs(a - b) <= 1e-12 * absolute for a, b in zip(sums, (total, absolute), strict=True)
    )
    return close and flat[0].item() == first


@pytest.mark.parametrize("model", list(MODELS))
def test_torchvision_parity(model: str, fill: ModuleType) -> None:
    fx = fixture(model)
    assert fx["fill"] == fill.FILL_NAME
    graph = netc.load(REPO / "specs" / f"{MODELS[model]}.net")
    with torch.device("meta"):
        module = graph.to_torch()
    state = module.state_dict()
    ours = [[k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in state.items()]
    assert ours == fx["state_dict"]  # keys, order, shapes, dtypes
    assert sum(p.numel() for p in module.parameters()) == fx["params"]
    assert sum(b.numel() for b in module.buffers()) == fx["buffers"]

    options: dict[str, float] = fx.get("fill_options", {})  # type: ignore[assignment]
    filled = {
        key: fill.fill_tensor(key, shape, DTYPES[dtype], **options)
        for key, shape, dtype in fx["state_dict"]  # type: ignore[attr-defined]
    }
    checksums: dict[str, list[float]] = fx["checksums"]  # type: ignore[assignment]
    wrong = [
        k for k, t in filled.items() if t.is_floating_point() and not matches(fill, t, checksums[k])
    ]
    assert not wrong, wrong[:5]
    module.load_state_dict(filled, strict=True, assign=True)
    module.eval()

    spec = fx["input"]
    x = fill.make_input(spec["shape"], spec["seed"])  # type: ignore[index]
    assert fill.checksum(x) == spec["checksum"]  # type: ignore[index]
    with torch.no_grad():
        logits = module(x)
    expected = torch.tensor(fx["output"], dtype=torch.float32)
    assert logits.shape == expected.shape
    assert (logits - expected).abs().max().item() <= 1e-5


@pytest.mark.parametrize("model", list(MODELS))
def test_torchvision_flops(model: str) -> None:
    graph = netc.load(REPO / "specs" / f"{MODELS[model]}.net", batch=1)
    with torch.device("meta"):
        module = graph.to_torch().eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(torch.zeros(1, 3, 224, 224, device="meta"))
    assert counter.get_total_flops() == fixture(model)["flops_batch1"]
