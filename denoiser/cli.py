"""`python -m denoiser train|evaluate|train-classifier|fetch-mnist`: the command-line face of the package.

Bad arguments end with one line on stderr and exit status 2; missing data or files with
exit status 1 and the reason, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


CURVE_AMOUNTS = (0.1, 0.3, 0.5, 0.7, 0.9)  # where --curve-size scores each kind after every epoch


class OneLineParser(argparse.ArgumentParser):
    """argparse, but errors are a single line (no usage dump) so scripts can show them as is."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def parse_sigmas(text: str) -> list[float]:
    """`0.1,0.3` → [0.1, 0.3], each within the slider's range and a bit beyond."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"σ list must be numbers separated by commas: {text!r}") from None
    if not values or any(not 0 <= v <= 2 for v in values):
        raise argparse.ArgumentTypeError(f"each σ must be between 0 and 2: {text!r}")
    return values


def parse_range(text: str) -> tuple[float, float]:
    """`0,1` → (0.0, 1.0)."""
    values = parse_sigmas(text)
    if len(values) != 2 or values[0] > values[1]:
        raise argparse.ArgumentTypeError(f"σ range must be LO,HI with LO ≤ HI: {text!r}")
    return values[0], values[1]


def positive_int(text: str) -> int:
    """An integer ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def parse_kinds(text: str) -> tuple[str, ...]:
    """`gaussian` or `gaussian,salt_and_pepper,speckle` → the kinds, each in noise.KINDS."""
    from denoiser.noise import KINDS

    kinds = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [kind for kind in kinds if kind not in KINDS]
    if not kinds or unknown or len(set(kinds)) != len(kinds):
        raise argparse.ArgumentTypeError(f"noise must be one or more of {'|'.join(KINDS)}: {text!r}")
    return kinds


def build_parser() -> argparse.ArgumentParser:
    """The `train` and `evaluate` subcommands."""
    from denoiser.models import REGISTRY

    parser = OneLineParser(prog="python -m denoiser", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    train = commands.add_parser("train", help="train a registered model and save it with a sidecar")
    train.add_argument("model", choices=list(REGISTRY))
    train.add_argument("--out", type=Path, required=True, help="where to write the .keras file")
    train.add_argument("--epochs", type=positive_int)
    train.add_argument("--batch-size", type=positive_int)
    train.add_argument("--sigma", type=float, help="fixed training σ (classic: 0.5)")
    train.add_argument("--sigma-range", type=parse_range, help="blind training, e.g. 0,1")
    train.add_argument("--train-size", type=positive_int, help="use the first N training digits")
    train.add_argument("--loss", choices=["binary_crossentropy", "mse", "mae"])
    train.add_argument("--learning-rate", type=float)
    train.add_argument("--schedule", choices=["constant", "cosine"], help="learning-rate schedule")
    train.add_argument("--seed", type=int)
    train.add_argument(
        "--noise",
        type=parse_kinds,
        help="gaussian|salt_and_pepper|speckle, or several joined by commas (a mixture)",
    )
    train.add_argument(
        "--noise-weights", type=parse_sigmas, help="how often each --noise kind is drawn, e.g. 1,2,1"
    )
    train.add_argument("--init-from", type=Path, help="start from this saved model of the same recipe")
    train.add_argument("--eval-sigmas", type=parse_sigmas, default=[round(0.1 * i, 1) for i in range(11)])
    train.add_argument("--eval-size", type=positive_int, default=10000)
    train.add_argument("--data-dir", type=Path, help="folder with the MNIST idx .gz files")
    train.add_argument(
        "--curve-size", type=positive_int, help="after each epoch, PSNR per kind on N test digits"
    )
    train.add_argument("--checkpoint", type=Path, help="save the model here after every epoch")

    classifier = commands.add_parser("train-classifier", help="train the digit classifier")
    classifier.add_argument("--out", type=Path, required=True)
    classifier.add_argument("--epochs", type=positive_int, default=6)
    classifier.add_argument("--data-dir", type=Path, help="folder with the MNIST idx .gz files")

    evaluate = commands.add_parser("evaluate", help="PSNR/SSIM of a saved model on the test set")
    evaluate.add_argument("weights", type=Path)
    evaluate.add_argument("--sigmas", type=parse_sigmas, default=[0.1, 0.3, 0.5, 0.7, 0.9])
    evaluate.add_argument("--limit", type=positive_int, help="only the first N test digits")
    evaluate.add_argument("--seed", type=int, default=1234)
    evaluate.add_argument("--noise", choices=["gaussian", "salt_and_pepper", "speckle"], default="gaussian")
    evaluate.add_argument("--data-dir", type=Path, help="folder with the MNIST idx .gz files")

    fetch = commands.add_parser("fetch-mnist", help="make a folder hold the four MNIST idx files")
    fetch.add_argument("folder", type=Path, help="kept as it is when it holds them, else downloaded into")
    return parser


def run_fetch_mnist(args: argparse.Namespace) -> int:
    """The image's build step: MNIST where MNIST_DIR says, from the build context or the network."""
    from denoiser.data import ensure_idx_dir

    print(ensure_idx_dir(args.folder))
    return 0


def run_train(args: argparse.Namespace) -> int:
    """Train, score on the test set, save atomically, print the table."""
    from denoiser import data, evaluate, train

    overrides = {
        key: value
        for key, value in {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "sigma_range": args.sigma_range,
            "train_size": args.train_size,
            "loss": args.loss,
            "learning_rate": args.learning_rate,
            "schedule": args.schedule,
            "seed": args.seed,
            "noise": args.noise,
            "noise_weights": tuple(args.noise_weights) if args.noise_weights else None,
            "init_from": str(args.init_from) if args.init_from else None,
        }.items()
        if value is not None
    }
    if args.sigma is not None:
        overrides["sigma"] = args.sigma
    elif args.sigma_range is not None:
        overrides["sigma"] = None
    config = train.TrainConfig.for_model(args.model, **overrides)
    config.validate()
    if config.init_from and not Path(config.init_from).is_file():
        raise FileNotFoundError(f"no such model file: {config.init_from}")
    mnist = data.load_mnist(args.data_dir)
    bar = ProgressBar()
    watch = None
    if args.curve_size or args.checkpoint:
        amounts = {kind: CURVE_AMOUNTS for kind in config.noise} if args.curve_size else {}
        images = mnist.x_test[-(args.curve_size or 1) :]  # the last digits: apart from validation's first
        printed = lambda row: print(f"epoch {row['epoch']}: {row}", file=sys.stderr, flush=True)  # noqa: E731
        watch = evaluate.EpochScores(
            images, amounts, str(args.checkpoint) if args.checkpoint else None, printed
        )
    result = train.train(config, mnist, on_progress=bar, callbacks=[watch] if watch else None)
    print(f"trained {config.model} in {result.seconds:.1f} s ({result.images_per_s:,.0f} images/s)")
    images = mnist.x_test[: args.eval_size]
    by_kind = {
        kind: evaluate.evaluate(result.model, images, args.eval_sigmas, kind=kind) for kind in config.noise
    }
    first = by_kind[config.noise[0]]
    extra: dict = {}
    if len(by_kind) > 1:  # a mixture: its scores on each kind, as the page picks a model per kind
        extra["scores_by_noise"] = {kind: [s.as_dict() for s in scores] for kind, scores in by_kind.items()}
    if watch is not None and watch.curve:
        extra["curve_by_noise"] = {"digits": len(watch.images), "epochs": watch.curve}
    path = train.save(result, args.out, [s.as_dict() for s in first], extra)
    for kind, scores in by_kind.items():
        print(f"{kind}:")
        print(evaluate.format_table(scores))
    print(f"saved {path} and {path.with_suffix('.json')}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """Load a saved model and print its table on the (first N) test digits."""
    if not args.weights.is_file():  # checked before TensorFlow loads, so the error comes fast
        raise FileNotFoundError(f"no such model file: {args.weights}")
    from denoiser import data, evaluate, storage

    model = storage.load_model(args.weights)
    mnist = data.load_mnist(args.data_dir)
    images = mnist.x_test[: args.limit]
    scores = evaluate.evaluate(model, images, args.sigmas, seed=args.seed, kind=args.noise)
    print(f"{args.weights} on {len(images):,} test digits ({args.noise} noise, seed {args.seed})")
    print(evaluate.format_table(scores))
    return 0


def run_train_classifier(args: argparse.Namespace) -> int:
    """Train the digit classifier on all training digits and save it with its sidecar."""
    from denoiser import classifier, data, storage

    mnist = data.load_mnist(args.data_dir)
    model, summary = classifier.train_classifier(mnist, epochs=args.epochs)
    storage.save_model_atomic(model, args.out, summary)
    print(f"test accuracy {summary['test_accuracy']:.4f}; saved {args.out}")
    return 0


class ProgressBar:
    """Keras's own Progbar, one per epoch, fed by the training callback."""

    def __init__(self) -> None:
        self.bar = None
        self.epoch = 0

    def __call__(self, progress) -> None:  # noqa: ANN001 - a train.Progress
        import keras

        if progress.epoch != self.epoch:
            self.epoch = progress.epoch
            print(f"Epoch {progress.epoch}/{progress.epochs}", file=sys.stderr)
            self.bar = keras.utils.Progbar(progress.steps, stateful_metrics=["loss"])
        values = [("loss", progress.loss)]
        if progress.history and progress.history[-1]["epoch"] == progress.epoch:
            values += [(k, v) for k, v in progress.history[-1].items() if k == "val_loss"]
        self.bar.update(progress.step, values=values)


def main(argv: list[str] | None = None) -> int:
    """Entry point; turns expected failures into one-line messages."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from denoiser.data import DataUnavailable

    try:
        commands = {
            "train": run_train,
            "evaluate": run_evaluate,
            "train-classifier": run_train_classifier,
            "fetch-mnist": run_fetch_mnist,
        }
        return commands[args.command](args)
    except (ValueError, DataUnavailable, FileNotFoundError, OSError) as error:
        print(f"{parser.prog} {args.command}: error: {error}", file=sys.stderr)
        return 1
