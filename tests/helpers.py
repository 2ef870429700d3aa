"""Helpers the page and training tests share: a visitor's AppTest session, the page pointed at
temporary folders, and polling a background job."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights"
SAMPLE = "MNIST sample"  # the input tab whose digit needs no drawing


def open_page(source: str | None = None, **state) -> AppTest:
    """Run the page once, on the given input tab and with session state preset."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if source:
        at.session_state["source"] = source
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def captions(at: AppTest) -> list[str]:
    """The panels' captions, in page order."""
    return [caption for image in at.image for caption in image.captions]


def sidebar_text(at: AppTest) -> str:
    """Everything the sidebar says, progress bars included, as one string."""
    parts = [
        e.value
        for kind in ("info", "warning", "error", "success", "markdown", "caption")
        for e in at.sidebar.get(kind)
    ]
    parts += [p.proto.text for p in at.sidebar.get("progress")]
    return "\n".join(str(part) for part in parts)


def button_keys(at: AppTest) -> set[str]:
    """The keys of the sidebar's buttons."""
    return {button.key for button in at.sidebar.button}


def point_page_at(
    monkeypatch: pytest.MonkeyPatch, weights: Path, runs: Path, mnist: Path, train_size: int
) -> None:
    """Copy the shipped classic model and classifier into `weights`; point the page at it, at `runs`
    and at `mnist`, with `train_size` training digits and the other training limits at their defaults."""
    for name in ("classic", "classifier"):
        shutil.copy(WEIGHTS / f"{name}.keras", weights)
        shutil.copy(WEIGHTS / f"{name}.json", weights)
    monkeypatch.setenv("DENOISER_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("DENOISER_RUNS_DIR", str(runs))
    monkeypatch.setenv("MNIST_DIR", str(mnist))
    monkeypatch.setenv("DENOISER_TRAIN_SIZES", str(train_size))
    for name in ("DENOISER_ALLOW_TRAINING", "DENOISER_MAX_EPOCHS", "DENOISER_KEEP_RUNS"):
        monkeypatch.delenv(name, raising=False)


def wait_for(predicate: Callable[[], object], timeout: float = 120.0) -> bool:
    """Poll `predicate` until it is true (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
