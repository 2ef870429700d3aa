"""How well each shipped denoiser and each classical filter works on every kind of noise at every
slider position, and whether it helps read the digit.

For every denoiser in weights/ and every filter in `denoiser.filters`, on the MNIST test set, for
each noise kind (Gaussian, salt and pepper, speckle) at amounts 0, 0.1, …, 1.0 (one fixed noise
field, the same for every model): mean PSNR and SSIM of the noisy input and of the output, and
the digit classifier's accuracy on noisy, denoised and clean images. Prints a table per kind,
draws docs/quality.png (one column per kind) and, on the full test set only, stores the rows
where the page reads its curves from: each model's sidecar ("scores" for Gaussian noise, as
before, and "scores_by_noise" for every kind) and the filters' denoiser/assets/filter_scores.json.

    python bench/quality.py                  # full test set, updates sidecars and the chart
    python bench/quality.py --limit 500      # a quick look; writes nothing unless asked
    python bench/quality.py --limit 2000 --write   # the first 2,000 digits, written (the sidecar says so)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from denoiser import data, evaluate, filters, noise, storage  # noqa: E402

SIGMAS = tuple(round(0.1 * i, 1) for i in range(11))
SEED = 1234
ORDER = ("classic", "blind", "mixture")  # shipped models first, in this order; others after
NOT_DENOISERS = ("classifier", "digit_check")  # models in weights/ that judge digits, not clean them
FILTER_SCORES = ROOT / "denoiser" / "assets" / "filter_scores.json"


def shipped_models(weights: Path) -> list[Path]:
    """Denoisers in `weights` (the classifier is not one), classic and blind first."""
    paths = [
        p
        for p in sorted(weights.glob("*.keras"))
        if storage.read_sidecar(p).get("recipe") not in NOT_DENOISERS
    ]
    return sorted(paths, key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else len(ORDER), p.stem))


def table(results: dict[str, list[evaluate.Score]]) -> str:
    """One Markdown table: a row per amount and denoiser, after the noisy input's own row."""
    lines = [
        "| amount | denoiser | PSNR (dB) | SSIM | accuracy |",
        "|---:|---|---:|---:|---:|",
    ]
    first = next(iter(results.values()))
    for i, sigma in enumerate(SIGMAS):
        s = first[i]
        lines.append(
            f"| {sigma:.1f} | *noisy input* | {s.noisy_psnr:.2f} | {s.noisy_ssim:.3f} | {100 * s.noisy_accuracy:.1f}% |"
        )
        for name, scores in results.items():
            s = scores[i]
            lines.append(f"| {sigma:.1f} | {name} | {s.psnr:.2f} | {s.ssim:.3f} | {100 * s.accuracy:.1f}% |")
    return "\n".join(lines)


def chart(results: dict[str, dict[str, list[evaluate.Score]]], path: Path) -> None:
    """PSNR (top) and classifier accuracy (bottom) against the amount, one column per noise kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(results)
    fig, axes = plt.subplots(2, len(kinds), figsize=(5 * len(kinds), 7.5), dpi=100, squeeze=False)
    for column, kind in enumerate(kinds):
        top, bottom = axes[0][column], axes[1][column]
        first = next(iter(results[kind].values()))
        top.plot(SIGMAS, [min(s.noisy_psnr, 45.0) for s in first], "k--", label="noisy")  # ∞ at 0, capped
        bottom.plot(SIGMAS, [100 * s.noisy_accuracy for s in first], "k--", label="noisy")
        for name, scores in results[kind].items():
            style = ":" if name in filters.FILTERS else "-"
            top.plot(SIGMAS, [min(s.psnr, 45.0) for s in scores], style, marker="o", ms=3, label=name)
            bottom.plot(SIGMAS, [100 * s.accuracy for s in scores], style, marker="o", ms=3, label=name)
        bottom.axhline(100 * first[0].clean_accuracy, color="grey", lw=0.8, label="clean")
        amount = noise.AMOUNT_NAMES[kind].lower()
        top.set(xlabel=amount, ylabel="PSNR (dB)", title=f"{noise.LABELS[kind]}: denoised PSNR", ylim=(0, 45))
        bottom.set(
            xlabel=amount, ylabel="classifier accuracy (%)", title=f"{noise.LABELS[kind]}: digits read"
        )
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, dict[str, list[evaluate.Score]]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="only the first N test digits (nothing is written)")
    parser.add_argument("--weights", type=Path, default=ROOT / "weights")
    parser.add_argument("--kinds", default=",".join(noise.KINDS), help="noise kinds, comma-separated")
    parser.add_argument("--chart", type=Path, help="where to draw the chart (default docs/quality.png)")
    parser.add_argument("--write", action="store_true", help="write the scores even with --limit")
    args = parser.parse_args(argv)
    kinds = [noise.check_kind(k.strip()) for k in args.kinds.split(",") if k.strip()]
    full = (args.limit is None or args.write) and len(kinds) == len(noise.KINDS)
    mnist = data.load_mnist()
    images, labels = mnist.x_test[: args.limit], mnist.y_test[: args.limit]
    classifier = storage.load_model(args.weights / "classifier.keras")
    paths = shipped_models(args.weights)
    denoisers = {p.stem: storage.load_model(p) for p in paths} | dict(filters.FILTERS)
    results: dict[str, dict[str, list[evaluate.Score]]] = {}
    for kind in kinds:
        results[kind] = {
            name: evaluate.evaluate(model, images, SIGMAS, SEED, classifier, labels, kind=kind)
            for name, model in denoisers.items()
        }
        print(f"\n{noise.LABELS[kind]} noise, {len(images):,} test digits, noise seed {SEED}")
        print(table(results[kind]))
    if full:
        write_scores(paths, results, len(images))
    chart_path = args.chart or (ROOT / "docs" / "quality.png" if full else None)
    if chart_path:
        chart(results, chart_path)
        print(f"chart: {chart_path}")
    return results


def write_scores(paths: list[Path], results: dict[str, dict[str, list[evaluate.Score]]], size: int) -> None:
    """Each model's rows into its sidecar, the filters' into the package's filter_scores.json."""
    rows = lambda name: {kind: [s.as_dict() for s in by_name[name]] for kind, by_name in results.items()}  # noqa: E731
    for path in paths:
        side = storage.read_sidecar(path)
        side["scores"] = rows(path.stem)[noise.DEFAULT_KIND]
        side["scores_by_noise"] = rows(path.stem)
        side["scores_seed"] = SEED
        side["scores_size"] = size  # the first N test digits the rows were measured on
        side.setdefault("noise", [noise.DEFAULT_KIND])  # earlier sidecars: trained on Gaussian noise only
        storage.write_json_atomic(storage.sidecar_path(path), side)
    measured = {name: rows(name) | {"seed": SEED, "size": size} for name in filters.FILTERS}
    storage.write_json_atomic(FILTER_SCORES, measured)
    print(f"scores written to {len(paths)} sidecars and {FILTER_SCORES.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
