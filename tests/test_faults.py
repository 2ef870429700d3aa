"""Faults the page must survive: a server killed while training or saving, broken weight files,
a runs folder that cannot be written, no dataset and no network, a read-only app folder.

Trainings are real child processes (`denoiser.worker`, started by `supervisor.TrainingJobs`): one that
kills itself with SIGKILL mid-write of the model file, just before its rename, or between the
model's rename and its sidecar's, and a server process SIGKILLed mid-epoch (its child goes with
it). What the server, or a restarted one, then finds is checked through the catalog and through
the page (AppTest). The rest
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
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import SAMPLE, button_keys, captions, open_page, point_page_at, sidebar_text, wait_for
from streamlit.testing.v1 import AppTest

from denoiser.page import catalog
from denoiser.train import TrainConfig
from denoiser.training import lock, preflight, supervisor

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


# A training child killed while it saves, and a server killed while it trains.

DYING_WORKER = """
import os, signal, sys
from denoiser import storage, worker

kill_at = sys.argv[1]

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
os._exit(worker.main())
"""

KILL_POINTS = ["while writing the model file", "before the rename", "before the sidecar"]
GOOD = dict(epochs=8, train_size=2048, val_size=128)  # a model better than the noisy input: it is saved


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_a_child_killed_while_saving_leaves_every_model_whole_and_the_machine_free(kill_at, folders):
    weights, runs = folders
    before_weights, before_runs = snapshot(weights), snapshot(runs)
    dying = (sys.executable, "-c", DYING_WORKER, kill_at)
    slot = supervisor.TrainingJobs(runs, validation_size=200, worker_command=dying)
    slot.start("visitor", TrainConfig.for_model("classic", **GOOD))
    state = slot.wait(300)
    assert state.status == "failed"
    assert state.message == "training failed: the training process ended unexpectedly (exit status -9)"

    # The models that were there are untouched and load; what the killed save left is gone
    # (a temporary, or a model whose sidecar never came), and the lock is free.
    assert snapshot(weights) == before_weights
    assert snapshot(runs) == before_runs | {lock.LOCK_NAME: b""}
    for entry in catalog.discover(weights, runs):
        catalog.load_denoiser(entry.path)
    assert slot.lock.holder() is None

    # The page works, lists no temporary, and offers training again.
    at = open_page(SAMPLE)
    assert_panels(at, "classic")
    options = at.radio(key="model").options
    assert not any(".tmp" in option or "unavailable" in option for option in options)
    assert "retrain_start" in button_keys(at) and "already running" not in sidebar_text(at)


KILLED_SERVER = """
import sys
from denoiser.train import TrainConfig
from denoiser.training import supervisor
slot = supervisor.TrainingJobs(sys.argv[1], validation_size=200)
slot.start("visitor", TrainConfig.for_model("classic", epochs=200, train_size=512, val_size=128))
print("started", flush=True)
slot.wait()
"""


def test_a_server_killed_mid_epoch_leaves_every_model_whole_and_a_restarted_page_a_free_machine(folders):
    weights, runs = folders
    before_weights, before_runs = snapshot(weights), snapshot(runs)
    server = subprocess.Popen(
        [sys.executable, "-c", KILLED_SERVER, str(runs)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    machine = lock.MachineLock(runs / lock.LOCK_NAME)
    try:
        assert server.stdout.readline().strip() == "started"
        assert machine.holder() is not None
        server.send_signal(signal.SIGKILL)
        server.wait(30)
        assert wait_for(lambda: machine.holder() is None, timeout=10)  # its child went with it
    finally:
        server.kill()
        server.wait()
    assert snapshot(weights) == before_weights
    assert {name: body for name, body in snapshot(runs).items() if name != lock.LOCK_NAME} == before_runs
    at = open_page(SAMPLE)  # a restarted server
    assert_panels(at, "classic")
    assert "retrain_start" in button_keys(at) and "already running" not in sidebar_text(at)
    assert (runs / lock.LOCK_NAME).read_bytes() == b""  # the dead job's record is cleared


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
    assert reason == "blind.keras could not be loaded: damaged or not a Keras model file"
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
    assert "the runs folder cannot be created (a file is in its way)" in sidebar_text(at)
    assert str(blocker) not in sidebar_text(at)
    assert "retrain_start" not in button_keys(at)


def test_a_runs_folder_lost_during_training_fails_the_job_in_plain_words_and_frees_the_machine(tmp_path):
    runs = tmp_path / "runs"
    slot = supervisor.TrainingJobs(runs, validation_size=200)
    slot.start("visitor", TrainConfig.for_model("classic", **GOOD))
    assert wait_for(lambda: slot.snapshot().status == "running", timeout=300)
    runs.rename(tmp_path / "moved")
    runs.write_text("a file where the runs folder was")
    state = slot.wait(300)
    assert state.status == "failed" and state.message.startswith("training failed: ")
    assert "Errno" not in state.message and str(tmp_path) not in state.message and "\n" not in state.message
    assert not slot.snapshot().active and slot.lock.holder() is None


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
    assert "(~/.keras/datasets/mnist.npz)" in warning and "MNIST_DIR=/that/folder" in warning
    assert str(home) not in warning
    assert "retrain_start" not in button_keys(at)
    at.selectbox(key="sample_digit").set_value(8).run()  # the bundled digits need no dataset
    assert_panels(at, "classic")

    # A job started anyway (by code) is refused before any work, with the same advice.
    slot = supervisor.TrainingJobs(runs)
    with pytest.raises(supervisor.StartRefused, match="MNIST is not available offline"):
        slot.start("visitor", TrainConfig.for_model("classic", epochs=1, train_size=SIZE))
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
    assert preflight.data_problem() is None
    monkeypatch.setattr(socket.socket, "connect", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    for proxy in ("https_proxy", "http_proxy", "HTTPS_PROXY", "HTTP_PROXY"):  # the child is offline too
        monkeypatch.setenv(proxy, "http://127.0.0.1:9")
    slot = supervisor.TrainingJobs(runs)
    slot.start("visitor", TrainConfig.for_model("classic", epochs=2, train_size=SIZE))
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
