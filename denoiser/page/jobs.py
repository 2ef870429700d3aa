"""One retraining per machine: a child process the server starts, follows and can stop.

The page owns one `TrainingJobs` per runs folder (through `st.cache_resource`), so every
visitor's session of a server sees the same object. A job is `python -m denoiser.worker`, a
fresh interpreter in its own process group at a lower CPU priority, with fewer compute threads
than the machine has cores, so the page keeps a core. It reports JSON lines on its stdout; a
reader thread here turns them into a `JobState` the page reads a copy of. Cancel stops the
process group (SIGTERM, then SIGKILL a second later). A lock file in the runs folder
(`flock`, which the kernel drops with the last process holding it) allows one training per
machine even across several server processes, and a server that starts clears what a killed
one left (the lock's stale record, temporaries, a model without its sidecar).

Also here, without Streamlit: what a deployment allows (`Options`, from the environment),
whether training could start at all (data, runs folder), and the settings a retraining
inherits from the shipped model it would replace.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from denoiser import data as data_module
from denoiser import models, storage, worker
from denoiser.train import Progress, TrainConfig

LOG = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
VALIDATION_SIGMAS = worker.VALIDATION_SIGMAS
VALIDATION_SIZE = worker.VALIDATION_SIZE
KEEP_RUNS = 5  # retrained models kept in the runs folder; the oldest go first
MAX_EPOCHS = 20  # the epochs slider's top, unless DENOISER_MAX_EPOCHS says otherwise
MIN_EPOCHS = 2  # classic at σ 0.2 on 20,000 digits beats the noisy input from 2 epochs (docs/retrain.md)
TRAIN_SIZES = (20000, 60000)  # 6,000 digits made models worse than no denoising (docs/retrain.md)
IMPROVED_RECIPE = "unet_residual"  # the improved model's recipe when weights/blind.json does not name one
OFF = ("0", "false", "no", "off")  # DENOISER_TRAINING values that hide the section
STALE_TEMPORARY_S = 600  # a save's temporary this old was left by a killed process (no lock needed)
LOCK_NAME = ".training.lock"
WORKER = (sys.executable, "-m", "denoiser.worker")  # the child: a fresh interpreter, never a fork
KILL_AFTER_S = 1.0  # after SIGTERM, SIGKILL follows this much later: cancel ends a job within 2 s


class StartRefused(Exception):
    """A training could not start; the message says why in words a visitor can read."""


@dataclass(frozen=True)
class Options:
    """What this deployment lets visitors do with training; read from the environment."""

    allowed: bool = True  # DENOISER_TRAINING=off hides the Retrain section
    max_epochs: int = MAX_EPOCHS  # DENOISER_MAX_EPOCHS caps the epochs slider
    train_sizes: tuple[int, ...] = TRAIN_SIZES  # DENOISER_TRAIN_SIZES, e.g. "2048" for tests
    keep: int = KEEP_RUNS  # DENOISER_KEEP_RUNS: retrained models kept in the runs folder
    max_images: int | None = None  # DENOISER_MAX_IMAGES: a cap on epochs × digits of one job
    cooldown_s: int = 0  # DENOISER_COOLDOWN_S: seconds a visitor waits between two starts
    threads: int = (
        1  # DENOISER_TRAINING_THREADS: the child's compute threads (default: leave the page a core)
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Options:
        """The options the environment sets; ValueError naming the variable when one is malformed."""
        environ = os.environ if environ is None else environ
        sizes = environ.get("DENOISER_TRAIN_SIZES")
        max_images = env_int(environ, "DENOISER_MAX_IMAGES", 0, minimum=1)
        return cls(
            allowed=training_switch(environ),
            max_epochs=env_int(environ, "DENOISER_MAX_EPOCHS", MAX_EPOCHS, minimum=1),
            train_sizes=parse_sizes(sizes) if sizes else TRAIN_SIZES,
            keep=env_int(environ, "DENOISER_KEEP_RUNS", KEEP_RUNS, minimum=1),
            max_images=max_images or None,
            cooldown_s=env_int(environ, "DENOISER_COOLDOWN_S", 0, minimum=0),
            threads=env_int(environ, "DENOISER_TRAINING_THREADS", default_threads(environ), minimum=1),
        )

    def over_cap(self, config: TrainConfig) -> str | None:
        """None if `config` fits this deployment's caps, else the reason in words."""
        if config.epochs > self.max_epochs:
            return f"at most {self.max_epochs} epochs on this server"
        images = config.epochs * (config.train_size or 60000)
        if self.max_images is not None and images > self.max_images:
            return f"epochs × digits is {images:,}; this server allows at most {self.max_images:,}"
        return None


def default_threads(environ: dict[str, str]) -> int:
    """One fewer than the cores this server may use, so the page keeps one: the cores are
    TF_NUM_INTRAOP_THREADS where the deployment sets it (a container's quota, which
    `os.cpu_count()` does not see), else the CPUs this process may run on."""
    try:
        cores = int(environ.get("TF_NUM_INTRAOP_THREADS", "").strip() or 0)
    except ValueError:
        cores = 0
    return max(1, (cores or len(os.sched_getaffinity(0))) - 1)


def training_switch(environ: dict[str, str]) -> bool:
    """DENOISER_TRAINING=off|on (off also: 0, false, no); on when unset."""
    text = environ.get("DENOISER_TRAINING", "on").strip().lower()
    if text in OFF:
        return False
    if text in ("", "1", "true", "yes", "on"):
        return True
    raise ValueError(f"DENOISER_TRAINING must be on or off, got {text!r}")


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
class Watch:
    """What the owner is looking at: the digit, the page's noise field and σ, for the snapshots."""

    digit: np.ndarray  # 28×28 in [0, 1]
    noise_field: np.ndarray | None = None  # 28×28 N(0, 1); None: the page's default field
    sigma: float = 0.5


@dataclass
class Snapshot:
    """The owner's digit denoised by the model being trained, at a point of the run."""

    epoch: float  # 1.4: four tenths into the second epoch
    image: np.ndarray  # 28×28 uint8


@dataclass
class JobState:
    """What a visitor's page shows about this server's training; a copy, safe to read anywhere."""

    status: str = "idle"  # idle | loading | running | scoring | saving | done | failed | cancelled
    number: int = 0  # counts the jobs this slot has started; tells one job's end from the next
    owner: str | None = None  # the token of whoever started it: only they may cancel, or get it selected
    config: TrainConfig | None = None
    progress: Progress | None = None
    snapshots: list[Snapshot] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    message: str = ""
    result_key: str | None = None  # catalog key of the saved model ("runs/<name>"); None if not saved
    scores: list[dict[str, float]] = field(default_factory=list)
    verdict: str = ""  # better than the noisy input, or where it was not
    better: bool = False
    images_per_s: float = 0.0  # the child's training speed
    cancelling: bool = False  # the owner pressed Cancel; the process is being stopped
    delivered: bool = False  # the finished model was selected for its owner (once, across reloads)
    pid: int | None = None

    @property
    def active(self) -> bool:
        """True while the child runs: nobody else may start a training."""
        return self.status in ("loading", "running", "scoring", "saving")

    @property
    def elapsed(self) -> float:
        """Seconds since the job began (until it finished)."""
        end = self.finished or time.time()
        return max(0.0, end - self.started) if self.started else 0.0


class MachineLock:
    """`flock` on a file in the runs folder: one training per machine, across server processes.

    The kernel drops the lock when the last descriptor of it closes, so a killed server (or
    child) never leaves it held; the file's contents (who holds it) are only a record, cleared
    by whoever takes the lock next.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock (creating the file); False when another process holds it. OSError if unwritable."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def record(self, info: dict[str, Any]) -> None:
        """Write who holds the lock, for other server processes to show."""
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, json.dumps(info).encode(), 0)

    def release(self) -> None:
        """Clear the record and let go (a child that inherited the descriptor keeps it until it exits)."""
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self.fd, 0)
        os.close(self.fd)
        self.fd = None

    def holder(self) -> dict[str, Any] | None:
        """The record of another process holding the lock, or None when it is free. Creates nothing."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return json.loads(os.pread(fd, 65536, 0) or b"{}")
            except ValueError:
                return {}
        finally:
            os.close(fd)
        return None


class TrainingJobs:
    """This server's view of the machine's one training: start, follow, cancel."""

    def __init__(
        self,
        runs_dir: Path,
        keep: int = KEEP_RUNS,
        validation_size: int = VALIDATION_SIZE,
        threads: int = 1,
        worker_command: tuple[str, ...] = WORKER,
    ) -> None:
        self.runs_dir = Path(runs_dir)
        self.worker_command = list(worker_command)  # tests put a worker that dies mid-save here
        self.keep = keep
        self.validation_size = validation_size
        self.threads = threads
        self.lock = MachineLock(self.runs_dir / LOCK_NAME)
        self._mutex = threading.Lock()
        self._state = JobState()
        self._process: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._name: str | None = None  # the running job's file name, without .keras
        self._last_start: dict[str, float] = {}  # visitor → when they last started a job (cooldown)
        clear_stale(self.runs_dir)

    def snapshot(self) -> JobState:
        """A consistent copy of the state for the page to render."""
        with self._mutex:
            return copy.deepcopy(self._state)

    def elsewhere(self) -> dict[str, Any] | None:
        """Another server process's training on this machine (its lock record), or None."""
        with self._mutex:
            if self._state.active:
                return None
        return self.lock.holder()

    def start(
        self,
        owner: str,
        config: TrainConfig,
        watch: Watch | None = None,
        visitor: str | None = None,
        cooldown_s: float = 0.0,
    ) -> int:
        """Start `config` for `owner`; the job's number. StartRefused (in plain words) when it cannot."""
        config.validate()
        with self._mutex:
            if self._state.active:
                raise StartRefused(
                    "A training is already running on this server, and only one runs at a time."
                )
            self.check_cooldown(visitor or owner, cooldown_s)
            self.preflight()
            number = self._state.number + 1
            name = f"{config.model}-{time.strftime('%Y%m%d-%H%M%S')}-{number}-{os.getpid()}"
            try:
                process = self.spawn(config, watch, name)
            except BaseException:
                self.lock.release()
                raise
            self._process, self._name = process, name
            self._last_start[visitor or owner] = time.monotonic()
            self._state = JobState(
                status="loading",
                number=number,
                owner=owner,
                config=config,
                started=time.time(),
                pid=process.pid,
            )
            self._reader = threading.Thread(
                target=self.follow, args=(process, number), name="training", daemon=True
            )
            self._reader.start()
        return number

    def check_cooldown(self, visitor: str, cooldown_s: float) -> None:
        """StartRefused while `visitor` started a job less than `cooldown_s` ago."""
        since = time.monotonic() - self._last_start.get(visitor, -1e12)
        if since < cooldown_s:
            wait = int(cooldown_s - since) + 1
            raise StartRefused(
                f"You can start another training in {wait} s (one per visitor every {int(cooldown_s)} s)."
            )

    def preflight(self) -> None:
        """Before any work: data present, runs folder writable, and the machine's lock ours."""
        if problem := data_problem():
            raise StartRefused(f"Training was not started: {problem}")
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.runs_dir, prefix=".probe-", suffix=".tmp"):
                pass
            taken = self.lock.acquire()
        except OSError as error:
            LOG.warning("runs folder %s is not usable: %s", self.runs_dir, error)
            raise StartRefused(f"Training was not started: the runs folder {unusable(error)}.") from None
        if not taken:
            raise StartRefused(
                "A training is already running on this machine (started from another server process); "
                "only one runs at a time."
            )
        clear_partials(self.runs_dir)  # we hold the lock: nothing is being saved

    def spawn(self, config: TrainConfig, watch: Watch | None, name: str) -> subprocess.Popen:
        """`python -m denoiser.worker` in its own process group, holding the lock, fed the job."""
        job = worker.Job(
            config=dataclasses.asdict(config),
            runs_dir=str(self.runs_dir),
            name=name,
            validation_size=self.validation_size,
        )
        if watch is not None:
            job.digit = np.asarray(watch.digit, np.float32).ravel().round(4).tolist()
            if watch.noise_field is not None:
                job.noise_field = np.asarray(watch.noise_field, np.float32).ravel().round(4).tolist()
            job.sigma = float(watch.sigma)
        threads = str(self.threads)
        env = dict(
            os.environ,
            TF_NUM_INTRAOP_THREADS=threads,
            TF_NUM_INTEROP_THREADS="1",
            OMP_NUM_THREADS=threads,
            TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        )
        process = subprocess.Popen(
            self.worker_command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=env,
            text=True,
            bufsize=1,
            start_new_session=True,  # its own process group: Cancel stops it and anything it started
            pass_fds=(self.lock.fd,),  # the child holds the lock too, for as long as it lives
        )
        process.stdin.write(json.dumps(dataclasses.asdict(job)) + "\n")
        process.stdin.flush()  # and stays open: its end-of-file tells the child we are gone
        self.lock.record(
            {
                "server_pid": os.getpid(),
                "pid": process.pid,
                "name": name,
                "started": time.time(),
                "description": describe(config),
            }
        )
        return process

    def cancel(self, owner: str) -> bool:
        """Stop the job's process group (SIGTERM, SIGKILL a second later); only its owner may."""
        with self._mutex:
            if not self._state.active or self._state.owner != owner or self._process is None:
                return False
            self._state.cancelling = True
            process = self._process
        stop(process)
        return True

    def mark_delivered(self, number: int) -> None:
        """The owner's page has selected job `number`'s model: a reload does not select it again."""
        with self._mutex:
            if self._state.number == number:
                self._state.delivered = True

    def wait(self, timeout: float | None = None) -> JobState:
        """Block until the job's process has ended and been cleaned up; returns the final state."""
        reader = self._reader
        if reader is not None:
            reader.join(timeout)
        return self.snapshot()

    def follow(self, process: subprocess.Popen, number: int) -> None:
        """The reader thread: apply the child's lines, then reap it, clean up and free the lock."""
        last: dict[str, Any] = {}
        try:
            for line in process.stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                last = event if event.get("event") in ("done", "failed") else last
                self.apply(dict(event))
        finally:
            process.wait()
            process.stdin.close()
            process.stdout.close()
            self.finish(process.returncode, last)

    def apply(self, event: dict[str, Any]) -> None:
        """One line from the child, into the state."""
        kind = event.pop("event", "")
        with self._mutex:
            state = self._state
            if kind == "progress":
                state.status, state.progress = "running", Progress(**event)
            elif kind == "snapshot":
                image = np.asarray(event["image"], np.uint8).reshape(28, 28)
                state.snapshots.append(Snapshot(float(event["epoch"]), image))
            elif kind in ("scoring", "saving", "loading"):
                state.status = kind

    def finish(self, returncode: int, last: dict[str, Any]) -> None:
        """The final state from how the child ended; files of an unfinished job removed; lock freed."""
        with self._mutex:
            state = self._state
            name = last.get("name") if last.get("event") == "done" else None
            if state.cancelling:
                state.status, state.message = "cancelled", "cancelled: nothing was saved"
                name = None
            elif last.get("event") == "done":
                state.status, state.message = "done", "finished"
                state.scores, state.verdict, state.better = last["scores"], last["verdict"], last["better"]
                state.images_per_s = float(last.get("images_per_s") or 0)
                state.result_key = f"runs/{name}" if name else None
            elif last.get("event") == "failed":
                state.status, state.message = "failed", f"training failed: {last.get('message')}"
            else:
                state.status = "failed"
                state.message = (
                    f"training failed: the training process ended unexpectedly (exit status {returncode})"
                )
            state.finished = time.time()
            self._process = None
            job_name = self._name
        try:
            if name is None and job_name:
                remove_model(self.runs_dir / f"{job_name}.keras")
            clear_partials(self.runs_dir)
            if name is not None:
                prune(self.runs_dir, self.keep)
        except OSError:  # the runs folder itself is gone: nothing left to clean
            LOG.warning("could not clean up after the training in %s", self.runs_dir, exc_info=True)
        finally:
            self.lock.release()


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group now, SIGKILL one second later if it still runs."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)

    def kill_later() -> None:
        try:
            process.wait(KILL_AFTER_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    threading.Thread(target=kill_later, name="kill-training", daemon=True).start()


def unusable(error: OSError) -> str:
    """Why a runs folder cannot be used, without the server's path or an errno."""
    if isinstance(error, NotADirectoryError | FileExistsError):
        return "cannot be created (a file is in its way)"
    if isinstance(error, PermissionError) or error.errno == 30:  # EROFS: a read-only file system
        return "is not writable"
    return f"cannot be used ({(error.strerror or 'unknown error').lower()})"


def remove_model(path: Path) -> None:
    """A model file and its sidecar, if they exist."""
    path.unlink(missing_ok=True)
    path.with_suffix(".json").unlink(missing_ok=True)


def clear_partials(runs_dir: Path) -> None:
    """Temporaries of interrupted saves and probes; only called while holding the machine's lock."""
    for temporary in Path(runs_dir).glob(".*.tmp*"):
        with contextlib.suppress(OSError):
            temporary.unlink()


def clear_stale(runs_dir: Path) -> None:
    """What a killed server or child left, if no training runs now: the lock's record, temporaries,
    and the model of the job the record names if its sidecar never came."""
    lock = MachineLock(Path(runs_dir) / LOCK_NAME)
    if not lock.path.exists():
        return
    try:
        if not lock.acquire():
            return
    except OSError:
        return
    try:
        record = json.loads(os.pread(lock.fd, 65536, 0) or b"{}")
        name = record.get("name") if isinstance(record, dict) else None
        if name and not (Path(runs_dir) / f"{name}.json").exists():
            remove_model(Path(runs_dir) / f"{name}.keras")
        clear_partials(runs_dir)
    except (OSError, ValueError):
        LOG.warning("could not clear a stale training in %s", runs_dir, exc_info=True)
    finally:
        lock.release()


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
        remove_model(path)
    for temporary in Path(runs_dir).glob(".*.tmp.*"):
        with contextlib.suppress(OSError):  # another process may have removed it first
            if time.time() - temporary.stat().st_mtime > stale_after:
                temporary.unlink()
    return removed


def describe(config: TrainConfig | None) -> str:
    """`classic · 5 epochs · σ 0.5 · 60,000 digits`."""
    if config is None:
        return ""
    epochs = f"{config.epochs} epoch{'s' if config.epochs != 1 else ''}"
    return f"{config.model} · {epochs} · σ {config.sigma_label} · {config.train_size or 60000:,} digits"


def runs_writable(runs_dir: Path) -> str | None:
    """None if models can be saved in `runs_dir`, else the reason they cannot (no path: it is shown
    on the page). Start checks again by writing there; this is for greying out the button.

    Creates nothing (the page asks on every run): a missing folder is fine when the nearest
    folder above it that exists is writable, since the save creates it.
    """
    runs_dir = Path(runs_dir)
    existing = runs_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return "the runs folder cannot be created (a file is in its way)"
    if not os.access(existing, os.W_OK | os.X_OK):
        return (
            "the runs folder is not writable" if existing == runs_dir else "the runs folder cannot be created"
        )
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
            return f"the MNIST folder (MNIST_DIR) lacks {', '.join(missing)}. {data_module.HOW_TO_POINT}"
        return None
    cached = keras_mnist_cache()
    if any(path.is_file() for path in cached):
        return None
    return (
        "MNIST is not available offline: MNIST_DIR is not set and Keras has no cached copy "
        f"(~/.keras/datasets/mnist.npz). {data_module.HOW_TO_POINT}"
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
