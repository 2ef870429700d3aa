"""Classical filters beside the networks: what a hand-made denoiser does with no learning.

Each filter is Pillow's own `ImageFilter` on one 28 × 28 image at a time. A filter has the one
method the page and the evaluation call on a network (`predict_on_batch`, on (N, 28, 28, 1)
float32 in [0, 1]), so it is listed, swept, scored and compared exactly as a model is.

- median 3 × 3: each pixel becomes the median of its 3 × 3 neighbourhood, on the float image
  (mode "F"): it removes isolated black and white pixels, the salt and pepper, and keeps edges;
- Gaussian blur: a weighted average over a neighbourhood (radius 0.7 px), on 8-bit pixels (mode
  "L", the only mode Pillow blurs in this way): it spreads noise out rather than removing it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

BLUR_RADIUS = 0.7  # px: of 0.5, 0.7, 1 and 1.5, the best PSNR at Gaussian σ 0.3 and 0.5 (500 test digits)


@dataclass(frozen=True)
class Filter:
    """A classical denoiser by name, usable wherever a model's `predict_on_batch` is."""

    name: str
    label: str
    description: str
    apply: Callable[[np.ndarray], np.ndarray]  # one (28, 28) float32 image in [0, 1] → the same

    def predict_on_batch(self, batch: np.ndarray) -> np.ndarray:
        """(N, 28, 28, 1) float32 → the same, each image filtered on its own."""
        batch = np.asarray(batch, dtype=np.float32)
        out = [self.apply(image[..., 0]) for image in batch]
        return np.stack(out)[..., None] if out else np.zeros_like(batch)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.predict_on_batch(batch)


def median3(image: np.ndarray) -> np.ndarray:
    """Pillow's 3 × 3 median filter on the float image (edges: Pillow extends the border)."""
    return np.asarray(Image.fromarray(image.astype(np.float32)).filter(ImageFilter.MedianFilter(3)))


def gaussian_blur(image: np.ndarray, radius: float = BLUR_RADIUS) -> np.ndarray:
    """Pillow's Gaussian blur on the image as 8-bit grey, back to [0, 1]."""
    grey = Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8))
    return np.asarray(grey.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255.0


FILTERS = {
    f.name: f
    for f in (
        Filter(
            "median3",
            "median 3×3 (filter)",
            "A classical 3 × 3 median filter, no learning: each pixel becomes the median of its "
            "neighbourhood. Good at salt and pepper, poor at Gaussian noise.",
            median3,
        ),
        Filter(
            "blur",
            "Gaussian blur (filter)",
            f"A classical Gaussian blur (radius {BLUR_RADIUS:g} px), no learning: it averages noise "
            "away and blurs the strokes with it.",
            gaussian_blur,
        ),
    )
}
