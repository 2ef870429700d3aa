"""Every slider position at once: one digit, one noise field, all 101 amounts in a few batched calls.

The noise field stays fixed while the slider moves, so the page's panels at σ = 0.00 … 1.00
(the amount of whichever noise kind is chosen) are a pure function of (model, digit, field, kind). Computing them together costs about what four
single-image TensorFlow calls cost (one each for the denoiser, PSNR, SSIM and classifier),
and afterwards a slider move is an index into arrays: no TensorFlow on the slider's path.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from denoiser import classifier, noise
from denoiser.inference import denoise
from denoiser.page import panels

GRID = tuple(round(0.01 * i, 2) for i in range(101))  # the slider's positions


@dataclass(frozen=True)
class Sweep:
    """Noisy inputs, the model's outputs and their scores against the clean digit, one row per σ."""

    sigmas: tuple[float, ...]
    noisy: np.ndarray  # (S, 28, 28)
    denoised: np.ndarray  # (S, 28, 28)
    noisy_scores: tuple[panels.PanelScore, ...]
    denoised_scores: tuple[panels.PanelScore, ...]

    def index(self, sigma: float) -> int:
        """The row for σ (to the slider's 0.01 resolution)."""
        for i, value in enumerate(self.sigmas):
            if abs(value - sigma) < 1e-9:
                return i
        raise KeyError(f"σ = {sigma} is not in this sweep")


@dataclass(frozen=True)
class Readings:
    """What the classifier reads in each noisy and denoised image of a sweep, and in the original."""

    noisy: tuple[classifier.Reading, ...]
    denoised: tuple[classifier.Reading, ...]
    original: classifier.Reading


def sigmas_for(sigma: float) -> tuple[float, ...]:
    """The whole grid when σ is a slider position; otherwise just σ (set by code, say)."""
    on_grid = abs(round(sigma * 100) - sigma * 100) < 1e-6 and 0 <= sigma <= 1
    return GRID if on_grid else (float(sigma),)


def run(
    model: keras.Model,
    clean: np.ndarray,
    field: np.ndarray,
    sigmas: tuple[float, ...] = GRID,
    kind: str = noise.DEFAULT_KIND,
) -> Sweep:
    """Noise `clean` with `field` (of `kind`) at every amount, denoise all of them in one batch,
    score against `clean`. `model` is a network or a classical filter (`denoiser.filters`)."""
    noisy = np.stack([noise.apply_noise(clean, field, sigma, kind) for sigma in sigmas])
    denoised = denoise(model, noisy)
    scores = panels.score_panels(np.concatenate([noisy, denoised]), clean)
    return Sweep(tuple(sigmas), noisy, denoised, tuple(scores[: len(sigmas)]), tuple(scores[len(sigmas) :]))


def read(model: keras.Model, sweep: Sweep, clean: np.ndarray) -> Readings:
    """The classifier's reading of every image in the sweep and of the original, in one call."""
    probabilities = classifier.read_digits(model, np.concatenate([sweep.noisy, sweep.denoised, clean[None]]))
    found = [classifier.Reading(int(p.argmax()), float(p.max())) for p in probabilities]
    count = len(sweep.sigmas)
    return Readings(tuple(found[:count]), tuple(found[count : 2 * count]), found[-1])
