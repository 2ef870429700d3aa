"""Choose the blind model by measurement: each candidate architecture/loss gets the same budget.

Every candidate is trained blind (σ ~ U(0, 1) per image, fresh noise each epoch) on the same
training digits for the same number of epochs, then scored on the full test set at several σ
with the same noise. One-image latency through the page's path (`predict_on_batch`) is
reported as a ratio to classic's, measured in the same run.

    python bench/candidates.py                 # the full comparison (about 20 min on 2 cores)
    python bench/candidates.py --epochs 1 --train-size 2000 --test-size 500   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from denoiser import data, evaluate, storage, train  # noqa: E402

CANDIDATES = [("wide", "mse"), ("unet", "mse"), ("unet", "binary_crossentropy"), ("dncnn", "mse")]
SIGMAS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0)
EPOCHS = 2
RESULTS = Path(__file__).with_name("results")


def one_image_ms(model, image: np.ndarray, repeats: int = 200) -> float:
    """Median milliseconds for one image through predict_on_batch, the page's path."""
    batch = image.reshape(1, 28, 28, 1)
    model.predict_on_batch(batch)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict_on_batch(batch)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--test-size", type=int, default=10000)
    parser.add_argument("--out", type=Path, default=RESULTS / "candidates.md")
    args = parser.parse_args()

    mnist = data.load_mnist()
    test = mnist.x_test[: args.test_size]
    classic = storage.load_model(Path(__file__).resolve().parents[1] / "weights" / "classic.keras")
    rows = [("classic (shipped, σ = 0.5)", "bce", classic.count_params(), float("nan"), classic)]
    for name, loss in CANDIDATES:
        config = train.TrainConfig.for_model(
            name, epochs=args.epochs, train_size=args.train_size, loss=loss, val_size=0
        )
        result = train.train(config, mnist)
        print(f"{name}/{loss}: {result.seconds:.0f} s, {result.images_per_s:.0f} images/s", flush=True)
        rows.append((name, loss, result.model.count_params(), result.seconds, result.model))

    base_ms = one_image_ms(classic, test[0])
    header = "| model | loss | params | train s | " + " | ".join(f"σ={s:g}" for s in SIGMAS)
    header += " | 1-image ms | × classic |"
    lines = [
        f"Blind candidates, {args.epochs} epochs each on {args.train_size or 60000:,} digits; "
        f"mean PSNR (dB) on {len(test):,} test digits.",
        "",
        header,
        "|" + "---|" * (len(SIGMAS) + 6),
    ]
    noisy = evaluate.evaluate(classic, test, SIGMAS)
    lines.append("| noisy input | | | | " + " | ".join(f"{s.noisy_psnr:.2f}" for s in noisy) + " | | |")
    record = []
    for name, loss, params, seconds, model in rows:
        scores = evaluate.evaluate(model, test, SIGMAS)
        ms = one_image_ms(model, test[0])
        lines.append(
            f"| {name} | {loss} | {params:,} | {seconds:.0f} | ".replace("| nan |", "| — |")
            + " | ".join(f"{s.psnr:.2f}" for s in scores)
            + f" | {ms:.2f} | {ms / base_ms:.2f} |"
        )
        record.append(
            {
                "model": name,
                "loss": loss,
                "params": params,
                "train_seconds": seconds,
                "one_image_ms": ms,
                "scores": [s.as_dict() for s in scores],
            }
        )
    table = "\n".join(lines)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
