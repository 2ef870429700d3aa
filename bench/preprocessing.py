"""How well drawn and uploaded digits become MNIST inputs: ours (crop, fit 20×20, centre by mass) vs naive.

    python bench/preprocessing.py

Three workloads, all built from real MNIST test digits so each has a true label:
- round trip: the digit upscaled ×4–×8 onto a 280×280 canvas at a random place, as a visitor's drawing;
- mouse-like: the digit skeletonised and redrawn as uniform round-capped strokes, at any size from a
  quarter of the canvas to all of it, any position, slanted, with thin to fat strokes;
- uploads: the round-trip drawing as dark ink on grey, shaded, JPEG-compressed paper, in many modes.
The MNIST classifier (weights/classifier.keras) judges each. The test suite imports these generators.
"""

from __future__ import annotations

import io
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from denoiser import preprocessing  # noqa: E402
from denoiser.preprocessing import canvas_to_mnist, image_to_mnist  # noqa: E402

# Settings
SAMPLES = 2000  # test digits per workload (the first ones of a seeded shuffle)
SEED = 0
CANVAS = 280  # the page's canvas side in pixels
CLASSIFIER = ROOT / "weights" / "classifier.keras"
UPLOAD_MODES = ("RGB", "L", "LA", "P", "I;16", "I", "F", "CMYK", "1", "transparent PNG")


@dataclass
class Stroke:
    """How one mouse-like drawing is drawn; each field is drawn at random per digit."""

    size: float  # the drawing's longer side in canvas pixels: a quarter of the canvas to all of it
    width_ratio: float  # stroke width over drawing size: MNIST's are about 0.12; the page's 20 px
    # brush on a drawing a quarter of the 280 px canvas makes 0.29
    slant: float  # horizontal shift per unit of height (±0.3 is about ±17°)


# Round trip


def draw_on_canvas(digit: np.ndarray, rng: np.random.Generator, background: str) -> np.ndarray:
    """A (28, 28) digit upscaled ×4–×8 at a random place on the canvas, white on transparent or black."""
    side = round(28 * rng.uniform(4, 8))
    big = Image.fromarray(digit.astype(np.float32)).resize((side, side), Image.Resampling.BICUBIC)
    ink = np.zeros((CANVAS, CANVAS), np.float32)
    top, left = rng.integers(0, CANVAS - side + 1, size=2)
    ink[top : top + side, left : left + side] = np.clip(np.asarray(big), 0, 1)
    return ink_to_canvas(ink, background)


def ink_to_canvas(ink: np.ndarray, background: str) -> np.ndarray:
    """(H, W) ink in [0, 1] → the (H, W, 4) uint8 image the canvas component returns."""
    level = np.round(ink * 255).astype(np.uint8)
    if background == "transparent":
        white = np.full_like(level, 255)
        return np.dstack([white, white, white, level])
    if background == "black":
        return np.dstack([level, level, level, np.full_like(level, 255)])
    raise ValueError(f"background must be 'transparent' or 'black', not {background!r}")


def naive_canvas_to_mnist(rgba: np.ndarray) -> np.ndarray:
    """The method ours replaces: the whole canvas resized to 28×28."""
    ink = rgba[..., :3].astype(np.float32).mean(axis=2) * (rgba[..., 3] / 255.0)
    small = Image.fromarray(ink.astype(np.uint8)).resize((28, 28), Image.Resampling.LANCZOS)
    return np.asarray(small, dtype=np.float32) / 255.0


# Mouse-like drawings


def skeletons(digits: np.ndarray, upscale: int = 4) -> np.ndarray:
    """One-pixel-wide skeletons (N, 28·upscale, 28·upscale) of digits, by Zhang–Suen thinning."""
    side = 28 * upscale
    big = [
        Image.fromarray(d.astype(np.float32)).resize((side, side), Image.Resampling.BILINEAR) for d in digits
    ]
    image = np.stack([np.asarray(b) for b in big]) > 0.5
    while True:
        removed = _thinning_pass(image, 0) | _thinning_pass(image, 1)
        if not removed:
            return image


def _thinning_pass(image: np.ndarray, step: int) -> bool:
    """One Zhang–Suen sub-iteration over a batch, in place; True if it removed anything."""
    p = np.pad(image, ((0, 0), (1, 1), (1, 1)))
    # Neighbours P2..P9 clockwise from north.
    n = [p[:, :-2, 1:-1], p[:, :-2, 2:], p[:, 1:-1, 2:], p[:, 2:, 2:],
         p[:, 2:, 1:-1], p[:, 2:, :-2], p[:, 1:-1, :-2], p[:, :-2, :-2]]  # fmt: skip
    count = sum(x.astype(np.uint8) for x in n)
    transitions = sum((~n[i] & n[(i + 1) % 8]).astype(np.uint8) for i in range(8))
    if step == 0:
        keep = (n[0] & n[2] & n[4]) | (n[2] & n[4] & n[6])
    else:
        keep = (n[0] & n[2] & n[6]) | (n[0] & n[4] & n[6])
    remove = image & (count >= 2) & (count <= 6) & (transitions == 1) & ~keep
    image &= ~remove
    return bool(remove.any())


def random_stroke(rng: np.random.Generator) -> Stroke:
    """Size, stroke width and slant as a visitor with a mouse might pick them."""
    return Stroke(
        size=rng.uniform(CANVAS / 4, CANVAS),
        width_ratio=float(np.exp(rng.uniform(np.log(0.03), np.log(0.3)))),
        slant=rng.uniform(-0.3, 0.3),
    )


def mouse_drawing(skeleton: np.ndarray, stroke: Stroke, rng: np.random.Generator) -> np.ndarray:
    """(CANVAS, CANVAS) ink: the skeleton redrawn with uniform round-capped strokes, at a random place."""
    ys, xs = np.nonzero(skeleton)
    xs = xs + stroke.slant * (ys.mean() - ys)
    width = max(1.0, stroke.width_ratio * stroke.size)
    extent = max(np.ptp(ys), np.ptp(xs), 1)
    scale = min(stroke.size - width, CANVAS - width - 2) / extent
    ys, xs = (ys - ys.min()) * scale, (xs - xs.min()) * scale
    top = rng.uniform(width / 2, CANVAS - width / 2 - ys.max())
    left = rng.uniform(width / 2, CANVAS - width / 2 - xs.max())
    points = {
        (y, x): (left + xs[i], top + ys[i])
        for i, (y, x) in enumerate(zip(*np.nonzero(skeleton), strict=True))
    }
    canvas = Image.new("L", (CANVAS, CANVAS), 0)
    draw = ImageDraw.Draw(canvas)
    radius = width / 2
    for (y, x), (cx, cy) in points.items():
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=255)
        for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1)):
            if (y + dy, x + dx) in points:
                draw.line([(cx, cy), points[(y + dy, x + dx)]], fill=255, width=round(width))
    return np.asarray(canvas, dtype=np.float32) / 255.0


# Uploads


def upload(ink: np.ndarray, mode: str, rng: np.random.Generator) -> Image.Image:
    """Ink as a photo or scan would hold it: dark on grey, shaded paper, JPEG-compressed, in `mode`."""
    if mode == "transparent PNG":
        level = np.round(ink * 255).astype(np.uint8)
        return Image.fromarray(np.dstack([np.zeros_like(level)] * 3 + [level]))
    height, width = ink.shape
    paper = rng.uniform(150, 245) + rng.uniform(-20, 20) * np.linspace(-0.5, 0.5, width)[None, :]
    paper = paper + rng.uniform(-20, 20) * np.linspace(-0.5, 0.5, height)[:, None]
    ink_tone = rng.uniform(0, 80)
    grey = paper * (1 - ink) + ink_tone * ink + rng.normal(0, 3, ink.shape)
    tint = np.array([1.0, 0.97, 0.9])  # a slightly warm paper, so RGB is not grey
    rgb = np.clip(grey[..., None] * tint, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=int(rng.integers(50, 95)))
    photo = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    return as_mode(photo, mode)


def as_mode(photo: Image.Image, mode: str) -> Image.Image:
    """An RGB photo in one of Pillow's modes, the way a file in that mode would hold it."""
    if mode == "P":
        return photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    if mode == "1":
        return photo.convert("L").convert("1", dither=Image.Dither.NONE)
    if mode in ("I;16", "I", "F"):
        grey = np.asarray(photo.convert("L"), dtype=np.float64)
        values = {"I;16": (grey * 257).astype(np.uint16), "I": (grey * 257).astype(np.int32)}
        return Image.fromarray(values.get(mode, (grey / 255).astype(np.float32)))
    return photo.convert(mode)


# The table


@dataclass
class Workloads:
    """The same test digits as round-trip canvases, mouse-like drawings and uploads."""

    digits: np.ndarray
    labels: np.ndarray
    canvases: list[np.ndarray]
    strokes: list[Stroke]
    drawings: list[np.ndarray]
    uploads: list[Image.Image]  # digit i in mode UPLOAD_MODES[i % len(UPLOAD_MODES)]


def make_workloads(digits: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> Workloads:
    """Draw every digit three ways; backgrounds alternate between transparent and black."""
    backgrounds = [("transparent", "black")[i % 2] for i in range(len(digits))]
    canvases = [draw_on_canvas(d, rng, b) for d, b in zip(digits, backgrounds, strict=True)]
    strokes = [random_stroke(rng) for _ in digits]
    drawings = [
        ink_to_canvas(mouse_drawing(s, stroke, rng), b)
        for s, stroke, b in zip(skeletons(digits), strokes, backgrounds, strict=True)
    ]
    uploads = [
        upload(canvas_ink_of(c), UPLOAD_MODES[i % len(UPLOAD_MODES)], rng) for i, c in enumerate(canvases)
    ]
    return Workloads(digits, labels, canvases, strokes, drawings, uploads)


def canvas_ink_of(rgba: np.ndarray) -> np.ndarray:
    """The ink a canvas image holds (its alpha on transparent, its brightness on black)."""
    return rgba[..., :3].max(axis=2).astype(np.float32) / 255 * (rgba[..., 3] / 255)


def unthinned_canvas_to_mnist(rgba: np.ndarray) -> np.ndarray:
    """Ours without `thin_bold_strokes`, to show what that one step is worth."""
    return unthinned_fit(preprocessing.canvas_ink(rgba))


def unthinned_image_to_mnist(image: Image.Image) -> np.ndarray:
    """Ours without `thin_bold_strokes`, for uploads (the steps of `image_to_mnist`)."""
    grey = preprocessing.flatten_alpha(*preprocessing.grey_and_alpha(image))
    return unthinned_fit(
        preprocessing.drop_background(preprocessing.ink_polarity(preprocessing.shrink(grey)))
    )


def unthinned_fit(ink: np.ndarray) -> np.ndarray:
    """`fit_to_mnist` less its stroke thinning."""
    rows, cols = preprocessing.ink_box(ink)
    return preprocessing.centre_by_mass(preprocessing.fit_box(ink[rows, cols]))


def naive_image_to_mnist(image: Image.Image) -> np.ndarray:
    """The placeholder's upload path: grey, inverted if mostly light, whole picture resized."""
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    if grey.mean() > 127:
        grey = 255.0 - grey
    rgba = np.dstack([grey, grey, grey, np.full_like(grey, 255.0)]).astype(np.uint8)
    return naive_canvas_to_mnist(rgba)


def measure(model, work: Workloads, from_canvas, from_image) -> dict[str, np.ndarray]:
    """Per-digit PSNR (round trip, upload) and whether the classifier read each workload right."""
    from denoiser.classifier import read_digits
    from denoiser.metrics import psnr

    outputs = {
        "round trip": np.stack([from_canvas(c) for c in work.canvases]),
        "mouse-like": np.stack([from_canvas(d) for d in work.drawings]),
        "uploads": np.stack([from_image(u) for u in work.uploads]),
    }
    results = {name: np.argmax(read_digits(model, x), axis=1) == work.labels for name, x in outputs.items()}
    results["round-trip PSNR"] = psnr(outputs["round trip"], work.digits)
    results["upload PSNR"] = psnr(outputs["uploads"], work.digits)
    return results


def print_table(original: np.ndarray, results: dict[str, dict[str, np.ndarray]]) -> None:
    """One row per method: mean PSNR (dB) and classifier accuracy (%)."""
    print(
        "| method | round-trip PSNR | upload PSNR | acc. originals | acc. round trip | acc. mouse-like | acc. uploads |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        cells = [f"{r['round-trip PSNR'].mean():.2f} dB", f"{r['upload PSNR'].mean():.2f} dB"]
        cells += [
            f"{100 * x.mean():.2f}%" for x in (original, r["round trip"], r["mouse-like"], r["uploads"])
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


def print_breakdowns(work: Workloads, ours: dict[str, np.ndarray], unthinned: dict[str, np.ndarray]) -> None:
    """Ours on mouse-like drawings by stroke width (with and without thinning) and by size, and on uploads by mode."""
    ratios = np.array([s.width_ratio for s in work.strokes])
    sizes = np.array([s.size for s in work.strokes]) / CANVAS
    print("\nOurs, mouse-like drawings by stroke width (width / drawing size), without thinning in brackets:")
    for low, high in ((0.03, 0.06), (0.06, 0.12), (0.12, 0.2), (0.2, 0.3)):
        chosen = (ratios >= low) & (ratios < high)
        with_, without = (100 * r["mouse-like"][chosen].mean() for r in (ours, unthinned))
        print(f"  {low:.2f}–{high:.2f}: {with_:.2f}% ({without:.2f}%) of {chosen.sum()}")
    print("Ours, mouse-like drawings by size (drawing size / canvas side):")
    for low, high in ((0.25, 0.5), (0.5, 0.75), (0.75, 1.0)):
        chosen = (sizes >= low) & (sizes < high)
        print(f"  {low:.2f}–{high:.2f}: {100 * ours['mouse-like'][chosen].mean():.2f}% of {chosen.sum()}")
    print("Ours, uploads by mode (accuracy, mean PSNR):")
    modes = np.arange(len(work.uploads)) % len(UPLOAD_MODES)
    for k, mode in enumerate(UPLOAD_MODES):
        hits, psnr = ours["uploads"][modes == k], ours["upload PSNR"][modes == k]
        print(f"  {mode}: {100 * hits.mean():.2f}% of {len(hits)}, {psnr.mean():.2f} dB")


def main() -> None:
    import keras

    from denoiser.classifier import read_digits
    from denoiser.data import load_mnist

    started = time.perf_counter()
    mnist = load_mnist()
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(mnist.x_test))[:SAMPLES]
    work = make_workloads(mnist.x_test[order], mnist.y_test[order], rng)
    model = keras.models.load_model(CLASSIFIER, compile=False)
    original = np.argmax(read_digits(model, work.digits), axis=1) == work.labels
    results = {
        "ours": measure(model, work, canvas_to_mnist, image_to_mnist),
        "ours, no stroke thinning": measure(model, work, unthinned_canvas_to_mnist, unthinned_image_to_mnist),
        "naive (whole canvas resized)": measure(model, work, naive_canvas_to_mnist, naive_image_to_mnist),
    }
    print(f"{SAMPLES} MNIST test digits ({mnist.source}), seed {SEED}, {CANVAS}×{CANVAS} canvas\n")
    print_table(original, results)
    print_breakdowns(work, results["ours"], results["ours, no stroke thinning"])
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
