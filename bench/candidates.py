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

CANDIDATES = [
    ("wide", "mse"),
    ("unet", "mse"),
    ("unet", "binary_crossentropy"),
    ("dncnn", "mse"),
    ("unet_residual", "mse"),
]
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


def measure(name: str, loss: str, model, seconds: float, test: np.ndarray, base_ms: float) -> dict:  # noqa: ANN001
    """Scores and one-image latency of a trained candidate, as one JSON-ready record."""
    ms = one_image_ms(model, test[0])
    return {
        "model": name,
        "loss": loss,
        "params": int(model.count_params()),
        "train_seconds": seconds,
        "one_image_ms": ms,
        "vs_classic": ms / base_ms,
        "scores": [s.as_dict() for s in evaluate.evaluate(model, test, SIGMAS)],
    }


def render(records: list[dict], epochs: int, train_size: int, test_size: int) -> str:
    """The Markdown table of every record, noisy input first."""
    header = "| model | loss | params | train s | " + " | ".join(f"σ={s:g}" for s in SIGMAS)
    lines = [
        f"Blind candidates, {epochs} epochs each on {train_size:,} digits; "
        f"mean PSNR (dB) on {test_size:,} test digits; 1-image latency via predict_on_batch.",
        "",
        header + " | 1-image ms | × classic |",
        "|" + "---|" * (len(SIGMAS) + 6),
        "| noisy input | | | | "
        + " | ".join(f"{r['noisy_psnr']:.2f}" for r in records[0]["scores"])
        + " | | |",
    ]
    for r in records:
        seconds = "—" if r["train_seconds"] is None else f"{r['train_seconds']:.0f}"
        lines.append(
            f"| {r['model']} | {r['loss']} | {r['params']:,} | {seconds} | "
            + " | ".join(f"{row['psnr']:.2f}" for row in r["scores"])
            + f" | {r['one_image_ms']:.2f} | {r['vs_classic']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--test-size", type=int, default=10000)
    parser.add_argument("--only", help="train just these (name/loss,...) and merge into the saved results")
    parser.add_argument("--out", type=Path, default=RESULTS / "candidates.md")
    args = parser.parse_args()

    mnist = data.load_mnist()
    test = mnist.x_test[: args.test_size]
    classic = storage.load_model(Path(__file__).resolve().parents[1] / "weights" / "classic.keras")
    base_ms = one_image_ms(classic, test[0])
    chosen = [tuple(c.split("/")) for c in args.only.split(",")] if args.only else CANDIDATES
    saved = args.out.with_suffix(".json")
    records = json.loads(saved.read_text()) if args.only and saved.exists() else []
    records = [
        r for r in records if (r["model"], r["loss"]) not in chosen and not r["model"].startswith("classic")
    ]
    records.insert(0, measure("classic", "binary_crossentropy", classic, None, test, base_ms))
    for name, loss in chosen:
        config = train.TrainConfig.for_model(
            name, epochs=args.epochs, train_size=args.train_size, loss=loss, val_size=0
        )
        result = train.train(config, mnist)
        print(f"{name}/{loss}: {result.seconds:.0f} s, {result.images_per_s:.0f} images/s", flush=True)
        records.append(measure(name, loss, result.model, result.seconds, test, base_ms))
    table = render(records, args.epochs, args.train_size or 60000, len(test))
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table + "\n")
    saved.write_text(json.dumps(records, indent=2) + "\n")


if __name__ == "__main__":
    main()
