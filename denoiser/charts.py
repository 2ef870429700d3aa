"""The "About the models" charts: sidecar scores against σ as Vega-Lite specs.

Scores come from each model's sidecar (measured once on the whole test set by
`python -m denoiser evaluate`/`train`), never recomputed by the page. A spec is plain JSON,
so `st.vega_lite_chart` sends it without building an Altair object on every rerun.
"""

from __future__ import annotations

import math
from typing import Any

from denoiser.catalog import ModelEntry

NOISY = "noisy (no denoising)"


def score_rows(entries: list[ModelEntry], name: str, noisy_name: str) -> list[dict[str, Any]]:
    """Long-format rows {model, sigma, value} for every model, plus the noisy input once.

    The noisy line comes from the first sidecar that has it: every model was scored on the same
    test digits with the same noise seed, so their noisy columns agree. Non-finite values (the
    noisy PSNR at σ = 0 is ∞) cannot be drawn and are left out.
    """
    rows = []
    noisy_rows: list[dict[str, Any]] = []
    for entry in entries:
        own = [_row(entry.label, score, name) for score in entry.scores]
        rows += [row for row in own if row is not None]
        if not noisy_rows:
            noisy = [_row(NOISY, score, noisy_name) for score in entry.scores]
            noisy_rows = [row for row in noisy if row is not None]
    return rows + noisy_rows


def _row(model: str, score: Any, name: str) -> dict[str, Any] | None:
    """One chart row, or None when the score is missing or cannot be drawn."""
    if not isinstance(score, dict) or score.get("sigma") is None or score.get(name) is None:
        return None
    value = float(score[name])
    return {"model": model, "sigma": float(score["sigma"]), "value": value} if math.isfinite(value) else None


def sigma_chart(rows: list[dict[str, Any]], sigma: float, y_title: str, y_format: str = ".1f") -> dict:
    """Lines of a score against σ, one per model, with a rule marking the slider's σ."""
    x = {"field": "sigma", "type": "quantitative", "title": "noise σ", "scale": {"domain": [0, 1]}}
    lines = {
        "data": {"values": rows},
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": x,
            "y": {
                "field": "value",
                "type": "quantitative",
                "title": y_title,
                "scale": {"zero": False},
                "axis": {"format": y_format},
            },
            "color": {"field": "model", "type": "nominal", "title": None, "legend": {"orient": "bottom"}},
            "strokeDash": {
                "condition": {"test": f"datum.model === '{NOISY}'", "value": [4, 3]},
                "value": [1, 0],
            },
            "tooltip": [
                {"field": "model", "type": "nominal"},
                {"field": "sigma", "type": "quantitative", "title": "σ"},
                {"field": "value", "type": "quantitative", "title": y_title, "format": y_format},
            ],
        },
    }
    rule = {
        "data": {"values": [{"sigma": sigma}]},
        "mark": {"type": "rule", "color": "#e4572e", "strokeWidth": 2},
        "encoding": {"x": x},
    }
    return {"height": 260, "layer": [lines, rule]}
