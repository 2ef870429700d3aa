"""Is this a digit? A small network that tells inputs like MNIST's digits from everything else.

The page's classifier reads *some* digit in anything (a dot as "0 (93%)"), and the signals one
would guess first do not separate digits from the rest: classic reproduces a filled square as
well as a digit (it is a local filter, not a model of digits), and neither the classifier's
confidence nor the distance of its features from the digits' flags more than a third of
scribbles or letters (docs/page.md, *Is this a digit?*). So the check is learned: a binary
network trained on MNIST's training digits and mouse-like drawings of them against
non-digits drawn with the same stroke maker (`bench/novelty.py --train`). Its threshold is the
score that only `ALLOWED` of held-out digits exceed, chosen from data and kept in the sidecar.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers

RECIPE = "digit_check"  # the sidecar's recipe: not a denoiser, the page's model list leaves it out
FILE = "digit_check.keras"
ALLOWED = 0.005  # the share of held-out digits the threshold lets be flagged (the target is ≤ 1 %)


@dataclass(frozen=True)
class Verdict:
    """How unlike MNIST's digits one input is: a score in [0, 1] and whether it passes the threshold."""

    score: float
    unlike: bool


def build_detector() -> keras.Model:
    """Two convolution blocks and a dense head: 28×28 in, the probability of "not a digit" out."""
    inputs = keras.Input(shape=(28, 28, 1), name="image")
    x = inputs
    for filters in (32, 64):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="unlike")(x)
    return keras.Model(inputs, outputs, name="digit_check")


def scores(model: keras.Model, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The detector's "not a digit" probability for each (28, 28) image in [0, 1]."""
    batch = np.asarray(images, dtype=np.float32).reshape((-1, 28, 28, 1))
    parts = [
        np.asarray(model.predict_on_batch(batch[i : i + batch_size]))
        for i in range(0, len(batch), batch_size)
    ]
    return np.concatenate(parts).reshape(-1) if parts else np.zeros(0, np.float32)


def judge(model: keras.Model, image: np.ndarray, threshold: float) -> Verdict:
    """One (28, 28) input: its score, and whether it is unlike the digits the detector was shown."""
    score = float(scores(model, image[None])[0])
    return Verdict(score, score > threshold)


def threshold_for(digit_scores: np.ndarray, allowed: float = ALLOWED) -> float:
    """The score that only `allowed` of these (held-out) digits exceed."""
    return float(np.quantile(np.asarray(digit_scores, np.float64), 1.0 - allowed))


def train_detector(
    digits: np.ndarray, others: np.ndarray, epochs: int = 4, seed: int = 0
) -> tuple[keras.Model, dict]:
    """Fit on digits (label 0) against non-digits (label 1), each class weighted to half the loss."""
    keras.utils.set_random_seed(seed)
    images = np.concatenate([digits, others]).astype(np.float32)[..., None]
    labels = np.concatenate([np.zeros(len(digits)), np.ones(len(others))]).astype(np.float32)
    weights = np.where(labels == 0, len(images) / (2 * len(digits)), len(images) / (2 * len(others)))
    model = build_detector()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    started = time.perf_counter()
    history = model.fit(
        images, labels, sample_weight=weights, batch_size=128, epochs=epochs, shuffle=True, verbose=2
    )
    summary = {
        "recipe": RECIPE,
        "description": build_detector.__doc__,
        "epochs": epochs,
        "seconds": round(time.perf_counter() - started, 1),
        "parameters": int(model.count_params()),
        "train_sizes": {"digits": len(digits), "others": len(others)},
        "loss": [round(float(v), 5) for v in history.history["loss"]],
    }
    return model, summary
