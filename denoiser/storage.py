"""Saving and finding trained models: `.keras` files with a JSON sidecar beside them.

Files are written under a temporary name in the same folder and renamed into place, so a
reader (another visitor's page, a crash mid-save) never sees half a model.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import keras

READABLE = 0o644  # mkstemp makes files 0600; a model is meant to be read by other processes


def sidecar_path(model_path: str | os.PathLike) -> Path:
    """`weights/blind.keras` → `weights/blind.json`."""
    return Path(model_path).with_suffix(".json")


def read_sidecar(model_path: str | os.PathLike) -> dict[str, Any]:
    """The sidecar's contents, or {} where there is none or it is unreadable."""
    try:
        return json.loads(sidecar_path(model_path).read_text())
    except (OSError, ValueError):
        return {}


def write_json_atomic(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write JSON to a temporary file in the same folder, then rename it into place."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp.json")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2, sort_keys=False)
            handle.write("\n")
        os.chmod(tmp, READABLE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model_atomic(
    model: keras.Model, path: str | os.PathLike, sidecar: dict[str, Any] | None = None
) -> Path:
    """Save `model` (and its sidecar) so that `path` is either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp.keras")
    os.close(fd)
    try:
        model.save(tmp)
        os.chmod(tmp, READABLE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if sidecar is not None:
        write_json_atomic(sidecar_path(path), sidecar)
    return path


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load a saved denoiser the way the contract says any consumer can: no custom objects."""
    return keras.models.load_model(path, compile=False)
