"""One background training per server: the state the page polls, and the worker that updates it.

The page owns one `TrainingJobs` (through `st.cache_resource`), so every visitor's session
sees the same object. The worker thread never touches Streamlit: it writes progress into
this object under a lock, and the page reads a copy from a fragment that reruns on a timer.
A finished model is validated, then saved atomically into the runs folder, never `weights/`.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

from denoiser import data as data_module
from denoiser import evaluate, storage, train
from denoiser.train import Progress, TrainConfig

VALIDATION_SIGMAS = (0.1, 0.3, 0.5, 0.7, 0.9)
VALIDATION_SIZE = 1000  # held-out test digits the finished model is scored on
KEEP_RUNS = 5  # retrained models kept in the runs folder; the oldest go first


@dataclass
class JobState:
    """What a visitor's page shows about the server's training; a copy, safe to read anywhere."""

    status: str = "idle"  # idle | running | validating | saving | done | failed | cancelled
    owner: str | None = None  # the session that started it: only it may cancel or gets it selected
    config: TrainConfig | None = None
    progress: Progress | None = None
    started: float = 0.0
    finished: float = 0.0
    message: str = ""
    result_key: str | None = None  # catalog key of the saved model ("runs/<name>")
    scores: list[dict[str, float]] = field(default_factory=list)

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
            self._state = JobState(status="running", owner=owner, config=config, started=time.time())
            self._thread = threading.Thread(target=self._run, args=(config,), name="training", daemon=True)
            self._thread.start()
        return True

    def cancel(self, owner: str) -> bool:
        """Ask the worker to stop after its current batch; only the job's owner may."""
        with self._lock:
            if not self._state.active or self._state.owner != owner:
                return False
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
            self._update(status="saving", message="saving", scores=scores)
            key = self._save(result, scores)
            self._update(status="done", message="finished", result_key=key, finished=time.time())
        except Exception as error:  # noqa: BLE001 - any failure must release the slot with a reason
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            self._update(status="failed", message=f"training failed: {reason}", finished=time.time())

    def _validate(self, model: keras.Model, mnist: data_module.Mnist) -> list[dict[str, float]]:
        """PSNR/SSIM on the last test digits (never seen in training or validation loss)."""
        images = mnist.x_test[-self.validation_size :]
        return [s.as_dict() for s in evaluate.evaluate(model, images, VALIDATION_SIGMAS)]

    def _save(self, result: train.TrainResult, scores: list[dict[str, float]]) -> str:
        """Atomically into the runs folder with its sidecar, then drop the oldest beyond `keep`."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        name = f"{result.config.model}-{stamp}"
        path = self.runs_dir / f"{name}.keras"
        sidecar = train.sidecar(result, scores)
        sidecar["name"] = f"{result.config.model} {stamp[:8]}-{stamp[9:13]}"
        sidecar["retrained"] = True
        sidecar["validation"] = f"last {self.validation_size} test digits"
        storage.save_model_atomic(result.model, path, sidecar)
        prune(self.runs_dir, self.keep)
        return f"runs/{name}"


def prune(runs_dir: Path, keep: int) -> list[Path]:
    """Remove all but the `keep` newest models (and their sidecars); returns what was removed."""
    models = sorted(
        (p for p in Path(runs_dir).glob("*.keras") if not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime_ns,
        reverse=True,
    )
    removed = models[keep:]
    for path in removed:
        path.unlink(missing_ok=True)
        path.with_suffix(".json").unlink(missing_ok=True)
    return removed


def runs_writable(runs_dir: Path) -> str | None:
    """None if models can be saved in `runs_dir`, else the reason they cannot."""
    try:
        Path(runs_dir).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"the runs folder {runs_dir} cannot be created ({error.strerror})"
    if not os.access(runs_dir, os.W_OK | os.X_OK):
        return f"the runs folder {runs_dir} is not writable"
    return None


def estimate_seconds(config: TrainConfig, images_per_s: float, overhead: float = 15.0) -> float:
    """Expected wall time from a throughput measured on this server (a shipped model's sidecar)."""
    images = (config.train_size or 60000) * config.epochs
    return overhead + images / max(images_per_s, 1.0)
