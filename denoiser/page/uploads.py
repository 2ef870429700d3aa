"""Turning the bytes a visitor uploads into a picture `denoiser.preprocessing` can read, safely.

Anything can arrive: text renamed `.png`, an empty file, a 50 000 × 50 000 PNG header in a
few hundred bytes (a decompression bomb), animated GIFs, 16-bit scans, CMYK JPEGs from
print workflows, transparent PNGs and phone photos stored sideways with an EXIF rotation.
Each either becomes the 28×28 input (through `preprocessing.image_to_mnist`, which reads
ink polarity, transparency and bit depth) or raises `ValueError` with one line the page
shows as it is.
"""

from __future__ import annotations

import base64
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from denoiser import preprocessing

MAX_BYTES = 5 * 1024 * 1024  # matches server.maxUploadSize in .streamlit/config.toml
MAX_PIXELS = 25_000_000  # a 24 MP (6000 × 4000) photo passes; decoding more would hog a shared CPU
WORKING_SIDE = 1024  # decoded images are shrunk to this before preprocessing; plenty for a 20 px digit
FORMATS = {"PNG", "JPEG", "MPO", "GIF", "WEBP", "BMP"}  # MPO: what some cameras call a JPEG
EXTENSIONS = ["png", "jpg", "jpeg", "gif", "webp", "bmp"]

# Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that; both are turned into
# messages below, and this limit is the one the message quotes.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@dataclass(frozen=True)
class Upload:
    """An uploaded digit as the model receives it, plus notes worth telling the visitor."""

    image: np.ndarray  # (28, 28) float32 in [0, 1], white on black
    notes: tuple[str, ...] = ()


def open_image(data: bytes) -> Image.Image:
    """Open (but do not decode) an image, refusing empty, oversized and non-image files."""
    if not data:
        raise ValueError("The file is empty: upload a PNG or JPEG of a digit.")
    if len(data) > MAX_BYTES:
        raise ValueError(f"The file is {len(data) / 2**20:.1f} MB; the limit is {MAX_BYTES // 2**20} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(too_big_message()) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValueError("That file is not an image: upload a PNG or JPEG of a digit.") from None
    if image.format not in FORMATS:
        raise ValueError(f"{image.format} files are not supported: upload a PNG or JPEG.")
    if image.width * image.height > MAX_PIXELS:
        raise ValueError(too_big_message(image.size))
    return image


def too_big_message(size: tuple[int, int] | None = None) -> str:
    """One line for images with too many pixels to decode on a shared server."""
    dims = f" ({size[0]:,} × {size[1]:,} pixels)" if size else ""
    return f"The image is too large{dims}; the limit is {MAX_PIXELS // 1_000_000} megapixels."


def first_frame(image: Image.Image) -> tuple[Image.Image, tuple[str, ...]]:
    """Decode frame 0, shrunk while decoding where the format allows (JPEG draft mode)."""
    notes = ()
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
        notes = ("The image is animated: using its first frame.",)
    if image.format in {"JPEG", "MPO"}:
        image.draft(image.mode, (WORKING_SIDE, WORKING_SIDE))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(too_big_message(image.size)) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise ValueError("The image is damaged or truncated and could not be decoded.") from None
    frame = ImageOps.exif_transpose(image.copy())  # phone photos are often stored sideways
    return frame, notes


def working_copy(frame: Image.Image) -> Image.Image:
    """A mode `preprocessing` reads (palette and CMYK become RGB/RGBA), at most 1024 px a side.

    Shrinking here, in 8 or 16 bits, keeps a 24 MP photo from becoming a 400 MB float array
    later; transparency, 16-bit depth and ink polarity are left for `preprocessing` to read.
    """
    if frame.mode == "P":
        frame = frame.convert("RGBA" if "transparency" in frame.info else "RGB")
    elif frame.mode == "1":
        frame = frame.convert("L")
    elif frame.mode in {"CMYK", "YCbCr", "LAB", "HSV"}:
        frame = frame.convert("RGB")
    frame.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.BOX)
    return frame


def read_upload(data: bytes) -> Upload:
    """Uploaded bytes → the 28×28 input the model receives; `ValueError` with one line otherwise."""
    frame, notes = first_frame(open_image(data))
    return Upload(preprocessing.image_to_mnist(working_copy(frame)), notes)


PREVIEW_PX = 64  # the longer side of the small view of a drawing or upload beside the Original


def preview(data: bytes) -> str | None:
    """A drawing or an upload (already read once) as a small PNG, base64: what the visitor gave,
    upright and shrunk, before the framing that made the Original. None where a mode Pillow reads
    but cannot show defeats it: the view is a courtesy, never a reason for an error."""
    try:
        return small_png(data)
    except (OSError, ValueError, TypeError):
        return None


def small_png(data: bytes) -> str:
    """`preview`'s work: the first frame, upright, at most `PREVIEW_PX` a side, as base64 PNG."""
    frame, _ = first_frame(open_image(data))
    small = working_copy(frame)
    if small.mode in ("I;16", "I", "F"):  # deep greys: scaled to 8 bits for the view
        grey = np.asarray(small, dtype=np.float64)
        small = Image.fromarray(np.round(255 * grey / max(float(grey.max()), 1e-9)).astype(np.uint8))
    elif small.mode not in ("L", "RGB", "RGBA", "LA"):
        small = small.convert("RGBA")
    small.thumbnail((PREVIEW_PX, PREVIEW_PX), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def read_canvas(png: bytes) -> np.ndarray:
    """The canvas's PNG (sent by the browser, so checked like an upload) → the 28×28 input."""
    frame, _ = first_frame(open_image(png))
    return preprocessing.canvas_to_mnist(np.asarray(frame.convert("RGBA")))


DOT_HINT = "This looks like a single dot or blob rather than a digit: try drawing a whole digit."
INK = 0.3  # a 28×28 pixel at least this bright counts as ink when the marks are counted


def ink_marks(image: np.ndarray) -> list[int]:
    """Sizes (in pixels) of the separate marks in a 28×28 digit, largest first (8-connected)."""
    ink = np.asarray(image) >= INK
    seen = np.zeros_like(ink)
    sizes = []
    for start in zip(*np.nonzero(ink), strict=True):
        if seen[start]:
            continue
        seen[start], stack, size = True, [start], 0
        while stack:
            y, x = stack.pop()
            size += 1
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < ink.shape[0] and 0 <= nx < ink.shape[1] and ink[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
        sizes.append(size)
    return sorted(sizes, reverse=True)


def marks_hint(image: np.ndarray) -> str | None:
    """One line when the input is unlike one digit: several separate marks, or a single dot/blob.

    A mark counts when it is at least a fifth of the largest (a stray speck does not); a blob is
    one mark that fills most of its bounding box, as a dot scaled up to a digit's size does
    (a real digit's strokes leave most of their box empty, or are thin like a 1).
    """
    sizes = ink_marks(image)
    if not sizes:
        return None
    marks = [size for size in sizes if size >= max(6, sizes[0] / 5)]
    if len(marks) > 1:
        return (
            f"This looks like {len(marks)} separate marks: the model and the classifier expect one digit, "
            "so the readings may mislead."
        )
    rows, columns = np.nonzero(np.asarray(image) >= INK)
    height, width = rows.max() - rows.min() + 1, columns.max() - columns.min() + 1
    if sizes[0] / (height * width) > 0.8 and 0.5 <= height / width <= 2:  # a "1" is full but thin
        return DOT_HINT
    return None
