"""The "Inside the model" section alone, on one bundled digit: what bench/inside.py serves and photographs.

    streamlit run bench/inside_page.py          # then ?model=blind&sigma=0.3&digit=2 in the URL

The model is a shipped one found the way the page finds it; the digit is the first bundled
sample of its class, noisy at σ with the page's default noise field (seed 0).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import streamlit as st  # noqa: E402

from denoiser import data, noise  # noqa: E402
from denoiser.page import catalog, inside  # noqa: E402


@st.cache_resource(show_spinner=False)
def load(path: str) -> keras.Model:
    return catalog.load_denoiser(Path(path))


@st.cache_data(show_spinner=False)
def samples() -> tuple[np.ndarray, np.ndarray]:
    return data.load_sample()


def main() -> None:
    st.set_page_config(page_title="Inside the model")
    st.html("<style>[data-testid='stImage'] img {image-rendering: pixelated;}</style>")
    name = st.query_params.get("model", "classic")
    sigma = float(st.query_params.get("sigma", 0.5))
    digit = int(st.query_params.get("digit", 7))
    entry = next(e for e in catalog.discover() if e.label == name)
    images, labels = samples()
    clean = images[int(np.flatnonzero(labels == digit)[0])]
    field = noise.noise_field((28, 28), seed=0)
    inside.show(entry, load(str(entry.path)), clean, field, sigma, (images, labels))


main()
