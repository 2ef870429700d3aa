"""The three ways in (a bundled MNIST digit, a drawing, an upload), as tabs.

Each returns the 28×28 digit in [0, 1] (white on black) or None, and says in one line what
is wrong when the input cannot be used or looks unlike one digit.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from denoiser.page import catalog, resources, session, uploads

CANVAS_PX = 280
PAGE_PX = 704  # the width of Streamlit's centred layout
STROKE_PX = 20  # about 2 px at 28×28 after the digit is fitted to 20 px: MNIST's stroke width


def digit_input() -> np.ndarray | None:
    """The tabs; only the open tab's code runs. The sample tab opens first, so a visitor sees a result."""
    tabs = st.tabs(list(session.SOURCES), key="source", on_change="rerun")
    inputs = {"MNIST sample": sample_input, "Draw": draw_input, "Upload": upload_input}
    clean = None
    for tab, name in zip(tabs, session.SOURCES, strict=True):
        with tab:
            if tab.open is not False:
                clean = inputs[name]()
            elif name == "Draw":  # the canvas is gone from the page: it comes back with these strokes
                session.restore_drawing_next_time()
    return clean


def sample_input() -> np.ndarray:
    """A bundled MNIST test digit, by class and index or at random (its own Original: no raw view)."""
    session.keep_raw(None)
    images, labels = session.sample_digits()
    for key in ("sample_digit", "sample_index"):
        session.restore_choice(key)
    st.session_state.setdefault("sample_digit", int(labels[0]))
    with st.container(key="sample_row", horizontal=True, vertical_alignment="bottom"):
        digit = st.selectbox("Digit", list(range(10)), key="sample_digit", width=90)
        of_class = np.flatnonzero(labels == digit)
        index = st.number_input(
            f"Example (0-{len(of_class) - 1})", 0, len(of_class) - 1, key="sample_index", width=130
        )
        st.button("Random digit", on_click=session.random_sample, key="random_sample", type="primary")
    for key in ("sample_digit", "sample_index"):
        session.keep_choice(key)
    return images[of_class[min(int(index), len(of_class) - 1)]]


def draw_input() -> np.ndarray | None:
    """A canvas to draw on (white ink on black), and a Clear button."""
    try:
        from streamlit_drawable_canvas import st_canvas  # registers a component: only inside a page
    except Exception as error:  # noqa: BLE001 - any failure leaves the other two inputs working
        st.warning(
            f"The drawing canvas is unavailable ({catalog.first_line(error)}): pick a sample or upload."
        )
        return None
    canvas_column, side_column = st.columns([CANVAS_PX, PAGE_PX - CANVAS_PX])
    with canvas_column, st.container(key="canvas_area"):  # room above it for the canvas's toolbar
        result = st_canvas(
            stroke_width=STROKE_PX,
            stroke_color="#FFFFFF",
            background_color="#000000",
            width=CANVAS_PX,
            height=CANVAS_PX,
            drawing_mode="freedraw",
            initial_drawing=session.drawing_to_restore(),
            return_image_data=True,
            key=f"canvas-{st.session_state.canvas_version}",
        )
    with side_column:
        st.button("Clear", on_click=session.clear_canvas, key="clear")
        strokes, png = session.keep_drawing(result.json_data, result.image_bytes)
        if not png:
            st.info("Draw a digit on the black square, about as tall as the square.")
            return None
        try:
            clean = resources.canvas_digit(png)
        except ValueError as error:
            st.info(f"Draw a digit: {error}")
            return None
        session.keep_raw(raw_view(png, f"What you drew ({CANVAS_PX} × {CANVAS_PX})"))
        hint(clean, strokes)
        return clean


def upload_input() -> np.ndarray | None:
    """A picture of a digit: photo, scan or drawing, any polarity."""
    upload = st.file_uploader(
        "A PNG or JPEG of one digit (dark on light or light on dark)", type=uploads.EXTENSIONS, key="upload"
    )
    if upload is None:
        st.info("Upload a picture of a single digit.")
        return None
    try:
        result = resources.uploaded_digit(upload.getvalue())
    except ValueError as error:
        st.error(str(error))
        return None
    for note in result.notes:
        st.caption(note)
    session.keep_raw(raw_view(upload.getvalue(), "Your upload"))
    hint(result.image)
    return result.image


def raw_view(content: bytes, label: str) -> tuple[str, str] | None:
    """The small view of a drawing or upload for the panels, with its label (None without one)."""
    small = resources.preview(content)
    return None if small is None else (small, label)


def hint(clean: np.ndarray, strokes: list[dict] | None = None) -> None:
    """One line when the input looks like several marks or a single dot rather than one digit.

    For a drawing the strokes' own extent tells a dot best: everything drawn fits in a square
    twice the brush's width (the 28×28 digit alone cannot say, since it is scaled up to 20 px).
    """
    text = uploads.marks_hint(clean)
    if strokes and drawn_extent(strokes) <= 2 * STROKE_PX:
        text = uploads.DOT_HINT
    if text:
        st.caption(f"⚠️ {text}")


def drawn_extent(strokes: list[dict]) -> float:
    """The larger side, in canvas pixels, of the box around every stroke (fabric.js objects)."""
    boxes = [(o.get("left", 0), o.get("top", 0), o.get("width", 0), o.get("height", 0)) for o in strokes]
    right = max(left + width for left, _, width, _ in boxes) - min(left for left, _, _, _ in boxes)
    bottom = max(top + height for _, top, _, height in boxes) - min(top for _, top, _, _ in boxes)
    return float(max(right, bottom))
