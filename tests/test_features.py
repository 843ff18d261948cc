"""`netc features`: activations of a named layer or blob, saved as .npy/.npz (a subprocess per
CLI case), and the probe that finds where a value is computed.

Numbers: REF §3 = zoo/REFERENCE.md §3 (LeNet's 0.9914 and the ip2 logits of test image 0).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import netc
from netc.data.features import extract, probe
from netc.diagnostics import NetcError

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parent.parent
LENET = ROOT / "specs/lenet.net"
REF_LOGITS_0 = [
    -3.0647,
    0.0659,
    0.1572,
    3.6047,
    -3.9565,
    -2.4661,
    -11.2302,
    14.8798,
    -2.3711,
    1.9829,
]


def run(*args: str | Path, zoo: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if zoo is not None:
        env["NETC_ZOO"] = str(zoo)
    return subprocess.run(
        [sys.executable, "-m", "netc", "features", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.fixture(scope="module")
def caffemodel(zoo_dir: Path) -> Path:
    return zoo_dir / "weights/caffe-lenet-mnist/lenet_iter_10000.caffemodel"


def test_lenet_ip1_features_feed_a_linear_classifier(
    tmp_path: Path, zoo_dir: Path, caffemodel: Path
) -> None:
    """Off-the-shelf use: relu1's output (Caffe's ip1 blob after its in-place ReLU) on the 5,000
    training images trains a logistic regression that scores on the 10,000 test images within
    a point of LeNet's own linear head on the same features (ip2: 0.9914, REF §3)."""
    from sklearn.linear_model import LogisticRegression

    for split in ("train", "test"):
        result = run(
            LENET, "--layer", "relu1", "--weights", caffemodel, "--data", "mnist",
            "--split", split, "-o", tmp_path / f"{split}.npy", "--batch", "500", zoo=zoo_dir,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "loaded 8 tensors" in result.stderr
    x_train, y_train = np.load(tmp_path / "train.npy"), np.load(tmp_path / "train.labels.npy")
    x_test, y_test = np.load(tmp_path / "test.npy"), np.load(tmp_path / "test.labels.npy")
    assert x_train.shape == (5_000, 500) and x_test.shape == (10_000, 500)
    assert x_test.dtype == np.float32 and y_test.dtype == np.int64 and x_test.min() >= 0
    classifier = LogisticRegression(max_iter=300).fit(x_train, y_train)
    assert classifier.score(x_test, y_test) >= 0.9914 - 0.01


def test_ip2_features_are_the_reference_logits(
    tmp_path: Path, zoo_dir: Path, caffemodel: Path
) -> None:
    out = tmp_path / "logits.npz"
    result = run(
        LENET, "--layer", "ip2", "--weights", caffemodel, "--data", "mnist", "-o", out, zoo=zoo_dir
    )
    assert result.returncode == 0, result.stderr
    with np.load(out) as archive:
        features, labels, classes = archive["features"], archive["labels"], archive["classes"]
    np.testing.assert_allclose(features[0], REF_LOGITS_0, atol=1e-4)  # REF §3
    assert (features.argmax(1) == labels).mean() == pytest.approx(0.9914, abs=1e-9)  # REF §3
    assert classes.tolist() == [str(d) for d in range(10)]


def test_outputs_are_never_overwritten_without_force(tmp_path: Path, caffemodel: Path) -> None:
    out = tmp_path / "f.npy"
    labels = tmp_path / "f.labels.npy"
    labels.write_text("mine")
    args = (LENET, "--layer", "pool2", "--weights", caffemodel, "--data", "digits", "-o", out,
            "--split", "train", "--labels-per-class", "2")  # fmt: skip
    result = run(*args)
    assert result.returncode == 2 and "f.labels.npy exists; pass --force" in result.stderr
    assert labels.read_text() == "mine" and not out.exists()
    result = run(*args, "--force")
    assert result.returncode == 0, result.stderr
    assert np.load(out).shape == (20, 50, 4, 4)  # 2 digits a class; pool2 is 50×4×4
    assert np.bincount(np.load(labels)).tolist() == [2] * 10


@pytest.mark.parametrize(
    "args, message",
    [
        (("--layer", "ip3"), 'no layer or blob named "ip3"'),
        (("--layer", "ip1", "-o", "x.txt"), "give a .npy or .npz file name"),
        (("--layer", "ip1", "--weights", "missing.caffemodel"), "missing.caffemodel: no such file"),
        (("--layer", "ip1", "--data", "nowhere"), "nowhere: no such folder"),
        (("--layer", "ip1", "--device", "tpu"), "--device 'tpu'"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    base = {"--data": "digits", "-o": str(tmp_path / "f.npy")}
    extra = list(args)
    for key, value in base.items():
        if key not in extra:
            extra += [key, value]
    result = run(LENET, *extra)
    assert result.returncode in (1, 2), result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


# ---- the probe: layers, blobs, and values without a module ----

SPEC = """
input: "data" input_shape { dim: 2 dim: 1 dim: 6 dim: 6 }
layer { name: "conv" type: "Convolution" num_output: 2 kernel_size: 3 }
layer { name: "relu" type: "ReLU" inplace: true }
layer { name: "flat" type: "Flatten" }
layer { name: "fc" type: "InnerProduct" num_output: 3 }
layer { name: "sum" type: "Eltwise" bottom: "fc" bottom: "fc" }
"""


def test_probe_reads_layers_blobs_and_inline_values() -> None:
    graph = netc.load(SPEC)
    assert probe(graph, "conv").description == "conv output"  # before the in-place ReLU
    assert probe(graph, "relu").description == "relu output"
    assert probe(graph, "flat").description == "fc input"  # Flatten is inline in forward
    assert probe(graph, "sum").description == "network output"
    with pytest.raises(NetcError, match='did you mean "conv"'):
        probe(graph, "conv_")
    torch.manual_seed(0)
    model = graph.to_torch().eval()
    x = torch.randn(2, 1, 6, 6)
    batches = [(x, torch.tensor([0, 1]))]
    conv, _ = extract(model, graph, "conv", batches)
    relu, _ = extract(model, graph, "relu", batches)
    flat, labels = extract(model, graph, "flat", batches)
    total, _ = extract(model, graph, "sum", batches)
    with torch.no_grad():
        expected = model.conv(x)
    np.testing.assert_allclose(conv, expected.numpy(), rtol=1e-6)
    assert conv.min() < 0 and relu.min() == 0  # the hook copies before the in-place ReLU runs
    np.testing.assert_allclose(flat, np.maximum(conv, 0).reshape(2, -1), rtol=1e-6)
    np.testing.assert_allclose(
        total,
        2 * (flat @ model.fc.weight.detach().numpy().T + model.fc.bias.detach().numpy()),
        rtol=1e-5,
    )
    assert labels.tolist() == [0, 1]


def test_probe_in_caffe_googlenet(zoo_dir: Path) -> None:
    """Caffe's names with slashes, and a Concat (inline) read at the next module's input; shapes
    from REFERENCE.md §1 (inception 4a: 512 channels at 14×14)."""
    graph = netc.load(zoo_dir / "caffe/bvlc_googlenet.deploy.prototxt", batch=1)
    assert probe(graph, "inception_4a/output").description == "inception_4b/1x1 input"
    torch.manual_seed(0)
    model = graph.to_torch().eval()
    batch = [(torch.randn(1, 3, 224, 224), torch.tensor([0]))]
    four_a, _ = extract(model, graph, "inception_4a/output", batch)
    pool5, _ = extract(model, graph, "pool5/7x7_s1", batch)
    assert four_a.shape == (1, 512, 14, 14) and pool5.shape == (1, 1024, 1, 1)
