"""Time `python -m netc check` on the zoo's largest Caffe file, against peers measured alongside.

Usage: .venv/bin/python bench/bench_check.py [--runs N] [--zoo DIR] [--file F] [--limit SECONDS]

Every run is a fresh subprocess (OMP_NUM_THREADS=1), so the figure is what a user waits for:
interpreter start, imports, parsing, expansion and shape checking. Peers, timed the same way in
the same run: `python -c pass` (the floor: interpreter start) and, if torch is installed,
`python -c "import torch"` (what a torch-based analyzer pays before doing any work).
Exits 1 if the median exceeds --limit or if the check imports torch or onnx.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "onnx", "onnxruntime")


def default_zoo() -> Path:
    return Path(os.environ.get("NETC_ZOO", REPO_ROOT.parent / "shared" / "zoo"))


def child_env() -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1")


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,
    )


def time_command(args: list[str], runs: int) -> list[float]:
    """Wall times of `runs` fresh runs, after one untimed warm-up (bytecode and grammar caches)."""
    warm = run(args)
    if warm.returncode != 0:
        sys.exit(f"bench: `python {' '.join(args)}` failed:\n{warm.stderr[-2000:]}")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = run(args)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            sys.exit(f"bench: `python {' '.join(args)}` failed:\n{result.stderr[-2000:]}")
    return times


def heavy_imports(args: list[str]) -> list[str]:
    """Top-level heavy modules that `python -X importtime ARGS` imports."""
    result = run(["-X", "importtime", *args])
    if result.returncode != 0:
        sys.exit(f"bench: `python -X importtime {' '.join(args)}` failed:\n{result.stderr[-2000:]}")
    found = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            top = line.rsplit("|", 1)[1].strip().split(".")[0]
            if top in HEAVY:
                found.add(top)
    return sorted(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per command (default 10)")
    parser.add_argument("--zoo", type=Path, default=default_zoo(), help="zoo folder ($NETC_ZOO)")
    parser.add_argument("--file", type=Path, help="the file to check (default: the largest)")
    parser.add_argument("--limit", type=float, default=1.0, help="max median seconds (default 1)")
    opts = parser.parse_args()
    if opts.runs < 1:
        parser.error("--runs must be at least 1")

    target = opts.file
    if target is None:
        files = list(opts.zoo.rglob("*.prototxt"))
        if not files:
            parser.error(f"no .prototxt files under {opts.zoo} (set --zoo or NETC_ZOO)")
        target = max(files, key=lambda p: (p.stat().st_size, str(p)))
    target = target.resolve()
    check = ["-m", "netc", "check", str(target)]

    print(f"python: {sys.executable} ({sys.version.split()[0]}), OMP_NUM_THREADS=1")
    print(f"file:   {target} ({target.stat().st_size:,} bytes), {opts.runs} runs each")

    heavy = heavy_imports(check)
    print(f"heavy imports by netc check: {', '.join(heavy) if heavy else 'none'}")

    rows = [("netc check", statistics.median(time_command(check, opts.runs)))]
    rows.append(("python -c pass", statistics.median(time_command(["-c", "pass"], opts.runs))))
    if find_spec("torch") is not None:
        torch = statistics.median(time_command(["-c", "import torch"], opts.runs))
        rows.append(('python -c "import torch"', torch))
    else:
        print('(torch not installed: no `python -c "import torch"` peer)')

    netc, start = rows[0][1], rows[1][1]
    print()
    print(f"{'command':<28} {'median':>9} {'vs netc check':>14}")
    for name, median in rows:
        print(f"{name:<28} {median * 1000:>7.0f}ms {median / netc:>13.2f}x")
    print(f"netc check takes {netc / start:.1f}x a bare interpreter start", end="")
    if len(rows) > 2:
        print(f"; importing torch alone takes {rows[2][1] / netc:.1f}x netc check", end="")
    print()

    ok = True
    if heavy:
        print(f"FAIL: netc check imported {', '.join(heavy)}")
        ok = False
    if netc > opts.limit:
        print(f"FAIL: median {netc:.3f}s exceeds the {opts.limit:.3f}s limit")
        ok = False
    if ok:
        print(f"OK: median {netc:.3f}s <= {opts.limit:.3f}s, no torch/onnx imported")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
