"""`netc build --target onnx`: the emitted model against ONNX's checker, ONNX's shape inference
(the analyzer's shapes, batch symbolic), and the torch target (onnxruntime's outputs equal the
generated module's with the same weights, within 1e-4 of the output's scale, at batch 1 and 3).

Caffe's semantics themselves are checked in test_torch_semantics.py (the torch target against
loop-for-loop transcriptions of Caffe's layers); here onnxruntime is compared with that target.
Every network runs in one model: the batch is symbolic, so batch 1 and batch 3 feed the same
session. torch and onnxruntime use one thread each (conftest.py sets OMP_NUM_THREADS).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import accepted_prototxts

import netc
from netc.analysis.core import analyze
from netc.ir.graph import Graph

try:
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch
except ImportError:  # pragma: no cover - CI installs them (scripts/setup.sh)
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("onnx, onnxruntime or torch is not installed", allow_module_level=True)

from netc.backends.onnx import BATCH, DEFAULT_OPSET, build_model, save
from netc.backends.onnx.files import generated_by_netc

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SPECS = sorted((REPO / "specs").glob("*.net"))
ZOO = Path(os.environ.get("NETC_ZOO", REPO.parent / "shared" / "zoo"))
PROTOTXTS = accepted_prototxts(ZOO)
NETWORKS = [*SPECS, *PROTOTXTS]
NETC = [sys.executable, "-m", "netc"]
TOLERANCE = 1e-4  # relative to the largest output magnitude (the bound)

# Cost: a network over 4.5 G MACs or 40 M parameters at its own size (the VGGs, AlexNets,
# ZFNet, ResNet-101/152) is compared at the smallest of these input sizes it accepts instead (a
# VGG at 32×32 still ends at 1×1, and its fc6 shrinks from 102 M weights to 2 M); nets whose
# shapes need their own size (a fixed 7×7 average pool) keep it. test_full_size_vgg16 keeps one
# full-size comparison of a big network.
BIG_MACS, BIG_PARAMS, SMALL_SIZES = 4_500_000_000, 40_000_000, (32, 64, 96, 128)


def ident(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def session(model: onnx.ModelProto | str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    source = model if isinstance(model, str) else model.SerializeToString()
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def torch_module(graph: Graph, seed: int = 0) -> Any:
    """The generated module in eval mode, its BatchNorm statistics and affine parameters drawn
    away from torch's 0/1 defaults so that they matter."""
    torch.manual_seed(seed)
    module = graph.to_torch().eval()
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                if m.weight is not None:
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.5, 0.5)
            elif isinstance(m, torch.nn.PReLU):
                m.weight.uniform_(0.0, 0.5)
            elif type(m).__name__ in ("Scale", "Bias"):
                for p in m.parameters():
                    p.uniform_(0.5, 1.5)
    return module


def state_dict(module: Any) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def compare(
    model: onnx.ModelProto, module: Any, graph: Graph, batches: Sequence[int] = (1, 3)
) -> None:
    """onnxruntime's outputs equal the torch module's at each batch size."""
    sess = session(model)
    names = [i.name for i in model.graph.input]
    for batch in batches:
        rng = np.random.default_rng(batch)
        feeds = {
            name: rng.standard_normal((batch, *graph.tensors[name].shape[1:])).astype(np.float32)
            for name in names
        }
        got = sess.run(None, feeds)
        with torch.no_grad():
            want = module(*[torch.from_numpy(feeds[n]) for n in names])
        want = list(want) if isinstance(want, tuple) else [want]
        assert len(got) == len(want)
        for output, a, b in zip(model.graph.output, got, want, strict=True):
            expected = b.numpy()
            assert a.shape == expected.shape, (output.name, batch)
            scale = float(np.abs(expected).max())
            error = float(np.abs(a - expected).max())
            assert error <= TOLERANCE * scale, (output.name, batch, error, scale)


def dims(value: onnx.ValueInfoProto) -> list[int | str]:
    shape = value.type.tensor_type.shape
    return [d.dim_param if d.HasField("dim_param") else d.dim_value for d in shape.dim]


def check_shapes(model: onnx.ModelProto, graph: Graph) -> int:
    """ONNX's strict shape inference, run without netc's value_info, gives exactly the
    analyzer's shape (batch symbolic) for every IR tensor the model computes; netc's own
    value_info covers every value a node writes. Returns how many tensors were compared."""
    written = [
        onnx.ValueInfoProto.FromString(v.SerializeToString()) for v in model.graph.value_info
    ]
    del model.graph.value_info[:]
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    finally:
        model.graph.value_info.extend(written)
    found = {v.name: dims(v) for v in [*inferred.graph.value_info, *inferred.graph.output]}
    produced = {o for n in model.graph.node for o in n.output}
    # ONNX's inference gives Resize's output a fresh symbolic batch (unk__0) even where the
    # input's is N: after a Resize, any symbolic batch is the batch
    renamed = any(n.op_type == "Resize" for n in model.graph.node)
    compared = 0
    for tensor in graph.tensors.values():
        if tensor.id not in produced:
            continue  # left out (training-only), the identity (Split, Dropout) or fused
        assert tensor.shape is not None
        got = found.get(tensor.id)
        if renamed and got and isinstance(got[0], str) and got[0].startswith("unk__"):
            got = [BATCH, *got[1:]]
        assert got == [BATCH, *tensor.shape[1:]], tensor.id
        compared += 1
    described = {v.name for v in [*model.graph.value_info, *model.graph.output]}
    assert produced <= described, sorted(produced - described)[:5]
    for value in model.graph.value_info:
        assert all(d == BATCH or (isinstance(d, int) and d > 0) for d in dims(value)), value.name
    return compared


def is_big(graph: Graph) -> bool:
    totals = analyze(graph).totals
    return totals.macs > BIG_MACS or totals.params > BIG_PARAMS


def network_size(path: Path) -> tuple[int, int] | None:
    """The input size to compare a network at: None for its own (see BIG_MACS)."""
    totals = analyze(netc.load(path, batch=1)).totals
    if totals.macs <= BIG_MACS and totals.params <= BIG_PARAMS:
        return None
    for side in SMALL_SIZES:
        try:
            netc.load(path, batch=1, input_size=(side, side))
        except netc.NetcError:
            continue  # too small for its pooling or fully-connected layout
        return side, side
    return None


def test_covers_every_network(spec_files: list[Path], zoo_prototxts: list[Path]) -> None:
    """The parametrised list is every spec and every Caffe file of the zoo (fails under CI when
    the zoo is missing, through the fixture)."""
    assert spec_files and [*spec_files, *zoo_prototxts] == NETWORKS


@pytest.mark.parametrize("path", NETWORKS, ids=ident)
def test_network(path: Path) -> None:
    size = network_size(path)
    graph = netc.load(path, batch=1, input_size=size)
    module = torch_module(graph)
    # Interp's Resize leaves the batch symbolic from opset 18 (its `axes`); before, it is fixed
    opset = 18 if any(n.type == "Interp" for n in graph.nodes) else DEFAULT_OPSET
    model = build_model(graph, weights=state_dict(module), source_name=str(path), opset=opset)
    onnx.checker.check_model(model, full_check=True)
    assert check_shapes(model, graph) > 0
    assert {n.name for n in model.graph.node} >= {
        n.name for n in graph.nodes if n.type in ("Convolution", "InnerProduct")
    }
    if size is None and is_big(graph):
        # PSPNet's Interp layers state their 60×60 size, so it runs only at 473×473 (161
        # GMACs, minutes here); its layers' forward is compared at small sizes in
        # tests/test_pspnet.py (BN, Interp) and by every ResNet in this list
        return
    compare(model, module, graph)


def test_full_size_vgg16() -> None:
    """The one full-size comparison of a big network: VGG-16 at 224×224 (138 M weights)."""
    graph = netc.load(REPO / "specs" / "vgg16.net", batch=1)
    module = torch_module(graph)
    model = build_model(graph, weights=state_dict(module))
    assert check_shapes(model, graph) > 0
    compare(model, module, graph, batches=(1,))


# ---- every layer type, at several opsets ---------------------------------------------------

COVERAGE = """
name: "coverage"
input: "data"
input_shape { dim: 2 dim: 8 dim: 10 dim: 12 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 8 kernel_size: 3 pad: 2 dilation: 2 group: 2 } }
layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" batch_norm_param { eps: 0.001 } }
layer { name: "prelu" type: "PReLU" bottom: "conv" top: "conv" prelu_param { channel_shared: true } }
layer { name: "split" type: "Split" bottom: "conv" top: "conv_a" top: "conv_b" }
layer { name: "lrn_within" type: "LRN" bottom: "conv_a" top: "lrn_within"
        lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 norm_region: WITHIN_CHANNEL } }
layer { name: "lrn" type: "LRN" bottom: "lrn_within" top: "lrn"
        lrn_param { local_size: 5 alpha: 0.3 beta: 0.75 k: 2 } }
# 10×12 pooled 3/2 pad 1 rounds up to 6×7, and the last window overhangs the padded input:
# Caffe's divisor is the window's part inside it (the constant correction)
layer { name: "pool_ave" type: "Pooling" bottom: "lrn" top: "pool_ave"
        pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "pool_max" type: "Pooling" bottom: "conv_b" top: "pool_max"
        pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "gap" type: "Pooling" bottom: "pool_ave" top: "gap"
        pooling_param { pool: AVE global_pooling: true } }
layer { name: "gmp" type: "Pooling" bottom: "pool_ave" top: "gmp"
        pooling_param { pool: MAX global_pooling: true } }
layer { name: "gsum" type: "Eltwise" bottom: "gap" bottom: "gmp" top: "gsum" }
layer { name: "fc_gate" type: "InnerProduct" bottom: "gsum" top: "fc_gate"
        inner_product_param { num_output: 8 } }
layer { name: "gate" type: "Sigmoid" bottom: "fc_gate" top: "gate" }
layer { name: "se" type: "Scale" bottom: "pool_ave" bottom: "gate" top: "se"
        scale_param { axis: 0 bias_term: true } }
layer { name: "tanh" type: "TanH" bottom: "pool_ave" top: "tanh" }
layer { name: "sum" type: "Eltwise" bottom: "se" bottom: "pool_ave" bottom: "tanh" top: "sum"
        eltwise_param { operation: SUM coeff: 0.5 coeff: -1 coeff: 2 } }
layer { name: "prod" type: "Eltwise" bottom: "sum" bottom: "tanh" bottom: "se" top: "prod"
        eltwise_param { operation: PROD } }
layer { name: "max" type: "Eltwise" bottom: "prod" bottom: "sum" bottom: "tanh" top: "max"
        eltwise_param { operation: MAX } }
layer { name: "mvn" type: "MVN" bottom: "max" top: "mvn" }
layer { name: "power" type: "Power" bottom: "mvn" top: "power"
        power_param { power: 2 scale: 0.5 shift: 1 } }
layer { name: "exp" type: "Exp" bottom: "power" top: "exp" exp_param { base: 2 scale: 0.1 } }
layer { name: "log" type: "Log" bottom: "exp" top: "log" log_param { base: 10 shift: 0.5 } }
layer { name: "threshold" type: "Threshold" bottom: "log" top: "threshold"
        threshold_param { threshold: 0.1 } }
layer { name: "clip" type: "Clip" bottom: "log" top: "clip" clip_param { min: -0.5 max: 0.5 } }
layer { name: "swish" type: "Swish" bottom: "log" top: "swish" swish_param { beta: 1.5 } }
layer { name: "elu" type: "ELU" bottom: "swish" top: "elu" elu_param { alpha: 0.7 } }
layer { name: "abs" type: "AbsVal" bottom: "elu" top: "abs" }
layer { name: "bnll" type: "BNLL" bottom: "abs" top: "bnll" }
layer { name: "leaky" type: "ReLU" bottom: "bnll" top: "bnll" relu_param { negative_slope: 0.1 } }
layer { name: "mix" type: "Eltwise" bottom: "bnll" bottom: "threshold" bottom: "clip" top: "mix" }
layer { name: "slice" type: "Slice" bottom: "mix" top: "part1" top: "part2"
        slice_param { axis: 1 slice_point: 3 } }
layer { name: "concat" type: "Concat" bottom: "part2" bottom: "part1" top: "concat" }
layer { name: "reshape" type: "Reshape" bottom: "concat" top: "reshape"
        reshape_param { shape { dim: 0 dim: -1 dim: 7 } } }
layer { name: "fc_axis2" type: "InnerProduct" bottom: "reshape" top: "fc_axis2"
        inner_product_param { num_output: 5 axis: 2 } }
layer { name: "softmax" type: "Softmax" bottom: "fc_axis2" top: "softmax" softmax_param { axis: 1 } }
layer { name: "flatten" type: "Flatten" bottom: "softmax" top: "flatten" }
layer { name: "deconv" type: "Deconvolution" bottom: "pool_max" top: "deconv"
        convolution_param { num_output: 4 kernel_size: 4 stride: 2 pad: 1 group: 2 } }
layer { name: "pos_bias" type: "Bias" bottom: "deconv" top: "deconv"
        bias_param { axis: 1 num_axes: 3 } }
layer { name: "bn_affine" type: "BatchNorm" bottom: "deconv" top: "bn_affine" affine: true }
layer { name: "drop" type: "Dropout" bottom: "bn_affine" top: "bn_affine"
        dropout_param { dropout_ratio: 0.3 } }
layer { name: "scale_c" type: "Scale" bottom: "bn_affine" top: "scaled_c"
        scale_param { bias_term: true } }
layer { name: "flat2" type: "Flatten" bottom: "scaled_c" top: "flat2" flatten_param { axis: 2 } }
"""


def supported_opsets() -> list[int]:
    """13 (netc's oldest), 17 (the default), 18 (ReduceMean's axes become an input) and the
    newest opset that both onnx and onnxruntime know."""
    from onnxruntime.capi.onnxruntime_pybind11_state import get_all_opkernel_def

    newest_ort = max(
        k.version_range[0] for k in get_all_opkernel_def() if k.domain in ("", "ai.onnx")
    )
    return sorted({13, 17, 18, min(onnx.defs.onnx_opset_version(), newest_ort)})


@pytest.mark.parametrize("opset", supported_opsets())
def test_every_layer_type(opset: int) -> None:
    graph = netc.load(COVERAGE, batch=1)
    module = torch_module(graph)
    model = build_model(graph, weights=state_dict(module), opset=opset)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == opset
    assert check_shapes(model, graph) > 30
    ops = {n.op_type for n in model.graph.node}
    assert {"LRN", "BatchNormalization", "PRelu", "ConvTranspose", "Split", "Concat"} <= ops
    assert "Dropout" not in ops and "Identity" not in ops  # Split and Dropout are no nodes
    compare(model, module, graph)


def test_decomposed_lrn() -> None:
    """`decompose_lrn` writes ACROSS_CHANNELS LRN as elementary ops: the same function."""
    graph = netc.load(COVERAGE, batch=1)
    module = torch_module(graph)
    model = build_model(graph, weights=state_dict(module), decompose_lrn=True)
    onnx.checker.check_model(model, full_check=True)
    assert "LRN" not in {n.op_type for n in model.graph.node}
    check_shapes(model, graph)
    compare(model, module, graph)


def test_batch_mixing_layer_keeps_fixed_shapes() -> None:
    """A Concat over axis 0 mixes the batch into a layer's output: the model keeps the
    analyzer's fixed shapes (and still equals the torch module)."""
    spec = """
    input: "a" input_shape { dim: 2 dim: 3 dim: 4 dim: 4 }
    input: "b" input_shape { dim: 2 dim: 3 dim: 4 dim: 4 }
    layer { name: "cat" type: "Concat" bottom: "a" bottom: "b" top: "cat" concat_param { axis: 0 } }
    layer { name: "conv" type: "Convolution" bottom: "cat" top: "conv"
            convolution_param { num_output: 2 kernel_size: 3 } }
    """
    graph = netc.load(spec)
    module = torch_module(graph)
    model = build_model(graph, weights=state_dict(module))
    onnx.checker.check_model(model, full_check=True)
    assert dims(model.graph.input[0]) == [2, 3, 4, 4]
    assert dims(model.graph.output[0]) == [4, 2, 2, 2]
    compare(model, module, graph, batches=(2,))


def test_empty_pooling_window_is_caffes_lowest() -> None:
    """Pooling 2/3 over 10 without pad rounds up to 4 windows, the last starting at 9 < 10 but
    one more (stride 3 > kernel 2 over 9) starts past the input: Caffe's MAX then yields its
    -FLT_MAX start value (pooling_layer.cpp), as the torch target does."""
    spec = """
    input: "data" input_shape { dim: 1 dim: 2 dim: 9 dim: 9 }
    layer { name: "pool" type: "Pooling" bottom: "data" top: "pool"
            pooling_param { pool: MAX kernel_size: 2 stride: 3 } }
    """
    graph = netc.load(spec)
    assert graph.tensors["pool"].shape == (1, 2, 4, 4)  # ceil((9 - 2) / 3) + 1
    model = build_model(graph)
    x = np.random.default_rng(0).standard_normal((1, 2, 9, 9)).astype(np.float32)
    (got,) = session(model).run(None, {"data": x})
    lowest = np.float32(-3.4028235e38)  # -FLT_MAX
    want = np.full((1, 2, 4, 4), lowest, np.float32)
    for i in range(3):  # pooling_layer.cpp: [hstart, min(hstart + 2, 9)), empty from i = 3
        for j in range(3):
            want[:, :, i, j] = x[:, :, 3 * i : 3 * i + 2, 3 * j : 3 * j + 2].max(axis=(2, 3))
    assert np.array_equal(got, want)
    with torch.no_grad():
        assert np.array_equal(torch_module(graph)(torch.from_numpy(x)).numpy(), want)


@pytest.mark.parametrize(
    ("layer", "message", "field"),
    [
        (
            'type: "Pooling" pooling_param { pool: STOCHASTIC kernel_size: 2 }',
            "ONNX has no STOCHASTIC pooling",
            "STOCHASTIC",
        ),
        (
            'type: "InnerProduct" inner_product_param { num_output: 2 axis: 0 }',
            "mixes the batch into its features",
            "axis: 0",
        ),
    ],
)
def test_layer_without_onnx_form(layer: str, message: str, field: str) -> None:
    """An error at the field responsible, with the spec's position; no partial model."""
    spec = f"""input: "data" input_shape {{ dim: 1 dim: 2 dim: 4 dim: 4 }}
layer {{ name: "bad" bottom: "data" top: "bad" {layer} }}
"""
    with pytest.raises(netc.NetcError) as caught:
        build_model(netc.load(spec))
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message.startswith("bad (") and message in diagnostic.message
    assert diagnostic.span is not None and diagnostic.span.line == 2
    line = spec.splitlines()[1]
    assert line[diagnostic.span.column - 1 :].startswith(field.split()[-1])


def test_deploy_view_leaves_out_training_layers() -> None:
    spec = """
    layer { name: "data" type: "Input" top: "data" top: "label"
            input_param { shape { dim: 2 dim: 1 dim: 4 dim: 4 } shape { dim: 2 } } }
    layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc"
            inner_product_param { num_output: 3 } }
    layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
    layer { name: "accuracy" type: "Accuracy" bottom: "fc" bottom: "label" top: "accuracy" }
    """
    model = build_model(netc.load(spec))
    assert [i.name for i in model.graph.input] == ["data"]
    assert [o.name for o in model.graph.output] == ["fc"]
    assert [n.op_type for n in model.graph.node] == ["Flatten", "Gemm"]
    assert [n.name for n in model.graph.node] == ["fc:Flatten", "fc"]


# ---- the model's metadata, weights and initialisation -----------------------------------------


def test_model_metadata() -> None:
    graph = netc.load(REPO / "specs" / "resnet18.net")
    model = build_model(graph, source_name="specs/resnet18.net")
    assert model.producer_name == "netc"
    assert "specs/resnet18.net" in model.doc_string
    assert model.opset_import[0].version == 17
    # opset 17 needs IR version 8 (onnx.helper.VERSION_TABLE: onnx 1.12)
    assert model.ir_version == 8
    assert dims(model.graph.input[0]) == [BATCH, 3, 224, 224]
    module_keys = set(state_dict(torch_module(graph)))
    names = {t.name for t in model.graph.initializer if "::" not in t.name}
    # every weight under its state_dict key; torch's batch counters have no role in ONNX
    assert names == {k for k in module_keys if not k.endswith("num_batches_tracked")}
    assert {n.name for n in model.graph.node} >= {"conv1", "layer1.0.conv1", "fc"}


def test_seeded_initialisation() -> None:
    """Without weights: torch's default schemes (Conv/Linear U(±1/sqrt(fan_in)), BatchNorm
    1/0/0/1), drawn from a generator seeded per key: the same model every time."""
    graph = netc.load(REPO / "specs" / "resnet18.net")
    first, second = build_model(graph), build_model(graph)
    assert first.SerializeToString() == second.SerializeToString()
    arrays = {t.name: onnx.numpy_helper.to_array(t) for t in first.graph.initializer}
    conv = arrays["conv1.weight"]  # 64×3×7×7: fan_in 147
    bound = 1 / np.sqrt(3 * 7 * 7)
    assert conv.shape == (64, 3, 7, 7) and np.abs(conv).max() <= bound
    assert np.abs(conv).max() > 0.9 * bound  # uniform over the whole range
    assert np.all(arrays["bn1.weight"] == 1) and np.all(arrays["bn1.running_var"] == 1)
    assert np.all(arrays["bn1.bias"] == 0) and np.all(arrays["bn1.running_mean"] == 0)


def test_weights_mismatch_names_the_layer() -> None:
    graph = netc.load(REPO / "specs" / "lenet.net")
    weights = state_dict(torch_module(graph))
    weights["conv1.weight"] = np.zeros((20, 1, 3, 3), np.float32)
    del weights["ip2.bias"]
    weights["extra.weight"] = np.zeros(3, np.float32)
    with pytest.raises(netc.NetcError) as caught:
        build_model(graph, weights=weights, weights_origin="w.pt")
    text = str(caught.value)
    assert "conv1 (Convolution): conv1.weight in w.pt is 20×1×3×3, the layer needs 20×1×5×5" in text
    assert "specs/lenet.net:" in text  # at the layer's declaration
    assert "ip2 (InnerProduct): w.pt has no 'ip2.bias'" in text
    assert "'extra.weight'" in text


# ---- external data -----------------------------------------------------------------------------


def test_external_data(tmp_path: Path) -> None:
    """Past the threshold (2 GB by default; lowered here) the tensors go to `<model>.data`."""
    graph = netc.load(REPO / "specs" / "lenet.net")
    model = build_model(graph)
    inline = tmp_path / "inline.onnx"
    external = tmp_path / "lenet.onnx"
    assert save(model, inline) == [inline]
    assert save(model, external, threshold=1000) == [tmp_path / "lenet.onnx.data", external]
    assert external.stat().st_size < 20_000 < (tmp_path / "lenet.onnx.data").stat().st_size
    assert generated_by_netc(external) and generated_by_netc(inline)
    onnx.checker.check_model(str(external), full_check=True)
    loaded = onnx.load(str(external))  # reads the data file beside it
    assert {t.name for t in loaded.graph.initializer} == {t.name for t in model.graph.initializer}
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    a = session(str(external)).run(None, {"data": x})[0]
    b = session(str(inline)).run(None, {"data": x})[0]
    assert np.array_equal(a, b)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "inline.onnx",
        "lenet.onnx",
        "lenet.onnx.data",
    ]


# ---- the command line --------------------------------------------------------------------------


def run(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [*NETC, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, check=False
    )


def invoke(*args: str | Path) -> tuple[int, str]:
    """The command in this process (torch is imported already): exit code and stderr; an
    exception other than an exit would be a traceback for the user."""
    from typer.testing import CliRunner

    from netc.cli.app import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stderr


def test_cli_build_and_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "lenet.onnx"
    result = run("build", "specs/lenet.net", "--target", "onnx", "-o", out)
    assert result.returncode == 0, result.stderr
    model = onnx.load(str(out))
    assert model.producer_name == "netc" and "specs/lenet.net" in model.doc_string
    onnx.checker.check_model(model, full_check=True)
    assert run("build", "specs/lenet.net", "-t", "onnx", "-o", out).returncode == 0  # netc's own
    other = tmp_path / "other.onnx"
    other.write_bytes(b"not netc's")
    refused = run("build", "specs/lenet.net", "-t", "onnx", "-o", other)
    assert refused.returncode == 2 and "was not generated by netc" in refused.stderr
    assert other.read_bytes() == b"not netc's"
    forced = run("build", "specs/lenet.net", "-t", "onnx", "-o", other, "--force")
    assert forced.returncode == 0 and generated_by_netc(other)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--opset", "12"], "--opset 12: expected 13 to"),
        (["--opset", "999"], "--opset 999: expected 13 to"),
        (["--opset", "x"], "Invalid value"),
    ],
)
def test_cli_bad_opset(tmp_path: Path, args: list[str], message: str) -> None:
    result = run("build", "specs/lenet.net", "-t", "onnx", "-o", tmp_path / "m.onnx", *args)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_cli_usage_errors(tmp_path: Path) -> None:
    no_output = run("build", "specs/lenet.net", "-t", "onnx")
    assert no_output.returncode == 2 and "-o model.onnx" in no_output.stderr
    torch_opset = run("build", "specs/lenet.net", "--opset", "17")
    assert torch_opset.returncode == 2 and "apply to --target onnx" in torch_opset.stderr
    code, stderr = invoke("build", "specs/lenet.net", "--decompose-lrn")
    assert code == 2 and "apply to --target onnx" in stderr
    bad_spec = tmp_path / "bad.net"
    bad_spec.write_text('layer { name: "c" type: "Convlution" num_output: 8 kernel_size: 3 }\n')
    invalid = run("build", bad_spec, "-t", "onnx", "-o", tmp_path / "m.onnx")
    assert invalid.returncode == 1 and "bad.net:1:" in invalid.stderr


def test_cli_weights(tmp_path: Path) -> None:
    """A state_dict and a checkpoint holding one give the torch module's outputs; a file of
    another network is an error at the layer, naming the file; never a traceback."""
    graph = netc.load(REPO / "specs" / "lenet.net", batch=1)
    module = torch_module(graph, seed=3)
    weights = tmp_path / "lenet.pt"
    torch.save(module.state_dict(), weights)
    checkpoint = tmp_path / "checkpoint.pth"
    torch.save({"state_dict": module.state_dict(), "epoch": torch.tensor(3)}, checkpoint)
    for source in (weights, checkpoint):
        out = tmp_path / f"{source.stem}.onnx"
        code, stderr = invoke("build", "specs/lenet.net", "-t", "onnx", "-o", out, "-w", source)
        assert code == 0, stderr
        compare(onnx.load(str(out)), module, graph)

    other = tmp_path / "other.pt"
    torch.save(torch_module(netc.load(REPO / "specs" / "lenet5.net")).state_dict(), other)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x80\x04 not a torch file")
    cases = [
        (other, ["specs/lenet.net:", str(other), "has no 'conv1.weight'"]),
        (garbage, [str(garbage), "cannot load as a torch state_dict"]),
        (tmp_path / "missing.pt", [str(tmp_path / "missing.pt"), "no such file"]),
    ]
    out = tmp_path / "bad.onnx"
    for source, needles in cases:
        code, stderr = invoke("build", "specs/lenet.net", "-t", "onnx", "-o", out, "-w", source)
        assert code == 1, stderr
        for needle in needles:
            assert needle in stderr, (needle, stderr)
        assert not out.exists()
    # and as a user runs it: a separate process, an error and no traceback
    result = run("build", "specs/lenet.net", "-t", "onnx", "-o", out, "--weights", other)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "conv1 (Convolution)" in result.stderr


def test_cli_caffemodel_weights(tmp_path: Path, zoo_dir: Path) -> None:
    """Caffe's trained LeNet through netc.weights: onnxruntime equals the torch module loaded
    from the same .caffemodel."""
    from netc.weights import load_into

    folder = zoo_dir / "weights" / "caffe-lenet-mnist"
    prototxt, caffemodel = folder / "lenet.prototxt", folder / "lenet_iter_10000.caffemodel"
    out = tmp_path / "lenet.onnx"
    code, stderr = invoke("build", prototxt, "-t", "onnx", "-o", out, "--weights", caffemodel)
    assert code == 0, stderr
    graph = netc.load(prototxt, batch=1)
    module = graph.to_torch().eval()
    load_into(module, caffemodel, graph)
    compare(onnx.load(str(out)), module, graph)


def test_cli_imports_no_torch(tmp_path: Path) -> None:
    """`netc build --target onnx` without .pt weights never imports torch."""
    out = tmp_path / "m.onnx"
    probe = (
        "import sys\n"
        "from netc.cli.app import main\n"
        f"sys.argv = ['netc', 'build', 'specs/resnet18.net', '-t', 'onnx', '-o', {str(out)!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "assert not loaded, loaded\n"
        "assert 'onnx' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert result.returncode == 0, result.stderr
    assert onnx.load(str(out)).producer_name == "netc"
