"""The shipped weights keep the contract (plain load_model, shape, range) and the scores they claim."""

import json
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from denoiser import classifier, metrics, noise
from denoiser.inference import denoise

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights"
DENOISERS = ["classic", "blind"]


@pytest.fixture(scope="module")
def loaded():
    return {name: keras.models.load_model(WEIGHTS / f"{name}.keras", compile=False) for name in DENOISERS}


@pytest.mark.parametrize("name", DENOISERS)
def test_shipped_denoiser_keeps_the_contract(name, loaded, mnist):
    model = loaded[name]
    x = noise.add_noise(mnist.x_test[:32, ..., None], 0.5, seed=0)
    y = np.asarray(model(x))
    assert y.shape == (32, 28, 28, 1) and y.dtype == np.float32
    assert 0.0 <= y.min() and y.max() <= 1.0
    assert model.count_params() <= 2_000_000
    side = json.loads((WEIGHTS / f"{name}.json").read_text())
    for key in ("recipe", "epochs", "sigma", "data", "seconds", "trained_at", "scores", "final_loss"):
        assert key in side, key
    assert side["data"]["train_size"] == 60000
    assert {round(row["sigma"], 1) for row in side["scores"]} >= {0.1, 0.3, 0.5, 0.7, 0.9}


def test_classic_is_the_seed_recipe_on_all_digits(mnist):
    side = json.loads((WEIGHTS / "classic.json").read_text())
    assert side["recipe"] == "classic" and side["sigma"] == "0.5" and side["epochs"] == 5
    assert side["config"]["batch_size"] == 256 and side["config"]["loss"] == "binary_crossentropy"
    assert side["data"]["checksum"] == mnist.checksum


@pytest.mark.parametrize("sigma", [0.1, 0.9])
def test_blind_beats_classic_on_a_fixed_batch(sigma, loaded, mnist):
    clean = mnist.x_test[:500]
    noisy = noise.add_noise(clean, sigma, seed=42)
    blind = metrics.mean_psnr(denoise(loaded["blind"], noisy), clean)
    classic = metrics.mean_psnr(denoise(loaded["classic"], noisy), clean)
    assert blind > classic + 1.0
    if sigma == 0.1:
        assert blind > metrics.mean_psnr(noisy, clean)  # light noise is not made worse


def test_blind_gives_a_clean_digit_back_clean(loaded, mnist):
    clean = mnist.x_test[:500]
    assert metrics.mean_psnr(denoise(loaded["blind"], clean), clean) >= 30.0


def test_classifier_reads_99_percent_of_a_test_slice(mnist):
    model = keras.models.load_model(WEIGHTS / "classifier.keras", compile=False)
    assert classifier.accuracy(model, mnist.x_test[-1000:], mnist.y_test[-1000:]) >= 0.99
    reading = classifier.read_digit(model, mnist.x_test[0])
    assert reading.digit == mnist.y_test[0] and 0.5 < reading.confidence <= 1.0


def test_quality_bench_runs_on_a_subset(tmp_path, mnist_path, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(mnist_path))
    sys.path.insert(0, str(ROOT / "bench"))
    import quality

    results = quality.main(["--limit", "200", "--chart", str(tmp_path / "q.png")])
    assert list(results)[:2] == ["classic", "blind"]
    assert (tmp_path / "q.png").stat().st_size > 10_000
    at = {round(s.sigma, 1): s for s in results["blind"]}
    assert at[0.5].psnr > at[0.5].noisy_psnr + 8
    assert at[0.7].accuracy > at[0.7].noisy_accuracy


def _sidecar_scores(name):
    rows = json.loads((WEIGHTS / f"{name}.json").read_text())["scores"]
    return {round(row["sigma"], 1): row for row in rows}


def test_blind_sidecar_records_the_quality_targets_on_the_full_test_set():
    """The figures bench/quality.py stored for the shipped weights meet the issue's bar."""
    blind, classic = _sidecar_scores("blind"), _sidecar_scores("classic")
    assert sorted(blind) == [round(0.1 * i, 1) for i in range(11)]
    assert blind[0.0]["psnr"] >= 30.0
    for sigma, row in blind.items():
        if sigma > 0:
            assert row["psnr"] >= row["noisy_psnr"], sigma
        if sigma >= 0.3:
            assert row["psnr"] >= classic[sigma]["psnr"] + 2.0, sigma
        assert row["accuracy"] >= classic[sigma]["accuracy"], sigma
    assert blind[0.5]["psnr"] >= classic[0.5]["psnr"] + 2.5
    assert blind[0.7]["accuracy"] >= 0.93
