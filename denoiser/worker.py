"""One retraining as a child process: a job in as one JSON line on stdin, JSON lines out on stdout.

The page starts `python -m denoiser.worker` (a fresh interpreter: the server holds TensorFlow
and threads, which must never be forked), writes the job, and keeps stdin open for as long as
it lives. The child trains with `denoiser.train` (the command line's own path), denoises the
visitor's digit with the model being trained a few times an epoch, scores the finished model
on held-out test digits, and saves it with its sidecar only if it beats the noisy input at the
σ it was trained for. It never imports Streamlit and never reads the server's state.

The child watches its parent: stdin reaching end-of-file, or `os.getppid()` changing, means
the server died (even by SIGKILL), and the child exits at once rather than train for nobody.

Lines it writes (each a JSON object with an "event"):
`started` (pid), `loading`, `progress` (train.Progress's fields), `snapshot` (epoch as a
fraction, 784 grey levels), `scoring`, `saving` (file name), `done` (scores, verdict, and
the saved name or none), `failed` (a message in plain words).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import re
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

NICE = 10  # the child's CPU priority below the server's, so a page run preempts training
SNAPSHOTS_PER_EPOCH = 5  # how often the owner sees the digit denoised by the model being trained
PROGRESS_EVERY_S = 0.25  # progress lines at most this often (epoch ends are always sent)
VALIDATION_SIGMAS = (0.1, 0.3, 0.5, 0.7, 0.9)
VALIDATION_SIZE = 1000  # the last test digits: never seen in training nor in the validation loss
EXIT_ORPHANED = 3  # the status the child ends with when its server has gone
PARENT_POLL_S = 0.5


@dataclass
class Job:
    """What the server asks of a child: a training config and where its result goes."""

    config: dict[str, Any]  # train.TrainConfig's fields
    runs_dir: str
    name: str  # the model's file name, without .keras
    digit: list[float] | None = None  # 784 values in [0, 1]: the digit the owner is looking at
    noise_field: list[float] | None = None  # the page's fixed noise field: 3 × 784 values (or 784 N(0, 1))
    sigma: float = 0.5  # the noise strength the snapshots are shown at
    noise_kind: str = "gaussian"  # the kind of noise the snapshots are shown with
    validation_size: int = VALIDATION_SIZE
    mnist_dir: str | None = None


@dataclass
class Verdict:
    """Whether a finished model is worth selecting: better than the noisy input where it was trained."""

    better: bool
    text: str
    judged_at: list[float]


def judged_sigmas(sigma: float | None, sigma_range: tuple[float, float]) -> list[float]:
    """The σ a model is judged at: its training σ, or the validation σ inside its training range."""
    if sigma is not None:
        return [round(float(sigma), 2)]
    lo, hi = sigma_range
    inside = [s for s in VALIDATION_SIGMAS if lo <= s <= hi]
    return inside or [round((lo + hi) / 2, 2)]


def verdict(scores: list[dict[str, float]], sigmas: list[float], kind: str = "gaussian") -> Verdict:
    """Better than no denoising at every judged amount of `kind`, or the first where it is not, in words."""
    from denoiser import noise  # TensorFlow: imported once the job is read, never before

    by_sigma = {round(row["sigma"], 2): row for row in scores}
    symbol = noise.SYMBOLS[kind]
    named = "" if kind == noise.DEFAULT_KIND else f" on {noise.LABELS[kind].lower()}"
    for sigma in sigmas:
        row = by_sigma[round(sigma, 2)]
        if not row["psnr"] > row["noisy_psnr"]:
            return Verdict(
                False,
                f"worse than no denoising at {symbol} {sigma:g}{named} ({row['psnr']:.1f} dB against "
                f"{row['noisy_psnr']:.1f} dB for the noisy input): not selected, not saved",
                sigmas,
            )
    gains = ", ".join(
        f"{symbol} {s:g}: {by_sigma[round(s, 2)]['psnr']:.1f} dB against {by_sigma[round(s, 2)]['noisy_psnr']:.1f}"
        for s in sigmas
    )
    return Verdict(True, f"better than the noisy input{named} ({gains})", sigmas)


def verdict_on_kinds(scores_by_noise: dict[str, list[dict[str, float]]], sigmas: list[float]) -> Verdict:
    """Better than no denoising on every kind it was trained on: the first kind where it is not
    decides; otherwise every kind's gains, in the order trained."""
    verdicts = [verdict(rows, sigmas, kind) for kind, rows in scores_by_noise.items()]
    failed = [v for v in verdicts if not v.better]
    if failed:
        return failed[0]
    return Verdict(True, "; ".join(v.text for v in verdicts), sigmas)


def plain(error: BaseException) -> str:
    """An error in words a visitor can read: no errno numbers, no server paths."""
    if isinstance(error, OSError) and error.strerror:
        name = Path(str(error.filename)).name if error.filename else ""
        return f"{error.strerror.lower()}{f' ({name})' if name else ''}"
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    text = re.sub(r"\[Errno \d+\]\s*", "", text)
    return re.sub(r"(?<![\w.])/(?:[^\s/:'\"]+/)+([^\s/:'\"]+)", r"\1", text)


class Channel:
    """JSON lines to the parent on a private copy of stdout; stray prints go to stderr instead."""

    def __init__(self) -> None:
        self.stream: TextIO = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(2, 1)  # Keras or TensorFlow printing to stdout must not corrupt the protocol

    def emit(self, event: str, **fields: Any) -> None:
        """One line; a parent that has gone away ends the child."""
        try:
            self.stream.write(json.dumps({"event": event, **fields}) + "\n")
        except (BrokenPipeError, ValueError):
            os._exit(EXIT_ORPHANED)


def watch_parent(stdin: Any, parent: int) -> None:
    """Exit as soon as the server is gone: its end of our stdin closes, or we are re-parented."""

    def until_eof() -> None:
        while stdin.read(1):
            pass
        os._exit(EXIT_ORPHANED)

    def until_reparented() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(EXIT_ORPHANED)

    threading.Thread(target=until_eof, name="stdin-eof", daemon=True).start()
    threading.Thread(target=until_reparented, name="ppid", daemon=True).start()


def make_snapshotter(job: Job, steps: int, channel: Channel):  # noqa: ANN201 - a keras Callback
    """A Keras callback that denoises the job's digit with the model being trained, a few times an epoch."""
    import keras
    import numpy as np

    from denoiser import noise

    digit = np.asarray(job.digit, np.float32).reshape(1, 28, 28, 1)
    field = np.asarray(job.noise_field or noise.noise_field((28, 28), seed=0), np.float32)
    planes = (noise.PLANES, 1, 28, 28, 1) if field.size == noise.PLANES * 784 else (1, 28, 28, 1)
    noisy = noise.apply_noise(digit, field.reshape(planes), job.sigma, job.noise_kind)
    every = max(1, steps // SNAPSHOTS_PER_EPOCH)

    class Snapshots(keras.callbacks.Callback):
        """Sends the digit as the model sees it now, every `every` batches and after each epoch."""

        epoch = 0

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch = epoch

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            if (batch + 1) % every == 0 or batch + 1 == steps:
                out = np.asarray(self.model(noisy, training=False))
                grey = np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8).ravel().tolist()
                channel.emit("snapshot", epoch=round(self.epoch + (batch + 1) / steps, 3), image=grey)

    return Snapshots()


def make_reporter(channel: Channel):  # noqa: ANN201 - Callable[[Progress], None]
    """Progress lines at most every PROGRESS_EVERY_S, and always at an epoch's end."""
    last = {"sent": 0.0, "epochs": 0}

    def report(progress: Any) -> None:
        now = time.monotonic()
        epoch_ended = len(progress.history) != last["epochs"]
        if not epoch_ended and now - last["sent"] < PROGRESS_EVERY_S:
            return
        last["sent"], last["epochs"] = now, len(progress.history)
        channel.emit("progress", **dataclasses.asdict(progress))

    return report


def sidecar_extras(config: Any, when: dt.datetime, verdict_: Verdict, validation_size: int) -> dict[str, Any]:
    """What a retrained model's sidecar adds to train.sidecar: a label and description that say what
    it is (recipe, epochs, digits, σ, when), where it was scored, and the verdict."""
    from denoiser import models

    digits = config.train_size or 60000
    recipe = f"{config.model}, {config.epochs} epoch{'s' if config.epochs != 1 else ''} × {digits:,} digits"
    kinds = tuple(config.noise)
    on = "" if kinds == ("gaussian",) else f" ({' + '.join(k.replace('_', ' ') for k in kinds)})"
    return {
        "name": f"{recipe}, σ {config.sigma_label}{on}, {when:%d %b %H:%M:%S}",
        "description": (
            f"Retrained on this server on {when:%Y-%m-%d at %H:%M} UTC: {recipe} at σ {config.sigma_label}"
            f"{on or ' (Gaussian noise)'}; "
            f"{verdict_.text} on the last {validation_size:,} test digits. "
            f"The recipe: {models.get_spec(config.model).description}"
        ),
        "retrained": True,
        "retrained_at": when.isoformat(timespec="seconds"),
        "validation": f"last {validation_size} test digits",
        "verdict": verdict_.text,
        "judged_at": verdict_.judged_at,
    }


def run(job: Job, channel: Channel) -> int:
    """Load, train, score, judge and (if better than the noisy input) save; 0 unless it failed."""
    from denoiser import data, evaluate, noise, storage, train

    fields = dict(job.config)
    fields["sigma_range"] = tuple(fields.get("sigma_range") or (0.0, 1.0))
    config = train.TrainConfig(**fields)
    config.validate()
    channel.emit("loading")
    mnist = data.load_mnist(job.mnist_dir)
    steps = -(-len(mnist.x_train[: config.train_size]) // config.batch_size)
    extra = [make_snapshotter(job, steps, channel)] if job.digit is not None else []
    result = train.train(config, mnist, make_reporter(channel), callbacks=extra)
    channel.emit("scoring")
    sigmas = judged_sigmas(config.sigma, config.sigma_range)
    scored_at = sorted(set(VALIDATION_SIGMAS) | set(sigmas))
    images = mnist.x_test[-job.validation_size :]
    scores_by_noise = {
        kind: [s.as_dict() for s in evaluate.evaluate(result.model, images, scored_at, kind=kind)]
        for kind in config.noise  # judged on each kind it learnt, as the page lists its scores per kind
    }
    scores = scores_by_noise.get(noise.DEFAULT_KIND) or next(iter(scores_by_noise.values()))
    judged = verdict_on_kinds(scores_by_noise, sigmas)
    outcome = {"scores": scores, "verdict": judged.text, "better": judged.better, "seconds": result.seconds}
    outcome["images_per_s"] = result.images_per_s
    if not judged.better:
        channel.emit("done", name=None, **outcome)
        return 0
    channel.emit("saving", name=job.name)
    when = dt.datetime.now(dt.UTC)
    sidecar = train.sidecar(result, scores_by_noise.get(noise.DEFAULT_KIND, [])) | sidecar_extras(
        config, when, judged, job.validation_size
    )
    sidecar["scores_by_noise"] = scores_by_noise  # `scores` holds Gaussian rows only, as the shipped ones
    storage.save_model_atomic(result.model, Path(job.runs_dir) / f"{job.name}.keras", sidecar)
    channel.emit("done", name=job.name, **outcome)
    return 0


def lower_autogroup() -> None:
    """Where the server asks (`DENOISER_CHILD_AUTOGROUP_NICE`) and this process leads its own session,
    so its own scheduler autogroup: give that group the child's nice, since `nice` alone ranks a
    process only inside its group. A kernel without autogroups (or where a cgroup decides) has
    nothing to lower; the process's own nice still holds."""
    if os.environ.get("DENOISER_CHILD_AUTOGROUP_NICE") != "1" or os.getsid(0) != os.getpid():
        return  # in the server's session: its autogroup is the server's, never to be lowered
    with contextlib.suppress(OSError):
        Path("/proc/self/autogroup").write_text(str(NICE))


def main() -> int:
    """Read the job, watch the parent, lower our priority, run; every failure ends in a `failed` line."""
    stdin = sys.stdin.buffer
    line = stdin.readline()
    watch_parent(stdin, os.getppid())
    channel = Channel()
    os.nice(NICE)
    lower_autogroup()
    channel.emit("started", pid=os.getpid())
    try:
        job = Job(**json.loads(line))
        return run(job, channel)
    except Exception as error:  # noqa: BLE001 - the parent gets one readable line, the log the traceback
        traceback.print_exc()
        channel.emit("failed", message=plain(error))
        return 1


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Not sys.exit: the interpreter's shutdown would wait on the thread blocked reading stdin.
    os._exit(status)
