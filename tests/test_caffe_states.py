"""What Caffe accepts and netc used to refuse: two layers of one name, data layers chosen by
NetState stage (BVLC's mnist_autoencoder.prototxt has both)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import netc

H = 'input: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'


def _conv(name: str, bottom: str, top: str) -> str:
    return (
        f'layer {{ name: "{name}" type: "Convolution" bottom: "{bottom}" top: "{top}" '
        "convolution_param { num_output: 2 kernel_size: 1 } }\n"
    )


def test_a_repeated_layer_name_is_a_warning_and_gets_a_unique_name() -> None:
    text = H + _conv("c", "data", "a") + _conv("c", "a", "b") + _conv("c_2", "b", "d")
    graph = netc.load(text)
    # the second "c" cannot be "c_2": a layer of the file has that name
    assert [n.name for n in graph.nodes][1:] == ["c", "c_3", "c_2"]
    (warning,) = graph.warnings
    assert warning.severity == "warning" and warning.span is not None
    assert (warning.span.line, warning.span.column) == (3, 15)
    assert 'netc calls this layer "c_3"' in warning.message
    with pytest.raises(netc.NetcError, match="used twice"):
        netc.load(text, strict=True)


def test_renamed_layers_have_their_own_weights_in_torch_and_onnx() -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from netc.backends.onnx import build_model

    graph = netc.load(H + _conv("c", "data", "a") + _conv("c", "a", "b"))
    keys = set(graph.to_torch().state_dict())
    assert {"c.weight", "c.bias", "c_2.weight", "c_2.bias"} <= keys
    initializers = {i.name for i in build_model(graph).graph.initializer}
    assert {"c.weight", "c_2.weight"} <= initializers
    assert torch is not None


STAGED = (
    'layer { name: "train_data" type: "Input" top: "data" include { phase: TRAIN } '
    "input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }\n"
    'layer { name: "test_data" type: "Input" top: "data" '
    'include { phase: TEST stage: "test-on-test" } '
    "input_param { shape { dim: 2 dim: 3 dim: 8 dim: 8 } } }\n" + _conv("c", "data", "c")
)


def test_a_bottom_only_a_staged_layer_produces_names_the_stage(tmp_path: Path) -> None:
    with pytest.raises(netc.NetcError) as info:
        netc.load(STAGED)
    assert (
        info.value.diagnostics[0].hint == 'layer "test_data" produces it with --stage test-on-test'
    )
    assert netc.load(STAGED, stages=("test-on-test",)).tensor("data").shape == (2, 3, 8, 8)
    assert netc.load(STAGED, phase="TRAIN").tensor("data").shape == (1, 3, 8, 8)
    path = tmp_path / "staged.prototxt"
    path.write_text(STAGED)
    for command in (["check"], ["analyze"], ["render", "--format", "dot", "-o", "-"]):
        result = subprocess.run(
            [sys.executable, "-m", "netc", *command, str(path), "--stage", "test-on-test"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr


def test_a_train_val_modules_forward_inputs_are_exposed_and_checked() -> None:
    """The graph has data and label; the deploy module's forward takes data alone (only the
    loss reads the label): `forward_inputs` says so, on the module and on the graph."""
    torch = pytest.importorskip("torch")
    text = (
        'layer { name: "data" type: "Input" top: "data" top: "label" '
        "input_param { shape { dim: 2 dim: 3 dim: 4 dim: 4 } shape { dim: 2 } } }\n"
        'layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" num_output: 5 }\n'
        'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }\n'
    )
    graph = netc.load(text)
    assert [graph.tensors[t].blob for t in graph.inputs] == ["data", "label"]
    assert [graph.tensors[t].blob for t in graph.forward_inputs()] == ["data"]
    module = graph.to_torch().eval()
    assert module.forward_inputs == ("data",)
    feeds = {"data": torch.zeros(2, 3, 4, 4), "label": torch.zeros(2)}
    assert module(*[feeds[name] for name in module.forward_inputs]).shape == (2, 5)
    assert torch.jit.script(module).forward_inputs == ("data",)  # kept by TorchScript


def test_forward_inputs_are_the_backends_arguments(zoo_prototxts: list[Path]) -> None:
    """One rule for the deploy inputs: the torch module's arguments and the ONNX model's inputs
    are `Graph.forward_inputs()` on every zoo file."""
    pytest.importorskip("onnx")
    from netc.backends.onnx import build_model
    from netc.backends.torch.lower import lower

    for path in zoo_prototxts:
        graph = netc.load(path)
        expected = graph.forward_inputs()
        assert lower(graph).args == expected, path.name
        assert [i.name for i in build_model(graph).graph.input] == expected, path.name
