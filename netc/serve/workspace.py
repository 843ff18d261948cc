"""The files `netc serve` may show and save: spec files below the served folder (read and
write) and below the zoo folder (read only), nothing else.

Every path a client sends is relative, checked part by part (no absolute paths, no `..`, no
hidden names, no NUL), then resolved (symbolic links followed) and checked again to lie below
its root. Saving is explicit and atomic (`netc.util.files.write_atomic`), and refused (a
`Conflict`) when the file on disk is no longer the version the client loaded: the client
sends back the ETag it read, a hash of the file's bytes.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from netc.util.files import FileTooLarge, NotRegularFile, read_capped, write_atomic

SPEC_SUFFIXES = (".net", ".prototxt", ".pbtxt")
MAX_FILE_BYTES = 4 * 1024 * 1024  # netc's limit for a spec (Limits.max_source_bytes)
MAX_LISTED = 2000  # files in a listing; a served home folder must not take minutes
MAX_WALK_DEPTH = 8
MAX_WALK_SECONDS = 2.0  # `netc serve ~` lists what it finds in that time, not the whole disk
SKIPPED_DIRS = {"node_modules", "__pycache__", "site-packages"}


class WorkspaceError(Exception):
    """A refused file request; `status` is the HTTP status that says why."""

    def __init__(self, status: int, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.hint = hint


def etag_of(data: bytes) -> str:
    """A strong ETag: the file's content hash (mtimes are too coarse on some file systems)."""
    return hashlib.sha256(data).hexdigest()[:32]


@dataclass(frozen=True)
class SpecFile:
    root: str  # "folder" | "zoo"
    path: str  # relative, with `/`
    size: int


@dataclass(frozen=True)
class Loaded:
    root: str
    path: str
    text: str
    etag: str
    writable: bool
    folder: Path  # where the file's imports resolve


@dataclass
class Root:
    key: str  # "folder" | "zoo"
    path: Path  # resolved
    writable: bool


class Workspace:
    """The served folder (writable unless `read_only`) and, if given, the zoo (read only)."""

    def __init__(self, folder: Path, zoo: Path | None = None, *, read_only: bool = False) -> None:
        self.roots: dict[str, Root] = {"folder": Root("folder", folder.resolve(), not read_only)}
        if zoo is not None and zoo.is_dir():
            resolved = zoo.resolve()
            if resolved != self.roots["folder"].path:  # `netc serve specs/`: one list, not two
                self.roots["zoo"] = Root("zoo", resolved, False)
        self._locks_guard = threading.Lock()  # held only to look up a file's lock
        self._locks: dict[Path, threading.Lock] = {}

    @property
    def folder(self) -> Path:
        return self.roots["folder"].path

    # ---- listing -----------------------------------------------------------------------

    def listing(self) -> tuple[list[SpecFile], bool]:
        """Every spec below each root, sorted, and whether the listing was cut short."""
        files: list[SpecFile] = []
        truncated = False
        for root in self.roots.values():
            found, cut = _walk(root.path)
            truncated = truncated or cut
            files.extend(SpecFile(root.key, rel, size) for rel, size in found)
        return files, truncated

    # ---- paths -------------------------------------------------------------------------

    def _root(self, key: str) -> Root:
        root = self.roots.get(key)
        if root is None:
            raise WorkspaceError(404, f"no root {key!r}", "roots: " + ", ".join(self.roots))
        return root

    def resolve(self, key: str, rel: str, *, must_exist: bool = True) -> Path:
        """The real path of `rel` below root `key`, or a WorkspaceError (400, 403, 404)."""
        root = self._root(key)
        pure = _checked_relative(rel)
        candidate = root.path.joinpath(*pure.parts)
        try:
            real = candidate.resolve(strict=must_exist)
        except FileNotFoundError:
            raise WorkspaceError(404, f"{rel}: no such file") from None
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
            raise WorkspaceError(400, f"{rel}: cannot resolve ({exc})") from None
        if not real.is_relative_to(root.path):
            raise WorkspaceError(
                403, f"{rel}: outside the served folder", "symbolic links may not leave it"
            )
        if must_exist and not real.is_file():
            raise WorkspaceError(404, f"{rel}: not a file")
        if real.suffix.lower() not in SPEC_SUFFIXES:
            raise WorkspaceError(
                403,
                f"{rel}: not a network spec",
                f"netc serve shows only {', '.join(SPEC_SUFFIXES)} files",
            )
        return real

    # ---- reading and saving ------------------------------------------------------------

    def _lock_for(self, path: Path) -> threading.Lock:
        """A lock per file: a slow or stuck save of one file never holds up another's."""
        with self._locks_guard:
            if len(self._locks) > 4096:  # forget idle locks of files saved long ago
                self._locks = {p: lock for p, lock in self._locks.items() if lock.locked()}
            return self._locks.setdefault(path, threading.Lock())

    def read(self, key: str, rel: str) -> Loaded:
        real = self.resolve(key, rel)
        try:
            data = read_capped(real, MAX_FILE_BYTES)
        except FileTooLarge:
            raise WorkspaceError(413, f"{rel}: over netc's size limit for a spec") from None
        except NotRegularFile:
            raise WorkspaceError(403, f"{rel}: not a regular file") from None
        except OSError as exc:
            raise WorkspaceError(403, f"{rel}: cannot read ({exc.strerror or exc})") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WorkspaceError(415, f"{rel}: not UTF-8 text (byte {exc.start})") from None
        root = self._root(key)
        return Loaded(key, _posix(rel), text, etag_of(data), root.writable, real.parent)

    def write(self, key: str, rel: str, text: str, etag: str | None) -> str:
        """Save `text` atomically when the file on disk still has `etag` (None: the file must
        not exist yet); the new ETag. Raises WorkspaceError (403, 404, 409)."""
        root = self._root(key)
        if not root.writable:
            what = "the zoo is" if key == "zoo" else "the server is"
            raise WorkspaceError(
                403,
                f"{rel}: {what} read-only",
                "save a copy in the served folder"
                if key == "zoo"
                else "restart without --read-only",
            )
        real = self.resolve(key, rel, must_exist=False)
        if not real.parent.is_dir():
            raise WorkspaceError(404, f"{rel}: its folder does not exist")
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise WorkspaceError(
                400, f"{rel}: the text is not valid Unicode (character {exc.start})"
            ) from None
        with self._lock_for(real):  # one check-then-replace at a time per file
            current = _current_etag(real)
            if current != etag:
                if current is None:
                    raise WorkspaceError(409, f"{rel}: deleted on disk since it was loaded")
                if etag is None:
                    raise WorkspaceError(
                        409, f"{rel}: already exists", "open it first, then save your edits"
                    )
                raise WorkspaceError(
                    409,
                    f"{rel}: changed on disk since it was loaded; not saved",
                    "copy your edits, reload the file, and apply them again",
                )
            if real.exists() and not real.is_file():
                raise WorkspaceError(403, f"{rel}: not a regular file")
            try:
                write_atomic(real, data)  # the resolved path: a symlink stays a symlink
            except OSError as exc:
                raise WorkspaceError(403, f"{rel}: cannot write ({exc.strerror or exc})") from None
        return etag_of(data)


def _current_etag(path: Path) -> str | None:
    """The file's ETag, read without blocking (a FIFO or device is refused at once)."""
    try:
        return etag_of(read_capped(path, MAX_FILE_BYTES))
    except FileNotFoundError:
        return None
    except NotRegularFile:
        raise WorkspaceError(403, f"{path.name}: not a regular file") from None
    except OSError as exc:
        raise WorkspaceError(403, f"{path.name}: cannot read ({exc.strerror or exc})") from None


def _checked_relative(rel: str) -> PurePosixPath:
    if not rel or "\x00" in rel or len(rel) > 1024:
        raise WorkspaceError(400, "a relative file path is required")
    text = rel.replace("\\", "/")
    pure = PurePosixPath(text)
    if pure.is_absolute() or (len(text) > 1 and text[1] == ":"):
        raise WorkspaceError(403, f"{rel}: absolute paths are not served")
    for part in pure.parts:
        if part in ("..", ".") or part.startswith("."):
            raise WorkspaceError(403, f"{rel}: `..` and hidden names are not served")
    return pure


def _posix(rel: str) -> str:
    return str(PurePosixPath(rel.replace("\\", "/")))


def _walk(root: Path) -> tuple[list[tuple[str, int]], bool]:
    """Spec files below `root` (symbolic links to folders not followed; links to files kept
    when they resolve inside `root`), at most MAX_LISTED of them."""
    found: list[tuple[str, int]] = []
    base_depth = len(root.parts)
    deadline = time.monotonic() + MAX_WALK_SECONDS
    for current, dirs, names in os.walk(root, followlinks=False):
        if time.monotonic() > deadline:
            found.sort()
            return found, True
        here = Path(current)
        if len(here.parts) - base_depth >= MAX_WALK_DEPTH:
            dirs[:] = []
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
        for name in sorted(names):
            if name.startswith(".") or not name.lower().endswith(SPEC_SUFFIXES):
                continue
            path = here / name
            try:
                real = path.resolve(strict=True)
                if not real.is_relative_to(root) or not real.is_file():
                    continue
                size = real.stat().st_size
            except (OSError, RuntimeError):
                continue
            found.append((path.relative_to(root).as_posix(), size))
            if len(found) >= MAX_LISTED:
                found.sort()
                return found, True
    found.sort()
    return found, False
