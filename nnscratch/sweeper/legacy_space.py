"""The deprecated ``hydra.sweeper.search_space`` form (``name: {type, low, high, log, step, choices}``).

The official plugin deprecated it in 1.2 in favour of ``hydra.sweeper.params`` (override syntax) and
warns when it is used; so do we, with its text. :func:`as_override` turns such a mapping into the
override syntax ``params`` expects, for the error shown when a mapping is written under ``params``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from .errors import SweepConfigError

UPGRADE_URL = "https://hydra.cc/docs/upgrades/1.1_to_1.2/changes_to_sweeper_config/"
DEPRECATED = ("`hydra.sweeper.search_space` is deprecated and will be removed in the next major release.\n"
              f"Please configure with `hydra.sweeper.params`.\n{UPGRADE_URL}\n")
BOTH_CONFIGURED = ("Both hydra.sweeper.params and hydra.sweeper.search_space are configured."
                   f"\nHydra will use hydra.sweeper.params for defining search space.\n{UPGRADE_URL}")


def warn_deprecated(both: bool) -> None:
    """The official plugin's warning: ``search_space`` used alone (deprecated), or next to ``params``."""
    import warnings

    if both:
        warnings.warn(BOTH_CONFIGURED, stacklevel=2)
        return
    from hydra._internal.deprecation_warning import deprecation_warning

    deprecation_warning(message=DEPRECATED, stacklevel=2)


def kind_of(spec: Mapping[str, Any]) -> str:
    """``int``, ``float`` or ``categorical`` from ``type`` (a string or ``DistributionType`` member)."""
    kind = spec.get("type", "")
    return str(getattr(kind, "name", kind)).split(".")[-1]


def legacy_distribution(name: str, spec: Mapping[str, Any]) -> BaseDistribution:
    """The Optuna distribution of one ``search_space`` entry, as the official 1.2 plugin builds it.

    Raises
    ------
    SweepConfigError
        Naming ``hydra.sweeper.search_space.<name>`` and the allowed fields.
    """
    kind = kind_of(spec)
    low, high, log, step = spec.get("low"), spec.get("high"), bool(spec.get("log", False)), spec.get("step")
    try:
        if kind == "categorical":
            return CategoricalDistribution(list(spec["choices"]))
        if kind == "int":
            return IntDistribution(int(low), int(high), log=log, step=1 if log else int(step or 1))
        if kind == "float":
            return FloatDistribution(float(low), float(high), log=log,
                                     step=None if log or step is None else float(step))
    except (KeyError, TypeError, ValueError) as error:
        raise SweepConfigError(f"hydra.sweeper.search_space.{name}: {error!s} in {dict(spec)!r}; expected "
                               "{type: int|float, low, high, log?, step?} or {type: categorical, choices}") from None
    raise SweepConfigError(f"hydra.sweeper.search_space.{name} needs type int, float or categorical, "
                           f"got {dict(spec)!r}")


def as_override(spec: Mapping[str, Any]) -> str:
    """Override syntax for a ``search_space``-style mapping (``tag(log, interval(1e-4, 0.1))``)."""
    kind = kind_of(spec)
    if kind == "categorical":
        return "choice(" + ", ".join(str(c) for c in spec.get("choices") or []) + ")"
    low, high, step = spec.get("low", "LOW"), spec.get("high", "HIGH"), spec.get("step")
    if spec.get("log"):
        inner = f"interval({low}, {high})"
        return f"tag(log, int({inner}))" if kind == "int" else f"tag(log, {inner})"
    if step is not None:
        return f"range({low}, {high}, {step})"
    return f"int(interval({low}, {high}))" if kind == "int" else f"interval({low}, {high})"
