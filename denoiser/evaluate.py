"""Scoring a denoiser on the test set at a list of σ: PSNR/SSIM of noisy input and output."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import keras
import numpy as np

from denoiser import metrics, noise
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

    def as_dict(self) -> dict[str, float]:
        """Rounded for sidecars and tables."""
        return {k: round(float(v), 4) for k, v in asdict(self).items()}


def evaluate(
    model: keras.Model,
    images: np.ndarray,
    sigmas: tuple[float, ...] | list[float] = DEFAULT_SIGMAS,
    seed: int = 1234,
) -> list[Score]:
    """Score `model` on `images` at each σ; the noise is the same for every model given the seed."""
    field = noise.noise_field(np.shape(images), seed)
    denoise(model, images[:1])  # warm-up, so the timing measures steady-state speed
    scores = []
    for sigma in sigmas:
        noisy = noise.apply_noise(images, field, sigma)
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
