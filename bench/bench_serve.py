"""Time `netc serve`'s round trip: what the page waits for after a keystroke.

Usage: .venv/bin/python bench/bench_serve.py [--runs N] [--spec FILE ...] [--limit SECONDS]

Starts the server in this process (127.0.0.1, a free port) over specs/, then for each spec
sends what the page sends after an edit: POST /api/analyze and POST /api/render at once, over
HTTP, with a text the server has not seen (the network renamed, so no cache helps), and times
until both answers are in. Also times each request alone, the drawing at `--depth full`, and a
repeated request (the cache's answer, as when only a control changes). One untimed warm-up.
Exits 1 when the median round trip of any spec exceeds --limit (default 1.0 s).
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r'^(name:\s*)"([^"]*)"', re.MULTILINE)
sys.path.insert(0, str(REPO_ROOT))

from netc.serve import Workspace, make_server  # noqa: E402


def post(port: int, endpoint: str, body: dict[str, object]) -> dict[str, object]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("POST", endpoint, json.dumps(body), {"Content-Type": "application/json"})
        response = connection.getresponse()
        data = json.loads(response.read())
        if response.status != 200:
            raise SystemExit(f"{endpoint}: HTTP {response.status}: {data.get('error')}")
        return dict(data)
    finally:
        connection.close()


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure(
    text: str,
    runs: int,
    round_trip: Callable[[dict[str, object]], None],
    fresh: Callable[[str], str],
    port: int,
) -> dict[str, list[float]]:
    """Seconds per run: the round trip, each request alone, the full drawing, a cache hit."""
    results: dict[str, list[float]] = {k: [] for k in ("trip", "an", "re", "full", "hit")}
    same = {"text": text, "batch": 2}
    for _ in range(runs):
        results["trip"].append(timed(lambda: round_trip({"text": fresh(text)})))
        results["an"].append(timed(lambda: post(port, "/api/analyze", {"text": fresh(text)})))
        results["re"].append(timed(lambda: post(port, "/api/render", {"text": fresh(text)})))
        results["full"].append(
            timed(lambda: post(port, "/api/render", {"text": fresh(text), "depth": "full"}))
        )
        round_trip(same)
        results["hit"].append(timed(lambda: round_trip(same)))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--spec",
        action="append",
        type=Path,
        help="specs to time (default: resnet152, resnet50, googlenet, vgg16 of specs/)",
    )
    parser.add_argument("--limit", type=float, default=1.0)
    args = parser.parse_args()
    specs = args.spec or [
        REPO_ROOT / "specs" / f"{n}.net" for n in ("resnet152", "resnet50", "googlenet", "vgg16")
    ]

    server = make_server(Workspace(REPO_ROOT / "specs"), port=0, log=print)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    pool = ThreadPoolExecutor(2)
    counter = [0]

    def fresh(text: str) -> str:
        """The text, edited so that neither the graph nor the drawing is in a cache: the
        network's name (in the drawing's title) changes."""
        counter[0] += 1
        edited, count = NAME.subn(lambda m: f'{m.group(1)}"{m.group(2)}_{counter[0]}"', text, 1)
        return edited if count else f'name: "edit_{counter[0]}"\n{text}'

    def round_trip(body: dict[str, object]) -> None:
        futures = [pool.submit(post, port, e, body) for e in ("/api/analyze", "/api/render")]
        for future in futures:
            future.result()

    print(
        f"netc serve round trip, {args.runs} runs each, median (min); Python {sys.version.split()[0]}"
    )
    print(
        f"{'spec':<24} {'layers':>6} {'round trip':>14} {'analyze':>14} {'render':>14} "
        f"{'render full':>14} {'cached':>10}"
    )
    failed = False
    try:
        round_trip({"text": fresh((REPO_ROOT / "specs" / "lenet.net").read_text())})  # warm-up
        for spec in specs:
            text = spec.read_text()
            layers = len(post(port, "/api/analyze", {"text": text, "depth": "full"})["layers"])  # type: ignore[arg-type]
            results = measure(text, args.runs, round_trip, fresh, port)

            def cell(values: list[float], width: int = 14) -> str:
                text = f"{statistics.median(values) * 1000:.0f} ({min(values) * 1000:.0f}) ms"
                return f"{text:>{width}}"

            print(
                f"{spec.stem:<24} {layers:>6} {cell(results['trip'])} {cell(results['an'])} "
                f"{cell(results['re'])} {cell(results['full'])} {cell(results['hit'], 10)}"
            )
            if statistics.median(results["trip"]) > args.limit:
                failed = True
                print(f"  over the limit of {args.limit:g} s", file=sys.stderr)
    finally:
        pool.shutdown()
        server.shutdown()
        server.server_close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
