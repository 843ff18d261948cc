"""The transfer experiment (bench/transfer_digits.py), reduced for CI: Caffe's MNIST LeNet ->
scikit-learn's digits at 10 labels per class, one seed, the full protocol otherwise (SGD,
momentum 0.9, lr 0.01, batch 32, 60 epochs). Thresholds from ../shared/zoo/REFERENCE.md §3 and
issue 8: frozen + new head ≥ 0.94, fine-tune all ≥ 0.93, both above training from scratch.
docs/transfer-experiment.md has the full table (4 label counts × 3 seeds)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

try:
    import torch
except ImportError:  # pragma: no cover - CI installs torch (scripts/setup.sh)
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("torch is not installed", allow_module_level=True)

REPO = Path(__file__).resolve().parents[1]


def bench_module() -> ModuleType:
    if "transfer_digits" in sys.modules:
        return sys.modules["transfer_digits"]
    spec = importlib.util.spec_from_file_location(
        "transfer_digits", REPO / "bench" / "transfer_digits.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["transfer_digits"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_transfer_beats_scratch_at_10_labels_per_class(zoo_dir: Path) -> None:
    bench = bench_module()
    torch.set_num_threads(1)
    # evaluation after the last epoch only: the same training, a third of the time
    acc = {
        recipe: bench.run_one(recipe, 10, seed=0, eval_every=0, zoo=zoo_dir).final_acc
        for recipe in ("scratch", "fine-tune", "frozen")
    }
    assert acc["frozen"] >= 0.94, acc  # REFERENCE.md §3: 0.951 (mean of 3 seeds)
    assert acc["fine-tune"] >= 0.93, acc  # REFERENCE.md §3: 0.938
    assert acc["frozen"] > acc["scratch"] and acc["fine-tune"] > acc["scratch"], acc


def test_recipes_freeze_and_replace_what_they_say(zoo_dir: Path) -> None:
    """The recipes are specs: the frozen one trains the new head only (5,010 = 500 × 10 + 10
    parameters), and the Caffe weights fill every other layer."""
    import netc
    from netc.training import classifier_view
    from netc.weights import load_into

    bench = bench_module()
    frozen = netc.load(bench.SPECS / bench.RECIPES["frozen"][0], phase="TRAIN")
    assert frozen.trainable_count() == 500 * 10 + 10
    view = classifier_view(frozen)
    assert view.logits == "ip2_digits"
    model = view.graph.to_torch()
    head = model.ip2_digits.weight.detach().clone()
    report = load_into(model, zoo_dir / bench.WEIGHTS, view.graph, strict=True)
    assert sorted(report.loaded) == sorted(
        f"{layer}.{blob}" for layer in ("conv1", "conv2", "ip1") for blob in ("weight", "bias")
    )
    assert torch.equal(model.ip2_digits.weight, head)  # the new head keeps its initialisation
    groups = model.param_groups(0.01, 0.0)
    assert sum(p.numel() for g in groups for p in g["params"]) == 5010
