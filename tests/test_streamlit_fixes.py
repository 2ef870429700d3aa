"""The fix for Streamlit's full-run/fragment race: the rule, its installation, and the race in a browser.

The browser tests serve tests/race_page.py, where the race happens on every slider move (see
its docstring): without the fix the page never shows the new value, with it the page shows
every value. The first of them proves the race still exists in the pinned Streamlit; if a
Streamlit upgrade fixes it upstream, that test fails and `denoiser/page/streamlit_fixes.py` can go.
"""

from __future__ import annotations

import inspect

import pytest
from helpers import require_browser, serve_app
from streamlit.proto.WidgetStates_pb2 import WidgetStates
from streamlit.runtime import app_session
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData

from bench.browser import CHROMIUM, CHROMIUM_ARGS
from denoiser.page import streamlit_fixes

SLIDER = "[data-testid='stSlider'] input[type='range']"


def test_a_fragment_run_that_would_replace_an_undelivered_runner_becomes_a_full_run():
    states = WidgetStates()
    states.widgets.add(id="slider", double_array_value={"data": [0.4]})
    poll = RerunData(query_string="a=1", widget_states=states, fragment_id="panel", is_auto_rerun=True)

    run = streamlit_fixes.run_to_start(object(), poll)

    assert (run.fragment_id, run.fragment_id_queue, run.is_fragment_scoped_rerun) == (None, [], False)
    assert not run.is_auto_rerun
    assert run.widget_states is states and run.query_string == "a=1"  # the visitor's values are kept


@pytest.mark.parametrize(
    "runner, rerun",
    [
        (None, RerunData(fragment_id="panel", is_auto_rerun=True)),  # no runner left: nothing to lose
        (object(), RerunData()),  # a full run already redraws everything
        (None, RerunData()),
    ],
    ids=["fragment run, no current runner", "full run, current runner", "full run, no runner"],
)
def test_every_other_run_is_left_as_it_is(runner, rerun):
    assert streamlit_fixes.run_to_start(runner, rerun) is rerun


def test_installing_wraps_the_runner_factory_once():
    class Session:
        def __init__(self, runner):
            self._scriptrunner, self.started = runner, []

        def _create_scriptrunner(self, initial_rerun_data):
            self.started.append(initial_rerun_data)

    streamlit_fixes.deliver_full_runs(Session)
    wrapped = Session._create_scriptrunner
    streamlit_fixes.deliver_full_runs(Session)
    assert Session._create_scriptrunner is wrapped

    busy, idle = Session(object()), Session(None)
    busy._create_scriptrunner(RerunData(fragment_id="panel"))
    idle._create_scriptrunner(RerunData(fragment_id="panel"))
    assert busy.started[0].fragment_id is None
    assert idle.started[0].fragment_id == "panel"


def test_streamlit_still_has_what_the_fix_wraps():
    """A Streamlit upgrade that renames these would silently undo the fix: fail instead."""
    create = app_session.AppSession._create_scriptrunner
    assert list(inspect.signature(create).parameters) == ["self", "initial_rerun_data"]
    assert "_create_scriptrunner(rerun_data)" in inspect.getsource(app_session.AppSession.request_rerun)
    assert "self._scriptrunner = None" in inspect.getsource(
        app_session.AppSession._handle_scriptrunner_event_on_event_loop
    )


def shown_values(fixed: bool, moves: int, wait_ms: float) -> list[tuple[str, str]]:
    """Serve the race page, press → on its slider `moves` times; the slider's value and what the
    page showed after each."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    shown = []
    with (
        serve_app("tests/race_page.py", RACE_FIX="1" if fixed else "0") as url,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(url)
        page.get_by_text("value shown: 50").wait_for(timeout=60_000)
        page.get_by_text("polled at").wait_for(timeout=10_000)  # the polling fragment is on the page
        slider = page.locator(SLIDER)
        for move in range(1, moves + 1):
            slider.focus()
            page.keyboard.press("ArrowRight")
            try:
                page.get_by_text(f"value shown: {50 + move}").wait_for(timeout=wait_ms)
            except PlaywrightTimeout:
                pass
            shown.append((slider.input_value(), page.get_by_text("value shown:").inner_text()))
        browser.close()
    return shown


def test_without_the_fix_the_race_page_loses_the_new_value():
    """The race is real in this Streamlit: the slider moves and the page never shows it."""
    require_browser()
    assert shown_values(fixed=False, moves=2, wait_ms=4_000) == [
        ("51", "value shown: 50"),
        ("52", "value shown: 50"),
    ]


def test_with_the_fix_the_race_page_shows_every_value():
    require_browser()
    values = [str(50 + n) for n in range(1, 6)]
    assert shown_values(fixed=True, moves=5, wait_ms=10_000) == [(v, f"value shown: {v}") for v in values]
