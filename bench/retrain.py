"""Retraining inside the app: does it train as fast as the command line, and does the page stay quick?

Serves app.py (runs folder in a temporary directory) and drives it in a real browser, as a
visitor would: draws a 7, then presses *Start training* in the sidebar. The job runs in the
server's training thread (jobs.TrainingJobs) while the page polls its progress every second;
its images/s comes from the sidecar the app saves. `python -m denoiser train` then trains the
same config (same model, digits, epochs, batch size, σ, loss, schedule, seed) in its own
process and prints its images/s. The two alternate, `--rounds` times each.

Then the σ slider, moved one step at a time (bench/latency.py's measuring code): slider →
updated Noisy panel, idle, then for as long as one more training runs (that job's images/s
is reported too), then idle again.

    python bench/retrain.py                         # classic, 20,000 digits × 3 epochs, 2 rounds
    python bench/retrain.py --model unet_residual --train-size 6000 --epochs 1
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import latency  # noqa: E402

from denoiser import models  # noqa: E402
from denoiser.page import catalog, jobs  # noqa: E402
from denoiser.train import TrainConfig  # noqa: E402

MODEL = "classic"
TRAIN_SIZE = 20000
EPOCHS = 3
ROUNDS = 2
MOVES = 20
SIDEBAR = "[data-testid='stSidebar']"
PROGRESS = f"{SIDEBAR} [data-testid='stProgress']"
CLI_RATE = re.compile(r"trained \S+ in [\d.]+ s \(([\d,]+) images/s\)")


def app_config(recipe: str, train_size: int, epochs: int) -> TrainConfig:
    """The config the page builds for these settings (σ and the rest at the page's defaults)."""
    spec = models.get_spec(recipe)
    shipped = jobs.shipped_sidecar(recipe, catalog.weights_dir())
    noise = (
        {"sigma": spec.sigma} if spec.sigma is not None else {"sigma": None, "sigma_range": spec.sigma_range}
    )
    return jobs.retrain_config(recipe, shipped and shipped[1], epochs=epochs, train_size=train_size, **noise)


def cli_flags(config: TrainConfig) -> list[str]:
    """`python -m denoiser train` arguments that rebuild exactly `config`."""
    noise = (
        ["--sigma", str(config.sigma)]
        if config.sigma is not None
        else ["--sigma-range", f"{config.sigma_range[0]},{config.sigma_range[1]}"]
    )
    return [
        config.model,
        *noise,
        *["--epochs", str(config.epochs), "--batch-size", str(config.batch_size)],
        *["--train-size", str(config.train_size), "--loss", config.loss or "mse"],
        *[
            "--learning-rate",
            str(config.learning_rate),
            "--schedule",
            config.schedule,
            "--seed",
            str(config.seed),
        ],
    ]


def cli_rate(config: TrainConfig, out: Path) -> float:
    """Train `config` with the command line in a fresh process; the images/s it prints."""
    command = [sys.executable, "-m", "denoiser", "train", *cli_flags(config), "--eval-size", "1000"]
    result = subprocess.run(
        [*command, "--out", str(out)], cwd=ROOT, capture_output=True, text=True, check=True, timeout=3600
    )
    return float(CLI_RATE.search(result.stdout).group(1).replace(",", ""))


def set_epochs(page, epochs: int) -> None:
    """Move the sidebar's Epochs slider to `epochs` with the keyboard."""
    slider = page.locator(SIDEBAR).get_by_role("slider", name="Epochs")
    slider.focus()
    page.keyboard.press("Home")
    for _ in range(epochs - 1):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        f"() => document.querySelector(\"input[aria-label='Epochs']\").value === '{epochs}'"
    )
    page.wait_for_function(latency.IDLE, timeout=60_000, polling=20)


def start_training(page, recipe: str, epochs: int) -> None:
    """Pick the model and epochs, press Start, and wait until the progress panel shows."""
    sidebar = page.locator(SIDEBAR)
    if recipe != "classic":
        sidebar.get_by_text(f"blind ({recipe})").click()
        page.wait_for_function(latency.IDLE, timeout=60_000, polling=20)
    set_epochs(page, epochs)
    sidebar.get_by_role("button", name="Start training").click()
    page.wait_for_function(f"() => !!document.querySelector(`{PROGRESS}`)", timeout=60_000, polling=20)


def training_active(page) -> bool:
    return page.locator(PROGRESS).count() > 0


def wait_until_saved(page, runs: Path, before: set[Path]) -> dict:
    """Wait for the job to finish; the sidecar of the model it saved."""
    page.locator(SIDEBAR).get_by_text("Saved as").wait_for(timeout=3_600_000)
    (new,) = set(runs.glob("*.json")) - before
    return json.loads(new.read_text())


def app_rate(page, runs: Path, recipe: str, epochs: int) -> float:
    """One retrain through the page, the visitor's page open (and polling) but untouched."""
    before = set(runs.glob("*.json"))
    start_training(page, recipe, epochs)
    return float(wait_until_saved(page, runs, before)["images_per_s"])


def slider_moves(page, count: int | None) -> list[tuple[float, float]]:
    """σ steps (panels, settled seconds): `count` of them, or with None as many as the running job outlasts.

    Ten steps right, ten left, and so on, so either phase can go on as long as it needs to.
    """
    page.locator(latency.SLIDER).focus()
    page.keyboard.press("Home")
    page.wait_for_function(latency.IDLE, timeout=60_000, polling=20)
    timings = []
    while (len(timings) < count) if count is not None else training_active(page):
        key = "ArrowRight" if len(timings) // 10 % 2 == 0 else "ArrowLeft"
        timing = latency.press(page, key)
        if count is not None or training_active(page):  # a move the job outlasted
            timings.append(timing)
        time.sleep(0.05)
    return timings


def median_ms(timings: list[tuple[float, float]], i: int) -> float:
    return 1000 * statistics.median(t[i] for t in timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default=MODEL, choices=["classic", jobs.improved_recipe(catalog.weights_dir())]
    )
    parser.add_argument("--train-size", type=int, default=TRAIN_SIZE)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--moves", type=int, default=MOVES, help="slider moves before and after the training")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    config = app_config(args.model, args.train_size, args.epochs)
    with tempfile.TemporaryDirectory() as scratch:
        runs = Path(scratch) / "runs"
        env = dict(
            os.environ,
            DENOISER_RUNS_DIR=str(runs),
            DENOISER_TRAIN_SIZES=str(args.train_size),
            DENOISER_MAX_EPOCHS=str(max(20, 3 * args.epochs)),
            DENOISER_KEEP_RUNS="20",
        )
        process, url = latency.serve("app.py", env)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(latency.CHROMIUM), args=latency.CHROMIUM_ARGS
                )
                page = latency.open_settled(browser, url)
                latency.draw(page)
                page.locator(latency.SLIDER).focus()
                latency.press(page, "Home")
                app, cli = [], []
                for round_ in range(args.rounds):
                    app.append(app_rate(page, runs, args.model, args.epochs))
                    cli.append(cli_rate(config, Path(scratch) / "cli.keras"))
                    print(
                        f"round {round_ + 1}: app {app[-1]:,.0f} images/s, command line {cli[-1]:,.0f} images/s"
                    )
                idle = slider_moves(page, args.moves)
                before = set(runs.glob("*.json"))
                start_training(page, args.model, args.epochs)
                busy = slider_moves(page, None)  # for as long as the job trains
                busy_rate = float(wait_until_saved(page, runs, before)["images_per_s"])
                idle += slider_moves(page, args.moves)
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
    a, c = statistics.median(app), statistics.median(cli)
    print(
        f"\n{config.model}, {config.train_size:,} digits × {config.epochs} epochs, batch {config.batch_size}:"
    )
    print("| path | images/s (median) |\n|---|---:|")
    print(f"| `python -m denoiser train` (own process) | {c:,.0f} |")
    print(f"| the page's training thread, page open and polling | {a:,.0f} |")
    print(
        f"| the page's training thread, a visitor moving the σ slider throughout | {busy_rate:,.0f} (one run) |"
    )
    print(f"ratio app / command line: {a / c:.2f}")
    print(
        f"\nσ slider → panels, median ms (panels updated / script settled), {len(idle)} moves idle, {len(busy)} while training:"
    )
    print(f"  idle      {median_ms(idle, 0):6.0f} {median_ms(idle, 1):8.0f}")
    print(f"  training  {median_ms(busy, 0):6.0f} {median_ms(busy, 1):8.0f}")
    print(
        f"  ratio     {median_ms(busy, 0) / median_ms(idle, 0):6.2f} {median_ms(busy, 1) / median_ms(idle, 1):8.2f}"
    )


if __name__ == "__main__":
    main()
