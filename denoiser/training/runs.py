"""The runs folder's housekeeping: which retrained models are kept, and what a killed job left.

The page lists the runs folder recursively (`model_files(..., recursive=True)`), so pruning
counts and removes from the same list: what a visitor sees is what `keep` bounds.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

STALE_TEMPORARY_S = 600  # a save's temporary this old was left by a killed process (no lock needed)


def model_files(folder: Path, recursive: bool = False) -> list[Path]:
    """Visible `.keras` files in `folder` (none if it does not exist); temporaries start with '.'."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = folder.rglob("*.keras") if recursive else folder.glob("*.keras")
    return sorted(p for p in found if not hidden(p, folder))


def hidden(path: Path, folder: Path) -> bool:
    """True when `path` or a folder between it and `folder` starts with '.' (a temporary, a lock)."""
    return any(part.startswith(".") for part in path.relative_to(folder).parts)


def temporaries(runs_dir: Path) -> list[Path]:
    """Temporaries of interrupted saves and probes (`.name.xxxx.tmp.keras`, `.probe-xxxx.tmp`), at any depth."""
    return [p for p in Path(runs_dir).rglob(".*.tmp*") if p.is_file()]


def remove_model(path: Path) -> None:
    """A model file and its sidecar, if they exist."""
    path.unlink(missing_ok=True)
    path.with_suffix(".json").unlink(missing_ok=True)


def clear_partials(runs_dir: Path) -> None:
    """Temporaries of interrupted saves and probes; only called while holding the machine's lock."""
    for temporary in temporaries(runs_dir):
        with contextlib.suppress(OSError):
            temporary.unlink()


def clear_stale(runs_dir: Path, record: dict[str, Any]) -> None:
    """What a killed server or child left, called with the machine's lock held: temporaries, and
    the model of the job the lock's `record` names if its sidecar never came."""
    name = record.get("name")
    if isinstance(name, str) and name and not (Path(runs_dir) / f"{name}.json").exists():
        remove_model(Path(runs_dir) / f"{name}.keras")
    clear_partials(runs_dir)


def prune(runs_dir: Path, keep: int, stale_after: float = STALE_TEMPORARY_S) -> list[Path]:
    """Remove all but the `keep` newest models (and their sidecars) anywhere in the runs folder, as
    the page lists it, and temporaries a killed save left behind (older than `stale_after`
    seconds); returns the models removed."""
    saved = sorted(model_files(runs_dir, recursive=True), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    removed = saved[keep:]
    for path in removed:
        remove_model(path)
    for temporary in temporaries(runs_dir):
        with contextlib.suppress(OSError):  # another process may have removed it first
            if time.time() - temporary.stat().st_mtime > stale_after:
                temporary.unlink()
    return removed
