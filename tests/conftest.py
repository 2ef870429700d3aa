"""Shared fixtures: the real MNIST files (from $MNIST_DIR, else ../shared/data/mnist)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MNIST = ROOT.parent / "shared" / "data" / "mnist"


def mnist_dir() -> Path | None:
    """Where the real idx files are, or None on a machine without them."""
    candidate = Path(os.environ.get("MNIST_DIR") or DEFAULT_MNIST)
    return candidate if (candidate / "t10k-images-idx3-ubyte.gz").is_file() else None


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    path = mnist_dir()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("MNIST_DIR must point at the MNIST idx files in CI")
        pytest.skip("MNIST files not found: set MNIST_DIR")
    return path


@pytest.fixture(scope="session")
def mnist(mnist_path):
    from denoiser.data import load_idx_dir

    return load_idx_dir(mnist_path)
