"""A mark in every drawing `netc render` writes, so that a later run may replace its own output
without `--force` and never a file the user wrote (an image or, worse, a spec).

DOT: netc's header line (`netc.render.dot.HEADER`); SVG: an XML comment after the declaration;
PNG: a `tEXt` chunk (`Software: netc render`) after IHDR; PDF: a comment line after `%%EOF`,
which PDF readers ignore.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

__all__ = ["MARK", "is_marked", "mark"]

MARK = "netc render"
_SVG_MARK = f"<!-- {MARK} -->"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT = b"Software\x00" + MARK.encode()
_PDF_MARK = f"%{MARK}\n".encode()


def mark(kind: str, data: bytes) -> bytes:
    """`data` (an image of format `kind`) with netc's mark; unknown layouts are left as they are."""
    if kind == "svg":
        text = data.decode("utf-8", errors="surrogateescape")
        if text.startswith("<?xml"):
            end = text.find("?>") + 2
            text = f"{text[:end]}\n{_SVG_MARK}{text[end:]}"
        else:
            text = f"{_SVG_MARK}\n{text}"
        return text.encode("utf-8", errors="surrogateescape")
    if kind == "png" and data.startswith(_PNG_SIGNATURE) and data[12:16] == b"IHDR":
        end = 8 + 8 + struct.unpack(">I", data[8:12])[0] + 4  # signature, IHDR chunk
        chunk = b"tEXt" + _PNG_TEXT
        framed = struct.pack(">I", len(_PNG_TEXT)) + chunk + struct.pack(">I", zlib.crc32(chunk))
        return data[:end] + framed + data[end:]
    if kind == "pdf" and data.startswith(b"%PDF"):
        return data + (b"" if data.endswith(b"\n") else b"\n") + _PDF_MARK
    return data


def is_marked(path: Path, dot_header: str) -> bool:
    """Whether `path` is a drawing netc wrote (DOT, SVG, PNG or PDF)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
            if head.startswith(b"%PDF"):
                handle.seek(0, 2)
                size = handle.tell()
                handle.seek(max(0, size - 64))
                return handle.read().endswith(_PDF_MARK)
    except OSError:
        return False
    if head.startswith(_PNG_SIGNATURE):
        return b"tEXt" + _PNG_TEXT in head
    first_line = head.split(b"\n", 1)[0].rstrip(b"\r")
    return first_line == dot_header.encode("utf-8") or _SVG_MARK.encode() in head
