"""Generated PyTorch modules against torchvision's: forward and forward+backward time.

Usage (torchvision needs its own environment, see tools/torchvision_fixtures/make_env.sh):

    PYTHONPATH=. .venv-torchvision/bin/python bench/bench_torch.py [--runs 7] [--batch 8]
        [--threads N] [--models resnet50,vgg16] [--device cpu|cuda] [--amp]

For each model, in one process with one thread setting: torchvision's module and the module
netc generates from specs/<model>.net, holding the same weights (torchvision's state_dict,
loaded with strict=True), on the same input. Forward is timed in eval mode under no_grad;
forward+backward in train mode (loss = sum of the logits, gradients zeroed between runs).
Runs alternate between the two modules (A B B A ...), after warm-up runs, and the figure is the
median. The ratio is netc / torchvision: above --limit (default 1.03) the exit status is 1.
On CUDA (`--device cuda`, `--amp` for autocast fp16) the timings synchronise the device.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per module and mode")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--models", default="resnet50,vgg16")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", action="store_true", help="autocast (fp16 on CUDA, bf16 on CPU)")
    parser.add_argument("--limit", type=float, default=1.03)
    args = parser.parse_args()

    import torch
    import torchvision

    import netc

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(
        f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
        f"{args.device}{' (' + card + ')' if card else ''}, {args.threads} threads, "
        f"batch {args.batch}, {args.runs} runs (median), amp {args.amp}",
        flush=True,
    )

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    rows = []
    worst = 0.0
    for name in args.models.split(","):
        reference = getattr(torchvision.models, name)(weights=None).to(device)
        generated = netc.load(REPO / "specs" / f"{name}.net", batch=args.batch).to_torch()
        generated.load_state_dict(reference.state_dict(), strict=True)
        generated.to(device)
        x = torch.randn(args.batch, 3, 224, 224, device=device)
        modules = {"torchvision": reference, "netc": generated}
        with torch.no_grad():
            a, b = (m.eval()(x) for m in modules.values())
            assert torch.allclose(a, b, atol=1e-4, rtol=1e-4), (a - b).abs().max()

        def forward(module: torch.nn.Module, x: torch.Tensor = x) -> None:
            with torch.no_grad(), torch.autocast(device.type, amp_dtype, enabled=args.amp):
                module(x)

        def backward(module: torch.nn.Module, x: torch.Tensor = x) -> None:
            with torch.autocast(device.type, amp_dtype, enabled=args.amp):
                loss = module(x).float().sum()
            loss.backward()
            module.zero_grad(set_to_none=True)

        for mode, step, train in (
            ("forward", forward, False),
            ("forward+backward", backward, True),
        ):
            for module in modules.values():
                module.train(train)
            times = measure(modules, step, args.runs, args.warmup, sync)
            tv, nc = statistics.median(times["torchvision"]), statistics.median(times["netc"])
            worst = max(worst, nc / tv)
            rows.append((name, mode, tv, nc, nc / tv))
            print(
                f"{name:9s} {mode:17s} torchvision {tv * 1000:9.1f} ms   netc {nc * 1000:9.1f} ms"
                f"   ratio {nc / tv:.3f}",
                flush=True,
            )
    print()
    print("| model | pass | torchvision (ms) | netc (ms) | netc / torchvision |")
    print("|---|---|---:|---:|---:|")
    for name, mode, tv, nc, ratio in rows:
        print(f"| {name} | {mode} | {tv * 1000:.1f} | {nc * 1000:.1f} | {ratio:.3f} |")
    if worst > args.limit:
        print(f"bench: a ratio of {worst:.3f} exceeds {args.limit}", file=sys.stderr)
        return 1
    return 0


def measure(
    modules: dict[str, object],
    step: Callable[..., None],
    runs: int,
    warmup: int,
    sync: Callable[[], None],
) -> dict[str, list[float]]:
    """Median-ready wall times: warm-up runs first, then A B B A ... so drift hits both."""
    names = list(modules)
    for _ in range(warmup):
        for name in names:
            step(modules[name])
    sync()
    times: dict[str, list[float]] = {name: [] for name in names}
    for run in range(runs):
        for name in names if run % 2 == 0 else reversed(names):
            sync()
            start = time.perf_counter()
            step(modules[name])
            sync()
            times[name].append(time.perf_counter() - start)
    return times


if __name__ == "__main__":
    sys.exit(main())
