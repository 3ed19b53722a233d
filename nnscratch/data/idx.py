"""Reader for the IDX format used by MNIST and Fashion-MNIST, raw or gzip-compressed.

An IDX file is a 4-byte magic number ``0x00 0x00 <dtype code> <ndim>``, then ``ndim`` big-endian
uint32 dimension sizes, then the data in C order (big-endian for multi-byte types).
Gzip is detected by its magic bytes ``1f 8b``, never by the file name.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import IDXError

__all__ = ["IDX_DTYPES", "GZIP_MAGIC", "is_gzip", "decompress", "read_bytes", "parse_idx", "read_idx",
           "check_same_count", "encode_idx"]

#: IDX type code -> (numpy dtype, human-readable name).
IDX_DTYPES: dict[int, tuple[np.dtype, str]] = {
    0x08: (np.dtype(np.uint8), "unsigned byte"),
    0x09: (np.dtype(np.int8), "signed byte"),
    0x0B: (np.dtype(">i2"), "short"),
    0x0C: (np.dtype(">i4"), "int"),
    0x0D: (np.dtype(">f4"), "float"),
    0x0E: (np.dtype(">f8"), "double"),
}
GZIP_MAGIC = b"\x1f\x8b"


def _code_name(code: int) -> str:
    return f"0x{code:02X} ({IDX_DTYPES[code][1] if code in IDX_DTYPES else 'unknown'})"


def is_gzip(data: bytes) -> bool:
    """Whether ``data`` starts with the gzip magic bytes ``1f 8b``."""
    return data[:2] == GZIP_MAGIC


def decompress(data: bytes, *, source: str | os.PathLike) -> bytes:
    """Gunzip ``data`` (from ``source``, named in errors); raise :class:`IDXError` on a corrupt stream."""
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise IDXError(f"{source}: corrupt or truncated gzip stream ({exc})") from exc


def read_bytes(path: str | os.PathLike) -> bytes:
    """Return the uncompressed content of ``path``, gunzipping it when it starts with the gzip magic."""
    data = Path(path).read_bytes()
    return decompress(data, source=path) if is_gzip(data) else data


def _parse_header(data: bytes, source: str | os.PathLike) -> tuple[int, tuple[int, ...], int]:
    """Return ``(dtype code, dims, header length)``; validate the magic number and header length."""
    if len(data) < 4:
        raise IDXError(f"{source}: truncated header: expected at least 4 bytes of magic number, found {len(data)}")
    if data[0] != 0 or data[1] != 0:
        raise IDXError(f"{source}: wrong magic number: expected 0x0000 as the first two bytes, "
                       f"found 0x{data[:4].hex().upper()} (not an IDX file?)")
    code, ndim = data[2], data[3]
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise IDXError(f"{source}: truncated header: expected {header_len} bytes for {ndim} dimensions, "
                       f"found {len(data)}")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    return code, dims, header_len


def _check_expectations(source: str | os.PathLike, code: int, dims: tuple[int, ...], *,
                        dtype_code: int | None, ndim: int | None, item_shape: Sequence[int] | None) -> None:
    if code not in IDX_DTYPES:
        raise IDXError(f"{source}: wrong dtype code: found unknown code {_code_name(code)}, "
                       f"expected one of {', '.join(_code_name(c) for c in IDX_DTYPES)}")
    if dtype_code is not None and code != dtype_code:
        raise IDXError(f"{source}: wrong dtype code: expected {_code_name(dtype_code)}, found {_code_name(code)}")
    if ndim is not None and len(dims) != ndim:
        raise IDXError(f"{source}: wrong number of dimensions: expected {ndim}, found {len(dims)} {dims}")
    if item_shape is not None and tuple(dims[1:]) != tuple(item_shape):
        raise IDXError(f"{source}: wrong item shape: expected {tuple(item_shape)}, found {tuple(dims[1:])}")


def parse_idx(data: bytes, *, source: str | os.PathLike = "<bytes>", dtype_code: int | None = None,
              ndim: int | None = None, item_shape: Sequence[int] | None = None) -> np.ndarray:
    """Parse uncompressed IDX bytes into an array.

    Parameters
    ----------
    data : bytes
        The whole (uncompressed) file content.
    source : str or path
        Named in error messages.
    dtype_code : int, optional
        Required IDX type code (``0x08`` for unsigned bytes); any known code if None.
    ndim : int, optional
        Required number of dimensions (3 for images, 1 for labels).
    item_shape : sequence of int, optional
        Required shape of one item, i.e. ``dims[1:]`` (``(28, 28)`` for MNIST images).

    Returns
    -------
    ndarray, shape dims (e.g. ``(n, 28, 28)`` images or ``(n,)`` labels)
        Native-endian, read-only view or copy of the data.

    Raises
    ------
    IDXError
        Wrong magic, unknown/unexpected dtype code, wrong number of dimensions or item shape,
        truncated header or data, or trailing bytes.
    """
    code, dims, header_len = _parse_header(data, source)
    _check_expectations(source, code, dims, dtype_code=dtype_code, ndim=ndim, item_shape=item_shape)
    dtype = IDX_DTYPES[code][0]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header_len
    if found < expected:
        raise IDXError(f"{source}: truncated data: expected {expected} bytes for shape {dims}, found {found}")
    if found > expected:
        raise IDXError(f"{source}: size mismatch: expected {expected} data bytes for shape {dims}, "
                       f"found {found} ({found - expected} trailing bytes)")
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(dims)
    return array if dtype.isnative or dtype.itemsize == 1 else array.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike, **expect) -> np.ndarray:
    """Read an IDX file, raw or gzipped; ``expect`` takes ``dtype_code``, ``ndim``, ``item_shape``.

    Returns
    -------
    ndarray, shape given by the header; see :func:`parse_idx`.
    """
    return parse_idx(read_bytes(path), source=path, **expect)


def encode_idx(array: np.ndarray) -> bytes:
    """Encode ``array`` (any shape, a dtype listed in :data:`IDX_DTYPES`) as uncompressed IDX bytes."""
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, (dtype, _) in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"cannot encode dtype {array.dtype} as IDX; expected one of {sorted(map(str, codes))}")
    big_endian = array.astype(IDX_DTYPES[code][0], copy=False)
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(big_endian).tobytes()


def check_same_count(images: np.ndarray, labels: np.ndarray, *, images_source: str | os.PathLike,
                     labels_source: str | os.PathLike) -> None:
    """Raise :class:`IDXError` unless ``images`` (n, ...) and ``labels`` (n,) hold the same number of items."""
    if len(images) != len(labels):
        raise IDXError(f"count mismatch: {images_source} has {len(images)} images but {labels_source} has "
                       f"{len(labels)} labels (expected equal counts)")
