"""The public :class:`Dataset` and :func:`load_dataset`: cached uint8 arrays -> flat float rows in [0, 1]."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .fetch import fetch_dataset
from .registry import get_spec
from .sources import Source

__all__ = ["Dataset", "load_dataset", "DTYPES", "scale_images", "dataset_digest", "binary_split", "check_digits"]

DTYPES = ("float32", "float64")


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A train/test split ready for an MLP.

    Attributes
    ----------
    name : str
    X_train : ndarray, shape (n_train, n_features), float32 (or float64), values in [0, 1]
    y_train : ndarray, shape (n_train,), int64 class ids in ``[0, n_classes)``
    X_test : ndarray, shape (n_test, n_features)
    y_test : ndarray, shape (n_test,), int64
    class_names : list of str, length n_classes
    image_shape : tuple of int
        ``(28, 28)``; ``n_features == prod(image_shape)``.
    sha256 : dict
        Verified ``{file name: hex SHA-256}`` of the source files the cached arrays were made from, as published.
    digest : str
        One hex SHA-256 identifying the data, for tracking: over the SHA-256 of the four uint8 arrays as
        loaded (each checked against the cache manifest on this load), and the digits for ``binary_mnist``.
    source : str
        Where the files originally came from.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    image_shape: tuple[int, ...] = (28, 28)
    sha256: dict[str, str] = field(default_factory=dict)
    digest: str = ""
    source: str = ""

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def n_features(self) -> int:
        return int(np.prod(self.image_shape))

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, train={self.X_train.shape}, test={self.X_test.shape}, "
                f"dtype={self.X_train.dtype}, n_classes={self.n_classes}, digest={self.digest[:12]}..., "
                f"source={self.source!r})")


def scale_images(images: np.ndarray, dtype: str | np.dtype = "float32") -> np.ndarray:
    """Flatten uint8 images ``(n, h, w)`` to rows ``(n, h*w)`` of ``dtype`` in [0, 1] (pixel / 255)."""
    flat = np.asarray(images).reshape(len(images), -1)
    return np.divide(flat, 255, dtype=np.dtype(dtype))


def dataset_digest(sha256: Mapping[str, str], extra: str = "") -> str:
    """SHA-256 over the ``sha256sum``-style listing of ``{name: hex digest}`` (sorted by name) plus ``extra``."""
    listing = "".join(f"{digest}  {name}\n" for name, digest in sorted(sha256.items())) + extra
    return hashlib.sha256(listing.encode()).hexdigest()


def _check_dtype(dtype: str | np.dtype) -> np.dtype:
    try:
        resolved = None if dtype is None else np.dtype(dtype)  # np.dtype(None) would silently mean float64
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in DTYPES:
        raise ValueError(f"unsupported dtype {dtype!r}; expected one of {list(DTYPES)}")
    return resolved


def _is_digit(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value <= 9


def check_digits(digits: Iterable[int]) -> tuple[int, int]:
    values = tuple(digits)
    valid = len(values) == 2 and all(_is_digit(d) for d in values)
    if not valid or values[0] == values[1]:
        raise ValueError(f"digits must be two different integers in 0..9, got {values!r}")
    return int(values[0]), int(values[1])


def binary_split(images: np.ndarray, labels: np.ndarray, digits: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Keep the two digits; relabel ``digits[0] -> 0`` and ``digits[1] -> 1``. Shapes (m, 28, 28), (m,)."""
    mask = (labels == digits[0]) | (labels == digits[1])
    return images[mask], (labels[mask] == digits[1]).astype(np.int64)


def load_dataset(name: str, *, data_dir: str | os.PathLike | None = None,
                 cache_dir: str | os.PathLike | None = None, digits: Iterable[int] = (0, 1),
                 dtype: str | np.dtype = "float32", sources: Iterable[str | Source] | None = None) -> Dataset:
    """Load ``"mnist"``, ``"fashion_mnist"`` or ``"binary_mnist"`` as flat float rows in [0, 1].

    Parameters
    ----------
    name : str
        One of :data:`~nnscratch.data.registry.DATASET_NAMES`.
    data_dir : path, optional
        A directory with the four IDX files (raw or .gz), tried first; default ``$NNSCRATCH_DATA_DIR``.
    cache_dir : path, optional
        Cache root; default ``$NNSCRATCH_CACHE_DIR``, ``$XDG_CACHE_HOME/nnscratch`` or ``~/.cache/nnscratch``.
    digits : pair of int
        For ``binary_mnist`` only: the two digits kept; the first becomes label 0, the second label 1.
    dtype : {"float32", "float64"}
        Dtype of ``X_train``/``X_test``.
    sources : iterable of str or Source, optional
        Source order override (names from ``("local", "system", "npm", "https")``).

    Returns
    -------
    Dataset
        ``X_train`` (n_train, 784), ``y_train`` (n_train,) int64, ``X_test`` (n_test, 784), ``y_test`` (n_test,).

    Raises
    ------
    ValueError
        Unknown ``name``, ``dtype`` or bad ``digits``.
    DataUnavailableError
        No source provided files matching the registered SHA-256 values.
    """
    spec = get_spec(name)
    resolved_dtype = _check_dtype(dtype)
    pair = check_digits(digits) if name == "binary_mnist" else None
    cached = fetch_dataset(name, data_dir=data_dir, cache_dir=cache_dir, sources=sources)
    splits = {"train": (cached.train_images, cached.train_labels), "test": (cached.test_images, cached.test_labels)}
    if pair is not None:
        splits = {key: binary_split(images, labels, pair) for key, (images, labels) in splits.items()}
    (train_images, train_labels), (test_images, test_labels) = splits["train"], splits["test"]
    return Dataset(
        name=name,
        X_train=scale_images(train_images, resolved_dtype), y_train=np.asarray(train_labels, dtype=np.int64),
        X_test=scale_images(test_images, resolved_dtype), y_test=np.asarray(test_labels, dtype=np.int64),
        class_names=[str(d) for d in pair] if pair else list(spec.class_names),
        image_shape=tuple(cached.train_images.shape[1:]),
        sha256=dict(cached.sha256),
        digest=dataset_digest(cached.array_sha256, f"binary_mnist digits={pair[0]},{pair[1]}\n" if pair else ""),
        source=cached.source,
    )

