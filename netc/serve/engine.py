"""What the API computes, independent of HTTP: a spec's text (and options) in, JSON-ready
dicts out: the analysis with its per-layer index, the drawing with its node map, generated
code.

Every request is compiled with netc's limits (`netc.lang.limits`), imports confined below the
spec's folder (never the server's working directory), and Graphviz under a time limit. Graphs
and drawings are cached by content hash: the page asks for the analysis and the drawing of
the same text at once, and the second request reuses the first one's graph (waiting for it
when it is still being built) instead of compiling the spec twice.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from netc.diagnostics import Diagnostic, NetcError, Source
from netc.ir.graph import Graph, Node
from netc.lang.limits import DEFAULT_LIMITS, Limits
from netc.render.dot import Unit
from netc.util.collector import collector_paused

PHASES = ("TEST", "TRAIN")
DTYPES = ("fp32", "fp16", "bf16")
OPTIMIZERS = ("sgd", "sgd-momentum", "adam", "adamw")
COUNTINGS = ("netc", "torch", "netscope")
TARGETS = ("torch", "onnx")
MAX_BATCH = 1_000_000
MAX_SIDE = 100_000
MAX_DEPTH = 64
_READS_FILES = re.compile(r"\b(?:import|extends)\b")
GRAPH_CACHE_BYTES = 256 * 1024 * 1024
SVG_CACHE_BYTES = 64 * 1024 * 1024
DEFAULT_DOT_TIMEOUT = 20.0  # seconds; the largest zoo drawing takes a tenth of one


class ApiError(Exception):
    """A request the API refuses: an HTTP status, a message and the diagnostics behind it."""

    def __init__(
        self,
        status: int,
        message: str,
        hint: str | None = None,
        diagnostics: list[dict[str, Any]] | None = None,
        retry_after_s: int = 0,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after_s = retry_after_s  # sent as Retry-After (503)
        self.diagnostics = (
            diagnostics if diagnostics is not None else [Diagnostic(message, None, hint).to_json()]
        )

    def to_json(self) -> dict[str, Any]:
        return {"ok": False, "error": self.message, "diagnostics": self.diagnostics}


@dataclass(frozen=True)
class Spec:
    """A spec to compile: its text, the name its diagnostics carry, the folder its imports
    resolve in, the folder they may not leave, and the options that change its shapes."""

    text: str
    name: str
    folder: Path
    boundary: Path
    phase: str = "TEST"
    batch: int | None = None
    input_size: tuple[int, int] | None = None

    def key(self) -> tuple[object, ...]:
        digest = hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()
        return (
            digest,
            self.name,
            str(self.folder),
            str(self.boundary),
            self.phase,
            self.batch,
            self.input_size,
        )


# ---- request fields -----------------------------------------------------------------------


_DIGITS = re.compile(r"[0-9]{1,9}")  # ASCII only: "²".isdigit() is True, int("²") fails


def _int(body: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError(400, f"{name}: expected a whole number from {low} to {high:,}")
    return value


def _choice(body: dict[str, Any], name: str, options: tuple[str, ...], default: str) -> str:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str) or value not in options:
        raise ApiError(400, f"{name}: expected one of {', '.join(options)}")
    return value


def input_size_of(value: object) -> tuple[int, int] | None:
    """`224`, `"320x320"`, `[320, 320]` or empty: the spatial input size (H, W)."""
    if value is None or value == "" or value == []:
        return None
    sides: list[object]
    if isinstance(value, int) and not isinstance(value, bool):
        sides = [value, value]
    elif isinstance(value, str):
        parts = value.lower().replace("×", "x").replace(" ", "").split("x")
        sides = [int(p) if _DIGITS.fullmatch(p) else -1 for p in parts]
        if len(sides) == 1:
            sides = sides * 2
    elif isinstance(value, list):
        sides = list(value)
    else:
        sides = []
    if len(sides) != 2 or not all(
        isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= MAX_SIDE for s in sides
    ):
        raise ApiError(400, "input_size: expected HxW, e.g. 320x320 (each side 1 to 100,000)")
    return (int(sides[0]), int(sides[1]))  # type: ignore[call-overload]


def depth_of(value: object) -> int | str:
    """`auto` (default), `full` or a level >= 1."""
    if value is None or value == "":
        return "auto"
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("auto", "full"):
            return text
        value = int(text) if _DIGITS.fullmatch(text) else -1
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DEPTH:
        raise ApiError(400, f"depth: expected auto, full or a level from 1 to {MAX_DEPTH}")
    return value


def spec_of(body: dict[str, Any], name: str, folder: Path, boundary: Path) -> Spec:
    text = body.get("text")
    if not isinstance(text, str):
        raise ApiError(400, "text: the spec's text is required (a string)")
    return Spec(
        text=text,
        name=name,
        folder=folder,
        boundary=boundary,
        phase=_choice(body, "phase", PHASES, "TEST"),
        batch=_int(body, "batch", 1, MAX_BATCH),
        input_size=input_size_of(body.get("input_size")),
    )


# ---- caches -------------------------------------------------------------------------------

K = TypeVar("K")
V = TypeVar("V")


class Memo(Generic[K, V]):
    """An LRU of results by key, bounded in entries and in bytes (as `weigh` estimates them);
    concurrent requests for one key compute it once. A result heavier than the whole budget
    is returned and not kept."""

    def __init__(self, capacity: int, max_bytes: int, weigh: Callable[[V], int]) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._weigh = weigh
        self._items: OrderedDict[K, Future[V]] = OrderedDict()
        self._weights: dict[K, int] = {}
        self._lock = threading.Lock()

    def get(self, key: K, compute: Callable[[], V]) -> V:
        with self._lock:
            future = self._items.get(key)
            owner = future is None
            if future is None:
                future = Future()
                self._items[key] = future
                self._evict()
            else:
                self._items.move_to_end(key)
        if owner:
            try:
                value = compute()
            except BaseException as exc:
                future.set_exception(exc)
                if not isinstance(exc, NetcError):  # keep diagnostics, retry anything else
                    self._forget(key, future)
                raise
            future.set_result(value)
            with self._lock:
                if self._items.get(key) is future:
                    self._weights[key] = self._weigh(value)
                    self._evict()
            return value
        return future.result()

    def held_bytes(self) -> int:
        with self._lock:
            return sum(self._weights.values())

    def _forget(self, key: K, future: Future[V]) -> None:
        with self._lock:
            if self._items.get(key) is future:
                del self._items[key]
                self._weights.pop(key, None)

    def _evict(self) -> None:
        """Drop the least recently used entries until both bounds hold (the lock is held)."""
        total = sum(self._weights.values())
        for key in list(self._items):
            if len(self._items) <= self.capacity and total <= self.max_bytes:
                return
            total -= self._weights.pop(key, 0)
            del self._items[key]


def graph_bytes(graph: Graph) -> int:
    """About what a compiled graph holds: measured at 2-5 kB a layer on the zoo (tracemalloc),
    plus its names (each kept several times: node, tensors, frames) and its sources' text."""
    names = sum(len(n.name) + sum(map(len, n.outputs)) for n in graph.nodes)
    return 8192 * len(graph.nodes) + 4 * names + sum(len(s.text) for s in graph.sources)


# ---- the engine ---------------------------------------------------------------------------


@dataclass
class Engine:
    limits: Limits = DEFAULT_LIMITS
    dot_timeout: float = DEFAULT_DOT_TIMEOUT
    _graphs: Memo[tuple[object, ...], Graph] = field(
        default_factory=lambda: Memo(8, GRAPH_CACHE_BYTES, graph_bytes)
    )
    _svgs: Memo[str, bytes] = field(default_factory=lambda: Memo(16, SVG_CACHE_BYTES, len))

    def graph(self, spec: Spec) -> Graph:
        """The spec compiled (cached); raises ApiError(422) with its diagnostics."""
        try:
            if _READS_FILES.search(spec.text):
                # the cache knows this text, not the files it imports: they may have changed
                return self._compile(spec)
            return self._graphs.get(spec.key(), lambda: self._compile(spec))
        except NetcError as error:
            raise invalid(error, spec) from None
        except (RecursionError, MemoryError) as exc:
            raise ApiError(
                422,
                f"input too large or too deeply nested ({type(exc).__name__})",
                "netc's limits: docs/language.md",
            ) from None

    def _compile(self, spec: Spec) -> Graph:
        from netc.ir.build import BuildOptions, build
        from netc.lang.expand import Expander, confined_loader
        from netc.lang.syntax import parse

        # Lark directly, not netc.lang.parser's on-disk cache: every keystroke is a new text,
        # and writing each one to disk would only evict the command line's entries
        with collector_paused():
            tree = parse(Source(spec.name, spec.text), self.limits)
            # imports resolve beside the spec and stay inside its root, whatever the server's cwd
            net = Expander(confined_loader(spec.folder, spec.boundary), self.limits).run(tree)
            return build(
                net, BuildOptions(phase=spec.phase, batch=spec.batch, input_size=spec.input_size)
            )

    # ---- analyze ---------------------------------------------------------------------

    def analyze(self, spec: Spec, body: dict[str, Any]) -> dict[str, Any]:
        from netc.analysis.core import analyze, collapse, frames_index
        from netc.analysis.report import document
        from netc.render.dot import max_level, resolve_depth

        dtype = _choice(body, "dtype", DTYPES, "fp32")
        optimizer = _choice(body, "optimizer", OPTIMIZERS, "sgd-momentum")
        counting = _choice(body, "count", COUNTINGS, "netc")
        depth_option = depth_of(body.get("depth"))
        graph = self.graph(spec)
        analysis = analyze(graph, dtype=dtype, counting=counting, optimizer=optimizer)
        depth = resolve_depth(graph, depth_option)  # "auto" as the drawing resolves it
        frames = frames_index(graph)
        if depth is not None:
            analysis.rows = collapse(analysis.rows, frames, depth)
        row_of = {row.name: i for i, row in enumerate(analysis.rows)}
        layers = []
        for node in graph.nodes:
            paths = frames.get(node.name, ())
            key = paths[depth - 1] if depth is not None and len(paths) >= depth else node.name
            layers.append(
                {
                    "name": node.name,
                    "type": node.type,
                    "row": row_of.get(key),
                    "lines": _lines(node, spec.name),
                }
            )
        return {
            "ok": True,
            "analysis": document(analysis),
            "depth": depth,
            "max_depth": max_level(graph),
            "layers": layers,
            # what the spec gets away with (a fork's field ignored, a type netc does not know)
            "warnings": [w.to_json() for w in graph.warnings],
        }

    # ---- render ----------------------------------------------------------------------

    def render(self, spec: Spec, body: dict[str, Any]) -> dict[str, Any]:
        from netc.render.dot import SHOW_FIELDS, RenderOptions, max_level, to_dot_plan
        from netc.render.graphviz import INSTALL_HINT, GraphvizError
        from netc.render.graphviz import render as draw

        rankdir = _choice(body, "rankdir", ("TB", "LR"), "TB")
        show = body.get("show") or []
        if isinstance(show, str):
            show = [s.strip() for s in show.split(",") if s.strip()]
        if not isinstance(show, list) or any(s not in SHOW_FIELDS for s in show):
            raise ApiError(400, f"show: expected a list of {', '.join(SHOW_FIELDS)}")
        options = RenderOptions(
            depth=depth_of(body.get("depth")), rankdir=rankdir, show=tuple(dict.fromkeys(show))
        )
        graph = self.graph(spec)
        dot, drawing = to_dot_plan(graph, options)
        units = {u.id: [n.name for n in u.nodes] for u in drawing.units if u.nodes}
        result: dict[str, Any] = {
            "ok": True,
            "network": graph.name,
            "depth": drawing.depth,
            "max_depth": max_level(graph),
            "units": units,
            "clusters": cluster_map(drawing.units),
            "svg": None,
            "graphviz": None,
        }
        digest = hashlib.sha256(dot.encode("utf-8")).hexdigest()
        try:
            svg = self._svgs.get(digest, lambda: draw(dot, "svg", timeout=self.dot_timeout))
        except GraphvizError as exc:
            result["graphviz"] = {
                "message": exc.message,
                "missing": exc.missing,
                "hint": INSTALL_HINT if exc.missing else None,
            }
            result["dot"] = dot  # the page offers it for download instead of the image
            return result
        result["svg"] = svg.decode("utf-8")
        return result

    # ---- build -----------------------------------------------------------------------

    def build(self, spec: Spec, target: str) -> tuple[bytes, str, str]:
        """Generated code: (bytes, content type, file name)."""
        if target not in TARGETS:
            raise ApiError(400, f"target: expected one of {', '.join(TARGETS)}")
        graph = self.graph(spec)
        stem = Path(spec.name).stem or "network"
        try:
            if target == "torch":
                from netc.backends.torch import generate

                source = generate(graph, spec.name).source
                return source.encode("utf-8"), "text/x-python; charset=utf-8", f"{stem}.py"
            builder = onnx_builder()
            model = builder(graph, source_name=spec.name)
            return model.SerializeToString(), "application/octet-stream", f"{stem}.onnx"
        except NetcError as error:
            raise invalid(error, spec) from None


def cluster_map(units: list[Unit]) -> dict[str, list[str]]:
    """DOT cluster id (`cluster_1`, ..., the `<title>` of its `<g class="cluster">`) -> the
    layers drawn inside it. `to_dot` numbers clusters in a pre-order walk of this same tree."""
    from netc.render.dot import _Cluster, _cluster_tree

    out: dict[str, list[str]] = {}

    def walk(cluster: _Cluster) -> list[str]:
        names: list[str] = []
        for item in cluster.items:
            if isinstance(item, Unit):
                names.extend(n.name for n in item.nodes)
                continue
            key = f"cluster_{len(out) + 1}"
            out[key] = []  # numbered before its children, as to_dot does
            out[key] = inner = walk(item)
            names.extend(inner)
        return names

    walk(_cluster_tree(units))
    return out


def onnx_builder() -> Any:
    """`netc.backends.onnx.build_model`, or ApiError(501) saying what is missing."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ApiError(
            501,
            "ONNX export needs the onnx package, which is not installed",
            "pip install 'netc[onnx]'",
        ) from None
    try:
        from netc.backends.onnx import build_model
    except ImportError:
        raise ApiError(501, "this netc has no ONNX backend", "upgrade netc") from None
    return build_model


def onnx_available() -> bool:
    try:
        onnx_builder()
    except ApiError:
        return False
    return True


def invalid(error: NetcError, spec: Spec) -> ApiError:
    count = len(error.diagnostics)
    message = f"{spec.name}: {count} error{'s' if count != 1 else ''}"
    return ApiError(422, message, diagnostics=[d.to_json() for d in error.diagnostics])


def _lines(node: Node, main: str) -> list[list[int]]:
    """The line ranges of the main file that made a layer: its own declaration, and the
    template instances it sits in (a layer inside a template points at the template's body
    and at each instance statement on the way)."""
    spans = [node.span, *(f.span for f in node.frames)]
    out: list[list[int]] = []
    for span in spans:
        if span is None or span.file != main:
            continue
        pair = [span.line, max(span.line, span.end_line)]
        if pair not in out:
            out.append(pair)
    return out
