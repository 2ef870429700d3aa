"""The page in a real browser: the first load, drawing with the mouse and with a finger, clearing.

Starts `streamlit run app.py` on a free port and drives Debian's chromium through Playwright.
The canvas (a components-v2 element in a shadow root, which Playwright's locators pierce) and
the live panels are what AppTest cannot render, so this is where they are tested; the live
slider itself has tests/test_live_panels.py. Each test opens its own page, so they can run in
any order. Skipped where /usr/bin/chromium is missing, except in CI (CI=true), where that is a
failure. `DENOISER_SCREENSHOTS=1` also rewrites docs/screenshot.png (never by default).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from helpers import browser_page, screenshots_wanted, settle

from bench.browser import LIVE_SLIDER, live_labels, live_pixels, live_sigma, wait_live

ROOT = Path(__file__).resolve().parents[1]
PANELS = ".dn-live .dn-panels canvas"  # the live Noisy | Denoised | Original
SCREENSHOT = ROOT / "docs" / "screenshot.png"
TOOLBAR = ".dc-toolbar"  # the drawing canvas's floating toolbar (in its shadow root; locators pierce it)


def pixels(page, kind: str) -> np.ndarray:
    """A live panel's 28×28 pixels."""
    return np.asarray(live_pixels(page, kind), np.uint8)


def open_draw_tab(page) -> None:
    """Switch to the Draw tab and wait for its empty canvas."""
    page.get_by_role("tab", name="Draw").click()
    page.locator("canvas.upper-canvas").wait_for(timeout=60_000)
    page.get_by_text("Draw a digit").wait_for(timeout=60_000)
    settle(page)


def draw_seven(page) -> None:
    """One mouse stroke shaped like a 7, across most of the canvas."""
    box = page.locator("canvas.upper-canvas").bounding_box()
    points = [(0.25, 0.2), (0.75, 0.2), (0.6, 0.5), (0.45, 0.85)]
    page.mouse.move(box["x"] + points[0][0] * box["width"], box["y"] + points[0][1] * box["height"])
    page.mouse.down()
    for fx, fy in points[1:]:
        page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"], steps=12)
    page.mouse.up()


def wait_for_drawing(page, before: np.ndarray) -> np.ndarray:
    """Until the Original panel shows something other than `before`; returns its pixels."""
    page.wait_for_function(
        """(before) => { const c = document.querySelector(".dn-live .dn-original");
            if (!c) return false;
            const d = c.getContext("2d").getImageData(0, 0, 28, 28).data;
            for (let i = 0; i < 784; i++) if (d[4 * i] !== before[i]) return true;
            return false; }""",
        arg=before.ravel().tolist(),
        timeout=60_000,
    )
    wait_live(page)  # the whole sweep has followed the first answer
    settle(page)
    return pixels(page, "original")


def test_the_first_load_shows_a_sample_digit_in_three_panels_without_a_click(page):
    from denoiser import data

    labels = live_labels(page)
    assert [label.split(" ")[0] for label in labels] == ["Noisy", "Denoised", "Original"]
    assert labels[2].startswith("Original · PSNR ∞ dB")
    assert live_sigma(page) == "0.50"
    images, digits = data.load_sample()
    first = images[np.flatnonzero(digits == digits[0])[0]]  # the sample tab opens on this digit
    np.testing.assert_array_equal(pixels(page, "original"), np.round(first * 255).astype(np.uint8))
    assert (
        page.get_by_role("tab", name="Draw").is_visible()
        and page.get_by_role("tab", name="Upload").is_visible()
    )
    assert page.locator("[data-testid='stException']").count() == 0 and page.console_errors == []


def test_a_drawn_digit_shows_three_panels_with_the_drawing_as_original(page):
    open_draw_tab(page)
    before = pixels(page, "original") if page.locator(PANELS).count() else np.zeros((28, 28), np.uint8)
    draw_seven(page)
    original = wait_for_drawing(page, before)
    assert original.max() == 255 and 0.05 < (original > 128).mean() < 0.5  # a white stroke on black
    labels = live_labels(page)
    assert labels[1].startswith("Denoised (") and labels[2].startswith("Original · PSNR ∞ dB")
    if screenshots_wanted():
        page.mouse.move(1150, 1200)  # off the canvas (its toolbar shows on hover) and off the sidebar
        from playwright.sync_api import expect

        expect(page.locator(TOOLBAR)).to_have_css("opacity", "0")  # hidden again
        page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_moving_the_slider_over_a_drawing_changes_only_the_noisy_and_denoised_panels(page):
    open_draw_tab(page)
    draw_seven(page)
    wait_for_drawing(page, np.zeros((28, 28), np.uint8))
    before = {kind: pixels(page, kind) for kind in ("noisy", "denoised", "original")}
    for _ in range(10):
        page.locator(LIVE_SLIDER).press("ArrowRight")
    assert live_sigma(page) == "0.60"
    assert not np.array_equal(pixels(page, "noisy"), before["noisy"])
    assert not np.array_equal(pixels(page, "denoised"), before["denoised"])
    np.testing.assert_array_equal(pixels(page, "original"), before["original"])


def test_clear_empties_the_canvas_and_asks_for_a_drawing(page):
    open_draw_tab(page)
    draw_seven(page)
    wait_for_drawing(page, np.zeros((28, 28), np.uint8))
    page.get_by_role("button", name="Clear").click()
    page.get_by_text("Draw a digit").wait_for(timeout=30_000)
    settle(page)
    assert page.locator(PANELS).count() == 0
    canvas = page.locator("canvas.upper-canvas")
    blank = canvas.evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let m = 0; for (let i = 3; i < d.length; i += 4) m = Math.max(m, d[i]); return m; }"
    )
    assert blank == 0  # the new canvas holds no stroke


def test_the_canvas_toolbar_never_covers_the_tabs(page):
    from playwright.sync_api import expect

    open_draw_tab(page)
    canvas = page.locator("canvas.upper-canvas").bounding_box()
    tab = page.get_by_role("tab", name="Upload").bounding_box()
    centre = (tab["x"] + tab["width"] / 2, tab["y"] + tab["height"] / 2)
    # A pointer moving up from the canvas to the tab, as a visitor's would: the toolbar opens on hover.
    page.mouse.move(canvas["x"] + canvas["width"] - 20, canvas["y"] + 20)
    expect(page.locator(TOOLBAR)).to_have_css("opacity", "1")  # open, its transition over
    page.mouse.move(*centre, steps=10)
    on_top = page.evaluate(
        "([x, y]) => { const e = document.elementFromPoint(x, y); return e && e.closest('[role=tab]') ?"
        " e.closest('[role=tab]').textContent : (e ? e.tagName + '.' + e.className : null); }",
        list(centre),
    )
    assert on_top == "Upload"
    page.mouse.click(*centre)
    page.get_by_text("Upload a picture of a single digit").wait_for(timeout=30_000)


def touch_stroke(page, points: list[tuple[float, float]]) -> None:
    """A finger's stroke through `points` (page coordinates), through the DevTools protocol."""
    client = page.context.new_cdp_session(page)
    x, y = points[0]
    client.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for x, y in points[1:]:
        client.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        page.wait_for_timeout(16)
    client.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    client.detach()


def test_a_phone_can_draw_and_scrub_with_a_finger_and_sees_slider_and_panels_on_one_screen(server, chromium):
    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    with browser_page(server, chromium, **phone) as page:
        slider = page.locator(LIVE_SLIDER).bounding_box()
        panels = page.locator(PANELS)
        boxes = [panels.nth(i).bounding_box() for i in range(3)]
        assert slider["y"] >= 0 and all(box["y"] + box["height"] <= 844 for box in boxes)  # one screen
        assert (
            boxes[0]["y"] == boxes[2]["y"] and boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]
        )  # side by side
        if screenshots_wanted():
            page.screenshot(path=str(ROOT / "docs" / "phone.png"))
        y = slider["y"] + slider["height"] / 2
        left, width = slider["x"], slider["width"]
        shown = []
        page.evaluate(
            "() => { window.__shown = []; new MutationObserver(() => window.__shown.push("
            "document.querySelector('.dn-live').dataset.sigma)).observe(document.querySelector('.dn-live'),"
            " {attributes: true, attributeFilter: ['data-sigma']}); }"
        )
        touch_stroke(page, [(left + width * (0.5 + 0.02 * i), y) for i in range(0, 21)])
        shown = page.evaluate("() => window.__shown")
        assert len(set(shown)) >= 5 and float(live_sigma(page)) > 0.8  # scrubbed through, to the right
        page.get_by_text(f"at σ {live_sigma(page)}").first.wait_for(
            timeout=30_000
        )  # the server heard the release
        settle(page)
        page.get_by_role("tab", name="Draw").click()
        canvas = page.locator("canvas.upper-canvas")
        canvas.wait_for(timeout=60_000)
        settle(page)
        box = canvas.bounding_box()
        points = [(0.3, 0.2), (0.7, 0.2), (0.55, 0.5), (0.45, 0.85)]
        stroke = [
            (
                box["x"] + (a[0] + (b[0] - a[0]) * t / 8) * box["width"],
                box["y"] + (a[1] + (b[1] - a[1]) * t / 8) * box["height"],
            )
            for a, b in zip(points, points[1:], strict=False)
            for t in range(8)
        ]
        before = np.zeros((28, 28), np.uint8)  # the Draw tab has no panels until something is drawn
        touch_stroke(page, stroke)
        drawn = wait_for_drawing(page, before)
        assert 0.05 < (drawn > 128).mean() < 0.5  # the finger's stroke is the digit now
