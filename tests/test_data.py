"""netc.data: open_dataset over MNIST (zoo), sklearn digits, and image folders; the NetPBM,
idx and CSV readers; fitting images to a network's input.

Numbers: the zoo's data files are described in zoo/data/SOURCES.md (10,000 t10k images whose
first labels are 7 2 1 0 4 1 4 9 5 9; 5,000 CSV images, 500 per digit); sklearn's digits are
1,797 8×8 images (sklearn's documentation); other values are constructed here.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from netc.data import open_dataset
from netc.data.datasets import fit_image
from netc.data.formats import read_idx, read_netpbm
from netc.diagnostics import NetcError

torch.set_num_threads(1)
MNIST = (1, 28, 28)


def test_mnist_test_split_is_t10k(zoo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETC_ZOO", str(zoo_dir))
    data = open_dataset("mnist", split="test", input_shape=MNIST)
    assert len(data) == 10_000 and data.classes == [str(d) for d in range(10)]
    assert [data[i][1] for i in range(10)] == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # SOURCES.md
    with gzip.open(zoo_dir / "data/mnist-t10k/t10k-images-idx3-ubyte.gz") as f:
        raw = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    image, _ = data[3]
    assert image.dtype == torch.float32 and tuple(image.shape) == MNIST
    np.testing.assert_array_equal(image[0].numpy(), raw[3].astype(np.float32) * 0.00390625)


def test_mnist_train_split_and_labels_per_class(
    zoo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETC_ZOO", str(zoo_dir))
    full = open_dataset("mnist", split="train", input_shape=MNIST)
    assert len(full) == 5_000
    assert np.bincount(full.labels).tolist() == [500] * 10  # SOURCES.md
    few = open_dataset("mnist", split="train", input_shape=MNIST, labels_per_class=3, seed=1)
    again = open_dataset("mnist", split="train", input_shape=MNIST, labels_per_class=3, seed=1)
    other = open_dataset("mnist", split="train", input_shape=MNIST, labels_per_class=3, seed=2)
    assert np.bincount(few.labels).tolist() == [3] * 10
    assert all(torch.equal(few[i][0], again[i][0]) for i in range(len(few)))
    assert not all(torch.equal(few[i][0], other[i][0]) for i in range(len(few)))


def test_mnist_from_a_folder(zoo_dir: Path, tmp_path: Path) -> None:
    source = f"mnist:{zoo_dir / 'data/mnist-t10k'}"
    assert len(open_dataset(source, split="test", input_shape=MNIST)) == 10_000
    with pytest.raises(NetcError, match="no train images"):
        open_dataset(source, split="train", input_shape=MNIST)
    with pytest.raises(NetcError, match="no such folder"):
        open_dataset(f"mnist:{tmp_path / 'none'}", split="test", input_shape=MNIST)


def test_digits_follow_the_reference_recipe() -> None:
    """REFERENCE.md's transfer recipe: 8×8 -> 20×20 (bilinear) -> padded to 28×28 -> /16; k
    labels per class for training, the rest for testing."""
    from sklearn.datasets import load_digits

    train = open_dataset("digits", split="train", input_shape=MNIST, labels_per_class=10, seed=0)
    test = open_dataset("digits", split="test", input_shape=MNIST, labels_per_class=10, seed=0)
    assert len(train) == 100 and len(test) == 1_797 - 100
    assert np.bincount(train.labels).tolist() == [10] * 10
    digits = load_digits()
    resized = (
        F.interpolate(
            torch.tensor(digits.images, dtype=torch.float32)[:, None],
            size=(20, 20),
            mode="bilinear",
        )[:, 0].numpy()
        / 16
    )
    expected = np.zeros((len(digits.images), 28, 28), np.float32)
    expected[:, 4:24, 4:24] = resized
    # every image of both splits is one of sklearn's, exactly once, with its own label
    rows = {expected[i].tobytes(): i for i in range(len(expected))}
    used = []
    for split in (train, test):
        for i in range(len(split)):
            image, label = split[i]
            index = rows[image[0].numpy().tobytes()]
            assert digits.target[index] == label
            used.append(index)
    assert sorted(used) == list(range(1_797))
    other = open_dataset("digits", split="train", input_shape=MNIST, labels_per_class=10, seed=1)
    assert np.bincount(other.labels).tolist() == [10] * 10
    assert not np.array_equal(other.images, train.images)  # another seed, other samples


def write_pgm(path: Path, pixels: np.ndarray) -> None:
    h, w = pixels.shape
    path.write_bytes(
        f"P5\n# a comment\n{w} {h}\n255\n".encode() + pixels.astype(np.uint8).tobytes()
    )


def test_image_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for name in ("cat", "ant", "bee"):
        (tmp_path / name).mkdir()
        for i in range(4):
            write_pgm(tmp_path / name / f"{i}.pgm", rng.integers(0, 256, (6, 6)))
    (tmp_path / "ant" / "notes.txt").write_text("not an image")
    data = open_dataset(str(tmp_path), split="train", input_shape=(1, 6, 6))
    assert data.classes == ["ant", "bee", "cat"] and len(data) == 12
    raw = read_netpbm(tmp_path / "ant" / "0.pgm")
    np.testing.assert_array_equal(data[0][0][0].numpy(), raw[:, :, 0] * np.float32(0.00390625))
    train = open_dataset(str(tmp_path), split="train", input_shape=(1, 6, 6), labels_per_class=1)
    test = open_dataset(str(tmp_path), split="test", input_shape=(1, 6, 6), labels_per_class=1)
    assert len(train) == 3 and len(test) == 9
    with pytest.raises(NetcError, match="no test/ or val/ folder"):
        open_dataset(str(tmp_path), split="test", input_shape=(1, 6, 6))


def test_image_folder_with_splits_and_npy(tmp_path: Path) -> None:
    for split, count in (("train", 3), ("val", 2)):
        for name in ("a", "b"):
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                np.save(folder / f"{i}.npy", np.full((4, 4, 3), 0.5 + i, np.float32))
    train = open_dataset(str(tmp_path), split="train", input_shape=(3, 4, 4))
    test = open_dataset(str(tmp_path), split="test", input_shape=(3, 4, 4))
    assert len(train) == 6 and len(test) == 4
    assert float(test[1][0][0, 0, 0]) == 1.5  # floats kept as stored


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(NetcError, match="no such folder"):
        open_dataset(str(tmp_path / "missing"), input_shape=MNIST)
    with pytest.raises(NetcError, match="no class folders"):
        open_dataset(str(tmp_path), input_shape=MNIST)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"\x89PNG")  # a truncated PNG
    with pytest.raises(NetcError, match=r"x\.png: not a readable \.png image"):
        open_dataset(str(tmp_path), input_shape=MNIST)[0]
    with pytest.raises(NetcError, match="unknown split"):
        open_dataset("digits", split="dev", input_shape=MNIST)


def test_png_and_jpeg_folders(tmp_path: Path) -> None:
    """Pillow decodes PNG exactly and JPEG within its loss; both fit the input like NetPBM."""
    from PIL import Image

    rng = np.random.default_rng(0)
    pixels = {c: rng.integers(0, 256, (28, 28), dtype=np.uint8) for c in ("a", "b")}
    for name, grey in pixels.items():
        (tmp_path / name).mkdir()
        Image.fromarray(grey).save(tmp_path / name / "x.png")
        Image.fromarray(np.stack([grey] * 3, axis=-1)).save(tmp_path / name / "y.jpg", quality=95)
    data = open_dataset(str(tmp_path), input_shape=MNIST)
    assert data.classes == ["a", "b"] and len(data) == 4
    images = {(label, i % 2): image for i, (image, label) in enumerate(data[j] for j in range(4))}
    for label, name in enumerate(("a", "b")):
        exact = torch.from_numpy(pixels[name].astype(np.float32) / 256)
        torch.testing.assert_close(images[label, 0][0], exact, rtol=0, atol=0)  # PNG: lossless
        # JPEG, RGB → luma: within a few grey levels of the original
        assert (images[label, 1][0] - exact).abs().max() < 12 / 256


def test_netpbm_variants(tmp_path: Path) -> None:
    ascii_grey = tmp_path / "a.pgm"
    ascii_grey.write_text("P2\n# c\n3 2\n15\n0 5 10\n15 0 3\n")
    np.testing.assert_array_equal(read_netpbm(ascii_grey)[:, :, 0], [[0, 85, 170], [255, 0, 51]])
    rgb = tmp_path / "b.ppm"
    rgb.write_bytes(b"P6 1 2 255\n" + bytes([1, 2, 3, 4, 5, 6]))
    assert read_netpbm(rgb).tolist() == [[[1, 2, 3]], [[4, 5, 6]]]
    bits = tmp_path / "c.pbm"
    bits.write_bytes(b"P4\n3 1\n" + bytes([0b10100000]))
    assert read_netpbm(bits)[:, :, 0].tolist() == [[0, 255, 0]]  # 1 is black
    deep = tmp_path / "d.pgm"
    deep.write_bytes(b"P5 1 1 65535\n" + (65535).to_bytes(2, "big"))
    assert read_netpbm(deep).item() == 255
    bad = tmp_path / "e.pgm"
    bad.write_bytes(b"P5 2 2 255\n\x00")
    with pytest.raises(NetcError, match="1 samples, expected 4"):
        read_netpbm(bad)


def test_idx_reader(tmp_path: Path) -> None:
    path = tmp_path / "x-idx2-ubyte"
    path.write_bytes(bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]))
    assert read_idx(path).tolist() == [[1, 2, 3], [4, 5, 6]]
    path.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 9, 1]))
    with pytest.raises(NetcError, match="idx header says"):
        read_idx(path)


def test_fit_image_channels_and_size() -> None:
    rgb = np.stack([np.full((2, 2), v, np.float32) for v in (1.0, 0.5, 0.0)])
    grey = fit_image(rgb, (1, 2, 2))
    np.testing.assert_allclose(
        grey, np.full((1, 2, 2), 0.299 + 0.5 * 0.587), rtol=1e-6
    )  # ITU-R 601
    three = fit_image(np.ones((1, 2, 2), np.float32), (3, 2, 2))
    assert three.shape == (3, 2, 2) and three.min() == 1
    wide = fit_image(np.ones((1, 4, 8), np.float32), (1, 8, 8))  # 4×8 fits 8×8 as 4×8, padded
    assert wide[0, 2:6].min() == 1 and wide[0, :2].max() == 0 and wide[0, 6:].max() == 0
