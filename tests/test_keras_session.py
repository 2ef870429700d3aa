"""Streamlit clears Keras's session after every run; the page keeps it (denoiser/page/keras_session.py).

What clear_session leaves behind is observable without timing: Keras replaces its global state
tracker (`global_state.GLOBAL_STATE_TRACKER`) with a new object on every call. Two runs of one
page that hand back two different trackers had the session cleared between them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import open_page
from keras.src.backend.common import global_state
from streamlit.runtime.scriptrunner import script_runner

from denoiser.page import keras_session

ROOT = Path(__file__).resolve().parents[1]

# A page that keeps the tracker each run saw, run twice by AppTest (Streamlit's own script runner),
# in a fresh interpreter where nothing of ours has replaced Streamlit's cleanup.
UPSTREAM_PROBE = """
from streamlit.testing.v1 import AppTest

PAGE = '''
import streamlit as st
from keras.src.backend.common import global_state
st.session_state.setdefault("trackers", []).append(global_state.GLOBAL_STATE_TRACKER)
'''
at = AppTest.from_string(PAGE, default_timeout=60).run()
at.run()
first, second = at.session_state["trackers"]
print("cleared" if first is not second else "kept")
"""


def test_streamlit_still_clears_keras_session_after_a_run():
    """The upstream behaviour keras_session works around. When this fails, Streamlit stopped
    clearing Keras after each run: delete denoiser/page/keras_session.py and its call in app.py."""
    result = subprocess.run(
        [sys.executable, "-c", UPSTREAM_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == "cleared", (
        "Streamlit no longer clears Keras's session after a run: remove denoiser/page/keras_session.py"
    )


def test_the_page_keeps_keras_session_across_reruns():
    at = open_page()
    assert not at.exception
    assert script_runner._clean_problem_modules is keras_session.clean_except_keras
    before = global_state.GLOBAL_STATE_TRACKER
    at.run()
    assert not at.exception
    assert global_state.GLOBAL_STATE_TRACKER is before


def test_the_cleanup_that_remains_still_closes_matplotlib_figures():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.figure()
    assert plt.get_fignums()
    keras_session.clean_except_keras()
    assert plt.get_fignums() == []
