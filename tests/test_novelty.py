"""Is this a digit? The shipped detector on real MNIST test digits and on held-out non-digits drawn
with the page's stroke maker (fewer than `bench/novelty.py` measures: the same targets), and how
the page words a flagged input."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from bench import novelty as shapes
from denoiser import novelty, storage
from denoiser.classifier import Reading
from denoiser.page import catalog, panels, payload, sweep

WEIGHTS = catalog.ROOT / "weights" / novelty.FILE


@pytest.fixture(scope="module")
def detector() -> tuple[keras.Model, float]:
    found = catalog.load_digit_check(WEIGHTS.parent)
    assert found is not None, "weights/digit_check.keras and its threshold ship with the page"
    return found


def test_the_detector_loads_plainly_has_a_threshold_from_data_and_is_no_denoiser():
    model = keras.models.load_model(WEIGHTS, compile=False)
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 1)
    sidecar = storage.read_sidecar(WEIGHTS)
    assert sidecar["recipe"] == novelty.RECIPE and 0 < sidecar["threshold"] < 1
    assert "held-out" in sidecar["threshold_from"]
    assert all(
        entry.path.name != novelty.FILE for entry in catalog.discover(WEIGHTS.parent, WEIGHTS.parent / "none")
    )


def test_mnist_test_digits_and_mouse_like_drawings_stay_unflagged(detector, mnist):
    model, threshold = detector
    rng = np.random.default_rng(7)
    digits = mnist.x_test[rng.permutation(len(mnist.x_test))[:2000]]
    assert (novelty.scores(model, digits) > threshold).mean() <= 0.01
    drawn = shapes.mouse_drawings(mnist.x_test[:150], rng)
    assert (novelty.scores(model, drawn) > threshold).mean() <= 0.02  # 150 drawings: at most 3


def test_dots_lines_scribbles_squares_pairs_and_letters_are_flagged(detector, mnist):
    model, threshold = detector
    others = shapes.non_digits(30, mnist.x_test[5000:], shapes.TEST_FONTS, np.random.default_rng(11))
    rates = {
        kind: float((novelty.scores(model, images) > threshold).mean()) for kind, images in others.items()
    }
    assert all(rate >= 0.75 for rate in rates.values()), rates  # 30 each; the bench: 81–100 % on 500


def test_an_unlike_input_gets_the_line_and_every_reading_unsure():
    clean = np.zeros((28, 28), np.float32)
    clean[10:18, 10:18] = 1.0
    result = sweep.Sweep(
        (0.5,), clean[None], clean[None], (panels.PanelScore(9.0, 0.3),), (panels.PanelScore(20.0, 0.9),)
    )
    confident = Reading(0, 0.95)
    readings = sweep.Readings((confident,), (confident,), confident)
    flagged = payload.build(result, clean, "Denoised", readings, "id", (), unlike=True)
    assert flagged["notice"] == panels.UNLIKE_NOTICE
    assert flagged["readings"]["original"] == "Classifier is unsure: maybe 0 (95%)"
    assert all("unsure" in text for text in flagged["readings"]["denoised"])
    plain = payload.build(result, clean, "Denoised", readings, "id", ())
    assert plain["notice"] is None and plain["readings"]["original"] == "Classifier reads 0 (95%)"
