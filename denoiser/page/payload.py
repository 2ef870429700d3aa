"""What the live panel component receives: one digit's sweep, packed for the browser.

The page computes every slider position at once (`sweep.run`); this module turns that into
plain JSON the component can scrub through without asking the server: each kind of frame
(noisy, denoised, every compared model's denoised) as one lossless greyscale PNG sprite of
101 frames stacked vertically, and per σ the captions, the classifier's readings and the
PSNR the chart draws. The pixels are exactly those of `panels.upscale` before upscaling
(`panels.to_pixels`), so what the browser shows is what a downloaded panel shows.

The browser decodes a sprite once per new digit; a PNG of 101 frames of noise is ~56 kB
against 79 kB raw, and a denoised sprite ~25 kB (`size_of` reports a payload's bytes). A
new digit's first answer (a frame or two per kind) is sent raw instead: as small, and the
browser reads raw bytes at once, where decoding a PNG waits for its image decoder (~15 ms
measured while the page renders the rerun).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from denoiser import noise
from denoiser.page import panels
from denoiser.page.sweep import Readings, Sweep

BUDGET_BYTES = 250_000  # the most one digit's payload (without compared models) may weigh
RAW_UP_TO = 2  # sweeps of at most this many σ send their frames raw, not as PNG


@dataclass(frozen=True)
class Compared:
    """Another model's sweep of the same digit and noise, for *Compare all models*."""

    label: str
    sweep: Sweep


def sprite(frames: np.ndarray, encoding: str = "png") -> str:
    """(S, 28, 28) floats → one (S·28, 28) greyscale image, base64: frame i is rows 28i … 28i + 27.

    "png": a lossless PNG; "raw": the pixel bytes themselves, row by row.
    """
    pixels = panels.to_pixels(frames).reshape(-1, frames.shape[-1])  # the panels' own rounding
    if encoding == "raw":
        return base64.b64encode(pixels.tobytes()).decode("ascii")
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG", compress_level=1)  # 2 ms, not 33 ms at 9
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def finite(value: float) -> float | None:
    """JSON has no ∞: an exact copy's PSNR is sent as null (the chart leaves that point out)."""
    return round(value, 3) if math.isfinite(value) else None


def sweep_id(*parts: Any) -> str:
    """A short fingerprint of what the frames depend on (model, its file version, digit, noise)."""
    digest = hashlib.sha1()
    for part in parts:
        digest.update(part.tobytes() if isinstance(part, np.ndarray) else repr(part).encode())
    return digest.hexdigest()[:16]


def readings_text(readings: tuple[Any, ...], unlike: bool = False) -> list[str]:
    """The classifier's line under a panel for every σ (Markdown bold stripped: the browser shows text)."""
    return [panels.reading_text(r.digit, r.confidence, unlike).replace("**", "") for r in readings]


def build(
    result: Sweep,
    clean: np.ndarray,
    denoised_title: str,
    readings: Readings | None,
    identity: str,
    compared: tuple[Compared, ...] = (),
    kind: str = noise.DEFAULT_KIND,
    unlike: bool = False,
) -> dict[str, Any]:
    """The component's `data` for one digit and noise kind: frames, captions, readings and PSNR
    per σ, and what the slider's amount is called for that kind; `unlike` (the input is unlike
    MNIST's digits) marks every reading unsure and adds the line that says so.

    The same for every rerun of one digit, so the page caches it; `with_sigma` adds the
    server's σ on each run.
    """
    noisy_captions = [panels.caption("Noisy", score) for score in result.noisy_scores]
    denoised_captions = [
        panels.caption(denoised_title, d, panels.gain(d, n))
        for d, n in zip(result.denoised_scores, result.noisy_scores, strict=True)
    ]
    gains = [panels.gain(d, n) for d, n in zip(result.denoised_scores, result.noisy_scores, strict=True)]
    encoding = "raw" if len(result.sigmas) <= RAW_UP_TO else "png"
    data: dict[str, Any] = {
        "id": identity,
        "amount": amount_words(kind),
        "sigmas": [round(s, 2) for s in result.sigmas],
        "size": int(clean.shape[-1]),
        "encoding": encoding,
        "frames": {
            "noisy": sprite(result.noisy, encoding),
            "denoised": sprite(result.denoised, encoding),
            "original": sprite(clean[None], encoding),
        },
        "captions": {
            "noisy": noisy_captions,
            "denoised": denoised_captions,
            "original": panels.original_caption(),
        },
        "notice": panels.UNLIKE_NOTICE if unlike else None,
        "worse": [gain is not None and gain < 0 for gain in gains],
        "psnr": {
            "noisy": [finite(s.psnr) for s in result.noisy_scores],
            "denoised": [finite(s.psnr) for s in result.denoised_scores],
        },
        "readings": None,
        "compared": [
            {
                "label": other.label,
                "frames": sprite(other.sweep.denoised, encoding),
                "captions": [
                    f"{other.label} · PSNR {panels.format_db(s.psnr)}" for s in other.sweep.denoised_scores
                ],
            }
            for other in compared
        ],
    }
    if readings is not None:
        data["readings"] = {
            "noisy": readings_text(readings.noisy, unlike),
            "denoised": readings_text(readings.denoised, unlike),
            "original": readings_text((readings.original,), unlike)[0],
        }
    return data


def amount_words(kind: str) -> dict[str, str]:
    """The slider's accessible name, its letter and its help for `kind` ("Noise σ" for Gaussian)."""
    return {
        "kind": kind,
        "name": noise.AMOUNT_NAMES[kind],
        "symbol": noise.SYMBOLS[kind],
        "help": noise.AMOUNT_HELP[kind],
    }


def with_sigma(data: dict[str, Any], sigma: float, serial: int, ready: bool) -> dict[str, Any]:
    """`data` plus the server's σ, its serial and whether the browser has said it runs the component.

    The browser applies `sigma` only when `serial` changed (the server set σ itself), so a
    rerun never pulls the thumb back to a value the visitor has already moved past.
    """
    return {**data, "sigma": round(float(sigma), 2), "serial": int(serial), "ready": bool(ready)}


def with_raw(data: dict[str, Any], raw: tuple[str, str] | None) -> dict[str, Any]:
    """`data` plus the small view of the drawing or upload beside the Original: (PNG base64, label)."""
    return {**data, "raw": None if raw is None else {"png": raw[0], "label": raw[1]}}


def size_of(data: dict[str, Any], with_compared: bool = True) -> int:
    """Bytes of `data` as JSON (what the websocket carries); optionally without the compared models."""
    if not with_compared:
        data = {**data, "compared": []}
    return len(json.dumps(data, ensure_ascii=False).encode())
