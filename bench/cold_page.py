"""The cold-start baseline: a bare Streamlit page that imports TensorFlow, loads one `.keras`
model and shows one image (the model's output on a bundled test digit), nothing else.

bench/latency.py --cold times a freshly started app.py against a freshly started copy of
this page, in the same run: what any TensorFlow page must pay before its first image.
"""

from __future__ import annotations

import io
from pathlib import Path

import keras
import numpy as np
import streamlit as st
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


@st.cache_resource
def model() -> keras.Model:
    return keras.models.load_model(ROOT / "weights" / "classic.keras", compile=False)


with np.load(ROOT / "denoiser" / "assets" / "mnist_sample.npz") as sample:
    digit = sample["images"][0].astype(np.float32) / 255
noisy = np.clip(digit + 0.5 * np.random.default_rng(0).standard_normal((28, 28), dtype=np.float32), 0, 1)
denoised = model().predict_on_batch(noisy[None, :, :, None])[0, :, :, 0]
pixels = np.repeat(np.repeat(np.round(denoised * 255).astype(np.uint8), 7, 0), 7, 1)
buffer = io.BytesIO()
Image.fromarray(pixels).save(buffer, format="PNG")
st.title("Bare TensorFlow page")
st.image(buffer.getvalue(), width=196)
