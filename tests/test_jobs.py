"""The server's training slot, driven directly: start, progress, one at a time, cancel, failure, save."""

import os

import keras
import numpy as np
import pytest
from helpers import wait_for

from denoiser.page import catalog, jobs
from denoiser.train import TrainConfig

SMALL = dict(epochs=2, train_size=1024, batch_size=64, val_size=128)


@pytest.fixture
def slot(tmp_path, mnist):
    return jobs.TrainingJobs(tmp_path / "runs", load_data=lambda: mnist, validation_size=200)


def test_a_started_job_reports_progress_and_saves_a_validated_model(slot):
    assert slot.start("alice", TrainConfig.for_model("classic", **SMALL))
    assert wait_for(lambda: (slot.snapshot().progress or None) is not None)
    first = slot.snapshot().progress.fraction
    state = slot.wait(300)
    assert state.status == "done", state.message
    assert state.progress.fraction == pytest.approx(1.0) and state.progress.fraction > first
    assert [round(row["sigma"], 1) for row in state.scores] == list(jobs.VALIDATION_SIGMAS)
    assert all(row["psnr"] > row["noisy_psnr"] for row in state.scores if row["sigma"] >= 0.7)
    entries = {e.key: e for e in catalog.discover(runs=slot.runs_dir, weights=slot.runs_dir / "none")}
    assert state.result_key in entries and entries[state.result_key].retrained
    model = keras.models.load_model(entries[state.result_key].path, compile=False)
    assert model.output_shape == (None, 28, 28, 1)


def test_only_one_job_at_a_time_and_only_its_owner_can_cancel(slot):
    config = TrainConfig.for_model("classic", **(SMALL | {"epochs": 20}))
    assert slot.start("alice", config)
    assert not slot.start("bob", config)  # bob is told it is busy, not given a second job
    assert slot.snapshot().owner == "alice"
    assert not slot.cancel("bob")
    assert slot.cancel("alice")
    state = slot.wait(120)
    assert state.status == "cancelled"
    assert state.progress.epoch == 1  # stopped long before 20 epochs
    assert not list(slot.runs_dir.glob("*")) if slot.runs_dir.exists() else True
    assert slot.start("bob", TrainConfig.for_model("classic", **(SMALL | {"epochs": 1})))
    assert slot.wait(300).status == "done"


def test_cancel_stops_within_one_batch(slot):
    steps = []
    original = slot._on_progress

    def on_progress(progress):
        original(progress)
        steps.append(progress.step)
        if len(steps) == 3:
            slot.cancel("alice")

    slot._on_progress = on_progress
    assert slot.start("alice", TrainConfig.for_model("classic", **SMALL))
    state = slot.wait(120)
    assert state.status == "cancelled"
    assert state.progress.images_seen <= 4 * SMALL["batch_size"]


def test_a_failing_training_ends_with_a_message_and_frees_the_slot(tmp_path, mnist):
    def broken():
        raise ValueError("t10k-images-idx3-ubyte.gz: wrong magic number 2049, expected 2051")

    slot = jobs.TrainingJobs(tmp_path / "runs", load_data=broken)
    assert slot.start("alice", TrainConfig.for_model("classic", **SMALL))
    state = slot.wait(60)
    assert state.status == "failed" and "wrong magic number" in state.message
    good = jobs.TrainingJobs(tmp_path / "runs", load_data=lambda: mnist)
    good._state = state
    assert good.start("bob", TrainConfig.for_model("classic", **(SMALL | {"epochs": 1})))
    good.wait(300)


def test_runs_folder_keeps_only_the_newest(tmp_path):
    for i in range(7):
        path = tmp_path / f"m{i}.keras"
        path.write_bytes(b"x")
        path.with_suffix(".json").write_text("{}")
        os.utime(path, ns=(i * 10**9, i * 10**9))
    removed = jobs.prune(tmp_path, keep=5)
    assert sorted(p.name for p in removed) == ["m0.keras", "m1.keras"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"m{i}.keras" for i in range(2, 7)] + [f"m{i}.json" for i in range(2, 7)]
    )


def test_unusable_runs_folder_is_reported(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # even root cannot create a folder inside a file
    assert "cannot be created" in jobs.runs_writable(blocker / "runs")
    assert jobs.runs_writable(tmp_path / "runs") is None


def test_estimate_comes_from_measured_throughput():
    config = TrainConfig.for_model("classic", epochs=2, train_size=6000)
    assert jobs.estimate_seconds(config, images_per_s=6000.0, overhead=0.0) == pytest.approx(2.0)
    assert np.isfinite(jobs.estimate_seconds(config, images_per_s=0.0))
