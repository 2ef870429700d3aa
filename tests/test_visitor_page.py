"""The page as a visitor expects it, in a real browser: the drawing kept across tabs, non-digits
called out, the Original named for what it is beside the raw drawing, a first load without a
flash of another page, and panels that use a wide screen (the phone's one-screen layout is
checked in tests/test_browser.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from helpers import browser_page, require_browser, serve_app, settle
from test_browser import PANELS, draw_seven, open_draw_tab, pixels, wait_for_drawing

from denoiser.page import panels

NOTICE = ".dn-live .dn-notice"
READINGS = ".dn-live .dn-panels .dn-reading"
CANVAS = "canvas.upper-canvas"


def stroke(page, points: list[tuple[float, float]], steps: int = 8) -> None:
    """One mouse stroke through `points`, given as fractions of the canvas."""
    box = page.locator(CANVAS).bounding_box()
    at = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y, steps=steps)
    page.mouse.up()


def drawn_ink(page) -> int:
    """How many of the canvas's pixels hold ink (its strokes are drawn on the lower canvas, on black)."""
    return page.locator("canvas.dc-canvas.lower-canvas").evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 0; i < d.length; i += 4) n += d[i] > 128; return n; }"
    )


def readings(page) -> list[str]:
    """The classifier's line under each of the three panels."""
    return page.locator(READINGS).all_inner_texts()


def notice_shown(page) -> bool:
    """Whether the line under the panels says the input is unlike MNIST's digits."""
    notice = page.locator(NOTICE)
    return notice.is_visible() and "does not look like an MNIST digit" in notice.inner_text()


def test_a_drawing_survives_switching_tabs_and_the_panels_show_it_again(page):
    open_draw_tab(page)
    draw_seven(page)
    drawn = wait_for_drawing(page, np.zeros((28, 28), np.uint8))
    ink = drawn_ink(page)
    raw = page.locator(".dn-live .dn-raw")
    assert raw.is_visible() and "What you drew" in raw.inner_text()  # the drawing as given, beside
    assert ink > 1000
    page.get_by_role("tab", name="Upload").click()
    page.get_by_text("Upload a picture of a single digit").wait_for(timeout=30_000)
    page.get_by_role("tab", name="MNIST sample").click()
    sample = wait_for_drawing(page, drawn)  # the sample's digit now, and no raw view for it
    assert not raw.is_visible()
    page.get_by_role("tab", name="Draw").click()
    page.locator(CANVAS).wait_for(timeout=60_000)
    again = wait_for_drawing(page, sample)
    np.testing.assert_array_equal(again, drawn)  # the same digit on the panels
    assert drawn_ink(page) == ink  # and the same strokes on the canvas
    assert page.get_by_text("Draw a digit on the black square").count() == 0
    stroke(page, [(0.1, 0.9), (0.2, 0.95)])  # it can still be drawn on: one more stroke changes the digit
    wait_for_drawing(page, drawn)
    page.get_by_role("button", name="Clear").click()  # and Clear still empties it
    page.get_by_text("Draw a digit on the black square").wait_for(timeout=30_000)
    settle(page)
    assert drawn_ink(page) == 0 and page.locator(PANELS).count() == 0


def test_a_sample_choice_survives_switching_tabs(page):
    """Streamlit drops the state of widgets a run does not draw (the Draw tab's runs; during a
    training a `run_every` fragment's rerun can too, streamlit#10805): the Digit and Example come
    back as the visitor left them, not as the first digit."""
    first = pixels(page, "original")
    page.locator(".st-key-sample_row [data-testid='stNumberInputStepUp']").click()  # example 0 → 1
    chosen = wait_for_drawing(page, first)
    open_draw_tab(page)
    page.get_by_role("tab", name="MNIST sample").click()
    page.locator(".st-key-sample_row").wait_for(timeout=30_000)
    settle(page)
    np.testing.assert_array_equal(pixels(page, "original"), chosen)


NON_DIGITS = {
    "a dot": [[(0.5, 0.5), (0.505, 0.5)]],
    "a scribble": [
        [(0.1, 0.1), (0.9, 0.3), (0.2, 0.5), (0.85, 0.9), (0.15, 0.8), (0.6, 0.1), (0.4, 0.95), (0.9, 0.6)]
    ],
    "two digits side by side": [
        [(0.2, 0.25), (0.2, 0.75)],  # a 1
        [(0.7, 0.25), (0.55, 0.5), (0.7, 0.75), (0.85, 0.5), (0.7, 0.25)],  # and a 0
    ],
}


@pytest.mark.parametrize("name", list(NON_DIGITS))
def test_a_non_digit_gets_the_line_under_the_panels_and_unsure_readings(page, name):
    open_draw_tab(page)
    shown = np.zeros((28, 28), np.uint8)
    for points in NON_DIGITS[name]:  # each stroke's panels before the next stroke: the 1 alone is a digit
        stroke(page, points)
        shown = wait_for_drawing(page, shown)
    assert notice_shown(page), name
    assert all("unsure" in text for text in readings(page)), readings(page)


def test_ten_mnist_samples_get_neither_the_line_nor_an_unsure_original(page):
    step_up = page.locator(".st-key-sample_row [data-testid='stNumberInputStepUp']")
    for example in range(10):
        if example:
            before = pixels(page, "original")
            step_up.click()
            wait_for_drawing(page, before)
        assert not notice_shown(page), example
        denoised, original = readings(page)[1:]
        assert "unsure" not in original and "unsure" not in denoised, (example, original)


WATCH_FIRST_LOAD = """() => {
  window.__seen = {slider: false, images: false, placeholder: null, live: null};
  const main = () => document.querySelector("[data-testid='stMain']");
  const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
  const rect = (e) => { const r = e.getBoundingClientRect(); return [r.top, r.height, r.width]; };
  new MutationObserver(() => {
    const area = main();
    if (!area) return;
    const ready = area.querySelector(".dn-live[data-ready='true']");
    const placeholder = area.querySelector(".dn-placeholder .dn-panels");
    if (placeholder && shown(placeholder)) window.__seen.placeholder = rect(placeholder);
    if (ready) { window.__seen.live = window.__seen.live || rect(ready.querySelector(".dn-panels")); return; }
    if ([...area.querySelectorAll("[data-testid='stSlider']")].some(shown)) window.__seen.slider = true;
    if ([...area.querySelectorAll("[data-testid='stImage']")].some(shown)) window.__seen.images = true;
  }).observe(document, {subtree: true, childList: true, attributes: true});
}"""


def test_a_fresh_servers_first_load_shows_a_placeholder_then_the_panels_in_its_place(tmp_path, chromium):
    with serve_app(DENOISER_RUNS_DIR=str(tmp_path / "runs")) as url:  # fresh: its first load is the slow one
        watch = f"({WATCH_FIRST_LOAD})()"
        with browser_page(url, chromium, before_load=lambda page: page.add_init_script(watch)) as page:
            seen = page.evaluate("() => window.__seen")
            assert (seen["slider"], seen["images"]) == (False, False), (
                seen
            )  # no server-drawn slider or panels
            assert seen["placeholder"] is not None and seen["live"] is not None
            top, height, width = seen["placeholder"]
            assert seen["live"] == pytest.approx([top, height, width], abs=1)  # the same place and size
            assert page.locator(".dn-placeholder").count() == 0 and page.locator(".dn-live").count() == 1


def test_on_a_wide_screen_the_panels_and_chart_use_the_width_beside_the_sidebar_crisply(server, chromium):
    with browser_page(server, chromium, viewport={"width": 1400, "height": 1000}) as page:
        main = page.locator("[data-testid='stMain']").bounding_box()
        boxes = [page.locator(PANELS).nth(i).bounding_box() for i in range(3)]
        span = boxes[2]["x"] + boxes[2]["width"] - boxes[0]["x"]
        assert span >= 0.7 * main["width"], (span, main["width"])
        assert all(box["width"] % 28 == 0 and box["width"] >= 8 * 28 for box in boxes)  # whole-pixel scale
        assert boxes[0]["y"] + boxes[0]["height"] <= 1000  # still on the first screen
        chart = page.locator(".dn-live .dn-chart").bounding_box()
        assert chart["width"] >= 0.7 * main["width"] and chart["height"] <= 171
        png = page.locator(".dn-live .dn-noisy").screenshot()
        from io import BytesIO

        from PIL import Image

        image = np.asarray(Image.open(BytesIO(png)).convert("L"))
        side = image.shape[0] // 28
        cells = image[: 28 * side, : 28 * side].reshape(28, side, 28, side)
        assert (cells.max(axis=(1, 3)) - cells.min(axis=(1, 3))).max() <= 1  # nearest neighbour: flat cells


def test_the_original_says_it_is_the_models_input(page):
    caption = page.locator(".dn-live .dn-original").get_attribute("aria-label")
    assert caption == panels.original_caption() and re.search("as the model sees it: 28 × 28", caption)


@pytest.fixture(scope="module", autouse=True)
def _browser_required():
    require_browser()
