"""Retraining in a real browser: start a short job, keep using the page while it runs, get the model.

Starts `streamlit run app.py` with 2,048 training digits on offer and a runs folder in a
temporary directory, and drives Debian's chromium through Playwright. Skipped where
/usr/bin/chromium is missing, except in CI (CI=true), where that is a failure.
"""

from __future__ import annotations

import re

import pytest
from test_browser import PANELS, open_page, require_browser, serve_app, settle

SIZE = 2048  # 8 batches an epoch: a job of a few seconds that still shows several progress updates
EPOCHS = 10
PROGRESS = "[data-testid='stSidebar'] [data-testid='stProgress']"


@pytest.fixture(scope="module")
def server(tmp_path_factory, mnist_path):
    """The page with small training settings, served on a free port."""
    require_browser()
    runs = str(tmp_path_factory.mktemp("runs"))
    with serve_app(
        DENOISER_RUNS_DIR=runs,
        DENOISER_TRAIN_SIZES=str(SIZE),
        DENOISER_MAX_EPOCHS=str(EPOCHS),
        MNIST_DIR=str(mnist_path),
    ) as url:
        yield url


@pytest.fixture(scope="module")
def page(server):
    """One browser page on the MNIST sample tab, with its three panels shown."""
    with open_page(server) as page:
        page.get_by_role("button", name="Start training").wait_for(timeout=90_000)
        page.get_by_role("tab", name="MNIST sample").click()
        page.wait_for_function(f'() => document.querySelectorAll("{PANELS}").length === 3', timeout=30_000)
        settle(page)
        yield page


def noisy_src(page) -> str:
    return page.eval_on_selector_all(PANELS, "images => images[0].src")


def progress_text(page) -> str:
    bars = page.locator(PROGRESS)
    return bars.first.inner_text() if bars.count() else ""


def test_the_page_stays_usable_while_training_and_the_new_model_is_selected(page):
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_role("slider", name="Epochs").focus()
    page.keyboard.press("End")
    page.wait_for_function("() => document.querySelector(\"input[aria-label='Epochs']\").value === '10'")
    settle(page)
    sidebar.get_by_role("button", name="Start training").click()
    page.wait_for_function(f"() => !!document.querySelector(`{PROGRESS}`)", timeout=90_000, polling=50)
    sigma = page.locator("[data-testid='stMain'] [data-testid='stSlider'] input[type='range']")
    sigma.focus()
    for _ in range(3):  # each move redraws the panels while the job runs
        before = noisy_src(page)
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            f'(old) => document.querySelectorAll("{PANELS}")[0]?.src !== old', arg=before, timeout=30_000
        )
    assert sigma.input_value() == "0.53"
    page.wait_for_function(  # and the progress panel goes on updating itself
        f"(old) => (document.querySelector(`{PROGRESS}`)?.innerText || '') !== old",
        arg=progress_text(page),
        timeout=30_000,
        polling=100,
    )
    sidebar.get_by_text("Saved as").wait_for(timeout=180_000)
    settle(page)
    retrained = sidebar.get_by_role("radio", name=re.compile(r"\(retrained\)"))
    assert retrained.count() == 1 and retrained.is_checked()
    assert page.get_by_text(re.compile(r"^Denoised \(classic .*\(retrained\)\)")).is_visible()
    table = sidebar.locator("table").first.inner_text()
    assert "new" in table and "classic" in table and "Δ" in table
    assert sidebar.get_by_role("button", name="Start training").is_visible()  # the slot is free again
