"""Transfer recipes in the language (specs/transfer/): derive, replace the head, freeze through a
layer, lr multipliers per layer and range; what `netc analyze` and `param_groups` make of them.

Numbers: REF = zoo/REFERENCE.md (LeNet 431,080 params; torchvision's vgg16 138,357,544 and
resnet50 25,557,032); head sizes by arithmetic (inputs × classes + classes).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import torch

import netc
from netc.analysis.core import analyze, training_memory

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parent.parent
TRANSFER = ROOT / "specs/transfer"


@pytest.mark.parametrize("spec", sorted(TRANSFER.glob("*.net")), ids=lambda p: p.name)
def test_every_recipe_checks(spec: Path) -> None:
    graph = netc.load(spec)
    assert graph.nodes


def blobs(graph: netc.Graph) -> dict[str, tuple[float, ...]]:
    return {
        n.name: tuple(b.lr_mult for b in n.blobs if b.kind == "param")
        for n in graph.nodes
        if n.blobs
    }


def test_lenet_digits_freezes_the_features_and_trains_a_new_head() -> None:
    graph = netc.load(TRANSFER / "lenet_digits.net")
    assert blobs(graph) == {
        "conv1": (0, 0),
        "conv2": (0, 0),
        "ip1": (0, 0),
        "ip2_digits": (1, 1),
    }
    totals = analyze(graph).totals
    assert totals.trainable == 500 * 10 + 10
    assert totals.frozen == 431_080 - 5_010  # REF §1: LeNet has 431,080 parameters


def test_analyze_reports_what_freezing_saves() -> None:
    recipe = analyze(netc.load(TRANSFER / "lenet_digits.net"))
    # nothing frozen and a head of the same shape: the base network is the unfrozen recipe
    base = training_memory(netc.load(ROOT / "specs/lenet.net"))
    assert recipe.unfrozen == base
    assert recipe.training.peak < base.peak
    out = subprocess.run(
        [sys.executable, "-m", "netc", "analyze", str(TRANSFER / "lenet_digits.net")],
        capture_output=True, text=True, cwd=ROOT, check=True,
    ).stdout  # fmt: skip
    assert "trainable 5,010, frozen 426,070" in out
    mib = (base.peak - recipe.training.peak) / 2**20
    assert f"frozen parameters save {mib:.2f} MiB of training memory" in out
    assert analyze(netc.load(ROOT / "specs/lenet.net")).unfrozen is None
    # the JSON report carries both steps (docs/analysis.schema.json validates it)
    report = json.loads(
        subprocess.run(
            [sys.executable, "-m", "netc", "analyze", str(TRANSFER / "lenet_digits.net"),
             "--format", "json"],
            capture_output=True, text=True, cwd=ROOT, check=True,
        ).stdout
    )  # fmt: skip
    jsonschema.validate(report, json.loads((ROOT / "docs/analysis.schema.json").read_text()))
    assert report["training_memory"]["peak"] == recipe.training.peak
    assert report["training_memory_unfrozen"]["peak"] == base.peak


def test_vgg16_recipe_multipliers_reach_param_groups() -> None:
    graph = netc.load(TRANSFER / "vgg16_finetune.net")
    with torch.device("meta"):
        model = graph.to_torch()
    groups = model.param_groups(base_lr=0.01, weight_decay=5e-4)
    by_lr: dict[float, int] = {}
    for group in groups:
        by_lr[round(group["lr"], 10)] = by_lr.get(round(group["lr"], 10), 0) + sum(
            p.numel() for p in group["params"]
        )
    conv = lambda c_in, c_out: c_in * c_out * 9 + c_out  # noqa: E731 - a 3×3 convolution
    conv45 = conv(256, 512) + 5 * conv(512, 512)  # conv4_1 .. conv5_3
    fc67 = 25_088 * 4_096 + 4_096 + 4_096 * 4_096 + 4_096
    head = 4_096 * 102 + 102
    assert by_lr == {1e-4: conv45, 1e-3: fc67, 1e-2: head}  # 1/100, 1/10, the full rate
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen[0] == "features.0.weight" and frozen[-1] == "features.14.bias"
    total = sum(p.numel() for p in model.parameters())
    assert total == 138_357_544 - (4_096 * 1_000 + 1_000) + head  # REF §2: vgg16


def test_resnet50_recipe_keeps_frozen_batchnorms_in_eval_mode() -> None:
    graph = netc.load(TRANSFER / "resnet50_finetune.net")
    with torch.device("meta"):
        model = graph.to_torch()
    model.train()
    assert not model.get_submodule("layer2.3.bn3").training
    assert not model.bn1.training
    assert model.get_submodule("layer3.0.bn1").training
    lrs = {round(g["lr"], 10) for g in model.param_groups(base_lr=0.1, weight_decay=1e-4)}
    assert lrs == {1e-3, 1e-2, 0.1}
    total = sum(p.numel() for p in model.parameters())
    assert total == 25_557_032 - (2_048 * 1_000 + 1_000) + (2_048 * 10 + 10)  # REF §2: resnet50
    frozen = analyze(graph).totals.frozen
    assert frozen == sum(p.numel() for p in model.parameters() if not p.requires_grad)


def test_a_training_step_changes_only_the_new_head() -> None:
    graph = netc.load(TRANSFER / "lenet_digits.net")
    torch.manual_seed(0)
    model = graph.to_torch()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD(model.param_groups(base_lr=0.1, weight_decay=0.0), momentum=0.9)
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    logits = model.get_submodule("ip2_digits")(
        model.relu1(
            model.ip1(torch.flatten(model.pool2(model.conv2(model.pool1(model.conv1(x)))), 1))
        )
    )
    torch.nn.functional.cross_entropy(logits, y).backward()
    optimizer.step()
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"ip2_digits.weight", "ip2_digits.bias"}


def test_tune_sets_per_blob_multipliers(tmp_path: Path) -> None:
    """Caffe's habit for a new head: weights at 10×, biases at 20× without weight decay."""
    (tmp_path / "lenet.net").write_bytes((ROOT / "specs/lenet.net").read_bytes())
    spec = tmp_path / "head.net"
    spec.write_text(
        'extends "lenet.net"\n'
        'replace "ip2" { layer { name: "head" type: "InnerProduct" num_output: 4 } }\n'
        'freeze "conv1" .. "conv2"\n'
        'tune "ip1" { lr_mult: 0.1 }\n'
        'tune "head" { param { lr_mult: 10 } param { lr_mult: 20 decay_mult: 0 } }\n'
    )
    model = netc.load(spec).to_torch()
    groups = {
        (round(g["lr"], 10), round(g["weight_decay"], 10)): sorted(
            n for n, p in model.named_parameters() if any(p is q for q in g["params"])
        )
        for g in model.param_groups(base_lr=0.01, weight_decay=1e-3)
    }
    assert groups == {
        (1e-3, 1e-3): ["ip1.bias", "ip1.weight"],  # tune sets every blob: lenet.net's 2× bias too
        (0.1, 1e-3): ["head.weight"],
        (0.2, 0.0): ["head.bias"],
    }
    assert {n for n, p in model.named_parameters() if not p.requires_grad} == {
        "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"
    }  # fmt: skip
