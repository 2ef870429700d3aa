"""MNIST loading: the four canonical idx `.gz` files, Keras's cached copy, or the bundled sample.

Everything returned is float32 in [0, 1] with shape (N, 28, 28) for images and uint8 labels,
because every other module (noise, models, metrics) works in that range.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
SAMPLE_PATH = Path(__file__).with_name("assets") / "mnist_sample.npz"
HOW_TO_POINT = (
    "Download the four MNIST idx .gz files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) into a folder and set MNIST_DIR=/that/folder "
    "(or pass --data-dir), or run once with network access so Keras caches ~/.keras/datasets/mnist.npz."
)


class DataUnavailable(RuntimeError):
    """MNIST could be found neither in a local directory nor through Keras's download."""


@dataclass(frozen=True)
class Mnist:
    """The full dataset as arrays; images float32 in [0, 1], labels uint8."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    @property
    def checksum(self) -> str:
        """Identifies the training data a model saw, for its sidecar."""
        return checksum(self.x_train, self.y_train)


def checksum(*arrays: np.ndarray) -> str:
    """A short sha256 over the arrays' bytes, so two sidecars can say they used the same data."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return "sha256:" + digest.hexdigest()[:16]


def read_idx(path: str | os.PathLike, expected_magic: int) -> np.ndarray:
    """Read one idx `.gz` file, refusing anything whose header and size do not agree."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise
    except (OSError, EOFError) as error:
        raise ValueError(f"{path}: not a readable gzip file ({error})") from error
    if len(raw) < 8:
        raise ValueError(f"{path}: too short to hold an idx header ({len(raw)} bytes)")
    magic, count = struct.unpack(">II", raw[:8])
    if magic != expected_magic:
        raise ValueError(f"{path}: wrong magic number {magic}, expected {expected_magic}")
    if magic == IMAGE_MAGIC:
        if len(raw) < 16:
            raise ValueError(f"{path}: too short to hold an image header")
        rows, cols = struct.unpack(">II", raw[8:16])
        shape, offset = (count, rows, cols), 16
    else:
        shape, offset = (count,), 8
    expected = int(np.prod(shape))
    if len(raw) - offset != expected:
        raise ValueError(f"{path}: header says {expected} bytes of data, file holds {len(raw) - offset}")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape)


def load_idx_dir(data_dir: str | os.PathLike) -> Mnist:
    """Load the four canonical files from one directory."""
    data_dir = Path(data_dir)
    missing = [name for name in MNIST_FILES.values() if not (data_dir / name).is_file()]
    if missing:
        raise DataUnavailable(f"{data_dir} lacks {', '.join(missing)}. {HOW_TO_POINT}")
    arrays = {
        key: read_idx(data_dir / name, IMAGE_MAGIC if key.endswith("images") else LABEL_MAGIC)
        for key, name in MNIST_FILES.items()
    }
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if len(images) != len(labels):
            raise ValueError(f"{data_dir}: {split} has {len(images)} images but {len(labels)} labels")
    return Mnist(
        x_train=to_unit(arrays["train_images"]),
        y_train=arrays["train_labels"],
        x_test=to_unit(arrays["test_images"]),
        y_test=arrays["test_labels"],
        source=str(data_dir),
    )


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """One idx `.gz` file of uint8 images (N, rows, cols) or labels (N,), written to a temporary
    name and renamed, so a reader never sees half a file."""
    path = Path(path)
    magic = IMAGE_MAGIC if array.ndim == 3 else LABEL_MAGIC
    header = struct.pack(f">{1 + array.ndim}I", magic, *array.shape)
    partial = path.with_name(f".{path.name}.tmp")
    with gzip.open(partial, "wb") as handle:
        handle.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())
    os.replace(partial, path)


def ensure_idx_dir(data_dir: str | os.PathLike) -> str:
    """Make `data_dir` hold the four idx files: kept when they are there and load, else
    written from Keras's download. What it did, in words (the image's build step prints it)."""
    data_dir = Path(data_dir)
    if all((data_dir / name).is_file() for name in MNIST_FILES.values()):
        loaded = load_idx_dir(data_dir)
        return f"MNIST in {data_dir}: the given idx files ({len(loaded.x_train)} training digits)"
    import keras

    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    data_dir.mkdir(parents=True, exist_ok=True)
    arrays = {"train_images": x_train, "train_labels": y_train, "test_images": x_test, "test_labels": y_test}
    for key, name in MNIST_FILES.items():
        write_idx(data_dir / name, arrays[key])
    return f"MNIST in {data_dir}: downloaded through Keras ({len(x_train)} training digits)"


def load_keras() -> Mnist:
    """Keras's cached (or freshly downloaded) mnist.npz, for users without a local copy."""
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as error:  # noqa: BLE001 - any download failure means the same to the user
        raise DataUnavailable(
            f"MNIST is not available offline and could not be downloaded ({error}). {HOW_TO_POINT}"
        ) from error
    return Mnist(to_unit(x_train), y_train, to_unit(x_test), y_test, source="keras mnist.npz")


def load_mnist(data_dir: str | os.PathLike | None = None) -> Mnist:
    """Load MNIST from `data_dir`, else `$MNIST_DIR`, else Keras's cache or download."""
    data_dir = data_dir or os.environ.get("MNIST_DIR") or None
    if data_dir:
        return load_idx_dir(data_dir)
    return load_keras()


def to_unit(images: np.ndarray) -> np.ndarray:
    """uint8 0..255 to float32 0..1, the scale every model here expects."""
    return (images.astype(np.float32) / 255.0).astype(np.float32)


def load_sample() -> tuple[np.ndarray, np.ndarray]:
    """The bundled test digits (float32 images, uint8 labels) so the page works with no dataset."""
    with np.load(SAMPLE_PATH) as sample:
        return to_unit(sample["images"]), sample["labels"]


def make_sample(mnist: Mnist, per_class: int = 50) -> dict[str, np.ndarray]:
    """The first `per_class` test digits of each class, in test-set order, as uint8."""
    indices = np.concatenate([np.flatnonzero(mnist.y_test == d)[:per_class] for d in range(10)])
    indices.sort()
    images = np.round(mnist.x_test[indices] * 255).astype(np.uint8)
    return {"images": images, "labels": mnist.y_test[indices], "test_indices": indices}
