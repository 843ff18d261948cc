"""Pausing Python's cyclic garbage collector while netc builds large, acyclic structures."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Syntax trees, graphs and analyses are many small objects, none of them garbage yet: each
    generation-2 collection would re-traverse all of them, making the cost per layer grow with
    the network (measured in bench/bench_scaling.py)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
