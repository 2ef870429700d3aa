"""Noise as the seed recipe defines it, and PSNR/SSIM on arrays with known answers."""

import numpy as np
import tensorflow as tf

from denoiser import metrics, noise


def test_sigma_zero_returns_the_input_unchanged(mnist):
    clean = mnist.x_test[:10]
    np.testing.assert_array_equal(noise.add_noise(clean, 0.0, seed=3), clean)


def test_same_seed_same_noise_other_seed_other_noise(mnist):
    clean = mnist.x_test[:10]
    a = noise.add_noise(clean, 0.5, seed=7)
    np.testing.assert_array_equal(a, noise.add_noise(clean, 0.5, seed=7))
    assert not np.array_equal(a, noise.add_noise(clean, 0.5, seed=8))


def test_noise_is_clipped_gaussian_with_the_requested_sigma():
    grey = np.full((200, 28, 28), 0.5, np.float32)
    noisy = noise.add_noise(grey, 0.1, seed=0)
    residual = noisy - grey
    assert abs(residual.mean()) < 1e-3
    assert abs(residual.std() - 0.1) < 2e-3  # 0.5 ± 0.1 is almost never clipped
    black = noise.add_noise(np.zeros((50, 28, 28), np.float32), 0.5, seed=0)
    assert black.min() == 0.0 and black.max() <= 1.0
    assert 0.45 < (black == 0).mean() < 0.55  # half the draws are negative and clip to 0


def test_tf_noise_uses_one_sigma_per_image():
    clean = tf.fill([2, 28, 28, 1], 0.5)
    noisy = noise.tf_add_noise(clean, tf.constant([0.0, 0.2])).numpy()
    assert np.all(noisy[0] == 0.5)
    assert abs((noisy[1] - 0.5).std() - 0.2) < 0.03


def test_psnr_of_a_known_error():
    reference = np.zeros((1, 28, 28), np.float32)
    noisy = reference + 0.1  # MSE 0.01 → 20 dB
    np.testing.assert_allclose(metrics.psnr(noisy, reference), [20.0], atol=1e-3)
    assert np.isinf(metrics.psnr(reference, reference)[0])


def test_ssim_is_one_for_identical_and_lower_for_noisy(mnist):
    clean = mnist.x_test[:5]
    np.testing.assert_allclose(metrics.ssim(clean, clean), 1.0, atol=1e-5)
    assert np.all(metrics.ssim(noise.add_noise(clean, 0.5), clean) < 0.7)
    assert metrics.mean_ssim(noise.add_noise(clean, 0.5), clean) < metrics.mean_ssim(
        noise.add_noise(clean, 0.1), clean
    )
    assert metrics.mean_ssim(clean[0], clean[0]) > 0.999  # a single (28, 28) image is accepted
