"""`parse`: the syntax tree of a source, from a content-addressed cache when it holds one.

Parsing is most of the cost of `netc check/analyze` on a large Caffe file (Lark's LALR parser,
about 7 µs a token, plus importing Lark and loading its tables). A syntax tree depends only on
the text, the limits and netc's own parser code, so it is cached under a hash of those: a hit
decodes the tree and never imports Lark. Failures are never cached.

Entries are data only (JSON read by `treecodec`, rebuilt into the syntax tree's own classes and
checked field by field): a damaged, foreign or forged entry is a miss, never code run. The cache
lives in $NETC_CACHE_DIR, else $XDG_CACHE_HOME/netc, else ~/.cache/netc (`parse-cache/` there),
created 0700 and used only while it belongs to this user and no one else may write to it;
NETC_CACHE=0 turns it off. Any error reading or writing it only means parsing afresh.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
from pathlib import Path

from netc.diagnostics import Source, Span
from netc.lang import ast, treecodec
from netc.lang.limits import DEFAULT_LIMITS, Limits

__all__ = ["cache_dir", "grammar_text", "parse", "parse_expression"]

CACHE_ENTRIES = 512  # the oldest entries go once the folder holds more
# Larger texts (generated networks; real prototxt files stay under ~300 kB) are parsed afresh
# rather than written to disk as many-megabyte entries.
CACHE_MAX_CHARS = 512 * 1024
_MAX_ENTRY_BYTES = 16 * CACHE_MAX_CHARS  # an entry larger than any tree of a cached text
_SUFFIX = ".tree.json"
_code_digest: str | None = None


def parse(source: Source, limits: Limits = DEFAULT_LIMITS) -> ast.File:
    """Parse a whole file; raises NetcError with a positioned diagnostic."""
    folder = cache_dir()
    if folder is None or len(source.text) > CACHE_MAX_CHARS or not _trusted(folder):
        return _parse(source, limits)
    entry = folder / f"{_key(source, limits)}{_SUFFIX}"
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
        sources = (
            here / "syntax.py",
            here / "ast.py",
            here / "treecodec.py",
            here.parent / "diagnostics.py",
        )
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


def _trusted(folder: Path) -> bool:
    """Whether `folder` is this user's own: created 0700 if missing; refused (caching off) when
    another user owns it or others may write into it, since whoever can write an entry decides
    what netc sees for the file it names."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = folder.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode):
        return False
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return False
    return not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _read(entry: Path, source: Source) -> ast.File | None:
    try:
        info = entry.lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_ENTRY_BYTES:
            return None
        data = entry.read_bytes()
    except OSError:
        return None
    try:
        return treecodec.decode(data, source)
    except treecodec.TreeDecodeError:  # damaged, foreign or forged: parse afresh, overwrite
        return None


def _write(entry: Path, tree: ast.File, folder: Path) -> None:
    try:
        data = treecodec.encode(tree).encode("utf-8", errors="surrogatepass")
    except (TypeError, ValueError):  # a value the codec does not know: not worth failing on
        return
    if len(data) > _MAX_ENTRY_BYTES:
        return
    temporary = folder / f".{entry.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, entry)
        _prune(folder)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def _prune(folder: Path) -> None:
    entries = list(folder.glob(f"*{_SUFFIX}"))
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
