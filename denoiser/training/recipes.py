"""The settings a retraining inherits from the shipped model it would replace, and how a job is named."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from denoiser import models, storage
from denoiser.train import TrainConfig
from denoiser.training import runs

IMPROVED_RECIPE = "unet_residual"  # the improved model's recipe when weights/blind.json does not name one


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
    names = ["blind", "classic"] + [p.stem for p in runs.model_files(folder)]
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


# Settings measured to end worse than the noisy input (`python bench/retrain.py --only kinds`,
# docs/retrain.md), which the form therefore does not offer: classic (a 12k-parameter blur) on
# speckle below this σ. Light speckle leaves a digit sharp (25.8 dB at σ 0.2), and classic trained
# there gave back 19.3 dB; at σ 0.9 it beat the noisy input (18.1 dB against 15.4).
CLASSIC_SPECKLE_MIN_SIGMA = 0.9
# And the blind recipe (trained from scratch, as the form trains it) on anything but Gaussian
# noise: in 2 epochs × 20,000 digits, on salt and pepper alone it ended at a flat 9.6 dB at every
# amount (the noisy input has 13.3 at p 0.1), as if it had learned one grey picture; on speckle
# alone at 29.4 dB at σ 0.1, where the noisy input has 31.6 (25.1 against 19.1 at σ 0.5).
BLIND_WITHOUT = ("salt_and_pepper", "speckle")


def check_offered(config: TrainConfig) -> None:
    """Refuse, in one line for the visitor, a setting measured to end worse than no denoising."""
    if config.sigma is None and set(config.noise) & set(BLIND_WITHOUT):
        raise ValueError(
            "The blind model trained here on salt and pepper or speckle ended worse than the noisy "
            "digit (measured); train it on Gaussian noise, or train classic on the other kinds."
        )
    if (
        config.model == "classic"
        and "speckle" in config.noise
        and config.sigma is not None
        and config.sigma < CLASSIC_SPECKLE_MIN_SIGMA
    ):
        raise ValueError(
            f"Classic cannot beat light speckle (measured: it ends worse than the noisy digit); "
            f"train it on speckle at σ {CLASSIC_SPECKLE_MIN_SIGMA:.1f}, or pick another model."
        )


def describe(config: TrainConfig | None) -> str:
    """`classic · 5 epochs · σ 0.5 · 60,000 digits`, and the noise kinds where not Gaussian alone
    (`… · salt and pepper + speckle`)."""
    if config is None:
        return ""
    epochs = f"{config.epochs} epoch{'s' if config.epochs != 1 else ''}"
    text = f"{config.model} · {epochs} · σ {config.sigma_label} · {config.train_size or 60000:,} digits"
    if tuple(config.noise) != ("gaussian",):
        text += " · " + " + ".join(kind.replace("_", " ") for kind in config.noise)
    return text
