"""Imports every layer module so each registers its types (see `base.register`)."""

from netc.layers import (  # noqa: F401
    activations,
    conv,
    dense,
    inputs,
    losses,
    merge,
    mobile_forks,
    normalization,
    pooling,
    pspnet,
    reshape,
    scale,
    ssd,
    tile_reduce,
)
