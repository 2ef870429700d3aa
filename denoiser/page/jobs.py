"""One background training per server: the state the page polls, and the worker that updates it.

The page owns one `TrainingJobs` (through `st.cache_resource`), so every visitor's session
sees the same object. The worker thread never touches Streamlit: it writes progress into
this object under a lock, and the page reads a copy from a fragment that reruns on a timer.
A finished model is validated, then saved atomically into the runs folder, never `weights/`.

Also here, without Streamlit: what a deployment allows (`Options`, from the environment),
whether training could start at all (data, runs folder), and the settings a retraining
inherits from the shipped model it would replace.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

from denoiser import data as data_module
from denoiser import evaluate, models, storage, train
from denoiser.train import Progress, TrainConfig

LOG = logging.getLogger(__name__)
VALIDATION_SIGMAS = (0.1, 0.3, 0.5, 0.7, 0.9)
VALIDATION_SIZE = 1000  # held-out test digits the finished model is scored on
KEEP_RUNS = 5  # retrained models kept in the runs folder; the oldest go first
MAX_EPOCHS = 20  # the epochs slider's top, unless DENOISER_MAX_EPOCHS says otherwise
TRAIN_SIZES = (6000, 20000, 60000)  # training-set sizes a visitor can pick
IMPROVED_RECIPE = "unet_residual"  # the improved model's recipe when weights/blind.json does not name one
OFF = ("0", "false", "no", "off")  # DENOISER_ALLOW_TRAINING values that hide the section
STALE_TEMPORARY_S = 600  # a save's temporary file this old was left by a killed process


@dataclass(frozen=True)
class Options:
    """What this deployment lets visitors do with training; read from the environment."""

    allowed: bool = True  # DENOISER_ALLOW_TRAINING=0 hides the Retrain section
    max_epochs: int = MAX_EPOCHS  # DENOISER_MAX_EPOCHS caps the epochs slider
    train_sizes: tuple[int, ...] = TRAIN_SIZES  # DENOISER_TRAIN_SIZES, e.g. "512,6000" for tests
    keep: int = KEEP_RUNS  # DENOISER_KEEP_RUNS: retrained models kept in the runs folder

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Options:
        """The options the environment sets; ValueError naming the variable when one is malformed."""
        environ = os.environ if environ is None else environ
        allowed = environ.get("DENOISER_ALLOW_TRAINING", "1").strip().lower() not in OFF
        sizes = environ.get("DENOISER_TRAIN_SIZES")
        return cls(
            allowed=allowed,
            max_epochs=env_int(environ, "DENOISER_MAX_EPOCHS", MAX_EPOCHS, minimum=1),
            train_sizes=parse_sizes(sizes) if sizes else TRAIN_SIZES,
            keep=env_int(environ, "DENOISER_KEEP_RUNS", KEEP_RUNS, minimum=1),
        )


def env_int(environ: dict[str, str], name: str, default: int, minimum: int) -> int:
    """An integer setting from the environment, at least `minimum`."""
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {text!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def parse_sizes(text: str) -> tuple[int, ...]:
    """`"512,6000"` → (512, 6000): training-set sizes between 1 and 60,000."""
    try:
        sizes = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise ValueError(f"DENOISER_TRAIN_SIZES must be numbers separated by commas, got {text!r}") from None
    if not sizes or not all(1 <= size <= 60000 for size in sizes):
        raise ValueError(f"DENOISER_TRAIN_SIZES must lie between 1 and 60000, got {text!r}")
    return sizes


@dataclass
class JobState:
    """What a visitor's page shows about the server's training; a copy, safe to read anywhere."""

    status: str = "idle"  # idle | running | validating | saving | done | failed | cancelled
    number: int = 0  # counts the jobs this slot has started; tells one job's end from the next
    owner: str | None = None  # the session that started it: only it may cancel or gets it selected
    config: TrainConfig | None = None
    progress: Progress | None = None
    started: float = 0.0
    finished: float = 0.0
    message: str = ""
    result_key: str | None = None  # catalog key of the saved model ("runs/<name>")
    scores: list[dict[str, float]] = field(default_factory=list)
    cancelling: bool = False  # the owner asked to stop; the worker stops after its current batch

    @property
    def active(self) -> bool:
        """True while the lock is held: nobody else may start a training."""
        return self.status in ("running", "validating", "saving")

    @property
    def elapsed(self) -> float:
        """Seconds since the job began (until it finished)."""
        end = self.finished or time.time()
        return max(0.0, end - self.started) if self.started else 0.0


class TrainingJobs:
    """The server's single training slot."""

    def __init__(
        self,
        runs_dir: Path,
        load_data: Callable[[], data_module.Mnist] = data_module.load_mnist,
        keep: int = KEEP_RUNS,
        validation_size: int = VALIDATION_SIZE,
    ) -> None:
        self.runs_dir = Path(runs_dir)
        self.load_data = load_data
        self.keep = keep
        self.validation_size = validation_size
        self._lock = threading.Lock()
        self._state = JobState()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0

    def snapshot(self) -> JobState:
        """A consistent copy of the state for the page to render."""
        with self._lock:
            return copy.deepcopy(self._state)

    def start(self, owner: str, config: TrainConfig) -> bool:
        """Start `config` for `owner` unless a training is already running; True if started."""
        config.validate()
        with self._lock:
            if self._state.active:
                return False
            self._cancel.clear()
            self._started += 1
            self._state = JobState(
                status="running", number=self._started, owner=owner, config=config, started=time.time()
            )
            self._thread = threading.Thread(target=self._run, args=(config,), name="training", daemon=True)
            self._thread.start()
        return True

    def cancel(self, owner: str) -> bool:
        """Ask the worker to stop after its current batch; only the job's owner may."""
        with self._lock:
            if not self._state.active or self._state.owner != owner:
                return False
            self._state.cancelling = True
        self._cancel.set()
        return True

    def wait(self, timeout: float | None = None) -> JobState:
        """Block until the worker ends (tests and benchmarks); returns the final state."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.snapshot()

    def _update(self, **changes: Any) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self._state, key, value)

    def _on_progress(self, progress: Progress) -> None:
        self._update(progress=progress, message=f"epoch {progress.epoch}/{progress.epochs}")

    def _run(self, config: TrainConfig) -> None:
        """The worker: load data, train, validate, save; every failure ends in a message."""
        try:
            self._update(message="loading MNIST")
            mnist = self.load_data()
            result = train.train(config, mnist, self._on_progress, should_stop=self._cancel.is_set)
            if result.stopped_early:
                self._update(status="cancelled", message="cancelled: nothing was saved", finished=time.time())
                return
            self._update(status="validating", message="scoring on held-out test digits")
            scores = self._validate(result.model, mnist)
            if self._cancel.is_set():  # cancelled after the last batch, while scoring
                self._update(status="cancelled", message="cancelled: nothing was saved", finished=time.time())
                return
            self._update(status="saving", message="saving", scores=scores)
            key = self._save(result, scores)
            self._update(status="done", message="finished", result_key=key, finished=time.time())
        except Exception as error:  # noqa: BLE001 - any failure must release the slot with a reason
            LOG.exception("training job %d failed", self._state.number)  # the traceback, for the log
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            self._update(status="failed", message=f"training failed: {reason}", finished=time.time())

    def _validate(self, model: keras.Model, mnist: data_module.Mnist) -> list[dict[str, float]]:
        """PSNR/SSIM on the last test digits (never seen in training or validation loss)."""
        images = mnist.x_test[-self.validation_size :]
        return [s.as_dict() for s in evaluate.evaluate(model, images, VALIDATION_SIGMAS)]

    def _save(self, result: train.TrainResult, scores: list[dict[str, float]]) -> str:
        """Atomically into the runs folder with its sidecar, then drop the oldest beyond `keep`."""
        now = dt.datetime.now(dt.UTC)
        name = f"{result.config.model}-{now:%Y%m%d-%H%M%S}"
        path = self.runs_dir / f"{name}.keras"
        sidecar = train.sidecar(result, scores)
        sidecar["name"] = f"{result.config.model} {now:%Y-%m-%d %H:%M:%S}"  # to the second: labels differ
        sidecar["retrained"] = True
        sidecar["validation"] = f"last {self.validation_size} test digits"
        storage.save_model_atomic(result.model, path, sidecar)
        prune(self.runs_dir, self.keep)
        return f"runs/{name}"


def prune(runs_dir: Path, keep: int, stale_after: float = STALE_TEMPORARY_S) -> list[Path]:
    """Remove all but the `keep` newest models (and their sidecars), and temporaries a killed
    save left behind (older than `stale_after` seconds); returns the models removed."""
    saved = sorted(
        (p for p in Path(runs_dir).glob("*.keras") if not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime_ns,
        reverse=True,
    )
    removed = saved[keep:]
    for path in removed:
        path.unlink(missing_ok=True)
        path.with_suffix(".json").unlink(missing_ok=True)
    for temporary in Path(runs_dir).glob(".*.tmp.*"):
        with contextlib.suppress(OSError):  # another process may have removed it first
            if time.time() - temporary.stat().st_mtime > stale_after:
                temporary.unlink()
    return removed


def runs_writable(runs_dir: Path) -> str | None:
    """None if models can be saved in `runs_dir`, else the reason they cannot.

    Creates nothing (the page asks on every run): a missing folder is fine when the nearest
    folder above it that exists is writable, since the save creates it.
    """
    runs_dir = Path(runs_dir)
    existing = runs_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"the runs folder {runs_dir} cannot be created ({existing} is not a folder)"
    if not os.access(existing, os.W_OK | os.X_OK):
        if existing == runs_dir:
            return f"the runs folder {runs_dir} is not writable"
        return f"the runs folder {runs_dir} cannot be created ({existing} is not writable)"
    return None


def data_problem(mnist_dir: str | os.PathLike | None = None) -> str | None:
    """None if training can read MNIST without downloading, else what is missing.

    Cheap (a few file checks), so the page asks before offering the Start button; the
    wording is `denoiser.data`'s, so the page says what `load_mnist` would have said.
    """
    mnist_dir = mnist_dir or os.environ.get("MNIST_DIR") or None
    if mnist_dir:
        missing = [
            name for name in data_module.MNIST_FILES.values() if not (Path(mnist_dir) / name).is_file()
        ]
        if missing:
            return f"{mnist_dir} lacks {', '.join(missing)}. {data_module.HOW_TO_POINT}"
        return None
    cached = keras_mnist_cache()
    if any(path.is_file() for path in cached):
        return None
    return (
        f"MNIST is not available offline: MNIST_DIR is not set and Keras has no cached copy "
        f"({cached[0]}). {data_module.HOW_TO_POINT}"
    )


def keras_mnist_cache() -> list[Path]:
    """Where `keras.datasets.mnist.load_data()` looks for mnist.npz before downloading it."""
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()
    return [home / "datasets" / "mnist.npz", Path("/tmp/.keras/datasets/mnist.npz")]


def improved_recipe(weights_dir: Path) -> str:
    """The recipe the shipped blind model was trained with (its sidecar's "recipe"), else unet_residual."""
    recipe = storage.read_sidecar(Path(weights_dir) / "blind.keras").get("recipe")
    return recipe if recipe in models.REGISTRY else IMPROVED_RECIPE


def shipped_sidecar(recipe: str, weights_dir: Path) -> tuple[str, dict[str, Any]] | None:
    """(name, sidecar) of the shipped model trained with `recipe`: the one a retraining would replace.

    blind.keras and classic.keras are looked at first, so two shipped models of one recipe
    resolve the same way the page's default does.
    """
    folder = Path(weights_dir)
    names = ["blind", "classic"] + sorted(
        p.stem for p in folder.glob("*.keras") if not p.name.startswith(".")
    )
    for name in dict.fromkeys(names):
        path = folder / f"{name}.keras"
        sidecar = storage.read_sidecar(path)
        if path.is_file() and sidecar.get("recipe") == recipe:
            return name, sidecar
    return None


def retrain_config(recipe: str, shipped: dict[str, Any] | None, **settings: Any) -> TrainConfig:
    """The shipped model's own training settings (loss, batch size, learning rate, schedule),
    with what the visitor chose (`settings`: epochs, sigma, sigma_range, train_size) on top."""
    known = {f.name for f in dataclasses.fields(TrainConfig)} - {"model", "epochs", "train_size", "val_size"}
    inherited = {k: v for k, v in ((shipped or {}).get("config") or {}).items() if k in known}
    if "sigma_range" in inherited:
        inherited["sigma_range"] = tuple(inherited["sigma_range"])
    config = TrainConfig.for_model(recipe, **(inherited | settings))
    config.validate()
    return config


def estimate_seconds(config: TrainConfig, images_per_s: float, overhead: float = 15.0) -> float:
    """Expected wall time from a throughput measured on this server (a shipped model's sidecar)."""
    images = (config.train_size or 60000) * config.epochs
    return overhead + images / max(images_per_s, 1.0)
