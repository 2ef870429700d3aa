"""Whether a training could start at all: MNIST readable offline, the runs folder writable.

Cheap checks (a few `stat` calls) the page asks on every run to grey out the Start button;
`supervisor.TrainingJobs.start` asks again, and writes a probe file, before any work.
"""

from __future__ import annotations

import os
from pathlib import Path

from denoiser import data as data_module


def data_problem(mnist_dir: str | os.PathLike | None = None) -> str | None:
    """None if training can read MNIST without downloading, else what is missing.

    The wording is `denoiser.data`'s, so the page says what `load_mnist` would have said.
    """
    mnist_dir = mnist_dir or os.environ.get("MNIST_DIR") or None
    if mnist_dir:
        missing = [
            name for name in data_module.MNIST_FILES.values() if not (Path(mnist_dir) / name).is_file()
        ]
        if missing:
            return f"the MNIST folder (MNIST_DIR) lacks {', '.join(missing)}. {data_module.HOW_TO_POINT}"
        return None
    cached = keras_mnist_cache()
    if any(path.is_file() for path in cached):
        return None
    return (
        "MNIST is not available offline: MNIST_DIR is not set and Keras has no cached copy "
        f"(~/.keras/datasets/mnist.npz). {data_module.HOW_TO_POINT}"
    )


def keras_mnist_cache() -> list[Path]:
    """Where `keras.datasets.mnist.load_data()` looks for mnist.npz before downloading it."""
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()
    return [home / "datasets" / "mnist.npz", Path("/tmp/.keras/datasets/mnist.npz")]


def runs_writable(runs_dir: Path) -> str | None:
    """None if models can be saved in `runs_dir`, else the reason they cannot (no path: it is shown
    on the page). Start checks again by writing there; this is for greying out the button.

    Creates nothing (the page asks on every run): a missing folder is fine when the nearest
    folder above it that exists is writable, since the save creates it.
    """
    runs_dir = Path(runs_dir)
    existing = runs_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return "the runs folder cannot be created (a file is in its way)"
    if not os.access(existing, os.W_OK | os.X_OK):
        return (
            "the runs folder is not writable" if existing == runs_dir else "the runs folder cannot be created"
        )
    return None


def unusable(error: OSError) -> str:
    """Why a runs folder cannot be used, without the server's path or an errno."""
    if isinstance(error, NotADirectoryError | FileExistsError):
        return "cannot be created (a file is in its way)"
    if isinstance(error, PermissionError) or error.errno == 30:  # EROFS: a read-only file system
        return "is not writable"
    return f"cannot be used ({(error.strerror or 'unknown error').lower()})"
