"""IDX reader: good files (raw and gzipped) round-trip; every malformed header or body raises IDXError."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from nnscratch.data.errors import IDXError
from nnscratch.data.idx import check_same_count, encode_idx, is_gzip, parse_idx, read_idx

IMAGES = np.arange(3 * 28 * 28, dtype=np.uint32).reshape(3, 28, 28).astype(np.uint8)
LABELS = np.array([7, 0, 9], dtype=np.uint8)
IMAGE_EXPECT = {"dtype_code": 0x08, "ndim": 3, "item_shape": (28, 28)}


@pytest.fixture(params=["raw", "gz"])
def write(request, tmp_path):
    """Write IDX bytes to a file named without any .gz suffix, gzipped or not: detection must use magic bytes."""

    def _write(content: bytes, name: str = "crafted-idx3-ubyte"):
        path = tmp_path / name
        path.write_bytes(gzip.compress(content) if request.param == "gz" else content)
        return path

    return _write


def test_idx_error_is_a_value_error():
    assert issubclass(IDXError, ValueError)


def test_good_images_and_labels_round_trip(write):
    images = read_idx(write(encode_idx(IMAGES)), **IMAGE_EXPECT)
    labels = read_idx(write(encode_idx(LABELS), "labels"), dtype_code=0x08, ndim=1)
    assert images.dtype == np.uint8 and images.shape == (3, 28, 28)
    np.testing.assert_array_equal(images, IMAGES)
    np.testing.assert_array_equal(labels, LABELS)


def test_gzip_detected_by_magic_not_by_name(tmp_path):
    misnamed = tmp_path / "labels.gz"  # claims gzip, is raw
    misnamed.write_bytes(encode_idx(LABELS))
    hidden = tmp_path / "labels-raw"  # claims raw, is gzip
    hidden.write_bytes(gzip.compress(encode_idx(LABELS)))
    assert is_gzip(hidden.read_bytes()) and not is_gzip(misnamed.read_bytes())
    np.testing.assert_array_equal(read_idx(misnamed), LABELS)
    np.testing.assert_array_equal(read_idx(hidden), LABELS)


@pytest.mark.parametrize("dtype", ["int8", ">i2", ">i4", ">f4", ">f8"])
def test_multi_byte_types_are_big_endian_and_returned_native(dtype):
    values = np.array([[1, -2], [300, 4]]).astype(dtype) if dtype != "int8" else np.array([[1, -2], [3, 4]], "i1")
    parsed = parse_idx(encode_idx(values))
    assert parsed.dtype.isnative
    np.testing.assert_array_equal(parsed, values)


def test_wrong_magic(write):
    content = b"\x12\x34" + encode_idx(IMAGES)[2:]
    path = write(content)
    with pytest.raises(IDXError, match=r"wrong magic number: expected 0x0000 .* found 0x12340803") as info:
        read_idx(path, **IMAGE_EXPECT)
    assert str(path) in str(info.value)


def test_unexpected_dtype_code(write):
    floats = encode_idx(IMAGES.astype(">f4"))
    with pytest.raises(IDXError, match=r"wrong dtype code: expected 0x08 \(unsigned byte\), found 0x0D \(float\)"):
        read_idx(write(floats), **IMAGE_EXPECT)


def test_unknown_dtype_code(write):
    content = bytearray(encode_idx(IMAGES))
    content[2] = 0x07
    with pytest.raises(IDXError, match=r"unknown code 0x07"):
        read_idx(write(bytes(content)))


def test_wrong_number_of_dimensions(write):
    path = write(encode_idx(IMAGES.reshape(3, 784)))
    with pytest.raises(IDXError, match=r"wrong number of dimensions: expected 3, found 2 \(3, 784\)") as info:
        read_idx(path, **IMAGE_EXPECT)
    assert str(path) in str(info.value)


def test_labels_file_given_as_images(write):
    with pytest.raises(IDXError, match="expected 3, found 1"):
        read_idx(write(encode_idx(LABELS)), **IMAGE_EXPECT)


def test_wrong_item_shape(write):
    with pytest.raises(IDXError, match=r"wrong item shape: expected \(28, 28\), found \(14, 56\)"):
        read_idx(write(encode_idx(IMAGES.reshape(3, 14, 56))), **IMAGE_EXPECT)


@pytest.mark.parametrize("keep", [0, 3, 7])
def test_truncated_header(write, keep):
    with pytest.raises(IDXError, match="truncated header"):
        read_idx(write(encode_idx(IMAGES)[:keep]))


def test_truncated_data(write):
    content = encode_idx(IMAGES)
    path = write(content[:-100])
    with pytest.raises(IDXError, match=r"truncated data: expected 2352 bytes for shape \(3, 28, 28\), found 2252"):
        read_idx(path)


def test_trailing_bytes(write):
    with pytest.raises(IDXError, match=r"size mismatch: expected 3 data bytes .* found 5 \(2 trailing bytes\)"):
        read_idx(write(encode_idx(LABELS) + b"\x00\x00"))


@pytest.mark.parametrize("cut", [10, 30])
def test_truncated_gzip_stream(tmp_path, cut):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(encode_idx(IMAGES))[:cut])
    with pytest.raises(IDXError, match="corrupt or truncated gzip stream") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_count_mismatch_between_images_and_labels(write):
    images = read_idx(write(encode_idx(IMAGES), "images"), **IMAGE_EXPECT)
    labels = read_idx(write(encode_idx(LABELS[:2]), "labels"), ndim=1)
    with pytest.raises(IDXError, match=r"count mismatch: images has 3 images but labels has 2 labels"):
        check_same_count(images, labels, images_source="images", labels_source="labels")
    check_same_count(images, LABELS, images_source="images", labels_source="labels")  # equal counts pass


def test_encode_refuses_unsupported_dtype():
    with pytest.raises(ValueError, match="cannot encode dtype uint16"):
        encode_idx(np.zeros(3, np.uint16))
