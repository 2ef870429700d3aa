"""Cached work: models once per process, pure results once per distinct input.

Cache by kind (Streamlit's demo apps): `st.cache_resource` for models, `st.cache_data` for
arrays and results. A parameter whose name starts with `_` is left out of the hash (a model),
so each such function also takes what identifies it (the model's key and file version).
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import streamlit as st

from denoiser import filters, noise, novelty
from denoiser.page import catalog, panels, session, sweep, uploads


@st.cache_resource(max_entries=64, show_spinner=False)
def load_model(path: str, version: tuple[int, int]) -> keras.Model | str:
    """A denoiser, or the one-line reason it cannot be used; `version` reloads a replaced file."""
    try:
        model = catalog.load_denoiser(Path(path))
    except catalog.ModelUnavailable as error:
        return str(error)
    session.freeze_heap(after="model")
    return model


def load_models(entries: list[catalog.ModelEntry]) -> dict[str, keras.Model | filters.Filter | str]:
    """Every listed denoiser by key: the model (or classical filter), or why it cannot be used."""
    return {
        e.key: filters.FILTERS[e.filter] if e.filter else load_model(str(e.path), e.version) for e in entries
    }


@st.cache_resource(show_spinner=False)
def load_classifier(folder: str, version: tuple[int, int] | None) -> keras.Model | None:
    """The digit classifier, or None (the readings under the panels are then left out)."""
    model = catalog.load_classifier(Path(folder))
    session.freeze_heap(after="model")
    return model


def classifier_model() -> tuple[keras.Model | None, tuple[int, int] | None]:
    """The classifier in the weights folder (reloaded when its file changes), or None."""
    folder = catalog.weights_dir()
    version = session.file_version(folder / catalog.CLASSIFIER_FILE)
    return load_classifier(str(folder), version), version


@st.cache_data(max_entries=64, show_spinner=False)
def canvas_digit(png: bytes) -> np.ndarray:
    """The canvas's PNG as the model's 28×28 input."""
    return uploads.read_canvas(png)


@st.cache_data(max_entries=16, show_spinner=False)
def preview(content: bytes) -> str | None:
    """The small view of a drawing or upload beside the Original (PNG, base64)."""
    return uploads.preview(content)


@st.cache_data(max_entries=16, show_spinner=False)
def uploaded_digit(content: bytes) -> uploads.Upload:
    """An upload as the model's 28×28 input (ValueError with a message when it is not usable)."""
    return uploads.read_upload(content)


@st.cache_resource(show_spinner=False)
def load_digit_check(folder: str, version: tuple[int, int] | None) -> tuple[keras.Model, float] | None:
    """The "is this a digit?" detector and its threshold, or None."""
    found = catalog.load_digit_check(Path(folder))
    session.freeze_heap(after="model")
    return found


@st.cache_data(max_entries=64, show_spinner=False)
def unlike_digits(clean: np.ndarray, version: tuple[int, int] | None) -> bool:
    """Whether the detector in the weights folder (at this file version) calls `clean` unlike
    MNIST's digits; False without a detector."""
    found = load_digit_check(str(catalog.weights_dir()), version)
    return found is not None and novelty.judge(found[0], clean, found[1]).unlike


def is_unlike_digits(clean: np.ndarray) -> bool:
    """`unlike_digits` for the detector file as it is now (a replaced file is loaded again)."""
    return unlike_digits(clean, session.file_version(catalog.weights_dir() / novelty.FILE))


@st.cache_data(max_entries=64, show_spinner=False)
def sweep_of(
    _model: keras.Model,
    key: str,
    version: tuple[int, int],
    clean: np.ndarray,
    field: np.ndarray,
    sigmas: tuple[float, ...],
    kind: str = noise.DEFAULT_KIND,
) -> sweep.Sweep:
    """The model on this digit and noise field at every slider position (a handful of batched calls)."""
    return sweep.run(_model, clean, field, sigmas, kind)


@st.cache_data(max_entries=64, show_spinner=False)
def sweep_readings(
    _classifier: keras.Model,
    _sweep: sweep.Sweep,
    classifier_version: tuple[int, int] | None,
    key: str,
    version: tuple[int, int],
    clean: np.ndarray,
    field: np.ndarray,
    sigmas: tuple[float, ...],
    kind: str = noise.DEFAULT_KIND,
) -> sweep.Readings:
    """The classifier's readings of a sweep, cached under the same inputs as the sweep itself."""
    return sweep.read(_classifier, _sweep, clean)


@st.cache_data(max_entries=256, show_spinner=False)
def scores(images: tuple[np.ndarray, ...], original: np.ndarray) -> list[panels.PanelScore]:
    """PSNR/SSIM of each image against the original (for panels outside a sweep)."""
    return panels.score_panels(list(images), original)


@st.cache_data(max_entries=4096, show_spinner=False)
def panel_png(image: np.ndarray) -> bytes:
    """One panel, upscaled crisply and encoded."""
    return panels.panel_png(image)


@st.cache_data(max_entries=256, show_spinner=False)
def composite(images: tuple[np.ndarray, ...], captions: tuple[str, ...]) -> bytes:
    """The three panels as one PNG, for the download button."""
    return panels.composite_png(list(images), list(captions))
