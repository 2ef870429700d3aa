"""How well each shipped denoiser works at every slider position, and whether it helps read the digit.

For every denoiser in weights/ on the MNIST test set at σ = 0, 0.1, …, 1.0 (one fixed noise
draw, the same for every model): mean PSNR and SSIM of the noisy input and of the output, and
the digit classifier's accuracy on noisy, denoised and clean images. Prints the table, draws
docs/quality.png, and (full test set only) stores the rows in each model's sidecar under
"scores", which is where the page reads its curves from.

    python bench/quality.py                  # full test set, updates sidecars and the chart
    python bench/quality.py --limit 500      # a quick look; writes nothing unless asked
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from denoiser import data, evaluate, storage  # noqa: E402

SIGMAS = tuple(round(0.1 * i, 1) for i in range(11))
SEED = 1234
ORDER = ("classic", "blind")  # shipped models first, in this order; others after


def shipped_models(weights: Path) -> list[Path]:
    """Denoisers in `weights` (the classifier is not one), classic and blind first."""
    paths = [
        p for p in sorted(weights.glob("*.keras")) if storage.read_sidecar(p).get("recipe") != "classifier"
    ]
    return sorted(paths, key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else len(ORDER), p.stem))


def table(results: dict[str, list[evaluate.Score]]) -> str:
    """One Markdown table: a row per σ and model, noisy figures repeated for reading ease."""
    lines = [
        "| σ | model | noisy PSNR | PSNR | noisy SSIM | SSIM | acc. noisy | acc. denoised | acc. clean |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i, sigma in enumerate(SIGMAS):
        for name, scores in results.items():
            s = scores[i]
            lines.append(
                f"| {sigma:.1f} | {name} | {s.noisy_psnr:.2f} | {s.psnr:.2f} | {s.noisy_ssim:.3f} | "
                f"{s.ssim:.3f} | {100 * s.noisy_accuracy:.1f}% | {100 * s.accuracy:.1f}% | "
                f"{100 * s.clean_accuracy:.1f}% |"
            )
    return "\n".join(lines)


def chart(results: dict[str, list[evaluate.Score]], path: Path) -> None:
    """PSNR and accuracy against σ, one line per model plus the noisy input."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    first = next(iter(results.values()))
    noisy_psnr = [min(s.noisy_psnr, 45.0) for s in first]  # σ = 0 is infinite; cap it for the plot
    left.plot(SIGMAS, noisy_psnr, "k--", label="noisy")
    right.plot(SIGMAS, [100 * s.noisy_accuracy for s in first], "k--", label="noisy")
    for name, scores in results.items():
        left.plot(SIGMAS, [s.psnr for s in scores], marker="o", label=name)
        right.plot(SIGMAS, [100 * s.accuracy for s in scores], marker="o", label=name)
    right.axhline(100 * first[0].clean_accuracy, color="grey", lw=0.8, label="clean")
    left.set(xlabel="noise σ", ylabel="PSNR (dB)", title="Denoised PSNR", ylim=(0, 45))
    right.set(xlabel="noise σ", ylabel="classifier accuracy (%)", title="Digits read correctly")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, list[evaluate.Score]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="only the first N test digits (nothing is written)")
    parser.add_argument("--weights", type=Path, default=ROOT / "weights")
    parser.add_argument("--chart", type=Path, help="where to draw the chart (default docs/quality.png)")
    args = parser.parse_args(argv)
    full = args.limit is None
    mnist = data.load_mnist()
    images, labels = mnist.x_test[: args.limit], mnist.y_test[: args.limit]
    classifier = storage.load_model(args.weights / "classifier.keras")
    results = {}
    for path in shipped_models(args.weights):
        model = storage.load_model(path)
        results[path.stem] = evaluate.evaluate(model, images, SIGMAS, SEED, classifier, labels)
        if full:
            side = storage.read_sidecar(path)
            side["scores"] = [s.as_dict() for s in results[path.stem]]
            side["scores_seed"] = SEED
            storage.write_json_atomic(storage.sidecar_path(path), side)
    print(f"{len(images):,} test digits, noise seed {SEED}")
    print(table(results))
    chart_path = args.chart or (ROOT / "docs" / "quality.png" if full else None)
    if chart_path:
        chart(results, chart_path)
        print(f"chart: {chart_path}")
    return results


if __name__ == "__main__":
    main()
