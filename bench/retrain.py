"""Retraining from the page: does the page stay quick, does the child train as fast, and is every offered setting useful?

Three measurements, each printed as a Markdown table (the README and docs/retrain.md show them):

1. `panels`: app.py served with a runs folder in a temporary directory, driven in chromium as a
   visitor would. A new stroke on the canvas (a new digit) → the first frame with the new Noisy
   panel (bench/latency.py's probe and `new_digits`), idle, then while a training runs (started
   from the sidebar: classic, 60,000 digits, as many epochs as it takes; cancelled after), then
   idle again; the CPU the server and the child used while they competed. Three times in one
   run, one per way the server can start its child (`supervisor.START_WAYS`): a session of its
   own whose scheduler autogroup it niced (the default), a process group in the server's session
   and autogroup (where its own `nice` counts against the server, but the pair shares the CPU
   with chromium's group as an equal), and a session of its own at full group weight (the
   first way). Target: during a training at most 1.15 × idle.
2. `speed`: the page's training child (`supervisor.TrainingJobs`, the page's own path) against
   `python -m denoiser train` with the same config, both at this machine's defaults, and the
   command line again with the child's thread limits (to tell threads from overhead).
   Target: child ≥ 0.95 × command line.
3. `table`: every corner of what the sidebar offers (the smallest and the default run, at the
   lowest, default and highest σ; blind at its smallest run), each trained by the child as the
   page trains it: wall time from Start to the verdict, PSNR on the last 1,000 test digits at
   σ 0.1 / 0.5 / 0.9, and the verdict with the model's and the noisy input's PSNR at the
   training σ (each validation σ inside a blind range). `kinds`: the same for the other kinds of
   noise (salt and pepper, speckle) at their weakest corners, scored and judged on that kind.

    python bench/retrain.py                    # all three (about 15 minutes on 2 cores)
    python bench/retrain.py --only table       # or panels, speed, kinds
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
import load  # noqa: E402
from browser import CHROMIUM, CHROMIUM_ARGS, start_streamlit  # noqa: E402

from denoiser.page import catalog  # noqa: E402
from denoiser.train import TrainConfig  # noqa: E402
from denoiser.training import recipes, settings, supervisor  # noqa: E402
from denoiser.training.lock import LOCK_NAME  # noqa: E402

STROKES = 10  # new digits per phase (idle, training, idle again), each phase on a cleared canvas
CLI_RATE = re.compile(r"trained \S+ in [\d.]+ s \(([\d,]+) images/s\)")
SIDEBAR = "[data-testid='stSidebar']"
DEFAULT = dict(epochs=5, train_size=60000)  # the sidebar's defaults
SMALLEST = dict(epochs=settings.MIN_EPOCHS, train_size=min(settings.TRAIN_SIZES))
OFFERED = [  # (label, recipe, settings): the corners of what the sidebar offers
    ("classic σ 0.5, default", "classic", DEFAULT | {"sigma": 0.5}),
    ("classic σ 0.2, default", "classic", DEFAULT | {"sigma": 0.2}),
    ("classic σ 0.9, default", "classic", DEFAULT | {"sigma": 0.9}),
    ("classic σ 0.2, smallest", "classic", SMALLEST | {"sigma": 0.2}),
    ("classic σ 0.5, smallest", "classic", SMALLEST | {"sigma": 0.5}),
    ("classic σ 0.9, smallest", "classic", SMALLEST | {"sigma": 0.9}),
    ("blind U(0, 1), smallest", "unet_residual", SMALLEST | {"sigma": None, "sigma_range": (0.0, 1.0)}),
]
BLIND_RANGE = {"sigma": None, "sigma_range": (0.0, 1.0)}
KINDS_OFFERED = [  # the other kinds of noise at their weakest corners: the smallest run, lowest and highest amount
    (
        "classic salt and pepper p 0.2, smallest",
        "classic",
        SMALLEST | {"sigma": 0.2, "noise": ("salt_and_pepper",)},
    ),
    (
        "classic salt and pepper p 0.9, smallest",
        "classic",
        SMALLEST | {"sigma": 0.9, "noise": ("salt_and_pepper",)},
    ),
    ("classic speckle σ 0.2, smallest", "classic", SMALLEST | {"sigma": 0.2, "noise": ("speckle",)}),
    ("classic speckle σ 0.9, smallest", "classic", SMALLEST | {"sigma": 0.9, "noise": ("speckle",)}),
    (
        "blind salt and pepper U(0, 1), smallest",
        "unet_residual",
        SMALLEST | BLIND_RANGE | {"noise": ("salt_and_pepper",)},
    ),
    ("blind speckle U(0, 1), smallest", "unet_residual", SMALLEST | BLIND_RANGE | {"noise": ("speckle",)}),
]


def page_config(recipe: str, **settings) -> TrainConfig:
    """The config the page builds: the shipped model's loss, batch size, rate and schedule, with these settings."""
    shipped = recipes.shipped_sidecar(recipe, catalog.weights_dir())
    return recipes.retrain_config(recipe, shipped and shipped[1], **settings)


def train_as_the_page(config: TrainConfig, runs: Path) -> tuple[supervisor.JobState, float]:
    """One job through `supervisor.TrainingJobs` (the page's path, its thread and priority settings); (state, wall s)."""
    slot = supervisor.TrainingJobs(runs, keep=100, threads=settings.Options.from_env().threads)
    started = time.perf_counter()
    slot.start("bench", config)
    state = slot.wait()
    if state.status != "done":
        raise RuntimeError(f"{config}: {state.message}")
    return state, time.perf_counter() - started


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


def cli_rate(config: TrainConfig, out: Path, env: dict[str, str]) -> float:
    """Train `config` with the command line in a fresh process; the images/s it prints."""
    command = [sys.executable, "-m", "denoiser", "train", *cli_flags(config), "--eval-size", "1000"]
    result = subprocess.run(
        [*command, "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    return float(CLI_RATE.search(result.stdout).group(1).replace(",", ""))


def speed(scratch: Path) -> None:
    """The child's images/s against the command line's, same config."""
    config = page_config("classic", **DEFAULT, sigma=0.5)
    threads = str(settings.Options.from_env().threads)
    limited = dict(
        os.environ, TF_NUM_INTRAOP_THREADS=threads, TF_NUM_INTEROP_THREADS="1", OMP_NUM_THREADS=threads
    )
    child = train_as_the_page(config, scratch / "runs")[0].images_per_s
    cli = cli_rate(config, scratch / "cli.keras", dict(os.environ))
    cli_limited = cli_rate(config, scratch / "cli.keras", limited)
    print(f"\n{recipes.describe(config)}, batch {config.batch_size}, on {os.cpu_count()} cores:")
    print("| training | threads | images/s |\n|---|---:|---:|")
    print(f"| `python -m denoiser train` | TensorFlow's default | {cli:,.0f} |")
    print(f"| `python -m denoiser train` | {threads} (the child's) | {cli_limited:,.0f} |")
    print(f"| the page's child (`denoiser.worker`, nice {10}) | {threads} | {child:,.0f} |")
    print(
        f"child / command line: {child / cli:.2f}; child / command line with its threads: {child / cli_limited:.2f}"
    )


def table(scratch: Path, offered: list[tuple[str, str, dict]] = OFFERED) -> None:
    """Every offered corner, trained as the page trains it (PSNR on the kind it was trained on)."""
    print(
        "\n| setting | epochs × digits | wall s | PSNR at 0.1 | 0.5 | 0.9 | verdict (at the training amount) |"
    )
    print("|---|---|---:|---:|---:|---:|---|")
    for label, recipe, chosen in offered:
        config = page_config(recipe, **chosen)
        state, wall = train_as_the_page(config, scratch / "runs")
        psnr = {round(row["sigma"], 1): row["psnr"] for row in state.scores}
        print(
            f"| {label} | {config.epochs} × {config.train_size:,} | {wall:.0f} | {psnr[0.1]:.1f} | "
            f"{psnr[0.5]:.1f} | {psnr[0.9]:.1f} | {state.verdict} |",
            flush=True,
        )


def start_long_training(page) -> None:
    """Sidebar: the most epochs allowed on all digits, Start, until the first batch is reported."""
    sidebar = page.locator(SIDEBAR)
    sidebar.get_by_role("slider", name="Epochs").focus()
    page.keyboard.press("End")
    latency.settle(page)
    sidebar.get_by_role("button", name="Start training").click()
    sidebar.get_by_text(re.compile(r"^Epoch 1/")).wait_for(timeout=300_000)


def cancel_training(page) -> None:
    sidebar = page.locator(SIDEBAR)
    sidebar.get_by_role("button", name="Cancel").click()
    sidebar.get_by_text("Training cancelled").wait_for(timeout=60_000)
    latency.settle(page)


def strokes_on_a_fresh_canvas(page) -> list[float]:
    """Clear the canvas, draw a 7, then STROKES new strokes (bench/latency.py's strokes repeat
    every six, and on a canvas already full of them a stroke may change no pixel)."""
    page.get_by_role("button", name="Clear").click()
    page.locator("canvas.upper-canvas").wait_for(timeout=60_000)
    latency.settle(page)
    latency.draw(page)
    return latency.new_digits(page, STROKES)


WAYS = (  # (label, DENOISER_TRAINING_START_AS): how the server starts its training child
    ("autogroup: a session of its own, its autogroup niced 10 (the default)", "autogroup"),
    ("group: a process group in the server's session and autogroup", "group"),
    ("session: a session of its own at full group weight (the first way)", "session"),
)


def autogroup(pid: int) -> str:
    """`/autogroup-42 nice 10`: the scheduler group `pid` runs in and its nice (a session is one
    group under autogroups); empty where a cgroup, not an autogroup, shares the CPU."""
    try:
        return Path(f"/proc/{pid}/autogroup").read_text().strip()
    except OSError:
        return "?"


def training_child(runs: Path) -> int:
    """The running training process, as the machine's lock record names it."""
    return int(json.loads((runs / LOCK_NAME).read_text())["pid"])


def one_server(scratch: Path, start_as: str) -> dict:
    """New digit → new Noisy panel idle, while a training runs, and idle again, on a server that
    starts its child the given way; the CPU each used while they competed."""
    from playwright.sync_api import sync_playwright

    env = dict(
        os.environ,
        DENOISER_RUNS_DIR=str(scratch / "page-runs"),
        DENOISER_MAX_EPOCHS="1000",
        DENOISER_TRAIN_SIZES="60000",
        DENOISER_TRAINING_START_AS=start_as,
    )
    process, url = start_streamlit("app.py", ROOT, env)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = latency.open_page(browser, url, live=True)
            page.get_by_role("tab", name="Draw").click()
            idle = strokes_on_a_fresh_canvas(page)
            start_long_training(page)
            child = training_child(scratch / "page-runs")
            groups = (autogroup(process.pid), autogroup(child))
            cpu_before, wall_before = load.cpu_split(process.pid), time.monotonic()
            busy = strokes_on_a_fresh_canvas(page)
            cpu_after, wall = load.cpu_split(process.pid), time.monotonic() - wall_before
            still_training = page.get_by_role("button", name="Cancel").count() == 1
            cancel_training(page)
            idle += strokes_on_a_fresh_canvas(page)
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    server_cpu, child_cpu = (cpu_after[i] - cpu_before[i] for i in (0, 1))
    return {
        "idle": idle,
        "busy": busy,
        "server_cpu": server_cpu / wall,
        "child_cpu": child_cpu / wall,
        "share": server_cpu / max(server_cpu + child_cpu, 1e-9),
        "group": "the server's" if groups[0] == groups[1] else f"its own ({groups[1] or 'none'})",
        "still_training": still_training,
    }


def panels(scratch: Path) -> None:
    """New digit → new Noisy panel: idle, during a training, idle again; each way of starting the
    child, one after the other in this run."""
    found = {label: one_server(scratch / own, own) for label, own in WAYS}
    print(
        f"\nnew stroke (a new digit) → new Noisy panel, median of {STROKES} (training) and "
        f"{2 * STROKES} (idle) strokes per way; CPU while a training runs (cores busy, of {os.cpu_count()}):"
    )
    print(
        "| child started as | idle ms | training ms | training / idle | server CPU | child CPU "
        "| server's share | the child's autogroup |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for label, f in found.items():
        idle, busy = statistics.median(f["idle"]), statistics.median(f["busy"])
        ended = "" if f["still_training"] else " (the training ENDED early)"
        print(
            f"| {label} | {idle:.0f} | {busy:.0f} | {busy / idle:.2f}{ended} | {f['server_cpu']:.2f} "
            f"| {f['child_cpu']:.2f} | {f['share']:.0%} | {f['group']} |"
        )
    enabled = Path("/proc/sys/kernel/sched_autogroup_enabled")
    state = enabled.read_text().strip() if enabled.exists() else "absent"
    print(f"sched_autogroup_enabled: {state}; target: training / idle ≤ 1.15 (the default way)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["panels", "speed", "table", "kinds"], action="append")
    parser.add_argument(
        "--rows", help="with --only kinds: only the rows whose label contains this (e.g. speckle)"
    )
    args = parser.parse_args()
    chosen = args.only or ["panels", "speed", "table", "kinds"]
    rows = [row for row in KINDS_OFFERED if not args.rows or args.rows in row[0]]
    kinds = lambda scratch: table(scratch, rows)  # noqa: E731 - the table's second half
    with tempfile.TemporaryDirectory() as scratch:
        for name in chosen:
            {"panels": panels, "speed": speed, "table": table, "kinds": kinds}[name](Path(scratch))


if __name__ == "__main__":
    main()
