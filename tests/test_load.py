"""bench/load.py in small: three browser sessions on one server while one of them retrains, then 40 moves in one.

The full run (8 sessions × 20 moves while a retraining runs, then 1,000 moves in one session)
takes minutes and its figures are in docs/robustness.md; this one keeps the benchmark working
and its checks passing: every move shows that session's own digit and noise, no errors (a
move without new panels is one), the retraining outlasts the load, and no memory growth over
40 moves. Skipped where chromium or Playwright is missing, except in CI.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path

from test_browser import require_browser

ROOT = Path(__file__).resolve().parents[1]


def load_bench():
    """bench/load.py as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("load_bench", ROOT / "bench" / "load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_sessions_under_load_each_get_their_own_panels_and_memory_stays_flat(mnist_path):
    require_browser()
    bench = load_bench()
    settings = bench.LoadSettings(
        sessions=3,
        drawing=1,
        moves=4,
        retrain=True,
        memory_moves=40,
        memory_every=20,
        mnist_dir=str(mnist_path),
    )
    results = asyncio.run(bench.run(settings))
    assert results.wrong == [] and results.errors == []
    assert results.distinct_originals
    assert results.training_outlasted
    assert len(results.single) == 4 and len(results.loaded) == 12
    rss = [mb for _, mb in results.memory_moves]
    assert max(rss[1:]) - rss[1] < 50  # MB: no growth once the session's first sweep is cached
