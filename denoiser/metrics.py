"""PSNR and SSIM against the clean digit, via TensorFlow's `tf.image` implementations.

Images are float in [0, 1], shaped (N, 28, 28, 1) or (N, 28, 28) or a single (28, 28).
A perfect copy has infinite PSNR; callers display that as ∞ rather than hide it.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def _as_batch(images: np.ndarray) -> tf.Tensor:
    """Bring any of the accepted shapes to (N, 28, 28, 1) float32."""
    array = np.asarray(images, dtype=np.float32)
    if array.ndim == 2:
        array = array[None]
    if array.ndim == 3:
        array = array[..., None]
    return tf.convert_to_tensor(array)


# Compiled once per input shape (then for any batch size): run eagerly, tf.image's PSNR and SSIM
# dispatch some thirty ops one by one from Python, ~4 ms for the page's two images here;
# traced, the same scores are one call of ~0.5 ms (and ~2.5× faster for a 202-image sweep).
@tf.function(reduce_retracing=True, autograph=False)
def _psnr(images: tf.Tensor, reference: tf.Tensor) -> tf.Tensor:
    return tf.image.psnr(images, reference, max_val=1.0)


@tf.function(reduce_retracing=True, autograph=False)
def _ssim(images: tf.Tensor, reference: tf.Tensor) -> tf.Tensor:
    return tf.image.ssim(images, reference, max_val=1.0)


def psnr(images: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per-image PSNR in dB (max value 1)."""
    return _psnr(_as_batch(images), _as_batch(reference)).numpy()


def ssim(images: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per-image SSIM (max value 1, TensorFlow's default 11×11 Gaussian window)."""
    return _ssim(_as_batch(images), _as_batch(reference)).numpy()


def mean_psnr(images: np.ndarray, reference: np.ndarray) -> float:
    """PSNR averaged over images (the mean of per-image dB, as the literature reports it)."""
    return float(np.mean(psnr(images, reference)))


def mean_ssim(images: np.ndarray, reference: np.ndarray) -> float:
    """SSIM averaged over images."""
    return float(np.mean(ssim(images, reference)))
