"""The classic model against the seed recipe, and training / saving on small real subsets."""

import dataclasses
import json
import os

import keras
import numpy as np
import pytest

from denoiser import models, storage, train
from denoiser.inference import denoise

# The seed recipe, layer by layer: (type, filters, kernel, activation, padding).
SEED_LAYERS = [
    ("InputLayer", None, None, None, None),
    ("Conv2D", 32, (3, 3), "relu", "same"),
    ("MaxPooling2D", None, None, None, "same"),
    ("Conv2D", 16, (3, 3), "relu", "same"),
    ("MaxPooling2D", None, None, None, "same"),
    ("Conv2D", 16, (3, 3), "relu", "same"),
    ("UpSampling2D", None, None, None, None),
    ("Conv2D", 32, (3, 3), "relu", "same"),
    ("UpSampling2D", None, None, None, None),
    ("Conv2D", 1, (3, 3), "sigmoid", "same"),
]


def _describe(layer):
    config = layer.get_config()
    activation = config.get("activation")
    return (
        type(layer).__name__,
        config.get("filters"),
        tuple(config["kernel_size"]) if "kernel_size" in config else None,
        activation if isinstance(activation, str) or activation is None else activation,
        config.get("padding"),
    )


def test_classic_matches_the_seed_recipe_layer_by_layer():
    model = models.build("classic")
    assert [_describe(layer) for layer in model.layers] == SEED_LAYERS
    assert model.count_params() == 12193
    assert type(model).__name__ == "Functional"


@pytest.mark.parametrize("name", list(models.REGISTRY))
def test_every_registered_model_keeps_shape_and_range(name):
    model = models.build(name)
    x = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    y = np.asarray(model(x))
    assert y.shape == x.shape
    assert y.min() >= 0.0 and y.max() <= 1.0
    assert model.count_params() <= 2_000_000


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="classic"):
        models.get_spec("nope")


def test_short_training_on_a_subset_lowers_the_loss(mnist):
    config = train.TrainConfig.for_model("classic", epochs=2, train_size=2048, val_size=256)
    seen = []
    result = train.train(config, mnist, on_progress=seen.append)
    losses = [entry["loss"] for entry in result.history]
    assert len(losses) == 2 and losses[1] < losses[0]
    assert result.history[-1]["val_loss"] < 0.69  # better than a constant 0.5 output (ln 2)
    assert seen and seen[-1].epoch == 2 and seen[-1].fraction == pytest.approx(1.0)
    assert len(seen) >= 2 * 8  # one report per batch, eight batches an epoch
    assert result.data_checksum != mnist.checksum  # it records the subset it saw


def test_a_partial_last_batch_counts_the_digits_it_holds(mnist):
    config = train.TrainConfig.for_model("classic", epochs=2, train_size=300, val_size=64, batch_size=256)
    seen = []
    result = train.train(config, mnist, on_progress=seen.append)
    batches = [(p.epoch, p.step, p.images_seen) for p in seen]
    assert (1, 1, 256) in batches and (1, 2, 300) in batches and (2, 2, 600) in batches
    assert seen[-1].images_seen == 600  # 2 epochs × 300 digits, not 2 × 2 batches of 256
    assert result.images_per_s == pytest.approx(600 / result.seconds)


def test_should_stop_ends_training_within_one_batch(mnist):
    config = train.TrainConfig.for_model("classic", epochs=3, train_size=4096, batch_size=256)
    seen = []
    result = train.train(config, mnist, on_progress=seen.append, should_stop=lambda: len(seen) >= 3)
    assert result.stopped_early
    assert seen[-1].epoch == 1 and seen[-1].step == 3  # stopped right after the third batch


def test_blind_config_draws_sigma_per_image(mnist):
    config = train.TrainConfig.for_model("unet", epochs=1, batch_size=512)
    assert config.sigma is None and config.loss == "mse" and config.sigma_label == "U(0, 1)"
    noisy, clean = next(iter(train.noisy_pairs(mnist.x_test[:512], config, training=True)))
    spread = np.std(np.asarray(noisy) - np.asarray(clean), axis=(1, 2, 3))
    assert spread.min() < 0.1 and spread.max() > 0.4


def test_save_load_round_trip_gives_identical_outputs(tmp_path, mnist):
    config = train.TrainConfig.for_model("classic", epochs=1, train_size=512, val_size=0)
    result = train.train(config, mnist)
    path = train.save(result, tmp_path / "m.keras", scores=[{"sigma": 0.5, "psnr": 1.0}])
    loaded = keras.models.load_model(path, compile=False)
    x = mnist.x_test[:16]
    np.testing.assert_allclose(denoise(loaded, x), denoise(result.model, x), atol=1e-6)
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["recipe"] == "classic" and side["sigma"] == "0.5" and side["epochs"] == 1
    assert side["data"]["checksum"].startswith("sha256:") and side["data"]["train_size"] == 512
    assert side["scores"] == [{"sigma": 0.5, "psnr": 1.0}]
    assert side["config"] == dataclasses.asdict(config) | {
        "sigma_range": list(config.sigma_range),
        "noise": list(config.noise),
    }


def test_interrupted_save_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    model = models.build("classic")
    path = storage.save_model_atomic(model, tmp_path / "m.keras")
    before = path.read_bytes()

    def crash(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as handle:
            handle.write(b"half a model")
        raise KeyboardInterrupt  # the process is stopped mid-write

    monkeypatch.setattr(keras.Model, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        storage.save_model_atomic(model, path)
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]
    assert path.read_bytes() == before
    storage.load_model(path)


def test_bad_training_settings_are_rejected_up_front():
    with pytest.raises(ValueError, match="σ range"):
        train.TrainConfig(sigma=None, sigma_range=(0.8, 0.2)).validate()
    with pytest.raises(ValueError, match="epochs"):
        train.TrainConfig(epochs=0).validate()
