"""The "About the models" charts: sidecar scores against σ as Vega-Lite specs.

Scores come from each model's sidecar (measured once on the whole test set by
`python -m denoiser evaluate`/`train`), never recomputed by the page. A spec is plain JSON,
so `st.vega_lite_chart` sends it without building an Altair object on every rerun.
"""

from __future__ import annotations

import math
from typing import Any

from denoiser import noise
from denoiser.page.catalog import ModelEntry

NOISY = "noisy (no denoising)"
CLEAN = "clean (no noise)"
PSNR_REFERENCES = {NOISY: "noisy_psnr"}
ACCURACY_REFERENCES = {NOISY: "noisy_accuracy", CLEAN: "clean_accuracy"}


def score_rows(
    entries: list[ModelEntry], name: str, references: dict[str, str], kind: str = noise.DEFAULT_KIND
) -> list[dict[str, Any]]:
    """Long-format rows {model, sigma, value, reference} for every model on `kind`, plus reference lines.

    A reference line (the noisy input, the clean digits) comes from the first sidecar that has
    it: every model was scored on the same test digits with the same noise seed, so theirs
    agree. Non-finite values (the noisy PSNR at σ = 0 is ∞) cannot be drawn and are left out.
    """
    rows = []
    for entry in entries:
        rows += [row for score in entry.scores_for(kind) if (row := _row(entry.label, score, name, False))]
    for label, field in references.items():
        for entry in entries:
            lines = [row for score in entry.scores_for(kind) if (row := _row(label, score, field, True))]
            if lines:
                rows += lines
                break
    return rows


def _row(model: str, score: Any, name: str, reference: bool) -> dict[str, Any] | None:
    """One chart row, or None when the score is missing or cannot be drawn."""
    if not isinstance(score, dict) or score.get("sigma") is None or score.get(name) is None:
        return None
    value = float(score[name])
    if not math.isfinite(value):
        return None
    return {"model": model, "sigma": float(score["sigma"]), "value": value, "reference": reference}


def sigma_chart(
    rows: list[dict[str, Any]], sigma: float, y_title: str, y_format: str = ".1f", x_title: str = "noise σ"
) -> dict:
    """Lines of a score against the amount of noise, one per model, with a rule at the slider's."""
    x = {"field": "sigma", "type": "quantitative", "title": x_title, "scale": {"domain": [0, 1]}}
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
                "condition": {"test": "datum.reference", "value": [4, 3]},
                "value": [1, 0],
            },
            "tooltip": [
                {"field": "model", "type": "nominal"},
                {"field": "sigma", "type": "quantitative", "title": x_title},
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
