"""How netc scales: generated networks of 1k, 10k and 100k layers through the Python API.

Usage: .venv/bin/python bench/bench_scaling.py [--sizes 1000,10000,100000] [--shape chain|repeat|both]
                                               [--max-seconds 60] [--max-ratio 2] [--memory GIB]
                                               [--profile]

Two generated networks per size N (N layers after expansion, on a 1×8×16×16 input):
  chain   N/2 explicit `Convolution` (8 filters, 3×3, pad 1) + in-place `ReLU` pairs written out
          as text, named and wired implicitly: the parser's workload grows with N;
  repeat  the same layers from one template, `repeat i in 1..N/2 { block "b${i}" {} }`: a few
          hundred bytes of text, the expander's workload grows with N.
The default netc.lang.limits (80,000 tokens, 50,000 layers, 250,000 expansion steps) guard
against hostile input; they are raised here (`Limits(...)` passed to parse and expand).

Each stage is timed on its own (time.perf_counter), with the garbage collector as `netc.load`
and analyze have it (paused while they allocate objects that all stay alive): parse (text -> AST, Lark itself: not through the parse cache of netc/lang/parser.py,
which would make repeats unpickle), expand (templates, loops, implicit names -> layer list), build (IR and shape
check: netc.ir.build) and analyze (netc.analysis.core.analyze: params, MACs, FLOPs, memory,
receptive fields). Each shape and size runs in its own process under a memory cap (--memory,
default 8 GiB, so a runaway stage ends in MemoryError instead of the OOM killer on a shared
machine) and a timeout; sizes below 100k run a few times and the fastest is kept. The table
gives seconds and µs per layer; linearity = per-layer cost at the largest size ÷ the smallest.

Exit status 1 when the largest size takes more than --max-seconds (default 60) end to end or
fails, or a stage's per-layer cost grows more than --max-ratio (default 2) from the smallest
measured size to the largest. --profile then runs cProfile over that largest size.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import pstats
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from netc.analysis.core import analyze  # noqa: E402
from netc.diagnostics import Source  # noqa: E402
from netc.ir.build import BuildOptions, build  # noqa: E402
from netc.lang.expand import Expander, confined_loader  # noqa: E402
from netc.lang.limits import Limits  # noqa: E402
from netc.lang.syntax import parse  # noqa: E402
from netc.util.collector import collector_paused  # noqa: E402

STAGES = ("parse", "expand", "build", "analyze")
HEADER = 'name: "scaling"\ninput: "data"\ninput_shape { dim: 1 dim: 8 dim: 16 dim: 16 }\n'
CONV = 'layer { type: "Convolution" num_output: 8 kernel_size: 3 pad: 1 }\n'
RELU = 'layer { type: "ReLU" inplace: true }\n'


def limits_for(layers: int) -> Limits:
    """The default limits, raised well above what a network of `layers` layers needs."""
    return Limits(
        max_source_bytes=max(4 << 20, 200 * layers),
        max_tokens=max(80_000, 40 * layers),
        max_layers=max(50_000, 2 * layers),
        max_steps=max(250_000, 20 * layers),
    )


def chain(layers: int) -> str:
    return HEADER + (CONV + RELU) * (layers // 2)


def repeat(layers: int) -> str:
    return (
        HEADER
        + "define block() {\n  "
        + CONV
        + "  "
        + RELU
        + "}\n"
        + f'repeat i in 1..{layers // 2} {{ block "b${{i}}" {{}} }}\n'
    )


GENERATORS: dict[str, Callable[[int], str]] = {"chain": chain, "repeat": repeat}


def run_stages(
    text: str,
    layers: int,
    progress: dict[str, object],
    profilers: dict[str, cProfile.Profile] | None = None,
) -> tuple[dict[str, float], int]:
    """Seconds per stage and the number of layers in the built graph. `progress` tells a parent
    which stage was running if this one dies (out of memory); `profilers` profile those stages."""
    limits = limits_for(layers)
    times: dict[str, float] = {}
    progress.update(stage="parse", times=times)
    steps: list[tuple[str, Callable[[Any], Any]]] = [
        ("parse", lambda _: parse(Source("<generated>", text), limits)),
        ("expand", lambda file: Expander(confined_loader(), limits).run(file)),
        ("build", lambda net: build(net, BuildOptions())),
        ("analyze", analyze),
    ]
    value: Any = None
    graph_layers = 0
    for stage, step in steps:
        progress["stage"] = stage
        profiler = (profilers or {}).get(stage)
        # as netc.load and analyze have it: the collector paused (analyze pauses it itself)
        paused = collector_paused() if stage != "analyze" else contextlib.nullcontext()
        start = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        with paused:
            value = step(value)
        if profiler is not None:
            profiler.disable()
        times[stage] = time.perf_counter() - start
        if stage == "build":
            graph_layers = len(value)
    assert value.totals.macs > 0
    return times, graph_layers


# ---- the child: one shape and size, in its own process under a memory cap ---------------------


def child(shape: str, layers: int, repeats: int, opts: argparse.Namespace) -> int:
    cap = int(opts.memory * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))  # MemoryError, not the OOM killer
    text = GENERATORS[shape](layers)
    progress: dict[str, object] = {}
    best: dict[str, float] = {}
    count = 0
    if opts.no_gc:
        gc.disable()
    try:
        if opts.child_profile:
            profilers = {stage: cProfile.Profile() for stage in opts.child_profile.split(",")}
            run_stages(text, layers, progress, profilers)
            for stage, profiler in profilers.items():
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(10)
                body = out.getvalue().strip().splitlines()
                print(f"-- {stage}: " + body[0].strip())
                print("\n".join(line for line in body[1:] if line.strip()))
            return 0
        for _ in range(repeats):
            gc.collect()
            times, count = run_stages(text, layers, progress)
            best = times if not best else {s: min(best[s], times[s]) for s in STAGES}
    except MemoryError:
        done = dict(progress.get("times", {}))  # type: ignore[call-overload]
        progress.clear()  # free what we can before printing
        gc.collect()
        print(json.dumps({"error": f"MemoryError (cap {opts.memory:g} GiB)", "times": done}))
        return 0
    print(json.dumps({"times": best, "layers": count, "bytes": len(text)}))
    return 0


def spawn(
    argv: list[str], opts: argparse.Namespace, timeout: float
) -> subprocess.CompletedProcess[str] | None:
    common = ["--memory", str(opts.memory), *(["--no-gc"] if opts.no_gc else [])]
    try:
        return subprocess.run(
            [sys.executable, __file__, *argv, *common],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="1000,10000,100000", help="layer counts, comma-separated"
    )
    parser.add_argument("--shape", choices=("chain", "repeat", "both"), default="both")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="largest size, end to end")
    parser.add_argument("--max-ratio", type=float, default=2.0, help="per-layer growth allowed")
    parser.add_argument("--memory", type=float, default=8.0, help="GiB cap per measurement")
    parser.add_argument("--profile", action="store_true", help="cProfile a stage that scales badly")
    parser.add_argument(
        "--child", nargs=3, metavar=("SHAPE", "LAYERS", "REPEATS"), help=argparse.SUPPRESS
    )
    parser.add_argument("--no-gc", action="store_true", help="gc.disable() while measuring")
    parser.add_argument("--child-profile", metavar="STAGES", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.child:
        shape, layers, repeats = opts.child[0], int(opts.child[1]), int(opts.child[2])
        return child(shape, layers, repeats, opts)

    sizes = sorted(int(s.replace("_", "")) for s in opts.sizes.split(","))
    shapes = ["chain", "repeat"] if opts.shape == "both" else [opts.shape]
    timeout = 3 * opts.max_seconds + 30
    print(
        f"python {sys.version.split()[0]}, netc from {REPO_ROOT}; each size in its own process "
        f"(cap {opts.memory:g} GiB, {timeout:.0f} s), fastest of 5/3/1 runs, "
        f"gc {'off' if opts.no_gc else 'as netc.load has it'}"
    )
    failures: list[str] = []
    for shape in shapes:
        print()
        print(f"== {shape}")
        print(
            f"{'layers':>8} {'bytes':>10} "
            + " ".join(f"{s + ' s':>9}" for s in STAGES)
            + f" {'total s':>9}  "
            + " ".join(f"{s + ' µs/L':>11}" for s in (*STAGES, "total"))
        )
        per_layer: dict[int, dict[str, float]] = {}
        for size in sizes:
            repeats = 5 if size <= 1_000 else 3 if size <= 10_000 else 1
            result = spawn(["--child", shape, str(size), str(repeats)], opts, timeout)
            if result is None or result.returncode != 0 or not result.stdout.strip():
                why = "timed out" if result is None else (result.stderr.strip()[-500:] or "died")
                print(f"{size:>8,}  FAILED: {why}")
                failures.append(f"{shape}: {size:,} layers failed: {why}")
                continue
            report = json.loads(result.stdout.strip().splitlines()[-1])
            times = report["times"]
            if "error" in report:
                stage = next((s for s in STAGES if s not in times), "?")
                spent = sum(times.values())
                print(f"{size:>8,}  FAILED in {stage}: {report['error']} ({spent:.1f} s before it)")
                failures.append(f"{shape}: {size:,} layers: {report['error']} in {stage}")
                continue
            count = report["layers"]
            total = sum(times.values())
            per_layer[size] = {s: times[s] / count * 1e6 for s in STAGES}
            per_layer[size]["total"] = total / count * 1e6
            print(
                f"{count:>8,} {report['bytes']:>10,} "
                + " ".join(f"{times[s]:>9.3f}" for s in STAGES)
                + f" {total:>9.3f}  "
                + " ".join(f"{per_layer[size][s]:>11.1f}" for s in (*STAGES, "total"))
            )
            if size == sizes[-1] and total > opts.max_seconds:
                failures.append(
                    f"{shape}: {size:,} layers take {total:.1f} s (> {opts.max_seconds:g} s)"
                )
        measured = sorted(per_layer)
        if len(measured) < 2:
            continue
        small, large = measured[0], measured[-1]
        ratios = {s: per_layer[large][s] / per_layer[small][s] for s in (*STAGES, "total")}
        print(
            f"per-layer cost, {large:,} vs {small:,} layers: "
            + ", ".join(f"{s} {r:.2f}x" for s, r in ratios.items())
        )
        bad = sorted(s for s in (*STAGES, "total") if ratios[s] > opts.max_ratio)
        if bad:
            failures.append(f"{shape}: per-layer cost grows more than {opts.max_ratio:g}x in {bad}")
            if opts.profile:
                stages = ",".join(x for x in bad if x != "total") or ",".join(STAGES)
                print(f"cProfile at {large:,} layers of the stages that grow, top by own time:")
                argv = ["--child", shape, str(large), "1", "--child-profile", stages]
                result = spawn(argv, opts, timeout)
                print(result.stdout.rstrip() if result is not None else "(timed out)")
        else:
            print(
                f"linear: every stage within {opts.max_ratio:g}x of its per-layer cost at {small:,}"
            )

    print()
    for failure in failures:
        print(f"FAIL: {failure}")
    if not failures:
        print(f"OK: every size within {opts.max_seconds:g} s and linear within {opts.max_ratio:g}x")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
