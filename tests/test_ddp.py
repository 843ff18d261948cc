"""`netc train` under torchrun: two CPU processes on localhost (gloo over loopback).

The strong check: DistributedDataParallel averages the two processes' gradients, and each takes
half of every global batch (netc/training/distributed.py's EpochSampler), so two processes with
batch 10 each take the same SGD steps as one process with batch 20: the same weights after an
epoch, within float rounding, and the same metrics (summed over the ranks).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

try:
    import torch
except ImportError:  # pragma: no cover - CI installs torch (scripts/setup.sh)
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("torch is not installed", allow_module_level=True)

import netc
from netc.training import classifier_view

REPO = Path(__file__).resolve().parents[1]
LENET = REPO / "specs" / "lenet.net"
# Loopback only: gloo binds the interface named here, the rendezvous is on localhost.
ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "PYTHONPATH": str(REPO),
    "GLOO_SOCKET_IFNAME": "lo",
    "MASTER_ADDR": "127.0.0.1",
}
ARGS = ["train", str(LENET), "--data", "digits", "--labels-per-class", "10", "--epochs", "2"]
ARGS += ["--batch", "20", "--lr", "0.05", "--device", "cpu", "--seed", "3"]


def records(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_processes_equal_one_with_the_whole_batch(tmp_path: Path) -> None:
    two, one = tmp_path / "two", tmp_path / "one"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    launcher += ["--nnodes", "1", "--nproc_per_node", "2"]
    ddp = subprocess.run(
        [*launcher, "-m", "netc", *ARGS, "--out", str(two)],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=REPO,
        timeout=240,
    )
    assert ddp.returncode == 0, ddp.stdout + ddp.stderr
    single = subprocess.run(
        [sys.executable, "-m", "netc", *ARGS, "--out", str(one)],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=REPO,
        timeout=240,
    )
    assert single.returncode == 0, single.stderr

    # rank 0 alone reports and writes: one line per epoch, whatever the number of processes
    assert ddp.stdout.count("epoch 2/2") == 1
    assert sorted(p.name for p in two.iterdir()) == [
        "checkpoint.pt",
        "config.json",
        "metrics.jsonl",
        "model.pt",
    ]
    assert json.loads((two / "config.json").read_text())["world_size"] == 2
    distributed, alone = records(two), records(one)
    assert [r["world_size"] for r in distributed] == [2, 2]
    for a, b in zip(distributed, alone, strict=True):
        # every sample counted once: 10 per class train, the other 1,697 digits test
        assert a["train_samples"] == b["train_samples"] == 100
        assert a["test_samples"] == b["test_samples"] == 1697
        # a prediction may flip where two logits tie within rounding: allow one sample
        assert a["train_acc"] == pytest.approx(b["train_acc"], abs=1.01 / 100)
        assert a["test_acc"] == pytest.approx(b["test_acc"], abs=1.01 / 1697)
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["test_loss"] == pytest.approx(b["test_loss"], rel=1e-5)

    w2 = torch.load(two / "model.pt", weights_only=True)
    w1 = torch.load(one / "model.pt", weights_only=True)
    assert w2.keys() == w1.keys()
    for key in w1:
        # float32 sums in another order: rounding only (the weights are O(0.1))
        assert torch.allclose(w2[key], w1[key], rtol=0, atol=1e-5), key
    # while training moved them far more than that from where both runs started (seed 3)
    torch.manual_seed(3)
    initial = classifier_view(netc.load(LENET, phase="TRAIN")).graph.to_torch().state_dict()
    assert min((w1[k] - initial[k]).abs().max().item() for k in w1) > 1e-3
