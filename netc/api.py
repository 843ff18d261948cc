"""The Python API: `netc.load(path_or_text) -> Graph`; errors raise NetcError with diagnostics."""

from __future__ import annotations

import os
from pathlib import Path

from netc.diagnostics import NetcError, Source, Span
from netc.ir.build import BuildOptions, build
from netc.ir.graph import Graph
from netc.lang import ast
from netc.lang.expand import Expander, NetDecl, confined_loader
from netc.lang.limits import DEFAULT_LIMITS, Limits
from netc.lang.parser import parse
from netc.layers.base import Shape
from netc.util.collector import collector_paused
from netc.util.files import FileTooLarge, NotRegularFile, read_capped


def read_source(
    path: str | os.PathLike[str], limit: int = DEFAULT_LIMITS.max_source_bytes
) -> Source:
    """A file as a Source; unreadable files are a NetcError, not a traceback. The size is
    checked before the file is read (a FIFO or device is refused without blocking)."""
    p = Path(path)
    try:
        raw = read_capped(p, limit)
    except FileTooLarge as exc:
        raise NetcError.single(
            f"file is too large ({exc.size / 1e6:.1f} MB; the limit is {limit / 1e6:.1f} MB)",
            Span(Source(str(p), ""), 1, 1, 1, 2),
            "split the network into files joined with `import`; real ones are under 1 MB",
        ) from None
    except NotRegularFile as exc:
        raise NetcError.single(
            f"{p}: is a {exc.kind}, not a file", None, "give a .net or .prototxt file"
        ) from None
    except FileNotFoundError:
        raise NetcError.single(f"{p}: no such file", None, "check the path") from None
    except IsADirectoryError:
        raise NetcError.single(
            f"{p}: is a directory", None, "give a .net or .prototxt file"
        ) from None
    except OSError as exc:
        raise NetcError.single(f"{p}: cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NetcError.single(
            f"{p}: not UTF-8 text (byte {exc.start})",
            None,
            "netc reads text files; a .caffemodel holds weights, not a network definition",
        ) from None
    if "\x00" in text:
        raise NetcError.single(f"{p}: binary file", None, "netc reads text network definitions")
    return Source(str(p), text)


def as_source(spec: str | os.PathLike[str] | Source) -> Source:
    if isinstance(spec, Source):
        return spec
    if isinstance(spec, os.PathLike):
        return read_source(spec)
    if not spec.strip():
        return Source("<string>", spec)  # empty text, not the path "."
    looks_like_path = "\n" not in spec and "{" not in spec and len(spec) < 4096
    if looks_like_path and (spec.endswith((".net", ".prototxt", ".pbtxt")) or _exists(spec)):
        return read_source(spec)
    return Source("<string>", spec)


def _exists(path: str) -> bool:
    try:
        return Path(path).is_file()
    except (OSError, ValueError):  # a name too long, or with a NUL byte
        return False


def parse_file(spec: str | os.PathLike[str] | Source, limits: Limits = DEFAULT_LIMITS) -> ast.File:
    return parse(as_source(spec), limits)


def expand(
    spec: str | os.PathLike[str] | Source | ast.File, limits: Limits = DEFAULT_LIMITS
) -> NetDecl:
    file = spec if isinstance(spec, ast.File) else parse_file(spec, limits)
    return Expander(confined_loader(), limits).run(file)


def load(
    spec: str | os.PathLike[str] | Source,
    *,
    phase: str = "TEST",
    stages: tuple[str, ...] = (),
    input_shapes: dict[str, Shape] | None = None,
    batch: int | None = None,
    input_size: tuple[int, ...] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    strict: bool = False,
) -> Graph:
    """Parse, expand and shape-check a network: a path, or the text of a spec. `batch` and
    `input_size` (H, W) resize every input; `input_shapes` sets named inputs' shapes.
    What netc accepts with a warning is in `Graph.warnings`; `strict` makes it an error."""
    with collector_paused():
        net = expand(spec, limits)
        options = BuildOptions(
            phase=phase.upper(),
            stages=stages,
            input_shapes=input_shapes,
            batch=batch,
            input_size=input_size,
            strict=strict,
        )
        return build(net, options)
