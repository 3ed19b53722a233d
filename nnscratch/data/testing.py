"""Tiny synthetic data sets in the real on-disk format, for tests that must not depend on the real files.

>>> spec = write_fake_dataset(tmp_path, name="mnist")            # doctest: +SKIP
>>> monkeypatch.setattr(nnscratch.data.registry, "SPECS", {"mnist": spec})   # doctest: +SKIP
>>> load_dataset("mnist", data_dir=tmp_path, cache_dir=tmp_path / "cache")  # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from .checksums import sha256_bytes
from .idx import encode_idx
from .registry import ROLES, DatasetSpec, FileSpec, get_spec

__all__ = ["fake_arrays", "write_fake_dataset"]

_FILENAMES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
              "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}


def fake_arrays(n_train: int = 60, n_test: int = 20, n_classes: int = 10, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Random uint8 images ``(n, 28, 28)`` and labels ``(n,)`` cycling through every class, by role."""
    rng = np.random.default_rng(seed)
    sizes = {"train": n_train, "test": n_test}
    arrays = {}
    for split, n in sizes.items():
        arrays[f"{split}_images"] = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = (np.arange(n) % n_classes).astype(np.uint8)
    return arrays


def write_fake_dataset(directory: str | os.PathLike, *, name: str = "mnist", n_train: int = 60, n_test: int = 20,
                       seed: int = 0, gz: bool = False, gz_reference: bool = False) -> DatasetSpec:
    """Write four IDX files into ``directory`` and return a :class:`DatasetSpec` registering their hashes.

    Parameters
    ----------
    directory : path
        Created if needed; receives ``train-images-idx3-ubyte`` etc. (``.gz`` added when ``gz``).
    name : str
        Name of the real spec to imitate (class names, hint) and of the returned spec.
    gz : bool
        Write gzipped files.
    gz_reference : bool
        Register the hashes of the ``.gz`` files as reference (like Fashion-MNIST); needs ``gz``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    template = get_spec(name)
    arrays = fake_arrays(n_train, n_test, len(template.class_names), seed=seed)
    files = []
    for role in ROLES:
        content = encode_idx(arrays[role])
        data = gzip.compress(content, mtime=0) if gz else content
        (directory / (_FILENAMES[role] + (".gz" if gz else ""))).write_bytes(data)
        gz_hash = sha256_bytes(data) if gz and gz_reference else None
        files.append(FileSpec(role, _FILENAMES[role], sha256_bytes(content), gz_hash, arrays[role].shape))
    return DatasetSpec(name=template.name, files=tuple(files), class_names=template.class_names, hint=template.hint)
