"""Keep Keras's session across reruns: Streamlit clears it after every script run.

Streamlit's script runner ends every run with `_clean_problem_modules`, which calls
`keras.backend.clear_session()` (a relic of TensorFlow 1, whose graph grew with every run).
Under Keras 3 on TensorFlow 2 there is no such graph to free, but the call still empties
TensorFlow's kernel cache and runs a full `gc.collect()`. So the first time each rerun
touches a model, TensorFlow instantiates and optimizes its graph again (grappler): measured
in the server, a one-digit model call took ~35 ms of CPU instead of ~2 ms, and every other
TensorFlow op paid the same on its first use (a new digit's first panels; opening "Inside
the model").

`keep()` swaps that cleanup for the rest of it (closing matplotlib's figures) without
Keras. `tests/test_keras_session.py` shows upstream still clears Keras after a run, and
fails once it stops: then this module goes.
"""

from __future__ import annotations

import logging
import sys

from streamlit.runtime.scriptrunner import script_runner

LOG = logging.getLogger(__name__)


def clean_except_keras() -> None:
    """Streamlit's cleanup after a run, less `keras.backend.clear_session()`."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        try:
            pyplot.close("all")
        except Exception as error:  # noqa: BLE001 - as upstream: a failed cleanup never stops the app
            LOG.warning("could not close matplotlib's figures: %s", error)


def keep() -> None:
    """From now on, the runs of every session leave Keras's session (and its caches) alone."""
    script_runner._clean_problem_modules = clean_except_keras
