"""Exceptions raised by :mod:`nnscratch.data`.

They live in one small module so that every other module can raise them without import cycles.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["IDXError", "ChecksumError", "SourceError", "DataUnavailableError"]


class IDXError(ValueError):
    """An IDX file is malformed: bad header, wrong shape, truncated, or inconsistent with its partner file.

    The message always names the file and states what was expected and what was found.
    """


class ChecksumError(ValueError):
    """A file's SHA-256 does not match the registered value; the file is refused."""


class SourceError(OSError):
    """One source could not provide the files (missing files, tool absent, network failure, ...)."""


class DataUnavailableError(RuntimeError):
    """No source could provide verified files.

    Parameters
    ----------
    dataset : str
        Name of the data set that was requested.
    failures : sequence of (str, str)
        ``(source description, reason)`` for every source tried, in the order tried.
    hint : str
        What the user can do about it (install a package, set a directory, ...).
    """

    def __init__(self, dataset: str, failures: Sequence[tuple[str, str]], hint: str = "") -> None:
        self.dataset = dataset
        self.failures = list(failures)
        self.hint = hint
        super().__init__(self._message())

    def __reduce__(self):  # keep the exception picklable (e.g. across joblib worker processes)
        return (type(self), (self.dataset, self.failures, self.hint))

    def _message(self) -> str:
        lines = [f"could not obtain verified files for data set {self.dataset!r}; sources tried in order:"]
        if not self.failures:
            lines.append("  (no sources configured)")
        for number, (source, reason) in enumerate(self.failures, start=1):
            lines.append(f"  {number}. {source}: {reason}")
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)
