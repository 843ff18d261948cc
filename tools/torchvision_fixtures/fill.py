"""Deterministic state_dict fill "netc-fill-v1" and exact tensor checksums.

Shared by the fixture generator (run in the torch 2.14.1 + torchvision 0.29.1
environment, see make_fixtures.py) and by the project's tests (run with the
project's own torch): both sides must produce bit-identical tensors from the
same key and shape, so this file imports only torch and the standard library
and must not change behaviour. Any change to the procedure is a new fill name
("netc-fill-v2") and regenerated fixtures.

netc-fill-v1, for each key in state_dict order, with
``g = torch.Generator().manual_seed(zlib.crc32(key.encode()))``:

* floating tensor with >= 2 dims: ``torch.randn(shape, generator=g) / sqrt(fan_in)``,
  ``fan_in = prod(shape[1:])``;
* 1-D floating tensor whose key ends in ``running_var``:
  ``1 + 0.1 * torch.rand(shape, generator=g)``;
* 1-D floating tensor whose key ends in ``weight`` (a BatchNorm scale, gamma):
  ``bn_weight_mean + 0.1 * torch.randn(shape, generator=g)``, where
  ``bn_weight_mean`` (default 1.0) is recorded in each fixture's "fill_options";
* other 1-D (or 0-D) floating tensor (biases, BatchNorm beta, running_mean):
  ``0.1 * torch.randn(shape, generator=g)``;
* integer tensor (``num_batches_tracked``): zeros.

Why gamma is not 0.1 * randn like the other 1-D tensors: then every
BatchNorm scales the signal by ~0.1, and the logits of the BN networks (ResNets,
GoogLeNet, VGG16-BN) hardly depend on the input at all (the two fixture
images' logits differed by 3e-7 for ResNet-50, 7e-9 for GoogLeNet): below the
parity tests' 1e-5 tolerance, so those tests would not see errors in how the
input is processed. Why its mean is an option: the plain BN networks need
gamma ~ 1 to keep the input's signal through ~20 layers (GoogLeNet's two images
differ by 9e-4 with mean 1.0 but 5e-6 with 0.7), while in the ResNets every
residual block adds its branch to the stream and the logits grow with depth
(ResNet-152 reaches |y| = 56 with mean 1.0, where float32's rounding is ~4e-6
and a different thread count or CPU already moved them by 2e-5); mean 0.7 keeps
them below 2. README.md lists both per model.

Random numbers are drawn in **float64** (explicit dtype, independent of
``torch.get_default_dtype()``), the arithmetic is done in float64, and the
result is rounded once to the state_dict's dtype (float32). This is deliberate:
``torch.randn(..., dtype=torch.float32)`` on CPU takes a vectorised Box-Muller
path for tensors of 16 or more elements whose results depend on the CPU
capability torch dispatches to (DEFAULT vs AVX2/AVX512 give different last
bits; measured with ``ATEN_CPU_CAPABILITY``), whereas the float64 path is
scalar and gave identical bits on every capability and on torch 2.13.0 and
2.14.1. ``make_input`` draws the fixtures' input the same way.

``checksum(t)`` returns ``[sum, sum of abs, first value]`` of a float32 tensor
where both sums are *exact* (integer mantissas summed per binary exponent, then
rounded once to the nearest float64), so they depend neither on summation order
nor on the CPU's vector width: a fill that reproduced the fixture's tensor bit
for bit reproduces its checksum exactly, and a fill that differs in even one
element almost surely does not.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping
from fractions import Fraction

import torch

FILL_NAME = "netc-fill-v1"

__all__ = [
    "FILL_NAME",
    "checksum",
    "checksums",
    "fill_state_dict",
    "fill_tensor",
    "make_input",
    "seed_for",
]


def seed_for(key: str) -> int:
    """The generator seed of a state_dict key: CRC-32 of its UTF-8 bytes."""
    return zlib.crc32(key.encode("utf-8"))


def fill_tensor(
    key: str,
    shape: Iterable[int],
    dtype: torch.dtype = torch.float32,
    *,
    bn_weight_mean: float = 1.0,
) -> torch.Tensor:
    """The netc-fill-v1 value of the state_dict entry ``key`` with ``shape`` and ``dtype``.

    ``bn_weight_mean`` is the mean of the 1-D ``...weight`` tensors (BatchNorm
    scales); each fixture records the value it was made with in "fill_options".
    """
    shape = tuple(int(d) for d in shape)
    if not dtype.is_floating_point:
        return torch.zeros(shape, dtype=dtype)
    g = torch.Generator().manual_seed(seed_for(key))
    # float64 on purpose: see the module docstring (float32 randn is CPU-ISA dependent).
    if len(shape) >= 2:
        fan_in = math.prod(shape[1:])
        t = torch.randn(shape, generator=g, dtype=torch.float64) / math.sqrt(fan_in)
    elif key.endswith("running_var"):
        t = 1 + 0.1 * torch.rand(shape, generator=g, dtype=torch.float64)
    elif key.endswith("weight"):  # a normalisation layer's scale (gamma)
        t = bn_weight_mean + 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)
    else:
        t = 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)
    return t.to(dtype)


def make_input(shape: Iterable[int] = (2, 3, 224, 224), seed: int = 0) -> torch.Tensor:
    """The fixtures' float32 input: ``torch.randn(shape, generator=seed, dtype=float64)``
    rounded to float32 (float64 for the same reason as the fill)."""
    g = torch.Generator().manual_seed(int(seed))
    shape = tuple(int(d) for d in shape)
    return torch.randn(shape, generator=g, dtype=torch.float64).to(torch.float32)


def fill_state_dict(
    state_dict: Mapping[str, torch.Tensor], *, bn_weight_mean: float = 1.0
) -> dict[str, torch.Tensor]:
    """A new state_dict (same keys, order, shapes and dtypes) filled with netc-fill-v1.

    Use as ``module.load_state_dict(fill_state_dict(module.state_dict(),
    **fixture["fill_options"]), strict=True)``.
    """
    return {
        k: fill_tensor(k, v.shape, v.dtype, bn_weight_mean=bn_weight_mean)
        for k, v in state_dict.items()
    }


def _exact_sums(flat: torch.Tensor) -> tuple[float, float]:
    """Exact sum and sum of abs of a 1-D float32 tensor, each rounded once to float64.

    ``frexp`` splits every element into ``m * 2**e`` with ``|m| < 1`` holding at
    most 24 significant bits, so ``m * 2**24`` is an integer below 2**24 in
    magnitude. Summed per exponent in float64 these integers stay exact (and
    independent of the order of summation) while fewer than 2**29 elements are
    added; the per-exponent sums are then combined exactly as fractions.
    """
    if flat.numel() >= 2**29:
        raise ValueError("checksum of a tensor with 2**29 or more elements")
    if not bool(torch.isfinite(flat).all()):
        raise ValueError("checksum of a tensor with inf or nan")
    m, e = torch.frexp(flat)  # float32 exponents lie in [-148, 128]
    ints = m.to(torch.float64) * 16777216.0
    index = e.to(torch.int64) + 160
    sums = []
    for values in (ints, ints.abs()):
        per_exp = torch.zeros(320, dtype=torch.float64).index_add_(0, index, values)
        total = Fraction(0)
        for i, s in enumerate(per_exp.tolist()):
            if s:
                total += Fraction(int(s)) * Fraction(2) ** (i - 160 - 24)
        sums.append(float(total))  # Fraction -> float is correctly rounded
    return sums[0], sums[1]


def checksum(t: torch.Tensor) -> list[float]:
    """``[exact sum, exact sum of abs, first value]`` of a floating tensor (as float32)."""
    flat = t.detach().to("cpu", torch.float32).reshape(-1)
    if flat.numel() == 0:
        return [0.0, 0.0, 0.0]
    total, total_abs = _exact_sums(flat)
    return [total, total_abs, float(flat[0].item())]


def checksums(state_dict: Mapping[str, torch.Tensor]) -> dict[str, list[float]]:
    """``checksum`` of every floating tensor of a state_dict, in order."""
    return {k: checksum(v) for k, v in state_dict.items() if v.dtype.is_floating_point}
