"""The three noise kinds, the classical filters and the mixture model, on real MNIST digits.

Expected values are written out here from the issue's formulas (NumPy on the field's planes,
Pillow called directly), not recomputed with the functions under test.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
from helpers import ROOT
from PIL import Image, ImageFilter

from denoiser import filters, metrics, noise, storage
from denoiser.inference import denoise
from denoiser.page import catalog

AMOUNTS = (0.0, 0.1, 0.3, 0.5, 0.7, 1.0)


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist.x_test[:64]


def test_a_field_is_z_then_u_then_c_from_one_generator():
    field = noise.noise_field((4, 28, 28), seed=11)
    rng = np.random.default_rng(11)
    z = rng.standard_normal((4, 28, 28), dtype=np.float32)
    u = rng.random((4, 28, 28), dtype=np.float32)
    c = rng.random((4, 28, 28), dtype=np.float32) < 0.5
    assert field.shape == (3, 4, 28, 28) and field.dtype == np.float32
    np.testing.assert_array_equal(field[0], z)  # the Gaussian field earlier versions drew
    np.testing.assert_array_equal(field[1], u)
    np.testing.assert_array_equal(field[2], c.astype(np.float32))


@pytest.mark.parametrize("kind", noise.KINDS)
def test_amount_zero_gives_the_digit_back_exactly(digits, kind):
    field = noise.noise_field(digits.shape, seed=1)
    np.testing.assert_array_equal(noise.apply_noise(digits, field, 0.0, kind), digits)


@pytest.mark.parametrize("amount", AMOUNTS)
def test_the_formulas_as_the_issue_states_them(digits, amount):
    field = noise.noise_field(digits.shape, seed=2)
    z, u, c = field
    a = np.float32(amount)
    np.testing.assert_array_equal(
        noise.apply_noise(digits, field, amount, "gaussian"), np.clip(digits + a * z, 0, 1)
    )
    np.testing.assert_array_equal(
        noise.apply_noise(digits, field, amount, "speckle"), np.clip(digits + a * digits * z, 0, 1)
    )
    np.testing.assert_array_equal(
        noise.apply_noise(digits, field, amount, "salt_and_pepper"), np.where(u < a, c, digits)
    )


def test_salt_and_pepper_only_adds_replaced_pixels_as_the_amount_grows(digits):
    field = noise.noise_field(digits.shape, seed=3)
    _, u, c = field
    replaced_before = np.zeros(digits.shape, bool)
    for amount in np.linspace(0, 1, 21):
        noisy = noise.apply_noise(digits, field, float(amount), "salt_and_pepper")
        replaced = u < amount
        assert np.all(replaced_before <= replaced)  # monotone: a pixel once replaced stays replaced
        np.testing.assert_array_equal(noisy[replaced], c[replaced])
        np.testing.assert_array_equal(noisy[~replaced], digits[~replaced])
        assert abs(replaced.mean() - amount) < 0.01  # a fraction `a` of the pixels
        replaced_before = replaced
    at_one = noise.apply_noise(digits, field, 1.0, "salt_and_pepper")
    assert set(np.unique(at_one)) <= {0.0, 1.0}  # a = 1: every pixel is black or white
    assert abs(at_one.mean() - 0.5) < 0.01  # with equal chance


@pytest.mark.parametrize("kind", noise.KINDS)
def test_more_noise_is_never_closer_to_the_digit(digits, kind):
    field = noise.noise_field(digits.shape, seed=4)
    errors = [float(np.mean((noise.apply_noise(digits, field, a, kind) - digits) ** 2)) for a in AMOUNTS]
    assert errors[0] == 0 and all(b >= a for a, b in zip(errors, errors[1:], strict=False))
    assert errors[-1] > 0.01


def test_speckle_leaves_the_black_background_black(digits):
    field = noise.noise_field(digits.shape, seed=5)
    noisy = noise.apply_noise(digits, field, 1.0, "speckle")
    assert np.all(noisy[digits == 0] == 0)
    assert np.mean(noisy[digits > 0.5] != digits[digits > 0.5]) > 0.5


def test_a_bare_gaussian_field_still_serves_gaussian_and_speckle_but_not_salt_and_pepper(digits):
    z = np.random.default_rng(6).standard_normal(digits.shape, dtype=np.float32)
    np.testing.assert_array_equal(
        noise.apply_noise(digits, z, 0.4), np.clip(digits + np.float32(0.4) * z, 0, 1)
    )
    with pytest.raises(ValueError, match="full field"):
        noise.apply_noise(digits, z, 0.4, "salt_and_pepper")
    with pytest.raises(ValueError, match="noise kind must be one of"):
        noise.apply_noise(digits, z, 0.4, "poisson")


def test_training_noise_in_the_graph_follows_the_same_formulas(digits):
    """tf_add_noise draws its own planes, so its statistics are checked, not its pixels."""
    tf.random.set_seed(0)
    clean = tf.constant(np.repeat(digits[:8, ..., None], 8, axis=0))
    n = clean.shape[0]
    amounts = tf.constant(np.linspace(0.05, 0.95, n), tf.float32)
    salted = noise.tf_add_noise(clean, amounts, "salt_and_pepper").numpy()
    changed = (salted != clean.numpy()).reshape(n, -1)
    assert set(np.unique(salted[changed.reshape(salted.shape)])) <= {0.0, 1.0}
    pixels = clean.numpy().reshape(n, -1)
    # A replaced pixel that already had c's value looks unchanged: expected change is a·P(x ≠ c).
    expected = amounts.numpy() * np.mean((pixels != 0) * 0.5 + (pixels != 1) * 0.5, axis=1)
    np.testing.assert_allclose(changed.mean(axis=1), expected, atol=0.08)  # 784 draws: σ ≈ 0.018
    speckled = noise.tf_add_noise(clean, amounts, "speckle").numpy()
    assert np.all(speckled[clean.numpy() == 0] == 0)
    kinds = tf.constant([0, 1, 2] * (n // 3) + [0] * (n % 3))
    mixed = noise.tf_add_noise(clean, tf.fill([n], 0.5), kinds).numpy()
    background = clean.numpy() == 0
    for i, kind in enumerate(kinds.numpy()):
        if kind == 2:  # speckle: the background stays black
            assert np.all(mixed[i][background[i]] == 0)
        elif kind == 1:  # salt and pepper: only black or white where anything changed
            moved = mixed[i] != clean.numpy()[i]
            assert set(np.unique(mixed[i][moved])) <= {0.0, 1.0}
        else:  # Gaussian: the background gets grey values
            assert np.mean((mixed[i][background[i]] > 0) & (mixed[i][background[i]] < 1)) > 0.2


def test_the_median_filter_is_pillows_own_on_the_float_image(digits):
    noisy = noise.apply_noise(digits[:5], noise.noise_field(digits[:5].shape, seed=7), 0.3, "salt_and_pepper")
    out = filters.FILTERS["median3"].predict_on_batch(noisy[..., None])
    for image, got in zip(noisy, out, strict=True):
        expected = np.asarray(Image.fromarray(image).filter(ImageFilter.MedianFilter(3)))
        np.testing.assert_array_equal(got[..., 0], expected)


def test_the_blur_is_pillows_gaussian_blur_on_8_bit_grey(digits):
    noisy = noise.apply_noise(digits[:5], noise.noise_field(digits[:5].shape, seed=8), 0.3)
    out = denoise(filters.FILTERS["blur"], noisy)
    for image, got in zip(noisy, out, strict=True):
        grey = Image.fromarray(np.round(image * 255).astype(np.uint8))
        expected = np.asarray(grey.filter(ImageFilter.GaussianBlur(filters.BLUR_RADIUS)), np.float32) / 255
        np.testing.assert_array_equal(got, expected)


def test_the_median_filter_is_good_at_salt_and_pepper_and_poor_at_gaussian_noise(digits):
    field = noise.noise_field(digits.shape, seed=9)
    median = filters.FILTERS["median3"]
    salted = noise.apply_noise(digits, field, 0.1, "salt_and_pepper")
    gaussian = noise.apply_noise(digits, field, 0.1, "gaussian")
    assert metrics.mean_psnr(denoise(median, salted), digits) > metrics.mean_psnr(salted, digits) + 6
    assert metrics.mean_psnr(denoise(median, gaussian), digits) < metrics.mean_psnr(gaussian, digits) + 1


MIXTURE = ROOT / "weights" / "mixture.keras"


@pytest.mark.skipif(not MIXTURE.exists(), reason="weights/mixture.keras is not shipped")
@pytest.mark.parametrize("kind,amount", [("gaussian", 0.5), ("salt_and_pepper", 0.3), ("speckle", 0.6)])
def test_the_mixture_model_beats_the_noisy_input_and_blind_on_a_sample(mnist, kind, amount):
    images = mnist.x_test[-200:]
    noisy = noise.apply_noise(images, noise.noise_field(images.shape, seed=21), amount, kind)
    mixture = storage.load_model(MIXTURE)
    mixed = metrics.mean_psnr(denoise(mixture, noisy), images)
    assert mixed > metrics.mean_psnr(noisy, images) + 3
    if (
        kind != "gaussian"
    ):  # on a kind blind never saw, the mixture is better (2,000 digits: +1.4 dB at p 0.3)
        blind = metrics.mean_psnr(
            denoise(storage.load_model(ROOT / "weights" / "blind.keras"), noisy), images
        )
        assert mixed > blind + 1.0


@pytest.mark.skipif(not MIXTURE.exists(), reason="weights/mixture.keras is not shipped")
def test_the_mixture_sidecar_lists_its_kinds_and_scores_each():
    side = json.loads(MIXTURE.with_suffix(".json").read_text())
    assert side["noise"] == ["gaussian", "salt_and_pepper", "speckle"]
    assert set(side["scores_by_noise"]) == set(noise.KINDS)
    assert all(len(rows) == 11 for rows in side["scores_by_noise"].values())


def test_the_page_defaults_to_the_best_shipped_network_for_each_kind_and_never_a_filter():
    entries = catalog.offered(ROOT / "weights", ROOT / "no-runs")
    assert catalog.default_key(entries, "gaussian") == "weights/blind"
    assert all(not catalog.default_key(entries, kind).startswith("filters/") for kind in noise.KINDS)
    filters_listed = [e for e in entries if e.filter]
    assert [e.filter for e in filters_listed] == list(filters.FILTERS)
    if MIXTURE.exists():  # the kinds blind never saw go to the model trained on them
        assert catalog.default_key(entries, "salt_and_pepper") == "weights/mixture"
        assert catalog.default_key(entries, "speckle") == "weights/mixture"
