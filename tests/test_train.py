"""`netc train`: the classifier view of a spec, the run folder (checkpoints, metrics, --resume
after a real SIGKILL), lr_mult/freeze through param_groups, AMP, and clear errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import netc
from netc.diagnostics import NetcError

try:
    import torch
    from torch.utils.data import TensorDataset
except ImportError:  # pragma: no cover - CI installs torch (scripts/setup.sh)
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("torch is not installed", allow_module_level=True)

from netc.training import TrainConfig, TrainError, classifier_view, train
from netc.training import checkpoints as ckpt
from netc.training.distributed import EpochSampler, resolve_device

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]
LENET = REPO / "specs" / "lenet.net"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}

TRAIN_SPEC = """name: "T"
layer { name: "mnist" type: "Data" top: "data" top: "label" include { phase: TRAIN }
        data_param { source: "train_lmdb" batch_size: 64 } channels: 1
        transform_param { crop_size: 12 scale: 0.00390625 } }
layer { name: "mnist" type: "Data" top: "data" top: "label" include { phase: TEST }
        data_param { source: "test_lmdb" batch_size: 100 } channels: 1
        transform_param { crop_size: 12 scale: 0.00390625 } }
layer { name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1" num_output: 16 }
layer { name: "relu" type: "ReLU" bottom: "ip1" top: "ip1" }
layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2" num_output: 4 }
layer { name: "accuracy" type: "Accuracy" bottom: "ip2" bottom: "label" top: "accuracy"
        include { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }
"""


def netc_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netc", *args],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=REPO,
        timeout=timeout,
    )


def synthetic(n_train: int = 64, n_test: int = 48, classes: int = 4) -> Any:
    """A data-set opener with the `netc.data.open_dataset` signature: class c has mean c in the
    first channel, so a small network learns it in a few steps."""

    def opener(
        source: str,
        *,
        split: str,
        input_shape: tuple[int, int, int],
        labels_per_class: int | None,
        seed: int,
    ) -> TensorDataset:
        g = torch.Generator().manual_seed(1 if split == "train" else 2)
        n = n_train if split == "train" else n_test
        labels = torch.arange(n) % classes
        images = 0.2 * torch.randn(n, *input_shape, generator=g)
        images[:, 0] += labels[:, None, None].float()
        dataset = TensorDataset(images, labels)
        dataset.classes = [str(c) for c in range(classes)]  # type: ignore[attr-defined]
        return dataset

    return opener


# ---- which tensor is trained --------------------------------------------------------------


def test_classifier_view_of_a_deploy_spec_drops_the_final_softmax() -> None:
    view = classifier_view(netc.load(LENET, phase="TRAIN"))
    assert view.logits == "ip2" and view.input == "data"
    assert view.input_shape == (1, 28, 28) and view.num_outputs == 10
    assert "prob" not in {n.name for n in view.graph.nodes}
    model = view.graph.to_torch().eval()
    x = torch.randn(3, 1, 28, 28)
    full = netc.load(LENET).to_torch().eval()
    full.load_state_dict(model.state_dict())
    # the trimmed module returns the logits of which the spec's output is the softmax
    assert torch.allclose(model(x).softmax(1), full(x), atol=1e-6)


def test_classifier_view_of_a_caffe_training_spec() -> None:
    view = classifier_view(netc.load(TRAIN_SPEC, phase="TRAIN"))
    assert view.logits == "ip2" and view.input == "data" and view.num_outputs == 4
    assert {n.name for n in view.graph.nodes} == {"mnist", "ip1", "relu", "ip2"}
    assert view.input_shape == (1, 12, 12)
    out = view.graph.to_torch()(torch.randn(2, 1, 12, 12))
    assert out.shape == (2, 4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'input: "x" input_shape { dim: 1 dim: 4 }\n'
            'input: "y" input_shape { dim: 1 dim: 4 }\n'
            'layer { name: "l" type: "EuclideanLoss" bottom: "x" bottom: "y" }\n',
            "fine-tunes classifiers",
        ),
        (
            'input: "x" input_shape { dim: 1 dim: 4 }\n'
            'layer { name: "a" type: "InnerProduct" bottom: "x" num_output: 2 }\n'
            'layer { name: "b" type: "InnerProduct" bottom: "x" num_output: 2 }\n',
            "needs one output",
        ),
        (
            'input: "x" input_shape { dim: 1 dim: 4 }\n'
            'layer { name: "a" type: "InnerProduct" bottom: "x" num_output: 2 }\n',
            "N×C×H×W images",
        ),
    ],
)
def test_classifier_view_refuses_what_it_cannot_train(text: str, message: str) -> None:
    with pytest.raises(NetcError, match=message):
        classifier_view(netc.load(text, phase="TRAIN"))


# ---- the loop, in process -----------------------------------------------------------------


def test_frozen_layers_and_lr_mult_zero_stay(tmp_path: Path) -> None:
    """The optimizer takes the module's param_groups: `frozen: true` and a blob's lr_mult 0
    leave those weights exactly as they started."""
    spec = tmp_path / "net.net"
    spec.write_text(
        'input: "data" input_shape { dim: 1 dim: 2 dim: 6 dim: 6 }\n'
        'layer { name: "conv" type: "Convolution" num_output: 4 kernel_size: 3 frozen: true }\n'
        'layer { name: "fc" type: "InnerProduct" num_output: 4 '
        "param { lr_mult: 1 } param { lr_mult: 0 } }\n"
    )
    config = TrainConfig(spec=str(spec), data="-", epochs=2, batch=16, lr=0.1, device="cpu")
    result = train(config, open_dataset=synthetic(), progress=False)
    torch.manual_seed(config.seed)  # what the run started from
    initial = result.view.graph.to_torch().state_dict()
    final = result.model.state_dict()
    assert torch.equal(initial["conv.weight"], final["conv.weight"])
    assert torch.equal(initial["conv.bias"], final["conv.bias"])
    assert torch.equal(initial["fc.bias"], final["fc.bias"])
    assert not torch.equal(initial["fc.weight"], final["fc.weight"])
    assert result.history[-1]["train_acc"] > 0.5  # it learns the synthetic classes


def test_amp_bf16_on_cpu_runs_a_step(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, torch.dtype, bool]] = []
    real = torch.autocast

    def spy(device_type: str, dtype: torch.dtype, enabled: bool = True) -> Any:
        seen.append((device_type, dtype, enabled))
        return real(device_type, dtype=dtype, enabled=enabled)

    monkeypatch.setattr(torch, "autocast", spy)
    config = TrainConfig(
        spec=str(LENET), data="-", epochs=1, batch=16, lr=0.01, device="cpu", amp=True
    )
    result = train(config, open_dataset=synthetic(32, 16), progress=False)
    assert ("cpu", torch.bfloat16, True) in seen
    record = result.history[0]
    assert record["train_samples"] == 32 and 0 < record["train_loss"] < 10
    assert all(torch.isfinite(p).all() for p in result.model.parameters())


def test_device_auto_picks_cuda_when_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_device("cpu").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(RuntimeError, match="no CUDA"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto", local_rank=1) == torch.device("cuda", 1)


def test_sampler_global_batches_do_not_depend_on_the_process_count() -> None:
    """Rank r of W takes positions r, r+W, ...: the union of the ranks' k-th batches of B/W is
    the single process's k-th batch of B."""
    one = list(EpochSampler(40, 0, 1, seed=3))
    ranks = [list(EpochSampler(40, r, 2, seed=3)) for r in range(2)]
    for k in range(4):
        joint = set(ranks[0][5 * k : 5 * k + 5]) | set(ranks[1][5 * k : 5 * k + 5])
        assert joint == set(one[10 * k : 10 * k + 10])
    other_epoch = EpochSampler(40, 0, 1, seed=3)
    other_epoch.set_epoch(1)
    assert list(other_epoch) != one and sorted(other_epoch) == sorted(one)
    assert len(EpochSampler(41, 1, 2, seed=0)) == 21  # padded: every rank takes as many steps


def test_everything_frozen_is_an_error(tmp_path: Path) -> None:
    spec = tmp_path / "net.net"
    spec.write_text(
        'input: "data" input_shape { dim: 1 dim: 1 dim: 4 dim: 4 }\n'
        'layer { name: "fc" type: "InnerProduct" num_output: 4 frozen: true }\n'
    )
    config = TrainConfig(spec=str(spec), data="-", epochs=1, batch=8, lr=0.1, device="cpu")
    with pytest.raises(TrainError, match="frozen"):
        train(config, open_dataset=synthetic(), progress=False)


# ---- the command line: run folder, errors, resume after SIGKILL -----------------------------


SCHEMA = {
    "epoch",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "lr",
    "seconds",
    "train_seconds",
    "train_samples",
    "test_samples",
    "world_size",
}


def read_metrics(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / ckpt.METRICS).read_text().splitlines()]


def test_cli_run_folder_and_no_overwrite(tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = ["train", str(LENET), "--data", "digits", "--labels-per-class", "5"]
    args += ["--epochs", "2", "--batch", "25", "--lr", "0.01", "--device", "cpu"]
    done = netc_cli(*args, "--out", str(run))
    assert done.returncode == 0, done.stderr
    assert "epoch 2/2" in done.stdout and "test loss" in done.stdout
    assert "\x1b[" not in done.stdout + done.stderr  # no progress bar where no terminal is
    records = read_metrics(run)
    assert [r["epoch"] for r in records] == [1, 2]
    assert all(set(r) == SCHEMA for r in records)
    # digits: 5 per class train, the other 1,747 test (1,797 in sklearn's set)
    assert records[0]["train_samples"] == 50 and records[0]["test_samples"] == 1747
    saved = torch.load(run / ckpt.CHECKPOINT, weights_only=True)
    assert saved["epoch"] == 2 and saved["history"] == records
    config = json.loads((run / ckpt.CONFIG).read_text())
    assert config["batch"] == 25 and config["world_size"] == 1
    # the final weights load into the spec's module
    model = netc.load(LENET).to_torch()
    model.load_state_dict(torch.load(run / ckpt.FINAL, weights_only=True))

    before = (run / ckpt.CHECKPOINT).read_bytes()
    again = netc_cli(*args, "--out", str(run))
    assert again.returncode == 2
    assert "holds a run" in again.stderr and "--resume" in again.stderr, again.stderr
    assert (run / ckpt.CHECKPOINT).read_bytes() == before
    # --resume with --epochs unchanged: nothing left to do, nothing lost
    same = netc_cli(*args, "--out", str(run), "--resume")
    assert same.returncode == 0, same.stderr
    assert read_metrics(run) == records


def test_cli_errors_are_clear(tmp_path: Path) -> None:
    (tmp_path / "bad.net").write_text('layer { name: "c" type: "Convlution" }\n')
    (tmp_path / "x.pt").write_text("not a checkpoint\n")
    base = ["--epochs", "1", "--batch", "8", "--device", "cpu", "--out", str(tmp_path / "r")]
    cases = [
        (["train", str(tmp_path / "missing.net"), "--data", "digits", *base], 1, "no such file"),
        (["train", str(tmp_path / "bad.net"), "--data", "digits", *base], 1, "Convlution"),
        (["train", str(LENET), "--data", str(tmp_path / "nodata"), *base], 1, "nodata"),
        (
            ["train", str(LENET), "--data", "digits", "--weights", str(tmp_path / "no.pt"), *base],
            1,
            "no such file",
        ),
        (
            [
                *["train", str(LENET), "--data", "digits"],
                "--weights",
                str(tmp_path / "x.pt"),
                *base,
            ],
            1,
            "x.pt",
        ),
        (["train", str(LENET), "--data", "digits", "--optimizer", "rmsprop", *base], 2, "rmsprop"),
        (["train", str(LENET), "--data", "digits", "--epochs", "0", *base[2:]], 2, "--epochs"),
        (["train", str(LENET), "--data", "digits", "--resume", "--force", *base], 2, "contradict"),
    ]
    for args, code, text in cases:
        done = netc_cli(*args)
        assert done.returncode == code, (args, done.stderr)
        assert text in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "r" / ckpt.CHECKPOINT).exists()


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    """Kill a real run once its first checkpoint is on disk, resume it, and compare with a run
    that was never interrupted: the same weights, bit for bit, and the same metrics."""
    epochs = 6
    args = ["train", str(LENET), "--data", "digits", "--labels-per-class", "20"]
    args += ["--epochs", str(epochs), "--batch", "16", "--lr", "0.02", "--device", "cpu"]
    args += ["--seed", "5"]
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "netc", *args, "--out", str(killed)],
        env=ENV,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not (killed / ckpt.CHECKPOINT).exists():
            assert process.poll() is None, "the run ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    at_kill = torch.load(killed / ckpt.CHECKPOINT, weights_only=True)["epoch"]
    assert 1 <= at_kill < epochs  # the kill interrupted the run

    resumed = netc_cli(*args, "--out", str(killed), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {killed} after epoch {at_kill}" in resumed.stdout
    whole = tmp_path / "whole"
    done = netc_cli(*args, "--out", str(whole))
    assert done.returncode == 0, done.stderr

    a = torch.load(killed / ckpt.FINAL, weights_only=True)
    b = torch.load(whole / ckpt.FINAL, weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    def timeless(run: Path) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in r.items() if k not in ("seconds", "train_seconds")}
            for r in read_metrics(run)
        ]

    assert timeless(killed) == timeless(whole)
    assert [r["epoch"] for r in read_metrics(killed)] == list(range(1, epochs + 1))

    # a resume with other settings is refused, and leaves the run as it was
    other = netc_cli(
        *[x if x != "0.02" else "0.03" for x in args], "--out", str(killed), "--resume"
    )
    assert other.returncode == 2 and "other settings" in other.stderr
    assert "lr" in other.stderr


def test_run_folder_is_never_written_over_unasked(tmp_path: Path) -> None:
    assert ckpt.check_run_dir(tmp_path / "new", resume=False, force=False) is False
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "model.pt").write_bytes(b"the user's own file")
    with pytest.raises(ckpt.RunDirError, match=r"model\.pt \(no checkpoint\)"):
        ckpt.check_run_dir(tmp_path / "mine", resume=False, force=False)
    with pytest.raises(ckpt.RunDirError):  # nothing to resume, and a file it would replace
        ckpt.check_run_dir(tmp_path / "mine", resume=True, force=False)
    assert ckpt.check_run_dir(tmp_path / "mine", resume=False, force=True) is False
    # killed before its first checkpoint: --resume starts it again
    (tmp_path / "early").mkdir()
    (tmp_path / "early" / "config.json").write_text("{}")
    assert ckpt.check_run_dir(tmp_path / "early", resume=True, force=False) is False
    (tmp_path / "file").write_text("")
    with pytest.raises(ckpt.RunDirError, match="not a folder"):
        ckpt.check_run_dir(tmp_path / "file", resume=False, force=False)


def test_resume_in_process_extends_a_run_and_refuses_bad_checkpoints(tmp_path: Path) -> None:
    def config(out: Path, epochs: int, resume: bool = False) -> TrainConfig:
        return TrainConfig(
            spec=str(LENET), data="-", epochs=epochs, batch=16, lr=0.05, device="cpu",
            out=str(out), resume=resume, seed=1,
        )  # fmt: skip

    data = synthetic(48, 16)
    train(config(tmp_path / "a", 2), open_dataset=data, progress=False)
    extended = train(config(tmp_path / "a", 3, resume=True), open_dataset=data, progress=False)
    whole = train(config(tmp_path / "b", 3), open_dataset=data, progress=False)
    assert extended.resumed_from == 2
    a, b = extended.model.state_dict(), whole.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(TrainError, match="at epoch 3 already"):
        train(config(tmp_path / "a", 2, resume=True), open_dataset=data, progress=False)
    (tmp_path / "a" / ckpt.CHECKPOINT).write_bytes(b"truncated")
    with pytest.raises(ckpt.RunDirError, match="not a readable checkpoint"):
        train(config(tmp_path / "a", 4, resume=True), open_dataset=data, progress=False)
