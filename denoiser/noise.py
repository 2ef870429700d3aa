"""Three kinds of noise, each a pure function of (clean digit, fixed random field, amount a in [0, 1]).

- gaussian: clip(x + a·z, 0, 1), z ~ N(0, 1) (the seed recipe; a is σ);
- salt_and_pepper: where(u < a, c, x), u ~ U(0, 1), c ∈ {0, 1} with equal chance: a fraction a
  of the pixels is replaced by black or white, and raising a only adds replaced pixels;
- speckle: clip(x + a·x·z, 0, 1), multiplicative, so the black background stays black.

A field holds z, u and c for every pixel, stacked on a leading axis of 3 and drawn in that
order from one generator: its first plane is the Gaussian field earlier versions drew. The
page keeps one field per digit and moves only the amount, so every slider position is a pure
function of (model, digit, field, kind) and the browser can scrub through all of them; training
draws fresh noise on the fly in `tf.data` with the same formulas (`tf_add_noise`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

KINDS = ("gaussian", "salt_and_pepper", "speckle")
DEFAULT_KIND = "gaussian"
LABELS = {"gaussian": "Gaussian", "salt_and_pepper": "Salt and pepper", "speckle": "Speckle"}
# What the amount a means for each kind, in the words the slider and captions use.
AMOUNT_NAMES = {"gaussian": "Noise σ", "salt_and_pepper": "Pixels replaced p", "speckle": "Speckle σ"}
AMOUNT_HELP = {
    "gaussian": "Standard deviation of the Gaussian noise added to every pixel.",
    "salt_and_pepper": "Fraction of the pixels replaced by black or white.",
    "speckle": "Standard deviation of the noise each pixel is multiplied by (1 + σ·z).",
}
SYMBOLS = {"gaussian": "σ", "salt_and_pepper": "p", "speckle": "σ"}  # the amount's letter in captions
PLANES = 3  # z, u, c


def amount_text(kind: str, amount: float) -> str:
    """`σ 0.50` for Gaussian noise, `p 0.30, salt and pepper` or `σ 0.50, speckle` for the others:
    an amount of `kind` as a caption writes it."""
    text = f"{SYMBOLS[check_kind(kind)]} {amount:.2f}"
    return text if kind == DEFAULT_KIND else f"{text}, {LABELS[kind].lower()}"


def check_kind(kind: str) -> str:
    """`kind` if it is one of KINDS, else ValueError listing them."""
    if kind not in KINDS:
        raise ValueError(f"noise kind must be one of {', '.join(KINDS)}; got {kind!r}")
    return kind


def noise_field(shape: tuple[int, ...], seed: int | np.random.Generator | None = 0) -> np.ndarray:
    """A (3, *shape) float32 field, reproducible from `seed`: z ~ N(0, 1), u ~ U(0, 1), c ∈ {0, 1}."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    z = rng.standard_normal(shape, dtype=np.float32)
    u = rng.random(shape, dtype=np.float32)
    c = (rng.random(shape, dtype=np.float32) < 0.5).astype(np.float32)
    return np.stack([z, u, c])


def planes(clean: np.ndarray, field: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(z, u, c) of `field` for `clean`; a bare N(0, 1) field of the image's shape gives (z, None, None)."""
    field = np.asarray(field, dtype=np.float32)
    if field.shape == np.shape(clean):
        return field, None, None
    if field.shape[:1] != (PLANES,):
        raise ValueError(f"a noise field is shaped (3, *image) or like the image, got {field.shape}")
    return field[0], field[1], field[2]


def apply_noise(clean: np.ndarray, field: np.ndarray, amount: float, kind: str = DEFAULT_KIND) -> np.ndarray:
    """`clean` corrupted by `kind` at `amount` with the fixed `field`; amount 0 gives the input exactly."""
    clean = np.asarray(clean, dtype=np.float32)
    check_kind(kind)
    if amount == 0:
        return clean.copy()
    z, u, c = planes(clean, field)
    a = np.float32(amount)
    if kind == "gaussian":
        return np.clip(clean + a * z, 0.0, 1.0).astype(np.float32)
    if kind == "speckle":
        return np.clip(clean + a * clean * z, 0.0, 1.0).astype(np.float32)
    if u is None:
        raise ValueError("salt-and-pepper noise needs a full field (noise_field), not a bare N(0, 1) one")
    return np.where(u < a, c, clean).astype(np.float32)


def add_noise(
    clean: np.ndarray, sigma: float, seed: int | np.random.Generator | None = 0, kind: str = DEFAULT_KIND
) -> np.ndarray:
    """Noisy copy of `clean` at `sigma` (the amount), the same for the same seed."""
    return apply_noise(clean, noise_field(np.shape(clean), seed), sigma, kind)


def tf_add_noise(clean: tf.Tensor, sigma: tf.Tensor, kind: str | tf.Tensor = DEFAULT_KIND) -> tf.Tensor:
    """In-graph noise for `tf.data`: the formulas above with fresh z, u, c on every call.

    `sigma` (the amount) is a scalar or one value per image (shape (N,)). `kind` is a name in
    KINDS, or a tensor of indices into KINDS, one per image, so that one batch mixes kinds
    (every kind is then computed and each image takes its own).
    """
    dtype = clean.dtype
    a = tf.cast(sigma, dtype)
    a = tf.reshape(a, tf.concat([tf.shape(a), tf.ones([3], tf.int32)], 0))
    if isinstance(kind, str):
        return _tf_kind(clean, a, check_kind(kind))
    k = tf.reshape(tf.cast(kind, tf.int32), [-1, 1, 1, 1])
    gaussian, salted, speckle = (_tf_kind(clean, a, name) for name in KINDS)
    return tf.where(k == 0, gaussian, tf.where(k == 1, salted, speckle))


def _tf_kind(clean: tf.Tensor, a: tf.Tensor, kind: str) -> tf.Tensor:
    """One kind at amount `a` (broadcastable to `clean`), with fresh random planes."""
    shape, dtype = tf.shape(clean), clean.dtype
    if kind == "salt_and_pepper":
        u = tf.random.uniform(shape, dtype=dtype)
        c = tf.cast(tf.random.uniform(shape, dtype=dtype) < 0.5, dtype)
        return tf.where(u < a, c, clean)
    z = tf.random.normal(shape, dtype=dtype)
    scale = a if kind == "gaussian" else a * clean
    return tf.clip_by_value(clean + scale * z, 0.0, 1.0)
