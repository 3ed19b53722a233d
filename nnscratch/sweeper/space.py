"""Search spaces written in Hydra override syntax, as Optuna distributions, and back to overrides.

Every override form maps to the distribution the official plugin gives it:

===================================  ==========================================================
``x=choice(a, b)`` / ``x=a,b``       ``CategoricalDistribution`` (lists/dicts allowed as choices)
``x=range(1, 3)``                    ``IntDistribution(1, 3)``: samplers may draw 3
``x=range(1, 9, 2)``                 ``IntDistribution(1, 9, step=2)``
``x=range(0.5, 5.5, step=1)``        ``FloatDistribution(0.5, 5.5, step=1)`` (a float start, stop or step)
``x=shuffle(range(...))``            ``CategoricalDistribution`` of the range's values (sorted)
``x=interval(0, 1)``                 ``FloatDistribution(0, 1)``
``x=int(interval(1, 9))``            ``IntDistribution(1, 9)``
``x=tag(log, interval(1e-4, 1))``    ``FloatDistribution(1e-4, 1, log=True)`` (``IntDistribution`` for ints)
``x=value``                          fixed: passed to every job unchanged
===================================  ==========================================================

The grid sampler visits Hydra's expansion of a ``range`` (stop excluded: ``range(1, 3)`` is 1, 2),
the choices of a ``choice``, and ``low, low + step, ...`` below ``high`` for other discrete
distributions, as the official plugin does. A ``+`` or ``++`` prefix stays part of the Optuna
parameter name (``+w``), as upstream.

Precedence: lines are read in order (``hydra.sweeper.params`` first, then the command line) and the
last line for a key wins, so ``lr=0.01`` on the command line fixes a swept ``lr``, and a sweep on the
command line replaces the one in the config.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from .errors import SweepConfigError
from .legacy_space import as_override, legacy_distribution, warn_deprecated

PRIMITIVES = (str, int, float, bool, type(None))


@lru_cache(maxsize=1)
def _parser() -> OverridesParser:
    return OverridesParser.create()


def parse_override(line: str) -> Override:
    """One override line (``key=value``) parsed by Hydra's grammar."""
    return _parser().parse_override(line)


def encode_value(value: Any) -> str:
    """Override text that Hydra parses back to ``value`` (``None`` -> ``null``, lists -> ``[a,b]``).

    Raises
    ------
    TypeError
        For values the override grammar cannot express.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return _encode_str(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_encode_str(str(k))}:{encode_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(encode_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} ({type(value).__name__}) as a Hydra override value")


@lru_cache(maxsize=4096)
def _encode_str(text: str) -> str:
    if text and _parses_to(text, text):
        return text
    quoted = "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if not _parses_to(quoted, text):
        raise ValueError(f"cannot quote {text!r} for a Hydra override")
    return quoted


def _parses_to(text: str, expected: str) -> bool:
    try:
        value = parse_override(f"k={text}").value()
    except Exception:  # noqa: BLE001 - any parse failure means "needs quoting"
        return False
    return isinstance(value, str) and value == expected


class SearchSpaceError(SweepConfigError):
    """A search space entry Optuna cannot use; the message names the key and what is allowed."""


ALLOWED_FORMS = ("choice(a, b, ...) or a,b,...; range(start, stop[, step]) with start <= stop and step > 0; "
                 "interval(low, high) with low <= high; tag(log, interval(low, high)) with 0 < low <= high; "
                 "int(...) of an interval for integers; or a plain value")


@dataclass(frozen=True)
class SweptParam:
    """One swept key: its Optuna distribution and how a sampled value becomes an override.

    ``name`` is the key as written, prefix and package included (``+w``, ``db@pkg``): the Optuna
    parameter name and the override's key. Choices that are lists or dicts are stored in Optuna as
    their override text (``"[128,64]"``); ``decoded`` maps that text back to the Python value.
    ``grid`` holds the values a grid sampler visits when the override fixes them (choice, range).
    """

    name: str
    text: str
    distribution: BaseDistribution
    decoded: Mapping[str, Any] = field(default_factory=dict)
    grid: tuple[Any, ...] | None = None

    def value(self, stored: Any) -> Any:
        """The Python value of an Optuna-stored value (lists come back from their text)."""
        return self.decoded.get(stored, stored) if isinstance(stored, str) else stored

    def override(self, stored: Any) -> str:
        return f"{self.name}={encode_value(self.value(stored))}"

    def grid_values(self) -> list[Any]:
        """The values a grid search visits.

        Raises
        ------
        SearchSpaceError
            For continuous distributions (``interval``), which have no grid.
        """
        if self.grid is not None:
            if not self.grid:
                raise SearchSpaceError(f"{self.name}: {self.text} has no values to visit in a grid")
            return list(self.grid)
        try:
            return distribution_grid(self.distribution)
        except ValueError as error:
            raise SearchSpaceError(f"{self.name}: {self.text}: {error}; use choice(...), a,b,c or "
                                   "range(...) instead of interval(...)") from None


def distribution_grid(dist: BaseDistribution) -> list[Any]:
    """``low, low + step, ...`` below ``high`` (the official plugin's grid rule), or the choices.

    Raises
    ------
    ValueError
        For a distribution without a step.
    """
    if isinstance(dist, CategoricalDistribution):
        return list(dist.choices)
    if isinstance(dist, IntDistribution):
        return list(range(dist.low, dist.high, dist.step))
    if isinstance(dist, FloatDistribution) and dist.step is not None:
        low, step = Decimal(str(dist.low)), Decimal(str(dist.step))
        n = int((Decimal(str(dist.high)) - low) // step)
        return [float(low + i * step) for i in range(n)]
    raise ValueError("GridSampler only supports discrete distributions")


@dataclass(frozen=True)
class SearchSpace:
    """Swept parameters by Optuna name (in order) and fixed override lines by bare key."""

    params: Mapping[str, SweptParam]
    fixed: Mapping[str, str]

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        return {name: p.distribution for name, p in self.params.items()}

    def overrides(self, values: Mapping[str, Any]) -> list[str]:
        """Job overrides for the sampled ``values`` (Optuna params) plus the fixed overrides.

        Values of parameters outside the declared space (suggested by ``custom_search_space``) are
        written with :func:`encode_value`.
        """
        lines = [self.params[n].override(v) if n in self.params else f"{n}={encode_value(v)}"
                 for n, v in values.items()]
        return lines + list(self.fixed.values())

    def python_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Optuna params with list/dict choices decoded (for results files and reports)."""
        return {n: self.params[n].value(v) if n in self.params else v for n, v in values.items()}

    def grid(self) -> dict[str, list[Any]]:
        return {name: p.grid_values() for name, p in self.params.items()}

    def describe(self) -> dict[str, str]:
        """Parameter name -> the override text that declared it (for tags and study attributes)."""
        return {name: p.text for name, p in self.params.items()}

    def fixed_values(self) -> dict[str, str]:
        """Fixed keys (as written) -> their value text, without delete overrides (``~z``)."""
        parsed = (parse_override(line) for line in self.fixed.values())
        return {o.get_key_element(): o.get_value_element_as_str() for o in parsed if not o.is_delete()}

    def delete_overrides(self) -> list[str]:
        """The delete overrides (``~z``, ``~z=10``), as written."""
        return [line for line in self.fixed.values() if parse_override(line).is_delete()]


def key_name(override: Override) -> str:
    """The override's key without ``+``/``++``/``~`` prefix (``+db@pkg`` -> ``db@pkg``)."""
    return override.get_key_element().lstrip("+~")


def parse_search_space(lines: Iterable[str]) -> SearchSpace:
    """Build the search space from override lines; the last line for a key wins.

    Raises
    ------
    SearchSpaceError
        For sweep forms without an Optuna distribution (e.g. ``glob``) or invalid bounds, naming the key.
    """
    entries: dict[str, SweptParam | str] = {}
    for line in lines:
        override = parse_override(line)
        name = key_name(override)
        entries.pop(name, None)
        entries[name] = swept_param(override) if override.is_sweep_override() else override.input_line or line
    return SearchSpace(params={e.name: e for e in entries.values() if isinstance(e, SweptParam)},
                       fixed={k: e for k, e in entries.items() if isinstance(e, str)})


def swept_param(override: Override) -> SweptParam:
    """The :class:`SweptParam` of one sweep override.

    Raises
    ------
    SearchSpaceError
        Naming the key, the override and the allowed forms.
    """
    name, value = override.get_key_element(), override.value()
    text = override.input_line.split("=", 1)[1] if override.input_line else str(value)
    try:
        if isinstance(value, ChoiceSweep):
            dist, decoded = _categorical(name, value.list)
            return SweptParam(name=name, text=text, distribution=dist, decoded=decoded, grid=tuple(dist.choices))
        if isinstance(value, RangeSweep):
            values = list(override.sweep_iterator())
            if value.shuffle:  # order means nothing to a sampler; sorting keeps the distribution stable on resume
                dist, decoded = _categorical(name, sorted(values))
                return SweptParam(name=name, text=text, distribution=dist, decoded=decoded, grid=tuple(dist.choices))
            return SweptParam(name=name, text=text, distribution=_range(value), grid=tuple(values))
        if isinstance(value, IntervalSweep):
            return SweptParam(name=name, text=text, distribution=_interval(value))
    except SearchSpaceError:
        raise
    except ValueError as error:  # Optuna's own check of the bounds
        raise SearchSpaceError(f"search space key {name!r} ({name}={text}): {str(error).rstrip('.')}. "
                               f"Allowed: {ALLOWED_FORMS}") from None
    raise SearchSpaceError(f"search space key {name!r} ({name}={text}): {type(value).__name__} is not supported "
                           f"by the optuna sweeper. Allowed: {ALLOWED_FORMS}")


def _categorical(name: str, items: Sequence[Any]) -> tuple[CategoricalDistribution, dict[str, Any]]:
    choices: list[Any] = []
    decoded: dict[str, Any] = {}
    for item in items:
        if isinstance(item, (ChoiceSweep, RangeSweep, IntervalSweep)):
            raise SearchSpaceError(f"{name}: nested sweeps inside choice(...) are not supported")
        if isinstance(item, PRIMITIVES):
            choices.append(item)
            continue
        text = encode_value(item)
        decoded[text] = item
        choices.append(text)
    if len(set(map(repr, choices))) != len(choices):  # also catches "[1,2]" next to [1,2]
        raise SearchSpaceError(f"{name}: choices must be distinct, got {list(items)!r}")
    return CategoricalDistribution(choices), decoded


def _range(sweep: RangeSweep) -> BaseDistribution:
    start, stop, step = sweep.start, sweep.stop, sweep.step
    if step is not None and step <= 0:
        raise ValueError(f"step must be > 0, got {step}")
    if any(isinstance(v, float) for v in (start, stop, step)):
        return FloatDistribution(float(start), float(stop), step=float(step) if step else None)
    return IntDistribution(int(start), int(stop), step=int(step or 1))


def _interval(sweep: IntervalSweep) -> BaseDistribution:
    log = "log" in sweep.tags
    if isinstance(sweep.start, int) and isinstance(sweep.end, int):
        return IntDistribution(sweep.start, sweep.end, log=log)
    return FloatDistribution(float(sweep.start), float(sweep.end), log=log)


def params_to_lines(params: Mapping[str, Any] | None) -> list[str]:
    """``hydra.sweeper.params`` entries as override lines; non-string values are encoded.

    Raises
    ------
    SearchSpaceError
        For a mapping value (the ``search_space`` form written under ``params``), naming the key and
        showing the override syntax that replaces it.
    """
    lines = []
    for key, value in (params or {}).items():
        if isinstance(value, Mapping):
            raise SearchSpaceError(
                f"hydra.sweeper.params.{key} is a mapping ({dict(value)!r}); params take Hydra override "
                f"syntax: write  {key}: {as_override(value)}  under hydra.sweeper.params, or "
                f"'{key}={as_override(value)}' on the command line. Allowed: {ALLOWED_FORMS}")
        lines.append(f"{key}={value if isinstance(value, str) else encode_value(value)}")
    return lines


def legacy_search_space(search_space: Mapping[str, Mapping[str, Any]]) -> dict[str, SweptParam]:
    """Parameters of the deprecated ``search_space`` config, as :class:`SweptParam`."""
    return {str(name): SweptParam(name=str(name), text=repr(dict(spec)),
                                  distribution=legacy_distribution(str(name), spec))
            for name, spec in search_space.items()}


def sweep_search_space(params: Mapping[str, Any] | None, legacy: Mapping[str, Mapping[str, Any]] | None,
                       arguments: Sequence[str]) -> SearchSpace:
    """The sweep's space: ``hydra.sweeper.params`` then the command-line ``arguments`` (last wins).

    The deprecated ``search_space`` mapping is used only when ``params`` is not set, and warns (as upstream).
    """
    space = parse_search_space(params_to_lines(params) + list(arguments))
    if legacy is None:
        return space
    warn_deprecated(both=params is not None)
    if params is not None:
        return space
    merged = {n: p for n, p in legacy_search_space(legacy).items() if n not in space.fixed}
    merged.update(space.params)
    return SearchSpace(params=merged, fixed=space.fixed)
