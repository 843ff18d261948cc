"""Linear analysis of in-place chains and wide Splits: per-layer cost at 1k -> 20k layers.

A chain of N in-place ReLUs (and a Split with N tops) through load + analyze + DOT. Quadratic
rules show as a per-layer cost that grows with N; linear ones stay flat. The peer measured in
the same run is netc's own plain chain (ReLUs that are not in place), whose cost is linear.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_inplace.py [--sizes 1000,5000,20000]
"""

from __future__ import annotations

import argparse
import time

import netc
from netc.analysis.core import analyze
from netc.render.dot import RenderOptions, to_dot

HEAD = 'input: "data" input_shape { dim: 1 dim: 4 dim: 4 dim: 4 }\n'
CONV = 'layer { name: "c" type: "Convolution" num_output: 4 kernel_size: 1 }\n'


def chain(n: int, inplace: bool) -> str:
    flag = "inplace: true" if inplace else ""
    return (
        HEAD + CONV + f'repeat i in 1..{n} {{ layer {{ name: "r${{i}}" type: "ReLU" {flag} }} }}\n'
    )


def split(n: int) -> str:
    tops = " ".join(f'top: "s{i}"' for i in range(n))
    return HEAD + f'layer {{ name: "sp" type: "Split" bottom: "data" {tops} }}\n'


def measure(text: str) -> float:
    start = time.perf_counter()
    graph = netc.load(text)
    analyze(graph)
    to_dot(graph, RenderOptions())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,5000,20000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    print(
        f"{'N':>7}  {'in-place µs/layer':>18}  {'plain µs/layer':>15}  {'ratio':>6}  {'split µs/top':>13}"
    )
    for n in sizes:
        inplace, plain, wide = measure(chain(n, True)), measure(chain(n, False)), measure(split(n))
        print(
            f"{n:>7}  {1e6 * inplace / n:>18.1f}  {1e6 * plain / n:>15.1f}  "
            f"{inplace / plain:>6.2f}  {1e6 * wide / n:>13.1f}"
        )


if __name__ == "__main__":
    main()
