"""Retraining from the sidebar: the page through AppTest, and the pieces behind it directly.

Training runs on 2,048 digits (DENOISER_TRAIN_SIZES=2048, 8 batches an epoch) in a real child
process, so a job takes seconds. Two AppTest instances in one process share `st.cache_resource`,
so they stand for two visitors of one server; each test has its own runs folder and so its own
training slot. A reload is a new AppTest whose URL carries the owner's token. Tests wait for
what the job reports, never for a length of time.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import SAMPLE, button_keys, open_page, point_page_at, sidebar_text, wait_for
from streamlit.testing.v1 import AppTest

from denoiser import data, storage
from denoiser.page import catalog, retrain, retrain_form, session
from denoiser.train import Progress, TrainConfig
from denoiser.training import estimate, lock, preflight, recipes, settings, supervisor
from denoiser.training import runs as housekeeping

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights"
SIZE = 2048
GOOD_EPOCHS = 8  # 64 batches: a model better than the noisy input at σ 0.5
LONG_EPOCHS = 1000  # outlasts every test: each one cancels it


@pytest.fixture
def runs(tmp_path_factory, monkeypatch, mnist_path) -> Path:
    """A page with the shipped classic model, a fresh runs folder and tiny training settings."""
    weights = tmp_path_factory.mktemp("weights")
    folder = tmp_path_factory.mktemp("retrain") / "runs"
    point_page_at(monkeypatch, weights, folder, mnist_path, SIZE)
    monkeypatch.setenv("DENOISER_MAX_EPOCHS", str(LONG_EPOCHS))
    return folder


def slot_of(runs: Path) -> supervisor.TrainingJobs:
    """The training slot the page uses for this runs folder (the same cached object)."""
    options = settings.Options.from_env()
    return retrain.training_slot(str(runs), options.keep, options.threads, options.start_as)


def start(at: AppTest, epochs: int) -> AppTest:
    at.slider(key="retrain_epochs").set_value(epochs)
    at.button(key="retrain_start").click()
    return at.run()


def progress_text(at: AppTest) -> str:
    bars = at.sidebar.get("progress")
    return bars[0].proto.text if bars else ""


# The page: settings, start, progress, one job per server, cancel, failures.


def test_a_finished_job_is_validated_saved_selected_for_its_owner_only_and_listed_for_everyone(runs):
    weights = Path(os.environ["DENOISER_WEIGHTS_DIR"])
    shipped = {p.name: p.stat().st_mtime_ns for p in weights.iterdir()}
    owner, other = open_page(SAMPLE), open_page(SAMPLE)
    assert not other.exception and "Takes at least" in sidebar_text(owner)  # a floor, from the sidecar
    slot_of(runs).validation_size = 200  # the outcome must name the job's own size, not the default
    start(owner, epochs=GOOD_EPOCHS)
    assert not owner.exception and "retrain_start" not in button_keys(owner)
    state = slot_of(runs).wait(300)
    assert state.status == "done" and state.better, state.message
    assert (
        state.config.epochs == GOOD_EPOCHS and state.config.train_size == SIZE and state.config.sigma == 0.5
    )
    owner.run()
    assert owner.session_state["model"] == state.result_key  # selected for the visitor who trained it
    assert owner.radio(key="model").value == state.result_key
    assert "(retrained)" in owner.radio(key="model").format_func(state.result_key)
    table = owner.sidebar.markdown[-1].value
    assert "| σ | new | classic | Δ |" in table and table.count("\n| 0.") == 5
    assert "PSNR (dB) of the new model on the last 200 test digits" in sidebar_text(owner)
    assert "Saved as" in owner.sidebar.success[0].value and "better than the noisy input" in sidebar_text(
        owner
    )
    other.run()
    label = owner.radio(key="model").format_func(state.result_key)
    assert label in other.radio(key="model").options  # listed for everyone...
    assert other.session_state["model"] == "weights/classic"  # ...without changing their choice
    assert not other.sidebar.success and "retrain_start" in button_keys(other)
    owner.run()
    assert owner.session_state["model"] == state.result_key  # selected once, not forced on every run
    owner.button(key="reset_models").click().run()
    assert owner.session_state["model"] == "weights/classic"
    assert owner.run().session_state["model"] == "weights/classic"
    assert sorted(p.name for p in runs.iterdir()) == sorted(
        [lock.LOCK_NAME, f"{state.result_key[5:]}.keras", f"{state.result_key[5:]}.json"]
    )
    assert {p.name: p.stat().st_mtime_ns for p in weights.iterdir()} == shipped  # weights/ untouched


def test_the_page_reruns_while_training_and_cancel_stops_it_leaving_no_file(runs):
    at = start(open_page(SAMPLE), epochs=LONG_EPOCHS)
    slot = slot_of(runs)
    assert wait_for(lambda: (slot.snapshot().progress or None) is not None)
    number, before = slot.snapshot().number, slot.snapshot().progress.images_seen
    at.slider(key="sigma").set_value(0.8).run()  # the visitor keeps using the page
    at.session_state["source"] = "Upload"
    at.run()
    assert not at.exception and "Epoch" in progress_text(at)
    assert wait_for(lambda: slot.snapshot().progress.images_seen > before)  # the job went on
    state = slot.snapshot()
    assert state.status == "running" and state.number == number
    assert "retrain_start" not in button_keys(at)
    at.button(key="retrain_cancel").click().run()
    state = slot.wait(60)
    assert state.status == "cancelled"
    assert state.progress.epoch < LONG_EPOCHS
    assert [p.name for p in runs.iterdir()] == [lock.LOCK_NAME]
    at.run()
    assert "cancelled: nothing was saved" in sidebar_text(at)
    assert "retrain_start" in button_keys(at)


def test_a_second_visitor_sees_the_running_job_and_cannot_start_another(runs):
    # `racing` rendered its Start button before
    owner, late, racing = open_page(SAMPLE), None, open_page(SAMPLE)
    start(owner, epochs=LONG_EPOCHS)
    slot = slot_of(runs)
    late = open_page(SAMPLE)
    assert wait_for(lambda: (slot.snapshot().progress or None) is not None)
    late.run()
    text = sidebar_text(late)
    assert "already running" in text and "left" in text and "Epoch" in progress_text(late)
    assert "retrain_start" not in button_keys(late) and "retrain_cancel" not in button_keys(late)
    racing.button(key="retrain_start").click().run()  # pressed a moment after the owner
    assert "already running on this server" in sidebar_text(racing)
    state = slot.snapshot()
    assert state.owner == owner.query_params[retrain.TOKEN] and state.status == "running"
    assert not slot.cancel(racing.session_state[retrain.VISITOR])  # and cannot cancel it either
    owner.run().button(key="retrain_cancel").click().run()
    assert slot.wait(60).status == "cancelled"


def test_a_reload_keeps_cancel_and_the_snapshots_for_the_owner_only(runs):
    owner = start(open_page(SAMPLE), epochs=LONG_EPOCHS)
    slot = slot_of(runs)
    token = owner.query_params[retrain.TOKEN]
    assert slot.snapshot().owner == token
    assert wait_for(lambda: len(slot.snapshot().snapshots) >= 2)  # the child denoises the digit as it learns
    reloaded = open_page(SAMPLE)  # the same URL in a new session: what a reload is
    reloaded.query_params[retrain.TOKEN] = token
    reloaded.run()
    stranger = open_page(SAMPLE)
    assert "retrain_cancel" in button_keys(reloaded) and "retrain_cancel" not in button_keys(stranger)
    (strip,) = [e.proto.body for e in reloaded.sidebar.get("html") if "dn-snapshots" in e.proto.body]
    assert strip.count("data:image/png;base64,") >= 2 and 'alt="epoch ' in strip
    assert "Your digit, denoised by the model being trained" in sidebar_text(reloaded)
    assert "Your digit" not in sidebar_text(stranger) and "already running" in sidebar_text(stranger)
    reloaded.button(key="retrain_cancel").click().run()
    assert slot.wait(30).status == "cancelled"
    assert "Training cancelled: nothing was saved" in sidebar_text(reloaded.run())


def test_a_model_worse_than_the_noisy_input_is_not_selected_and_the_page_says_why(runs):
    owner = start(open_page(SAMPLE), epochs=2)  # 16 batches: a grey blur
    state = slot_of(runs).wait(300)
    assert state.status == "done" and not state.better and state.result_key is None
    owner.run()
    assert owner.session_state["model"] == "weights/classic"
    warning = owner.sidebar.warning[0].value
    assert warning.startswith("The new model is worse than no denoising at σ 0.5 (")
    assert "(retrained)" not in " ".join(owner.radio(key="model").options)


def test_a_visitor_whose_selected_model_was_pruned_is_told(runs):
    runs.mkdir(parents=True, exist_ok=True)
    shutil.copy(WEIGHTS / "classic.keras", runs / "theirs.keras")
    sidecar = json.loads((WEIGHTS / "classic.json").read_text()) | {"name": "their model", "retrained": True}
    (runs / "theirs.json").write_text(json.dumps(sidecar))
    at = open_page(SAMPLE)
    at.radio(key="model").set_value("runs/theirs").run()
    housekeeping.remove_model(runs / "theirs.keras")  # what pruning does after someone else's training
    at.run()
    assert not at.exception and at.session_state["model"] == "weights/classic"
    assert "The model you had selected, their model (retrained), was removed" in at.sidebar.warning[0].value


def test_a_corrupt_data_file_ends_the_job_with_its_message_and_frees_the_slot(
    runs, tmp_path, monkeypatch, mnist_path
):
    broken = tmp_path / "mnist"
    shutil.copytree(mnist_path, broken)
    (broken / "t10k-images-idx3-ubyte.gz").write_bytes(b"this is not gzip")
    monkeypatch.setenv("MNIST_DIR", str(broken))
    at = start(open_page(SAMPLE), epochs=2)
    state = slot_of(runs).wait(120)
    assert state.status == "failed" and "not a readable gzip file" in state.message
    at.run()
    assert "not a readable gzip file" in at.sidebar.error[0].value
    assert "retrain_start" in button_keys(at)  # the slot is free again
    assert [p.name for p in runs.iterdir()] == [lock.LOCK_NAME]


def test_missing_data_is_named_and_no_training_is_offered(runs, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(tmp_path))
    at = open_page(SAMPLE)
    assert not at.exception and len(at.image) >= 3  # the rest of the page works
    assert "lacks train-images-idx3-ubyte.gz" in at.sidebar.warning[0].value
    assert "retrain_start" not in button_keys(at)
    monkeypatch.delenv("MNIST_DIR")
    monkeypatch.setattr(preflight, "keras_mnist_cache", lambda: [tmp_path / "mnist.npz"])
    at = open_page(SAMPLE)
    assert "Keras has no cached copy" in at.sidebar.warning[0].value
    assert "retrain_start" not in button_keys(at)
    assert slot_of(runs).snapshot().status == "idle"  # nothing was started or downloaded


def test_an_unwritable_runs_folder_disables_training(runs, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DENOISER_RUNS_DIR", str(blocker / "runs"))
    at = open_page(SAMPLE)
    assert "cannot be created" in at.sidebar.warning[0].value
    assert "retrain_start" not in button_keys(at)


def test_training_can_be_switched_off_and_epochs_capped(runs, monkeypatch):
    monkeypatch.setenv("DENOISER_TRAINING", "off")
    at = open_page(SAMPLE)
    assert not at.exception
    assert "Retrain" not in [h.value for h in at.sidebar.header]
    assert button_keys(at) == {"reset_models"}  # choosing a shipped model again stays possible
    monkeypatch.setenv("DENOISER_TRAINING", "on")
    monkeypatch.setenv("DENOISER_MAX_EPOCHS", "4")
    at = open_page(SAMPLE)
    assert at.slider(key="retrain_epochs").proto.max == 4
    monkeypatch.setenv("DENOISER_MAX_IMAGES", str(3 * SIZE))  # 4 epochs × 2,048 digits is over it
    at.slider(key="retrain_epochs").set_value(4).run()
    assert "Too long for this server: epochs × digits is 8,192" in at.sidebar.error[0].value
    assert "retrain_start" not in button_keys(at)
    monkeypatch.delenv("DENOISER_MAX_IMAGES")
    monkeypatch.setenv("DENOISER_MAX_EPOCHS", "many")
    at = open_page(SAMPLE)
    assert "DENOISER_MAX_EPOCHS must be a whole number" in at.sidebar.error[0].value
    assert not at.exception and len(at.image) >= 3


def test_the_blind_choice_trains_the_recipe_in_blind_json_over_a_sigma_range(runs, monkeypatch):
    weights = Path(os.environ["DENOISER_WEIGHTS_DIR"])
    shutil.copy(weights / "classic.keras", weights / "blind.keras")
    sidecar = json.loads((weights / "classic.json").read_text())
    sidecar |= {
        "recipe": "unet",
        "images_per_s": 1000.0,
        "config": sidecar["config"] | {"model": "unet", "loss": "mse"},
    }
    (weights / "blind.json").write_text(json.dumps(sidecar))
    at = open_page(SAMPLE)
    assert at.radio(key="retrain_recipe").options[1].startswith("blind (unet)")
    at.radio(key="retrain_recipe").set_value("unet").run()
    at.slider(key="retrain_sigma_range").set_value((0.2, 0.6)).run()
    assert "blind trained at 1,000 digits/s" in sidebar_text(at)
    captured = {}
    monkeypatch.setattr(
        supervisor.TrainingJobs,
        "start",
        lambda self, owner, config, *args, **kwargs: captured.setdefault("c", config),
    )
    at.button(key="retrain_start").click().run()
    config = captured["c"]
    assert (config.model, config.sigma, config.sigma_range, config.loss) == ("unet", None, (0.2, 0.6), "mse")


def test_the_snapshots_follow_the_digit_on_the_panels_at_the_sessions_sigma(runs, monkeypatch):
    """Start reads the digit the panels show when it is pressed, and the session's σ.

    The panels rerun on their own (a stroke does not rerun the sidebar), so the digit is read
    from the session at the click, not from the sidebar's last full run."""
    images, labels = data.load_sample()
    at = open_page(SAMPLE, sample_digit=3, noise_sigma=0.3)
    np.testing.assert_array_equal(at.session_state[session.DIGIT], images[np.flatnonzero(labels == 3)[0]])
    drawn_since = np.full((28, 28), 0.25, np.float32)  # as if a stroke had rerun the panels alone
    at.session_state[session.DIGIT] = drawn_since
    captured = {}
    monkeypatch.setattr(
        supervisor.TrainingJobs,
        "start",
        lambda self, owner, config, watch, **kwargs: captured.setdefault("w", watch),
    )
    at.button(key="retrain_start").click().run()
    watch = captured["w"]
    np.testing.assert_array_equal(watch.digit, drawn_since)
    assert watch.sigma == 0.3
    np.testing.assert_array_equal(watch.noise_field, at.session_state["noise_field"])


def test_the_form_offers_the_noise_kinds_and_start_trains_on_those_picked(runs, monkeypatch):
    at = open_page(SAMPLE, noise_kind="salt_and_pepper")
    kinds = at.pills(key="retrain_noise")
    assert kinds.options == ["Gaussian", "Salt and pepper", "Speckle"] and kinds.value == ["gaussian"]
    at.slider(key="retrain_sigma").set_value(0.9)  # the σ at which classic was measured to beat speckle
    kinds.set_value(["speckle", "salt_and_pepper"]).run()
    captured = {}
    monkeypatch.setattr(
        supervisor.TrainingJobs,
        "start",
        lambda self, owner, config, watch, **kwargs: captured.update(config=config, watch=watch),
    )
    at.button(key="retrain_start").click().run()
    assert captured["config"].noise == ("salt_and_pepper", "speckle")  # in the page's order
    assert captured["config"].noise_weights is None  # equally often
    assert captured["watch"].kind == "salt_and_pepper"  # the snapshots show the page's kind
    assert at.query_params["train_noise"] == "speckle,salt_and_pepper"  # a reload keeps the choice
    at.pills(key="retrain_noise").set_value([]).run()
    assert "Pick at least one kind of noise to train on." in [e.value for e in at.sidebar.error]
    assert "retrain_start" not in button_keys(at)


def test_classic_on_light_speckle_is_not_offered_because_it_was_measured_worse_than_no_denoising():
    """bench/retrain.py --only kinds: classic trained on speckle at σ 0.2 gave 19.3 dB where the
    noisy digit has 25.8, so below σ 0.9 the form says so in one line and offers no Start."""
    at = open_page(SAMPLE)
    at.pills(key="retrain_noise").set_value(["gaussian", "speckle"]).run()
    errors = [e.value for e in at.sidebar.error]
    assert any(e.startswith("Classic cannot beat light speckle") for e in errors), errors
    assert "retrain_start" not in button_keys(at)
    at.slider(key="retrain_sigma").set_value(0.9).run()
    assert not at.sidebar.error and "retrain_start" in button_keys(at)
    at.pills(key="retrain_noise").set_value(["salt_and_pepper"]).run()  # other kinds at any σ
    at.slider(key="retrain_sigma").set_value(0.2).run()
    assert not at.sidebar.error and "retrain_start" in button_keys(at)


def test_blind_on_other_kinds_is_not_offered_because_it_was_measured_worse_than_no_denoising():
    """bench/retrain.py --only kinds: the blind recipe trained here on salt and pepper ended at a
    flat 9.6 dB (the noisy digit has 13.3 at p 0.1), on speckle at 29.4 dB at σ 0.1 (31.6 noisy),
    so the form says so and offers no Start; on Gaussian noise it is offered as before."""
    at = open_page(SAMPLE)
    at.radio(key="retrain_recipe").set_value("unet_residual").run()
    at.pills(key="retrain_noise").set_value(["gaussian", "salt_and_pepper"]).run()
    errors = [e.value for e in at.sidebar.error]
    assert any("blind model trained here on salt and pepper or speckle" in e for e in errors), errors
    assert "retrain_start" not in button_keys(at)
    at.pills(key="retrain_noise").set_value(["speckle"]).run()
    assert at.sidebar.error and "retrain_start" not in button_keys(at)
    at.pills(key="retrain_noise").set_value(["gaussian"]).run()
    assert not at.sidebar.error and "retrain_start" in button_keys(at)


def test_the_snapshots_take_the_sessions_sigma_once_the_live_panels_own_the_slider():
    """Without the server-drawn slider (the live panels run), σ is still the session's, not 0.5."""

    def page() -> None:
        import numpy as np
        import streamlit as st

        from denoiser.page import retrain, session

        session.init_state()
        session.set_sigma(0.3, from_live_slider=True)
        session.keep_digit(np.full((28, 28), 0.25, np.float32))
        watch = retrain.watch_for(session.current_digit())
        st.session_state.seen = (watch.sigma, float(watch.digit.mean()))

    at = AppTest.from_function(page).run()
    assert not at.exception and at.session_state.seen == (0.3, 0.25)


# The pieces behind the page, directly.


def test_a_killed_save_leaves_the_previous_model_loadable(tmp_path):
    path = tmp_path / "mine.keras"
    shutil.copy(WEIGHTS / "classic.keras", path)
    shutil.copy(WEIGHTS / "classic.json", path.with_suffix(".json"))
    before = path.read_bytes()
    dying_save = f"""
import os, signal
from denoiser import storage
class HalfWritten:
    def save(self, target):
        with open(target, "wb") as handle:
            handle.write(b"PK\\x03\\x04 half a zip")
        os.kill(os.getpid(), signal.SIGKILL)
storage.save_model_atomic(HalfWritten(), {str(path)!r}, {{"name": "new"}})
"""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.run(
        [sys.executable, "-c", dying_save], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert process.returncode == -9, process.stderr.decode()[-500:]
    assert path.read_bytes() == before and storage.read_sidecar(path)["recipe"] == "classic"
    assert catalog.load_denoiser(path).output_shape == (None, 28, 28, 1)
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers and [e.key for e in catalog.discover(tmp_path / "none", tmp_path)] == ["runs/mine"]
    housekeeping.prune(tmp_path, keep=5)  # a fresh temporary might be a save in progress: kept
    assert all(p.exists() for p in leftovers)
    housekeeping.prune(tmp_path, keep=5, stale_after=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.json", "mine.keras"]


def test_options_come_from_the_environment_and_malformed_ones_are_named():
    assert settings.Options.from_env({}) == settings.Options(threads=settings.default_threads({}))
    options = settings.Options.from_env(
        {
            "DENOISER_TRAINING": "off",
            "DENOISER_MAX_EPOCHS": "3",
            "DENOISER_TRAIN_SIZES": "6000, 512",
            "DENOISER_KEEP_RUNS": "2",
            "DENOISER_MAX_IMAGES": "100000",
            "DENOISER_COOLDOWN_S": "600",
            "DENOISER_TRAINING_THREADS": "3",
        }
    )
    assert options == settings.Options(
        allowed=False,
        max_epochs=3,
        train_sizes=(512, 6000),
        keep=2,
        max_images=100000,
        cooldown_s=600,
        threads=3,
    )
    big = TrainConfig.for_model("classic", epochs=2, train_size=60000)
    assert options.over_cap(big) == "epochs × digits is 120,000; this server allows at most 100,000"
    assert settings.Options.from_env({"DENOISER_TRAINING": "on"}).allowed
    for name, value in [
        ("DENOISER_MAX_EPOCHS", "0"),
        ("DENOISER_TRAIN_SIZES", "70000"),
        ("DENOISER_KEEP_RUNS", "x"),
        ("DENOISER_TRAINING", "maybe"),
        ("DENOISER_COOLDOWN_S", "-1"),
    ]:
        with pytest.raises(ValueError, match=name):
            settings.Options.from_env({name: value})


def test_data_check_names_the_missing_files_without_loading_anything(tmp_path, mnist_path, monkeypatch):
    assert preflight.data_problem(mnist_path) is None
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b""))
    problem = preflight.data_problem(tmp_path)
    assert "lacks train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz" in problem
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(
        preflight, "keras_mnist_cache", lambda: [tmp_path / "keras" / "datasets" / "mnist.npz"]
    )
    assert "Keras has no cached copy" in preflight.data_problem()
    (tmp_path / "keras" / "datasets").mkdir(parents=True)
    (tmp_path / "keras" / "datasets" / "mnist.npz").write_bytes(b"")
    assert preflight.data_problem() is None


def test_runs_folder_check_creates_nothing(tmp_path):
    assert preflight.runs_writable(tmp_path / "a" / "b") is None
    assert not (tmp_path / "a").exists()


def test_retraining_inherits_the_shipped_settings_it_would_replace():
    name, sidecar = recipes.shipped_sidecar("classic", WEIGHTS)
    assert name == "classic"
    config = recipes.retrain_config("classic", sidecar, epochs=2, sigma=0.3, train_size=6000)
    assert (config.loss, config.batch_size, config.sigma, config.epochs) == (
        "binary_crossentropy",
        256,
        0.3,
        2,
    )
    assert recipes.shipped_sidecar("dncnn", WEIGHTS) is None
    assert recipes.retrain_config("dncnn", None, epochs=1, sigma=None, sigma_range=(0.1, 0.4)).loss == "mse"
    assert recipes.improved_recipe(Path("/nonexistent")) == "unet_residual"


def test_the_loss_chart_has_each_epoch_and_the_running_epoch_so_far():
    history = [{"epoch": 1, "loss": 0.3, "val_loss": 0.25}]
    progress = Progress(
        epoch=2, epochs=3, step=5, steps=10, loss=0.2, elapsed=4.0, images_seen=0, history=history
    )
    assert retrain.loss_rows(progress) == [
        {"epoch": 1, "loss": 0.3, "kind": "training"},
        {"epoch": 1, "loss": 0.25, "kind": "validation"},
        {"epoch": 1.5, "loss": 0.2, "kind": "training"},
    ]
    assert progress.remaining == pytest.approx(4.0 * (1 - 0.5) / 0.5)


def test_durations_and_the_estimate_read_as_a_person_would():
    assert [retrain_form.format_duration(s) for s in (4.4, 65, 3725, float("nan"))] == [
        "4 s",
        "1 min 05 s",
        "1 h 02 min",
        "unknown",
    ]


def test_the_estimate_is_a_range_from_trainings_timed_here_and_a_sidecar_gives_only_a_floor():
    config = TrainConfig.for_model("classic", epochs=2, train_size=6000)  # 12,000 digits
    floor = retrain_form.estimate_text(config, ("classic", {"images_per_s": 1000.0}), [])
    assert floor.startswith("Takes at least 27 s: classic trained at 1,000 digits/s")  # 15 s + 12 s
    one = [estimate.Measurement(images_per_s=500.0, overhead_s=20.0)]
    # 20 / 1.25 + 12,000 / (500 × 1.25) = 35.2 s; 20 × 1.25 + 12,000 / (500 / 1.25) = 55 s
    assert retrain_form.estimate_text(config, None, one).startswith(
        "Takes about 35 s – 55 s on this server (measured here: 1 classic training at 500 digits/s"
    )
    two = [estimate.Measurement(400.0, 10.0), estimate.Measurement(600.0, 20.0)]
    # 10 + 12,000 / 600 = 30 s; 20 + 12,000 / 400 = 50 s
    assert retrain_form.estimate_text(config, None, two).startswith(
        "Takes about 30 s – 50 s on this server (measured here: 2 classic trainings at 400–600 digits/s"
    )
    assert "No time estimate yet" in retrain_form.estimate_text(config, None, [])


def test_the_oldest_retrained_model_is_pruned_and_the_new_one_keeps_the_contract(
    tmp_path, mnist_path, monkeypatch
):
    monkeypatch.setenv("MNIST_DIR", str(mnist_path))
    tmp_path.joinpath("older.keras").write_bytes((WEIGHTS / "classic.keras").read_bytes())
    slot = supervisor.TrainingJobs(tmp_path, validation_size=200, keep=1)
    slot.start("alice", TrainConfig.for_model("classic", epochs=GOOD_EPOCHS, train_size=SIZE, val_size=128))
    state = slot.wait(300)
    assert state.status == "done", state.message
    (entry,) = catalog.discover(tmp_path / "none", tmp_path)  # keep=1: the older one was removed
    assert entry.key == state.result_key and entry.retrained and entry.scores == state.scores
    model = keras.models.load_model(entry.path, compile=False)
    assert model.output_shape == (None, 28, 28, 1)
    assert storage.read_sidecar(entry.path)["validation"] == "last 200 test digits"


def test_runs_go_to_the_hosts_persistent_disk_unless_a_folder_is_named(tmp_path, monkeypatch):
    disk = tmp_path / "data"
    monkeypatch.delenv("DENOISER_RUNS_DIR", raising=False)
    monkeypatch.setattr(catalog, "PERSISTENT", disk)
    assert catalog.runs_dir() == catalog.ROOT / "runs"  # no disk: the repository's runs/
    disk.mkdir()
    assert catalog.runs_dir() == disk / "runs"
    monkeypatch.setenv("DENOISER_RUNS_DIR", str(tmp_path / "mine"))
    assert catalog.runs_dir() == tmp_path / "mine"


def test_the_pages_training_slot_obeys_a_changed_keep_and_threads(tmp_path):
    first = retrain.training_slot(str(tmp_path), 5, 1)
    changed = retrain.training_slot(str(tmp_path), 2, 3)
    assert (first.keep, first.threads) == (5, 1) and (changed.keep, changed.threads) == (2, 3)
    assert retrain.training_slot(str(tmp_path), 5, 1) is first  # one slot per folder and options


STAND_IN = (  # the page's worker replaced by a child that reports one batch and waits to be cancelled
    "/bin/sh",
    "-c",
    "read job; echo '"
    + json.dumps(
        {
            "event": "progress",
            "epoch": 1,
            "epochs": 7,
            "step": 1,
            "steps": 2,
            "loss": 0.3,
            "elapsed": 4.0,
            "images_seen": 2000,
            "history": [],
        }
    )
    + "'; sleep 120",
)


def visit(query: dict[str, str]) -> AppTest:
    """A page load with this URL query (a reload keeps the URL)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["source"] = SAMPLE
    for name, value in query.items():
        at.query_params[name] = value
    return at.run()


def widget(at: AppTest, kind: str, label: str):
    (found,) = [w for w in at.sidebar.get(kind) if w.label == label]
    return found


def test_during_a_training_the_form_shows_its_settings_and_a_reload_keeps_the_visitors_choices(
    runs, monkeypatch
):
    monkeypatch.setenv("DENOISER_TRAIN_SIZES", f"512,{SIZE}")
    owner = visit({})
    assert owner.radio(key="retrain_size").value == SIZE and owner.slider(key="retrain_epochs").value == 5
    owner.radio(key="retrain_size").set_value(512).run()
    owner.slider(key="retrain_epochs").set_value(7).run()
    query = {name: owner.query_params[name] for name in owner.query_params}
    assert query["train_digits"] in ("512", ["512"]) and query["train_epochs"] in ("7", ["7"])
    slot = slot_of(runs)
    slot.worker_command = list(STAND_IN)
    owner.button(key="retrain_start").click().run()
    assert wait_for(lambda: slot.snapshot().status == "running", timeout=60)
    visitor = visit({})  # someone else, with the defaults: the form shows the job, not their choices
    assert widget(visitor, "slider", "Epochs").value == 7 and widget(visitor, "slider", "Epochs").disabled
    assert widget(visitor, "radio", "Training digits").value == 512
    assert "At its pace so far (500 digits/s)" in sidebar_text(visitor)
    assert "retrain_epochs" not in visitor.session_state or visitor.session_state["retrain_epochs"] == 5
    owner.run()
    assert owner.button(key="retrain_cancel") is not None
    owner.button(key="retrain_cancel").click().run()
    assert slot.wait(30).status == "cancelled"
    reloaded = visit(
        {name: (value[-1] if isinstance(value, list) else value) for name, value in query.items()}
    )
    assert (
        reloaded.radio(key="retrain_size").value == 512 and reloaded.slider(key="retrain_epochs").value == 7
    )
    owner.run()  # the owner's own choices outlived the runs that showed the job instead
    assert owner.radio(key="retrain_size").value == 512 and owner.slider(key="retrain_epochs").value == 7
    visitor.run()
    assert visitor.radio(key="retrain_size").value == SIZE and visitor.slider(key="retrain_epochs").value == 5
    assert slot.measured("classic")[0].images_per_s == pytest.approx(500.0)  # 2,000 digits in 4 s
