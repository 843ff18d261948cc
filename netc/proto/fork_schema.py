"""Fields and messages that Caffe's forks added to BVLC's caffe.proto, as real files carry them.

Each names its fork (`Field.origin`). A field netc can ignore says why (`Field.ignored`: a
warning each time it is read); one that changes the network is understood by the layer that
reads it. Field numbers are the fork's own where it matters for nothing but documentation:
netc reads prototxt by name, and a .caffemodel only for blobs.
"""

from __future__ import annotations

from netc.proto.schema import EnumType, Field, Kind, Message

_INTEL = "Intel Caffe"
_ENGINE_IGNORED = "it picks Intel Caffe's compute library (MKL2017, MKLDNN), not what is computed"
# intel/caffe src/caffe/proto/caffe.proto: NetParameter.engine = 9, LayerParameter.engine = 149
INTEL_NET_ENGINE = Field("engine", 9, Kind.STRING, origin=_INTEL, ignored=_ENGINE_IGNORED)
INTEL_LAYER_ENGINE = Field("engine", 149, Kind.STRING, origin=_INTEL, ignored=_ENGINE_IGNORED)

# BVLC/caffe pull request 3057 (unmerged), carried by the forks of DenseNet, DPN, ResNeXt and
# WRN releases: `ceil_mode: false` rounds the pooled size down. It has number 13 there, which
# BVLC master later gave to round_mode (CEIL = 0, FLOOR = 1, the opposite sense for a binary
# reader); prototxt files name it, and netc reads it by name.
CEIL_MODE = Field(
    "ceil_mode", 13, Kind.BOOL, default=True, origin="Caffe pull request 3057 (DenseNet, ResNeXt)"
)

# rbgirshick/caffe-fast-rcnn (py-faster-rcnn's Caffe) src/caffe/layers/dropout_layer.cpp:
# `scale_train: false` keeps training outputs unscaled (x·mask) and so multiplies by
# 1 − ratio at TEST: it changes the deploy network's output
SCALE_TRAIN = Field(
    "scale_train", 3, Kind.BOOL, default=True, origin="py-faster-rcnn's Caffe (caffe-fast-rcnn)"
)

_PSPNET = "PSPNet (hszhao/PSPNet)"
# hszhao/PSPNet src/caffe/proto/caffe.proto: BNParameter (from ChenglongChen's batch
# normalization), InterpParameter (from DeepLab v2); LayerParameter fields 152 and 143
BN_ENGINE = EnumType("BNParameter.Engine", {"DEFAULT": 0, "CAFFE": 1, "CUDNN": 2})
BN_PARAMETER = Message(
    "BNParameter",
    [
        Field("slope_filler", 1, Kind.MESSAGE, message="FillerParameter"),
        Field("bias_filler", 2, Kind.MESSAGE, message="FillerParameter"),
        Field("momentum", 3, Kind.FLOAT, default=0.9),
        Field("eps", 4, Kind.FLOAT, default=1e-5),
        Field("frozen", 5, Kind.BOOL, default=False),
        Field("engine", 6, Kind.ENUM, default="DEFAULT", enum="BNParameter.Engine"),
    ],
)
INTERP_PARAMETER = Message(
    "InterpParameter",
    [
        Field("height", 1, Kind.INT, default=0),
        Field("width", 2, Kind.INT, default=0),
        Field("zoom_factor", 3, Kind.INT, default=1),
        Field("shrink_factor", 4, Kind.INT, default=1),
        Field("pad_beg", 5, Kind.INT, default=0),
        Field("pad_end", 6, Kind.INT, default=0),
    ],
)

# farmingyard/ShuffleNet shuffle_channel_layer (and the ShuffleNet Caffe ports): LayerParameter
# field 164
SHUFFLE_CHANNEL_PARAMETER = Message(
    "ShuffleChannelParameter", [Field("group", 1, Kind.UINT, default=1)]
)

# weiliu89/caffe, branch ssd, src/caffe/proto/caffe.proto: LayerParameter fields 206, 202, 203
_SSD = "SSD (weiliu89/caffe, ssd)"
NORMALIZE_PARAMETER = Message(
    "NormalizeParameter",
    [
        Field("across_spatial", 1, Kind.BOOL, default=True),
        Field("scale_filler", 2, Kind.MESSAGE, message="FillerParameter"),
        Field("channel_shared", 3, Kind.BOOL, default=True),
        Field("eps", 4, Kind.FLOAT, default=1e-10),
    ],
)
PERMUTE_PARAMETER = Message("PermuteParameter", [Field("order", 1, Kind.UINT, repeated=True)])
PRIOR_BOX_CODE_TYPE = EnumType(
    "PriorBoxParameter.CodeType", {"CORNER": 1, "CENTER_SIZE": 2, "CORNER_SIZE": 3}
)
PRIOR_BOX_PARAMETER = Message(
    "PriorBoxParameter",
    [
        Field("min_size", 1, Kind.FLOAT, repeated=True),
        Field("max_size", 2, Kind.FLOAT, repeated=True),
        Field("aspect_ratio", 3, Kind.FLOAT, repeated=True),
        Field("flip", 4, Kind.BOOL, default=True),
        Field("clip", 5, Kind.BOOL, default=False),
        Field("variance", 6, Kind.FLOAT, repeated=True),
        Field("img_size", 7, Kind.UINT),
        Field("img_h", 8, Kind.UINT),
        Field("img_w", 9, Kind.UINT),
        Field("step", 10, Kind.FLOAT),
        Field("step_h", 11, Kind.FLOAT),
        Field("step_w", 12, Kind.FLOAT),
        Field("offset", 13, Kind.FLOAT, default=0.5),
    ],
)

FORK_LAYER_FIELDS: tuple[Field, ...] = (
    Field("bn_param", 152, Kind.MESSAGE, message="BNParameter", origin=_PSPNET),
    Field("interp_param", 143, Kind.MESSAGE, message="InterpParameter", origin=_PSPNET),
    Field(
        "shuffle_channel_param",
        164,
        Kind.MESSAGE,
        message="ShuffleChannelParameter",
        origin="ShuffleNet (farmingyard/ShuffleNet)",
    ),
    Field("norm_param", 206, Kind.MESSAGE, message="NormalizeParameter", origin=_SSD),
    Field("permute_param", 202, Kind.MESSAGE, message="PermuteParameter", origin=_SSD),
    Field("prior_box_param", 203, Kind.MESSAGE, message="PriorBoxParameter", origin=_SSD),
)
FORK_MESSAGES: tuple[Message, ...] = (
    BN_PARAMETER,
    INTERP_PARAMETER,
    SHUFFLE_CHANNEL_PARAMETER,
    NORMALIZE_PARAMETER,
    PERMUTE_PARAMETER,
    PRIOR_BOX_PARAMETER,
)
FORK_ENUMS: tuple[EnumType, ...] = (BN_ENGINE, PRIOR_BOX_CODE_TYPE)
