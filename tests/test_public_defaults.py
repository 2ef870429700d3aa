"""The image's defaults for a public page, read from the Dockerfile's own ENV and applied to
the page: a bounded job, a cooldown for the whole server that a reload or a second visitor
cannot reset, and one switch that turns retraining off; the local defaults stay as they were.

The page runs through AppTest with the Dockerfile's variables set (the image's MNIST_DIR and
training-set sizes swapped for the local files and 2,048 digits, so a job takes seconds).
Two AppTest sessions of one process stand for two visitors of one server (or one visitor
before and after a reload: a new session either way).
"""

from __future__ import annotations

import pytest
from helpers import SAMPLE, button_keys, open_page, point_page_at, sidebar_text
from test_space import dockerfile_env

from denoiser.page import retrain
from denoiser.train import TrainConfig
from denoiser.training import settings as jobs

SIZE = 2048
LOCAL_ONLY = ("MNIST_DIR",)  # the image's idx folder does not exist here


@pytest.fixture
def image_env(tmp_path_factory, monkeypatch, mnist_path) -> dict[str, str]:
    """The page under the Dockerfile's ENV, with its own weights and runs folders."""
    runs = tmp_path_factory.mktemp("public") / "runs"
    point_page_at(monkeypatch, tmp_path_factory.mktemp("weights"), runs, mnist_path, SIZE)
    env = {k: v for k, v in dockerfile_env().items() if k.startswith("DENOISER_") and k not in LOCAL_ONLY}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DENOISER_TRAINING_THREADS", "1")
    return env | {"runs": str(runs)}


def test_the_image_bounds_a_job_and_keeps_one_cooldown_per_server_while_local_defaults_stay():
    image = jobs.Options.from_env(dockerfile_env())
    assert image.allowed and image.max_images == 300_000
    assert image.cooldown_s >= 60 and image.cooldown_per == "server"
    recipe = TrainConfig.for_model("classic", epochs=5, train_size=60000)
    assert image.over_cap(recipe) is None  # the seed recipe fits
    assert "at most 300,000" in image.over_cap(TrainConfig.for_model("classic", epochs=6, train_size=60000))
    local = jobs.Options.from_env({})
    assert local.max_images is None and local.cooldown_s == 0 and local.cooldown_per == "visitor"
    assert not jobs.Options.from_env(dockerfile_env() | {"DENOISER_TRAINING": "off"}).allowed
    with pytest.raises(ValueError, match="DENOISER_COOLDOWN_PER must be visitor or server"):
        jobs.Options.from_env({"DENOISER_COOLDOWN_PER": "tab"})


def test_under_the_images_env_a_second_visitor_waits_out_the_first_ones_cooldown(image_env):
    first = open_page(SAMPLE)
    first.slider(key="retrain_epochs").set_value(jobs.MIN_EPOCHS)
    first.button(key="retrain_start").click().run()
    assert not first.exception and "retrain_cancel" in button_keys(first)
    options = jobs.Options.from_env()
    slot = retrain.training_slot(image_env["runs"], options.keep, options.threads, options.start_as)
    first.button(key="retrain_cancel").click().run()  # the slot is free again; the cooldown stays
    assert slot.wait(60).status == "cancelled"
    for visitor in (open_page(SAMPLE), first.run()):  # a new session (another tab, a reload) and the first
        assert "retrain_start" in button_keys(visitor), sidebar_text(visitor)
        visitor.button(key="retrain_start").click().run()
        assert "You can start another training in" in sidebar_text(visitor)
        assert f"one on this server every {image_env['DENOISER_COOLDOWN_S']} s" in sidebar_text(visitor)
        assert not slot.snapshot().active


def test_under_the_images_env_too_big_a_job_is_refused_and_off_removes_retraining(image_env, monkeypatch):
    at = open_page(SAMPLE)
    at.slider(key="retrain_epochs").set_value(jobs.MAX_EPOCHS).run()
    assert "retrain_start" in button_keys(at)  # 20 × 2,048 digits fits 300,000
    monkeypatch.setenv("DENOISER_TRAIN_SIZES", "20000")  # the image's smaller size
    at = open_page(SAMPLE)
    at.slider(key="retrain_epochs").set_value(jobs.MAX_EPOCHS).run()
    assert "epochs × digits is 400,000; this server allows at most 300,000" in at.sidebar.error[0].value
    assert "retrain_start" not in button_keys(at)
    monkeypatch.setenv("DENOISER_TRAINING", "off")
    at = open_page(SAMPLE)
    assert not at.exception and "Retrain" not in [h.value for h in at.sidebar.header]


def test_a_model_still_being_copied_into_the_runs_folder_is_not_listed(tmp_path):
    # A storage bucket's rename may be a copy: the runs folder can show a model's first bytes.
    from pathlib import Path

    from denoiser.page import catalog

    weights, runs = tmp_path / "weights", tmp_path / "runs"
    weights.mkdir(), runs.mkdir()
    whole = (Path(__file__).resolve().parents[1] / "weights" / "classic.keras").read_bytes()
    (runs / "arriving.keras").write_bytes(whole[: len(whole) // 2])
    assert catalog.discover(weights, runs) == []
    (runs / "arriving.keras").write_bytes(whole)
    assert [e.key for e in catalog.discover(weights, runs)] == ["runs/arriving"]
