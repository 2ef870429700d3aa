"""Turning a canvas drawing or an uploaded picture into a 28×28 MNIST-style input.

Plain placeholder: the whole image is resized to 28×28. The MNIST-faithful version
(crop, fit 20×20, centre by mass) replaces the internals, keeping these signatures.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def canvas_to_mnist(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 canvas image → (28, 28) float32 in [0, 1], white digit on black."""
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected an (H, W, 4) RGBA image, got shape {rgba.shape}")
    ink = rgba[..., :3].astype(np.float32).mean(axis=2) * (rgba[..., 3] / 255.0)
    if ink.max() <= 0:
        raise ValueError("the canvas is empty: draw a digit")
    small = Image.fromarray(ink.astype(np.uint8)).resize((28, 28), Image.Resampling.LANCZOS)
    return np.clip(np.asarray(small, dtype=np.float32) / 255.0, 0.0, 1.0)


def image_to_mnist(image: Image.Image) -> np.ndarray:
    """A Pillow image of any mode → (28, 28) float32 in [0, 1], white digit on black."""
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    if grey.mean() > 127:  # dark ink on light paper
        grey = 255.0 - grey
    rgba = np.dstack([grey, grey, grey, np.full_like(grey, 255.0)]).astype(np.uint8)
    return canvas_to_mnist(rgba)
