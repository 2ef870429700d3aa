"""The latency baseline: a bare Streamlit page with the same canvas, slider and three images.

It does what any page must to redraw panels on a slider move (read the canvas, scale a fixed
noise field, encode three PNGs) and nothing else: no TensorFlow, no model, no metrics.
bench/latency.py times the real page against this one in the same run.
"""

from __future__ import annotations

import io

import numpy as np
import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas


def png(image: np.ndarray) -> bytes:
    """A (28, 28) image in [0, 1] at 196 px, nearest neighbour."""
    pixels = np.repeat(np.repeat(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8), 7, 0), 7, 1)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


st.title("Bare page")
result = st_canvas(
    stroke_width=20,
    stroke_color="#FFFFFF",
    background_color="#000000",
    width=280,
    height=280,
    return_image_data=True,
    key="canvas",
)
sigma = st.slider("Noise σ", 0.0, 1.0, 0.5, 0.01)
if result.json_data and result.json_data.get("objects") and result.image_bytes:
    rgba = (
        np.asarray(Image.open(io.BytesIO(result.image_bytes)).convert("L").resize((28, 28)), np.float32) / 255
    )
    field = np.random.default_rng(0).standard_normal((28, 28), dtype=np.float32)
    noisy = np.clip(rgba + sigma * field, 0, 1)
    smoothed = (
        sum(np.roll(noisy, (dy, dx), (0, 1)) for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9
    )  # a stand-in
    for column, image in zip(st.columns(3), (noisy, smoothed, rgba), strict=True):
        column.image(png(image), width=196, output_format="PNG")
