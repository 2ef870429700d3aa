"""Gaussian noise as the seed recipe makes it: clip(x + σ·N(0,1), 0, 1).

The page keeps one N(0,1) field per image and scales it by σ, so moving the slider changes
only the strength of the same noise; training draws fresh noise on the fly in `tf.data`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def noise_field(shape: tuple[int, ...], seed: int | np.random.Generator | None = 0) -> np.ndarray:
    """A standard-normal float32 field, reproducible from `seed`."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return rng.standard_normal(shape, dtype=np.float32)


def apply_noise(clean: np.ndarray, field: np.ndarray, sigma: float) -> np.ndarray:
    """Scale a fixed field by σ and clip; σ = 0 gives back the input exactly."""
    if sigma == 0:
        return np.asarray(clean, dtype=np.float32).copy()
    return np.clip(clean + np.float32(sigma) * field, 0.0, 1.0).astype(np.float32)


def add_noise(clean: np.ndarray, sigma: float, seed: int | np.random.Generator | None = 0) -> np.ndarray:
    """Noisy copy of `clean` at strength σ, the same for the same seed."""
    return apply_noise(clean, noise_field(np.shape(clean), seed), sigma)


def tf_add_noise(clean: tf.Tensor, sigma: tf.Tensor) -> tf.Tensor:
    """In-graph noise for `tf.data`; `sigma` is a scalar or one value per image (shape (N,))."""
    sigma = tf.cast(sigma, clean.dtype)
    sigma = tf.reshape(sigma, tf.concat([tf.shape(sigma), tf.ones([3], tf.int32)], 0))
    noisy = clean + sigma * tf.random.normal(tf.shape(clean), dtype=clean.dtype)
    return tf.clip_by_value(noisy, 0.0, 1.0)
