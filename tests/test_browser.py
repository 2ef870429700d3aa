"""The page in a real browser: draw with the mouse, move the slider, clear.

Starts `streamlit run app.py` on a free port and drives Debian's chromium through Playwright.
The canvas (a components-v2 element in a shadow root, which Playwright's locators pierce) is
the one thing AppTest cannot render, so this is where drawing is tested. Skipped where
/usr/bin/chromium is missing, except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.browser import CHROMIUM, CHROMIUM_ARGS, start_streamlit

ROOT = Path(__file__).resolve().parents[1]
PANELS = "[data-testid='stImage'] img"
SCREENSHOT = ROOT / "docs" / "screenshot.png"


def require_browser() -> None:
    """Skip without chromium or Playwright, unless this is CI."""
    missing = None if CHROMIUM.exists() else f"{CHROMIUM} is missing"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = missing or "playwright is not installed"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests must run in CI: {missing}")
        pytest.skip(missing)


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


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The page, served by `streamlit run` on a free port."""
    require_browser()
    with serve_app(DENOISER_RUNS_DIR=str(tmp_path_factory.mktemp("runs"))) as url:
        yield url


@contextlib.contextmanager
def open_page(url: str):
    """Chromium with one page on `url`, tall enough for the panels; closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 1250})
        page.goto(url)
        try:
            yield page
        finally:
            browser.close()


@pytest.fixture(scope="module")
def page(server):
    """One browser page on the app, loaded and settled."""
    with open_page(server) as page:
        page.locator("canvas.upper-canvas").wait_for(timeout=90_000)
        settle(page)
        yield page


def settle(page, timeout: float = 60_000) -> None:
    """Wait until the script has finished running and stays finished (reruns can queue up)."""
    for _ in range(2):
        page.wait_for_function(
            "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout, polling=50
        )
        page.wait_for_timeout(300)


def panel_sources(page) -> list[str]:
    return page.eval_on_selector_all(PANELS, "images => images.map(image => image.src)")


def panel_pixels(page, src: str) -> np.ndarray:
    """The pixels of a panel image, fetched from the server as the browser would."""
    body = page.request.get(src).body()
    return np.asarray(Image.open(io.BytesIO(body)).convert("L"))


def draw_seven(page) -> None:
    """One mouse stroke shaped like a 7, across most of the canvas."""
    box = page.locator("canvas.upper-canvas").bounding_box()
    points = [(0.25, 0.2), (0.75, 0.2), (0.6, 0.5), (0.45, 0.85)]
    x, y = box["x"] + points[0][0] * box["width"], box["y"] + points[0][1] * box["height"]
    page.mouse.move(x, y)
    page.mouse.down()
    for fx, fy in points[1:]:
        page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"], steps=12)
    page.mouse.up()


def test_a_drawn_digit_shows_three_panels_with_the_drawing_as_original(page):
    assert page.get_by_text("Draw a digit").is_visible()
    draw_seven(page)
    page.wait_for_function(f'() => document.querySelectorAll("{PANELS}").length === 3', timeout=30_000)
    settle(page)
    noisy, denoised, original = panel_sources(page)
    pixels = panel_pixels(page, original)
    assert pixels.shape[0] >= 196
    assert pixels.max() == 255 and 0.05 < (pixels > 128).mean() < 0.5  # a white stroke on black
    assert page.get_by_text(r"Original · PSNR ∞ dB").is_visible()
    assert page.get_by_text("Denoised (").first.is_visible()
    page.mouse.move(1150, 1200)  # off the canvas (its toolbar shows on hover) and off the sidebar
    page.wait_for_timeout(400)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_moving_the_slider_changes_the_noisy_panel(page):
    before = panel_sources(page)
    assert len(before) == 3, "runs after the drawing test"
    noisy_before = panel_pixels(page, before[0])  # fetched now: Streamlit drops replaced media
    slider = page.locator("[data-testid='stMain'] [data-testid='stSlider'] input[type='range']")
    slider.focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => document.querySelector(\"[data-testid='stMain'] [data-testid='stSlider'] input\").value === '0.6'"
    )
    page.wait_for_function(
        f'(old) => {{ const s = document.querySelectorAll("{PANELS}"); return s.length === 3 && s[0].src !== old; }}',
        arg=before[0],
        timeout=30_000,
    )
    settle(page)
    after = panel_sources(page)
    assert after[0] != before[0] and after[2] == before[2]
    assert slider.input_value() == "0.6"
    noisy_after = panel_pixels(page, after[0])
    assert noisy_after.shape == noisy_before.shape and not np.array_equal(noisy_after, noisy_before)


def test_clear_empties_the_canvas_and_asks_for_a_drawing(page):
    page.get_by_role("button", name="Clear").click()
    page.get_by_text("Draw a digit").wait_for(timeout=30_000)
    settle(page)
    assert panel_sources(page) == []
    pixels = np.asarray(Image.open(io.BytesIO(page.locator("canvas.upper-canvas").screenshot())).convert("L"))
    assert pixels[40:-40, 40:-40].max() < 60  # where the 7 was, the new canvas is black
