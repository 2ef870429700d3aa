"""Training a registered model from one config object, with noise made on the fly in `tf.data`.

Progress goes to a plain callable (a CLI progress bar, the page's job object), so the same
training path serves the command line, the page and the benchmarks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from denoiser import models, noise, storage
from denoiser.data import Mnist, checksum


@dataclass
class TrainConfig:
    """Everything that decides what a training run produces."""

    model: str = "classic"  # a name in models.REGISTRY
    epochs: int = 5
    batch_size: int = 256
    sigma: float | None = 0.5  # fixed training σ; None trains blind over sigma_range
    sigma_range: tuple[float, float] = (0.0, 1.0)  # per-image σ ~ U(lo, hi) when blind
    train_size: int | None = None  # first N training digits; None uses all 60,000
    val_size: int = 1000  # test digits used for the validation loss
    loss: str | None = None  # None uses the model's own (see ModelSpec.loss)
    learning_rate: float = 1e-3
    schedule: str = "constant"  # or "cosine": decay to zero over the run (longer trainings)
    seed: int = 0
    noise: tuple[str, ...] = (noise.DEFAULT_KIND,)  # kinds in noise.KINDS; each image draws one of them
    noise_weights: tuple[float, ...] | None = None  # how often each kind is drawn; None: equally
    init_from: str | None = None  # a saved model of the same recipe to start from (fine-tuning)

    @classmethod
    def for_model(cls, name: str, **overrides: Any) -> TrainConfig:
        """Defaults taken from the model's spec (its σ and loss), then `overrides`."""
        spec = models.get_spec(name)
        base = cls(model=name, sigma=spec.sigma, sigma_range=spec.sigma_range, loss=spec.loss)
        return dataclasses.replace(base, **overrides)

    def __post_init__(self) -> None:
        if isinstance(self.noise, str):  # "gaussian" or "gaussian,speckle", as the CLI and JSON give it
            self.noise = tuple(part.strip() for part in self.noise.split(",") if part.strip())
        self.noise = tuple(self.noise)
        if self.noise_weights is not None:
            self.noise_weights = tuple(float(w) for w in self.noise_weights)

    def validate(self) -> None:
        """Reject settings that would fail deep inside Keras with an obscure message."""
        models.get_spec(self.model)
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch size must be at least 1")
        if self.sigma is not None and not 0 <= self.sigma <= 2:
            raise ValueError(f"σ must be between 0 and 2, got {self.sigma}")
        lo, hi = self.sigma_range
        if not 0 <= lo <= hi <= 2:
            raise ValueError(f"σ range must satisfy 0 ≤ lo ≤ hi ≤ 2, got {self.sigma_range}")
        if self.train_size is not None and self.train_size < 1:
            raise ValueError("training-set size must be at least 1")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be constant or cosine, got {self.schedule!r}")
        if not self.noise or len(set(self.noise)) != len(self.noise):
            raise ValueError(f"noise must name one or more different kinds, got {self.noise!r}")
        for kind in self.noise:
            noise.check_kind(kind)
        weights = self.noise_weights
        if weights is not None and (len(weights) != len(self.noise) or min(weights) < 0 or sum(weights) <= 0):
            raise ValueError(f"noise weights must be one non-negative number per kind, got {weights!r}")

    @property
    def sigma_label(self) -> str:
        """σ as a person reads it: `0.5` or `U(0, 1)`."""
        if self.sigma is not None:
            return f"{self.sigma:g}"
        return f"U({self.sigma_range[0]:g}, {self.sigma_range[1]:g})"


@dataclass
class Progress:
    """A snapshot of a running training, handed to progress listeners after every batch."""

    epoch: int  # 1-based
    epochs: int
    step: int  # batches done in this epoch
    steps: int  # batches per epoch
    loss: float
    elapsed: float  # seconds since training began
    images_seen: int
    history: list[dict[str, float]] = field(default_factory=list)  # one entry per finished epoch

    @property
    def fraction(self) -> float:
        """How much of the whole run is done, 0..1."""
        return ((self.epoch - 1) * self.steps + self.step) / max(1, self.epochs * self.steps)

    @property
    def remaining(self) -> float:
        """Seconds left, extrapolated from the pace so far."""
        done = self.fraction
        return self.elapsed * (1 - done) / done if done > 0 else float("nan")


class ProgressCallback(keras.callbacks.Callback):
    """Forwards Keras's batch and epoch events as `Progress`, and stops when asked to."""

    def __init__(
        self,
        config: TrainConfig,
        steps: int,
        on_progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        examples: int | None = None,  # digits per epoch: the last batch may be short
    ) -> None:
        super().__init__()
        self.config, self.steps = config, steps
        self.examples = steps * config.batch_size if examples is None else examples
        self.on_progress, self.should_stop = on_progress, should_stop
        self.history: list[dict[str, float]] = []
        self.epoch = 0
        self.started = time.perf_counter()
        self.images = 0
        self.step = 0
        self.stopped_early = False

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch + 1
        self.step = 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.images += min(self.config.batch_size, self.examples - batch * self.config.batch_size)
        self.step = batch + 1
        self._emit(self.step, float((logs or {}).get("loss", float("nan"))))
        if self.should_stop is not None and self.should_stop():
            self.stopped_early = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        entry = {"epoch": epoch + 1, "loss": float(logs.get("loss", float("nan")))}
        if "val_loss" in logs:
            entry["val_loss"] = float(logs["val_loss"])
        self.history.append(entry)
        self._emit(self.step, entry["loss"])

    def _emit(self, step: int, loss: float) -> None:
        if self.on_progress is None:
            return
        self.on_progress(
            Progress(
                epoch=self.epoch,
                epochs=self.config.epochs,
                step=step,
                steps=self.steps,
                loss=loss,
                elapsed=time.perf_counter() - self.started,
                images_seen=self.images,
                history=list(self.history),
            )
        )


@dataclass
class TrainResult:
    """A trained model and what it took."""

    model: keras.Model
    config: TrainConfig
    history: list[dict[str, float]]
    seconds: float
    images_per_s: float
    stopped_early: bool
    data_checksum: str
    data_source: str


def noisy_pairs(images: np.ndarray, config: TrainConfig, training: bool) -> tf.data.Dataset:
    """(noisy, clean) batches with noise drawn afresh every time the dataset is iterated.

    Shuffling indices and gathering whole batches costs a fraction of shuffling 60,000 image
    tensors one by one, which kept this pipeline behind a plain `model.fit` on NumPy arrays.
    """
    pixels = tf.constant(images[..., None], dtype=tf.float32)
    ds = tf.data.Dataset.range(len(images))
    if training:
        ds = ds.shuffle(len(images), seed=config.seed, reshuffle_each_iteration=True)
    ds = ds.batch(config.batch_size)
    lo, hi = config.sigma_range
    kinds = tf.constant([noise.KINDS.index(kind) for kind in config.noise], tf.int32)
    single = config.noise[0] if len(config.noise) == 1 else None  # one kind: no per-image pick
    weights = np.asarray(config.noise_weights or [1.0] * len(config.noise), np.float64)
    logits = tf.constant(np.log(np.maximum(weights / weights.sum(), 1e-12))[None], tf.float32)

    def corrupt(indices: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        clean = tf.gather(pixels, indices)
        if config.sigma is not None:
            sigma = tf.fill([tf.shape(clean)[0]], config.sigma)
        else:
            sigma = tf.random.uniform([tf.shape(clean)[0]], lo, hi)
        if single is not None:
            return noise.tf_add_noise(clean, sigma, single), clean
        pick = tf.random.categorical(logits, tf.shape(clean)[0], dtype=tf.int32)[0]
        return noise.tf_add_noise(clean, sigma, tf.gather(kinds, pick)), clean

    ds = ds.map(corrupt, num_parallel_calls=tf.data.AUTOTUNE)
    if not training:
        ds = ds.cache()  # one fixed noise draw, so validation losses compare across epochs
    return ds.prefetch(tf.data.AUTOTUNE)


def initial_model(config: TrainConfig) -> keras.Model:
    """A fresh model of the recipe, or, with `init_from`, that saved model's weights in it
    (a fine-tuning: the shipped blind model already knows digits, only new noise is to learn)."""
    model = models.build(config.model)
    if config.init_from:
        start = storage.load_model(config.init_from)
        if len(start.weights) != len(model.weights):
            raise ValueError(f"{Path(config.init_from).name} is not a {config.model} model")
        model.set_weights(start.get_weights())
    return model


def train(
    config: TrainConfig,
    data: Mnist,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> TrainResult:
    """Build and fit the configured model; returns it with its history and timing.

    `callbacks` are extra Keras callbacks (the page's training child adds one that denoises
    the visitor's digit a few times an epoch), called after the progress callback.
    """
    config.validate()
    keras.utils.set_random_seed(config.seed)
    x_train = data.x_train[: config.train_size]
    y_train = data.y_train[: config.train_size]
    x_val = data.x_test[: config.val_size]
    model = initial_model(config)
    loss = config.loss or models.get_spec(config.model).loss
    steps = int(np.ceil(len(x_train) / config.batch_size))
    rate = config.learning_rate
    if config.schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=steps * config.epochs)
    model.compile(optimizer=keras.optimizers.Adam(rate), loss=loss)
    callback = ProgressCallback(config, steps, on_progress, should_stop, examples=len(x_train))
    started = time.perf_counter()
    model.fit(
        noisy_pairs(x_train, config, training=True),
        validation_data=noisy_pairs(x_val, config, training=False) if len(x_val) else None,
        epochs=config.epochs,
        callbacks=[callback, *(callbacks or [])],
        shuffle=False,  # the dataset shuffles itself
        verbose=0,
    )
    seconds = time.perf_counter() - started
    return TrainResult(
        model=model,
        config=config,
        history=callback.history,
        seconds=seconds,
        images_per_s=callback.images / seconds if seconds else 0.0,
        stopped_early=callback.stopped_early,
        data_checksum=checksum(x_train, y_train),
        data_source=data.source,
    )


def sidecar(
    result: TrainResult, scores: list[dict[str, float]] | None = None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What a model's JSON sidecar records: how it was trained and what it scored."""
    spec = models.get_spec(result.config.model)
    last = result.history[-1] if result.history else {}
    return {
        "recipe": result.config.model,
        "description": spec.description,
        "config": dataclasses.asdict(result.config),
        "epochs": result.config.epochs,
        "sigma": result.config.sigma_label,
        "noise": list(result.config.noise),
        "parameters": int(result.model.count_params()),
        "data": {
            "source": result.data_source,
            "checksum": result.data_checksum,
            "train_size": int(result.config.train_size or 60000),
        },
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seconds": round(result.seconds, 1),
        "images_per_s": round(result.images_per_s, 1),
        "final_loss": last.get("loss"),
        "final_val_loss": last.get("val_loss"),
        "history": result.history,
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        "scores": scores or [],
        **(extra or {}),
    }


def save(
    result: TrainResult,
    path: str | Path,
    scores: list[dict[str, float]] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Save the trained model and its sidecar (with `extra` keys, e.g. scores per noise kind) atomically."""
    return storage.save_model_atomic(result.model, path, sidecar(result, scores, extra))
