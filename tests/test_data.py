"""MNIST loading on the real files, and the clear errors for broken ones."""

import gzip
import shutil

import numpy as np
import pytest

from denoiser import data


def test_real_files_have_the_canonical_shapes_and_ten_classes(mnist):
    assert mnist.x_train.shape == (60000, 28, 28)
    assert mnist.x_test.shape == (10000, 28, 28)
    assert mnist.x_train.dtype == np.float32
    assert 0.0 == mnist.x_train.min() and mnist.x_train.max() == 1.0
    assert len(mnist.y_train) == 60000 and len(mnist.y_test) == 10000
    assert set(np.unique(mnist.y_train)) == set(range(10))
    assert set(np.unique(mnist.y_test)) == set(range(10))
    # The canonical class counts of the test set.
    assert np.bincount(mnist.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _copy_dir(src, dst):
    for name in data.MNIST_FILES.values():
        shutil.copy(src / name, dst / name)
    return dst


def test_truncated_file_names_itself_in_a_value_error(mnist_path, tmp_path):
    folder = _copy_dir(mnist_path, tmp_path)
    target = folder / "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress(target.read_bytes())
    target.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz.*header says"):
        data.load_idx_dir(folder)


def test_cut_gzip_stream_is_a_value_error(mnist_path, tmp_path):
    folder = _copy_dir(mnist_path, tmp_path)
    target = folder / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz"):
        data.load_idx_dir(folder)


def test_wrong_magic_is_a_value_error(mnist_path, tmp_path):
    folder = _copy_dir(mnist_path, tmp_path)
    # Labels where images belong: a valid idx file, but the wrong kind.
    shutil.copy(folder / "t10k-labels-idx1-ubyte.gz", folder / "t10k-images-idx3-ubyte.gz")
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz: wrong magic number 2049"):
        data.load_idx_dir(folder)


def test_missing_directory_says_how_to_point_mnist_dir(tmp_path):
    with pytest.raises(data.DataUnavailable, match="MNIST_DIR"):
        data.load_mnist(tmp_path)


def test_offline_keras_fallback_explains_mnist_dir(monkeypatch, tmp_path):
    import keras

    def offline():
        raise OSError("network unreachable")

    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(data.DataUnavailable, match="set MNIST_DIR"):
        data.load_mnist()


def test_bundled_sample_is_real_test_digits_of_every_class(mnist):
    images, labels = data.load_sample()
    assert images.shape == (500, 28, 28) and images.dtype == np.float32
    assert np.bincount(labels).tolist() == [50] * 10
    with np.load(data.SAMPLE_PATH) as sample:
        indices = sample["test_indices"]
    np.testing.assert_allclose(images, mnist.x_test[indices], atol=1e-6)
    np.testing.assert_array_equal(labels, mnist.y_test[indices])
    assert data.SAMPLE_PATH.stat().st_size < 1_000_000


def test_checksum_tells_datasets_apart(mnist):
    assert mnist.checksum == data.checksum(mnist.x_train, mnist.y_train)
    assert data.checksum(mnist.x_train[:100], mnist.y_train[:100]) != mnist.checksum


def test_idx_files_written_from_arrays_read_back_as_the_real_files(mnist_path, tmp_path):
    # The image's build step writes Keras's download in the idx format when no files are given.
    real = data.load_idx_dir(mnist_path)
    for key, name in data.MNIST_FILES.items():
        magic = data.IMAGE_MAGIC if key.endswith("images") else data.LABEL_MAGIC
        data.write_idx(tmp_path / name, data.read_idx(mnist_path / name, magic))
    written = data.load_idx_dir(tmp_path)
    assert written.checksum == real.checksum
    assert np.array_equal(written.x_test, real.x_test) and np.array_equal(written.y_test, real.y_test)
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_fetch_mnist_keeps_the_given_files_and_downloads_into_an_empty_folder(
    mnist_path, tmp_path, monkeypatch
):
    given = tmp_path / "given"
    shutil.copytree(mnist_path, given)
    assert data.ensure_idx_dir(given) == f"MNIST in {given}: the given idx files (60000 training digits)"
    import keras

    sample, labels = data.load_sample()
    digits = np.round(sample * 255).astype(np.uint8)
    monkeypatch.setattr(
        keras.datasets.mnist, "load_data", lambda: ((digits, labels), (digits[:10], labels[:10]))
    )
    empty = tmp_path / "empty"
    assert "downloaded through Keras (500 training digits)" in data.ensure_idx_dir(empty)
    assert np.array_equal(data.load_idx_dir(empty).y_test, labels[:10])
