"""Caffe's semantics in the generated modules, layer by layer, against references written here.

Each reference follows the Caffe source it names (BVLC/caffe, src/caffe/layers/*.cpp), with
plain loops or elementary torch ops, on small random inputs; the generated module must agree
to float32 rounding. Shapes always equal the analyzer's.
"""

from __future__ import annotations

import math
import os

import pytest

import netc
from netc.backends.torch import generate
from netc.ir.graph import Graph

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:  # pragma: no cover - CI installs torch (scripts/setup.sh)
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("torch is not installed", allow_module_level=True)

torch.set_num_threads(1)
Shape = tuple[int, ...]


def net(*layers: str, shape: Shape = (2, 3, 7, 7), **inputs: Shape) -> str:
    header = [("data", shape), *inputs.items()]
    lines = [
        f'input: "{n}" input_shape {{ {" ".join(f"dim: {d}" for d in s)} }}' for n, s in header
    ]
    return "\n".join([*lines, *layers]) + "\n"


def run(text: str, *xs: torch.Tensor, train: bool = False) -> tuple[Graph, nn.Module, object]:
    graph = netc.load(text)
    torch.manual_seed(0)
    model = graph.to_torch()
    model.train(train)
    for p in model.parameters():  # non-trivial parameters everywhere
        with torch.no_grad():
            p.copy_(torch.randn_like(p) * 0.5 + (1 if p.ndim == 1 else 0))
    out = model(*xs)
    return graph, model, out


def close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-5) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, atol=tol, rtol=tol))


# ---- pooling -----------------------------------------------------------------------------


def caffe_pool(
    x: torch.Tensor,
    mode: str,
    k: tuple[int, int],
    s: tuple[int, int],
    p: tuple[int, int],
    ceil: bool = True,
) -> torch.Tensor:
    """pooling_layer.cpp: Reshape (rounding and the clip) and Forward_cpu, loop for loop."""
    n, c, h, w = x.shape
    dims = []
    for size, kk, ss, pp in ((h, k[0], s[0], p[0]), (w, k[1], s[1], p[1])):
        span = (size + 2 * pp - kk) / ss
        out = (math.ceil(span) if ceil else math.floor(span)) + 1
        if (p[0] or p[1]) and (out - 1) * ss >= size + pp:
            out -= 1
        dims.append(out)
    y = torch.empty(n, c, *dims)
    for i in range(dims[0]):
        for j in range(dims[1]):
            hs, ws = i * s[0] - p[0], j * s[1] - p[1]
            he, we = min(hs + k[0], h + p[0]), min(ws + k[1], w + p[1])
            pool_size = (he - hs) * (we - ws)
            hs, ws, he, we = max(hs, 0), max(ws, 0), min(he, h), min(we, w)
            window = x[:, :, hs:he, ws:we]
            if not window.numel():  # a window past the input (stride > kernel): Caffe's start
                y[:, :, i, j] = torch.finfo(x.dtype).min if mode == "MAX" else 0.0
            elif mode == "MAX":
                y[:, :, i, j] = window.amax(dim=(2, 3))
            else:
                y[:, :, i, j] = window.sum(dim=(2, 3)) / pool_size
    return y


POOLS = [
    # (H, W, kernel, stride, pad, round up)
    (7, 7, 3, 2, 0, True),  # AlexNet-style overlapping
    (6, 6, 3, 2, 1, True),  # the clip: the last window would start in the padding
    (8, 8, 2, 2, 0, True),
    (9, 7, 3, 2, 1, True),
    (5, 5, 1, 3, 0, True),  # stride > kernel unpadded: torch drops a window Caffe keeps
    (7, 7, 3, 1, 2, True),  # pad > kernel / 2: torch refuses it
    (7, 7, 3, 2, 1, False),  # round_mode: FLOOR
    (14, 14, 5, 3, 0, True),  # GoogLeNet's auxiliary 5×5/3
    (6, 5, 4, 3, 3, True),
]


@pytest.mark.parametrize("mode", ["MAX", "AVE"])
@pytest.mark.parametrize(("h", "w", "k", "s", "p", "ceil"), POOLS)
def test_pooling(mode: str, h: int, w: int, k: int, s: int, p: int, ceil: bool) -> None:
    rounding = "" if ceil else "round_mode: FLOOR"
    text = net(
        f'layer {{ name: "pool" type: "Pooling" pool: {mode} kernel_size: {k} stride: {s} '
        f"pad: {p} {rounding} }}",
        shape=(2, 3, h, w),
    )
    x = torch.randn(2, 3, h, w)
    graph, _, out = run(text, x)
    assert isinstance(out, torch.Tensor)
    assert tuple(out.shape) == graph.tensor("pool").shape
    assert close(out, caffe_pool(x, mode, (k, k), (s, s), (p, p), ceil))


def test_pooling_uses_torch_where_it_agrees() -> None:
    native = generate(
        netc.load(net('layer { type: "Pooling" pool: MAX kernel_size: 3 stride: 2 }'))
    )
    assert "nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)" in native.source
    assert "CaffePool2d" not in native.source
    explicit = generate(
        netc.load(
            net('layer { type: "Pooling" pool: AVE kernel_size: 1 stride: 3 }', shape=(1, 1, 5, 5))
        )
    )
    assert "CaffePool2d(" in explicit.source


def test_pooling_rectangular_and_global() -> None:
    x = torch.randn(2, 3, 9, 8)
    text = net(
        'layer { name: "p" type: "Pooling" pool: AVE kernel_h: 3 kernel_w: 2 stride_h: 2 '
        "stride_w: 3 pad_h: 1 pad_w: 0 }",
        'layer { name: "g" type: "Pooling" bottom: "data" pool: MAX global_pooling: true }',
        shape=(2, 3, 9, 8),
    )
    graph = netc.load(text)
    model = graph.to_torch()
    p = model.p(x)
    assert close(p, caffe_pool(x, "AVE", (3, 2), (2, 3), (1, 0)))
    assert close(model.g(x), x.amax(dim=(2, 3), keepdim=True))


# ---- normalisation -------------------------------------------------------------------------


def caffe_lrn_across(
    x: torch.Tensor, size: int, alpha: float, beta: float, k: float
) -> torch.Tensor:
    """lrn_layer.cpp CrossChannelForward_cpu: scale = k + alpha/size · Σ x² over the window."""
    _n, c, _h, _w = x.shape
    pre = (size - 1) // 2
    scale = torch.full_like(x, k)
    for ch in range(c):
        lo, hi = max(0, ch - pre), min(c, ch - pre + size)
        scale[:, ch] += alpha / size * (x[:, lo:hi] ** 2).sum(1)
    return x * scale.pow(-beta)


def caffe_lrn_within(x: torch.Tensor, size: int, alpha: float, beta: float) -> torch.Tensor:
    """lrn_layer.cpp WithinChannelForward: x · (1 + alpha · mean of x² over size×size)^-beta,
    the mean by Caffe's AVE pooling with pad (size - 1) / 2."""
    pad = (size - 1) // 2
    mean = caffe_pool(x * x, "AVE", (size, size), (1, 1), (pad, pad))
    return x * (1 + alpha * mean).pow(-beta)


@pytest.mark.parametrize(("size", "alpha", "beta", "k"), [(5, 1e-4, 0.75, 1.0), (3, 2.0, 0.5, 2.0)])
def test_lrn(size: int, alpha: float, beta: float, k: float) -> None:
    x = torch.randn(2, 7, 5, 5) * 3
    text = net(
        f'layer {{ name: "a" type: "LRN" local_size: {size} alpha: {alpha} beta: {beta} k: {k} }}',
        f'layer {{ name: "b" type: "LRN" bottom: "data" local_size: {size} alpha: {alpha} '
        f"beta: {beta} norm_region: WITHIN_CHANNEL }}",
        shape=(2, 7, 5, 5),
    )
    model = netc.load(text).to_torch()
    assert isinstance(model.a, nn.LocalResponseNorm)
    assert close(model.a(x), caffe_lrn_across(x, size, alpha, beta, k))
    assert close(model.b(x), caffe_lrn_within(x, size, alpha, beta))


def test_batchnorm_caffe_and_affine() -> None:
    x = torch.randn(4, 3, 5, 5)
    text = net(
        'layer { name: "bn" type: "BatchNorm" eps: 0.001 }',
        'layer { name: "frozen_stats" type: "BatchNorm" bottom: "data" use_global_stats: true }',
        'layer { name: "affine" type: "BatchNorm" bottom: "data" affine: true '
        "moving_average_fraction: 0.9 }",
        shape=(4, 3, 5, 5),
    )
    model = netc.load(text).to_torch()
    assert not model.bn.affine and model.bn.eps == 0.001
    assert model.affine.affine and model.affine.momentum == pytest.approx(0.1)
    for m in (model.bn, model.frozen_stats, model.affine):
        m.running_mean.uniform_(-1, 1)
        m.running_var.uniform_(0.5, 2)
    model.eval()
    bn = model.bn
    expected = (x - bn.running_mean[:, None, None]) / torch.sqrt(
        bn.running_var[:, None, None] + 0.001
    )
    assert close(model.bn(x), expected)
    # use_global_stats: the running statistics in training too, and they do not move
    model.train()
    stats = model.frozen_stats.running_mean.clone()
    assert not model.frozen_stats.training and model.bn.training
    fs = model.frozen_stats
    expected = (x - fs.running_mean[:, None, None]) / torch.sqrt(
        fs.running_var[:, None, None] + 1e-5
    )
    assert close(fs(x), expected) and torch.equal(fs.running_mean, stats)


def test_caffe_batchnorm_scale_pair() -> None:
    """A BatchNorm followed in place by Scale(bias_term) is one affine BatchNorm2d whose
    weight and bias are the Scale's."""
    x = torch.randn(2, 4, 3, 3)
    text = net(
        'layer { name: "conv" type: "Convolution" num_output: 4 kernel_size: 1 }',
        'layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" use_global_stats: true }',
        'layer { name: "scale" type: "Scale" bottom: "conv" top: "conv" bias_term: true }',
        'layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }',
        shape=(2, 4, 3, 3),
    )
    graph = netc.load(text)
    model = graph.to_torch()
    assert sorted(model.state_dict()) == sorted(
        [
            "conv.weight",
            "conv.bias",
            "bn.weight",
            "bn.bias",
            "bn.running_mean",
            "bn.running_var",
            "bn.num_batches_tracked",
        ]
    )
    with torch.no_grad():
        model.bn.weight.uniform_(0.5, 2)
        model.bn.bias.uniform_(-1, 1)
        model.bn.running_mean.uniform_(-1, 1)
        model.bn.running_var.uniform_(0.5, 2)
    bn = model.bn
    conv = model.conv(x)
    normed = (conv - bn.running_mean[:, None, None]) / torch.sqrt(
        bn.running_var[:, None, None] + 1e-5
    )
    expected = torch.relu(normed * bn.weight[:, None, None] + bn.bias[:, None, None])
    assert close(model.eval()(x), expected)
    # a Scale without bias stays a Scale
    text = text.replace("bias_term: true", "bias_term: false")
    assert "Scale(" in generate(netc.load(text)).source


# ---- convolutions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        "num_output: 6 kernel_size: 3 group: 3",
        "num_output: 4 kernel_size: 3 dilation: 2 pad: 2",
        "num_output: 4 kernel_h: 3 kernel_w: 1 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0",
        "num_output: 3 kernel_size: 2 stride: 2 bias_term: false",
    ],
)
def test_convolution(params: str) -> None:
    x = torch.randn(2, 3, 9, 9)
    graph, model, out = run(
        net(f'layer {{ name: "c" type: "Convolution" {params} }}', shape=(2, 3, 9, 9)), x
    )
    conv = model.c
    assert isinstance(out, torch.Tensor) and tuple(out.shape) == graph.tensor("c").shape
    blobs = {b.name: b.shape for b in graph.node("c").blobs}
    assert {k: tuple(v.shape) for k, v in conv.state_dict().items()} == blobs
    expected = F.conv2d(
        x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups
    )
    assert close(out, expected)


@pytest.mark.parametrize(
    "params",
    [
        "num_output: 4 kernel_size: 4 stride: 2 pad: 1",
        "num_output: 6 kernel_size: 3 group: 3 stride: 3",
    ],
)
def test_deconvolution(params: str) -> None:
    x = torch.randn(1, 3, 5, 5)
    graph, model, out = run(
        net(f'layer {{ name: "d" type: "Deconvolution" {params} }}', shape=(1, 3, 5, 5)), x
    )
    d = model.d
    assert isinstance(d, nn.ConvTranspose2d)
    assert isinstance(out, torch.Tensor) and tuple(out.shape) == graph.tensor("d").shape
    assert {k: tuple(v.shape) for k, v in d.state_dict().items()} == {
        b.name: b.shape for b in graph.node("d").blobs
    }
    # Caffe's deconvolution: each input scatters weight · x into the output window
    expected = F.conv_transpose2d(x, d.weight, d.bias, d.stride, d.padding, groups=d.groups)
    assert close(out, expected)


# ---- merging, scaling, reshaping ----------------------------------------------------------


def two_inputs(layer: str, a: Shape = (2, 3, 4, 4), b: Shape = (2, 3, 4, 4)) -> str:
    return net(layer, shape=a, other=b)


@pytest.mark.parametrize(
    ("params", "reference"),
    [
        ("", lambda a, b: a + b),
        ("operation: SUM coeff: 1 coeff: -1", lambda a, b: a - b),
        ("coeff: 0.5 coeff: 2", lambda a, b: 0.5 * a + 2 * b),
        ("coeff: -1 coeff: 1", lambda a, b: b - a),
        ("operation: PROD", lambda a, b: a * b),
        ("operation: MAX", torch.maximum),
    ],
)
def test_eltwise(params: str, reference: object) -> None:
    a, b = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    text = two_inputs(
        f'layer {{ name: "e" type: "Eltwise" bottom: "data" bottom: "other" {params} }}'
    )
    _, _, out = run(text, a, b)
    assert close(out, reference(a, b))  # type: ignore[operator]
    assert torch.equal(a, a.clone())


def test_eltwise_three_and_in_place_sum_spares_inputs() -> None:
    a, b = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    a0, b0 = a.clone(), b.clone()
    text = two_inputs(
        'layer { name: "e" type: "Eltwise" bottom: "data" bottom: "other" bottom: "data" }'
    )
    _, _, out = run(text, a, b)
    assert close(out, 2 * a0 + b0) and torch.equal(a, a0) and torch.equal(b, b0)
    # a sum into a conv output is done in place (`c += other`), never into a forward input
    text = two_inputs(
        'layer { name: "c" type: "Convolution" num_output: 3 kernel_size: 1 }\n'
        'layer { name: "e" type: "Eltwise" bottom: "c" bottom: "other" }\n'
        'layer { name: "e2" type: "Eltwise" bottom: "other" bottom: "e" }'
    )
    source = generate(netc.load(text)).source
    assert "data = self.c(data)\n        data += other" in source and "other +=" not in source
    _, model, out = run(text, a, b)
    assert torch.equal(b, b0)
    assert close(out, b0 + (model.c(a0) + b0))  # type: ignore[attr-defined]


def test_scale_and_bias() -> None:
    x = torch.randn(2, 3, 4, 5)
    text = net(
        'layer { name: "channel" type: "Scale" bias_term: true }',
        'layer { name: "spatial" type: "Scale" bottom: "data" axis: 2 num_axes: 2 }',
        'layer { name: "position" type: "Bias" bottom: "data" axis: 1 num_axes: 3 }',
        'layer { name: "rows" type: "Bias" bottom: "data" axis: 2 num_axes: 1 }',
        shape=(2, 3, 4, 5),
    )
    graph = netc.load(text)
    model = graph.to_torch()
    for p in model.parameters():
        p.data.normal_()
    ch = model.channel
    assert close(ch(x), x * ch.weight[:, None, None] + ch.bias[:, None, None])
    assert tuple(model.spatial.weight.shape) == (4, 5)
    assert close(model.spatial(x), x * model.spatial.weight)
    assert tuple(model.position.bias.shape) == (3, 4, 5)  # AlphaGo's per-position bias
    assert close(model.position(x), x + model.position.bias)
    assert close(model.rows(x), x + model.rows.bias[:, None])
    assert sum(p.numel() for p in model.parameters()) == graph.params_count("param")


def test_two_bottom_scale_and_bias() -> None:
    x, gate = torch.randn(2, 3, 4, 4), torch.rand(2, 3)
    text = net(
        'layer { name: "se" type: "Scale" bottom: "data" bottom: "gate" axis: 0 }',
        'layer { name: "b" type: "Bias" bottom: "se" bottom: "gate" axis: 0 }',
        'layer { name: "sb" type: "Scale" bottom: "data" bottom: "gate" axis: 0 bias_term: true }',
        shape=(2, 3, 4, 4),
        gate=(2, 3),
    )
    _graph, model, out = run(text, x, gate)
    se, sb = out  # type: ignore[misc]
    assert close(se, x * gate[:, :, None, None] + gate[:, :, None, None])
    bias = model.sb.bias  # type: ignore[union-attr]
    assert close(sb, x * gate[:, :, None, None] + bias[:, :, None, None])


@pytest.mark.parametrize("axis", [1, 2, -1])
def test_softmax_axis(axis: int) -> None:
    x = torch.randn(2, 3, 4, 5)
    _, _, out = run(net(f'layer {{ type: "Softmax" axis: {axis} }}', shape=(2, 3, 4, 5)), x)
    assert close(out, torch.softmax(x, axis))


def test_flatten_reshape_inner_product() -> None:
    x = torch.randn(2, 3, 4, 5)
    text = net(
        'layer { name: "f" type: "Flatten" axis: 1 end_axis: 2 }',  # 2×12×5
        'layer { name: "r" type: "Reshape" bottom: "data" shape { dim: 0 dim: -1 dim: 10 } }',
        'layer { name: "r2" type: "Reshape" bottom: "data" axis: 2 num_axes: 1 shape { dim: 2 dim: 2 } }',
        'layer { name: "fc" type: "InnerProduct" bottom: "data" num_output: 7 }',
        'layer { name: "fc2" type: "InnerProduct" bottom: "data" num_output: 6 axis: 2 }',
        shape=(2, 3, 4, 5),
    )
    graph, model, outs = run(text, x)
    f, r, r2, fc, fc2 = outs  # type: ignore[misc]
    assert close(f, x.reshape(2, 12, 5)) and close(r, x.reshape(2, 6, 10))
    assert close(r2, x.reshape(2, 3, 2, 2, 5))
    assert close(fc, x.reshape(2, 60) @ model.fc.weight.T + model.fc.bias)  # type: ignore[union-attr]
    lin = model.fc2  # type: ignore[union-attr]
    assert close(fc2, x.reshape(2, 3, 20) @ lin.weight.T + lin.bias)
    for name, value in zip(["f", "r", "r2", "fc", "fc2"], outs, strict=True):  # type: ignore[arg-type]
        assert tuple(value.shape) == graph.tensor(name).shape


def test_concat_slice_split() -> None:
    x = torch.randn(2, 6, 3, 3)
    text = net(
        'layer { name: "s" type: "Slice" top: "a" top: "b" top: "c" slice_point: 1 slice_point: 4 }',
        'layer { name: "sp" type: "Split" bottom: "b" top: "b1" top: "b2" }',
        'layer { name: "cat" type: "Concat" bottom: "c" bottom: "a" bottom: "b1" }',
        'layer { name: "cat2" type: "Concat" bottom: "b2" bottom: "b2" axis: 3 }',
        shape=(2, 6, 3, 3),
    )
    graph, _, (cat, cat2) = run(text, x)  # type: ignore[misc]
    assert close(cat, torch.cat([x[:, 4:], x[:, :1], x[:, 1:4]], 1))
    assert close(cat2, torch.cat([x[:, 1:4], x[:, 1:4]], 3))
    assert tuple(cat2.shape) == graph.tensor("cat2").shape


def test_activations() -> None:
    x = torch.randn(2, 3, 4, 4)
    cases = {
        "ReLU negative_slope: 0.1": F.leaky_relu(x, 0.1),
        "PReLU": None,
        "Sigmoid": torch.sigmoid(x),
        "TanH": torch.tanh(x),
        "ELU alpha: 0.5": F.elu(x, 0.5),
        "AbsVal": x.abs(),
        "BNLL": torch.log1p(torch.exp(x)),
        "Power power: 2 scale: 0.5 shift: 1": (1 + 0.5 * x) ** 2,
        "Exp base: 2 scale: 0.5": 2 ** (0.5 * x),
        "Exp": torch.exp(x),
        "Log base: 10 shift: 5": torch.log10(x + 5),
        "Threshold threshold: 0.2": (x > 0.2).float(),
        "Clip min: -0.5 max: 0.25": x.clamp(-0.5, 0.25),
        "Swish": x * torch.sigmoid(x),
        "Swish beta: 2": x * torch.sigmoid(2 * x),
        "Dropout dropout_ratio: 0.3": x,
        "MVN": (x - x.mean((2, 3), keepdim=True))
        / ((x - x.mean((2, 3), keepdim=True)).pow(2).mean((2, 3), keepdim=True).sqrt() + 1e-9),
        "MVN across_channels: true normalize_variance: false": x - x.mean((1, 2, 3), keepdim=True),
    }
    layers = [
        f'layer {{ name: "l{i}" bottom: "data" type: "{case.split()[0]}" {" ".join(case.split()[1:])} }}'
        for i, case in enumerate(cases)
    ]
    _graph, model, outs = run(net(*layers, shape=(2, 3, 4, 4)), x)
    for (case, expected), out in zip(cases.items(), outs, strict=True):  # type: ignore[arg-type]
        if case == "PReLU":
            slope = model.l1.weight  # type: ignore[union-attr]
            expected = torch.where(x > 0, x, x * slope[:, None, None])
        assert close(out, expected, 1e-4), case


def test_dropout_trains_like_caffe() -> None:
    x = torch.ones(1000)
    text = net('layer { type: "Dropout" dropout_ratio: 0.25 }', shape=(1000,))
    _, _, out = run(text, x, train=True)
    assert isinstance(out, torch.Tensor)
    kept = out[out != 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / 0.75))  # scaled at training, as Caffe


def test_in_place_only_where_autograd_allows() -> None:
    """Caffe's in-place layers run in place in torch only when nothing needs the old values."""
    text = net(
        'layer { name: "conv" type: "Convolution" num_output: 3 kernel_size: 1 }',
        'layer { name: "sig" type: "Sigmoid" }',
        'layer { name: "relu" type: "ReLU" bottom: "sig" top: "sig" }',  # sigmoid keeps its output
        'layer { name: "fc" type: "InnerProduct" num_output: 8 }',
        'layer { name: "relu2" type: "ReLU" bottom: "fc" top: "fc" }',  # fc keeps only its input
        'layer { name: "drop" type: "Dropout" bottom: "fc" top: "fc" }',  # relu keeps its output
        'layer { name: "out" type: "InnerProduct" num_output: 2 }',
    )
    model = netc.load(text).to_torch()
    assert not model.relu.inplace and model.relu2.inplace and not model.drop.inplace
    x = torch.randn(2, 3, 7, 7)
    model(x).sum().backward()  # autograd accepts every in-place step
    assert all(p.grad is not None for p in model.parameters())


def test_training_only_layers_are_left_out() -> None:
    text = (
        'layer { name: "data" type: "Input" top: "data" top: "label" '
        "input_param { shape { dim: 4 dim: 3 dim: 8 dim: 8 } shape { dim: 4 } } }\n"
        'layer { name: "fc" type: "InnerProduct" bottom: "data" num_output: 5 }\n'
        'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" }\n'
        'layer { name: "acc" type: "Accuracy" bottom: "fc" bottom: "label" }\n'
    )
    graph = netc.load(text)
    source = generate(graph).source
    assert "def forward(self, x: Tensor) -> Tensor:" in source
    assert "loss" not in source and "acc" not in source
    assert graph.to_torch()(torch.randn(4, 3, 8, 8)).shape == (4, 5)


def test_data_layer_is_the_forward_argument() -> None:
    text = (
        'layer { name: "data" type: "Data" top: "data" top: "label" data_param { batch_size: 2 } '
        "transform_param { crop_size: 8 } }\n"
        'layer { name: "conv" type: "Convolution" num_output: 4 kernel_size: 3 }\n'
        'layer { name: "fc" type: "InnerProduct" num_output: 5 }\n'
        'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" '
        "include { phase: TRAIN } }\n"
    )
    model = netc.load(text, phase="TRAIN").to_torch()
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 5)


def test_several_inputs_and_outputs_in_spec_order() -> None:
    text = net(
        'layer { name: "a" type: "Convolution" bottom: "data" num_output: 2 kernel_size: 1 }',
        'layer { name: "b" type: "Convolution" bottom: "extra" num_output: 3 kernel_size: 1 }',
        shape=(1, 3, 4, 4),
        extra=(1, 5, 4, 4),
    )
    source = generate(netc.load(text)).source
    assert "def forward(self, data: Tensor, extra: Tensor) -> tuple[Tensor, Tensor]:" in source
    _, _, (a, b) = run(text, torch.randn(1, 3, 4, 4), torch.randn(1, 5, 4, 4))  # type: ignore[misc]
    assert a.shape == (1, 2, 4, 4) and b.shape == (1, 3, 4, 4)
