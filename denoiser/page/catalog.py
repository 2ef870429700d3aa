"""Finding the denoisers the page can offer: `.keras` files in the weights and runs folders.

A model is whatever `.keras` file sits in `weights/` (shipped) or `runs/` (retrained by
visitors), described by its JSON sidecar. The classifier lives in `weights/` too but is
not a denoiser, so anything whose sidecar names the "classifier" recipe is left out.
Discovery reads only small files, so the page can repeat it on every rerun and notice a
model that appeared (or changed) while it was running. The classical filters
(`denoiser.filters`) are listed after the networks, with the scores `bench/quality.py`
measured for them (`denoiser/assets/filter_scores.json`), and are never the default.
"""

from __future__ import annotations

import bisect
import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

from denoiser import filters, noise, novelty, storage
from denoiser.training.runs import model_files

ROOT = Path(__file__).resolve().parents[2]
CLASSIFIER_RECIPE = "classifier"
CLASSIFIER_FILE = "classifier.keras"
NOT_DENOISERS = {CLASSIFIER_RECIPE, novelty.RECIPE}  # models beside the denoisers that judge, not denoise
PERSISTENT = Path("/data")  # where hosts mount a persistent disk (Hugging Face Spaces do)
PREFERRED = ("blind", "classic")  # the default is the first of these that exists
IMAGE_SHAPES = {(28, 28, 1), (None, None, 1)}
FILTER_SCORES = Path(__file__).resolve().parents[1] / "assets" / "filter_scores.json"


class ModelUnavailable(RuntimeError):
    """A model file exists but cannot serve the page (corrupt, unreadable, wrong shape)."""


@dataclass(frozen=True)
class ModelEntry:
    """One denoiser on disk, as the page lists it."""

    key: str  # stable id kept in session state: "weights/blind", "runs/2026-11-25-abc"
    label: str  # what the visitor reads: "blind", "2026-11-25-abc (retrained)"
    path: Path
    description: str
    scores: list[dict[str, float]] = field(default_factory=list, compare=False, hash=False)
    retrained: bool = False
    version: tuple[int, int] = (0, 0)  # (mtime_ns, size): a changed file is a different model
    noise: tuple[str, ...] = (noise.DEFAULT_KIND,)  # the kinds it was trained on (its sidecar's "noise")
    scores_by_noise: dict[str, list[dict[str, float]]] = field(
        default_factory=dict, compare=False, hash=False
    )
    filter: str | None = None  # a classical filter's name in `filters.FILTERS`; None for a network

    def scores_for(self, kind: str) -> list[dict[str, float]]:
        """Test-set scores on `kind` (the sidecar's `scores` are Gaussian where no kind is named)."""
        if kind in self.scores_by_noise:
            return self.scores_by_noise[kind]
        return self.scores if kind == noise.DEFAULT_KIND else []


def weights_dir() -> Path:
    """`$DENOISER_WEIGHTS_DIR`, else the repository's `weights/`."""
    return Path(os.environ.get("DENOISER_WEIGHTS_DIR") or ROOT / "weights")


def runs_dir() -> Path:
    """Where retrained models are saved, the first of: `$DENOISER_RUNS_DIR`; `/data/runs` where
    `/data` is a writable folder (a host's persistent disk, as a Space with persistent storage
    mounts it), so models outlive a restart; the repository's `runs/` where the repository is
    writable; else `~/runs` (a read-only app folder, as scripts/run-as-space.sh makes it)."""
    if configured := os.environ.get("DENOISER_RUNS_DIR"):
        return Path(configured)
    if writable(PERSISTENT):
        return PERSISTENT / "runs"
    return ROOT / "runs" if writable(ROOT) else Path.home() / "runs"


def writable(folder: Path) -> bool:
    """True for an existing folder this process may create files in."""
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


def make_entry(path: Path, key: str, label: str, retrained: bool) -> ModelEntry | None:
    """The entry for one file, or None when its sidecar says it is not a denoiser."""
    sidecar = storage.read_sidecar(path)
    if sidecar.get("recipe") in NOT_DENOISERS:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    scores = sidecar.get("scores")
    by_noise = sidecar.get("scores_by_noise")
    kinds = sidecar.get("noise")
    return ModelEntry(
        key=key,
        label=label,
        path=path,
        description=str(sidecar.get("description") or "No description (the model has no sidecar)."),
        scores=scores if isinstance(scores, list) else [],
        retrained=retrained,
        version=(stat.st_mtime_ns, stat.st_size),
        noise=tuple(k for k in kinds if k in noise.KINDS) or (noise.DEFAULT_KIND,)
        if isinstance(kinds, list)
        else (noise.DEFAULT_KIND,),
        scores_by_noise={k: v for k, v in by_noise.items() if isinstance(v, list)}
        if isinstance(by_noise, dict)
        else {},
    )


def filter_entries(scores_file: Path = FILTER_SCORES) -> list[ModelEntry]:
    """The classical filters as entries, with their measured scores per noise kind."""
    try:
        measured = json.loads(scores_file.read_text())
    except (OSError, ValueError):
        measured = {}
    entries = []
    for name, item in filters.FILTERS.items():
        item_scores = measured.get(name, {}) if isinstance(measured, dict) else {}
        by_noise = {k: v for k, v in item_scores.items() if k in noise.KINDS and isinstance(v, list)}
        entries.append(
            ModelEntry(
                key=f"filters/{name}",
                label=item.label,
                path=scores_file,
                description=item.description,
                scores=by_noise.get(noise.DEFAULT_KIND, []),
                noise=(),
                scores_by_noise=by_noise,
                filter=name,
            )
        )
    return entries


def discover(weights: Path | None = None, runs: Path | None = None) -> list[ModelEntry]:
    """Every denoiser on disk: shipped ones first (blind, classic, then by name), then retrained,
    newest first."""
    weights = weights_dir() if weights is None else weights
    runs = runs_dir() if runs is None else runs
    shipped = [make_entry(p, f"weights/{p.stem}", p.stem, False) for p in model_files(weights)]
    shipped_sorted = sorted(
        (e for e in shipped if e is not None),
        key=lambda e: (PREFERRED.index(e.label) if e.label in PREFERRED else len(PREFERRED), e.label),
    )
    retrained = []
    for path in model_files(runs, recursive=True):
        if not zipfile.is_zipfile(path):  # still arriving where a rename is a copy (a storage bucket)
            continue
        name = path.relative_to(runs).with_suffix("").as_posix()
        sidecar_name = storage.read_sidecar(path).get("name")
        entry = make_entry(path, f"runs/{name}", f"{sidecar_name or name} (retrained)", True)
        if entry is not None:
            retrained.append(entry)
    retrained.sort(key=lambda e: e.version[0], reverse=True)
    return shipped_sorted + retrained


def offered(weights: Path | None = None, runs: Path | None = None) -> list[ModelEntry]:
    """What the page lists: every denoiser on disk (`discover`), then the classical filters."""
    return discover(weights, runs) + filter_entries()


def mean_score(entry: ModelEntry, kind: str, name: str = "psnr") -> float | None:
    """The mean of `name` over the entry's test-set rows for `kind` that add noise (None without
    any). The amount-0 row is the clean digit, the same for every kind, and its PSNR is so large
    (blind 46 dB, mixture 33) that it outweighed every noisy amount of salt and pepper together."""
    values = [
        float(row[name])
        for row in entry.scores_for(kind)
        if isinstance(row, dict) and row.get(name) is not None and row.get("sigma") != 0
    ]
    values = [v for v in values if math.isfinite(v)]
    return sum(values) / len(values) if values else None


def default_key(entries: list[ModelEntry], kind: str = noise.DEFAULT_KIND) -> str | None:
    """The shipped network with the best mean test-set PSNR on `kind` by its sidecar; where no
    shipped network has scores for `kind`: blind if present, else classic, else the first
    network there is. Never a filter, never a retrained model while a shipped one exists."""
    networks = [e for e in entries if e.filter is None]
    shipped = [e for e in networks if not e.retrained]
    rank = {name: len(PREFERRED) - i for i, name in enumerate(PREFERRED)}  # ties go to blind, then classic
    scored = [
        (score, rank.get(e.label, 0), e.key) for e in shipped if (score := mean_score(e, kind)) is not None
    ]
    if scored:
        return max(scored)[2]
    by_key = {e.key for e in networks}
    for name in PREFERRED:
        if f"weights/{name}" in by_key:
            return f"weights/{name}"
    return networks[0].key if networks else None


def load_denoiser(path: Path) -> keras.Model:
    """Load a denoiser, turning every way a file can be broken into one readable `ModelUnavailable`."""
    if not path.is_file():
        raise ModelUnavailable(f"{path.name} could not be loaded: the file was removed")
    if not os.access(path, os.R_OK):
        raise ModelUnavailable(f"{path.name} could not be loaded: no permission to read it")
    try:
        model = storage.load_model(path)
    except Exception as error:  # noqa: BLE001 - a corrupt zip, bad JSON or missing layer all mean the same here
        # Keras's own messages name the wrong cause ("File not found") and the server's paths.
        raise ModelUnavailable(
            f"{path.name} could not be loaded: damaged or not a Keras model file"
        ) from error
    shapes = (tuple(model.input_shape[1:]), tuple(model.output_shape[1:]))
    if shapes[0] not in IMAGE_SHAPES or shapes[1] not in IMAGE_SHAPES:
        raise ModelUnavailable(
            f"{path.name} is not an image-to-image model (input {shapes[0]}, output {shapes[1]})"
        )
    return model


def load_classifier(folder: Path | None = None) -> keras.Model | None:
    """The digit classifier beside the denoisers, or None when it is missing or broken."""
    path = (weights_dir() if folder is None else folder) / CLASSIFIER_FILE
    if not path.is_file():
        return None
    try:
        model = storage.load_model(path)
    except Exception:  # noqa: BLE001 - the page simply omits the readings
        return None
    return model if tuple(model.output_shape[1:]) == (10,) else None


def load_digit_check(folder: Path | None = None) -> tuple[keras.Model, float] | None:
    """The "is this a digit?" detector and its threshold (from its sidecar), or None when it is
    missing or broken (the page then makes no such claim)."""
    path = (weights_dir() if folder is None else folder) / novelty.FILE
    threshold = storage.read_sidecar(path).get("threshold")
    if not path.is_file() or not isinstance(threshold, (int, float)):
        return None
    try:
        model = storage.load_model(path)
    except Exception:  # noqa: BLE001 - the page simply makes no claim
        return None
    return (model, float(threshold)) if tuple(model.output_shape[1:]) == (1,) else None


def first_line(error: BaseException) -> str:
    """An exception's message cut to one short line, for a one-line page message."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def score_at(scores: list[dict[str, Any]], sigma: float, name: str = "psnr") -> float | None:
    """`name` at `sigma`, interpolated linearly between the sidecar's σ rows.

    None where the sidecar has no such score, σ lies outside the rows' range, or one of the
    two rows around σ is not finite (noisy PSNR is ∞ at σ = 0 and cannot be interpolated).
    """
    rows = sorted(
        (float(row["sigma"]), float(row[name]))
        for row in scores
        if isinstance(row, dict) and row.get("sigma") is not None and row.get(name) is not None
    )
    if not rows or not rows[0][0] <= sigma <= rows[-1][0]:
        return None
    sigmas = [s for s, _ in rows]
    i = bisect.bisect_left(sigmas, sigma)
    if sigmas[i] == sigma:
        return rows[i][1]
    (s0, v0), (s1, v1) = rows[i - 1], rows[i]
    if not (math.isfinite(v0) and math.isfinite(v1)):
        return None
    return v0 + (v1 - v0) * (sigma - s0) / (s1 - s0)
