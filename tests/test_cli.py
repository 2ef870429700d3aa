"""The command line: evaluate on a subset, train a tiny model, and one-line errors."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, env_mnist=None):
    import os

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if env_mnist is not None:
        env["MNIST_DIR"] = str(env_mnist)
    return subprocess.run(
        [sys.executable, "-m", "denoiser", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_evaluate_prints_the_table_for_the_shipped_classic_model(mnist_path):
    result = run_cli(
        "evaluate",
        "weights/classic.keras",
        "--sigmas",
        "0.1,0.5",
        "--limit",
        "300",
        env_mnist=mnist_path,
    )
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| 0.")]
    assert len(rows) == 2
    cells = [float(c.replace(",", "")) for c in rows[1].strip("|").split("|")]
    sigma, noisy_psnr, psnr, ssim, speed = cells
    assert sigma == 0.5 and psnr > noisy_psnr + 5 and 0.5 < ssim <= 1 and speed > 0


def test_train_writes_a_model_and_its_sidecar(mnist_path, tmp_path):
    out = tmp_path / "tiny.keras"
    result = run_cli(
        "train",
        "classic",
        "--epochs",
        "1",
        "--train-size",
        "512",
        "--eval-size",
        "100",
        "--eval-sigmas",
        "0.5",
        "--out",
        str(out),
        env_mnist=mnist_path,
    )
    assert result.returncode == 0, result.stderr
    assert out.is_file() and out.with_suffix(".json").is_file()
    assert "| 0.50 |" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["evaluate", "weights/classic.keras", "--sigmas", "abc"], "σ list must be numbers"),
        (["evaluate", "weights/classic.keras", "--sigmas", "3"], "between 0 and 2"),
        (["train", "resnet", "--out", "x.keras"], "invalid choice"),
        (["train", "classic", "--epochs", "0", "--out", "x.keras"], "at least 1"),
        (["evaluate", "no/such.keras"], "no such model file"),
        ([], "required"),
    ],
)
def test_bad_arguments_exit_non_zero_with_one_line(args, message, mnist_path):
    result = run_cli(*args, env_mnist=mnist_path)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr
