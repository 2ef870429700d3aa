"""Scoring a denoiser on the test set at a list of amounts of one noise kind: PSNR/SSIM of noisy input and output."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import keras
import numpy as np

from denoiser import metrics, noise, storage
from denoiser.classifier import accuracy
from denoiser.inference import denoise

DEFAULT_SIGMAS = (0.1, 0.3, 0.5, 0.7, 0.9)


@dataclass
class Score:
    """One row of the evaluation table."""

    sigma: float
    noisy_psnr: float
    psnr: float
    noisy_ssim: float
    ssim: float
    images_per_s: float
    noisy_accuracy: float | None = None  # the classifier's, when one is given
    accuracy: float | None = None
    clean_accuracy: float | None = None

    def as_dict(self) -> dict[str, float]:
        """Rounded for sidecars and tables; absent accuracies are left out."""
        return {k: round(float(v), 4) for k, v in asdict(self).items() if v is not None}


def evaluate(
    model: keras.Model,
    images: np.ndarray,
    sigmas: tuple[float, ...] | list[float] = DEFAULT_SIGMAS,
    seed: int = 1234,
    classifier: keras.Model | None = None,
    labels: np.ndarray | None = None,
    kind: str = noise.DEFAULT_KIND,
) -> list[Score]:
    """Score `model` on `images` at each amount (σ) of `kind`; the noise is the same for every
    model given the seed. With a classifier and labels, also how often it reads the noisy,
    denoised and clean digit. `model` is a Keras model or any callable on (N, 28, 28, 1) batches
    (a classical filter)."""
    field = noise.noise_field(np.shape(images), seed)
    denoise(model, images[:1])  # warm-up, so the timing measures steady-state speed
    read = classifier is not None and labels is not None
    clean_accuracy = accuracy(classifier, images, labels) if read else None
    scores = []
    for sigma in sigmas:
        noisy = noise.apply_noise(images, field, sigma, kind)
        started = time.perf_counter()
        out = denoise(model, noisy)
        seconds = time.perf_counter() - started
        scores.append(
            Score(
                sigma=float(sigma),
                noisy_psnr=metrics.mean_psnr(noisy, images),
                psnr=metrics.mean_psnr(out, images),
                noisy_ssim=metrics.mean_ssim(noisy, images),
                ssim=metrics.mean_ssim(out, images),
                images_per_s=len(images) / seconds if seconds else float("inf"),
                noisy_accuracy=accuracy(classifier, noisy, labels) if read else None,
                accuracy=accuracy(classifier, out, labels) if read else None,
                clean_accuracy=clean_accuracy,
            )
        )
    return scores


def format_table(scores: list[Score]) -> str:
    """A Markdown table, the same one the README shows."""
    lines = [
        "| σ | noisy PSNR (dB) | denoised PSNR (dB) | denoised SSIM | images/s |",
        "|---:|---:|---:|---:|---:|",
    ]
    for s in scores:
        lines.append(
            f"| {s.sigma:.2f} | {s.noisy_psnr:.2f} | {s.psnr:.2f} | {s.ssim:.3f} | {s.images_per_s:,.0f} |"
        )
    return "\n".join(lines)


class EpochScores(keras.callbacks.Callback):
    """After every epoch: PSNR per noise kind and amount on a few test digits (the training
    curve a mixture is judged by), and the model saved to `checkpoint` so a long run that is
    stopped keeps its last whole epoch."""

    def __init__(
        self,
        images: np.ndarray,
        amounts: dict[str, tuple[float, ...]],
        checkpoint: str | None = None,
        on_epoch: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        super().__init__()
        self.images, self.amounts, self.checkpoint, self.on_epoch = images, amounts, checkpoint, on_epoch
        self.curve: list[dict[str, Any]] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        row: dict[str, Any] = {"epoch": epoch + 1}
        for kind, amounts in self.amounts.items():
            scores = evaluate(self.model, self.images, amounts, kind=kind)
            row[kind] = {f"{s.sigma:g}": round(s.psnr, 2) for s in scores}
        self.curve.append(row)
        if self.checkpoint:
            storage.save_model_atomic(self.model, self.checkpoint)
        if self.on_epoch is not None:
            self.on_epoch(row)
