"""canvas_to_mnist and image_to_mnist on real MNIST digits, judged by the real classifier.

The drawings come from bench/preprocessing.py, the generators behind the benchmark's table,
on a few hundred test digits so that this file runs in well under a minute.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from bench.preprocessing import (
    CANVAS,
    UPLOAD_MODES,
    Stroke,
    canvas_ink_of,
    draw_on_canvas,
    ink_to_canvas,
    mouse_drawing,
    naive_canvas_to_mnist,
    random_stroke,
    skeletons,
    unthinned_canvas_to_mnist,
    upload,
)
from denoiser.classifier import accuracy
from denoiser.metrics import mean_psnr
from denoiser.preprocessing import canvas_ink, canvas_to_mnist, centre_by_mass, image_to_mnist, stroke_width

CLASSIFIER = Path(__file__).resolve().parents[1] / "weights" / "classifier.keras"
SAMPLES = 300


@pytest.fixture(scope="module")
def classifier():
    import keras

    return keras.models.load_model(CLASSIFIER, compile=False)


@pytest.fixture(scope="module")
def digits(mnist) -> tuple[np.ndarray, np.ndarray]:
    """A seeded sample of test digits and their labels."""
    order = np.random.default_rng(7).permutation(len(mnist.x_test))[:SAMPLES]
    return mnist.x_test[order], mnist.y_test[order]


@pytest.fixture(scope="module")
def skeleton_of(digits) -> np.ndarray:
    return skeletons(digits[0])


def background(i: int) -> str:
    return ("transparent", "black")[i % 2]


def assert_framed_like_mnist(image: np.ndarray) -> None:
    """28×28 float32 in [0, 1], full-strength ink, 20 px longer side, centre of mass at MNIST's (14, 14)."""
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() == pytest.approx(1.0)
    ys, xs = np.nonzero(image)
    assert 18 <= max(np.ptp(ys), np.ptp(xs)) + 1 <= 20
    centre_y, centre_x = (ys * image[ys, xs]).sum() / image.sum(), (xs * image[ys, xs]).sum() / image.sum()
    assert np.hypot(centre_y - 14, centre_x - 14) <= 1.0


# Round trip and mouse-like drawings


def test_round_trip_reads_within_two_points_of_the_originals_and_beats_naive_resizing(classifier, digits):
    images, labels = digits
    rng = np.random.default_rng(1)
    canvases = [draw_on_canvas(d, rng, background(i)) for i, d in enumerate(images)]
    ours = np.stack([canvas_to_mnist(c) for c in canvases])
    naive = np.stack([naive_canvas_to_mnist(c) for c in canvases])

    assert accuracy(classifier, ours, labels) >= accuracy(classifier, images, labels) - 0.02
    assert mean_psnr(ours, images) > 23.0  # 24.0 dB measured
    assert mean_psnr(naive, images) < 12.0  # 9.9 dB measured: a small blob somewhere


def test_mouse_like_drawings_read_correctly_where_naive_resizing_fails(classifier, digits, skeleton_of):
    _, labels = digits
    rng = np.random.default_rng(2)
    canvases = [
        ink_to_canvas(mouse_drawing(s, random_stroke(rng), rng), background(i))
        for i, s in enumerate(skeleton_of)
    ]
    ours = np.stack([canvas_to_mnist(c) for c in canvases])
    naive = np.stack([naive_canvas_to_mnist(c) for c in canvases])
    assert accuracy(classifier, ours, labels) >= 0.95  # 97.3% measured
    assert accuracy(classifier, naive, labels) < 0.75  # 59% measured


def test_fat_strokes_on_a_small_drawing_are_thinned_until_they_read(classifier, digits, skeleton_of):
    """The page's 20 px brush on a digit a quarter of the canvas tall: strokes 30% of its size."""
    labels = digits[1][:100]
    rng = np.random.default_rng(3)
    canvases = [
        ink_to_canvas(mouse_drawing(s, Stroke(70, 0.3, 0.0), rng), "black") for s in skeleton_of[:100]
    ]
    thinned = np.stack([canvas_to_mnist(c) for c in canvases])
    unthinned = np.stack([unthinned_canvas_to_mnist(c) for c in canvases])
    assert accuracy(classifier, thinned, labels) >= 0.85  # 90% measured
    assert accuracy(classifier, unthinned, labels) < 0.75  # 63% measured


def test_one_pixel_strokes_across_the_whole_canvas_read_correctly(classifier, digits, skeleton_of):
    labels = digits[1][:100]
    rng = np.random.default_rng(4)
    canvases = [
        ink_to_canvas(mouse_drawing(s, Stroke(CANVAS, 1 / CANVAS, 0.0), rng), "transparent")
        for s in skeleton_of[:100]
    ]
    images = np.stack([canvas_to_mnist(c) for c in canvases])
    assert accuracy(classifier, images, labels) >= 0.93  # 96% measured
    assert_framed_like_mnist(images[0])


# Canvas edge cases


@pytest.mark.parametrize("background_name", ["transparent", "black"])
def test_an_empty_canvas_asks_for_a_digit(background_name):
    with pytest.raises(ValueError, match="draw a digit"):
        canvas_to_mnist(ink_to_canvas(np.zeros((CANVAS, CANVAS)), background_name))


@pytest.mark.parametrize("shape", [(CANVAS, CANVAS), (CANVAS, CANVAS, 3), (0, 0, 4)])
def test_a_canvas_that_is_not_rgba_is_refused(shape):
    with pytest.raises(ValueError, match="RGBA"):
        canvas_to_mnist(np.zeros(shape, np.uint8))


def test_transparent_and_black_canvases_give_the_same_input(digits):
    ink = canvas_ink_of(draw_on_canvas(digits[0][0], np.random.default_rng(5), "black"))
    np.testing.assert_array_equal(
        canvas_to_mnist(ink_to_canvas(ink, "transparent")), canvas_to_mnist(ink_to_canvas(ink, "black"))
    )


def test_a_coloured_stroke_on_a_transparent_canvas_is_ink():
    rgba = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    rgba[60:200, 130:150] = (0, 0, 255, 255)  # a blue bar: its brightness is low, its alpha is not
    assert_framed_like_mnist(canvas_to_mnist(rgba))


@pytest.mark.parametrize("channel", [0, 1, 2])
def test_on_an_opaque_canvas_a_stroke_in_any_one_channel_is_ink_at_that_channels_brightness(channel):
    rgba = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    rgba[..., 3] = 255  # a black, opaque canvas: brightness, not alpha, is the ink
    rgba[60:200, 130:150, channel] = 200
    rgba[60:200, 100:110, (channel + 1) % 3] = 100  # a dimmer bar in another channel
    ink = canvas_ink(rgba)
    assert ink[100, 140] == pytest.approx(200 / 255) and ink[100, 105] == pytest.approx(100 / 255)
    assert ink[10, 10] == 0.0 and ink.dtype == np.float32 and ink.shape == (CANVAS, CANVAS)


def test_a_single_dot_becomes_a_centred_round_blob():
    canvas = Image.new("L", (CANVAS, CANVAS))
    ImageDraw.Draw(canvas).ellipse((30, 190, 50, 210), fill=255)  # one click of the 20 px brush
    image = canvas_to_mnist(ink_to_canvas(np.asarray(canvas) / 255, "transparent"))
    assert_framed_like_mnist(image)
    ys, xs = np.nonzero(image)
    blob = image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    np.testing.assert_allclose(blob, blob[::-1, ::-1], atol=0.05)
    assert max(blob[0, 0], blob[0, -1], blob[-1, 0], blob[-1, -1]) < 0.2  # round, not square


def test_a_one_pixel_dot_still_gives_a_framed_image():
    ink = np.zeros((CANVAS, CANVAS))
    ink[100, 100] = 1.0
    assert_framed_like_mnist(canvas_to_mnist(ink_to_canvas(ink, "black")))


def test_a_scribble_over_the_whole_canvas_gives_a_framed_image():
    rng = np.random.default_rng(6)
    canvas = Image.new("L", (CANVAS, CANVAS))
    points = [tuple(p) for p in rng.uniform(0, CANVAS, size=(40, 2))]
    ImageDraw.Draw(canvas).line(points, fill=255, width=30, joint="curve")
    assert_framed_like_mnist(canvas_to_mnist(ink_to_canvas(np.asarray(canvas) / 255, "transparent")))


def test_an_off_balance_drawing_is_shifted_as_far_as_its_ink_allows():
    """A heavy blob with a long thin tail: centring its mass would push the tail out of the image."""
    canvas = Image.new("L", (CANVAS, CANVAS))
    draw = ImageDraw.Draw(canvas)
    draw.ellipse((20, 100, 100, 180), fill=255)
    draw.line([(60, 140), (260, 140)], fill=255, width=3)
    image = canvas_to_mnist(ink_to_canvas(np.asarray(canvas) / 255, "black"))
    columns = np.flatnonzero(image.max(axis=0) > 0)
    assert columns[-1] == 27 and columns[-1] - columns[0] + 1 == 20  # the whole tail is still there


def test_centring_by_mass_never_cuts_ink_off():
    digit = np.zeros((20, 20), np.float32)
    digit[0, 0] = 1.0  # all the mass in one corner: centring it would move the rest out
    digit[19, 19] = 0.01
    image = centre_by_mass(digit)
    assert image.sum() == pytest.approx(digit.sum())


def test_stroke_width_of_a_bar_is_its_thickness():
    bar = np.zeros((60, 240), bool)
    bar[20:32, 10:230] = True
    assert stroke_width(bar) == pytest.approx(12, rel=0.1)


# Uploads


@pytest.mark.parametrize("mode", UPLOAD_MODES)
def test_each_upload_mode_is_recognised(classifier, digits, mode):
    """Dark ink on grey, shaded, JPEG-compressed paper, saved in `mode`."""
    images, labels = digits[0][:30], digits[1][:30]
    rng = np.random.default_rng(8)
    uploads = [upload(canvas_ink_of(draw_on_canvas(d, rng, "black")), mode, rng) for d in images]
    assert uploads[0].mode == {"transparent PNG": "RGBA"}.get(mode, mode)
    assert accuracy(classifier, np.stack([image_to_mnist(u) for u in uploads]), labels) >= 0.93


def test_an_mnist_digit_uploaded_as_it_is_comes_back_nearly_unchanged(digits):
    images = digits[0][:100]
    uploaded = np.stack([image_to_mnist(Image.fromarray(np.round(d * 255).astype(np.uint8))) for d in images])
    assert mean_psnr(uploaded, images) > 30.0  # 36.9 dB measured


def test_dark_on_light_and_light_on_dark_give_the_same_input(digits):
    light_ink = np.round(digits[0][0] * 255).astype(np.uint8)
    np.testing.assert_allclose(
        image_to_mnist(Image.fromarray(255 - light_ink)),
        image_to_mnist(Image.fromarray(light_ink)),
        atol=1e-6,
    )


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255), (30, 60, 200)])
def test_a_transparent_png_reads_as_the_canvas_would(digits, colour):
    """Ink only in alpha, whatever its colour: the same input as the transparent canvas gives."""
    ink = canvas_ink_of(draw_on_canvas(digits[0][1], np.random.default_rng(9), "transparent"))
    rgba = np.dstack(
        [np.full(ink.shape, c, np.uint8) for c in colour] + [np.round(ink * 255).astype(np.uint8)]
    )
    assert mean_psnr(image_to_mnist(Image.fromarray(rgba)), canvas_to_mnist(rgba)) > 28.0  # 31–33 dB measured


def test_a_small_digit_in_a_large_shaded_photo_is_found(classifier, digits):
    images, labels = digits[0][:10], digits[1][:10]
    rng = np.random.default_rng(10)
    photos = []
    for d in images:
        ink = np.zeros((1200, 1600), np.float32)
        big = Image.fromarray(d).resize((100, 100), Image.Resampling.BICUBIC)
        ink[700:800, 300:400] = np.clip(np.asarray(big), 0, 1)
        photos.append(upload(ink, "RGB", rng))
    assert accuracy(classifier, np.stack([image_to_mnist(p) for p in photos]), labels) >= 0.9


def test_a_bold_digit_cropped_tight_keeps_its_polarity(classifier, digits, skeleton_of):
    """Mostly ink inside the frame, but the paper still shows at its edges."""
    labels = digits[1][:30]
    rng = np.random.default_rng(11)
    crops = []
    for s in skeleton_of[:30]:
        ink = mouse_drawing(s, Stroke(200, 0.2, 0.0), rng)
        rows, cols = np.flatnonzero(ink.max(axis=1)), np.flatnonzero(ink.max(axis=0))
        tight = ink[max(rows[0] - 4, 0) : rows[-1] + 5, max(cols[0] - 4, 0) : cols[-1] + 5]
        crops.append(upload(tight, "L", rng))
    assert accuracy(classifier, np.stack([image_to_mnist(c) for c in crops]), labels) >= 0.9


@pytest.mark.parametrize(
    "picture",
    [
        Image.new("L", (50, 40), 255),
        Image.new("RGB", (50, 40), (20, 20, 20)),
        Image.new("RGBA", (50, 40), (0, 0, 0, 0)),
        Image.new("F", (50, 40), 0.5),
        Image.fromarray(np.full((40, 50), 40000, np.uint16)),
        Image.new("1", (50, 40), 1),
    ],
    ids=["white L", "dark RGB", "transparent RGBA", "F", "I;16", "1"],
)
def test_a_uniform_picture_is_refused_with_one_clear_line(picture):
    with pytest.raises(ValueError, match="one uniform colour") as error:
        image_to_mnist(picture)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("seed", [12, 13, 14])
def test_blank_shaded_jpeg_paper_is_refused(seed):
    rng = np.random.default_rng(seed)
    with pytest.raises(ValueError, match="No digit found"):
        image_to_mnist(upload(np.zeros((300, 400), np.float32), "RGB", rng))
