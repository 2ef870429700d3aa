"""How long a training should take on this machine, from a throughput measured here."""

from __future__ import annotations

from denoiser.train import TrainConfig


def estimate_seconds(config: TrainConfig, images_per_s: float, overhead: float = 15.0) -> float:
    """Expected wall time from a throughput measured on this server (a shipped model's sidecar)."""
    images = (config.train_size or 60000) * config.epochs
    return overhead + images / max(images_per_s, 1.0)
