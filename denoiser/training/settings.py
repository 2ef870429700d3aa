"""What a deployment lets visitors do with training, read from the environment (`Options`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from denoiser.train import TrainConfig

KEEP_RUNS = 5  # retrained models kept in the runs folder; the oldest go first
MAX_EPOCHS = 20  # the epochs slider's top, unless DENOISER_MAX_EPOCHS says otherwise
MIN_EPOCHS = 2  # classic at σ 0.2 on 20,000 digits beats the noisy input from 2 epochs (docs/retrain.md)
TRAIN_SIZES = (20000, 60000)  # 6,000 digits made models worse than no denoising (docs/retrain.md)
OFF = ("0", "false", "no", "off")  # DENOISER_TRAINING values that hide the section
WHOLE_SERVER = "this server"  # the cooldown's visitor when DENOISER_COOLDOWN_PER=server


@dataclass(frozen=True)
class Options:
    """What this deployment lets visitors do with training; read from the environment."""

    allowed: bool = True  # DENOISER_TRAINING=off hides the Retrain section
    max_epochs: int = MAX_EPOCHS  # DENOISER_MAX_EPOCHS caps the epochs slider
    train_sizes: tuple[int, ...] = TRAIN_SIZES  # DENOISER_TRAIN_SIZES, e.g. "2048" for tests
    keep: int = KEEP_RUNS  # DENOISER_KEEP_RUNS: retrained models kept in the runs folder
    max_images: int | None = None  # DENOISER_MAX_IMAGES: a cap on epochs × digits of one job
    cooldown_s: int = 0  # DENOISER_COOLDOWN_S: seconds a visitor waits between two starts
    cooldown_per: str = "visitor"  # DENOISER_COOLDOWN_PER=server: one start per cooldown for everyone
    threads: int = (
        1  # DENOISER_TRAINING_THREADS: the child's compute threads (default: leave the page a core)
    )
    start_as: str = (
        "autogroup"  # DENOISER_TRAINING_START_AS: how the child is started (supervisor.START_WAYS)
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
            cooldown_per=env_choice(environ, "DENOISER_COOLDOWN_PER", ("visitor", "server")),
            threads=env_int(environ, "DENOISER_TRAINING_THREADS", default_threads(environ), minimum=1),
            start_as=env_choice(environ, "DENOISER_TRAINING_START_AS", ("autogroup", "group", "session")),
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


def env_choice(environ: dict[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` from the environment; the first when unset."""
    text = environ.get(name, "").strip().lower() or choices[0]
    if text not in choices:
        raise ValueError(f"{name} must be {' or '.join(choices)}, got {text!r}")
    return text


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
