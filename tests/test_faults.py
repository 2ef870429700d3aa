"""Faults the page must survive: a server killed while training or saving, broken weight files,
a runs folder that cannot be written, no dataset and no network, a read-only app folder.

The killed server is a real process: a subprocess runs a retraining through `jobs.TrainingJobs`
(the page's training slot) and is killed with SIGKILL mid-epoch, mid-write of the model file,
just before its rename, and between the model's rename and its sidecar's. What a restarted
server then finds is checked through the catalog and through the page (AppTest). The rest
runs the page through AppTest against temporary folders. docs/robustness.md lists each fault
with the test that proves it, including those tests/test_app.py, tests/test_retrain.py and
tests/test_space.py already cover.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import SAMPLE, button_keys, captions, open_page, point_page_at, sidebar_text
from streamlit.testing.v1 import AppTest

from denoiser.page import catalog, jobs, retrain
from denoiser.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights"
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
SIZE = 512  # training digits for the jobs below: 2 batches an epoch, seconds per job


# Folders and pages.


@pytest.fixture
def folders(tmp_path, monkeypatch, mnist_path) -> tuple[Path, Path]:
    """(weights, runs): copies of the shipped classic model and classifier, and a runs folder that
    already holds one retrained model; the page is pointed at both and trains on 512 digits."""
    weights, runs = tmp_path / "weights", tmp_path / "runs"
    weights.mkdir()
    runs.mkdir()
    shutil.copy(WEIGHTS / "classic.keras", runs / "earlier.keras")
    sidecar = json.loads((WEIGHTS / "classic.json").read_text()) | {"name": "earlier", "retrained": True}
    (runs / "earlier.json").write_text(json.dumps(sidecar))
    point_page_at(monkeypatch, weights, runs, mnist_path, SIZE)
    return weights, runs


def assert_panels(at: AppTest, model_label: str) -> None:
    """No exception, and Noisy | Denoised (model) | Original."""
    assert not at.exception
    texts = captions(at)
    assert [t.split(" ·")[0] for t in texts[:3]] == ["Noisy", f"Denoised ({model_label})", "Original"]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file in a folder, by name, with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# A server killed while it trains or saves.

TRAINING_SERVER = """
import os, signal, sys, time
from pathlib import Path
from denoiser import storage
from denoiser.page import jobs
from denoiser.train import TrainConfig

runs, kill_at = Path(sys.argv[1]), sys.argv[2]

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

real_save = storage.keras.Model.save
def save_half(model, path, *args, **kwargs):  # the model file is being written when the power goes
    real_save(model, path, *args, **kwargs)
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) // 2)
    die()

real_replace = storage.os.replace
def replace_then_maybe_die(source, target):
    if kill_at == "before the rename" and str(source).endswith(".tmp.keras"):
        die()
    real_replace(source, target)

if kill_at == "while writing the model file":
    storage.keras.Model.save = save_half
storage.os.replace = replace_then_maybe_die
if kill_at == "before the sidecar":
    storage.write_json_atomic = die

slot = jobs.TrainingJobs(runs, validation_size=200)
epochs = 200 if kill_at == "mid-epoch" else 1
slot.start("visitor", TrainConfig.for_model("classic", epochs=epochs, train_size=512, val_size=128))
while True:
    state = slot.snapshot()
    if state.progress is not None and state.progress.images_seen > 0:
        print("training", flush=True)
        break
    if not state.active:
        break
    time.sleep(0.05)
print(slot.wait().status, slot.snapshot().message, flush=True)
"""

KILL_POINTS = ["mid-epoch", "while writing the model file", "before the rename", "before the sidecar"]


def run_and_kill(runs: Path, kill_at: str) -> None:
    """Run the training server; killed by us mid-epoch, or by itself at the chosen point of the save."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-c", TRAINING_SERVER, str(runs), kill_at]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if kill_at == "mid-epoch":
            assert process.stdout.readline().strip() == b"training", process.stderr.read()[-2000:]
            time.sleep(0.5)
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()[-2000:]


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_a_server_killed_while_training_or_saving_leaves_every_model_whole_and_a_free_slot(kill_at, folders):
    weights, runs = folders
    before_weights, before_runs = snapshot(weights), snapshot(runs)
    run_and_kill(runs, kill_at)

    # The models that were there are untouched and load.
    assert snapshot(weights) == before_weights
    after = snapshot(runs)
    assert {name: after.get(name) for name in before_runs} == before_runs
    assert catalog.load_denoiser(runs / "earlier.keras").output_shape == (None, 28, 28, 1)

    # What the killed save left: a dot-file temporary (never listed), or a whole model whose
    # sidecar never came (listed without a description, and loadable).
    new = sorted(set(after) - set(before_runs))
    temporaries = [name for name in new if name.startswith(".")]
    visible = [name for name in new if not name.startswith(".")]
    if kill_at in ("while writing the model file", "before the rename"):
        assert len(temporaries) == 1 and temporaries[0].endswith(".tmp.keras") and not visible
    elif kill_at == "before the sidecar":
        assert len(visible) == 1 and visible[0].endswith(".keras") and not temporaries
    else:
        assert new == []  # nothing is written before the last epoch ends
    entries = catalog.discover(weights, runs)
    assert not any(e.path.name.startswith(".") for e in entries)
    for entry in entries:
        catalog.load_denoiser(entry.path)  # raises ModelUnavailable for a half-written file
    keys = [e.key for e in entries]
    assert keys[:1] == ["weights/classic"] and "runs/earlier" in keys
    if kill_at == "before the sidecar":
        orphan = next(e for e in entries if e.key == f"runs/{Path(visible[0]).stem}")
        assert orphan.description.startswith("No description") and orphan.scores == []

    # A restarted server: its page works, lists no temporary, and its training slot is free.
    at = open_page(SAMPLE)
    assert_panels(at, "classic")
    options = at.radio(key="model").options
    assert not any(".tmp" in option or "unavailable" in option for option in options)
    assert "retrain_start" in button_keys(at) and "already running" not in sidebar_text(at)
    assert retrain.training_slot(str(runs), jobs.KEEP_RUNS).snapshot().status == "idle"


def test_a_restarted_server_trains_and_saves_beside_a_dead_servers_temporary(folders, mnist):
    weights, runs = folders
    run_and_kill(runs, "before the rename")
    (leftover,) = [p for p in runs.iterdir() if p.name.startswith(".")]
    slot = jobs.TrainingJobs(runs, load_data=lambda: mnist, validation_size=200)
    assert slot.start(
        "next visitor", TrainConfig.for_model("classic", epochs=1, train_size=SIZE, val_size=128)
    )
    state = slot.wait(180)
    assert state.status == "done", state.message
    keys = [e.key for e in catalog.discover(weights, runs)]
    assert state.result_key in keys and "runs/earlier" in keys and len(keys) == 3
    assert leftover.exists()  # a fresh temporary could be another save in progress: kept for 10 minutes
    os.utime(leftover, (time.time() - jobs.STALE_TEMPORARY_S - 1,) * 2)
    jobs.prune(runs, jobs.KEEP_RUNS)
    assert not leftover.exists()


# Broken weight files.


def truncated_model() -> bytes:
    content = (WEIGHTS / "classic.keras").read_bytes()
    return content[: len(content) // 2]


BROKEN_FILES = {
    "zero bytes": lambda: b"",
    "truncated to half": truncated_model,
    "random bytes": lambda: np.random.default_rng(0).bytes(200_000),
    "a zip that is not a model": lambda: (
        WEIGHTS.parent / "denoiser" / "assets" / "mnist_sample.npz"
    ).read_bytes(),
}


@pytest.mark.parametrize("broken", list(BROKEN_FILES))
def test_a_broken_weights_file_disables_that_model_with_a_message_and_the_others_serve(broken, folders):
    weights, _ = folders
    (weights / "blind.keras").write_bytes(BROKEN_FILES[broken]())
    shutil.copy(weights / "classic.json", weights / "blind.json")
    at = open_page(SAMPLE)
    picker = at.radio(key="model")
    assert picker.value == "weights/classic"  # the broken default is passed over
    assert picker.options[0] == "blind · unavailable"
    reason = picker.proto.captions[0]
    assert reason.startswith("blind.keras could not be loaded (") and "\n" not in reason
    assert_panels(at, "classic")
    picker.set_value("weights/blind").run()
    assert not at.exception
    assert at.error[0].value.startswith("blind.keras could not be loaded")
    assert at.error[0].value.endswith("showing classic instead.")
    assert_panels(at, "classic")


def test_a_broken_classifier_only_drops_the_readings(folders):
    weights, _ = folders
    (weights / "classifier.keras").write_bytes(truncated_model())
    at = open_page(SAMPLE)
    assert_panels(at, "classic")
    assert not at.error and not any("Classifier reads" in md.value for md in at.markdown)


def test_a_garbage_sidecar_leaves_the_model_listed_without_a_description(folders):
    weights, _ = folders
    (weights / "classic.json").write_bytes(b"\x00{not json")
    at = open_page(SAMPLE)
    assert_panels(at, "classic")
    picker = at.radio(key="model")
    assert picker.options[0] == "classic · no test score at σ 0.50"
    assert picker.proto.captions[0].startswith("No description")


def test_a_weights_file_replaced_while_the_server_runs_is_reloaded_or_disabled(folders):
    weights, _ = folders
    at = open_page(SAMPLE)
    assert_panels(at, "classic")
    (weights / "classic.keras").write_bytes(b"")  # a bad deploy overwrites it in place
    at.run()
    assert not at.exception
    assert at.radio(key="model").options[0] == "classic · unavailable"
    assert_panels(at, "earlier (retrained)")  # the default moves to the model that still loads
    shutil.copy(WEIGHTS / "classic.keras", weights / "classic.keras")  # and the fix goes out
    assert_panels(at.run(), "classic")


# The runs folder cannot be written.


def test_a_runs_path_that_is_a_file_disables_training_and_the_page_serves(folders, monkeypatch, tmp_path):
    blocker = tmp_path / "runs-is-a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DENOISER_RUNS_DIR", str(blocker))
    at = open_page(SAMPLE)
    assert_panels(at, "classic")
    assert f"the runs folder {blocker} cannot be created ({blocker} is not a folder)" in sidebar_text(at)
    assert "retrain_start" not in button_keys(at)


def test_a_runs_folder_lost_during_training_fails_the_job_with_its_reason_and_frees_the_slot(tmp_path, mnist):
    blocker = tmp_path / "a-file"
    blocker.write_text("the runs folder was here")
    slot = jobs.TrainingJobs(blocker / "runs", load_data=lambda: mnist, validation_size=200)
    assert slot.start("visitor", TrainConfig.for_model("classic", epochs=1, train_size=SIZE, val_size=128))
    state = slot.wait(180)
    assert state.status == "failed" and state.message.startswith("training failed: ")
    assert "Not a directory" in state.message and "\n" not in state.message
    assert not slot.snapshot().active


# No dataset and no network.


def test_without_data_or_network_the_page_serves_samples_and_training_says_what_is_missing(
    folders, monkeypatch, tmp_path
):
    _, runs = folders
    home = tmp_path / "empty-home"
    home.mkdir()
    monkeypatch.delenv("MNIST_DIR")
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(home))

    def offline(*args, **kwargs):
        raise OSError("[Errno 101] Network is unreachable")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    monkeypatch.setattr(socket.socket, "connect", offline)
    at = open_page(SAMPLE)
    assert_panels(at, "classic")
    warning = at.sidebar.warning[0].value
    assert warning.startswith("Training is unavailable: MNIST is not available offline: MNIST_DIR is not set")
    assert str(home / ".keras" / "datasets" / "mnist.npz") in warning and "MNIST_DIR=/that/folder" in warning
    assert "retrain_start" not in button_keys(at)
    at.selectbox(key="sample_digit").set_value(8).run()  # the bundled digits need no dataset
    assert_panels(at, "classic")

    # A job started anyway (by code) fails with the same advice and frees the slot.
    slot = jobs.TrainingJobs(runs)
    assert slot.start("visitor", TrainConfig.for_model("classic", epochs=1, train_size=SIZE))
    state = slot.wait(60)
    assert state.status == "failed" and "not available offline and could not be downloaded" in state.message
    assert not list(runs.glob("*.tmp.*")) and not home.joinpath(".keras", "datasets").exists()


def test_a_corrupt_keras_cache_is_reported_not_trusted(folders, monkeypatch, tmp_path):
    """A half-downloaded ~/.keras/datasets/mnist.npz counts as present for the Start button; the job
    then fails with Keras's reason (its own hash check), and the page keeps serving."""
    _, runs = folders
    home = tmp_path / "home"
    (home / ".keras" / "datasets").mkdir(parents=True)
    (home / ".keras" / "datasets" / "mnist.npz").write_bytes(b"PK\x03\x04 half a download")
    monkeypatch.delenv("MNIST_DIR")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    assert jobs.data_problem() is None
    monkeypatch.setattr(socket.socket, "connect", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    slot = jobs.TrainingJobs(runs)
    assert slot.start("visitor", TrainConfig.for_model("classic", epochs=1, train_size=SIZE))
    state = slot.wait(120)
    assert state.status == "failed" and state.message.startswith("training failed: MNIST is not available")
    assert_panels(open_page(SAMPLE), "classic")


# A read-only app folder (tests/test_space.py runs the whole app from a read-only copy as uid 1000).


def test_the_page_writes_nothing_inside_its_own_folder(folders, monkeypatch):
    """Every file the page opens for writing, renames or creates (Python's audit events) lies outside
    the repository, so a read-only app folder costs nothing."""
    written: list[str] = []
    recording = {"on": False}

    def audit(event: str, args: tuple) -> None:
        if not recording["on"]:
            return
        if event == "open" and isinstance(args[0], str | bytes | os.PathLike):
            path, mode, flags = args
            writes = any(m in mode for m in "wax+") if isinstance(mode, str) else bool(flags & WRITE_FLAGS)
            if writes:
                written.append(os.fsdecode(path))
        elif event in ("os.rename", "os.replace", "os.mkdir", "os.remove", "os.rmdir", "os.truncate"):
            written.append(os.fsdecode(args[0]) if isinstance(args[0], str | bytes) else str(args[0]))

    sys.addaudithook(audit)  # hooks cannot be removed; this one records only while "on"
    recording["on"] = True
    try:
        at = open_page(SAMPLE)
        at.slider(key="sigma").set_value(0.9).run()
        at.toggle(key="compare").set_value(True).run()
        at.session_state["source"] = "Upload"
        at.run()
        probe = Path(folders[1]) / "probe.txt"
        probe.write_text("the hook sees writes")  # a write it must see, outside the app folder
    finally:
        recording["on"] = False
    assert_panels(open_page(SAMPLE), "classic")
    # Bytecode caches are left out: Python skips writing them where it cannot.
    assert str(probe) in written
    inside = [p for p in written if Path(p).resolve().is_relative_to(ROOT) and "__pycache__" not in p]
    assert inside == []
