"""The machine's training, driven directly: real child processes on real MNIST (a few thousand digits).

Every job here is `python -m denoiser.worker` started by `supervisor.TrainingJobs`, as the page starts
it. The tests wait for what the child reports (its progress, its status) or for processes to
end, never for a length of time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import wait_for

from denoiser import data, storage, worker
from denoiser.page import catalog
from denoiser.train import TrainConfig
from denoiser.training import estimate, lock, preflight, runs, supervisor

ROOT = Path(__file__).resolve().parents[1]
GOOD = dict(epochs=8, train_size=2048, val_size=128)  # 64 batches: beats the noisy input at σ 0.5
BAD = dict(epochs=1, train_size=512, val_size=128)  # 2 batches: a grey blur, worse than the noisy input
LONG = dict(epochs=200, train_size=2048, val_size=128)  # outlasts any test; each one stops it


def classic(**settings) -> TrainConfig:
    return TrainConfig.for_model("classic", **settings)


@pytest.fixture
def slot(tmp_path, mnist_path, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(mnist_path))
    slot = supervisor.TrainingJobs(tmp_path / "runs", validation_size=200)
    yield slot
    slot.cancel(slot.snapshot().owner or "")
    slot.wait(30)


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def training(slot: supervisor.TrainingJobs) -> bool:
    """The child has reported a finished batch."""
    progress = slot.snapshot().progress
    return progress is not None and progress.images_seen > 0


def sample_digit() -> np.ndarray:
    images, _ = data.load_sample()
    return images[0]


def test_a_job_reports_progress_and_snapshots_then_saves_a_model_that_beats_the_noisy_input(slot):
    number = slot.start("alice", classic(**GOOD), supervisor.Watch(sample_digit(), sigma=0.5))
    assert number == 1 and wait_for(lambda: training(slot))
    first = slot.snapshot().progress.fraction
    state = slot.wait(300)
    assert state.status == "done", state.message
    assert state.progress.fraction == pytest.approx(1.0) and state.progress.fraction > first
    assert state.better and state.verdict.startswith("better than the noisy input (σ 0.5:")
    assert [round(row["sigma"], 1) for row in state.scores] == list(supervisor.VALIDATION_SIGMAS)
    assert len(state.snapshots) >= GOOD["epochs"] * 4  # several a epoch, on the digit it was given
    assert state.snapshots[-1].image.shape == (28, 28) and state.snapshots[-1].epoch == GOOD["epochs"]
    entries = {e.key: e for e in catalog.discover(runs=slot.runs_dir, weights=slot.runs_dir / "none")}
    entry = entries[state.result_key]
    assert entry.retrained and entry.label.startswith("classic, 8 epochs × 2,048 digits, σ 0.5, ")
    assert "Retrained on this server on" in entry.description
    sidecar = storage.read_sidecar(entry.path)
    assert sidecar["config"]["epochs"] == 8 and sidecar["data"]["train_size"] == 2048
    assert sidecar["verdict"] == state.verdict and sidecar["history"] and sidecar["scores"] == state.scores
    model = keras.models.load_model(entry.path, compile=False)
    assert model.output_shape == (None, 28, 28, 1)
    assert sorted(p.name for p in slot.runs_dir.iterdir()) == sorted(
        [lock.LOCK_NAME, entry.path.name, entry.path.with_suffix(".json").name]
    )
    assert slot.lock.holder() is None  # the machine is free again


def test_a_job_on_salt_and_pepper_is_judged_and_scored_on_that_kind_and_listed_as_such(slot):
    config = classic(**GOOD, noise=("salt_and_pepper",))
    slot.start("alice", config, supervisor.Watch(sample_digit(), sigma=0.5, kind="salt_and_pepper"))
    state = slot.wait(300)
    assert state.status == "done" and state.better, state.message
    assert state.verdict.startswith("better than the noisy input on salt and pepper (p 0.5:")
    entry = {e.key: e for e in catalog.discover(runs=slot.runs_dir, weights=slot.runs_dir / "none")}[
        state.result_key
    ]
    assert "σ 0.5 (salt and pepper)" in entry.label and entry.noise == ("salt_and_pepper",)
    sidecar = storage.read_sidecar(entry.path)
    assert sidecar["noise"] == ["salt_and_pepper"] and sidecar["scores"] == []  # no Gaussian rows
    assert list(sidecar["scores_by_noise"]) == ["salt_and_pepper"]
    rows = entry.scores_for("salt_and_pepper")
    assert rows == state.scores and [round(row["sigma"], 1) for row in rows] == list(
        supervisor.VALIDATION_SIGMAS
    )
    assert all(row["psnr"] > row["noisy_psnr"] for row in rows if row["sigma"] == 0.5)
    assert entry.scores_for("gaussian") == []


def test_a_model_worse_than_the_noisy_input_is_neither_saved_nor_selected(slot):
    slot.start("alice", classic(**BAD))
    state = slot.wait(300)
    assert state.status == "done" and not state.better and state.result_key is None
    assert state.verdict.startswith("worse than no denoising at σ 0.5 (")
    assert state.verdict.endswith("not selected, not saved")
    assert [p.name for p in slot.runs_dir.iterdir()] == [lock.LOCK_NAME]


@pytest.mark.parametrize("stage", ["running", "scoring"])
def test_cancel_ends_the_child_by_its_signal_mid_epoch_or_mid_scoring_and_saves_nothing(
    stage, tmp_path, mnist_path, monkeypatch
):
    monkeypatch.setenv("MNIST_DIR", str(mnist_path))
    slot = supervisor.TrainingJobs(tmp_path / "runs", validation_size=10000)  # scoring takes seconds
    config = classic(**(LONG if stage == "running" else GOOD))
    slot.start("alice", config)
    assert wait_for(lambda: slot.snapshot().status == stage, timeout=300), slot.snapshot()
    pid = slot.snapshot().pid
    assert slot.cancel("alice")
    assert wait_for(lambda: not alive(pid), timeout=30)
    state = slot.wait(30)
    assert state.returncode in (-signal.SIGTERM, -signal.SIGKILL)  # our signal ended it, not the job
    assert state.status == "cancelled" and state.message == "cancelled: nothing was saved"
    assert [p.name for p in slot.runs_dir.iterdir()] == [lock.LOCK_NAME]
    assert slot.lock.holder() is None


def test_one_job_at_a_time_and_only_its_owner_can_cancel(slot):
    slot.start("alice", classic(**LONG))
    assert wait_for(lambda: slot.snapshot().status == "running")
    pid = slot.snapshot().pid  # the real worker: below the server's priority, and its autogroup too
    assert os.getpriority(os.PRIO_PROCESS, pid) == os.getpriority(os.PRIO_PROCESS, 0) + worker.NICE
    ours = Path(f"/proc/{os.getpid()}/autogroup").read_text().split()
    if ours:  # empty where a cgroup rather than an autogroup shares the CPU (CI's container)
        assert wait_for(
            lambda: Path(f"/proc/{pid}/autogroup").read_text().split()[1:] == ["nice", str(worker.NICE)]
        )
        assert Path(f"/proc/{pid}/autogroup").read_text().split()[0] != ours[0]  # its own group
        assert Path(f"/proc/{os.getpid()}/autogroup").read_text().split() == ours  # the server's, untouched
    with pytest.raises(supervisor.StartRefused, match="already running on this server"):
        slot.start("bob", classic(**BAD))  # bob is told it is busy, not given a second job
    assert slot.snapshot().owner == "alice"
    assert not slot.cancel("bob")
    assert slot.snapshot().active
    assert slot.cancel("alice")
    assert slot.wait(30).status == "cancelled"


SECOND_SERVER = """
import json, sys
from denoiser.train import TrainConfig
from denoiser.training import supervisor
slot = supervisor.TrainingJobs(sys.argv[1])
try:
    slot.start("carol", TrainConfig.for_model("classic", epochs=1, train_size=512))
    print(json.dumps({"started": True}))
except supervisor.StartRefused as refusal:
    print(json.dumps({"refused": str(refusal), "elsewhere": slot.elsewhere()}))
"""


def test_a_second_server_process_is_refused_by_the_machines_lock(slot):
    slot.start("alice", classic(**LONG))
    assert wait_for(lambda: slot.snapshot().status == "running")
    second = subprocess.run(
        [sys.executable, "-c", SECOND_SERVER, str(slot.runs_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    answer = json.loads(second.stdout.strip().splitlines()[-1])
    assert "already running on this machine" in answer["refused"]
    assert answer["elsewhere"]["description"] == "classic · 200 epochs · σ 0.5 · 2,048 digits"
    assert slot.snapshot().status == "running"


KILLED_SERVER = """
import sys, time
from denoiser.train import TrainConfig
from denoiser.training import supervisor
slot = supervisor.TrainingJobs(sys.argv[1])
slot.start("visitor", TrainConfig.for_model("classic", epochs=200, train_size=2048, val_size=128))
while (slot.snapshot().progress or None) is None:
    time.sleep(0.05)
print(slot.snapshot().pid, flush=True)
slot.wait()
"""


def test_a_server_killed_by_sigkill_takes_its_training_with_it_and_frees_the_machine(tmp_path, mnist_path):
    runs = tmp_path / "runs"
    env = dict(os.environ, MNIST_DIR=str(mnist_path))
    server = subprocess.Popen(
        [sys.executable, "-c", KILLED_SERVER, str(runs)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        child = int(server.stdout.readline())
        assert alive(child)
        server.send_signal(signal.SIGKILL)
        server.wait(30)
        machine = lock.MachineLock(runs / lock.LOCK_NAME)
        # The lock goes with the last of the child's threads, a moment after its main one.
        assert wait_for(lambda: not alive(child) and machine.holder() is None, timeout=10), (
            "it outlived its server"
        )
    finally:
        server.kill()
        server.wait()
    restarted = supervisor.TrainingJobs(runs)  # clears the dead job's record
    assert (runs / lock.LOCK_NAME).read_bytes() == b""
    assert restarted.elsewhere() is None


def test_a_restarted_server_clears_a_stale_lock_and_partial_files(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / lock.LOCK_NAME).write_text(json.dumps({"name": "classic-dead", "pid": 999999}))
    (runs / "classic-dead.keras").write_bytes(b"PK half a model, its sidecar never came")
    (runs / ".classic-dead.x1y2.tmp.keras").write_bytes(b"PK half")
    (runs / "kept.keras").write_bytes(b"a finished model")
    (runs / "kept.json").write_text("{}")
    supervisor.TrainingJobs(runs)
    assert sorted(p.name for p in runs.iterdir()) == sorted([lock.LOCK_NAME, "kept.keras", "kept.json"])
    assert (runs / lock.LOCK_NAME).read_bytes() == b""


def test_a_failing_training_ends_with_a_plain_message_and_frees_the_machine(
    slot, tmp_path, mnist_path, monkeypatch
):
    broken = tmp_path / "mnist"
    broken.mkdir()
    for name in data.MNIST_FILES.values():
        (broken / name).write_bytes((Path(mnist_path) / name).read_bytes())
    (broken / "t10k-images-idx3-ubyte.gz").write_bytes(b"this is not gzip")
    monkeypatch.setenv("MNIST_DIR", str(broken))
    slot.start("alice", classic(**BAD))
    state = slot.wait(120)
    assert state.status == "failed" and "not a readable gzip file" in state.message
    assert str(tmp_path) not in state.message and "Errno" not in state.message
    assert slot.lock.holder() is None and [p.name for p in slot.runs_dir.iterdir()] == [lock.LOCK_NAME]


def test_start_checks_the_runs_folder_and_the_data_before_any_work(tmp_path, mnist_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # even root cannot create a folder inside a file
    monkeypatch.setenv("MNIST_DIR", str(mnist_path))
    with pytest.raises(supervisor.StartRefused) as refusal:
        supervisor.TrainingJobs(blocker / "runs").start("alice", classic(**BAD))
    assert (
        str(refusal.value)
        == "Training was not started: the runs folder cannot be created (a file is in its way)."
    )
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    with pytest.raises(supervisor.StartRefused, match="lacks train-images-idx3-ubyte.gz") as refusal:
        supervisor.TrainingJobs(tmp_path / "runs").start("alice", classic(**BAD))
    assert str(tmp_path) not in str(refusal.value)


def test_a_visitor_waits_out_the_cooldown_between_two_starts(slot):
    slot.start("alice", classic(**BAD), visitor="10.0.0.1", cooldown_s=3600)
    slot.wait(120)
    with pytest.raises(supervisor.StartRefused, match=r"You can start another training in \d+ s"):
        slot.start("alice again", classic(**BAD), visitor="10.0.0.1", cooldown_s=3600)
    slot.start("bob", classic(**BAD), visitor="10.0.0.2", cooldown_s=3600)  # someone else may
    assert slot.wait(120).status == "done"


def test_the_verdict_judges_a_model_at_its_training_sigma_or_inside_its_range():
    assert worker.judged_sigmas(0.5, (0.0, 1.0)) == [0.5]
    assert worker.judged_sigmas(None, (0.2, 0.6)) == [0.3, 0.5]
    assert worker.judged_sigmas(None, (0.35, 0.45)) == [0.4]
    scores = [
        {"sigma": 0.3, "psnr": 18.0, "noisy_psnr": 13.3},
        {"sigma": 0.5, "psnr": 9.0, "noisy_psnr": 9.4},
    ]
    assert worker.verdict(scores, [0.3]).better
    worse = worker.verdict(scores, [0.3, 0.5])
    assert not worse.better and worse.text.startswith(
        "worse than no denoising at σ 0.5 (9.0 dB against 9.4 dB"
    )


def test_errors_reach_the_page_without_errno_or_server_paths():
    error = PermissionError(13, "Permission denied", "/srv/app/runs/.classic-1.tmp.keras")
    assert worker.plain(error) == "permission denied (.classic-1.tmp.keras)"
    assert worker.plain(ValueError("/home/user/mnist/t10k-images-idx3-ubyte.gz: wrong magic")) == (
        "t10k-images-idx3-ubyte.gz: wrong magic"
    )


def test_runs_folder_keeps_only_the_newest(tmp_path):
    for i in range(7):
        path = tmp_path / f"m{i}.keras"
        path.write_bytes(b"x")
        path.with_suffix(".json").write_text("{}")
        os.utime(path, ns=(i * 10**9, i * 10**9))
    removed = runs.prune(tmp_path, keep=5)
    assert sorted(p.name for p in removed) == ["m0.keras", "m1.keras"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"m{i}.keras" for i in range(2, 7)] + [f"m{i}.json" for i in range(2, 7)]
    )


def test_pruning_keeps_the_newest_of_the_models_the_page_lists_in_subfolders_too(tmp_path):
    names = ["a.keras", "sub/b.keras", "sub/deeper/c.keras", "d.keras", ".hidden/e.keras"]
    for i, name in enumerate(names):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(
            path, "w"
        ) as archive:  # a .keras file is a zip: the page lists only complete ones
            archive.writestr("config.json", "{}")
        path.with_suffix(".json").write_text("{}")
        os.utime(path, ns=(i * 10**9, i * 10**9))
    runs.prune(tmp_path, keep=2)
    listed = [entry.path for entry in catalog.discover(runs=tmp_path, weights=tmp_path / "none")]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in listed) == ["d.keras", "sub/deeper/c.keras"]
    assert not (tmp_path / "sub" / "b.json").exists()  # its sidecar went with it
    assert (tmp_path / ".hidden" / "e.keras").exists()  # not listed, not counted, not touched


def test_unusable_runs_folder_is_reported_without_its_path(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert (
        preflight.runs_writable(blocker / "runs")
        == "the runs folder cannot be created (a file is in its way)"
    )
    assert preflight.runs_writable(tmp_path / "runs") is None


def test_estimate_comes_from_measured_throughput():
    config = TrainConfig.for_model("classic", epochs=2, train_size=6000)
    assert estimate.estimate_seconds(config, images_per_s=6000.0, overhead=0.0) == pytest.approx(2.0)
    assert np.isfinite(estimate.estimate_seconds(config, images_per_s=0.0))
