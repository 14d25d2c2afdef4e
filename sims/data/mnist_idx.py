"""MNIST-format idx files (LeCun et al., http://yann.lecun.com/exdb/mnist/), parsed here.

An idx file is a 4-byte magic number `00 00 TT DD` (TT the element type,
DD the number of dimensions), DD big-endian uint32 sizes, then the elements,
big-endian, in row-major order. Files may be gzipped (recognised by their
content, not their name). Images are idx3 unsigned bytes, scaled to [0, 1]
and given one channel: (n, 1, rows, cols). Labels are idx1 integers.

Fashion-MNIST (Xiao et al. 2017) has the same format; Debian's
`dataset-fashion-mnist` package installs it in /usr/share/datasets/fashion-mnist.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from sims.data import LoadedData
from sims.errors import DataError
from topologies.specs.data import (
    FASHION_MNIST_APT_PACKAGE,
    FashionMnistDataSpec,
    MnistIdxDataSpec,
)

#: idx element type codes and their big-endian numpy dtypes.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_PIXEL = 255.0


def load_mnist_idx(spec: MnistIdxDataSpec | FashionMnistDataSpec) -> LoadedData:
    """Load the four idx files of an MNIST-like dataset.

    Raises:
        DataError: a file is missing, is not idx, is truncated, or images
            and labels disagree in number. For `fashion_mnist` the message
            says which apt package provides the files.
    """
    hint = ""
    if isinstance(spec, FashionMnistDataSpec):
        hint = (
            f"; install it with `apt-get install {FASHION_MNIST_APT_PACKAGE}` "
            "or set train_images, train_labels, test_images and test_labels in [data]"
        )
    train = _images_and_labels(spec.train_images, spec.train_labels, hint)
    test = _images_and_labels(spec.test_images, spec.test_labels, hint)
    return LoadedData.from_arrays(f"{spec.kind} {spec.train_images.parent}", train, test)


def read_idx(path: Path, ndim: int, missing_hint: str = "") -> np.ndarray:
    """Read one idx file, gzipped or not, that must have `ndim` dimensions.

    Raises:
        DataError: missing file, bad magic number, wrong number of
            dimensions, or a data size that does not match the header.
    """
    raw = _read_bytes(path, missing_hint)
    dtype = _parse_magic(path, raw, ndim)
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(str(path), f"header needs {header_size} bytes, file has {len(raw)}")
    dims = struct.unpack(f">{ndim}I", raw[4:header_size])
    expected = int(np.prod(dims)) * dtype.itemsize
    found = len(raw) - header_size
    if found != expected:
        raise DataError(
            str(path), f"dims {dims} need {expected} bytes of data, found {found} after the header"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(dims)


def _images_and_labels(images_path: Path, labels_path: Path, hint: str) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path, ndim=3, missing_hint=hint)
    labels = read_idx(labels_path, ndim=1, missing_hint=hint)
    if images.dtype != np.uint8:
        raise DataError(str(images_path), f"images must be unsigned bytes, found {images.dtype}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(str(labels_path), f"labels must be integers, found {labels.dtype}")
    if len(images) != len(labels):
        raise DataError(str(labels_path), f"{len(labels)} labels for {len(images)} images in {images_path}")
    pixels = (images / _MAX_PIXEL).astype(np.float32)[:, np.newaxis]
    return pixels, labels.astype(np.int64)


def _read_bytes(path: Path, missing_hint: str) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise DataError(str(path), f"no such file{missing_hint}") from exc
    except OSError as exc:
        raise DataError(str(path), f"cannot read ({exc.strerror})") from exc
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(str(path), f"corrupt gzip data ({exc})") from exc


def _parse_magic(path: Path, raw: bytes, ndim: int) -> np.dtype:
    if len(raw) < 4:
        raise DataError(str(path), f"{len(raw)} bytes is too short for an idx magic number")
    magic = int.from_bytes(raw[:4], "big")
    if raw[:2] != b"\0\0" or raw[2] not in IDX_DTYPES:
        raise DataError(
            str(path),
            f"bad magic number 0x{magic:08x}: not an idx file "
            f"(expected 0x0000TT{ndim:02x}, e.g. 0x0000080{ndim} for unsigned bytes)",
        )
    if raw[3] != ndim:
        raise DataError(
            str(path),
            f"bad magic number 0x{magic:08x}: {raw[3]} dimensions, expected {ndim} "
            "(images are idx3, labels idx1)",
        )
    return np.dtype(IDX_DTYPES[raw[2]])
