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
