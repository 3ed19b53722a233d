"""load_dataset / Dataset on a tiny crafted data set: scaling, dtypes, binary relabelling, validation, digest."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from nnscratch.data import Dataset, load_dataset, registry
from nnscratch.data.datasets import dataset_digest, scale_images
from nnscratch.data.testing import fake_arrays, write_fake_dataset


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """Register tiny fake 'mnist' and 'fashion_mnist' (gz) data sets; returns kwargs for load_dataset."""
    monkeypatch.delenv("NNSCRATCH_DATA_DIR", raising=False)
    mnist = write_fake_dataset(tmp_path / "data" / "mnist")
    fashion = write_fake_dataset(tmp_path / "data" / "fashion_mnist", name="fashion_mnist", gz=True,
                                 gz_reference=True, seed=1)
    monkeypatch.setattr(registry, "SPECS", {"mnist": mnist, "fashion_mnist": fashion})
    return {"data_dir": tmp_path / "data", "cache_dir": tmp_path / "cache", "sources": ["local"]}


def test_mnist_rows_scaled_to_unit_interval(tiny):
    ds = load_dataset("mnist", **tiny)
    raw = fake_arrays()
    assert ds.X_train.shape == (60, 784) and ds.X_test.shape == (20, 784)
    assert ds.X_train.dtype == np.float32 and ds.y_train.dtype == np.int64 and ds.y_test.dtype == np.int64
    np.testing.assert_array_equal(ds.X_train, raw["train_images"].reshape(60, 784).astype(np.float32) / 255)
    np.testing.assert_array_equal(ds.y_test, raw["test_labels"])
    assert ds.X_train.min() >= 0.0 and ds.X_train.max() <= 1.0
    assert ds.class_names == [str(d) for d in range(10)] and ds.n_classes == 10
    assert ds.n_features == 784 and ds.image_shape == (28, 28)
    assert ds.sha256 == registry.SPECS["mnist"].references
    assert ds.digest == dataset_digest({role: hashlib.sha256(raw[role].tobytes()).hexdigest() for role in raw})
    assert ds.source == f"local directory {tiny['data_dir']}"


def test_float64_selectable_and_bad_dtypes_refused(tiny):
    assert load_dataset("mnist", dtype="float64", **tiny).X_test.dtype == np.float64
    assert load_dataset("mnist", dtype=np.float32, **tiny).X_test.dtype == np.float32
    for bad in ["float16", "int8", None, "nonsense"]:
        with pytest.raises(ValueError, match=r"unsupported dtype .*expected one of \['float32', 'float64'\]"):
            load_dataset("mnist", dtype=bad, **tiny)


def test_fashion_class_names(tiny):
    ds = load_dataset("fashion_mnist", **tiny)
    assert ds.class_names == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                              "Bag", "Ankle boot"]
    assert all(name.endswith(".gz") for name in ds.sha256)
    np.testing.assert_array_equal(ds.X_test * 255, fake_arrays(seed=1)["test_images"].reshape(20, 784))


def test_binary_mnist_keeps_two_digits_first_becomes_zero(tiny):
    raw = fake_arrays()
    default = load_dataset("binary_mnist", **tiny)
    assert default.class_names == ["0", "1"] and default.n_classes == 2
    np.testing.assert_array_equal(default.y_train, raw["train_labels"][raw["train_labels"] < 2])
    swapped = load_dataset("binary_mnist", digits=(7, 3), **tiny)
    keep = np.isin(raw["train_labels"], [7, 3])
    np.testing.assert_array_equal(swapped.y_train, (raw["train_labels"][keep] == 3).astype(np.int64))
    np.testing.assert_array_equal(swapped.X_train * 255, raw["train_images"][keep].reshape(-1, 784))
    assert swapped.class_names == ["7", "3"] and swapped.y_train.dtype == np.int64
    assert len({default.digest, swapped.digest, load_dataset("mnist", **tiny).digest}) == 3


@pytest.mark.parametrize("digits", [(1, 1), (0, 10), (-1, 2), (1,), (1, 2, 3), ("0", "1"), (0.0, 1.0), (True, False)])
def test_bad_digits_refused(tiny, digits):
    with pytest.raises(ValueError, match=r"digits must be two different integers in 0\.\.9"):
        load_dataset("binary_mnist", digits=digits, **tiny)


def test_unknown_name_lists_allowed_values(tiny):
    with pytest.raises(ValueError, match=r"unknown data set 'emnist'; expected one of "
                                         r"\['mnist', 'fashion_mnist', 'binary_mnist'\]"):
        load_dataset("emnist", **tiny)


def test_dataset_is_frozen_with_a_short_repr(tiny):
    ds = load_dataset("mnist", **tiny)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.X_train = None
    assert len(repr(ds)) < 300 and "train=(60, 784)" in repr(ds)
    assert isinstance(ds, Dataset)


def test_scale_images_exact():
    images = np.array([[[0, 255], [51, 1]]], dtype=np.uint8)
    np.testing.assert_array_equal(scale_images(images), np.array([[0, 1, 0.2, 1 / 255]], dtype=np.float32))
    assert scale_images(images, "float64").dtype == np.float64


def test_corrupted_cache_is_rebuilt_from_its_raw_copies_and_the_digest_is_of_the_data_used(tiny, caplog):
    good = load_dataset("mnist", **tiny)
    labels = tiny["cache_dir"] / "mnist" / "train_labels.npy"
    data = bytearray(labels.read_bytes())
    data[-10:] = bytes(10)  # relabel ten digits as 0, same size
    labels.write_bytes(bytes(data))
    for source in (tiny["data_dir"] / "mnist").iterdir():
        source.unlink()  # the original files are gone: only the cache's verified raw copies remain
    with caplog.at_level("WARNING"):
        again = load_dataset("mnist", **tiny)
    assert "train_labels.npy was changed after it was cached" in caplog.text
    np.testing.assert_array_equal(again.y_train, fake_arrays()["train_labels"])
    assert again.digest == good.digest and again.source == good.source
