"""`parse`: the syntax tree of a source, from a content-addressed cache when it holds one.

Parsing is most of the cost of `netc check/analyze` on a large Caffe file (Lark's LALR parser,
about 7 µs a token, plus importing Lark and loading its tables). A syntax tree depends only on
the text, the limits and netc's own parser code, so it is cached under a hash of those: a hit
unpickles the tree and never imports Lark. Failures are never cached.

The cache lives in $NETC_CACHE_DIR, else $XDG_CACHE_HOME/netc, else ~/.cache/netc
(`parse-cache/` there); NETC_CACHE=0 turns it off. Any error reading or writing it only means
parsing afresh.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
from pathlib import Path
from typing import Any

from netc.diagnostics import Source, Span
from netc.lang import ast
from netc.lang.limits import DEFAULT_LIMITS, Limits

__all__ = ["cache_dir", "grammar_text", "parse", "parse_expression"]

CACHE_ENTRIES = 512  # the oldest entries go once the folder holds more
# Larger texts (generated networks; real prototxt files stay under ~300 kB) are parsed afresh
# rather than written to disk as many-megabyte pickles.
CACHE_MAX_CHARS = 512 * 1024
_SOURCE_ID = "source"
_code_digest: str | None = None


def parse(source: Source, limits: Limits = DEFAULT_LIMITS) -> ast.File:
    """Parse a whole file; raises NetcError with a positioned diagnostic."""
    folder = cache_dir()
    if folder is None or len(source.text) > CACHE_MAX_CHARS:
        return _parse(source, limits)
    entry = folder / f"{_key(source, limits)}.pickle"
    cached = _read(entry, source)
    if cached is not None:
        return cached
    tree = _parse(source, limits)
    _write(entry, tree, folder)
    return tree


def parse_expression(text: str, span: Span, limits: Limits = DEFAULT_LIMITS) -> ast.Expr:
    """Parse the expression inside a `${...}` interpolation, positioned at `span`."""
    from netc.lang import syntax

    return syntax.parse_expression(text, span, limits)


def grammar_text() -> str:
    from netc.lang import syntax

    return syntax.grammar_text()


def cache_dir() -> Path | None:
    """Where parsed trees are kept, or None when caching is off."""
    if os.environ.get("NETC_CACHE", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    base = os.environ.get("NETC_CACHE_DIR")
    if base:
        return Path(base) / "parse-cache"
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = Path(xdg) if xdg else Path.home() / ".cache"
    return root / "netc" / "parse-cache"


def _parse(source: Source, limits: Limits) -> ast.File:
    from netc.lang import syntax

    return syntax.parse(source, limits)


def _key(source: Source, limits: Limits) -> str:
    digest = hashlib.sha256()
    digest.update(_parser_code_digest().encode())
    digest.update(repr(limits).encode())
    digest.update(source.text.encode("utf-8", errors="surrogatepass"))
    return digest.hexdigest()[:40]


def _parser_code_digest() -> str:
    """netc's version and the code that decides a tree: the grammar, the parser, the node
    classes and the spans they hold."""
    global _code_digest
    if _code_digest is None:
        import netc  # the package is initialised by the time anything is parsed

        digest = hashlib.sha256(netc.__version__.encode())
        here = Path(__file__).resolve().parent
        sources = (here / "syntax.py", here / "ast.py", here.parent / "diagnostics.py")
        for path in (*sources, _grammar_path(here)):
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(b"missing:" + str(path).encode())
        _code_digest = digest.hexdigest()
    return _code_digest


def _grammar_path(here: Path) -> Path:
    packaged = here.parent / "grammar" / "netc.lark"  # inside the wheel
    return packaged if packaged.is_file() else here.parents[1] / "grammar" / "netc.lark"


class _Pickler(pickle.Pickler):
    """Stores the tree without its source text: spans point at whichever Source is parsed."""

    def __init__(self, file: io.BytesIO, source: Source) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.source = source

    def persistent_id(self, obj: Any) -> str | None:
        # interpolations get a Source of their own with the same name and text
        if (
            isinstance(obj, Source)
            and obj.name == self.source.name
            and (obj is self.source or obj.text == self.source.text)
        ):
            return _SOURCE_ID
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, source: Source) -> None:
        super().__init__(file)
        self.source = source

    def persistent_load(self, pid: Any) -> Source:
        if pid != _SOURCE_ID:
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        return self.source

    def find_class(self, module: str, name: str) -> Any:
        # a tree holds netc's own node classes and builtins only
        if module.startswith("netc.") or module in ("builtins", "copyreg", "fractions"):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"unexpected class {module}.{name}")


def _read(entry: Path, source: Source) -> ast.File | None:
    try:
        data = entry.read_bytes()
    except OSError:
        return None
    try:
        tree = _Unpickler(io.BytesIO(data), source).load()
    except Exception:  # a damaged or foreign entry: parse afresh and overwrite it
        return None
    return tree if isinstance(tree, ast.File) else None


def _write(entry: Path, tree: ast.File, folder: Path) -> None:
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, tree.source).dump(tree)
    except Exception:  # an unpicklable value in the tree: not worth failing the parse
        return
    temporary = entry.with_suffix(f".{os.getpid()}.tmp")
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary.write_bytes(buffer.getvalue())
        os.replace(temporary, entry)
        _prune(folder)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def _prune(folder: Path) -> None:
    entries = list(folder.glob("*.pickle"))
    if len(entries) <= CACHE_ENTRIES:
        return
    ages: list[tuple[float, Path]] = []
    for path in entries:
        with contextlib.suppress(OSError):  # another process may be pruning too
            ages.append((path.stat().st_mtime, path))
    ages.sort()
    for _, path in ages[: len(ages) - CACHE_ENTRIES // 2]:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
