"""Obtain a data set: the warm cache if valid, else the first source whose files all pass SHA-256 verification."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from .cache import CachedArrays, DatasetCache, resolve_cache_dir
from .checksums import VerifiedFile, verify_file
from .errors import ChecksumError, DataUnavailableError, IDXError, SourceError
from .registry import ROLES, DatasetSpec, get_spec
from .sources import LocalDirSource, Source, default_sources, resolve_sources

__all__ = ["fetch_verified", "fetch_dataset"]

logger = logging.getLogger(__name__)


def fetch_verified(spec: DatasetSpec, sources: Sequence[Source], *, workdir_parent: str | os.PathLike | None = None
                   ) -> tuple[dict[str, VerifiedFile], str]:
    """Try ``sources`` in order; return the verified files of the first that succeeds and its description.

    Parameters
    ----------
    spec : DatasetSpec
        The data set and its registered hashes.
    sources : sequence of Source
        Tried in this order.
    workdir_parent : path, optional
        Where scratch directories for downloads are created (default: the system temp dir).

    Returns
    -------
    files : dict
        ``{role: VerifiedFile}`` for the four roles.
    source : str
        Description of the source that provided them.

    Raises
    ------
    DataUnavailableError
        Every source failed; the message lists each source and why (missing, tool absent, SHA-256 mismatch, ...).
    """
    failures: list[tuple[str, str]] = []
    for source in sources:
        label = source.describe(spec)
        try:
            files = _fetch_one(spec, source, workdir_parent)
        except (SourceError, ChecksumError, IDXError, OSError) as exc:
            # a corrupt file deserves a warning; an absent source is routine while falling back
            level = logging.WARNING if isinstance(exc, (ChecksumError, IDXError)) else logging.INFO
            logger.log(level, "data source %s failed for %s: %s", label, spec.name, exc)
            failures.append((label, str(exc)))
            continue
        logger.info("obtained verified %s files from %s", spec.name, label)
        return files, label
    raise DataUnavailableError(spec.name, failures, spec.hint)


def _fetch_one(spec: DatasetSpec, source: Source, workdir_parent) -> dict[str, VerifiedFile]:
    with tempfile.TemporaryDirectory(prefix=".nnscratch-fetch-", dir=workdir_parent) as workdir:
        paths = source.fetch(spec, Path(workdir))
        return {role: verify_file(paths[role], spec.file(role)) for role in ROLES}


def fetch_dataset(name: str, *, data_dir: str | os.PathLike | None = None,
                  cache_dir: str | os.PathLike | None = None, sources: Iterable[str | Source] | None = None,
                  force: bool = False) -> CachedArrays:
    """Return the cached uint8 arrays of data set ``name``, fetching, verifying and caching them if needed.

    Parameters
    ----------
    name : str
        ``"mnist"``, ``"fashion_mnist"`` or ``"binary_mnist"`` (stored as ``"mnist"``).
    data_dir : path, optional
        Local directory tried first (default ``$NNSCRATCH_DATA_DIR``).
    cache_dir : path, optional
        Cache root (see :func:`~nnscratch.data.cache.resolve_cache_dir`).
    sources : iterable of str or Source, optional
        Source names from ``("local", "system", "npm", "https")`` or objects, in the order to try; default all
        that apply, in that order.
    force : bool
        Ignore a warm cache (and its raw copies) and fetch again.

    Returns
    -------
    CachedArrays
        Memory-mapped uint8 images ``(n, 28, 28)`` and labels ``(n,)``.
    """
    spec = get_spec(name)
    root = resolve_cache_dir(cache_dir)
    cache = DatasetCache(root, spec)
    if not force and (cached := cache.load()) is not None:
        logger.debug("warm cache hit for %s in %s", spec.name, cache.directory)
        return cached
    chain = default_sources(spec, data_dir) if sources is None else resolve_sources(sources, spec, data_dir)
    raw = LocalDirSource(cache.raw_directory, kind="cache's raw")
    if not force and cache.raw_directory.is_dir():  # an old or damaged cache: rebuild from its raw copies first
        chain = [raw, *chain]
    root.mkdir(parents=True, exist_ok=True)
    files, label = fetch_verified(spec, chain, workdir_parent=root)
    if label == raw.describe(spec):
        label = cache.recorded_source() or label  # the raw copies keep the provenance of the original files
    return cache.store(files, label)
