"""A page on which the race that `denoiser/page/streamlit_fixes.py` fixes happens on every slider move.

Served by tests/test_streamlit_fixes.py. On the real page the race needs a busy server: the
event loop lags behind the script thread, and a fragment poll lands in the gap between a full
run's end and the delivery of its last messages (bench/load.py hit it about 3 times in 1,000
moves). Here the gap is made certain: the runner started for a slider move has each of its
events handled by the event loop `LATE_S` late, and the fragment polls every `POLL_S`, so
several polls arrive while that runner's messages wait.

RACE_FIX=1 in the environment installs the fix before anything else runs.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
import weakref
from typing import Any

import streamlit as st
from streamlit.runtime import app_session

from denoiser.page import streamlit_fixes

LATE_S = 0.6  # how late a slider move's runner has its messages handled
POLL_S = 0.1  # the fragment's poll
SLIDER_KEY = "race_slider"


def slider_value(client_state: Any) -> str | None:
    """The slider's value as the browser sent it, or None when the request has none."""
    if client_state is None:
        return None
    for widget in client_state.widget_states.widgets:
        if widget.id.endswith(f"-{SLIDER_KEY}"):
            return str(getattr(widget, widget.WhichOneof("value")))
    return None


def make_moves_late(session_class: type = app_session.AppSession) -> None:
    """Delay the events of each runner started for a slider move (once per process).

    A move is a full run whose request carries the slider's value: the page's first run carries
    none (the browser has no widget values yet), and polls are fragment runs. Polls cannot be
    trusted to tell the starting value: the first one after the page shows may be sent before
    the slider has registered its value in the browser (seen in CI, where the first move was
    then not made late).
    """
    if getattr(session_class, "_race_page_late", False):
        return
    request, create = session_class.request_rerun, session_class._create_scriptrunner
    handle = session_class._handle_scriptrunner_event_on_event_loop
    late: weakref.WeakSet = weakref.WeakSet()  # runners whose events are handled late

    def request_rerun(self: Any, client_state: Any = None) -> None:
        full_run = not (client_state and client_state.fragment_id)
        self._race_page_move = full_run and slider_value(client_state) is not None
        request(self, client_state)

    def create_scriptrunner(self: Any, initial_rerun_data: Any) -> None:
        create(self, initial_rerun_data)
        if getattr(self, "_race_page_move", False):
            self._race_page_move = False
            late.add(self._scriptrunner)

    def handle_event(self: Any, sender: Any, *args: Any) -> None:
        if sender is not None and sender in late:
            asyncio.get_running_loop().call_later(LATE_S, functools.partial(handle, self, sender, *args))
            return
        handle(self, sender, *args)

    session_class.request_rerun = request_rerun
    session_class._create_scriptrunner = create_scriptrunner
    session_class._handle_scriptrunner_event_on_event_loop = handle_event
    session_class._race_page_late = True


if os.environ.get("RACE_FIX") == "1":
    streamlit_fixes.deliver_full_runs()
make_moves_late()

value = st.slider("Value", 0, 100, 50, key=SLIDER_KEY)
st.markdown(f"value shown: {value}")


@st.fragment(run_every=POLL_S)
def poll() -> None:
    st.caption(f"polled at {time.monotonic():.2f}")


poll()
