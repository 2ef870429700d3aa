"""A visitor's session: defaults, the callbacks that change them, and the process-wide gc policy.

σ lives in `st.session_state.noise_sigma`, which no widget owns (Streamlit forgets a widget's
state on a run that does not draw it, and the fallback slider is drawn only until the live panels
run). The live panels report the visitor's σ through their own state and `live.take_sigma` copies
it here; the fallback slider (key `sigma`) copies its value here too. Anything else that sets σ
is noticed by `sigma_serial`, which the browser uses to tell the server's own changes from
echoes of its slider.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import numpy as np
import streamlit as st

from denoiser import data, noise

DEFAULT_SIGMA = 0.5
SIGMA = "noise_sigma"  # session state: the σ the server computes with
SOURCES = ("MNIST sample", "Draw", "Upload")  # the first opens: a result before any click
PAGE_SIGMA = "page_sigma"  # session state: σ at the last full run, which the sidebar and charts show
DIGIT = "current_digit"  # session state: the digit on the panels, for the training snapshots
KIND = "noise_kind"  # session state: the kind of noise (noise.KINDS), owned by no widget, as σ


def gc_policy() -> str:
    """How the page keeps Python's garbage collector off TensorFlow's objects: DENOISER_GC.

    "imports" (the default): freeze what the imports created, once, and let `runner.postScriptGC =
    false` (.streamlit/config.toml) stop Streamlit's collection after every rerun; models a cache
    evicts can then be freed. "models": also freeze after every model load (what the page did
    before: evicted models stay forever). "off": neither, for measuring (bench/gc_policy.py).
    """
    policy = os.environ.get("DENOISER_GC", "imports").strip().lower()
    return policy if policy in ("imports", "models", "off") else "imports"


def freeze_heap(after: str = "imports") -> None:
    """Move every object alive now out of the collector's sight, if the policy freezes `after` this."""
    policy = gc_policy()
    if policy == "models" or (policy == "imports" and after == "imports"):
        gc.freeze()


@st.cache_resource
def freeze_imports() -> None:
    """Freeze the heavy imports (TensorFlow, Keras, Streamlit), once per process."""
    freeze_heap("imports")


def init_state() -> None:
    """Defaults for a new visitor; the noise field is one draw (noise.noise_field) that the amount
    only scales, whatever the kind."""
    state = st.session_state
    state.setdefault("noise_field", noise.noise_field((28, 28), seed=0))
    state.setdefault(KIND, noise.DEFAULT_KIND)
    state.setdefault("canvas_version", 0)
    state.setdefault(SIGMA, DEFAULT_SIGMA)
    state.setdefault("source", SOURCES[0])


def sigma() -> float:
    """The σ the server computes with (the visitor's last released slider position)."""
    return float(st.session_state[SIGMA])


def noise_kind() -> str:
    """The kind of noise the panels show (Gaussian unless the visitor chose another)."""
    kind = st.session_state.get(KIND, noise.DEFAULT_KIND)
    return kind if kind in noise.KINDS else noise.DEFAULT_KIND


def noise_choice() -> str:
    """The *Noise* choice, under the panels beside *New noise*; a change reruns the page with that
    kind's sweep (the slider above is renamed for it)."""
    st.session_state.noise_choice = noise_kind()  # the widget shows the session's kind
    st.segmented_control(
        "Noise",
        noise.KINDS,
        format_func=noise.LABELS.get,
        key="noise_choice",
        label_visibility="collapsed",  # a row of buttons under the panels, beside New noise
        on_change=lambda: st.session_state.update({KIND: st.session_state.noise_choice or noise_kind()}),
        help="What corrupts the digit: Gaussian noise added to every pixel, pixels replaced by black "
        "or white (salt and pepper), or noise that multiplies the ink (speckle).",
    )
    return noise_kind()


def set_sigma(value: float, from_live_slider: bool = False) -> None:
    """Make `value` (clamped to [0, 1], to the slider's 0.01 steps) the session's σ."""
    value = min(1.0, max(0.0, round(float(value), 2)))
    st.session_state[SIGMA] = value
    if from_live_slider:
        st.session_state.sigma_from_slider = value  # an echo of the slider: the browser keeps its thumb


def mark_page_sigma() -> None:
    """At a full run: the σ and noise kind that the sidebar's labels and the charts are drawn with."""
    st.session_state[PAGE_SIGMA] = (sigma(), noise_kind())


def forget_page_sigma() -> None:
    """The browser never got a run's answer to its σ (live panels' "resent"): the next run of the
    panels' fragment redraws the whole page, as after a σ the page has not drawn yet."""
    st.session_state.pop(PAGE_SIGMA, None)


def page_behind() -> bool:
    """Whether σ or the noise kind changed since the last full run (in a run of the panels'
    fragment alone)."""
    return st.session_state.get(PAGE_SIGMA) != (sigma(), noise_kind())


def keep_digit(clean: np.ndarray | None) -> None:
    """The digit on the panels now, where the sidebar's Start reads it (the panels rerun alone)."""
    st.session_state[DIGIT] = clean


def current_digit() -> np.ndarray | None:
    """The digit the panels last showed (None before any, or with an empty canvas)."""
    return st.session_state.get(DIGIT)


def server_sigma(remounted: bool) -> tuple[float, int]:
    """(σ, serial) for the live panels: the serial moves whenever σ was set by anything but the
    live slider itself, and the browser then takes σ (a change of serial wins over its slider).

    Panels new in the browser start from the σ they are sent whatever the serial (they have
    none yet), so a remount only brings that σ up to date and keeps the serial: a run the server
    merely takes for a remount (the one before it was interrupted before it drew the panels, as
    happens under load) must not pull back a thumb the visitor has moved since, or tell the
    panels that a σ they are still waiting on was overruled. Between such changes both stay the
    same, however often the visitor moves the slider, so the panels' data is the same message on
    every rerun of one digit and Streamlit sends it once (its message cache replaces a repeated
    message of 10 kB or more by a reference).
    """
    state = st.session_state
    if state.get("sigma_from_slider") != state[SIGMA]:
        state.sigma_serial = state.get("sigma_serial", 0) + 1
        state.sigma_from_slider = state.sigma_applied = state[SIGMA]
    elif remounted:
        state.sigma_applied = state[SIGMA]
    return state.sigma_applied, state.get("sigma_serial", 0)


def fallback_slider() -> None:
    """The server-drawn amount slider, "Noise σ" for Gaussian noise (before the live panels run,
    or where they cannot)."""
    st.session_state.sigma = sigma()  # the widget shows the session's σ, whoever set it last
    kind = noise_kind()
    st.slider(
        noise.AMOUNT_NAMES[kind],
        0.0,
        1.0,
        step=0.01,
        key="sigma",
        help=noise.AMOUNT_HELP[kind],
        on_change=lambda: set_sigma(st.session_state.sigma),
    )


def new_noise() -> None:
    """A fresh noise field (the slider then scales this one)."""
    st.session_state.noise_field = noise.noise_field((28, 28), seed=np.random.default_rng())


DRAWING = "drawing"  # session state: the canvas's last strokes (fabric.js JSON) and its PNG
RESTORE = "drawing_to_restore"  # session state: the strokes a newly mounted canvas starts from


def keep_drawing(strokes_json: dict | None, png: bytes | None) -> tuple[list[dict], bytes | None]:
    """The canvas's strokes and PNG for this run, remembered for the session.

    A canvas mounted again (the visitor came back to *Draw*) shows the remembered strokes
    (`drawing_to_restore`) but sends no picture of them until the next stroke, so the
    remembered PNG stands in for it while the strokes are the remembered ones.
    """
    objects = (strokes_json or {}).get("objects") or []
    kept = st.session_state.get(DRAWING)
    if objects and png:
        st.session_state[DRAWING] = {"objects": objects, "png": png}
    elif objects and kept and kept["objects"] == objects:
        png = kept["png"]
    elif not objects:
        st.session_state.pop(DRAWING, None)
    return objects, png if objects else None


def restore_drawing_next_time() -> None:
    """On a run without the canvas: the next canvas starts from the remembered strokes. Set only
    then, so a canvas on the page is never handed its own strokes back (that would reset its undo)."""
    kept = st.session_state.get(DRAWING)
    st.session_state[RESTORE] = {"objects": kept["objects"]} if kept else None


def drawing_to_restore() -> dict | None:
    """The strokes a canvas mounted in this run starts from (None: an empty canvas)."""
    return st.session_state.get(RESTORE)


RAW = "raw_view"  # session state: (PNG base64, label) of the drawing or upload, or None for a sample


def keep_raw(preview: tuple[str, str] | None) -> None:
    """The small view of what the visitor drew or uploaded, shown beside the Original."""
    st.session_state[RAW] = preview


def raw_view() -> tuple[str, str] | None:
    """The small view of the input as given (None for an MNIST sample: it is its own Original)."""
    return st.session_state.get(RAW)


def clear_canvas() -> None:
    """A new key gives a new, empty canvas; the component has no clear call of its own."""
    st.session_state.canvas_version += 1
    st.session_state.pop(DRAWING, None)
    st.session_state.pop(RESTORE, None)


@st.cache_data(show_spinner=False)
def sample_digits() -> tuple[np.ndarray, np.ndarray]:
    """The bundled test digits: the page needs no dataset."""
    return data.load_sample()


CHOICES = "kept_choices"  # session state no widget owns: the visitor's last choice in some input widgets


def restore_choice(key: str) -> None:
    """Before the widget `key` draws: the visitor's last choice, where Streamlit has dropped the
    widget's state (a run that did not draw it, or a `run_every` fragment's rerun while a training
    is followed, streamlit#10805, which sent a visitor's panels back to the default digit)."""
    kept = st.session_state.get(CHOICES, {})
    if key not in st.session_state and key in kept:
        st.session_state[key] = kept[key]


def keep_choice(key: str) -> None:
    """After the widget `key` drew: its value, for `restore_choice`."""
    if key in st.session_state:
        st.session_state.setdefault(CHOICES, {})[key] = st.session_state[key]


def random_sample() -> None:
    """Pick a random digit class and a random example of it."""
    rng = np.random.default_rng()
    _, labels = sample_digits()
    digit = int(rng.integers(10))
    st.session_state.sample_digit = digit
    st.session_state.sample_index = int(rng.integers(np.count_nonzero(labels == digit)))


def file_version(path: Path) -> tuple[int, int] | None:
    """(mtime, size) of a file, or None when it is missing: a changed file is reloaded."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
