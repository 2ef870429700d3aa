"""Retraining in a real browser: the owner keeps the job across a reload, and gets the model.

Starts `streamlit run app.py` with 2,048 training digits on offer and a runs folder in a
temporary directory, and drives Debian's chromium through Playwright. Each training is a child
process of that server. Skipped where /usr/bin/chromium is missing, except in CI (CI=true),
where that is a failure.
"""

from __future__ import annotations

import re

import pytest
from helpers import browser_page, require_browser, serve_app, settle

SIZE = 2048  # 8 batches an epoch: a job of seconds that still shows several progress updates
EPOCHS = 10  # 80 batches: a model better than the noisy input, so it is saved and selected
MAX_EPOCHS = 1000  # the slider's top: a job that outlasts the reload test, which cancels it
SIDEBAR = "[data-testid='stSidebar']"
PROGRESS = f"{SIDEBAR} [data-testid='stProgress']"


@pytest.fixture(scope="module")
def server(tmp_path_factory, mnist_path):
    """The page with small training settings, served on a free port."""
    require_browser()
    runs = str(tmp_path_factory.mktemp("runs"))
    with serve_app(
        DENOISER_RUNS_DIR=runs,
        DENOISER_TRAIN_SIZES=str(SIZE),
        DENOISER_MAX_EPOCHS=str(MAX_EPOCHS),
        MNIST_DIR=str(mnist_path),
    ) as url:
        yield url


def set_epochs(page, key: str, presses: int = 0) -> None:
    """Move the sidebar's Epochs slider with the keyboard: `key` once, then ArrowRight `presses` times."""
    slider = page.locator(SIDEBAR).get_by_role("slider", name="Epochs")
    slider.focus()
    slider.press(key)
    for _ in range(presses):
        slider.press("ArrowRight")
    settle(page)


def start(page) -> None:
    """Press Start and wait until the progress panel shows the first epoch."""
    page.locator(SIDEBAR).get_by_role("button", name="Start training").click()
    page.locator(SIDEBAR).get_by_text(re.compile(r"^Epoch 1/")).wait_for(timeout=120_000)


def test_a_reload_keeps_cancel_and_the_snapshots_for_the_owner_and_a_stranger_gets_neither(server):
    with browser_page(server) as owner:
        set_epochs(owner, "End")
        start(owner)
        assert "training=" in owner.url  # the owner's token, in the URL a reload keeps
        owner.locator(SIDEBAR).get_by_text("Your digit, denoised by the model being trained").wait_for()
        owner.reload()
        sidebar = owner.locator(SIDEBAR)
        sidebar.get_by_role("button", name="Cancel").wait_for(timeout=60_000)
        sidebar.get_by_text("Your digit, denoised by the model being trained").wait_for()
        with browser_page(server, browser=owner.context.browser) as stranger:  # its own context
            stranger.locator(PROGRESS).wait_for(timeout=60_000)
            other = stranger.locator(SIDEBAR)
            assert other.get_by_text(re.compile("already running on this server")).count() == 1
            assert other.get_by_role("button", name="Cancel").count() == 0
        sidebar.get_by_role("button", name="Cancel").click()
        sidebar.get_by_text("Training cancelled: nothing was saved.").wait_for(timeout=30_000)
        sidebar.get_by_role("button", name="Start training").wait_for(timeout=30_000)


def test_a_finished_model_that_beats_the_noisy_input_is_selected_for_its_owner(server):
    with browser_page(server) as page:
        set_epochs(page, "Home", EPOCHS - 2)  # the slider starts at 2 epochs
        assert page.locator("input[aria-label='Epochs']").input_value() == str(EPOCHS)
        start(page)
        sidebar = page.locator(SIDEBAR)
        sidebar.get_by_text("Saved as").wait_for(timeout=180_000)
        settle(page)
        assert "better than the noisy input" in sidebar.inner_text()
        label = re.compile(r"classic, 10 epochs × 2,048 digits, σ 0\.5, .*\(retrained\)")
        retrained = sidebar.get_by_role("radio", name=label)  # what it is, from its sidecar
        assert retrained.count() == 1 and retrained.is_checked()
        assert sidebar.get_by_role("button", name="Start training").is_visible()  # the machine is free again
