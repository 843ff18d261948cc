"""Regression tests for the hardening issue: each defect that an adversarial run found, named
after it, plus the differential test (torch ≡ ONNX ≡ an independent numpy forward) over
generated valid Caffe networks with in-place layers and views."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from reference_forward import forward
from strategies import caffe_networks

import netc
from netc.analysis.core import analyze

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
from netc.backends.onnx import build_model  # noqa: E402

CLI = [sys.executable, "-m", "netc"]


def run(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, check=False, cwd=cwd, timeout=timeout
    )


# ---- silent wrong values: a view returned by forward, rewritten by a later in-place ReLU ------


def _outputs_three_ways(text: str, seed: int = 0) -> tuple[list[np.ndarray], ...]:
    """The network's outputs from the torch module, the ONNX model and the numpy reference,
    all with the same (seeded) weights."""
    graph = netc.load(text)
    model = build_model(graph, seed=seed)
    weights = {i.name: _array(i) for i in model.graph.initializer}
    module = graph.to_torch().eval()
    state = module.state_dict()
    module.load_state_dict({k: torch.from_numpy(weights[k].copy()) for k in state}, strict=True)
    rng = np.random.default_rng(seed)
    feeds = {
        i.name: rng.standard_normal(graph.tensors[i.name].shape).astype(np.float32)
        for i in model.graph.input
    }
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    by_onnx = session.run(None, feeds)
    with torch.no_grad():
        got = module(*[torch.from_numpy(feeds[i.name]) for i in model.graph.input])
    by_torch = [t.numpy() for t in (got if isinstance(got, tuple) else (got,))]
    values = forward(graph, feeds, weights)
    by_reference = [values[o.name.removesuffix(":output")] for o in model.graph.output]
    return by_torch, by_onnx, by_reference


def _array(initializer: Any) -> np.ndarray:
    from onnx import numpy_helper

    return np.asarray(numpy_helper.to_array(initializer), dtype=np.float32)


def _agree(outputs: tuple[list[np.ndarray], ...], tolerance: float = 1e-5) -> None:
    by_torch, by_onnx, by_reference = outputs
    assert len(by_torch) == len(by_onnx) == len(by_reference)
    for t, o, r in zip(by_torch, by_onnx, by_reference, strict=True):
        scale = max(1.0, float(np.abs(r).max()))
        assert np.abs(t - r).max() <= tolerance * scale, "torch differs from the reference"
        assert np.abs(o - r).max() <= tolerance * scale, "ONNX differs from the reference"


VIEW_THEN_INPLACE = """
input: "data" input_shape {{ dim: 1 dim: 2 dim: 4 dim: 4 }}
layer {{ name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param {{ num_output: 2 kernel_size: 1 }} }}
{view}
layer {{ name: "relu" type: "ReLU" bottom: "conv" top: "conv" }}
layer {{ name: "pool" type: "Pooling" bottom: "conv" top: "pool"
        pooling_param {{ pool: MAX kernel_size: 2 stride: 2 }} }}
"""


@pytest.mark.parametrize(
    "view",
    [
        'layer { name: "slice" type: "Slice" bottom: "conv" top: "a" top: "b"'
        " slice_param { axis: 1 slice_point: 1 } }",
        'layer { name: "flat" type: "Flatten" bottom: "conv" top: "flat" }',
        'layer { name: "reshape" type: "Reshape" bottom: "conv" top: "flat"'
        " reshape_param { shape { dim: 0 dim: -1 } } }",
    ],
    ids=["slice", "flatten", "reshape"],
)
def test_view_returned_by_forward_is_not_rewritten_by_a_later_inplace_relu(view: str) -> None:
    outputs = _outputs_three_ways(VIEW_THEN_INPLACE.format(view=view))
    # the view's values have negatives (they were taken before the ReLU), and all three agree
    assert any((o < 0).any() for o in outputs[2][:-1])
    _agree(outputs)


# Generated valid Caffe networks: a chain of layers over the blobs made so far, with in-place
# ReLUs, views (Slice, Flatten), Split, Concat and Eltwise; every output compared three ways.


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(caffe_networks())
def test_torch_onnx_and_reference_agree_on_generated_networks(text: str) -> None:
    by_torch, by_onnx, _ = _outputs_three_ways(text)
    graph = netc.load(text)
    # Caffe's outputs are the tops nothing reads (a Split's unread top included); a backend
    # may return one tensor for several of them when they are the same value (Split's tops)
    feeds, weights = _feeds_and_weights(graph)
    values = forward(graph, feeds, weights)
    # (an input nothing reads is an output in Caffe too; the backends take no argument for it)
    outputs = [t for t in graph.outputs if t not in graph.inputs]
    expected = [values[t] for t in outputs]
    for name, got in (("torch", by_torch), ("ONNX", by_onnx)):
        for i, want in enumerate(expected):
            assert any(_close(g, want) for g in got), f"{name} lacks output {outputs[i]}"
        for g in got:
            assert any(_close(g, want) for want in expected), f"{name} has an extra output"


def _feeds_and_weights(graph: Any, seed: int = 0) -> tuple[dict[str, Any], dict[str, Any]]:
    model = build_model(graph, seed=seed)
    rng = np.random.default_rng(seed)
    feeds = {
        i.name: rng.standard_normal(graph.tensors[i.name].shape).astype(np.float32)
        for i in model.graph.input
    }
    return feeds, {i.name: _array(i) for i in model.graph.initializer}


def _close(got: np.ndarray, want: np.ndarray, tolerance: float = 1e-5) -> bool:
    scale = max(1.0, float(np.abs(want).max()))
    return got.shape == want.shape and float(np.abs(got - want).max()) <= tolerance * scale


def test_inputs_read_out_of_order_reach_their_own_arguments() -> None:
    """forward(a, b) applied the convolution of `b` to `a` when `b` was read first."""
    text = (
        'input: "a" input_shape { dim: 1 dim: 2 dim: 4 dim: 4 }\n'
        'input: "b" input_shape { dim: 1 dim: 2 dim: 4 dim: 4 }\n'
        'layer { name: "cb" type: "Convolution" bottom: "b" top: "cb" '
        "convolution_param { num_output: 2 kernel_size: 1 } }\n"
        'layer { name: "cat" type: "Concat" bottom: "cb" bottom: "a" top: "cat" }\n'
    )
    _agree(_outputs_three_ways(text))


def test_an_unread_split_top_is_a_network_output() -> None:
    """Caffe's rule: a top nothing reads is an output, a Split's too; both backends dropped it."""
    text = (
        'input: "data" input_shape { dim: 1 dim: 2 dim: 4 dim: 4 }\n'
        'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
        "convolution_param { num_output: 2 kernel_size: 1 } }\n"
        'layer { name: "s" type: "Split" bottom: "c" top: "sa" top: "sb" }\n'
        'layer { name: "r" type: "ReLU" bottom: "sa" top: "sa" }\n'
    )
    graph = netc.load(text)
    assert sorted(graph.outputs) == ["sa#1", "sb"]
    by_torch, by_onnx, _ = _outputs_three_ways(text)
    feeds, weights = _feeds_and_weights(graph)
    values = forward(graph, feeds, weights)
    for got in (by_torch, by_onnx):
        assert len(got) == 2  # in the order their layers run: Split, then ReLU
        assert _close(got[0], values["sb"]) and _close(got[1], values["sa#1"])
        assert (got[0] < 0).any()  # the convolution's output, not rectified by the in-place ReLU


# ---- linear analysis: in-place chains and wide Split ----------------------------------------


def test_a_20000_layer_inplace_chain_analyzes_and_renders_in_linear_time(tmp_path: Path) -> None:
    """Was quadratic: 27 s at 4,000 layers, 106 s at 8,000 (about 11 minutes at 20,000).
    Linear, it takes a few seconds; the bound only catches a return to quadratic."""
    spec = tmp_path / "chain.net"
    spec.write_text(
        'input: "data" input_shape { dim: 1 dim: 4 dim: 4 dim: 4 }\n'
        'layer { name: "c" type: "Convolution" num_output: 4 kernel_size: 1 }\n'
        'repeat i in 1..20000 { layer { name: "r${i}" type: "ReLU" inplace: true } }\n'
    )
    start = time.perf_counter()
    graph = netc.load(spec)
    result = analyze(graph)
    from netc.render.dot import RenderOptions, to_dot

    to_dot(graph, RenderOptions())
    elapsed = time.perf_counter() - start
    assert len(result.rows) == 20_002
    # every ReLU writes into the convolution's memory: one activation tensor of 64 floats
    assert result.totals.forward_activation_bytes == (64 + 64) * 4  # data + c
    assert elapsed < 90, elapsed


def test_a_split_with_20000_tops_analyzes_in_linear_time() -> None:
    tops = " ".join(f'top: "s{i}"' for i in range(20_000))
    text = (
        'input: "data" input_shape { dim: 1 dim: 2 dim: 4 dim: 4 }\n'
        f'layer {{ name: "sp" type: "Split" bottom: "data" {tops} }}\n'
    )
    start = time.perf_counter()
    result = analyze(netc.load(text))
    assert len(result.outputs) == 20_000
    assert time.perf_counter() - start < 60


# ---- Caffe's weight sharing: param { name: } -----------------------------------------------

# BVLC's examples/siamese/mnist_siamese_train_test.prototxt, as its deploy view: two LeNet
# towers whose layers name the same params ("conv1_w", ...), fed by one Slice of the pair.
SIAMESE_HEAD = """
name: "mnist_siamese"
input: "pair_data" input_shape { dim: 2 dim: 2 dim: 28 dim: 28 }
layer { name: "slice_pair" type: "Slice" bottom: "pair_data" top: "data" top: "data_p"
        slice_param { slice_dim: 1 slice_point: 1 } }
"""
TOWER = """
layer { name: "conv1{s}" type: "Convolution" bottom: "{bottom}" top: "conv1{s}"
        param { name: "conv1_w" lr_mult: 1 } param { name: "conv1_b" lr_mult: 2 }
        convolution_param { num_output: 20 kernel_size: 5 stride: 1 } }
layer { name: "pool1{s}" type: "Pooling" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "conv2{s}" type: "Convolution"
        param { name: "conv2_w" lr_mult: 1 } param { name: "conv2_b" lr_mult: 2 }
        convolution_param { num_output: 50 kernel_size: 5 stride: 1 } }
layer { name: "pool2{s}" type: "Pooling" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "ip1{s}" type: "InnerProduct"
        param { name: "ip1_w" lr_mult: 1 } param { name: "ip1_b" lr_mult: 2 }
        inner_product_param { num_output: 500 } }
layer { name: "relu1{s}" type: "ReLU" inplace: true }
layer { name: "ip2{s}" type: "InnerProduct"
        param { name: "ip2_w" lr_mult: {ip2_lr} } param { name: "ip2_b" lr_mult: 2 }
        inner_product_param { num_output: 10 } }
layer { name: "feat{s}" type: "InnerProduct"
        param { name: "feat_w" lr_mult: 1 } param { name: "feat_b" lr_mult: 2 }
        inner_product_param { num_output: {feat} } }
"""
# One tower's parameters, counted by hand from Caffe's blob shapes (28 -> conv5 24 -> pool 12
# -> conv5 8 -> pool 4): conv1 20·1·5·5+20, conv2 50·20·5·5+50, ip1 500·800+500, ip2 10·500+10,
# feat 2·10+2. Caffe holds each shared blob once: the network has exactly one tower's worth.
SIAMESE_PARAMS = 520 + 25_050 + 400_500 + 5_010 + 22


def _siamese_text(feat: tuple[int, int] = (2, 2), ip2_lr: tuple[int, int] = (1, 1)) -> str:
    towers = [
        TOWER.replace("{s}", s)
        .replace("{bottom}", bottom)
        .replace("{feat}", str(n))
        .replace("{ip2_lr}", str(lr))
        for s, bottom, n, lr in zip(("", "_p"), ("data", "data_p"), feat, ip2_lr, strict=True)
    ]
    return SIAMESE_HEAD + "".join(towers)


def test_shared_caffe_params_are_counted_once() -> None:
    graph = netc.load(_siamese_text())
    assert graph.node("conv1_p").blobs[0].shared_from == ("conv1", "weight")
    assert graph.params_count() == SIAMESE_PARAMS  # was twice that
    result = analyze(graph)
    assert result.totals.params == SIAMESE_PARAMS
    assert result.training.gradients == SIAMESE_PARAMS * 4


def test_shared_caffe_params_are_one_tensor_in_torch_and_one_initializer_in_onnx() -> None:
    graph = netc.load(_siamese_text())
    module = graph.to_torch().eval()
    assert module.get_parameter("conv1_p.weight") is module.get_parameter("conv1.weight")
    assert sum(p.numel() for p in module.parameters()) == SIAMESE_PARAMS
    x = torch.randn(2, 2, 28, 28)
    x[:, 1] = x[:, 0]  # the same image in both towers: the same features
    with torch.no_grad():
        feat, feat_p = module(x)
    assert torch.equal(feat, feat_p)
    model = build_model(graph)
    names = [i.name for i in model.graph.initializer if "." in i.name]
    assert sorted(names) == sorted(
        f"{layer}.{blob}"
        for layer in ("conv1", "conv2", "ip1", "ip2", "feat")
        for blob in ("weight", "bias")
    )
    used = {name for node in model.graph.node for name in node.input}
    assert "conv1.weight" in used and "conv1_p.weight" not in used


def test_shared_caffe_params_must_agree_in_shape_and_lr_mult() -> None:
    text = _siamese_text()
    bad_shape = text.replace("num_output: 2 }", "num_output: 3 }", 1)  # feat's first tower
    with pytest.raises(netc.NetcError, match='shares param "feat_w"'):
        netc.load(bad_shape)
    bad_lr = text.replace(
        'param { name: "ip2_w" lr_mult: 1 }', 'param { name: "ip2_w" lr_mult: 3 }', 1
    )
    with pytest.raises(netc.NetcError, match='shared param "ip2_w" has mismatched lr_mult'):
        netc.load(bad_lr)


def test_shared_caffe_params_take_the_owners_weights(tmp_path: Path) -> None:
    """A state_dict whose sharer entries disagree with the owner's still gives one tensor:
    the owner's, as Caffe's ShareData makes it."""
    from netc.weights import match

    graph = netc.load(_siamese_text())
    module = graph.to_torch()
    state = {k: v.clone() for k, v in module.state_dict().items()}
    state["conv1_p.weight"] = torch.zeros_like(state["conv1_p.weight"])
    path = tmp_path / "w.pt"
    torch.save(state, path)
    matched = match(path, graph)
    assert np.array_equal(matched.arrays["conv1_p.weight"], matched.arrays["conv1.weight"])


# ---- outputs: special files, links, temporaries, the user's own files ------------------------

SMALL = 'input: "data" input_shape { dim: 1 dim: 1 dim: 8 dim: 8 }\nlayer { name: "c" type: "Convolution" num_output: 2 kernel_size: 3 }\n'


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "net.net"
    path.write_text(SMALL)
    return path


def test_output_to_dev_null_keeps_the_device(spec: Path) -> None:
    result = run("render", str(spec), "-o", "/dev/null", "--format", "dot")
    assert result.returncode == 0, result.stderr
    assert Path("/dev/null").is_char_device()


def test_output_through_a_symlink_writes_its_target(spec: Path, tmp_path: Path) -> None:
    target = tmp_path / "real.dot"
    link = tmp_path / "link.dot"
    link.symlink_to(target.name)
    assert run("render", str(spec), "-o", str(link)).returncode == 0
    assert link.is_symlink() and target.read_text().startswith("// ")


def test_output_to_a_fifo_writes_into_it(spec: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.dot"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    time.sleep(0.2)
    result = run("render", str(spec), "-o", str(fifo))
    out, _ = reader.communicate(timeout=30)
    assert result.returncode == 0, result.stderr
    assert fifo.is_fifo() and out.startswith(b"// ")


def test_fmt_write_on_a_symlink_formats_the_file_it_names(tmp_path: Path) -> None:
    real = tmp_path / "real.net"
    real.write_text(SMALL.replace("  ", " ").replace("layer { name", "layer {  name"))
    link = tmp_path / "link.net"
    link.symlink_to(real.name)
    assert run("fmt", "--write", str(link)).returncode == 0
    assert link.is_symlink()
    assert run("fmt", "--check", str(real)).returncode == 0


def test_render_never_overwrites_a_file_it_did_not_write(spec: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib.net"
    lib.write_text("# templates\n")
    main = tmp_path / "main.net"
    main.write_text('import "lib.net"\n' + SMALL)
    for target in (lib, main):  # the spec's own import, the spec itself
        before = target.read_text()
        result = run("render", str(main), "-o", str(target), "--format", "dot", "--force")
        assert result.returncode == 2 and "is the input file or one it imports" in result.stderr
        assert target.read_text() == before
    mine = tmp_path / "picture.svg"
    mine.write_text("<svg>mine</svg>")
    result = run("render", str(spec), "-o", str(mine))
    assert result.returncode == 2 and "--force" in result.stderr
    assert mine.read_text() == "<svg>mine</svg>"


@pytest.mark.parametrize("kind", ["dot", "svg", "png", "pdf"])
def test_render_replaces_its_own_drawing(spec: Path, tmp_path: Path, kind: str) -> None:
    out = tmp_path / f"net.{kind}"
    for _ in range(2):  # the second run replaces the first's output without --force
        result = run("render", str(spec), "-o", str(out))
        assert result.returncode == 0, result.stderr


def test_a_temporary_left_by_a_killed_writer_is_removed_by_the_next_write(
    spec: Path, tmp_path: Path
) -> None:
    out = tmp_path / "net.dot"
    # what a writer killed mid-write leaves: its pid no longer runs
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".net.dot.netc-{dead.pid}-0badc0de.tmp"
    stale.write_bytes(b"x" * 1000)
    assert run("render", str(spec), "-o", str(out)).returncode == 0
    assert not stale.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# ---- exit 70 where a diagnostic belongs ------------------------------------------------------


def test_convert_into_a_missing_folder_is_a_clean_error(spec: Path, tmp_path: Path) -> None:
    result = run("convert", str(spec), "-o", str(tmp_path / "missing" / "x.net"))
    assert result.returncode == 1, result.stderr
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr


def test_build_with_a_300_character_name_is_a_clean_error(spec: Path, tmp_path: Path) -> None:
    result = run("build", str(spec), "--target", "torch", "-o", str(tmp_path / ("x" * 300 + ".py")))
    assert result.returncode == 1, result.stderr
    assert "File name too long" in result.stderr and "Traceback" not in result.stderr


def test_an_import_of_a_huge_file_is_a_positioned_error(tmp_path: Path) -> None:
    """A sparse 6 GiB import was read whole before the 4 MiB limit was checked."""
    with (tmp_path / "big.net").open("wb") as handle:
        handle.truncate(6 * 1024**3)
    main = tmp_path / "main.net"
    main.write_text('import "big.net"\n' + SMALL)
    result = run("check", str(main), timeout=30)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"{main}:1:") and "limit" in result.stderr, result.stderr


def test_a_full_disk_while_saving_a_checkpoint_is_a_diagnostic(tmp_path: Path) -> None:
    """torch's writer reports a full disk as a RuntimeError (inline_container.cc): exit 70."""
    from netc.training.checkpoints import save_torch

    with pytest.raises(OSError, match="No space left"):
        save_torch(Path("/dev/full"), {"w": torch.zeros(100_000)})  # every write: ENOSPC
    message = (
        "[enforce fail at inline_container.cc:778] . PytorchStreamWriter failed writing file "
        "data/0: file write failed"
    )  # what torch raises when its own writer meets the full disk

    def full(obj: object, handle: object) -> None:
        raise RuntimeError(message)

    original, torch.save = torch.save, full
    try:
        with pytest.raises(OSError, match="could not write the checkpoint"):
            save_torch(tmp_path / "ckpt.pt", {"w": torch.zeros(10)})
    finally:
        torch.save = original
    assert not list(tmp_path.iterdir())  # no temporary left behind


@pytest.mark.parametrize(
    "command",
    [
        ["build", "--target", "torch", "-o", "{out}.py"],
        ["build", "--target", "onnx", "-o", "{out}.onnx"],
        ["render", "--format", "dot", "-o", "{out}.dot"],
        ["convert", "-o", "{out}.prototxt"],
        ["fmt", "--write"],
    ],
    ids=["build-torch", "build-onnx", "render", "convert", "fmt-write"],
)
def test_writing_into_a_read_only_folder_is_a_clean_error(
    spec: Path, tmp_path: Path, command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """fmt --write and -o into a read-only folder exited 70. (Tests run as root here, which
    ignores folder permissions, so the refusal is simulated where every write ends.)"""
    from netc.cli.app import main

    def refuse(source: object, target: object) -> None:
        raise PermissionError(13, "Permission denied", str(target))

    monkeypatch.setattr(os, "replace", refuse)
    out = str(tmp_path / "out")
    monkeypatch.setattr(
        sys,
        "argv",
        ["netc", command[0], str(spec), *[a.replace("{out}", out) for a in command[1:]]],
    )
    if command[0] == "fmt":  # make the file need formatting, so fmt writes it
        spec.write_text(spec.read_text().replace("name:", "name :"))
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 1, err
    assert "Permission denied" in err and "internal error" not in err, err


def _check_fails_at(path: Path, text: str, line: int) -> str:
    """`netc check` of `text` exits 1 with a diagnostic positioned on `line`; its stderr."""
    path.write_text(text)
    result = run("check", str(path))
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"{path}:{line}:"), result.stderr
    return result.stderr


def test_lr_mult_nan_is_positioned(tmp_path: Path) -> None:
    stderr = _check_fails_at(tmp_path / "t.net", SMALL + 'tune "c" { lr_mult: nan }\n', 3)
    assert "Symbol" not in stderr


# ---- limits: names, files ----------------------------------------------------------------------


def test_long_names_multiplied_by_templates_hit_a_limit() -> None:
    """A 1.4 kB spec whose names grow with each template level wrote 764 MB of JSON."""
    long = "n" * 900
    text = (
        'input: "data" input_shape { dim: 1 dim: 1 dim: 2 dim: 2 }\n'
        f'define a() {{ repeat i in 1..40 {{ layer {{ name: "{long}${{i}}" type: "ReLU" }} }} }}\n'
        'define b() { repeat i in 1..40 { a "x${i}" { } } }\n'
        'repeat i in 1..30 { b "y${i}" { } }\n'
    )
    with pytest.raises(netc.NetcError, match=r"names add up to more than|characters exceeds"):
        netc.load(text)


def test_check_refuses_a_huge_or_special_file_before_reading_it(tmp_path: Path) -> None:
    sparse = tmp_path / "big.net"
    with sparse.open("wb") as handle:
        handle.truncate(6 * 1024**3)  # 6 GiB of holes: reading it whole would exhaust memory
    for path in (sparse, Path("/dev/zero")):
        result = run("check", str(path), timeout=30)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr


# ---- weights readers refuse what they cannot hold ------------------------------------------


def test_an_npz_zip_bomb_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    import zipfile

    from netc.weights.sources import NPZ_MIN_BUDGET, read_flat

    bomb = tmp_path / "bomb.npz"
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1, np.float32))
    count = (NPZ_MIN_BUDGET + 2**20) // 4
    zeros = bytes(2**20)
    with (
        zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("w.npy", "w", force_zip64=True) as member,
    ):
        np.lib.format.write_array_header_1_0(member, {**header, "shape": (count,)})
        for _ in range(count * 4 // len(zeros) + 1):
            member.write(zeros)
    assert bomb.stat().st_size < 2 * 2**20  # a megabyte that unpacks to over 256 MiB
    with pytest.raises(netc.NetcError, match="zip bomb"):
        read_flat(bomb)


@pytest.mark.parametrize("kind", ["complex", "not-npy"])
def test_an_npz_that_is_not_real_weights_is_refused(tmp_path: Path, kind: str) -> None:
    import zipfile

    from netc.weights.sources import read_flat

    path = tmp_path / "w.npz"
    if kind == "complex":
        np.savez(path, w=np.ones(3, np.complex64))
        message = "not real numbers"
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("w.txt", "1 2 3")
        message = "not a .npy array"
    with pytest.raises(netc.NetcError, match=message):
        read_flat(path)


# ---- weights in dtypes and layouts numpy lacks: read exactly, or refused with a diagnostic ------


def _state_dict() -> dict[str, Any]:
    torch.manual_seed(0)
    return {"conv.weight": torch.randn(4, 1, 3, 3), "conv.bias": torch.randn(4)}


# torch itself is the reference: each conversion below is torch's own widening to float32
WIDENINGS = {
    "bfloat16": lambda t: t.bfloat16(),
    "float8_e4m3fn": lambda t: t.to(torch.float8_e4m3fn),
    "float8_e5m2": lambda t: t.to(torch.float8_e5m2),
    "sparse": lambda t: t.to_sparse(),
    "quantized": lambda t: torch.quantize_per_tensor(t, 0.05, 0, torch.qint8),
}


@pytest.mark.parametrize("kind", sorted(WIDENINGS))
def test_torch_weights_in_dtypes_numpy_lacks_are_read_exactly(tmp_path: Path, kind: str) -> None:
    """bf16/float8/sparse/quantized .pt weights exited 70 in `build --target onnx --weights`."""
    import warnings

    from netc.weights.sources import read_flat

    with warnings.catch_warnings():  # quantized tensors are deprecated in torch 2.10+
        warnings.simplefilter("ignore")
        saved = {k: WIDENINGS[kind](v) for k, v in _state_dict().items()}
    torch.save(saved, tmp_path / "w.pt")
    arrays = read_flat(tmp_path / "w.pt")
    for key, tensor in saved.items():
        expected = tensor.to_dense() if tensor.layout != torch.strided else tensor
        expected = expected.dequantize() if expected.is_quantized else expected
        np.testing.assert_array_equal(arrays[key], expected.float().numpy())
        assert arrays[key].dtype == np.float32


@pytest.mark.parametrize("dtype", ["bfloat16", "float8_e4m3fn", "float8_e5m2"])
def test_safetensors_in_dtypes_numpy_lacks_are_read_exactly(tmp_path: Path, dtype: str) -> None:
    """F8 safetensors exited 70; every one of the 256 float8 codes must decode as torch does."""
    from safetensors.torch import save_file

    from netc.weights.sources import read_flat

    if dtype == "bfloat16":
        values = torch.randn(64).bfloat16()
    else:  # every bit pattern, NaNs and infinities included
        values = torch.arange(256, dtype=torch.uint8).view(getattr(torch, dtype))
    save_file({"w": values}, str(tmp_path / "w.safetensors"))
    got = read_flat(tmp_path / "w.safetensors")["w"]
    np.testing.assert_array_equal(got, values.float().numpy())  # NaNs compare equal here


def test_meta_and_sparse_bomb_weights_are_refused(tmp_path: Path, spec: Path) -> None:
    from netc.weights.sources import read_flat

    torch.save({k: v.to("meta") for k, v in _state_dict().items()}, tmp_path / "meta.pt")
    weights, output = str(tmp_path / "meta.pt"), str(tmp_path / "m.onnx")
    result = run("build", str(spec), "--target", "onnx", "--weights", weights, "-o", output)
    assert result.returncode == 1, result.stderr
    assert "meta tensor" in result.stderr and "Traceback" not in result.stderr
    huge = torch.sparse_coo_tensor([[0], [0]], [1.0], (2**17, 2**17))  # 64 GiB dense
    torch.save({"w": huge}, tmp_path / "bomb.pt")
    with pytest.raises(netc.NetcError, match="sparse"):
        read_flat(tmp_path / "bomb.pt")


def _unpacked_caffemodel(values: np.ndarray, split_at: int | None = None) -> bytes:
    """A .caffemodel whose blob stores its floats unpacked (tag byte 0x2d = field 5, fixed32,
    then 4 bytes each), as Caffe wrote them before 2015; `split_at` puts a shape field between
    two runs, which protobuf allows and which must read as one field."""
    from caffemodel_writer import field, varint

    def unpacked(part: np.ndarray) -> bytes:
        rows = np.empty((part.size, 5), np.uint8)
        rows[:, 0] = 0x2D
        rows[:, 1:] = part.astype("<f4").view(np.uint8).reshape(-1, 4)
        return rows.tobytes()

    shape = field(7, varint(1 << 3) + varint(values.size))  # BlobShape { dim: N }
    cut = values.size if split_at is None else split_at
    blob = unpacked(values[:cut]) + shape + unpacked(values[cut:])
    layer = field(1, b"fc") + field(2, b"InnerProduct") + field(7, blob)
    return field(100, layer)


def test_an_unpacked_20mb_caffemodel_reads_in_bounded_time_and_memory(tmp_path: Path) -> None:
    """A 20 MB .caffemodel with unpacked floats took 19 s and 1.5 GB (one object per float)."""
    import tracemalloc

    from netc.weights.caffe import read_caffemodel

    values = np.arange(4_000_000, dtype=np.float32)
    path = tmp_path / "unpacked.caffemodel"
    path.write_bytes(_unpacked_caffemodel(values))
    assert path.stat().st_size > 20_000_000
    tracemalloc.start()
    start = time.perf_counter()
    _, layers = read_caffemodel(path)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(layers[0].blobs[0], values)
    # the file, its 16 MB of floats and their array: a few times the file, never 70 times
    assert peak < 6 * path.stat().st_size, f"{peak:,} bytes"
    assert seconds < 10, f"{seconds:.1f} s"  # 0.16 s measured; per-float objects took 13 s


def test_unpacked_float_runs_split_by_another_field_read_in_order(tmp_path: Path) -> None:
    from netc.weights.caffe import read_caffemodel

    values = np.linspace(-1, 1, 300, dtype=np.float32)
    for split in (0, 1, 2, 150, 299):
        path = tmp_path / f"split{split}.caffemodel"
        path.write_bytes(_unpacked_caffemodel(values, split))
        np.testing.assert_array_equal(read_caffemodel(path)[1][0].blobs[0], values)


# ---- netc serve --------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Any:
    import threading

    from netc.serve.server import make_server
    from netc.serve.workspace import Workspace

    (tmp_path / "a.net").write_text(SMALL)
    server = make_server(Workspace(tmp_path), port=0, log=lambda _: None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, tmp_path
    server.shutdown()
    server.server_close()


def _request(
    server: Any, method: str, path: str, body: bytes | None = None, host: str | None = None
) -> tuple[int, bytes]:
    import http.client

    port = server.server_address[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    headers = {"Content-Type": "application/json"}
    connection.putrequest(method, path, skip_host=host is not None)
    if host is not None:
        connection.putheader("Host", host)
    for k, v in headers.items():
        connection.putheader(k, v)
    connection.putheader("Content-Length", str(len(body or b"")))
    connection.endheaders(body)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def test_serve_host_with_userinfo_is_refused(served: Any) -> None:
    server, _ = served
    port = server.server_address[1]
    status, _ = _request(server, "GET", "/api/files", host=f"localhost:{port}@evil.com")
    assert status in (400, 403)
    status, _ = _request(server, "GET", "/api/files", host=f"localhost:{port}")
    assert status == 200


def test_serve_non_ascii_digits_are_a_400_not_a_500(served: Any) -> None:
    import json

    server, _ = served
    body = json.dumps({"text": SMALL, "batch": "²"}).encode()
    status, data = _request(server, "POST", "/api/analyze", body)
    assert status == 400, data


def test_serve_a_fifo_named_like_a_spec_never_blocks_saves(served: Any) -> None:
    import json

    server, folder = served
    os.mkfifo(folder / "pipe.net")
    body = json.dumps({"text": SMALL, "etag": None}).encode()
    start = time.perf_counter()
    status, _ = _request(server, "PUT", "/api/file?path=pipe.net", body)
    assert status == 403
    status, _ = _request(server, "GET", "/api/file?path=pipe.net")
    assert status in (403, 404)
    status, _ = _request(server, "PUT", "/api/file?path=b.net", body)  # a later save goes through
    assert status == 200
    assert time.perf_counter() - start < 10
    assert type(server).request_queue_size >= 128


def test_serve_a_small_request_is_answered_while_slow_analyses_hold_the_slots(served: Any) -> None:
    """Four slow analyses filled the four slots and a small request got 503 after 30 s."""
    import json
    import threading

    from netc.serve.admission import Admission

    server, _ = served
    admission: Admission = server.app.admission
    release = threading.Event()
    entered = threading.Semaphore(0)

    def slow() -> None:
        with admission.slot(small=False):
            entered.release()
            release.wait(30)

    workers = [threading.Thread(target=slow) for _ in range(admission.slots + 2)]
    for worker in workers:
        worker.start()
    for _ in range(admission.slots - admission.reserved_for_small):
        assert entered.acquire(timeout=30)
    while admission.waiting() < 3:  # every large slot is held and three more queue behind them
        time.sleep(0.01)
    try:
        start = time.perf_counter()
        status, data = _request(
            server, "POST", "/api/analyze", json.dumps({"text": SMALL}).encode()
        )
        assert status == 200, data
        assert time.perf_counter() - start < 10
    finally:
        release.set()
        for worker in workers:
            worker.join(30)
    assert admission.waiting() == 0


def test_admission_serves_in_arrival_order_and_bounds_the_queue() -> None:
    import threading

    from netc.serve.admission import Admission, Busy

    admission = Admission(slots=2, reserved_for_small=1, max_waiting=3, max_wait_s=30)
    order: list[str] = []
    release = threading.Event()

    def request(name: str, small: bool) -> None:
        with admission.slot(small):
            order.append(name)
            release.wait(30)

    first = threading.Thread(target=request, args=("large0", False))
    first.start()
    while not order:
        time.sleep(0.01)
    waiters = []
    for name, small in (("large1", False), ("large2", False), ("small", True)):
        waiters.append(threading.Thread(target=request, args=(name, small)))
        waiters[-1].start()
        while admission.waiting() < len(waiters) and name != "small":
            time.sleep(0.01)
    while order[-1] != "small":  # the small one passes the large ones the reserve holds back
        time.sleep(0.01)
    assert order == ["large0", "small"]
    with pytest.raises(Busy):  # two large wait; fill the queue to its bound of three
        admission.max_waiting = admission.waiting()
        with admission.slot(False):
            pass
    admission.max_waiting = 3
    release.set()
    for thread in [first, *waiters]:
        thread.join(30)
    assert order == ["large0", "small", "large1", "large2"]  # large ones in arrival order


def test_admission_gives_up_after_its_wait_limit() -> None:
    import threading

    from netc.serve.admission import Admission, Busy

    admission = Admission(slots=1, reserved_for_small=0, max_wait_s=0.2)
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with admission.slot(False):
            inside.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(30)
    with pytest.raises(Busy, match="waited"), admission.slot(True):
        pass
    release.set()
    holder.join(30)
    assert admission.waiting() == 0


def test_serve_caches_are_bounded_in_bytes() -> None:
    """A 1.4 kB spec expanding to long names kept ~1 GB in serve's graph cache."""
    from netc.serve.engine import Memo

    memo: Memo[int, bytes] = Memo(capacity=100, max_bytes=1000, weigh=len)
    for key in range(10):
        assert memo.get(key, lambda: bytes(300)) == bytes(300)
        assert memo.held_bytes() <= 1000
    assert memo.held_bytes() == 900  # the three most recent
    assert memo.get(99, lambda: bytes(5000)) == bytes(5000)  # heavier than the budget
    assert memo.held_bytes() == 0  # returned, not kept (and it pushed the others out)
    calls = []
    memo.get(1, lambda: calls.append(1) or b"x")
    memo.get(1, lambda: calls.append(2) or b"y")
    assert calls == [1]  # still a cache


def test_serve_graph_weight_grows_with_names_and_layers() -> None:
    from netc.diagnostics import Source
    from netc.serve.engine import graph_bytes

    short = netc.load(Source("a.net", SMALL))
    long_text = SMALL.replace('"c"', '"' + "c" * 1000 + '"')
    many = SMALL + "".join(f'layer {{ name: "r{i}" type: "ReLU" }}\n' for i in range(100))
    assert graph_bytes(netc.load(Source("a.net", long_text))) > graph_bytes(short) + 4 * 1000
    assert graph_bytes(netc.load(Source("a.net", many))) > graph_bytes(short) + 100 * 2000


def test_serve_get_of_a_huge_file_is_refused_before_it_is_read(served: Any) -> None:
    """GET /api/file of a 3 GiB file read it whole into memory."""
    server, folder = served
    with (folder / "big.net").open("wb") as handle:
        handle.truncate(6 * 1024**3)  # holes: reading it would take 6 GiB
    start = time.perf_counter()
    status, data = _request(server, "GET", "/api/file?root=folder&path=big.net")
    assert status == 413, data
    assert time.perf_counter() - start < 5


def test_dropout_ratio_out_of_range_is_a_positioned_error(tmp_path: Path) -> None:
    """dropout_ratio: 7 passed check, then crashed to_torch()."""
    text = SMALL + 'layer { name: "d" type: "Dropout" dropout_ratio: 7 }\n'
    _check_fails_at(tmp_path / "d.net", text, 3)


@pytest.mark.parametrize(
    "name",
    ["x" * 5000 + ".net", "a\\u0000b.net", "loop.net"],
    ids=["very-long", "nul-byte", "symlink-loop"],
)
def test_hostile_import_names_are_positioned_errors(tmp_path: Path, name: str) -> None:
    (tmp_path / "loop.net").symlink_to("loop.net")
    main = tmp_path / "main.net"
    main.write_text(f'import "{name}"\n' + SMALL)
    result = run("check", str(main))
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"{main}:1:"), result.stderr
