"""The native zoo (specs/*.net): every spec loads, and its parameters, buffers and shapes are the
published architecture's.

Where a number comes from:
- "REF §1" / "REF §2": zoo/REFERENCE.md, section 1 (real Caffe files, counted with Caffe's rules)
  or section 2 (torchvision 0.29.1, `sum(p.numel())`, BN buffers = running mean + var + counter).
- "by hand": computed here in the comment from the paper's architecture, independently of netc.
- Shapes: the paper's figure/table named beside them, or torchvision's own shape comments.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

import netc

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


@functools.cache
def load(spec: str, phase: str = "TEST") -> netc.Graph:
    return netc.load(SPECS / f"{spec}.net", phase=phase)


def outputs(graph: netc.Graph) -> dict[str, tuple[int, ...]]:
    return {graph.tensors[t].blob: tuple(graph.tensors[t].shape) for t in graph.outputs}


# ---- every spec loads --------------------------------------------------------------------------


@pytest.mark.parametrize("phase", ["TEST", "TRAIN"])
@pytest.mark.parametrize("path", sorted(SPECS.glob("*.net")), ids=lambda p: p.name)
def test_every_spec_loads(path: Path, phase: str) -> None:
    graph = netc.load(path, phase=phase)
    assert len(graph) > 0
    assert graph.outputs, "a network with no output"
    assert all(graph.tensors[t].shape is not None for t in graph.outputs)


# ---- learnable parameters and BatchNorm buffers ------------------------------------------------

PARAMS = [
    # spec, params, BN buffers
    # REF §1 lenet.prototxt: 431,080 (= 20·(25+1) + 50·(20·25+1) + 500·(800+1) + 10·(500+1)).
    ("lenet", 431_080, 0),
    # by hand, LeCun et al. 1998 Section II.B: C1 6·(25+1) = 156; S2 6·2 = 12; C3 fully connected
    # 16·(6·25+1) = 2,416 (the paper's partial table: 1,516); S4 16·2 = 32; C5 120·(16·25+1) =
    # 48,120; F6 84·(120+1) = 10,164; output 10·(84+1) = 850 (the paper's RBF units are fixed).
    # The paper's 60,000 trainable parameters + 900 (full C3) + 850 (learned output) = 61,750.
    ("lenet5", 61_750, 0),
    # REF §1 bvlc_alexnet.deploy.prototxt.
    ("alexnet", 60_965_224, 0),
    # REF §2 alexnet (torchvision).
    ("alexnet_torchvision", 61_100_840, 0),
    # by hand, Zeiler & Fergus Fig. 3: conv1 96·(3·7·7+1) = 14,208; conv2 256·(96·25+1) = 614,656;
    # conv3 384·(256·9+1) = 885,120; conv4 384·(384·9+1) = 1,327,488; conv5 256·(384·9+1) =
    # 884,992; fc6 4096·(256·6·6+1) = 37,752,832; fc7 4096·(4096+1) = 16,781,312;
    # fc8 1000·(4096+1) = 4,097,000; total 62,357,608.
    ("zfnet", 62_357_608, 0),
    # REF §2 vgg11 (VGG paper Table 2: A 133 M).
    ("vgg11", 132_863_336, 0),
    # VGG paper Table 2: A-LRN 133 M, the same as A: LRN has no parameters, so REF §2 vgg11.
    ("vgg11_lrn", 132_863_336, 0),
    # REF §2 vgg13 (Table 2: B 133 M).
    ("vgg13", 133_047_848, 0),
    # by hand, VGG paper Table 1 C = B plus conv1-256 (256·256+256 = 65,792) and two conv1-512
    # (2 · (512·512+512) = 525,312): 133,047,848 (REF §2 vgg13) + 591,104 = 133,638,952
    # (Table 2: C 134 M).
    ("vgg16_c", 133_638_952, 0),
    # REF §2 vgg16 and REF §1 VGG_ILSVRC_16_layers_deploy.prototxt (Table 2: D 138 M).
    ("vgg16", 138_357_544, 0),
    # REF §2 vgg19 (Table 2: E 144 M).
    ("vgg19", 143_667_240, 0),
    # REF §2 vgg16_bn: 138,365,992 params, 8,461 buffers.
    ("vgg16_bn", 138_365_992, 8_461),
    # REF §1 bvlc_googlenet.deploy.prototxt (deploy view: no auxiliary classifiers).
    ("googlenet", 6_998_552, 0),
    # REF §2 googlenet (no aux heads): 6,624,904 params, 14,617 buffers.
    ("googlenet_torchvision", 6_624_904, 14_617),
    # REF §2 resnet18/34/50/101/152.
    ("resnet18", 11_689_512, 9_620),
    ("resnet34", 21_797_672, 17_060),
    # plain34 (He et al. 2016, Fig. 3 middle): resnet34 without shortcuts, by hand: REF §2's
    # 21,797,672 minus the three projection convs (64·128 + 128·256 + 256·512 = 172,032 weights)
    # and their BatchNorms' γ, β (2·(128 + 256 + 512) = 1,792); buffers 17,060 minus theirs (1,795).
    ("plain34", 21_623_848, 15_265),
    ("resnet50", 25_557_032, 53_173),
    ("resnet101", 44_549_160, 105_448),
    ("resnet152", 60_192_808, 151_579),
    # REF §2 SE-ResNet-50 (SENet release): 28,088,024. By hand it is resnet50's 25,557,032 plus,
    # per block with C output channels, FC C->C/16 and FC C/16->C with biases: 2·C²/16 + C/16 + C
    # = 8,464 (C=256, ×3) + 33,312 (512, ×4) + 132,160 (1024, ×6) + 526,464 (2048, ×3) = 2,530,992.
    # The SE block adds no BatchNorm: buffers are resnet50's 53,173 (REF §2).
    ("se_resnet50", 28_088_024, 53_173),
    # by hand, Silver et al. 2016 Methods (k = 192): conv1 192·(48·5·5+1) = 230,592;
    # conv2-12 11 · 192·(192·3·3+1) = 3,651,648; conv13 1·192·1·1 = 192 (no bias);
    # one bias per board point 19·19 = 361; total 3,882,793.
    ("alphago_policy", 3_882_793, 0),
]


@pytest.mark.parametrize(("spec", "params", "buffers"), PARAMS, ids=[p[0] for p in PARAMS])
def test_params(spec: str, params: int, buffers: int) -> None:
    graph = load(spec)
    assert graph.params_count() == params
    assert graph.params_count("buffer") == buffers


def test_every_spec_has_a_params_figure() -> None:
    assert {p.stem for p in SPECS.glob("*.net")} <= {p[0] for p in PARAMS}


# ---- outputs -----------------------------------------------------------------------------------

OUTPUTS = [
    # Caffe's lenet.prototxt: batch 64, Softmax "prob" over 10 digits (REF §1: prob [64,10]).
    ("lenet", {"prob": (64, 10)}),
    # LeCun et al. 1998: 10 output units.
    ("lenet5", {"prob": (1, 10)}),
    # REF §1: prob over 1000 ImageNet classes (batch 1 here instead of the file's 10).
    ("alexnet", {"prob": (1, 1000)}),
    ("zfnet", {"prob": (1, 1000)}),
    ("googlenet", {"prob": (1, 1000)}),
    # torchvision models return logits: the last Linear (classifier.6 / fc), no softmax.
    ("alexnet_torchvision", {"classifier.6": (1, 1000)}),
    ("vgg11", {"classifier.6": (1, 1000)}),
    ("vgg11_lrn", {"classifier.6": (1, 1000)}),
    ("vgg13", {"classifier.6": (1, 1000)}),
    ("vgg16_c", {"classifier.6": (1, 1000)}),
    ("vgg16", {"classifier.6": (1, 1000)}),
    ("vgg19", {"classifier.6": (1, 1000)}),
    ("vgg16_bn", {"classifier.6": (1, 1000)}),
    ("googlenet_torchvision", {"fc": (1, 1000)}),
    ("resnet18", {"fc": (1, 1000)}),
    ("resnet34", {"fc": (1, 1000)}),
    ("plain34", {"fc": (1, 1000)}),
    ("resnet50", {"fc": (1, 1000)}),
    ("resnet101", {"fc": (1, 1000)}),
    ("resnet152", {"fc": (1, 1000)}),
    ("se_resnet50", {"fc": (1, 1000)}),
    # Silver et al. 2016: a softmax over the 19·19 = 361 board points.
    ("alphago_policy", {"prob": (1, 361)}),
]


@pytest.mark.parametrize(("spec", "expected"), OUTPUTS, ids=[o[0] for o in OUTPUTS])
def test_outputs(spec: str, expected: dict[str, tuple[int, ...]]) -> None:
    # Exactly these outputs: a mis-wired branch would leave a dangling extra output.
    assert outputs(load(spec)) == expected


# ---- intermediate shapes -----------------------------------------------------------------------

GOOGLENET_INCEPTIONS = [
    # REF §1 "intermediate shapes" and GoogLeNet paper Table 1 (output size column):
    # 3a 256 and 3b 480 at 28², 4a-4c 512, 4d 528, 4e 832 at 14², 5a 832, 5b 1024 at 7².
    ("3a", (1, 256, 28, 28)),
    ("3b", (1, 480, 28, 28)),
    ("4a", (1, 512, 14, 14)),
    ("4b", (1, 512, 14, 14)),
    ("4c", (1, 512, 14, 14)),
    ("4d", (1, 528, 14, 14)),
    ("4e", (1, 832, 14, 14)),
    ("5a", (1, 832, 7, 7)),
    ("5b", (1, 1024, 7, 7)),
]

SHAPES = [
    # Caffe's LeNet, by hand: 28-5+1 = 24, /2 = 12, 12-5+1 = 8, /2 = 4; 50·4·4 = 800 into ip1.
    ("lenet", "conv1", (64, 20, 24, 24)),
    ("lenet", "pool1", (64, 20, 12, 12)),
    ("lenet", "conv2", (64, 50, 8, 8)),
    ("lenet", "pool2", (64, 50, 4, 4)),
    ("lenet", "ip1", (64, 500)),
    # LeCun et al. 1998 Fig. 2: C1 6@28×28, S2 6@14×14, C3 16@10×10, S4 16@5×5, C5 120, F6 84.
    ("lenet5", "c1", (1, 6, 28, 28)),
    ("lenet5", "s2", (1, 6, 14, 14)),
    ("lenet5", "c3", (1, 16, 10, 10)),
    ("lenet5", "s4", (1, 16, 5, 5)),
    ("lenet5", "c5", (1, 120, 1, 1)),
    ("lenet5", "f6", (1, 84)),
    # REF §1: AlexNet conv1 96×55×55, pool5 256×6×6 (fc6 fan-in 9216); by hand (Caffe rounding):
    # pool1 (55-3)/2+1 = 27, pool2 (27-3)/2+1 = 13.
    ("alexnet", "conv1", (1, 96, 55, 55)),
    ("alexnet", "pool1", (1, 96, 27, 27)),
    ("alexnet", "pool2", (1, 256, 13, 13)),
    ("alexnet", "conv5", (1, 256, 13, 13)),
    ("alexnet", "pool5", (1, 256, 6, 6)),
    # torchvision AlexNet at 224² (by hand): (224+4-11)//4+1 = 55, then 27, 13, 6 — which is why
    # its AdaptiveAvgPool2d((6, 6)) is the identity.
    ("alexnet_torchvision", "features.0", (1, 64, 55, 55)),
    ("alexnet_torchvision", "features.5", (1, 192, 13, 13)),
    ("alexnet_torchvision", "features.12", (1, 256, 6, 6)),
    # Zeiler & Fergus Fig. 3: 110, 55, 26, 13, 13, 13, 6.
    ("zfnet", "conv1", (1, 96, 110, 110)),
    ("zfnet", "pool1", (1, 96, 55, 55)),
    ("zfnet", "conv2", (1, 256, 26, 26)),
    ("zfnet", "pool2", (1, 256, 13, 13)),
    ("zfnet", "conv3", (1, 384, 13, 13)),
    ("zfnet", "conv4", (1, 384, 13, 13)),
    ("zfnet", "conv5", (1, 256, 13, 13)),
    ("zfnet", "pool5", (1, 256, 6, 6)),
    # REF §1: VGG pool5 512×7×7 (fc6 fan-in 25088). pool5 is the last `features` module:
    # index 2·(#convs) + 4 without BN (3·#convs + 4 with BN), +1 for A-LRN's LRN, 2·#convs + 4
    # for C (#convs: A 8, B 10, C 13, D 13, E 16; Table 1).
    ("vgg11", "features.20", (1, 512, 7, 7)),
    ("vgg11_lrn", "features.21", (1, 512, 7, 7)),
    ("vgg13", "features.24", (1, 512, 7, 7)),
    ("vgg16_c", "features.30", (1, 512, 7, 7)),
    ("vgg16", "features.30", (1, 512, 7, 7)),
    ("vgg19", "features.36", (1, 512, 7, 7)),
    ("vgg16_bn", "features.43", (1, 512, 7, 7)),
    # VGG Table 1: the first stage keeps 224², 64 channels (A-LRN: LRN right after conv3-64).
    ("vgg11_lrn", "features.2", (1, 64, 224, 224)),
    ("vgg16", "features.4", (1, 64, 112, 112)),
    # GoogLeNet paper Table 1: after the stem, 192×28×28; Section 5: the auxiliary classifiers'
    # average pool gives 4×4×512 (on 4a) and 4×4×528 (on 4d) — checked in the TRAIN test below.
    ("googlenet", "pool2.3x3_s2", (1, 192, 28, 28)),
    ("googlenet", "pool5.7x7_s1", (1, 1024, 1, 1)),
    *[("googlenet", f"inception_{m}.output", s) for m, s in GOOGLENET_INCEPTIONS],
    # torchvision googlenet.py's shape comments (same inception outputs; maxpool1 N×64×56×56).
    ("googlenet_torchvision", "maxpool1", (1, 64, 56, 56)),
    ("googlenet_torchvision", "maxpool2", (1, 192, 28, 28)),
    ("googlenet_torchvision", "maxpool4", (1, 832, 7, 7)),
    *[("googlenet_torchvision", f"inception{m}.output", s) for m, s in GOOGLENET_INCEPTIONS],
    # ResNet paper Table 1: conv1 112×112, after the 3×3/2 max-pool 56×56 (conv2_x), then 28, 14,
    # 7; basic-block stages output 64..512 channels, bottleneck stages 256..2048.
    ("resnet18", "conv1", (1, 64, 112, 112)),
    ("resnet18", "maxpool", (1, 64, 56, 56)),
    ("resnet18", "layer1.1.add", (1, 64, 56, 56)),
    ("resnet18", "layer2.1.add", (1, 128, 28, 28)),
    ("resnet18", "layer4.1.add", (1, 512, 7, 7)),
    ("resnet34", "maxpool", (1, 64, 56, 56)),
    ("resnet34", "layer3.5.add", (1, 256, 14, 14)),
    ("resnet34", "layer4.2.add", (1, 512, 7, 7)),
    ("resnet50", "maxpool", (1, 64, 56, 56)),
    ("resnet50", "layer1.2.add", (1, 256, 56, 56)),
    ("resnet50", "layer2.3.add", (1, 512, 28, 28)),
    ("resnet50", "layer3.5.add", (1, 1024, 14, 14)),
    ("resnet50", "layer4.2.add", (1, 2048, 7, 7)),
    ("resnet50", "avgpool", (1, 2048, 1, 1)),
    ("resnet101", "maxpool", (1, 64, 56, 56)),
    ("resnet101", "layer3.22.add", (1, 1024, 14, 14)),
    ("resnet152", "maxpool", (1, 64, 56, 56)),
    ("resnet152", "layer2.7.add", (1, 512, 28, 28)),
    ("resnet152", "layer3.35.add", (1, 1024, 14, 14)),
    ("resnet152", "layer4.2.add", (1, 2048, 7, 7)),
    # SENet paper Fig. 3: squeeze to 1×1×C, excite through C/16, a C-vector gate scaling the
    # residual branch (C = 256 in layer1, 2048 in layer4).
    ("se_resnet50", "maxpool", (1, 64, 56, 56)),
    ("se_resnet50", "layer1.0.se.pool", (1, 256, 1, 1)),
    ("se_resnet50", "layer1.0.se.fc1", (1, 16)),
    ("se_resnet50", "layer1.0.se.fc2", (1, 256)),
    ("se_resnet50", "layer1.0.se.scale", (1, 256, 56, 56)),
    ("se_resnet50", "layer4.2.se.fc1", (1, 128)),
    ("se_resnet50", "layer4.2.add", (1, 2048, 7, 7)),
    # Silver et al. 2016 Methods: every hidden layer keeps the 19×19 board (padding 2, then 1).
    ("alphago_policy", "conv1", (1, 192, 19, 19)),
    ("alphago_policy", "conv12", (1, 192, 19, 19)),
    ("alphago_policy", "conv13", (1, 1, 19, 19)),
    ("alphago_policy", "flatten", (1, 361)),
]


@pytest.mark.parametrize(("spec", "blob", "shape"), SHAPES, ids=[f"{s}:{b}" for s, b, _ in SHAPES])
def test_intermediate_shape(spec: str, blob: str, shape: tuple[int, ...]) -> None:
    assert tuple(load(spec).tensor(blob).shape) == shape


# ---- GoogLeNet's auxiliary classifiers (training only) -----------------------------------------


def test_googlenet_aux_heads_only_in_train() -> None:
    test, train = load("googlenet"), load("googlenet", "TRAIN")
    assert not any(n.name.startswith(("loss1.", "loss2.")) for n in test)
    # by hand, GoogLeNet paper Section 5 / bvlc_googlenet train_val: per head conv 1×1 128
    # (512·128+128 = 65,664 on 4a; 528·128+128 = 67,712 on 4d), FC 128·4·4 -> 1024
    # (2048·1024+1024 = 2,098,176), classifier 1024 -> 1000 (1,025,000): 3,188,840 + 3,190,888.
    assert train.params_count() == 6_998_552 + 3_188_840 + 3_190_888
    assert outputs(train) == {
        "prob": (1, 1000),
        "loss1.classifier": (1, 1000),
        "loss2.classifier": (1, 1000),
    }
    # Section 5: "an average pooling layer with 5×5 filter size and stride 3, resulting in an
    # 4×4×512 output for the (4a), and 4×4×528 for the (4d) stage".
    assert train.tensor("loss1.ave_pool").shape == (1, 512, 4, 4)
    assert train.tensor("loss2.ave_pool").shape == (1, 528, 4, 4)


# ---- torchvision state_dict keys ---------------------------------------------------------------


def state_dict(graph: netc.Graph) -> dict[str, tuple[int, ...]]:
    return {f"{n.name}.{b.name}": tuple(b.shape) for n in graph for b in n.blobs}


TORCHVISION_KEYS = [
    # Keys and shapes of torchvision's state_dicts, read off its model definitions
    # (torchvision/models/{alexnet,vgg,googlenet,resnet}.py): module path + parameter name.
    ("alexnet_torchvision", "features.3.weight", (192, 64, 5, 5)),
    ("alexnet_torchvision", "features.10.bias", (256,)),
    ("alexnet_torchvision", "classifier.1.weight", (4096, 9216)),
    ("alexnet_torchvision", "classifier.4.weight", (4096, 4096)),
    ("alexnet_torchvision", "classifier.6.bias", (1000,)),
    ("vgg11", "features.18.weight", (512, 512, 3, 3)),
    ("vgg16", "features.0.weight", (64, 3, 3, 3)),
    ("vgg16", "features.28.weight", (512, 512, 3, 3)),
    ("vgg16", "classifier.0.weight", (4096, 25088)),
    ("vgg16", "classifier.3.weight", (4096, 4096)),
    ("vgg19", "features.34.weight", (512, 512, 3, 3)),
    ("vgg16_bn", "features.1.running_var", (64,)),
    ("vgg16_bn", "features.40.weight", (512, 512, 3, 3)),
    ("vgg16_bn", "features.41.bias", (512,)),
    ("googlenet_torchvision", "conv1.conv.weight", (64, 3, 7, 7)),
    ("googlenet_torchvision", "conv1.bn.running_mean", (64,)),
    ("googlenet_torchvision", "inception3a.branch2.0.conv.weight", (96, 192, 1, 1)),
    ("googlenet_torchvision", "inception3a.branch3.1.conv.weight", (32, 16, 3, 3)),
    ("googlenet_torchvision", "inception5b.branch4.1.bn.weight", (128,)),
    ("googlenet_torchvision", "fc.weight", (1000, 1024)),
    ("resnet18", "layer1.0.conv2.weight", (64, 64, 3, 3)),
    ("resnet18", "layer2.0.downsample.0.weight", (128, 64, 1, 1)),
    ("resnet18", "fc.weight", (1000, 512)),
    ("resnet50", "conv1.weight", (64, 3, 7, 7)),
    ("resnet50", "layer1.0.downsample.0.weight", (256, 64, 1, 1)),
    ("resnet50", "layer3.5.bn3.running_var", (1024,)),
    ("resnet50", "layer4.0.downsample.1.bias", (2048,)),
    ("resnet50", "fc.weight", (1000, 2048)),
    ("resnet152", "layer3.35.conv3.weight", (1024, 256, 1, 1)),
]


@pytest.mark.parametrize(
    ("spec", "key", "shape"), TORCHVISION_KEYS, ids=[f"{s}:{k}" for s, k, _ in TORCHVISION_KEYS]
)
def test_torchvision_state_dict_key(spec: str, key: str, shape: tuple[int, ...]) -> None:
    assert state_dict(load(spec)).get(key) == shape


@pytest.mark.parametrize(
    ("spec", "modules"),
    [
        # torchvision.models.resnet: conv1, bn1, 4 stages of (2, 2, 2, 2) BasicBlocks with
        # conv1/bn1/conv2/bn2 (+ downsample.0/.1 in layer2-4's first block), fc.
        ("resnet18", 2 + 8 * 4 + 3 * 2 + 1),
        # 16 Bottlenecks (3, 4, 6, 3) of conv1-3/bn1-3, 4 downsample pairs.
        ("resnet50", 2 + 16 * 6 + 4 * 2 + 1),
        # GoogLeNet: 3 stem BasicConv2d + 9 Inceptions × 6 BasicConv2d (conv + bn each), fc.
        ("googlenet_torchvision", (3 + 9 * 6) * 2 + 1),
    ],
)
def test_torchvision_module_count(spec: str, modules: int) -> None:
    # Every module with weights is one spec layer with weights, so no key is missing or extra.
    assert sum(1 for n in load(spec) if n.blobs) == modules


# ---- the Caffe-derived specs equal the Caffe files ---------------------------------------------


@pytest.mark.parametrize(
    ("spec", "caffe_file"),
    [
        ("lenet", "lenet.prototxt"),
        ("alexnet", "bvlc_alexnet.deploy.prototxt"),
        ("googlenet", "bvlc_googlenet.deploy.prototxt"),
    ],
)
def test_spec_equals_caffe_file(spec: str, caffe_file: str, zoo_dir: Path) -> None:
    """Layer by layer: name ("/" written "."), type, blob shapes and wiring, so Caffe's
    pretrained weights load by name."""

    def layers(graph: netc.Graph) -> list[tuple[object, ...]]:
        def blob(tensor_id: str) -> str:
            return graph.tensors[tensor_id].blob.replace("/", ".")

        return [
            (
                n.name.replace("/", "."),
                n.type,
                [tuple(b.shape) for b in n.blobs],
                [blob(t) for t in n.inputs],
                [blob(t) for t in n.outputs],
            )
            for n in graph
        ]

    assert layers(load(spec)) == layers(netc.load(zoo_dir / "caffe" / caffe_file))


# ---- concision -----------------------------------------------------------------------------------


def test_resnet152_is_short() -> None:
    # Design goal: ResNet-152 in well under 80 lines (its Caffe prototxt has thousands).
    assert len((SPECS / "resnet152.net").read_text().splitlines()) < 80
