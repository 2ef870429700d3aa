"""Inside the shipped models: `denoiser.anatomy` on real test digits, and the crisp grids it is drawn with.

The references are the shipped models themselves (a whole-model call), Keras's own
convolution on a one-pixel image, and small arrays whose answers are known by hand.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from denoiser import anatomy, models, noise
from denoiser.page import anatomy_images

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def classic() -> keras.Model:
    return keras.models.load_model(ROOT / "weights" / "classic.keras", compile=False)


@pytest.fixture(scope="module")
def blind() -> keras.Model:
    return keras.models.load_model(ROOT / "weights" / "blind.keras", compile=False)


@pytest.fixture(scope="module")
def digits(mnist) -> np.ndarray:
    """The first 64 real test digits, (64, 28, 28, 1)."""
    return mnist.x_test[:64].reshape(-1, 28, 28, 1)


@pytest.fixture(scope="module")
def halves(classic) -> tuple[keras.Model, keras.Model]:
    return anatomy.split(classic)


def test_classic_decoder_of_encoder_is_the_whole_model(classic, halves, digits):
    encoder, decoder = halves
    noisy = noise.add_noise(digits, 0.5, seed=7)
    for batch in (digits, noisy):
        np.testing.assert_allclose(
            decoder.predict_on_batch(encoder.predict_on_batch(batch)),
            classic.predict_on_batch(batch),
            atol=1e-6,
        )


def test_classic_code_is_7x7x16_as_many_numbers_as_pixels(halves, digits):
    code = halves[0].predict_on_batch(digits)
    assert code.shape == (64, 7, 7, 16)
    assert code[0].size == 28 * 28
    assert code.min() >= 0 and code.max() > 0  # after ReLU and pooling, and not dead


def test_split_shares_the_models_layers_without_copying(classic, halves):
    encoder, decoder = halves
    own = [layer for layer in classic.layers if not isinstance(layer, keras.layers.InputLayer)]
    parts = [
        layer for half in halves for layer in half.layers if not isinstance(layer, keras.layers.InputLayer)
    ]
    assert [id(layer) for layer in parts] == [id(layer) for layer in own]  # each layer once, in order
    assert encoder.layers[-1].name == "max_pooling2d_1"  # the seed recipe's `encoded`
    assert decoder.get_layer("conv2d_4").kernel is classic.get_layer("conv2d_4").kernel
    assert len(encoder.weights) + len(decoder.weights) == len(classic.weights)


def test_split_cuts_any_model_without_skips_at_its_bottleneck(digits):
    """Not just classic: the wider, deeper `wide` recipe (untrained here) splits at its 7×7×64 level."""
    wide = models.build_wide()
    encoder, decoder = anatomy.split(wide)
    assert encoder.output.shape[1:] == (7, 7, 64)
    np.testing.assert_allclose(
        decoder.predict_on_batch(encoder.predict_on_batch(digits[:8])),
        wide.predict_on_batch(digits[:8]),
        atol=1e-6,
    )


def test_split_refuses_the_blind_unet_and_says_why(blind):
    with pytest.raises(ValueError, match="skip connections"):
        anatomy.split(blind)


def test_split_refuses_a_model_that_never_shrinks_the_image():
    with pytest.raises(ValueError, match="never shrinks"):
        anatomy.split(models.build_dncnn(depth=3, filters=4))


def test_interpolation_ends_reproduce_the_two_digits_outputs(classic, halves, digits):
    encoder, decoder = halves
    pair = digits[:2]
    code_a, code_b = encoder.predict_on_batch(pair)
    strip = anatomy.interpolate(decoder, code_a, code_b)
    expected = classic.predict_on_batch(pair)[..., 0]
    assert strip.shape == (8, 28, 28)
    np.testing.assert_allclose(strip[0], expected[0], atol=1e-6)
    np.testing.assert_allclose(strip[-1], expected[1], atol=1e-6)
    middle = strip[3]
    assert np.abs(middle - expected[0]).mean() > 0.02 and np.abs(middle - expected[1]).mean() > 0.02


def test_interpolation_needs_two_steps(halves):
    code = np.zeros((7, 7, 16), np.float32)
    with pytest.raises(ValueError, match="at least 2"):
        anatomy.interpolate(halves[1], code, code, steps=1)


def test_first_filters_are_what_the_first_layer_does_to_one_lit_pixel(classic):
    """A lone pixel of value 1 makes the first layer print each 3×3 kernel (turned 180°) plus its bias."""
    filters = anatomy.first_filters(classic)
    assert filters.shape == (32, 3, 3)
    impulse = np.zeros((28, 28), np.float32)
    impulse[10, 10] = 1.0
    response = anatomy.activations(classic, "conv2d", impulse)[0]  # (28, 28, 32)
    bias = np.asarray(classic.get_layer("conv2d").bias)
    printed = np.transpose(response[9:12, 9:12, :][::-1, ::-1, :], (2, 0, 1))
    np.testing.assert_allclose(printed, np.maximum(filters + bias[:, None, None], 0.0), atol=1e-5)


def test_blind_deepest_level_is_its_7x7_bottom(blind, digits):
    layer = anatomy.deepest_layer(blind)
    maps = anatomy.activations(blind, layer.name, digits[:3])
    assert maps.shape == (3, 7, 7, 128)
    assert anatomy.first_filters(blind).shape == (32, 3, 3)


def test_most_active_orders_channels_by_mean():
    maps = np.zeros((2, 2, 4), np.float32)
    maps[..., 1], maps[..., 3], maps[0, 0, 2] = 5.0, 1.0, 2.0
    np.testing.assert_array_equal(anatomy.most_active(maps, 3), [1, 3, 2])


def test_code_distance_on_known_arrays():
    clean = np.array([3.0, 4.0])  # length 5
    assert anatomy.code_distance(clean, clean) == 0.0
    assert anatomy.code_distance(np.array([3.0, 9.0]), clean) == pytest.approx(1.0)
    assert anatomy.code_distance(np.array([6.0, 8.0]), clean) == pytest.approx(1.0)
    assert anatomy.code_distance(np.zeros(2), np.zeros(2)) == 0.0
    assert anatomy.code_distance(np.ones(2), np.zeros(2)) == float("inf")


def test_more_noise_moves_classics_code_further(halves, digits):
    """The whole point of the picture: the encoder drops light noise and lets heavy noise in."""
    encoder = halves[0]
    clean_codes = encoder.predict_on_batch(digits)
    field = noise.noise_field(digits.shape, seed=3)
    distances = []
    for sigma in (0.0, 0.1, 0.5, 1.0):
        codes = encoder.predict_on_batch(noise.apply_noise(digits, field, sigma))
        distances.append(
            np.mean([anatomy.code_distance(n, c) for n, c in zip(codes, clean_codes, strict=True)])
        )
    assert distances[0] == 0.0
    assert distances[1] < distances[2] < distances[3]
    assert distances[1] < 0.5 < distances[3]


def test_to_batch_accepts_one_digit_or_many_and_refuses_colour():
    assert anatomy.to_batch(np.zeros((28, 28))).shape == (1, 28, 28, 1)
    assert anatomy.to_batch(np.zeros((5, 28, 28))).shape == (5, 28, 28, 1)
    with pytest.raises(ValueError, match="greyscale"):
        anatomy.to_batch(np.zeros((2, 28, 28, 3)))


def test_grid_keeps_every_value_a_sharp_square():
    tiles = np.random.default_rng(0).random((16, 7, 7)).astype(np.float32)
    sheet = anatomy_images.grid(tiles, columns=4, tile_px=42, gap=3)
    assert sheet.shape == (4 * 45 + 3, 4 * 45 + 3)
    tile = sheet[3 + 45 : 3 + 45 + 42, 3 + 2 * 45 : 3 + 2 * 45 + 42]  # row 1, column 2: tile 6
    np.testing.assert_array_equal(tile[::6, ::6], np.round(tiles[6] * 255).astype(np.uint8))
    np.testing.assert_array_equal(tile, np.repeat(np.repeat(tile[::6, ::6], 6, 0), 6, 1))
    assert (sheet[:3] == anatomy_images.GAP_VALUE).all()


def test_signed_scale_puts_zero_at_mid_grey():
    np.testing.assert_allclose(anatomy_images.signed_to_unit(np.array([-2.0, 0.0, 1.0])), [0.0, 0.5, 0.75])
    np.testing.assert_allclose(anatomy_images.signed_to_unit(np.zeros(3)), 0.5)


def test_shared_scale_keeps_noisy_and_clean_maps_comparable():
    noisy, clean = np.full((7, 7, 2), 4.0), np.full((7, 7, 2), 2.0)
    clean[..., 1] = 0.0
    tops = anatomy_images.channel_tops(noisy, clean)
    np.testing.assert_array_equal(tops, [4.0, 4.0])
    np.testing.assert_allclose(anatomy_images.scale_to_unit(clean, tops)[0, 0], [0.5, 0.0])
    assert (anatomy_images.scale_to_unit(clean, np.zeros(2)) == 0).all()  # a dead map is black


def test_pngs_decode_to_the_grid_sizes(classic):
    filters = Image.open(io.BytesIO(anatomy_images.filters_png(anatomy.first_filters(classic))))
    strip = Image.open(io.BytesIO(anatomy_images.strip_png(np.zeros((8, 28, 28)))))
    assert filters.size == (8 * 39 + 3, 4 * 39 + 3) and filters.mode == "L"
    assert strip.size == (8 * 87 + 3, 87 + 3)


def test_anatomy_never_imports_streamlit():
    code = "import sys, denoiser.anatomy, denoiser.page.anatomy_images; print('streamlit' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "False"
