"""A fix for a race in Streamlit 1.67 that froze a visitor's page while the Retrain panel polled.

A script runner's messages reach the browser through the server's event loop, which lags
behind the script thread when the server is busy. If a fragment rerun (the Retrain panel's
once-a-second poll) arrives after a full run's script has finished but before its messages have
all gone out, Streamlit starts a new runner for the fragment, and drops every message the old
runner still had queued (`AppSession` ignores events from a runner that is not current). Those
were the end of the visitor's full run: the new panels, and the fragment's auto-rerun
registration. The browser had already stopped its poll timers when the full run started, so the
page stayed as it was (new σ on the slider, old panels, no script running) until the visitor's
next action. bench/load.py found it in about 3 slider moves in 1,000 while a training ran;
docs/robustness.md has the log that showed the cause.

The fix turns that one fragment run into a full run: it redraws everything the dropped messages
carried. Only a fragment run that would replace a runner whose messages are still on their way is
changed; any other fragment run stays a fragment run.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from streamlit.runtime import app_session
from streamlit.runtime.scriptrunner_utils.script_requests import RerunData

_MARK = "_denoiser_keeps_full_runs"


def deliver_full_runs(session_class: type = app_session.AppSession) -> None:
    """Install the fix (once per process; installing again changes nothing)."""
    create = session_class._create_scriptrunner
    if getattr(create, _MARK, False):
        return

    @functools.wraps(create)
    def create_scriptrunner(self: Any, initial_rerun_data: RerunData) -> None:
        create(self, run_to_start(self._scriptrunner, initial_rerun_data))

    setattr(create_scriptrunner, _MARK, True)
    session_class._create_scriptrunner = create_scriptrunner


def run_to_start(current_runner: object | None, rerun: RerunData) -> RerunData:
    """The run a new runner should do: `rerun`, or a full run where a fragment run would orphan messages.

    `AppSession` clears its current runner once it has handled that runner's last event, and asks
    for a new runner only when the current one takes no more requests; so a current runner here
    has finished, and its messages may still be queued.
    """
    fragment_run = bool(rerun.fragment_id or rerun.fragment_id_queue or rerun.is_fragment_scoped_rerun)
    if current_runner is None or not fragment_run:
        return rerun
    return dataclasses.replace(
        rerun, fragment_id=None, fragment_id_queue=[], is_fragment_scoped_rerun=False, is_auto_rerun=False
    )
