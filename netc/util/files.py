"""Reading and writing the user's files safely.

Writes: a regular file is replaced atomically (a reader never sees half a file, a failed write
leaves the old one intact); a symbolic link is written through to its target (the link stays a
link); a device or FIFO (`/dev/null`, `/dev/stdout`, a named pipe) is written to as it is, never
replaced by a regular file. Temporary files carry the writer's pid, so one left behind by a
killed process is removed by the next write beside it.

Reads: a file is opened without blocking (a FIFO cannot stall the reader), refused unless it is a
regular file, and read with a size cap before anything is decoded.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

__all__ = [
    "FileTooLarge",
    "NotRegularFile",
    "read_capped",
    "remove_stale_temporaries",
    "staging_dir",
    "write_atomic",
    "write_stream",
]

_TMP_TAG = ".netc-"
_TMP_SUFFIX = ".tmp"
_STALE_AGE_S = 24 * 3600  # a temporary this old is stale even if its pid was reused


class FileTooLarge(OSError):
    """A file over the size a reader accepts (checked before it is read whole)."""

    def __init__(self, path: Path, size: int, limit: int) -> None:
        super().__init__(f"{path}: {size:,} bytes, over the limit of {limit:,}")
        self.path, self.size, self.limit = path, size, limit


class NotRegularFile(OSError):
    """A device, FIFO or socket where a file's contents were expected."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(f"{path}: is a {kind}, not a regular file")
        self.path, self.kind = path, kind


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def read_capped(path: str | os.PathLike[str], limit: int) -> bytes:
    """A regular file's bytes, at most `limit` of them: raises FileTooLarge past it,
    NotRegularFile for a FIFO, device or directory, OSError otherwise. A sparse or growing file
    never reads more than limit + 1 bytes."""
    p = Path(path)
    fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError(21, "Is a directory", str(p))
            raise NotRegularFile(p, _kind(info.st_mode))
        if info.st_size > limit:
            raise FileTooLarge(p, info.st_size, limit)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise FileTooLarge(p, total, limit)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _resolve(path: Path) -> Path:
    """Where a write to `path` lands: symbolic links followed to their target (which may not
    exist yet); a loop is an OSError."""
    seen: set[str] = set()
    current = str(path)
    while os.path.islink(current):
        if current in seen or len(seen) > 40:
            raise OSError(40, "Too many levels of symbolic links", str(path))
        seen.add(current)
        current = os.path.join(os.path.dirname(current), os.readlink(current))
    return Path(current)


def _special(path: Path) -> bool:
    """Whether `path` names an existing non-regular file (device, FIFO, socket)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(21, "Is a directory", str(path))
    return not stat.S_ISREG(mode)


def _write_special(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    # O_NONBLOCK: a FIFO with no reader fails at once (ENXIO) instead of hanging the command
    flags = os.O_WRONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == 6:  # ENXIO
            raise OSError(exc.errno, "no process is reading the FIFO", str(path)) from None
        raise
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    with os.fdopen(fd, "wb") as handle:
        write(handle)


def _new_mode(target: Path) -> int:
    """An existing file's permissions, else what open() would give a new one."""
    with contextlib.suppress(FileNotFoundError):
        return target.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _temporary_name(target: Path) -> str:
    return f".{target.name}{_TMP_TAG}{os.getpid()}-{secrets.token_hex(4)}{_TMP_SUFFIX}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    except OSError:
        return False
    return True


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Delete temporaries of `target` whose writer is gone (killed mid-write), or that are a
    day old; returns what was removed."""
    folder = target.parent if str(target.parent) else Path(".")
    prefix = f".{target.name}{_TMP_TAG}"
    removed: list[Path] = []
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix) and n.endswith(_TMP_SUFFIX)]
    except OSError:
        return removed
    now = time.time()
    for name in names:
        pid_text = name[len(prefix) :].split("-", 1)[0]
        path = folder / name
        try:
            age = now - path.lstat().st_mtime
        except OSError:
            continue
        if pid_text.isdigit() and _alive(int(pid_text)) and age < _STALE_AGE_S:
            continue
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed


def write_stream(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> None:
    """Write `path` by streaming into `write`'s handle: atomically for a regular file (through
    a symbolic link to its target), directly for a device or FIFO."""
    target = _resolve(Path(path))
    if _special(target):
        _write_special(target, write)
        return
    folder = target.parent if str(target.parent) else Path(".")
    remove_stale_temporaries(target)
    mode = _new_mode(target)
    tmp = folder / _temporary_name(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write `data` to `path` (see write_stream): never half a file, never a device replaced."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    write_stream(path, lambda handle: handle.write(payload))


@contextlib.contextmanager
def staging_dir(target: Path) -> Iterator[Path]:
    """A temporary folder beside `target` for writers that produce several files; named like
    the other temporaries so that one left by a killed process is cleaned by the next write."""
    folder = target.parent if str(target.parent) else Path(".")
    remove_stale_temporaries(target)
    tmp = folder / _temporary_name(target)
    tmp.mkdir(mode=0o700)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
