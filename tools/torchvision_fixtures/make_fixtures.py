"""Write tests/fixtures/torchvision/<model>.json: torchvision reference data for netc's parity tests.

Run with the torchvision environment's python (see make_env.sh and README.md):

    .venv-torchvision/bin/python tools/torchvision_fixtures/make_fixtures.py [MODEL ...]

For each model: torchvision's module with weights=None in eval mode, its state_dict
filled with netc-fill-v1 (fill.py, shared with the tests), a forward pass on the
fixed input under torch.no_grad() with one thread, FlopCounterMode's total at
batch 1, and the parameter and buffer counts. `--check` recomputes and compares
with the existing files instead of writing them (everything exactly except the
output, which may differ within 1e-5 on another CPU). Exit status 1 on a
mismatch with the files or with /work/shared/zoo/REFERENCE.md §2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import fill  # noqa: E402  (the shared, torch-only fill module beside this script)

ROOT = HERE.parent.parent
OUT_DIR = ROOT / "tests" / "fixtures" / "torchvision"
INPUT_SHAPE = (2, 3, 224, 224)
INPUT_SEED = 0
CHECK_TOL = 1e-5  # --check: outputs may differ in the last bits across CPUs / thread counts

MODELS = [
    "alexnet",
    "vgg11",
    "vgg13",
    "vgg16",
    "vgg19",
    "vgg16_bn",
    "googlenet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
]

# Keyword arguments beyond weights=None.
MODEL_KWARGS: dict[str, dict[str, Any]] = {
    "googlenet": {"aux_logits": False, "transform_input": False, "init_weights": False},
}

# Options of the fill (fill.py explains why the ResNets' BatchNorm scales average 0.7).
FILL_OPTIONS: dict[str, dict[str, float]] = {
    name: {"bn_weight_mean": 0.7 if name.startswith("resnet") else 1.0} for name in MODELS
}

# /work/shared/zoo/REFERENCE.md §2 (torchvision 0.29.1): params, BN buffers, MACs per image.
REFERENCE: dict[str, tuple[int, int, int]] = {
    "alexnet": (61_100_840, 0, 714_188_480),
    "vgg11": (132_863_336, 0, 7_609_090_048),
    "vgg13": (133_047_848, 0, 11_308_466_176),
    "vgg16": (138_357_544, 0, 15_470_264_320),
    "vgg19": (143_667_240, 0, 19_632_062_464),
    "vgg16_bn": (138_365_992, 8_461, 15_470_264_320),
    "googlenet": (6_624_904, 14_617, 1_498_376_192),
    "resnet18": (11_689_512, 9_620, 1_814_073_344),
    "resnet34": (21_797_672, 17_060, 3_663_761_408),
    "resnet50": (25_557_032, 53_173, 4_089_184_256),
    "resnet101": (44_549_160, 105_448, 7_801_405_440),
    "resnet152": (60_192_808, 151_579, 11_513_626_624),
}

DTYPE_NAMES = {torch.float32: "float32", torch.int64: "int64"}


def build(name: str) -> torch.nn.Module:
    model = getattr(torchvision.models, name)(weights=None, **MODEL_KWARGS.get(name, {}))
    model.eval()
    sd = model.state_dict()
    for k, v in sd.items():
        if v.dtype not in DTYPE_NAMES:
            raise SystemExit(f"{name}: {k} has unexpected dtype {v.dtype}")
    model.load_state_dict(fill.fill_state_dict(sd, **FILL_OPTIONS[name]), strict=True)
    return model


def fixture(name: str) -> dict[str, Any]:
    model = build(name)
    sd = model.state_dict()
    x = fill.make_input(INPUT_SHAPE, INPUT_SEED)
    with torch.no_grad():
        y = model(x)
        with FlopCounterMode(display=False) as counter:
            model(x[:1])
    if tuple(y.shape) != (INPUT_SHAPE[0], 1000):
        raise SystemExit(f"{name}: output shape {tuple(y.shape)}")
    if not torch.isfinite(y).all():
        raise SystemExit(f"{name}: non-finite output")
    return {
        "model": name,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "kwargs": {"weights": None, **MODEL_KWARGS.get(name, {})},
        "fill": fill.FILL_NAME,
        "fill_options": FILL_OPTIONS[name],
        "state_dict": [[k, list(v.shape), DTYPE_NAMES[v.dtype]] for k, v in sd.items()],
        "checksums": fill.checksums(sd),
        "input": {
            "shape": list(INPUT_SHAPE),
            "seed": INPUT_SEED,
            "checksum": fill.checksum(x),
        },
        "output": [[float(v) for v in row] for row in y.tolist()],
        "flops_batch1": int(counter.get_total_flops()),
        "params": sum(p.numel() for p in model.parameters()),
        "buffers": sum(b.numel() for b in model.buffers()),
    }


def check_reference(fx: dict[str, Any]) -> list[str]:
    name = fx["model"]
    params, buffers, macs = REFERENCE[name]
    problems = []
    if fx["params"] != params:
        problems.append(f"params {fx['params']:,} != REFERENCE {params:,}")
    if fx["buffers"] != buffers:
        problems.append(f"buffers {fx['buffers']:,} != REFERENCE {buffers:,}")
    if fx["flops_batch1"] != 2 * macs:
        problems.append(f"flops/2 {fx['flops_batch1'] / 2:,} != REFERENCE MACs {macs:,}")
    return problems


def dump(fx: dict[str, Any]) -> str:
    # One state_dict entry / checksum / output row per line: small diffs, readable files.
    lines = ["{"]
    items = list(fx.items())
    for i, (k, v) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if k in ("state_dict", "output") and v:
            inner = ",\n".join("    " + json.dumps(e, allow_nan=False) for e in v)
            lines.append(f"  {json.dumps(k)}: [\n{inner}\n  ]{comma}")
        elif k == "checksums" and v:
            inner = ",\n".join(
                f"    {json.dumps(ck)}: {json.dumps(cv, allow_nan=False)}" for ck, cv in v.items()
            )
            lines.append(f"  {json.dumps(k)}: {{\n{inner}\n  }}{comma}")
        else:
            lines.append(f"  {json.dumps(k)}: {json.dumps(v, allow_nan=False)}{comma}")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    assert json.loads(text) == fx
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=MODELS, help="default: all")
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    ap.add_argument("--check", action="store_true", help="compare with existing files, write none")
    args = ap.parse_args(argv)
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        ap.error(f"unknown model(s): {', '.join(unknown)}")

    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    print(
        f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
        f"cpu capability {torch.backends.cpu.get_cpu_capability()}, fill {fill.FILL_NAME}"
    )
    failed = False
    for name in args.models:
        t0 = time.perf_counter()
        fx = fixture(name)
        path = args.out / f"{name}.json"
        text = dump(fx)
        problems = check_reference(fx)
        if args.check:
            old = json.loads(path.read_text())
            skip = ("torch", "torchvision", "output")
            diff = [k for k in fx if k not in skip and old.get(k) != fx[k]]
            if diff:
                problems.append(f"differs from {path.name} in {diff}")
            max_out = max(
                abs(a - b)
                for ra, rb in zip(old["output"], fx["output"], strict=True)
                for a, b in zip(ra, rb, strict=True)
            )
            note = f"max |output diff| {max_out:.3g}"
            if max_out > CHECK_TOL:
                problems.append(note + f" > {CHECK_TOL}")
            else:
                print(f"  {name}: {note}")
        else:
            path.write_text(text)
        status = "OK" if not problems else "MISMATCH: " + "; ".join(problems)
        failed |= bool(problems)
        print(
            f"{name:10s} params {fx['params']:>12,}  buffers {fx['buffers']:>8,}  "
            f"MACs {fx['flops_batch1'] // 2:>15,}  {len(text) / 1024:7.1f} KiB  "
            f"{time.perf_counter() - t0:6.1f} s  {status}",
            flush=True,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
