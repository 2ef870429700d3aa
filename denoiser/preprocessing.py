"""Turning a canvas drawing or an uploaded picture into a 28×28 input made the way MNIST was.

MNIST's recipe: each digit was size-normalised to fit a 20×20 box keeping its aspect ratio,
with anti-aliasing (hence its grey levels), then placed in a 28×28 image so that its centre of
mass sits at the centre. A model trained on MNIST only helps inputs framed the same way, so both
entry points first reduce their picture to an ink map (white on black, float in [0, 1]) and then
share `fit_to_mnist` for the crop-fit-centre steps. Pure NumPy and Pillow, no Streamlit.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

SIZE = 28  # side of an MNIST image
BOX = 20  # longer side of the digit inside it, as in MNIST
CENTRE = 14.0  # where MNIST's centres of mass sit (pixel indices; measured mean 13.99, 14.01)
BOLDEST = 0.24  # stroke width over digit size that only 1% of MNIST digits exceed
BOLD = 0.175  # stroke width over digit size that 10% of MNIST digits exceed
FINE = 4  # strokes are measured and thinned at 4× the final size, in steps of a quarter pixel
SHAPE_LEVEL = 0.5  # the digit's edge: where ink is half its strongest, as in a half-covered pixel
PAPER_NOISE = 5.0  # paper is what lies within this many standard deviations of its level
LARGEST_UPLOAD = 1024  # longer side uploads are reduced to first, so a photo costs milliseconds


def fit_to_mnist(ink: np.ndarray) -> np.ndarray:
    """Crop an ink map to its ink, fit it in 20×20 and centre it by mass in 28×28 (MNIST's steps)."""
    rows, cols = ink_box(ink)
    crop = thin_bold_strokes(ink[rows, cols])
    rows, cols = ink_box(crop)
    return centre_by_mass(fit_box(crop[rows, cols]))


def has_ink(ink: np.ndarray) -> bool:
    """Whether an ink map holds anything to crop."""
    return bool(np.max(ink, initial=0.0) > 0.0)


def ink_box(ink: np.ndarray) -> tuple[slice, slice]:
    """Row and column slices of the digit's bounding box.

    MNIST fitted binary scans to the 20×20 box, so its grey levels lie inside the box; here the
    shape is where ink reaches half its strongest, and the fainter anti-aliased rim outside it is
    left out, as it would have been (docs/preprocessing.md: with 5% instead of half, the round
    trip's mean PSNR drops from 24.4 to 20.7 dB).
    """
    mask = ink >= SHAPE_LEVEL * ink.max()
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def fit_box(crop: np.ndarray) -> np.ndarray:
    """Resize so the longer side is 20 px, keeping the aspect ratio, with Pillow's anti-aliasing."""
    resized = resize_longer_side(crop, BOX)
    # Stretch so the strongest ink is white, as in MNIST, whose source scans were binary.
    return resized / resized.max()


def resize_longer_side(image: np.ndarray, side: int) -> np.ndarray:
    """Lanczos-resize a float image so its longer side is `side`, keeping the aspect ratio."""
    height, width = image.shape
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32)).resize(
        size, Image.Resampling.LANCZOS
    )
    return np.clip(np.asarray(resized), 0.0, 1.0)


def thin_bold_strokes(crop: np.ndarray) -> np.ndarray:
    """Thin strokes bolder than 99% of MNIST's to the width of its bold digits (its 90th percentile).

    MNIST itself did no such thing, but its writers never had a fat brush on a small digit, which
    fills the loops in and leaves the classifier a blob: in bench/preprocessing.py, mouse-like
    drawings with strokes 20–30% of their size read 89% unthinned, 96% thinned. Others are untouched.
    """
    fine = np.pad(resize_longer_side(crop, BOX * FINE), 1)
    width = stroke_width(fine >= SHAPE_LEVEL * fine.max())
    if width <= BOLDEST * BOX * FINE:
        return crop
    image = Image.fromarray(fine)
    for _ in range(round((width - BOLD * BOX * FINE) / 2)):
        image = image.filter(ImageFilter.MinFilter(3))  # grey erosion: one pixel off each side
    thinned = np.asarray(image)
    return thinned if thinned.max() > 0 else crop


def stroke_width(shape: np.ndarray) -> float:
    """Twice the area over the boundary's length: the width of a stroke, which has a boundary on both sides."""
    padded = np.pad(shape, 1)
    inner = padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    area = shape.sum()
    return 2 * float(area) / max(float(area - inner.sum()), 1.0)


def centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """Place a digit of at most 20×20 in 28×28 with its centre of mass at the centre.

    The shift is whole pixels (as MNIST's was), and is limited so that no ink leaves the image.
    """
    height, width = digit.shape
    ys, xs = np.indices(digit.shape)
    mass = digit.sum()
    top = int(np.clip(np.rint(CENTRE - (ys * digit).sum() / mass), 0, SIZE - height))
    left = int(np.clip(np.rint(CENTRE - (xs * digit).sum() / mass), 0, SIZE - width))
    out = np.zeros((SIZE, SIZE), np.float32)
    out[top : top + height, left : left + width] = digit
    return out


# Canvas


def canvas_to_mnist(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 canvas image → (28, 28) float32 in [0, 1], white digit on black."""
    ink = canvas_ink(rgba)
    if not has_ink(ink):
        raise ValueError("The canvas is empty: draw a digit first.")
    return fit_to_mnist(ink)


def canvas_ink(rgba: np.ndarray) -> np.ndarray:
    """The canvas's ink in [0, 1]: its alpha on a transparent canvas, its brightness on an opaque one."""
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4 or min(rgba.shape[:2]) == 0:
        raise ValueError(f"Expected an (H, W, 4) RGBA canvas image, got shape {rgba.shape}.")
    alpha = rgba[..., 3].astype(np.float32) / 255.0
    if (alpha == 0).any():
        # A transparent background: whatever was painted is ink, whatever its colour.
        return alpha
    # The brightest channel, taken pairwise: numpy's max over a last axis of 3 is ~6× slower here.
    brightest = np.maximum(np.maximum(rgba[..., 0], rgba[..., 1]), rgba[..., 2])
    return brightest.astype(np.float32) / 255.0 * alpha


# Upload


def image_to_mnist(image: Image.Image) -> np.ndarray:
    """A Pillow image of any mode → (28, 28) float32 in [0, 1], white digit on black."""
    grey = flatten_alpha(*grey_and_alpha(image))
    if np.ptp(grey) < 1 / 255:
        raise ValueError("The picture is one uniform colour: upload a picture of a digit.")
    ink = drop_background(ink_polarity(shrink(grey)))
    if not has_ink(ink):
        raise ValueError("No digit found in the picture: upload one with a clear digit on plain paper.")
    return fit_to_mnist(ink)


def grey_and_alpha(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Grey levels in [0, 1] for any Pillow mode, and the alpha channel if the image has one."""
    if "A" in image.getbands() or "transparency" in image.info:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
        return luminance(rgba[..., :3]), rgba[..., 3]
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        # Integer and float images have no fixed white: their own range is the scale.
        values = np.nan_to_num(np.asarray(image, dtype=np.float64))
        low, high = values.min(), values.max()
        return ((values - low) / max(high - low, 1e-12)).astype(np.float32), None
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0, None


def luminance(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma, the weights Pillow's own "L" conversion uses."""
    return rgb @ np.array([0.299, 0.587, 0.114], np.float32)


def flatten_alpha(grey: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Turn transparent areas into paper, so the digit is in the grey levels alone.

    When few pixels are opaque they are the ink (a transparent PNG), and the paper is their
    opposite; when most are, they are a picture with transparent margins, and its median is paper.
    """
    if alpha is None or alpha.min() == alpha.max():
        return grey
    opaque = alpha > 0.5
    if opaque.mean() < 0.5:
        ink_level = np.average(grey, weights=alpha)
        paper = 1.0 if ink_level < 0.5 else 0.0
    else:
        paper = float(np.median(grey[opaque]))
    return alpha * grey + (1.0 - alpha) * paper


def shrink(grey: np.ndarray) -> np.ndarray:
    """Reduce a large picture to at most 1024 px on its longer side; the digit ends at 20 px anyway."""
    height, width = grey.shape
    scale = LARGEST_UPLOAD / max(height, width)
    if scale >= 1:
        return grey
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(grey.astype(np.float32)).resize(size, Image.Resampling.BOX))


def ink_polarity(grey: np.ndarray) -> np.ndarray:
    """Make the ink bright: a light border means dark ink on paper, so the picture is inverted.

    The border rather than the whole picture decides, because a picture cropped tight around a
    bold digit can be mostly ink while its edges are still mostly paper; the border is a few
    percent deep so that a scanner's dark edge line does not decide alone.
    """
    low, high = grey.min(), grey.max()
    if np.median(border(grey)) > (low + high) / 2:
        return high - grey
    return grey - low


def border(grey: np.ndarray) -> np.ndarray:
    """The pixels of a frame 5% deep around the picture (at least one pixel): mostly paper."""
    depth = max(1, round(0.05 * min(grey.shape)))
    return np.concatenate(
        [grey[:depth].ravel(), grey[-depth:].ravel(), grey[:, :depth].ravel(), grey[:, -depth:].ravel()]
    )


def drop_background(ink: np.ndarray) -> np.ndarray:
    """Zero the paper and its shading, keep the anti-aliased edges, and make full ink white.

    What rises above the paper by more than its noise is ramped linearly up to the ink's level;
    Otsu's threshold, applied to that ink alone, splits its faint rim from its core, whose median
    is the level. (Otsu on the whole picture splits the paper's own shading instead when the
    digit is a small share of it, as in a photo.)
    """
    flat, noise = flatten_paper(ink)
    paper_top = max(PAPER_NOISE * noise, 1 / 255)
    candidates = flat[flat > paper_top]
    if candidates.size == 0:
        return np.zeros_like(ink)
    core = candidates[candidates >= otsu_threshold(candidates)]
    ink_level = np.median(core) if core.size else candidates.max()
    if ink_level < 2 * paper_top:
        # Blank paper's noise reaches about 5σ; a digit's ink stands 25σ and more above it.
        return np.zeros_like(ink)
    return np.clip((flat - paper_top) / (ink_level - paper_top), 0.0, 1.0).astype(np.float32)


def flatten_paper(ink: np.ndarray, rounds: int = 3) -> tuple[np.ndarray, float]:
    """Subtract the paper's level and mild shading (a plane); return the result and the paper's noise.

    A plane a + b·y + c·x is fitted to the pixels near the current guess of the paper, and
    refitted, so the ink never pulls it. Ink only lies above the paper, so the noise is measured
    on the paper's lower side alone.
    """
    grid_y, grid_x = np.indices(ink.shape)
    step = max(1, ink.size // 20000)  # a sample is plenty for three numbers
    design = np.column_stack([np.ones(ink.size), grid_y.ravel(), grid_x.ravel()])[::step]
    values = ink.ravel()[::step]
    coefficients = np.array([paper_guess(ink), 0.0, 0.0])
    residual = values - design @ coefficients
    for _ in range(rounds):
        noise = lower_spread(residual)
        near = (residual >= -3 * noise) & (residual <= noise)
        if near.sum() < 3:
            break
        coefficients, *_ = np.linalg.lstsq(design[near], values[near], rcond=None)
        residual = values - design @ coefficients
    plane = coefficients[0] + coefficients[1] * grid_y + coefficients[2] * grid_x
    return (ink - plane).astype(np.float32), lower_spread(residual)


def paper_guess(ink: np.ndarray) -> float:
    """A first paper level: the border's median, or the darker Otsu class's if lower.

    The border is mostly paper unless the picture is cropped tight around a bold digit, and then
    Otsu's split, which only fails when the ink is a small share of the picture, is sound.
    """
    darker = ink[ink <= otsu_threshold(ink)]
    return float(min(np.median(border(ink)), np.median(darker)))


def lower_spread(residual: np.ndarray) -> float:
    """A standard deviation from the values below zero only (their median is 0.6745 σ if Gaussian)."""
    below = residual[residual < 0]
    return float(np.median(-below) / 0.6745) if below.size else 0.0


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """The level that best splits values into two classes (Otsu 1979, maximal between-class variance)."""
    counts, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(counts * centres)
    mean_low = sum_low / np.maximum(weight_low, 1)
    mean_high = (sum_low[-1] - sum_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[np.argmax(between) + 1])
