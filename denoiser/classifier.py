"""A small MNIST digit classifier: the page's and the benchmarks' judge of whether a digit is readable.

Trained on clean digits only (with small random shifts, rotations and zooms, so a drawn or
uploaded digit that is a little off MNIST's framing still reads), so that its accuracy on a
noisy or denoised image says how much of the digit survived.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import keras
import numpy as np
from keras import layers

from denoiser.data import Mnist


def build_classifier() -> keras.Model:
    """Two convolution blocks and a dense head; 266k parameters, >99% on the test set."""
    inputs = keras.Input(shape=(28, 28, 1), name="digit")
    x = layers.RandomRotation(0.04, fill_mode="constant")(inputs)
    x = layers.RandomTranslation(0.08, 0.08, fill_mode="constant")(x)
    x = layers.RandomZoom(0.08, fill_mode="constant")(x)
    for filters in (32, 64):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="classifier")


@dataclass
class Reading:
    """What the classifier reads in one image."""

    digit: int
    confidence: float


def read_digits(model: keras.Model, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities (N, 10) for (N, 28, 28) or (N, 28, 28, 1) images."""
    batch = np.asarray(images, dtype=np.float32).reshape((-1, 28, 28, 1))
    return np.concatenate(
        [
            np.asarray(model.predict_on_batch(batch[i : i + batch_size]))
            for i in range(0, len(batch), batch_size)
        ]
    )


def read_digit(model: keras.Model, image: np.ndarray) -> Reading:
    """The most likely digit in one (28, 28) image and the classifier's confidence in it."""
    probabilities = read_digits(model, image[None])[0]
    digit = int(np.argmax(probabilities))
    return Reading(digit, float(probabilities[digit]))


def accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of images read as their label."""
    return float(np.mean(np.argmax(read_digits(model, images), axis=1) == labels))


def train_classifier(data: Mnist, epochs: int = 6, seed: int = 0) -> tuple[keras.Model, dict]:
    """Fit on all training digits; returns the model and a sidecar-ready summary."""
    keras.utils.set_random_seed(seed)
    model = build_classifier()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch: 1e-3 * 0.6**epoch)
    started = time.perf_counter()
    history = model.fit(
        data.x_train[..., None],
        data.y_train,
        batch_size=128,
        epochs=epochs,
        callbacks=[schedule],
        verbose=2,
    )
    seconds = time.perf_counter() - started
    summary = {
        "recipe": "classifier",
        "description": build_classifier.__doc__,
        "epochs": epochs,
        "seconds": round(seconds, 1),
        "parameters": int(model.count_params()),
        "data": {"checksum": data.checksum, "train_size": len(data.x_train), "source": data.source},
        "final_loss": float(history.history["loss"][-1]),
        "test_accuracy": accuracy(model, data.x_test, data.y_test),
    }
    return model, summary
