"""Shared fixtures: the real MNIST files (from $MNIST_DIR, else ../shared/data/mnist)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import CHROMIUM, CHROMIUM_ARGS, in_ci, require_browser, serve_app

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
        if in_ci():
            pytest.fail("MNIST_DIR must point at the MNIST idx files in CI")
        pytest.skip("MNIST files not found: set MNIST_DIR")
    return path


@pytest.fixture(scope="session")
def mnist(mnist_path):
    from denoiser.data import load_idx_dir

    return load_idx_dir(mnist_path)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The page, served by `streamlit run` on a free port, with an empty runs folder."""
    require_browser()
    with serve_app(DENOISER_RUNS_DIR=str(tmp_path_factory.mktemp("runs"))) as url:
        yield url


@pytest.fixture(scope="module")
def chromium():
    """One chromium for a test module; each test opens its own page (and context) in it."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(server, chromium):
    """A page on the app as a first-time visitor finds it: the sample digit, live."""
    from helpers import browser_page

    with browser_page(server, chromium) as page:
        yield page
