"""Helpers the page and training tests share: a visitor's AppTest session, the page pointed at
temporary folders, and polling a background job."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bench.browser import CHROMIUM, CHROMIUM_ARGS, IDLE, start_streamlit, wait_live

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights"
SAMPLE = "MNIST sample"  # the input tab whose digit needs no drawing


def in_ci() -> bool:
    """The one rule for "this is CI" in every test file: `CI` set to anything but empty, 0 or false."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


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


def networks(options: list[str]) -> list[str]:
    """The model picker's options without the classical filters (always listed after the networks)."""
    return [option for option in options if "(filter)" not in option]


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
    for name in (
        "DENOISER_TRAINING",
        "DENOISER_MAX_EPOCHS",
        "DENOISER_KEEP_RUNS",
        "DENOISER_MAX_IMAGES",
        "DENOISER_COOLDOWN_S",
    ):
        monkeypatch.delenv(name, raising=False)


def wait_for(predicate: Callable[[], object], timeout: float = 120.0) -> bool:
    """Poll `predicate` until it is true (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# The page in a real browser (tests/test_browser.py, test_live_panels.py, test_bad_input.py).


def require_browser() -> None:
    """Skip without chromium or Playwright, unless this is CI."""
    missing = None if CHROMIUM.exists() else f"{CHROMIUM} is missing"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = missing or "playwright is not installed"
    if missing:
        if in_ci():
            pytest.fail(f"browser tests must run in CI: {missing}")
        pytest.skip(missing)


def screenshots_wanted() -> bool:
    """Tracked screenshots in docs/ are rewritten only when asked (DENOISER_SCREENSHOTS=1)."""
    return os.environ.get("DENOISER_SCREENSHOTS") == "1"


@contextlib.contextmanager
def serve_app(script: str = "app.py", **env_overrides: str):
    """`streamlit run` of `script` (relative to the project root) on a free port with these
    environment variables; yields its URL."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **env_overrides)
    process, url = start_streamlit(script, ROOT, env, timeout=90)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def settle(page, timeout: float = 60_000) -> None:
    """Wait until the script has finished running and stays finished (reruns can queue up)."""
    for _ in range(2):
        page.wait_for_function(IDLE, timeout=timeout, polling=50)
        page.wait_for_timeout(300)


ANSWERED = f"""() => ({IDLE})() &&
    Array.from(document.querySelectorAll('.dn-live')).every(
        (live) => (live.dataset.asked || '0') === (live.dataset.acknowledged || '0'))"""


def answered(page, timeout: float = 60_000) -> None:
    """Until the server has answered every σ the live panels sent (its receipt for the last one
    arrived: they send nothing more) and no script runs: an event, not a pause, so what a test
    checks next is what the page ended with."""
    page.wait_for_function(ANSWERED, timeout=timeout, polling=50)


@contextlib.contextmanager
def browser_page(url: str, browser=None, before_load=None, live: bool = True, **context_options):
    """A fresh page on `url` (its own context: no state shared with other tests), with the live
    panels drawn (unless `live` is False); closed afterwards. Without `browser`, a chromium of
    its own; `before_load(page)` runs before the page is loaded (to listen to its traffic).
    The page collects the browser's console errors in `page.console_errors`."""
    options = {"viewport": {"width": 1200, "height": 1250}} | context_options
    with contextlib.ExitStack() as stack:
        if browser is None:
            from playwright.sync_api import sync_playwright

            playwright = stack.enter_context(sync_playwright())
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            stack.callback(browser.close)
        context = browser.new_context(**options)
        stack.callback(context.close)
        page = context.new_page()
        page.console_errors = []
        page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
        page.on("pageerror", lambda error: page.console_errors.append(str(error)))
        if before_load:
            before_load(page)
        page.goto(url)
        if live:
            wait_live(page)
        settle(page)
        yield page
