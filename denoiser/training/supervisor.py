"""This server's view of the machine's one training: start the child, follow it, stop it.

A job is `python -m denoiser.worker`, a fresh interpreter (never a fork of a server holding
TensorFlow and threads) in a process group of its own, at a lower CPU priority, with fewer
compute threads than the machine has cores, so the page keeps a core. It stays in the
server's session: with scheduler autogroups (Linux's default on desktops, and here) a new
session is a new group, and `nice` only ranks threads inside one group.

The child reports JSON lines (`protocol`) on its stdout; a reader thread here checks each and
turns it into the `JobState` the page reads a copy of. A line it cannot read or apply stops
the child's process group and ends the job as failed, so a job never shows "running" over a
child nobody listens to. Cancel stops the process group (SIGTERM, then SIGKILL a second later).

The machine's lock (`lock.MachineLock`) has one owner, this object: it is taken, recorded and
released under the same mutex as the job's state, and a finished job's lock is free before
anyone can see the job as idle.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from denoiser import worker
from denoiser.train import Progress, TrainConfig
from denoiser.training import estimate, preflight, protocol, recipes, runs
from denoiser.training.lock import LOCK_NAME, MachineLock
from denoiser.training.settings import KEEP_RUNS, WHOLE_SERVER

LOG = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
VALIDATION_SIGMAS = worker.VALIDATION_SIGMAS
VALIDATION_SIZE = worker.VALIDATION_SIZE
WORKER = (sys.executable, "-m", "denoiser.worker")  # the child: a fresh interpreter, never a fork
# How the child is started. Under the scheduler's autogroups (one per session, on by default on
# Linux desktops and here) `nice` ranks a process only inside its group, and groups share the CPU
# as equals: so the child gets a session, hence an autogroup, of its own and lowers that group's
# nice ("autogroup", the default: it yields to the server and to anything else on the machine);
# "group" keeps it in the server's session and autogroup (its nice then ranks it below the
# server, but the pair competes with every other group as one); "session" is the first way, a
# session of its own at full group weight. Where a cgroup shares the CPU instead, only `nice`
# counts, and all three are the same. Each way keeps the child leader of its own process group,
# which Cancel stops. bench/retrain.py --only panels compares them.
START_WAYS = ("autogroup", "group", "session")
KILL_AFTER_S = 1.0  # after SIGTERM, SIGKILL follows this much later: cancel ends a job within 2 s
EXIT_GRACE_S = 5.0  # once its output ends, the child has this long to exit before it is killed
UNREADABLE = "the training process sent output this server could not read, so it was stopped"
HUNG = "the training process stopped reporting without finishing, so it was stopped"


class StartRefused(Exception):
    """A training could not start; the message says why in words a visitor can read."""


@dataclass
class Watch:
    """What the owner is looking at: the digit, the page's noise field and σ, for the snapshots."""

    digit: np.ndarray  # 28×28 in [0, 1]
    noise_field: np.ndarray | None = None  # the page's field (noise.noise_field: z, u, c); None: its default
    sigma: float = 0.5
    kind: str = "gaussian"  # the page's kind of noise (noise.KINDS)


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
    validation_size: int = VALIDATION_SIZE  # the last test digits this job is scored on
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
    returncode: int | None = None  # how the child ended (-15: by SIGTERM), once it has

    @property
    def active(self) -> bool:
        """True while the child runs: nobody else may start a training."""
        return self.status in ("loading", "running", "scoring", "saving")

    @property
    def elapsed(self) -> float:
        """Seconds since the job began (until it finished)."""
        end = self.finished or time.time()
        return max(0.0, end - self.started) if self.started else 0.0


class TrainingJobs:
    """This server's view of the machine's one training: start, follow, cancel."""

    def __init__(
        self,
        runs_dir: Path,
        keep: int = KEEP_RUNS,
        validation_size: int = VALIDATION_SIZE,
        threads: int = 1,
        worker_command: tuple[str, ...] = WORKER,
        start_as: str = "autogroup",
    ) -> None:
        self.runs_dir = Path(runs_dir)
        self.worker_command = list(worker_command)  # tests put a worker that dies mid-save here
        self.keep = keep
        self.validation_size = validation_size
        self.threads = threads
        if start_as not in START_WAYS:
            raise ValueError(f"start_as must be one of {', '.join(START_WAYS)}, got {start_as!r}")
        self.start_as = start_as
        self.lock = MachineLock(self.runs_dir / LOCK_NAME)
        self._mutex = threading.Lock()
        self._state = JobState()
        self._process: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._name: str | None = None  # the running job's file name, without .keras
        self._last_start: dict[str, float] = {}  # visitor → when they last started a job (cooldown)
        self._measured: dict[str, deque[estimate.Measurement]] = {}  # recipe → trainings timed here
        with self._mutex:
            self.clear_stale()

    def snapshot(self) -> JobState:
        """A consistent copy of the state for the page to render."""
        with self._mutex:
            return copy.deepcopy(self._state)

    def measured(self, recipe: str) -> list[estimate.Measurement]:
        """How fast trainings of `recipe` went on this server (newest last), the running one included."""
        with self._mutex:
            found = list(self._measured.get(recipe, ()))
            state = self._state
            if state.active and state.config and state.config.model == recipe:
                if (live := measure(state)) is not None:
                    found.append(live)
            return found

    def elsewhere(self) -> dict[str, Any] | None:
        """Another server process's training on this machine (its lock record), or None."""
        with self._mutex:
            if self._state.active or self.lock.held:
                return None
            return self.lock.holder()

    def clear_stale(self) -> None:
        """What a killed server or child left, if no training runs now (called under the mutex)."""
        if not self.lock.path.exists():
            return
        try:
            if not self.lock.acquire():
                return
        except OSError:
            return
        try:
            runs.clear_stale(self.runs_dir, self.lock.read_record())
        except OSError:
            LOG.warning("could not clear a stale training in %s", self.runs_dir, exc_info=True)
        finally:
            self.lock.release()

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
            self.preflight()  # takes the machine's lock
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
                validation_size=self.validation_size,
                started=time.time(),
                pid=process.pid,
            )
            self._reader = threading.Thread(target=self.follow, args=(process,), name="training", daemon=True)
            self._reader.start()
        return number

    def check_cooldown(self, visitor: str, cooldown_s: float) -> None:
        """StartRefused while `visitor` started a job less than `cooldown_s` ago."""
        since = time.monotonic() - self._last_start.get(visitor, -1e12)
        if since < cooldown_s:
            wait = int(cooldown_s - since) + 1
            whom = "on this server" if visitor == WHOLE_SERVER else "per visitor"
            raise StartRefused(
                f"You can start another training in {wait} s (one {whom} every {int(cooldown_s)} s)."
            )

    def preflight(self) -> None:
        """Before any work: data present, runs folder writable, and the machine's lock ours."""
        if problem := preflight.data_problem():
            raise StartRefused(f"Training was not started: {problem}")
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            taken = self.lock.acquire()
            if taken:  # probed only with the lock held: a training's end clears temporaries, probes too
                with tempfile.NamedTemporaryFile(dir=self.runs_dir, prefix=".probe-", suffix=".tmp"):
                    pass
        except OSError as error:
            self.lock.release()
            LOG.warning("runs folder %s is not usable: %s", self.runs_dir, error)
            raise StartRefused(
                f"Training was not started: the runs folder {preflight.unusable(error)}."
            ) from None
        if not taken:
            raise StartRefused(
                "A training is already running on this machine (started from another server process); "
                "only one runs at a time."
            )
        runs.clear_partials(self.runs_dir)  # we hold the lock: nothing is being saved

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
            job.noise_kind = str(watch.kind)
        group = {"process_group": 0} if self.start_as == "group" else {"start_new_session": True}
        process = subprocess.Popen(
            self.worker_command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=self.child_environment(),
            text=True,
            bufsize=1,
            pass_fds=(self.lock.fd,),  # the child holds the lock too, for as long as it lives
            **group,  # its own process group (Cancel stops it and anything it started), in our session
        )
        try:
            process.stdin.write(json.dumps(dataclasses.asdict(job)) + "\n")
            process.stdin.flush()  # and stays open: its end-of-file tells the child we are gone
            self.lock.record(
                {
                    "server_pid": os.getpid(),
                    "pid": process.pid,
                    "name": name,
                    "started": time.time(),
                    "description": recipes.describe(config),
                }
            )
        except BaseException:
            kill_group(process, signal.SIGKILL)
            process.wait()
            close_pipes(process)
            raise
        return process

    def child_environment(self) -> dict[str, str]:
        """The server's environment with the child's thread limits and the project on its path."""
        threads = str(self.threads)
        return dict(
            os.environ,
            TF_NUM_INTRAOP_THREADS=threads,
            TF_NUM_INTEROP_THREADS="1",
            OMP_NUM_THREADS=threads,
            TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            DENOISER_CHILD_AUTOGROUP_NICE="1" if self.start_as == "autogroup" else "0",
        )

    def cancel(self, owner: str) -> bool:
        """Stop the job's process group (SIGTERM, SIGKILL a second later); only its owner may."""
        with self._mutex:
            if not self._state.active or self._state.owner != owner or self._process is None:
                return False
            self._state.cancelling = True
            stop(self._process)  # under the mutex: the reader reaps the child only after taking it
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

    def follow(self, process: subprocess.Popen) -> None:
        """The reader thread: apply the child's lines; on any it cannot, stop the child. Then reap
        it, clean up and free the lock, whatever happened."""
        final: tuple[str, dict[str, Any]] | None = None
        problem: str | None = None
        try:
            for line in process.stdout:
                kind, fields = protocol.read_event(line)
                self.apply(kind, fields)
                if kind in protocol.FINAL:
                    final = (kind, fields)
        except Exception as error:  # noqa: BLE001 - a child we cannot follow is stopped, never left running
            LOG.error("stopping training process %s: %s", process.pid, error, exc_info=True)
            problem = UNREADABLE
            with self._mutex:
                kill_group(process, signal.SIGKILL)
        try:
            process.wait(EXIT_GRACE_S)
        except subprocess.TimeoutExpired:  # its output closed (or ended) but it runs on
            LOG.error("training process %s closed its output but did not exit: stopped", process.pid)
            problem = problem or (None if final else HUNG)
            with self._mutex:
                kill_group(process, signal.SIGKILL)
            process.wait()
        with self._mutex:  # nobody signals the group from here on: its pid may be reused
            close_pipes(process)
            self.finish(process.returncode, final, problem)

    def apply(self, kind: str, fields: dict[str, Any]) -> None:
        """One checked line from the child, into the state."""
        if kind == "snapshot":
            snapshot = Snapshot(float(fields["epoch"]), np.asarray(fields["image"], np.uint8).reshape(28, 28))
        with self._mutex:
            state = self._state
            if kind == "progress":
                state.status, state.progress = "running", Progress(**fields)
            elif kind == "snapshot":
                state.snapshots.append(snapshot)
            elif kind in ("scoring", "saving", "loading"):
                state.status = kind

    def finish(self, returncode: int, final: tuple[str, dict[str, Any]] | None, problem: str | None) -> None:
        """Called under the mutex: the final state from how the child ended; an unfinished job's
        files removed; the lock freed, then the job shown as ended."""
        kind, last = final or ("", {})
        state = self._state
        state.returncode = returncode
        name = last.get("name") if kind == "done" and not problem and not state.cancelling else None
        if name not in (None, self._name):
            LOG.error("training process reported a model it was not asked to save: %r", name)
            name, problem = None, UNREADABLE
        if state.cancelling:
            status, state.message = "cancelled", "cancelled: nothing was saved"
        elif problem:
            status, state.message = "failed", f"training failed: {problem}"
        elif kind == "done":
            status, state.message = "done", "finished"
            state.scores, state.verdict, state.better = last["scores"], last["verdict"], last["better"]
            state.images_per_s = float(last["images_per_s"])
            state.result_key = f"runs/{name}" if name else None
        elif kind == "failed":
            status, state.message = "failed", f"training failed: {last['message']}"
        else:
            status = "failed"
            state.message = (
                f"training failed: the training process ended unexpectedly (exit status {returncode})"
            )
        try:
            if name is None and self._name:
                runs.remove_model(self.runs_dir / f"{self._name}.keras")
            runs.clear_partials(self.runs_dir)
            if name is not None:
                runs.prune(self.runs_dir, self.keep)
        except OSError:  # the runs folder itself is gone: nothing left to clean
            LOG.warning("could not clean up after the training in %s", self.runs_dir, exc_info=True)
        finally:
            self.lock.release()  # before the job reads as ended: a Start that sees it idle gets the lock
            self._process = None
            state.finished = time.time()
            state.status = status
            if (measurement := measure(state)) is not None:
                self._measured.setdefault(state.config.model, deque(maxlen=estimate.KEPT)).append(measurement)


def measure(state: JobState) -> estimate.Measurement | None:
    """The job's speed so far and the time around its training, once it has trained a few seconds."""
    progress = state.progress
    if state.config is None or progress is None or progress.elapsed < 2.0 or progress.images_seen <= 0:
        return None
    done = state.status == "done"  # only a whole job times its loading, scoring and saving
    overhead = max(0.0, state.elapsed - progress.elapsed) if done else sum(estimate.OVERHEAD_S) / 2
    return estimate.Measurement(progress.images_seen / progress.elapsed, overhead)


def kill_group(process: subprocess.Popen, sig: int) -> None:
    """`sig` to the child's process group, unless the child has already been reaped."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group now, SIGKILL one second later if it still runs."""
    kill_group(process, signal.SIGTERM)

    def kill_later() -> None:
        try:
            process.wait(KILL_AFTER_S)
        except subprocess.TimeoutExpired:
            kill_group(process, signal.SIGKILL)

    threading.Thread(target=kill_later, name="kill-training", daemon=True).start()


def close_pipes(process: subprocess.Popen) -> None:
    """The child's stdin and stdout, closed on our side (a child already gone breaks the pipe)."""
    for pipe in (process.stdin, process.stdout):
        with contextlib.suppress(OSError):
            pipe.close()
