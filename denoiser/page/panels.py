"""The page's three panels as data: scores against the original, captions, crisp upscaling, one PNG.

A 28×28 digit shown at 196 px must keep its pixels square (nearest neighbour), or the
noise the slider adds would be smoothed away by the browser before the visitor sees it.
"""

from __future__ import annotations

import io
import math
import textwrap
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from denoiser import metrics

PANEL_PX = 196  # 7 × 28: the smallest whole-number scale of at least 196 px
TITLES = ("Noisy", "Denoised", "Original")
FONT_FILES = ("DejaVuSans.ttf", "LiberationSans-Regular.ttf")  # fonts with ∞ and σ


@dataclass(frozen=True)
class PanelScore:
    """How close one panel is to the original digit."""

    psnr: float  # dB; ∞ for an exact copy
    ssim: float


def score_panels(images: list[np.ndarray] | np.ndarray, original: np.ndarray) -> list[PanelScore]:
    """PSNR and SSIM of each (28, 28) image against `original`, in one TensorFlow call each."""
    batch = np.asarray(images, np.float32)
    reference = np.broadcast_to(np.asarray(original, np.float32), batch.shape)
    psnrs, ssims = metrics.psnr(batch, reference), metrics.ssim(batch, reference)
    return [PanelScore(float(p), float(s)) for p, s in zip(psnrs, ssims, strict=True)]


def format_db(value: float | None) -> str:
    """PSNR as the page writes it: `21.3 dB`, `∞ dB` for an exact copy, `–` when unknown."""
    if value is None or math.isnan(value):
        return "–"
    return "∞ dB" if math.isinf(value) else f"{value:.1f} dB"


def caption(title: str, score: PanelScore, gain_db: float | None = None) -> str:
    """`Denoised · PSNR 22.4 dB (+6.1 dB) · SSIM 0.861`; the gain is over the noisy panel.

    A loss is written with a true minus sign (`−1.7 dB`), so it cannot be read as a gain, and
    an infinite loss (the noisy panel was the clean digit itself, σ = 0) says so in words.
    """
    psnr = f"PSNR {format_db(score.psnr)}"
    if gain_db is not None and math.isfinite(gain_db):
        psnr += f" ({format_gain(gain_db)})"
    elif gain_db is not None and gain_db < 0:
        psnr += " (worse: the input was clean)"
    return f"{title} · {psnr} · SSIM {score.ssim:.3f}"


def format_gain(gain_db: float) -> str:
    """`+6.1 dB`, `−1.7 dB` (U+2212, the minus sign), `±0.0 dB`."""
    if round(gain_db, 1) == 0:
        return "±0.0 dB"
    return f"{'+' if gain_db > 0 else '−'}{abs(gain_db):.1f} dB"


def gain(denoised: PanelScore, noisy: PanelScore) -> float | None:
    """PSNR gained by denoising (negative: the model made it worse).

    When the noisy panel is exact (σ = 0) any change is an infinite loss: −∞, unless the
    model returned the digit exactly too (None: nothing to say).
    """
    if math.isinf(noisy.psnr) and math.isinf(denoised.psnr):
        return None
    return denoised.psnr - noisy.psnr


UNSURE_BELOW = 0.6  # a classifier reading less confident than this is shown as a guess
ORIGINAL = "Original"
ORIGINAL_NOTE = "as the model sees it: 28 × 28, framed as MNIST's digits were"
UNLIKE_NOTICE = (
    "This does not look like an MNIST digit (the check in weights/digit_check.keras says so), "
    "and the models only know digits: the readings are guesses."
)


def original_caption() -> str:
    """The third panel's caption: the clean digit is its own reference (∞ dB), and it is the model's
    input, framed as MNIST's digits were, not the drawing or upload itself."""
    return f"{caption(ORIGINAL, PanelScore(float('inf'), 1.0))} · {ORIGINAL_NOTE}"


def reading_text(digit: int, confidence: float, unlike: bool = False) -> str:
    """What the classifier reads, as one short line under a panel; a weak reading, or any reading of
    an input unlike MNIST's digits, is marked unsure."""
    if unlike or confidence < UNSURE_BELOW:
        return f"Classifier is unsure: maybe {digit} ({confidence:.0%})"
    return f"Classifier reads **{digit}** ({confidence:.0%})"


def to_pixels(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] → uint8, rounded: the grey levels every panel shows (server or browser)."""
    return np.round(np.clip(np.asarray(images, np.float32), 0.0, 1.0) * 255).astype(np.uint8)


def upscale(image: np.ndarray, size: int = PANEL_PX) -> np.ndarray:
    """A (28, 28) float image in [0, 1] → uint8 at a whole-number scale of at least `size` px."""
    pixels = to_pixels(image)
    scale = max(1, math.ceil(size / pixels.shape[0]))
    return np.repeat(np.repeat(pixels, scale, axis=0), scale, axis=1)


def png_bytes(pixels: np.ndarray) -> bytes:
    """Encode a uint8 greyscale array as PNG (fast settings: these images are tiny)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def panel_png(image: np.ndarray, size: int = PANEL_PX) -> bytes:
    """One panel, upscaled and encoded, ready for `st.image`."""
    return png_bytes(upscale(image, size))


def font(size: int) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, bool]:
    """A font with ∞ and σ where the system has one; the flag says whether it has them."""
    for name in FONT_FILES:
        try:
            return ImageFont.truetype(name, size), True
        except OSError:
            continue
    return ImageFont.load_default(size=size), False


def composite_png(images: list[np.ndarray], captions: list[str], size: int = PANEL_PX) -> bytes:
    """The panels side by side with their captions under them, as one downloadable PNG."""
    text_font, has_symbols = font(13)
    tiles = [upscale(image, size) for image in images]
    wrapped = max(sum(len(textwrap.wrap(line, 30)) for line in c.split(" · ")) for c in captions)
    side, gap, text_height = tiles[0].shape[0], 12, 22 * wrapped
    sheet = Image.new("L", (len(tiles) * (side + gap) + gap, side + 2 * gap + text_height), 255)
    draw = ImageDraw.Draw(sheet)
    for i, (tile, text) in enumerate(zip(tiles, captions, strict=True)):
        left = gap + i * (side + gap)
        sheet.paste(Image.fromarray(tile), (left, gap))
        lines = [part for line in text.replace("**", "").split(" · ") for part in textwrap.wrap(line, 30)]
        if not has_symbols:
            lines = [line.replace("∞", "inf").replace("σ", "sigma") for line in lines]
        draw.multiline_text((left, side + gap + 6), "\n".join(lines), fill=0, font=text_font, spacing=6)
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()
