"""How long a training should take on this machine, from what this machine measured.

The shipped models' sidecars record how fast they trained when they were made (every core, no
page beside them), which a retraining beside the page on a shared machine does not match: the
issue that moved this here saw "about 32 s" for a run that took over two minutes. So the
estimate is a range from trainings measured by this server (`Measurement`, kept by the
supervisor per recipe), or from the running job's own pace; a sidecar's speed gives only a
lower bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from denoiser.train import TrainConfig

OVERHEAD_S = (10.0, 30.0)  # loading MNIST, scoring and saving, until a job here has measured it
SPREAD = 1.25  # one measurement: the speed may be this much higher or lower next time
KEPT = 5  # measurements kept per recipe: the latest say most about the machine now


@dataclass(frozen=True)
class Measurement:
    """One training on this server: its speed while training, and the seconds around it."""

    images_per_s: float  # digits trained per second (from the child's progress)
    overhead_s: float  # the job's wall time minus its training time: loading, scoring, saving


def images(config: TrainConfig) -> int:
    """Digits one job trains on: epochs × training digits."""
    return (config.train_size or 60000) * config.epochs


def estimate_seconds(config: TrainConfig, images_per_s: float, overhead: float = 15.0) -> float:
    """Expected wall time from one throughput."""
    return overhead + images(config) / max(images_per_s, 1.0)


def estimate_range(config: TrainConfig, measured: list[Measurement]) -> tuple[float, float]:
    """(shortest, longest) plausible wall time of `config`, from trainings measured here."""
    if not measured:
        raise ValueError("an estimate needs at least one measured training")
    rates = [m.images_per_s for m in measured]
    overheads = [m.overhead_s for m in measured]
    slow, fast = min(rates), max(rates)
    if len(measured) == 1:
        slow, fast = slow / SPREAD, fast * SPREAD
        overheads = [min(overheads) / SPREAD, max(overheads) * SPREAD]
    return min(overheads) + images(config) / fast, max(overheads) + images(config) / slow
