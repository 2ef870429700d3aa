"""Training throughput: our `denoiser.train` path against a plain copy of the seed's script.

The seed's script draws all noise up front with NumPy and calls `model.fit` on the arrays;
ours draws fresh noise per batch inside `tf.data`. Same model (classic), same digits, same
epochs and batch size, alternated in one run so machine noise hits both; printed as a ratio.

    python bench/train_speed.py            # 20,000 digits × 3 epochs, 3 rounds
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from denoiser import data, models, train  # noqa: E402

TRAIN_SIZE = 20000
EPOCHS = 3
ROUNDS = 3
SIGMA = 0.5
BATCH = 256


def plain_seed_script(x_train: np.ndarray) -> float:
    """The seed recipe as its script wrote it; returns images/s over the whole `fit`."""
    keras.utils.set_random_seed(0)
    x = x_train[..., None]
    noisy = np.clip(x + SIGMA * np.random.normal(size=x.shape), 0.0, 1.0).astype("float32")
    model = models.build_classic()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    started = time.perf_counter()
    model.fit(noisy, x, epochs=EPOCHS, batch_size=BATCH, shuffle=True, verbose=0)
    return len(x) * EPOCHS / (time.perf_counter() - started)


def ours(mnist: data.Mnist, size: int) -> float:
    """`denoiser.train.train` with the same settings; images/s over the whole `fit`."""
    config = train.TrainConfig.for_model(
        "classic", epochs=EPOCHS, batch_size=BATCH, sigma=SIGMA, train_size=size, val_size=0
    )
    return train.train(config, mnist).images_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=TRAIN_SIZE)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    mnist = data.load_mnist()
    x_train = mnist.x_train[: args.train_size]
    plain, mine = [], []
    for round_ in range(args.rounds):
        plain.append(plain_seed_script(x_train))
        mine.append(ours(mnist, args.train_size))
        print(f"round {round_ + 1}: plain {plain[-1]:,.0f} images/s, ours {mine[-1]:,.0f} images/s")
    p, o = statistics.median(plain), statistics.median(mine)
    print(f"\nclassic, {args.train_size:,} digits × {EPOCHS} epochs, batch {BATCH}, median of {args.rounds}:")
    print("| path | images/s |\n|---|---:|")
    print(f"| seed script (NumPy noise up front, model.fit) | {p:,.0f} |")
    print(f"| denoiser.train (tf.data, fresh noise per batch) | {o:,.0f} |")
    print(f"ratio ours / plain: {o / p:.2f}")


if __name__ == "__main__":
    main()
