"""netc.weights: the .caffemodel wire-format reader, torch/safetensors/npz files, name mappings,
matching by layer name, and the real zoo weights.

Numbers: REF §3 = zoo/REFERENCE.md §3 (LeNet's 0.9914 and the logits of test image 0);
shapes of the zoo's blobs follow from their prototxts (num_output × channels × kernel); the
MTCNN cross-check compares two independent releases of the same numbers (SOURCES.md). Other
values are constructed here (hand-encoded protobuf messages) and checked by arithmetic.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

import netc
from netc.diagnostics import NetcError
from netc.weights import load_into, match, read_weights, save_npz
from netc.weights.caffe import read_caffemodel
from netc.weights.targets import targets

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parent.parent
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


# ---- a tiny protobuf encoder, written from the wire-format spec (independent of the reader) ----


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def tag(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def ld(number: int, payload: bytes) -> bytes:
    return tag(number, 2) + varint(len(payload)) + payload


def vi(number: int, value: int) -> bytes:
    return tag(number, 0) + varint(value)


def s(number: int, text: str) -> bytes:
    return ld(number, text.encode())


def blob(
    values: np.ndarray, *, packed: bool = True, double: bool = False, legacy: bool = False
) -> bytes:
    """BlobProto: shape 7 (BlobShape.dim 1, packed), data 5, double_data 8, num..width 1-4."""
    flat = values.reshape(-1)
    if legacy:
        dims = (1,) * (4 - values.ndim) + values.shape
        head = b"".join(vi(i + 1, d) for i, d in enumerate(dims))
    else:
        head = ld(7, ld(1, b"".join(varint(d) for d in values.shape)))
    if double:
        body = ld(8, struct.pack(f"<{flat.size}d", *flat))
    elif packed:
        body = ld(5, struct.pack(f"<{flat.size}f", *flat))
    else:
        body = b"".join(tag(5, 5) + struct.pack("<f", v) for v in flat)
    return head + body


def layer(name: str, kind: str, *blobs: bytes, extra: bytes = b"") -> bytes:
    """LayerParameter: name 1, type 2, blobs 7."""
    return ld(100, s(1, name) + s(2, kind) + extra + b"".join(ld(7, b) for b in blobs))


UNKNOWN = (  # one field of each wire type, numbers no Caffe message uses at these levels
    vi(9999, 7)
    + tag(9998, 1)
    + struct.pack("<d", 1.5)
    + ld(9997, b"\x01\x02\x03")
    + tag(9996, 5)
    + struct.pack("<f", 2.5)
)


def write(path: Path, *layers: bytes, name: str = "net") -> Path:
    path.write_bytes(s(1, name) + UNKNOWN + b"".join(layers))
    return path


# ---- the wire-format reader ----


def test_reader_handles_every_encoding(tmp_path: Path) -> None:
    w = np.arange(12, dtype=np.float32).reshape(3, 4) / 8
    b = np.array([0.5, -1.0, 2.0], np.float32)
    d = np.array([1 / 3, 2 / 3], np.float64)
    v1_conv = ld(2, s(4, "v1conv") + vi(5, 4) + ld(6, blob(b.reshape(3, 1, 1, 1))))  # V1 enum 4
    v0 = ld(2, ld(1, s(1, "v0fc") + s(2, "innerproduct") + ld(50, blob(w))))
    path = write(
        tmp_path / "x.caffemodel",
        layer("packed", "InnerProduct", blob(w), blob(b), extra=UNKNOWN),
        layer("unpacked", "InnerProduct", blob(w, packed=False), blob(b, packed=False)),
        layer("legacy", "InnerProduct", blob(w, legacy=True), blob(b, legacy=True)),
        layer("double", "Scale", blob(d, double=True)),
        layer("empty", "ReLU"),
        v1_conv,
        v0,
    )
    name, layers = read_caffemodel(path)
    assert name == "net"
    got = {la.name: la for la in layers}
    assert [la.name for la in layers] == [
        "packed",
        "unpacked",
        "legacy",
        "double",
        "empty",
        "v1conv",
        "v0fc",
    ]
    for key in ("packed", "unpacked"):
        assert got[key].type == "InnerProduct"
        np.testing.assert_array_equal(got[key].blobs[0], w)
        np.testing.assert_array_equal(got[key].blobs[1], b)
    assert got["legacy"].blobs[0].shape == (1, 1, 3, 4)  # Caffe's legacy blobs are 4-D
    np.testing.assert_array_equal(got["legacy"].blobs[0].reshape(3, 4), w)
    np.testing.assert_allclose(got["double"].blobs[0], d.astype(np.float32))
    assert got["empty"].blobs == []
    assert got["v1conv"].type == "Convolution" and got["v1conv"].blobs[0].shape == (3, 1, 1, 1)
    np.testing.assert_array_equal(got["v0fc"].blobs[0], w)


def test_legacy_innerproduct_blobs_load(tmp_path: Path) -> None:
    """A 1×1×N×K InnerProduct weight and 1×1×1×N bias fit the network's N×K and N."""
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1.0, 2.0], np.float32)
    path = write(
        tmp_path / "fc.caffemodel",
        layer("fc", "InnerProduct", blob(w, legacy=True), blob(b, legacy=True)),
    )
    graph = netc.load(
        'input: "x" input_shape { dim: 1 dim: 3 }\nlayer { name: "fc" type: "InnerProduct" num_output: 2 }'
    )
    arrays = read_weights(path, graph)
    np.testing.assert_array_equal(arrays["fc.weight"], w)
    np.testing.assert_array_equal(arrays["fc.bias"], b)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x0a\x05ab", "runs past the end"),  # a length longer than the file
        (b"\x08", "truncated varint"),
        (
            ld(100, ld(7, ld(7, ld(1, varint(5))) + ld(5, struct.pack("<2f", 1, 2)))),
            "holds 5 values",
        ),
    ],
)
def test_reader_rejects_malformed_files(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "bad.caffemodel"
    path.write_bytes(data)
    with pytest.raises(NetcError) as err:
        read_caffemodel(path)
    assert str(path) in str(err.value) and message in str(err.value)


# ---- the real zoo weights (REF §3) ----


def mnist_test(zoo: Path) -> tuple[torch.Tensor, np.ndarray]:
    """MNIST t10k decoded here with numpy (idx: 16-byte image header, 8-byte label header)."""
    folder = zoo / "data" / "mnist-t10k"
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16)
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    x = torch.from_numpy(images.reshape(-1, 1, 28, 28).astype(np.float32)) * 0.00390625  # REF §3
    return x, labels.astype(np.int64)


def lenet_logits(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """ip2's output (the module returns prob = softmax(ip2)), read with a forward hook."""
    out: list[torch.Tensor] = []
    handle = model.get_submodule("ip2").register_forward_hook(lambda _m, _a, o: out.append(o))
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            model(x[i : i + 1000])
    handle.remove()
    return torch.cat(out)


@pytest.mark.parametrize(
    "spec", ["zoo:weights/caffe-lenet-mnist/lenet.prototxt", "specs/lenet.net"]
)
def test_caffe_lenet_scores_the_reference_accuracy(zoo_dir: Path, spec: str) -> None:
    path = zoo_dir / spec[4:] if spec.startswith("zoo:") else ROOT / spec
    graph = netc.load(path)
    model = graph.to_torch().eval()
    report = load_into(
        model, zoo_dir / "weights/caffe-lenet-mnist/lenet_iter_10000.caffemodel", graph
    )
    assert sorted(report.loaded) == sorted(model.state_dict())
    assert report.missing == {}
    x, labels = mnist_test(zoo_dir)
    logits = lenet_logits(model, x)
    accuracy = (logits.argmax(1).numpy() == labels).mean()
    assert accuracy == pytest.approx(0.9914, abs=1e-9)  # REF §3: 9,914 of 10,000
    np.testing.assert_allclose(logits[0].numpy(), REF_LOGITS_0, atol=1e-4)  # REF §3, label 7
    assert labels[0] == 7


def test_lenet_caffemodel_layers(zoo_dir: Path) -> None:
    """The training net's layers: blob-free ones included, shapes from lenet.prototxt."""
    name, layers = read_caffemodel(
        zoo_dir / "weights/caffe-lenet-mnist/lenet_iter_10000.caffemodel"
    )
    assert name == "LeNet"
    shapes = {la.name: [b.shape for b in la.blobs] for la in layers}
    assert shapes == {
        "mnist": [],
        "conv1": [(20, 1, 5, 5), (20,)],
        "pool1": [],
        "conv2": [(50, 20, 5, 5), (50,)],
        "pool2": [],
        "ip1": [(500, 800), (500,)],  # 50×4×4 inputs
        "relu1": [],
        "ip2": [(10, 500), (10,)],
        "loss": [],
    }


@pytest.mark.parametrize("det", ["det1", "det2", "det3", "det4"])
def test_mtcnn_caffemodels_load(zoo_dir: Path, det: str) -> None:
    folder = zoo_dir / "weights/caffe-mtcnn"
    graph = netc.load(folder / f"{det}.prototxt")
    model = graph.to_torch().eval()
    report = load_into(model, folder / f"{det}.caffemodel", graph)  # strict
    assert sorted(report.loaded) == sorted(model.state_dict())
    _, layers = read_caffemodel(folder / f"{det}.caffemodel")
    in_net = {n.name for n in graph.nodes}
    # weights of layers the deploy prototxt lacks (det2's landmark head conv5-3) are skipped
    assert set(report.skipped) == {la.name for la in layers if la.blobs and la.name not in in_net}


@pytest.mark.parametrize("det, net", [("det1", "pnet"), ("det2", "rnet"), ("det3", "onet")])
def test_mtcnn_facenet_state_dicts_equal_the_caffe_weights(
    zoo_dir: Path, det: str, net: str
) -> None:
    """SOURCES.md: facenet-pytorch's .pt files hold the Caffe numbers with H and W swapped;
    the mappings in specs/transfer/mappings rename and re-lay them, and every value agrees."""
    graph = netc.load(zoo_dir / f"weights/caffe-mtcnn/{det}.prototxt")
    caffe = read_weights(zoo_dir / f"weights/caffe-mtcnn/{det}.caffemodel", graph)
    mapping = ROOT / f"specs/transfer/mappings/facenet_{net}.yaml"
    facenet = read_weights(
        zoo_dir / f"weights/facenet-pytorch-mtcnn/{net}.pt", graph, mapping=mapping
    )
    assert sorted(facenet) == sorted(caffe)
    for key in caffe:
        np.testing.assert_array_equal(facenet[key], caffe[key], err_msg=key)
    raw = torch.load(zoo_dir / f"weights/facenet-pytorch-mtcnn/{net}.pt", weights_only=True)
    swapped = raw["conv1.weight"].numpy().transpose(0, 1, 3, 2)
    np.testing.assert_array_equal(swapped, caffe["conv1.weight"])  # SOURCES.md's statement


# ---- torch, safetensors and npz files ----

SMALL = """
name: "small"
input: "data" input_shape { dim: 2 dim: 3 dim: 8 dim: 8 }
layer { name: "conv1" type: "Convolution" num_output: 4 kernel_size: 3 }
layer { name: "bn1" type: "BatchNorm" affine: true }
layer { name: "relu1" type: "ReLU" inplace: true }
layer { name: "fc" type: "InnerProduct" num_output: 5 }
"""


@pytest.fixture()
def small() -> tuple[netc.Graph, torch.nn.Module]:
    torch.manual_seed(0)
    graph = netc.load(SMALL)
    model = graph.to_torch()
    with torch.no_grad():  # statistics that differ from a fresh module's
        model.bn1.running_mean.uniform_(-1, 1)
        model.bn1.running_var.uniform_(0.5, 2)
        model.bn1.num_batches_tracked.fill_(7)
    return graph, model.eval()


def fresh(graph: netc.Graph) -> torch.nn.Module:
    torch.manual_seed(1)
    return graph.to_torch().eval()


@pytest.mark.parametrize("form", ["plain", "state_dict", "model", "ddp", "safetensors", "npz"])
def test_state_dict_files_round_trip(
    tmp_path: Path, small: tuple[netc.Graph, torch.nn.Module], form: str
) -> None:
    graph, model = small
    state = model.state_dict()
    if form == "safetensors":
        from safetensors.torch import save_file

        path = tmp_path / "w.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, path)
    elif form == "npz":
        path = tmp_path / "w.npz"
        save_npz(path, {k: v.numpy() for k, v in state.items()})
    else:
        path = tmp_path / "w.pt"
        payload: object = {
            "plain": state,
            "state_dict": {"state_dict": state, "epoch": 3},
            "model": {"model": state, "optimizer": {}},
            "ddp": {f"module.{k}": v for k, v in state.items()},
        }[form]
        torch.save(payload, path)
    other = fresh(graph)
    report = load_into(other, path, graph)
    assert sorted(report.loaded) == sorted(state)
    for key, value in other.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0, msg=key)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(other(x), model(x), rtol=0, atol=0)


def test_arrays_load_directly(small: tuple[netc.Graph, torch.nn.Module]) -> None:
    graph, model = small
    arrays = {k: v.numpy() for k, v in model.state_dict().items()}
    other = fresh(graph)
    load_into(other, arrays, graph)
    torch.testing.assert_close(other.fc.weight, model.fc.weight, rtol=0, atol=0)


def test_a_pickled_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"conv1.weight": object()}, path)  # weights_only=True refuses arbitrary objects
    with pytest.raises(NetcError) as err:
        read_weights(path, netc.load(SMALL))
    assert str(path) in str(err.value) and "weights_only" in str(err.value)


def test_shape_mismatch_names_the_layer_and_both_shapes(
    tmp_path: Path, small: tuple[netc.Graph, torch.nn.Module]
) -> None:
    _, model = small
    path = tmp_path / "w.pt"
    torch.save(model.state_dict(), path)
    spec = tmp_path / "wide.net"
    spec.write_text(SMALL.replace("num_output: 4", "num_output: 6"))
    wide = netc.load(spec)
    with pytest.raises(NetcError) as err:
        load_into(wide.to_torch(), path, wide)
    text = str(err.value)
    assert 'layer "conv1" (Convolution) weight: weights 4×3×3×3, network 6×3×3×3' in text
    assert f"{spec}:4:" in text  # positioned at the spec's layer
    assert 'layer "bn1"' in text  # every mismatch is reported, not only the first


def test_strict_requires_every_base_tensor(
    tmp_path: Path, small: tuple[netc.Graph, torch.nn.Module]
) -> None:
    graph, model = small
    path = tmp_path / "w.pt"
    torch.save({k: v for k, v in model.state_dict().items() if not k.startswith("fc.")}, path)
    with pytest.raises(NetcError) as err:
        load_into(fresh(graph), path, graph)
    assert "no weights for 2 tensors" in str(err.value) and "fc.weight" in str(err.value)
    report = load_into(fresh(graph), path, graph, strict=False)
    assert report.missing == {"fc.weight": "not in the weights", "fc.bias": "not in the weights"}


def test_num_batches_tracked_is_optional(
    tmp_path: Path, small: tuple[netc.Graph, torch.nn.Module]
) -> None:
    graph, model = small
    path = tmp_path / "w.pt"
    torch.save({k: v for k, v in model.state_dict().items() if "num_batches" not in k}, path)
    report = load_into(fresh(graph), path, graph)  # strict, yet no error
    assert "bn1.num_batches_tracked" in report.missing


# ---- name mappings ----


def test_mapping_renames_drops_and_permutes(
    tmp_path: Path, small: tuple[netc.Graph, torch.nn.Module]
) -> None:
    graph, model = small
    state = model.state_dict()
    renamed = {k.replace("conv1.", "features.0."): v for k, v in state.items()}
    renamed["features.0.weight"] = renamed["features.0.weight"].transpose(2, 3).contiguous()
    renamed["aux.weight"] = torch.zeros(3)
    path = tmp_path / "w.pt"
    torch.save(renamed, path)
    mapping_file = tmp_path / "map.yaml"
    mapping_file.write_text(
        "'features\\.0\\.weight': {to: conv1.weight, permute: [0, 1, 3, 2]}\n"
        "'features\\.0\\.(.*)': 'conv1.\\1'\n"
        "'aux\\..*': null\n"
    )
    found = match(path, graph, mapping=mapping_file)
    assert found.skipped == {"aux.weight": "dropped by the mapping (aux\\..*)"}
    for key, value in state.items():
        np.testing.assert_array_equal(found.arrays[key], value.numpy(), err_msg=key)
    as_json = tmp_path / "map.json"
    as_json.write_text('{"features\\\\.0\\\\.(.*)": "conv1.\\\\1", "aux.weight": null}')
    found = match(path, graph, mapping=as_json)
    assert found.arrays["conv1.weight"].shape == (4, 3, 3, 3)


@pytest.mark.parametrize(
    "mapping, message",
    [
        ({"a(": "b"}, "not a regular expression"),
        ({"a": "\\1"}, "names a group the pattern does not have"),
        ({"a": {"to": "b", "permute": [0, 0]}}, "permute must list each axis once"),
        ({"a": {"to": "b", "shape": [1]}}, "unknown key 'shape'"),
        ({"a": 3}, "a target must be a name, null or a table"),
    ],
)
def test_bad_mappings_are_clear_errors(mapping: dict[str, object], message: str) -> None:
    with pytest.raises(NetcError) as err:
        match({}, netc.load(SMALL), mapping=mapping)
    assert message in str(err.value)


def test_bad_files_are_clear_errors(tmp_path: Path) -> None:
    graph = netc.load(SMALL)
    with pytest.raises(NetcError, match="no such file"):
        read_weights(tmp_path / "none.pt", graph)
    odd = tmp_path / "w.h5"
    odd.write_bytes(b"x")
    with pytest.raises(NetcError, match=r"unknown weights format \.h5"):
        read_weights(odd, graph)
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [")
    with pytest.raises(NetcError, match="not valid YAML"):
        read_weights(odd, graph, mapping=bad)


# ---- Caffe's BatchNorm + Scale, and derived specs ----

BN_SPEC = """
input: "data" input_shape { dim: 2 dim: 3 dim: 4 dim: 4 }
layer { name: "conv" type: "Convolution" num_output: 2 kernel_size: 1 bias_term: false }
layer { name: "bn" type: "BatchNorm" }
layer { name: "scale" type: "Scale" bias_term: true }
"""


@pytest.mark.parametrize("factor", [999.0, 0.0])
def test_caffe_batchnorm_is_divided_by_its_scale_factor(tmp_path: Path, factor: float) -> None:
    """Caffe keeps mean·s, var·s and s (batch_norm_layer.cpp: divides by s, or uses 0 when s
    is 0); the fused torch BatchNorm2d must compute (x - mean)/sqrt(var + eps)·γ + β."""
    conv = np.array([[1, 2, 3], [-1, 0, 1]], np.float32).reshape(2, 3, 1, 1)
    mean, var = np.array([0.5, -0.25], np.float32), np.array([2.0, 0.5], np.float32)
    gamma, beta = np.array([1.5, -2.0], np.float32), np.array([0.1, 0.2], np.float32)
    stored = [mean * factor, var * factor, np.array([factor], np.float32)]
    path = write(
        tmp_path / "bn.caffemodel",
        layer("conv", "Convolution", blob(conv)),
        layer("bn", "BatchNorm", *(blob(b) for b in stored)),
        layer("scale", "Scale", blob(gamma), blob(beta)),
    )
    graph = netc.load(BN_SPEC)
    model = graph.to_torch().eval()
    report = load_into(model, path, graph)
    assert sorted(report.loaded) == [
        "bn.bias",
        "bn.running_mean",
        "bn.running_var",
        "bn.weight",
        "conv.weight",
    ]
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    y = np.einsum("oc,nchw->nohw", conv[:, :, 0, 0], x)
    m, v = (mean, var) if factor else (np.zeros(2, np.float32), np.zeros(2, np.float32))
    expected = (y - m[:, None, None]) / np.sqrt(v[:, None, None] + 1e-5) * gamma[
        :, None, None
    ] + beta[:, None, None]
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4 if not factor else 1e-5)


def test_a_derived_spec_keeps_its_replaced_head(tmp_path: Path, zoo_dir: Path) -> None:
    """`replace "ip2"` by a 5-way "ip2": same name, other shape: fresh initialisation, no error."""
    (tmp_path / "lenet.net").write_text((ROOT / "specs/lenet.net").read_text())
    spec = tmp_path / "five.net"
    spec.write_text(
        'extends "lenet.net"\n'
        'replace "ip2" { layer { name: "ip2" type: "InnerProduct" num_output: 5 } }\n'
        'layer { name: "ip3" type: "InnerProduct" num_output: 3 }\n'
    )
    graph = netc.load(spec)
    derived = {t.node for t in targets(graph).by_key.values() if t.derived}
    assert derived == {"ip2", "ip3"}
    model = graph.to_torch().eval()
    before = model.ip2.weight.detach().clone()
    report = load_into(
        model, zoo_dir / "weights/caffe-lenet-mnist/lenet_iter_10000.caffemodel", graph
    )
    assert report.skipped["ip2[0]"].startswith(
        "ip2 is replaced in the derived spec (weights 10×500"
    )
    assert report.missing["ip3.weight"] == "new or replaced in the derived spec"
    assert sorted(report.loaded) == sorted(
        f"{n}.{b}" for n in ("conv1", "conv2", "ip1") for b in ("weight", "bias")
    )
    torch.testing.assert_close(model.ip2.weight, before, rtol=0, atol=0)


def test_a_chain_of_derived_specs_counts_every_new_layer(tmp_path: Path, zoo_dir: Path) -> None:
    """A extends B extends lenet: the head B adds is new in A too (not required of the weights)."""
    (tmp_path / "lenet.net").write_text((ROOT / "specs/lenet.net").read_text())
    (tmp_path / "b.net").write_text(
        'extends "lenet.net"\n'
        'replace "ip2" { layer { name: "head" type: "InnerProduct" num_output: 4 } }\n'
    )
    (tmp_path / "a.net").write_text('extends "b.net"\nfreeze "conv1" .. "ip1"\n')
    graph = netc.load(tmp_path / "a.net")
    assert {t.node for t in targets(graph).by_key.values() if t.derived} == {"head"}
    report = load_into(
        graph.to_torch(), zoo_dir / "weights/caffe-lenet-mnist/lenet_iter_10000.caffemodel", graph
    )  # strict: everything of the root base loads, the head keeps its initialisation
    assert report.missing == {
        "head.weight": "new or replaced in the derived spec",
        "head.bias": "new or replaced in the derived spec",
    }


def test_the_lenet_digits_recipe_loads_the_caffe_weights(zoo_dir: Path) -> None:
    graph = netc.load(ROOT / "specs/transfer/lenet_digits.net")
    report = load_into(
        graph.to_torch(), zoo_dir / "weights/caffe-lenet-mnist/lenet_iter_10000.caffemodel", graph
    )
    assert report.skipped == {"ip2": "no such layer in the network"}
    assert report.missing == {
        "ip2_digits.weight": "new or replaced in the derived spec",
        "ip2_digits.bias": "new or replaced in the derived spec",
    }


def test_caffe_batchnorm_and_scale_fill_an_affine_batchnorm(tmp_path: Path) -> None:
    """netc's `BatchNorm affine: true` is Caffe's BatchNorm + Scale pair; a mapping sends the
    Scale layer's γ and β to it."""
    mean, var = np.array([1.0, 2.0], np.float32), np.array([3.0, 4.0], np.float32)
    gamma, beta = np.array([5.0, 6.0], np.float32), np.array([7.0, 8.0], np.float32)
    path = write(
        tmp_path / "bn.caffemodel",
        layer("bn", "BatchNorm", blob(mean * 2), blob(var * 2), blob(np.array([2.0], np.float32))),
        layer("scale_bn", "Scale", blob(gamma), blob(beta)),
    )
    graph = netc.load(
        'input: "x" input_shape { dim: 1 dim: 2 dim: 3 dim: 3 }\n'
        'layer { name: "bn" type: "BatchNorm" affine: true }'
    )
    arrays = read_weights(path, graph, mapping={"scale_bn": "bn"})
    expected = {"bn.running_mean": mean, "bn.running_var": var, "bn.weight": gamma, "bn.bias": beta}
    assert sorted(arrays) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(arrays[key], value, err_msg=key)


def test_reading_caffe_weights_imports_no_torch(zoo_dir: Path) -> None:
    code = (
        "import sys, netc, netc.weights as w\n"
        f"g = netc.load({str(zoo_dir / 'weights/caffe-lenet-mnist/lenet.prototxt')!r})\n"
        f"a = w.read_weights({str(zoo_dir / 'weights/caffe-lenet-mnist/lenet_iter_10000.caffemodel')!r}, g)\n"
        "assert sorted(a) == ['conv1.bias', 'conv1.weight', 'conv2.bias', 'conv2.weight',"
        " 'ip1.bias', 'ip1.weight', 'ip2.bias', 'ip2.weight'], sorted(a)\n"
        "assert 'torch' not in sys.modules\n"
    )
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
@pytest.mark.parametrize("ml_dtypes_first", [False, True])
def test_bfloat16_weights_are_widened(tmp_path: Path, suffix: str, ml_dtypes_first: bool) -> None:
    """numpy has no bfloat16 (unless ml_dtypes, which onnx imports, adds one); values that bf16
    holds exactly (k/8) must come back exactly, as float32, either way."""
    if ml_dtypes_first:
        import ml_dtypes  # noqa: F401  (registers numpy's bfloat16 for the rest of the process)

    graph = netc.load(
        'input: "x" input_shape { dim: 1 dim: 2 }\nlayer { name: "fc" type: "InnerProduct" num_output: 3 }'
    )
    weight = (torch.arange(6, dtype=torch.float32).reshape(3, 2) / 8).to(torch.bfloat16)
    bias = torch.tensor([-1.0, 0.5, 2.0], dtype=torch.bfloat16)
    path = tmp_path / f"w{suffix}"
    if suffix == ".pt":
        torch.save({"fc.weight": weight, "fc.bias": bias}, path)
    else:
        from safetensors.torch import save_file

        save_file({"fc.weight": weight, "fc.bias": bias}, path)
    arrays = read_weights(path, graph)
    np.testing.assert_array_equal(
        arrays["fc.weight"], np.arange(6, dtype=np.float32).reshape(3, 2) / 8
    )
    np.testing.assert_array_equal(arrays["fc.bias"], [-1.0, 0.5, 2.0])
    assert arrays["fc.weight"].dtype == np.float32


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a pickle at all", "cannot load as a torch state_dict"),
        ("tensor", "holds no state_dict"),
    ],
)
def test_unusable_torch_files_are_clear_errors(
    tmp_path: Path, content: object, message: str
) -> None:
    path = tmp_path / "w.pth"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(torch.zeros(3), path)
    with pytest.raises(NetcError) as err:
        read_weights(path, netc.load(SMALL))
    assert str(path) in str(err.value) and message in str(err.value)


def test_a_meta_module_is_refused(small: tuple[netc.Graph, torch.nn.Module]) -> None:
    graph, model = small
    arrays = {k: v.numpy() for k, v in model.state_dict().items()}
    with torch.device("meta"):
        meta = graph.to_torch()
    with pytest.raises(NetcError, match="meta device"):
        load_into(meta, arrays, graph)


@pytest.mark.parametrize(
    "spec",
    [
        "specs/googlenet.net",  # Caffe's names with slashes: registered by string
        "specs/resnet50.net",  # templates, nn.Sequential, affine BatchNorm
        "specs/se_resnet50.net",  # Scale with a second bottom: no blob
        "specs/alphago_policy.net",  # a per-position Bias
        "zoo:caffe/ResNet-50-deploy.prototxt",  # Caffe's BatchNorm + Scale fused
        "zoo:weights/caffe-mtcnn/det1.prototxt",  # PReLU
    ],
)
def test_targets_are_the_generated_state_dict(spec: str, request: pytest.FixtureRequest) -> None:
    """The keys netc.weights computes without torch are exactly the module's, in shapes that
    agree up to leading 1s (torch's num_batches_tracked is a scalar, the IR's blob 1-D)."""
    zoo = spec.startswith("zoo:")
    graph = netc.load(request.getfixturevalue("zoo_dir") / spec[4:] if zoo else ROOT / spec)
    with torch.device("meta"):
        state = graph.to_torch().state_dict()
    table = targets(graph).by_key
    assert sorted(table) == sorted(state)
    for key, target in table.items():
        shape = tuple(state[key].shape)
        assert shape == target.shape or (
            target.blob == "moving_average_factor" and shape == () and target.shape == (1,)
        ), key
