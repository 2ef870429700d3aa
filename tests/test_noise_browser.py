"""A noise kind switched in a real browser: the slider is renamed and scrubs that kind live.

The expected pixels are written out here: the page's default digit (the first bundled sample),
its noise field drawn from `default_rng(0)` as z, u, c in that order, the issue's formula, and
the panels' rounding (round(255·x)); the denoised frame is the page's model called directly.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from helpers import ROOT, browser_page, settle
from test_browser import pixels
from test_live_panels import go_to

from bench.browser import LIVE_READY, live_sigma
from denoiser import data, storage
from denoiser.page import catalog


def default_digit_and_field() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    images, labels = data.load_sample()
    clean = images[np.flatnonzero(labels == labels[0])[0]]
    rng = np.random.default_rng(0)
    z = rng.standard_normal((28, 28), dtype=np.float32)
    u = rng.random((28, 28), dtype=np.float32)
    c = (rng.random((28, 28), dtype=np.float32) < 0.5).astype(np.float32)
    return clean, z, u, c


def choose(page, label: str) -> None:
    """Click one option of the Noise choice (a row of toggle buttons under the panels)."""
    page.locator(".st-key-noise_choice").get_by_text(label, exact=True).click()


def rounded(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


@pytest.mark.parametrize(
    "label,slider_name,formula",
    [
        ("Salt and pepper", "Pixels replaced p", lambda x, z, u, c, a: np.where(u < np.float32(a), c, x)),
        ("Speckle", "Speckle σ", lambda x, z, u, c, a: np.clip(x + np.float32(a) * x * z, 0, 1)),
    ],
)
def test_a_kind_switched_in_the_browser_scrubs_live_with_the_servers_pixels(
    server, chromium, label, slider_name, formula
):
    clean, z, u, c = default_digit_and_field()
    kind = {"Salt and pepper": "salt_and_pepper", "Speckle": "speckle"}[label]
    entries = catalog.offered(ROOT / "weights", ROOT / "no-runs")
    model = storage.load_model(next(e for e in entries if e.key == catalog.default_key(entries, kind)).path)
    with browser_page(server, chromium) as page:
        assert page.get_by_role("slider", name="Noise σ").count() == 1  # Gaussian first, the default
        choose(page, label)
        page.get_by_role("slider", name=slider_name).wait_for(timeout=60_000)
        page.locator(LIVE_READY).wait_for(timeout=60_000)
        settle(page)
        for amount in (0.0, 0.3, 0.8):
            go_to(page, amount)
            assert live_sigma(page) == f"{amount:.2f}"
            noisy = formula(clean, z, u, c, amount) if amount else clean
            np.testing.assert_array_equal(pixels(page, "noisy"), rounded(noisy))
            denoised = np.asarray(model.predict_on_batch(noisy[None, ..., None].astype(np.float32)))[
                0, ..., 0
            ]
            assert np.abs(pixels(page, "denoised").astype(int) - rounded(denoised)).max() <= 1
        choose(page, "Gaussian")
        page.get_by_role("slider", name="Noise σ").wait_for(timeout=60_000)
        page.locator(LIVE_READY).wait_for(timeout=60_000)
        go_to(page, 0.2)
        np.testing.assert_array_equal(pixels(page, "noisy"), rounded(clean + np.float32(0.2) * z))
        page.get_by_role("button", name=re.compile(r"^Download the three panels at σ 0\.20 ")).wait_for()
