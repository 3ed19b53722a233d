"""Data sets for nnscratch: IDX reading, SHA-256-verified fetching from several sources, and an ``.npy`` cache.

Imports only NumPy and the standard library.

>>> from nnscratch.data import load_dataset            # doctest: +SKIP
>>> ds = load_dataset("mnist")                          # doctest: +SKIP
>>> ds.X_train.shape, ds.X_train.dtype, ds.y_train.dtype  # doctest: +SKIP
((60000, 784), dtype('float32'), dtype('int64'))

Modules: :mod:`.idx` (file format), :mod:`.registry` (files, hashes, classes), :mod:`.checksums` (verification),
:mod:`.sources` (where files come from), :mod:`.cache` (on-disk cache), :mod:`.fetch` (cache or first good
source), :mod:`.datasets` (the public :class:`Dataset`), ``python -m nnscratch.data`` (prefetch / info CLI).
"""

from .cache import CachedArrays, resolve_cache_dir
from .datasets import Dataset, load_dataset
from .errors import ChecksumError, DataUnavailableError, IDXError, SourceError
from .fetch import fetch_dataset
from .idx import read_idx
from .registry import DATASET_NAMES

__all__ = ["Dataset", "load_dataset", "fetch_dataset", "CachedArrays", "read_idx", "resolve_cache_dir",
           "DATASET_NAMES", "IDXError", "ChecksumError", "SourceError", "DataUnavailableError"]
