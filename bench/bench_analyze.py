"""Time `netc analyze` against torchinfo and fvcore on the same networks, each a whole process.

Usage: .venv/bin/python bench/bench_analyze.py [--runs N] [--zoo DIR] [--goal X] [--no-install]

Two networks, each analysed by whole processes in the same run, with OMP_NUM_THREADS=1:
  - `python -m netc analyze FILE` (the project's venv; no torch): its default per-layer table
    with the parse cache warm (a repeat run, the usual case while editing a network), the same
    with NETC_CACHE=0 (every run parses afresh: a first run), and with `--format json`,
  - bench/peers/peer.py MODEL torchinfo: import torch, build the equivalent torch model
    (bench/peers/models.py), torchinfo.summary (which prints its table),
  - bench/peers/peer.py MODEL fvcore: the same with fvcore's FlopCountAnalysis, parameter_count
    and flop_count_table.
The networks: specs/resnet152.net (torchvision's layout) and the zoo's Caffe
ResNet-50-deploy.prototxt ($NETC_ZOO, default ../shared/zoo), whose torch twin is a v1 ResNet-50
with conv1's bias. `python -c "import torch"` is timed beside them (the floor of any torch tool).

The peers run in their own venv, bench/.venv-peers (torch==2.13.0 CPU, torchinfo, fvcore),
which this script creates on first use so the project's .venv stays torch-free; --no-install
skips that. A peer that cannot be installed is reported and the rest is measured.

Commands run round-robin (one of each per repetition, after one untimed warm-up each) so drift
on a shared machine hits all alike; the figure is the median of --runs repetitions. Besides the
times it prints each peer's parameter and MAC counts next to netc's. Exit status 1 when a peer
is less than --goal times slower than netc's default command (default 10) or disagrees with netc's parameters or
MACs (fvcore's convolution + linear "flops", one per multiply-add, must equal netc's MACs).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH = REPO_ROOT / "bench"
PEER_VENV = BENCH / ".venv-peers"
PEER_SCRIPT = BENCH / "peers" / "peer.py"
# pip name -> module to import; torch pinned to the CPU wheel that lies on this machine's disk.
PEER_PACKAGES = {"torch==2.13.0": "torch", "torchinfo": "torchinfo", "fvcore": "fvcore"}
TOOLS = ("torchinfo", "fvcore")


def default_zoo() -> Path:
    return Path(os.environ.get("NETC_ZOO", REPO_ROOT.parent / "shared" / "zoo"))


def child_env() -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1")


def run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=REPO_ROOT, env=env or child_env(), capture_output=True, text=True, check=False
    )


# ---- the peers' venv ---------------------------------------------------------------------------


def peer_python() -> Path:
    return PEER_VENV / "bin" / "python"


def importable(module: str) -> bool:
    return (
        peer_python().exists()
        and run([str(peer_python()), "-c", f"import {module}"]).returncode == 0
    )


def ensure_peers(install: bool) -> dict[str, str]:
    """{module: "" if usable, else why not}. Creates bench/.venv-peers when missing."""
    status: dict[str, str] = {}
    if not peer_python().exists():
        if not install:
            return {m: f"{PEER_VENV} missing (--no-install)" for m in PEER_PACKAGES.values()}
        print(f"creating {PEER_VENV.relative_to(REPO_ROOT)} for the peers (one-off, ~30 s) ...")
        made = run([sys.executable, "-m", "venv", str(PEER_VENV)])
        if made.returncode != 0:
            why = f"python -m venv failed: {made.stderr.strip()[-300:]}"
            return {m: why for m in PEER_PACKAGES.values()}
    if not (PEER_VENV / ".gitignore").exists():
        # Keep git (and ruff, which honours .gitignore) out of the venv, wherever it is.
        (PEER_VENV / ".gitignore").write_text("*\n")
    for package, module in PEER_PACKAGES.items():
        if importable(module):
            status[module] = ""
            continue
        if not install:
            status[module] = "not installed (--no-install)"
            continue
        print(f"installing {package} into {PEER_VENV.relative_to(REPO_ROOT)} ...")
        pip = run([str(peer_python()), "-m", "pip", "install", "-q", package])
        if pip.returncode == 0 and importable(module):
            status[module] = ""
        else:
            tail = (pip.stderr or pip.stdout).strip().splitlines()[-1:] or ["import failed"]
            status[module] = f"pip install {package} failed: {tail[0][:200]}"
    if status.get("torch"):
        for module in ("torchinfo", "fvcore"):
            status[module] = status[module] or "needs torch"
    return status


# ---- measuring ---------------------------------------------------------------------------------


@dataclass
class Command:
    label: str
    argv: list[str]
    env: dict[str, str] | None = None
    times: list[float] = field(default_factory=list)
    stdout: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def once(self) -> float:
        start = time.perf_counter()
        result = run(self.argv, self.env)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"bench: {self.label} failed:\n{(result.stderr or result.stdout)[-2000:]}")
        self.stdout = result.stdout
        return elapsed


def measure(commands: list[Command], runs: int) -> None:
    for command in commands:  # warm-up: bytecode, the OS file cache of torch's libraries
        command.once()
    for _ in range(runs):
        for command in commands:
            command.times.append(command.once())


def netc_totals(path: Path) -> dict[str, int]:
    result = run([sys.executable, "-m", "netc", "analyze", str(path), "--format", "json"])
    if result.returncode != 0:
        sys.exit(f"bench: netc analyze {path} failed:\n{result.stderr[-2000:]}")
    totals: dict[str, int] = json.loads(result.stdout)["totals"]
    return totals


def last_json(text: str) -> dict[str, object]:
    lines = [line for line in text.splitlines() if line.startswith("{")]
    if not lines:
        sys.exit(f"bench: a peer printed no JSON:\n{text[-1000:]}")
    parsed: dict[str, object] = json.loads(lines[-1])
    return parsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per command (default 10)")
    parser.add_argument("--zoo", type=Path, default=default_zoo(), help="zoo folder ($NETC_ZOO)")
    parser.add_argument("--goal", type=float, default=10.0, help="min peer/netc ratio (default 10)")
    parser.add_argument(
        "--no-install", action="store_true", help="do not create or fill bench/.venv-peers"
    )
    opts = parser.parse_args()
    if opts.runs < 1:
        parser.error("--runs must be at least 1")

    caffe = opts.zoo / "caffe" / "ResNet-50-deploy.prototxt"
    targets = [("resnet152", REPO_ROOT / "specs" / "resnet152.net", "resnet152")]
    if caffe.is_file():
        targets.append(("ResNet-50 (Caffe)", caffe.resolve(), "caffe_resnet50"))
    else:
        print(f"(no {caffe}: set --zoo or NETC_ZOO; timing resnet152 only)")

    status = ensure_peers(install=not opts.no_install)
    for module, why in status.items():
        if why:
            print(f"peer {module} unavailable: {why}")
    tools = [t for t in TOOLS if not status.get(t)]

    py = f"{sys.executable} ({sys.version.split()[0]})"
    print(f"netc:  {py}, OMP_NUM_THREADS=1, {opts.runs} runs each, median, round-robin")
    if not status.get("torch"):
        print(
            f"peers: {peer_python().relative_to(REPO_ROOT)} (torch, {', '.join(tools) or 'no tools'})"
        )

    commands: list[Command] = []
    groups: list[tuple[str, Path, Command, Command, Command, dict[str, Command]]] = []
    # netc's own parse cache, in a folder of this run's (warmed by measure()'s warm-up run)
    cache = tempfile.mkdtemp(prefix="netc-bench-cache-")
    warm_env = dict(child_env(), NETC_CACHE_DIR=cache)
    cold_env = dict(child_env(), NETC_CACHE="0")
    for label, path, model in targets:
        analyze = [sys.executable, "-m", "netc", "analyze", str(path)]
        netc = Command(f"netc analyze {path.name}", analyze, warm_env)
        netc_cold = Command("  the same, no parse cache", analyze, cold_env)
        netc_json = Command("  the same, --format json", [*analyze, "--format", "json"], warm_env)
        peers = {
            tool: Command(f"{tool} {model}", [str(peer_python()), str(PEER_SCRIPT), model, tool])
            for tool in tools
        }
        commands += [netc, netc_cold, netc_json, *peers.values()]
        groups.append((label, path, netc, netc_cold, netc_json, peers))
    floor = None
    if not status.get("torch"):
        floor = Command('python -c "import torch"', [str(peer_python()), "-c", "import torch"])
        commands.append(floor)

    measure(commands, opts.runs)

    failures: list[str] = []
    for label, path, netc, netc_cold, netc_json, peers in groups:
        print()
        print(
            f"== {label}: {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}"
        )
        print(f"{'command':<34} {'median':>9} {'min':>9} {'× netc':>8}")
        rows = [netc, netc_cold, netc_json, *peers.values()] + ([floor] if floor else [])
        for command in rows:
            ratio = command.median / netc.median
            print(
                f"{command.label:<34} {command.median * 1000:>7.0f}ms "
                f"{min(command.times) * 1000:>7.0f}ms {ratio:>7.1f}x"
            )
        for tool, command in peers.items():
            ratio = command.median / netc.median
            verdict = "meets" if ratio >= opts.goal else "MISSES"
            as_json = command.median / netc_json.median
            cold = command.median / netc_cold.median
            print(
                f"  netc is {ratio:.1f}x faster than {tool} ({verdict} the {opts.goal:g}x goal); "
                f"without the parse cache {cold:.1f}x; with --format json {as_json:.1f}x"
            )
            if ratio < opts.goal:
                failures.append(f"{label}: {tool} only {ratio:.1f}x slower than netc")

        totals = netc_totals(path)
        print(f"{'counts':<34} {'params':>14} {'MACs':>16}")
        print(f"{'netc':<34} {totals['params']:>14,} {totals['macs']:>16,}")
        for tool, command in peers.items():
            result = last_json(command.stdout)
            params = int(str(result["params"]))
            if tool == "torchinfo":
                macs = int(str(result["mult_adds"]))
                note = "mult-adds: also counts BN γ/β and biases once per output"
            else:
                macs = int(str(result["conv_linear"]))
                note = f"conv+linear; total with BN/pool: {int(str(result['flops'])):,}"
            print(f"{tool:<34} {params:>14,} {macs:>16,}  ({note}; Δ {macs - totals['macs']:+,})")
            if params != totals["params"]:
                failures.append(
                    f"{label}: {tool} counts {params:,} params, netc {totals['params']:,}"
                )
            if tool == "fvcore" and macs != totals["macs"]:
                failures.append(f"{label}: fvcore counts {macs:,} MACs, netc {totals['macs']:,}")

    print()
    if not tools:
        print("no peer could be measured: only netc's own times above")
    if failures:
        for failure in failures:
            print(f"FAIL: {failure}")
        return 1
    if tools:
        print(f"OK: netc at least {opts.goal:g}x faster than every peer, and the counts agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
