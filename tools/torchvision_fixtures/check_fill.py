"""Re-run netc-fill-v1 from the committed fixtures and compare checksums (needs only torch).

    python tools/torchvision_fixtures/check_fill.py [MODEL ...]

Runs with any torch (the project's own, no torchvision): for every model's
fixture it rebuilds each state_dict tensor from its key, shape and dtype with
fill.py and compares [exact sum, exact sum of abs, first value] with the
fixture's checksums, and likewise the input. Exit status 1 on any mismatch.
This is the cross-version determinism check described in README.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import fill  # noqa: E402

FIXTURES = HERE.parent.parent / "tests" / "fixtures" / "torchvision"
DTYPES = {"float32": torch.float32, "int64": torch.int64}


def check(path: Path) -> tuple[int, int]:
    fx = json.loads(path.read_text())
    assert fx["fill"] == fill.FILL_NAME, (path.name, fx["fill"])
    n = bad = 0
    for key, shape, dtype in fx["state_dict"]:
        t = fill.fill_tensor(key, shape, DTYPES[dtype], **fx["fill_options"])
        if dtype == "float32":
            n += 1
            got = fill.checksum(t)
            if got != fx["checksums"][key]:
                bad += 1
                print(f"  {path.stem}: {key}: {got} != {fx['checksums'][key]}")
        elif bool(t.any()):
            bad += 1
            print(f"  {path.stem}: {key}: not zeros")
    x = fill.make_input(fx["input"]["shape"], fx["input"]["seed"])
    n += 1
    if fill.checksum(x) != fx["input"]["checksum"]:
        bad += 1
        print(f"  {path.stem}: input: {fill.checksum(x)} != {fx['input']['checksum']}")
    return n, bad


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem for p in FIXTURES.glob("*.json"))
    print(f"torch {torch.__version__}, cpu capability {torch.backends.cpu.get_cpu_capability()}")
    total_bad = 0
    for name in names:
        n, bad = check(FIXTURES / f"{name}.json")
        total_bad += bad
        print(
            f"{name:10s} {n:4d} float tensors (incl. input): "
            f"{'identical' if not bad else f'{bad} DIFFER'}",
            flush=True,
        )
    return 1 if total_bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
