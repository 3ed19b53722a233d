"""The sweeper's configuration errors: Hydra prints them as one message, without a traceback."""
from __future__ import annotations

from hydra.errors import CompactHydraException


class SweepConfigError(CompactHydraException, ValueError):
    """A ``hydra.sweeper`` setting or search space entry that cannot work; the message names the key
    and what is allowed. Raised before the study is created or any trial runs."""


class MissingDependencyError(CompactHydraException, ImportError):
    """The chosen sampler needs a package that is not installed; the message gives the pip command."""
