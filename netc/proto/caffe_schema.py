"""The Caffe network-definition messages, as a `Schema`.

Source: BVLC/caffe, src/caffe/proto/caffe.proto at commit
dc6d3303a45e8c5a0fe7249881ca6bd8387c9203 (master, with ClipParameter / SwishParameter /
PoolingParameter.round_mode). This module is a transcription of field facts only: names,
numbers, types, labels, defaults, packed options and enum values. Messages appear in the
order of the .proto file. Nested enums are named "<Message>.<Enum>"; `Phase` is top level.

Left out on purpose: SolverParameter and SolverState (training, not network definition).
proto2 `required` has no counterpart in `Field`; ClipParameter's two required fields are
plain singular fields here.
"""

from __future__ import annotations

from netc.proto.fork_schema import (
    CEIL_MODE,
    FORK_ENUMS,
    FORK_LAYER_FIELDS,
    FORK_MESSAGES,
    INTEL_LAYER_ENGINE,
    INTEL_NET_ENGINE,
    SCALE_TRAIN,
)
from netc.proto.schema import EnumType, Field, Kind, Message, Schema

# --------------------------------------------------------------------------- enums

PHASE = EnumType("Phase", {"TRAIN": 0, "TEST": 1})

FILLER_VARIANCE_NORM = EnumType(
    "FillerParameter.VarianceNorm", {"FAN_IN": 0, "FAN_OUT": 1, "AVERAGE": 2}
)
PARAM_SPEC_DIM_CHECK_MODE = EnumType("ParamSpec.DimCheckMode", {"STRICT": 0, "PERMISSIVE": 1})
LOSS_NORMALIZATION_MODE = EnumType(
    "LossParameter.NormalizationMode",
    {"FULL": 0, "VALID": 1, "BATCH_SIZE": 2, "NONE": 3},
)
CONVOLUTION_ENGINE = EnumType("ConvolutionParameter.Engine", {"DEFAULT": 0, "CAFFE": 1, "CUDNN": 2})
DATA_DB = EnumType("DataParameter.DB", {"LEVELDB": 0, "LMDB": 1})
ELTWISE_OP = EnumType("EltwiseParameter.EltwiseOp", {"PROD": 0, "SUM": 1, "MAX": 2})
HINGE_LOSS_NORM = EnumType("HingeLossParameter.Norm", {"L1": 1, "L2": 2})
LRN_NORM_REGION = EnumType("LRNParameter.NormRegion", {"ACROSS_CHANNELS": 0, "WITHIN_CHANNEL": 1})
LRN_ENGINE = EnumType("LRNParameter.Engine", {"DEFAULT": 0, "CAFFE": 1, "CUDNN": 2})
POOLING_POOL_METHOD = EnumType("PoolingParameter.PoolMethod", {"MAX": 0, "AVE": 1, "STOCHASTIC": 2})
POOLING_ENGINE = EnumType("PoolingParameter.Engine", {"DEFAULT": 0, "CAFFE": 1, "CUDNN": 2})
POOLING_ROUND_MODE = EnumType("PoolingParameter.RoundMode", {"CEIL": 0, "FLOOR": 1})
REDUCTION_OP = EnumType(
    "ReductionParameter.ReductionOp", {"SUM": 1, "ASUM": 2, "SUMSQ": 3, "MEAN": 4}
)
RELU_ENGINE = EnumType("ReLUParameter.Engine", {"DEFAULT": 0, "CAFFE": 1, "CUDNN": 2})
SIGMOID_ENGINE = EnumType("SigmoidParameter.Engine", {"DEFAULT": 0, "CAFFE": 1, "CUDNN": 2})
SOFTMAX_ENGINE = EnumType("SoftmaxParameter.Engine", {"DEFAULT": 0, "CAFFE": 1, "CUDNN": 2})
TANH_ENGINE = EnumType("TanHParameter.Engine", {"DEFAULT": 0, "CAFFE": 1, "CUDNN": 2})
SPP_POOL_METHOD = EnumType("SPPParameter.PoolMethod", {"MAX": 0, "AVE": 1, "STOCHASTIC": 2})
SPP_ENGINE = EnumType("SPPParameter.Engine", {"DEFAULT": 0, "CAFFE": 1, "CUDNN": 2})
V1_LAYER_TYPE = EnumType(
    "V1LayerParameter.LayerType",
    {
        "NONE": 0,
        "ABSVAL": 35,
        "ACCURACY": 1,
        "ARGMAX": 30,
        "BNLL": 2,
        "CONCAT": 3,
        "CONTRASTIVE_LOSS": 37,
        "CONVOLUTION": 4,
        "DATA": 5,
        "DECONVOLUTION": 39,
        "DROPOUT": 6,
        "DUMMY_DATA": 32,
        "EUCLIDEAN_LOSS": 7,
        "ELTWISE": 25,
        "EXP": 38,
        "FLATTEN": 8,
        "HDF5_DATA": 9,
        "HDF5_OUTPUT": 10,
        "HINGE_LOSS": 28,
        "IM2COL": 11,
        "IMAGE_DATA": 12,
        "INFOGAIN_LOSS": 13,
        "INNER_PRODUCT": 14,
        "LRN": 15,
        "MEMORY_DATA": 29,
        "MULTINOMIAL_LOGISTIC_LOSS": 16,
        "MVN": 34,
        "POOLING": 17,
        "POWER": 26,
        "RELU": 18,
        "SIGMOID": 19,
        "SIGMOID_CROSS_ENTROPY_LOSS": 27,
        "SILENCE": 36,
        "SOFTMAX": 20,
        "SOFTMAX_LOSS": 21,
        "SPLIT": 22,
        "SLICE": 33,
        "TANH": 23,
        "WINDOW_DATA": 24,
        "THRESHOLD": 31,
    },
)
V1_DIM_CHECK_MODE = EnumType("V1LayerParameter.DimCheckMode", {"STRICT": 0, "PERMISSIVE": 1})
V0_POOL_METHOD = EnumType("V0LayerParameter.PoolMethod", {"MAX": 0, "AVE": 1, "STOCHASTIC": 2})

# ------------------------------------------------------------------- blobs and nets

BLOB_SHAPE = Message(
    "BlobShape",
    [
        Field("dim", 1, Kind.INT, repeated=True, packed=True),
    ],
)

BLOB_PROTO = Message(
    "BlobProto",
    [
        Field("shape", 7, Kind.MESSAGE, message="BlobShape"),
        Field("data", 5, Kind.FLOAT, repeated=True, packed=True),
        Field("diff", 6, Kind.FLOAT, repeated=True, packed=True),
        Field("double_data", 8, Kind.FLOAT, repeated=True, packed=True),
        Field("double_diff", 9, Kind.FLOAT, repeated=True, packed=True),
        Field("num", 1, Kind.INT, default=0),
        Field("channels", 2, Kind.INT, default=0),
        Field("height", 3, Kind.INT, default=0),
        Field("width", 4, Kind.INT, default=0),
    ],
)

BLOB_PROTO_VECTOR = Message(
    "BlobProtoVector",
    [
        Field("blobs", 1, Kind.MESSAGE, repeated=True, message="BlobProto"),
    ],
)

DATUM = Message(
    "Datum",
    [
        Field("channels", 1, Kind.INT),
        Field("height", 2, Kind.INT),
        Field("width", 3, Kind.INT),
        Field("data", 4, Kind.BYTES),
        Field("label", 5, Kind.INT),
        Field("float_data", 6, Kind.FLOAT, repeated=True),
        Field("encoded", 7, Kind.BOOL, default=False),
    ],
)

FILLER_PARAMETER = Message(
    "FillerParameter",
    [
        Field("type", 1, Kind.STRING, default="constant"),
        Field("value", 2, Kind.FLOAT, default=0.0),
        Field("min", 3, Kind.FLOAT, default=0.0),
        Field("max", 4, Kind.FLOAT, default=1.0),
        Field("mean", 5, Kind.FLOAT, default=0.0),
        Field("std", 6, Kind.FLOAT, default=1.0),
        Field("sparse", 7, Kind.INT, default=-1),
        Field("variance_norm", 8, Kind.ENUM, default="FAN_IN", enum="FillerParameter.VarianceNorm"),
    ],
)

NET_PARAMETER = Message(
    "NetParameter",
    [
        Field("name", 1, Kind.STRING),
        Field("input", 3, Kind.STRING, repeated=True),
        Field("input_shape", 8, Kind.MESSAGE, repeated=True, message="BlobShape"),
        Field("input_dim", 4, Kind.INT, repeated=True),
        Field("force_backward", 5, Kind.BOOL, default=False),
        Field("state", 6, Kind.MESSAGE, message="NetState"),
        Field("debug_info", 7, Kind.BOOL, default=False),
        Field("layer", 100, Kind.MESSAGE, repeated=True, message="LayerParameter"),
        Field("layers", 2, Kind.MESSAGE, repeated=True, message="V1LayerParameter"),
        INTEL_NET_ENGINE,
    ],
)

NET_STATE = Message(
    "NetState",
    [
        Field("phase", 1, Kind.ENUM, default="TEST", enum="Phase"),
        Field("level", 2, Kind.INT, default=0),
        Field("stage", 3, Kind.STRING, repeated=True),
    ],
)

NET_STATE_RULE = Message(
    "NetStateRule",
    [
        Field("phase", 1, Kind.ENUM, enum="Phase"),
        Field("min_level", 2, Kind.INT),
        Field("max_level", 3, Kind.INT),
        Field("stage", 4, Kind.STRING, repeated=True),
        Field("not_stage", 5, Kind.STRING, repeated=True),
    ],
)

PARAM_SPEC = Message(
    "ParamSpec",
    [
        Field("name", 1, Kind.STRING),
        Field("share_mode", 2, Kind.ENUM, enum="ParamSpec.DimCheckMode"),
        Field("lr_mult", 3, Kind.FLOAT, default=1.0),
        Field("decay_mult", 4, Kind.FLOAT, default=1.0),
    ],
)

LAYER_PARAMETER = Message(
    "LayerParameter",
    [
        Field("name", 1, Kind.STRING),
        Field("type", 2, Kind.STRING),
        Field("bottom", 3, Kind.STRING, repeated=True),
        Field("top", 4, Kind.STRING, repeated=True),
        Field("phase", 10, Kind.ENUM, enum="Phase"),
        Field("loss_weight", 5, Kind.FLOAT, repeated=True),
        Field("param", 6, Kind.MESSAGE, repeated=True, message="ParamSpec"),
        Field("blobs", 7, Kind.MESSAGE, repeated=True, message="BlobProto"),
        Field("propagate_down", 11, Kind.BOOL, repeated=True),
        Field("include", 8, Kind.MESSAGE, repeated=True, message="NetStateRule"),
        Field("exclude", 9, Kind.MESSAGE, repeated=True, message="NetStateRule"),
        Field("transform_param", 100, Kind.MESSAGE, message="TransformationParameter"),
        Field("loss_param", 101, Kind.MESSAGE, message="LossParameter"),
        Field("accuracy_param", 102, Kind.MESSAGE, message="AccuracyParameter"),
        Field("argmax_param", 103, Kind.MESSAGE, message="ArgMaxParameter"),
        Field("batch_norm_param", 139, Kind.MESSAGE, message="BatchNormParameter"),
        Field("bias_param", 141, Kind.MESSAGE, message="BiasParameter"),
        Field("clip_param", 148, Kind.MESSAGE, message="ClipParameter"),
        Field("concat_param", 104, Kind.MESSAGE, message="ConcatParameter"),
        Field("contrastive_loss_param", 105, Kind.MESSAGE, message="ContrastiveLossParameter"),
        Field("convolution_param", 106, Kind.MESSAGE, message="ConvolutionParameter"),
        Field("crop_param", 144, Kind.MESSAGE, message="CropParameter"),
        Field("data_param", 107, Kind.MESSAGE, message="DataParameter"),
        Field("dropout_param", 108, Kind.MESSAGE, message="DropoutParameter"),
        Field("dummy_data_param", 109, Kind.MESSAGE, message="DummyDataParameter"),
        Field("eltwise_param", 110, Kind.MESSAGE, message="EltwiseParameter"),
        Field("elu_param", 140, Kind.MESSAGE, message="ELUParameter"),
        Field("embed_param", 137, Kind.MESSAGE, message="EmbedParameter"),
        Field("exp_param", 111, Kind.MESSAGE, message="ExpParameter"),
        Field("flatten_param", 135, Kind.MESSAGE, message="FlattenParameter"),
        Field("hdf5_data_param", 112, Kind.MESSAGE, message="HDF5DataParameter"),
        Field("hdf5_output_param", 113, Kind.MESSAGE, message="HDF5OutputParameter"),
        Field("hinge_loss_param", 114, Kind.MESSAGE, message="HingeLossParameter"),
        Field("image_data_param", 115, Kind.MESSAGE, message="ImageDataParameter"),
        Field("infogain_loss_param", 116, Kind.MESSAGE, message="InfogainLossParameter"),
        Field("inner_product_param", 117, Kind.MESSAGE, message="InnerProductParameter"),
        Field("input_param", 143, Kind.MESSAGE, message="InputParameter"),
        Field("log_param", 134, Kind.MESSAGE, message="LogParameter"),
        Field("lrn_param", 118, Kind.MESSAGE, message="LRNParameter"),
        Field("memory_data_param", 119, Kind.MESSAGE, message="MemoryDataParameter"),
        Field("mvn_param", 120, Kind.MESSAGE, message="MVNParameter"),
        Field("parameter_param", 145, Kind.MESSAGE, message="ParameterParameter"),
        Field("pooling_param", 121, Kind.MESSAGE, message="PoolingParameter"),
        Field("power_param", 122, Kind.MESSAGE, message="PowerParameter"),
        Field("prelu_param", 131, Kind.MESSAGE, message="PReLUParameter"),
        Field("python_param", 130, Kind.MESSAGE, message="PythonParameter"),
        Field("recurrent_param", 146, Kind.MESSAGE, message="RecurrentParameter"),
        Field("reduction_param", 136, Kind.MESSAGE, message="ReductionParameter"),
        Field("relu_param", 123, Kind.MESSAGE, message="ReLUParameter"),
        Field("reshape_param", 133, Kind.MESSAGE, message="ReshapeParameter"),
        Field("scale_param", 142, Kind.MESSAGE, message="ScaleParameter"),
        Field("sigmoid_param", 124, Kind.MESSAGE, message="SigmoidParameter"),
        Field("softmax_param", 125, Kind.MESSAGE, message="SoftmaxParameter"),
        Field("spp_param", 132, Kind.MESSAGE, message="SPPParameter"),
        Field("slice_param", 126, Kind.MESSAGE, message="SliceParameter"),
        Field("swish_param", 147, Kind.MESSAGE, message="SwishParameter"),
        Field("tanh_param", 127, Kind.MESSAGE, message="TanHParameter"),
        Field("threshold_param", 128, Kind.MESSAGE, message="ThresholdParameter"),
        Field("tile_param", 138, Kind.MESSAGE, message="TileParameter"),
        Field("window_data_param", 129, Kind.MESSAGE, message="WindowDataParameter"),
        INTEL_LAYER_ENGINE,
        *FORK_LAYER_FIELDS,
    ],
)

TRANSFORMATION_PARAMETER = Message(
    "TransformationParameter",
    [
        Field("scale", 1, Kind.FLOAT, default=1.0),
        Field("mirror", 2, Kind.BOOL, default=False),
        Field("crop_size", 3, Kind.UINT, default=0),
        Field("mean_file", 4, Kind.STRING),
        Field("mean_value", 5, Kind.FLOAT, repeated=True),
        Field("force_color", 6, Kind.BOOL, default=False),
        Field("force_gray", 7, Kind.BOOL, default=False),
    ],
)

LOSS_PARAMETER = Message(
    "LossParameter",
    [
        Field("ignore_label", 1, Kind.INT),
        Field(
            "normalization", 3, Kind.ENUM, default="VALID", enum="LossParameter.NormalizationMode"
        ),
        Field("normalize", 2, Kind.BOOL),
    ],
)

# ------------------------------------------------------------- layer parameters

ACCURACY_PARAMETER = Message(
    "AccuracyParameter",
    [
        Field("top_k", 1, Kind.UINT, default=1),
        Field("axis", 2, Kind.INT, default=1),
        Field("ignore_label", 3, Kind.INT),
    ],
)

ARG_MAX_PARAMETER = Message(
    "ArgMaxParameter",
    [
        Field("out_max_val", 1, Kind.BOOL, default=False),
        Field("top_k", 2, Kind.UINT, default=1),
        Field("axis", 3, Kind.INT),
    ],
)

CLIP_PARAMETER = Message(
    "ClipParameter",
    [
        Field("min", 1, Kind.FLOAT),  # required in the .proto
        Field("max", 2, Kind.FLOAT),  # required in the .proto
    ],
)

CONCAT_PARAMETER = Message(
    "ConcatParameter",
    [
        Field("axis", 2, Kind.INT, default=1),
        Field("concat_dim", 1, Kind.UINT, default=1),
    ],
)

BATCH_NORM_PARAMETER = Message(
    "BatchNormParameter",
    [
        Field("use_global_stats", 1, Kind.BOOL),
        Field("moving_average_fraction", 2, Kind.FLOAT, default=0.999),
        Field("eps", 3, Kind.FLOAT, default=1e-5),
    ],
)

BIAS_PARAMETER = Message(
    "BiasParameter",
    [
        Field("axis", 1, Kind.INT, default=1),
        Field("num_axes", 2, Kind.INT, default=1),
        Field("filler", 3, Kind.MESSAGE, message="FillerParameter"),
    ],
)

CONTRASTIVE_LOSS_PARAMETER = Message(
    "ContrastiveLossParameter",
    [
        Field("margin", 1, Kind.FLOAT, default=1.0),
        Field("legacy_version", 2, Kind.BOOL, default=False),
    ],
)

CONVOLUTION_PARAMETER = Message(
    "ConvolutionParameter",
    [
        Field("num_output", 1, Kind.UINT),
        Field("bias_term", 2, Kind.BOOL, default=True),
        Field("pad", 3, Kind.UINT, repeated=True),
        Field("kernel_size", 4, Kind.UINT, repeated=True),
        Field("stride", 6, Kind.UINT, repeated=True),
        Field("dilation", 18, Kind.UINT, repeated=True),
        Field("pad_h", 9, Kind.UINT, default=0),
        Field("pad_w", 10, Kind.UINT, default=0),
        Field("kernel_h", 11, Kind.UINT),
        Field("kernel_w", 12, Kind.UINT),
        Field("stride_h", 13, Kind.UINT),
        Field("stride_w", 14, Kind.UINT),
        Field("group", 5, Kind.UINT, default=1),
        Field("weight_filler", 7, Kind.MESSAGE, message="FillerParameter"),
        Field("bias_filler", 8, Kind.MESSAGE, message="FillerParameter"),
        Field("engine", 15, Kind.ENUM, default="DEFAULT", enum="ConvolutionParameter.Engine"),
        Field("axis", 16, Kind.INT, default=1),
        Field("force_nd_im2col", 17, Kind.BOOL, default=False),
    ],
)

CROP_PARAMETER = Message(
    "CropParameter",
    [
        Field("axis", 1, Kind.INT, default=2),
        Field("offset", 2, Kind.UINT, repeated=True),
    ],
)

DATA_PARAMETER = Message(
    "DataParameter",
    [
        Field("source", 1, Kind.STRING),
        Field("batch_size", 4, Kind.UINT),
        Field("rand_skip", 7, Kind.UINT, default=0),
        Field("backend", 8, Kind.ENUM, default="LEVELDB", enum="DataParameter.DB"),
        Field("scale", 2, Kind.FLOAT, default=1.0),
        Field("mean_file", 3, Kind.STRING),
        Field("crop_size", 5, Kind.UINT, default=0),
        Field("mirror", 6, Kind.BOOL, default=False),
        Field("force_encoded_color", 9, Kind.BOOL, default=False),
        Field("prefetch", 10, Kind.UINT, default=4),
    ],
)

DROPOUT_PARAMETER = Message(
    "DropoutParameter",
    [
        Field("dropout_ratio", 1, Kind.FLOAT, default=0.5),
        SCALE_TRAIN,
    ],
)

DUMMY_DATA_PARAMETER = Message(
    "DummyDataParameter",
    [
        Field("data_filler", 1, Kind.MESSAGE, repeated=True, message="FillerParameter"),
        Field("shape", 6, Kind.MESSAGE, repeated=True, message="BlobShape"),
        Field("num", 2, Kind.UINT, repeated=True),
        Field("channels", 3, Kind.UINT, repeated=True),
        Field("height", 4, Kind.UINT, repeated=True),
        Field("width", 5, Kind.UINT, repeated=True),
    ],
)

ELTWISE_PARAMETER = Message(
    "EltwiseParameter",
    [
        Field("operation", 1, Kind.ENUM, default="SUM", enum="EltwiseParameter.EltwiseOp"),
        Field("coeff", 2, Kind.FLOAT, repeated=True),
        Field("stable_prod_grad", 3, Kind.BOOL, default=True),
    ],
)

ELU_PARAMETER = Message(
    "ELUParameter",
    [
        Field("alpha", 1, Kind.FLOAT, default=1.0),
    ],
)

EMBED_PARAMETER = Message(
    "EmbedParameter",
    [
        Field("num_output", 1, Kind.UINT),
        Field("input_dim", 2, Kind.UINT),
        Field("bias_term", 3, Kind.BOOL, default=True),
        Field("weight_filler", 4, Kind.MESSAGE, message="FillerParameter"),
        Field("bias_filler", 5, Kind.MESSAGE, message="FillerParameter"),
    ],
)

EXP_PARAMETER = Message(
    "ExpParameter",
    [
        Field("base", 1, Kind.FLOAT, default=-1.0),
        Field("scale", 2, Kind.FLOAT, default=1.0),
        Field("shift", 3, Kind.FLOAT, default=0.0),
    ],
)

FLATTEN_PARAMETER = Message(
    "FlattenParameter",
    [
        Field("axis", 1, Kind.INT, default=1),
        Field("end_axis", 2, Kind.INT, default=-1),
    ],
)

HDF5_DATA_PARAMETER = Message(
    "HDF5DataParameter",
    [
        Field("source", 1, Kind.STRING),
        Field("batch_size", 2, Kind.UINT),
        Field("shuffle", 3, Kind.BOOL, default=False),
    ],
)

HDF5_OUTPUT_PARAMETER = Message(
    "HDF5OutputParameter",
    [
        Field("file_name", 1, Kind.STRING),
    ],
)

HINGE_LOSS_PARAMETER = Message(
    "HingeLossParameter",
    [
        Field("norm", 1, Kind.ENUM, default="L1", enum="HingeLossParameter.Norm"),
    ],
)

IMAGE_DATA_PARAMETER = Message(
    "ImageDataParameter",
    [
        Field("source", 1, Kind.STRING),
        Field("batch_size", 4, Kind.UINT, default=1),
        Field("rand_skip", 7, Kind.UINT, default=0),
        Field("shuffle", 8, Kind.BOOL, default=False),
        Field("new_height", 9, Kind.UINT, default=0),
        Field("new_width", 10, Kind.UINT, default=0),
        Field("is_color", 11, Kind.BOOL, default=True),
        Field("scale", 2, Kind.FLOAT, default=1.0),
        Field("mean_file", 3, Kind.STRING),
        Field("crop_size", 5, Kind.UINT, default=0),
        Field("mirror", 6, Kind.BOOL, default=False),
        Field("root_folder", 12, Kind.STRING, default=""),
    ],
)

INFOGAIN_LOSS_PARAMETER = Message(
    "InfogainLossParameter",
    [
        Field("source", 1, Kind.STRING),
        Field("axis", 2, Kind.INT, default=1),
    ],
)

INNER_PRODUCT_PARAMETER = Message(
    "InnerProductParameter",
    [
        Field("num_output", 1, Kind.UINT),
        Field("bias_term", 2, Kind.BOOL, default=True),
        Field("weight_filler", 3, Kind.MESSAGE, message="FillerParameter"),
        Field("bias_filler", 4, Kind.MESSAGE, message="FillerParameter"),
        Field("axis", 5, Kind.INT, default=1),
        Field("transpose", 6, Kind.BOOL, default=False),
    ],
)

INPUT_PARAMETER = Message(
    "InputParameter",
    [
        Field("shape", 1, Kind.MESSAGE, repeated=True, message="BlobShape"),
    ],
)

LOG_PARAMETER = Message(
    "LogParameter",
    [
        Field("base", 1, Kind.FLOAT, default=-1.0),
        Field("scale", 2, Kind.FLOAT, default=1.0),
        Field("shift", 3, Kind.FLOAT, default=0.0),
    ],
)

LRN_PARAMETER = Message(
    "LRNParameter",
    [
        Field("local_size", 1, Kind.UINT, default=5),
        Field("alpha", 2, Kind.FLOAT, default=1.0),
        Field("beta", 3, Kind.FLOAT, default=0.75),
        Field(
            "norm_region", 4, Kind.ENUM, default="ACROSS_CHANNELS", enum="LRNParameter.NormRegion"
        ),
        Field("k", 5, Kind.FLOAT, default=1.0),
        Field("engine", 6, Kind.ENUM, default="DEFAULT", enum="LRNParameter.Engine"),
    ],
)

MEMORY_DATA_PARAMETER = Message(
    "MemoryDataParameter",
    [
        Field("batch_size", 1, Kind.UINT),
        Field("channels", 2, Kind.UINT),
        Field("height", 3, Kind.UINT),
        Field("width", 4, Kind.UINT),
    ],
)

MVN_PARAMETER = Message(
    "MVNParameter",
    [
        Field("normalize_variance", 1, Kind.BOOL, default=True),
        Field("across_channels", 2, Kind.BOOL, default=False),
        Field("eps", 3, Kind.FLOAT, default=1e-9),
    ],
)

PARAMETER_PARAMETER = Message(
    "ParameterParameter",
    [
        Field("shape", 1, Kind.MESSAGE, message="BlobShape"),
    ],
)

POOLING_PARAMETER = Message(
    "PoolingParameter",
    [
        Field("pool", 1, Kind.ENUM, default="MAX", enum="PoolingParameter.PoolMethod"),
        Field("pad", 4, Kind.UINT, default=0),
        Field("pad_h", 9, Kind.UINT, default=0),
        Field("pad_w", 10, Kind.UINT, default=0),
        Field("kernel_size", 2, Kind.UINT),
        Field("kernel_h", 5, Kind.UINT),
        Field("kernel_w", 6, Kind.UINT),
        Field("stride", 3, Kind.UINT, default=1),
        Field("stride_h", 7, Kind.UINT),
        Field("stride_w", 8, Kind.UINT),
        Field("engine", 11, Kind.ENUM, default="DEFAULT", enum="PoolingParameter.Engine"),
        Field("global_pooling", 12, Kind.BOOL, default=False),
        Field("round_mode", 13, Kind.ENUM, default="CEIL", enum="PoolingParameter.RoundMode"),
        CEIL_MODE,
    ],
)

POWER_PARAMETER = Message(
    "PowerParameter",
    [
        Field("power", 1, Kind.FLOAT, default=1.0),
        Field("scale", 2, Kind.FLOAT, default=1.0),
        Field("shift", 3, Kind.FLOAT, default=0.0),
    ],
)

PYTHON_PARAMETER = Message(
    "PythonParameter",
    [
        Field("module", 1, Kind.STRING),
        Field("layer", 2, Kind.STRING),
        Field("param_str", 3, Kind.STRING, default=""),
        Field("share_in_parallel", 4, Kind.BOOL, default=False),
    ],
)

RECURRENT_PARAMETER = Message(
    "RecurrentParameter",
    [
        Field("num_output", 1, Kind.UINT, default=0),
        Field("weight_filler", 2, Kind.MESSAGE, message="FillerParameter"),
        Field("bias_filler", 3, Kind.MESSAGE, message="FillerParameter"),
        Field("debug_info", 4, Kind.BOOL, default=False),
        Field("expose_hidden", 5, Kind.BOOL, default=False),
    ],
)

REDUCTION_PARAMETER = Message(
    "ReductionParameter",
    [
        Field("operation", 1, Kind.ENUM, default="SUM", enum="ReductionParameter.ReductionOp"),
        Field("axis", 2, Kind.INT, default=0),
        Field("coeff", 3, Kind.FLOAT, default=1.0),
    ],
)

RELU_PARAMETER = Message(
    "ReLUParameter",
    [
        Field("negative_slope", 1, Kind.FLOAT, default=0.0),
        Field("engine", 2, Kind.ENUM, default="DEFAULT", enum="ReLUParameter.Engine"),
    ],
)

RESHAPE_PARAMETER = Message(
    "ReshapeParameter",
    [
        Field("shape", 1, Kind.MESSAGE, message="BlobShape"),
        Field("axis", 2, Kind.INT, default=0),
        Field("num_axes", 3, Kind.INT, default=-1),
    ],
)

SCALE_PARAMETER = Message(
    "ScaleParameter",
    [
        Field("axis", 1, Kind.INT, default=1),
        Field("num_axes", 2, Kind.INT, default=1),
        Field("filler", 3, Kind.MESSAGE, message="FillerParameter"),
        Field("bias_term", 4, Kind.BOOL, default=False),
        Field("bias_filler", 5, Kind.MESSAGE, message="FillerParameter"),
    ],
)

SIGMOID_PARAMETER = Message(
    "SigmoidParameter",
    [
        Field("engine", 1, Kind.ENUM, default="DEFAULT", enum="SigmoidParameter.Engine"),
    ],
)

SLICE_PARAMETER = Message(
    "SliceParameter",
    [
        Field("axis", 3, Kind.INT, default=1),
        Field("slice_point", 2, Kind.UINT, repeated=True),
        Field("slice_dim", 1, Kind.UINT, default=1),
    ],
)

SOFTMAX_PARAMETER = Message(
    "SoftmaxParameter",
    [
        Field("engine", 1, Kind.ENUM, default="DEFAULT", enum="SoftmaxParameter.Engine"),
        Field("axis", 2, Kind.INT, default=1),
    ],
)

SWISH_PARAMETER = Message(
    "SwishParameter",
    [
        Field("beta", 1, Kind.FLOAT, default=1.0),
    ],
)

TANH_PARAMETER = Message(
    "TanHParameter",
    [
        Field("engine", 1, Kind.ENUM, default="DEFAULT", enum="TanHParameter.Engine"),
    ],
)

TILE_PARAMETER = Message(
    "TileParameter",
    [
        Field("axis", 1, Kind.INT, default=1),
        Field("tiles", 2, Kind.INT),
    ],
)

THRESHOLD_PARAMETER = Message(
    "ThresholdParameter",
    [
        Field("threshold", 1, Kind.FLOAT, default=0.0),
    ],
)

WINDOW_DATA_PARAMETER = Message(
    "WindowDataParameter",
    [
        Field("source", 1, Kind.STRING),
        Field("scale", 2, Kind.FLOAT, default=1.0),
        Field("mean_file", 3, Kind.STRING),
        Field("batch_size", 4, Kind.UINT),
        Field("crop_size", 5, Kind.UINT, default=0),
        Field("mirror", 6, Kind.BOOL, default=False),
        Field("fg_threshold", 7, Kind.FLOAT, default=0.5),
        Field("bg_threshold", 8, Kind.FLOAT, default=0.5),
        Field("fg_fraction", 9, Kind.FLOAT, default=0.25),
        Field("context_pad", 10, Kind.UINT, default=0),
        Field("crop_mode", 11, Kind.STRING, default="warp"),
        Field("cache_images", 12, Kind.BOOL, default=False),
        Field("root_folder", 13, Kind.STRING, default=""),
    ],
)

SPP_PARAMETER = Message(
    "SPPParameter",
    [
        Field("pyramid_height", 1, Kind.UINT),
        Field("pool", 2, Kind.ENUM, default="MAX", enum="SPPParameter.PoolMethod"),
        Field("engine", 6, Kind.ENUM, default="DEFAULT", enum="SPPParameter.Engine"),
    ],
)

# ------------------------------------------------------------------ legacy layers

V1_LAYER_PARAMETER = Message(
    "V1LayerParameter",
    [
        Field("bottom", 2, Kind.STRING, repeated=True),
        Field("top", 3, Kind.STRING, repeated=True),
        Field("name", 4, Kind.STRING),
        Field("include", 32, Kind.MESSAGE, repeated=True, message="NetStateRule"),
        Field("exclude", 33, Kind.MESSAGE, repeated=True, message="NetStateRule"),
        Field("type", 5, Kind.ENUM, enum="V1LayerParameter.LayerType"),
        Field("blobs", 6, Kind.MESSAGE, repeated=True, message="BlobProto"),
        Field("param", 1001, Kind.STRING, repeated=True),
        Field(
            "blob_share_mode", 1002, Kind.ENUM, repeated=True, enum="V1LayerParameter.DimCheckMode"
        ),
        Field("blobs_lr", 7, Kind.FLOAT, repeated=True),
        Field("weight_decay", 8, Kind.FLOAT, repeated=True),
        Field("loss_weight", 35, Kind.FLOAT, repeated=True),
        Field("accuracy_param", 27, Kind.MESSAGE, message="AccuracyParameter"),
        Field("argmax_param", 23, Kind.MESSAGE, message="ArgMaxParameter"),
        Field("concat_param", 9, Kind.MESSAGE, message="ConcatParameter"),
        Field("contrastive_loss_param", 40, Kind.MESSAGE, message="ContrastiveLossParameter"),
        Field("convolution_param", 10, Kind.MESSAGE, message="ConvolutionParameter"),
        Field("data_param", 11, Kind.MESSAGE, message="DataParameter"),
        Field("dropout_param", 12, Kind.MESSAGE, message="DropoutParameter"),
        Field("dummy_data_param", 26, Kind.MESSAGE, message="DummyDataParameter"),
        Field("eltwise_param", 24, Kind.MESSAGE, message="EltwiseParameter"),
        Field("exp_param", 41, Kind.MESSAGE, message="ExpParameter"),
        Field("hdf5_data_param", 13, Kind.MESSAGE, message="HDF5DataParameter"),
        Field("hdf5_output_param", 14, Kind.MESSAGE, message="HDF5OutputParameter"),
        Field("hinge_loss_param", 29, Kind.MESSAGE, message="HingeLossParameter"),
        Field("image_data_param", 15, Kind.MESSAGE, message="ImageDataParameter"),
        Field("infogain_loss_param", 16, Kind.MESSAGE, message="InfogainLossParameter"),
        Field("inner_product_param", 17, Kind.MESSAGE, message="InnerProductParameter"),
        Field("lrn_param", 18, Kind.MESSAGE, message="LRNParameter"),
        Field("memory_data_param", 22, Kind.MESSAGE, message="MemoryDataParameter"),
        Field("mvn_param", 34, Kind.MESSAGE, message="MVNParameter"),
        Field("pooling_param", 19, Kind.MESSAGE, message="PoolingParameter"),
        Field("power_param", 21, Kind.MESSAGE, message="PowerParameter"),
        Field("relu_param", 30, Kind.MESSAGE, message="ReLUParameter"),
        Field("sigmoid_param", 38, Kind.MESSAGE, message="SigmoidParameter"),
        Field("softmax_param", 39, Kind.MESSAGE, message="SoftmaxParameter"),
        Field("slice_param", 31, Kind.MESSAGE, message="SliceParameter"),
        Field("tanh_param", 37, Kind.MESSAGE, message="TanHParameter"),
        Field("threshold_param", 25, Kind.MESSAGE, message="ThresholdParameter"),
        Field("window_data_param", 20, Kind.MESSAGE, message="WindowDataParameter"),
        Field("transform_param", 36, Kind.MESSAGE, message="TransformationParameter"),
        Field("loss_param", 42, Kind.MESSAGE, message="LossParameter"),
        Field("layer", 1, Kind.MESSAGE, message="V0LayerParameter"),
    ],
)

V0_LAYER_PARAMETER = Message(
    "V0LayerParameter",
    [
        Field("name", 1, Kind.STRING),
        Field("type", 2, Kind.STRING),
        Field("num_output", 3, Kind.UINT),
        Field("biasterm", 4, Kind.BOOL, default=True),
        Field("weight_filler", 5, Kind.MESSAGE, message="FillerParameter"),
        Field("bias_filler", 6, Kind.MESSAGE, message="FillerParameter"),
        Field("pad", 7, Kind.UINT, default=0),
        Field("kernelsize", 8, Kind.UINT),
        Field("group", 9, Kind.UINT, default=1),
        Field("stride", 10, Kind.UINT, default=1),
        Field("pool", 11, Kind.ENUM, default="MAX", enum="V0LayerParameter.PoolMethod"),
        Field("dropout_ratio", 12, Kind.FLOAT, default=0.5),
        Field("local_size", 13, Kind.UINT, default=5),
        Field("alpha", 14, Kind.FLOAT, default=1.0),
        Field("beta", 15, Kind.FLOAT, default=0.75),
        Field("k", 22, Kind.FLOAT, default=1.0),
        Field("source", 16, Kind.STRING),
        Field("scale", 17, Kind.FLOAT, default=1.0),
        Field("meanfile", 18, Kind.STRING),
        Field("batchsize", 19, Kind.UINT),
        Field("cropsize", 20, Kind.UINT, default=0),
        Field("mirror", 21, Kind.BOOL, default=False),
        Field("blobs", 50, Kind.MESSAGE, repeated=True, message="BlobProto"),
        Field("blobs_lr", 51, Kind.FLOAT, repeated=True),
        Field("weight_decay", 52, Kind.FLOAT, repeated=True),
        Field("rand_skip", 53, Kind.UINT, default=0),
        Field("det_fg_threshold", 54, Kind.FLOAT, default=0.5),
        Field("det_bg_threshold", 55, Kind.FLOAT, default=0.5),
        Field("det_fg_fraction", 56, Kind.FLOAT, default=0.25),
        Field("det_context_pad", 58, Kind.UINT, default=0),
        Field("det_crop_mode", 59, Kind.STRING, default="warp"),
        Field("new_num", 60, Kind.INT, default=0),
        Field("new_channels", 61, Kind.INT, default=0),
        Field("new_height", 62, Kind.INT, default=0),
        Field("new_width", 63, Kind.INT, default=0),
        Field("shuffle_images", 64, Kind.BOOL, default=False),
        Field("concat_dim", 65, Kind.UINT, default=1),
        Field("hdf5_output_param", 1001, Kind.MESSAGE, message="HDF5OutputParameter"),
    ],
)

PRELU_PARAMETER = Message(
    "PReLUParameter",
    [
        Field("filler", 1, Kind.MESSAGE, message="FillerParameter"),
        Field("channel_shared", 2, Kind.BOOL, default=False),
    ],
)

# ------------------------------------------------------------------------ schema

_MESSAGES: tuple[Message, ...] = (
    BLOB_SHAPE,
    BLOB_PROTO,
    BLOB_PROTO_VECTOR,
    DATUM,
    FILLER_PARAMETER,
    NET_PARAMETER,
    NET_STATE,
    NET_STATE_RULE,
    PARAM_SPEC,
    LAYER_PARAMETER,
    TRANSFORMATION_PARAMETER,
    LOSS_PARAMETER,
    ACCURACY_PARAMETER,
    ARG_MAX_PARAMETER,
    CLIP_PARAMETER,
    CONCAT_PARAMETER,
    BATCH_NORM_PARAMETER,
    BIAS_PARAMETER,
    CONTRASTIVE_LOSS_PARAMETER,
    CONVOLUTION_PARAMETER,
    CROP_PARAMETER,
    DATA_PARAMETER,
    DROPOUT_PARAMETER,
    DUMMY_DATA_PARAMETER,
    ELTWISE_PARAMETER,
    ELU_PARAMETER,
    EMBED_PARAMETER,
    EXP_PARAMETER,
    FLATTEN_PARAMETER,
    HDF5_DATA_PARAMETER,
    HDF5_OUTPUT_PARAMETER,
    HINGE_LOSS_PARAMETER,
    IMAGE_DATA_PARAMETER,
    INFOGAIN_LOSS_PARAMETER,
    INNER_PRODUCT_PARAMETER,
    INPUT_PARAMETER,
    LOG_PARAMETER,
    LRN_PARAMETER,
    MEMORY_DATA_PARAMETER,
    MVN_PARAMETER,
    PARAMETER_PARAMETER,
    POOLING_PARAMETER,
    POWER_PARAMETER,
    PYTHON_PARAMETER,
    RECURRENT_PARAMETER,
    REDUCTION_PARAMETER,
    RELU_PARAMETER,
    RESHAPE_PARAMETER,
    SCALE_PARAMETER,
    SIGMOID_PARAMETER,
    SLICE_PARAMETER,
    SOFTMAX_PARAMETER,
    SWISH_PARAMETER,
    TANH_PARAMETER,
    TILE_PARAMETER,
    THRESHOLD_PARAMETER,
    WINDOW_DATA_PARAMETER,
    SPP_PARAMETER,
    V1_LAYER_PARAMETER,
    V0_LAYER_PARAMETER,
    PRELU_PARAMETER,
)

_ENUMS: tuple[EnumType, ...] = (
    PHASE,
    FILLER_VARIANCE_NORM,
    PARAM_SPEC_DIM_CHECK_MODE,
    LOSS_NORMALIZATION_MODE,
    CONVOLUTION_ENGINE,
    DATA_DB,
    ELTWISE_OP,
    HINGE_LOSS_NORM,
    LRN_NORM_REGION,
    LRN_ENGINE,
    POOLING_POOL_METHOD,
    POOLING_ENGINE,
    POOLING_ROUND_MODE,
    REDUCTION_OP,
    RELU_ENGINE,
    SIGMOID_ENGINE,
    SOFTMAX_ENGINE,
    TANH_ENGINE,
    SPP_POOL_METHOD,
    SPP_ENGINE,
    V1_LAYER_TYPE,
    V1_DIM_CHECK_MODE,
    V0_POOL_METHOD,
)

CAFFE: Schema = Schema(
    messages={message.name: message for message in (*_MESSAGES, *FORK_MESSAGES)},
    enums={enum.name: enum for enum in (*_ENUMS, *FORK_ENUMS)},
)
