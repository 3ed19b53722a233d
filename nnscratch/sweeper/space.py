"""Search spaces written in Hydra override syntax, as Optuna distributions, and back to overrides.

Every override form the official plugin accepts maps to one distribution:

==================================  =========================================================
``x=choice(a, b)`` / ``x=a,b``      ``CategoricalDistribution`` (lists/dicts allowed as choices)
``x=range(1, 9, 2)``                ``IntDistribution(1, 7, step=2)`` (Hydra's range: stop excluded)
``x=range(0.1, 0.5, 0.1)``          ``FloatDistribution(0.1, 0.4, step=0.1)``
``x=shuffle(range(...))``           ``CategoricalDistribution`` of the range's values (sorted)
``x=interval(0, 1)``                ``FloatDistribution(0, 1)``
``x=int(interval(1, 9))``           ``IntDistribution(1, 9)``
``x=tag(log, interval(1e-4, 1))``   ``FloatDistribution(1e-4, 1, log=True)`` (``IntDistribution`` for ints)
``x=value``                         fixed: passed to every job unchanged
==================================  =========================================================

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


@dataclass(frozen=True)
class SweptParam:
    """One swept key: its Optuna distribution and how a sampled value becomes an override.

    ``key`` keeps Hydra's prefix (``+``/``++``) and package; ``name`` (the key without prefix) is the
    Optuna parameter name. Choices that are lists or dicts are stored in Optuna as their override text
    (``"[128,64]"``); ``decoded`` maps that text back to the Python value.
    """

    key: str
    name: str
    text: str
    distribution: BaseDistribution
    decoded: Mapping[str, Any] = field(default_factory=dict)

    def value(self, stored: Any) -> Any:
        """The Python value of an Optuna-stored value (lists come back from their text)."""
        return self.decoded.get(stored, stored) if isinstance(stored, str) else stored

    def override(self, stored: Any) -> str:
        return f"{self.key}={encode_value(self.value(stored))}"

    def grid_values(self) -> list[Any]:
        """The values a grid search visits.

        Raises
        ------
        ValueError
            For continuous ranges (``interval``), which have no grid.
        """
        dist = self.distribution
        if isinstance(dist, CategoricalDistribution):
            return list(dist.choices)
        if isinstance(dist, IntDistribution) and not dist.log:
            return list(range(dist.low, dist.high + 1, dist.step))
        if isinstance(dist, FloatDistribution) and dist.step is not None:
            low, step = Decimal(str(dist.low)), Decimal(str(dist.step))
            n = int((Decimal(str(dist.high)) - low) / step) + 1
            return [float(low + i * step) for i in range(n)]
        raise ValueError(f"grid sampler needs discrete values for {self.name!r}, got {self.text!r}: use "
                         "choice(...), a,b,c or range(...) instead of interval(...)")


@dataclass(frozen=True)
class SearchSpace:
    """Swept parameters (in order) and fixed overrides passed to every job."""

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


def key_name(override: Override) -> str:
    """The override's key without ``+``/``++``/``~`` prefix (``+db@pkg`` -> ``db@pkg``)."""
    return override.get_key_element().lstrip("+~")


def params_to_lines(params: Mapping[str, Any] | None) -> list[str]:
    """``hydra.sweeper.params`` entries as override lines; non-string values are encoded."""
    return [f"{k}={v if isinstance(v, str) else encode_value(v)}" for k, v in (params or {}).items()]


def parse_search_space(lines: Iterable[str]) -> SearchSpace:
    """Build the search space from override lines; the last line for a key wins.

    Raises
    ------
    ValueError
        For sweep forms without an Optuna distribution (e.g. ``glob``) or unusable choices.
    """
    params: dict[str, SweptParam] = {}
    fixed: dict[str, str] = {}
    for line in lines:
        override = parse_override(line)
        name = key_name(override)
        params.pop(name, None)
        fixed.pop(name, None)
        if override.is_sweep_override():
            params[name] = swept_param(override)
        else:
            fixed[name] = override.input_line or line
    return SearchSpace(params=params, fixed=fixed)


def swept_param(override: Override) -> SweptParam:
    """The :class:`SweptParam` of one sweep override."""
    key, name, value = override.get_key_element(), key_name(override), override.value()
    text = override.input_line.split("=", 1)[1] if override.input_line else str(value)
    if isinstance(value, ChoiceSweep):
        dist, decoded = _categorical(name, value.list)
    elif isinstance(value, RangeSweep):
        dist, decoded = _range(name, value, list(override.sweep_iterator()))
    elif isinstance(value, IntervalSweep):
        dist, decoded = _interval(value), {}
    else:
        raise ValueError(f"{override.input_line!r}: {type(value).__name__} is not supported by the optuna sweeper")
    return SweptParam(key=key, name=name, text=text, distribution=dist, decoded=decoded)


def _categorical(name: str, items: Sequence[Any]) -> tuple[CategoricalDistribution, dict[str, Any]]:
    choices: list[Any] = []
    decoded: dict[str, Any] = {}
    for item in items:
        if isinstance(item, (ChoiceSweep, RangeSweep, IntervalSweep)):
            raise ValueError(f"{name}: nested sweeps inside choice(...) are not supported")
        if isinstance(item, PRIMITIVES):
            choices.append(item)
            continue
        text = encode_value(item)
        decoded[text] = item
        choices.append(text)
    if len(set(map(repr, choices))) != len(choices):  # also catches "[1,2]" next to [1,2]
        raise ValueError(f"{name}: choices must be distinct, got {list(items)!r}")
    return CategoricalDistribution(choices), decoded


def _range(name: str, sweep: RangeSweep, values: list[Any]) -> tuple[BaseDistribution, dict[str, Any]]:
    if not values:
        raise ValueError(f"{name}: range({sweep.start}, {sweep.stop}, {sweep.step}) is empty")
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if sweep.shuffle:  # order means nothing to a sampler; sorting keeps the distribution stable on resume
        return _categorical(name, sorted(values) if numeric else values)
    if not numeric or sweep.step is None or sweep.step <= 0:
        return _categorical(name, values)
    if all(isinstance(v, int) for v in (sweep.start, sweep.step)):
        return IntDistribution(int(values[0]), int(values[-1]), step=int(sweep.step)), {}
    low, step = Decimal(str(sweep.start)), Decimal(str(sweep.step))
    high = float(low + (len(values) - 1) * step)
    return FloatDistribution(float(sweep.start), high, step=float(sweep.step)), {}


def _interval(sweep: IntervalSweep) -> BaseDistribution:
    log = "log" in sweep.tags
    if isinstance(sweep.start, int) and isinstance(sweep.end, int):
        return IntDistribution(sweep.start, sweep.end, log=log)
    return FloatDistribution(float(sweep.start), float(sweep.end), log=log)


def legacy_distribution(spec: Mapping[str, Any]) -> BaseDistribution:
    """Distribution from the deprecated ``hydra.sweeper.search_space`` form.

    ``spec`` has ``type`` (``int``/``float``/``categorical``) and ``choices`` or ``low``/``high`` with
    optional ``log`` and ``step``.
    """
    kind = str(spec.get("type", "")).split(".")[-1]
    if kind == "categorical":
        return CategoricalDistribution(list(spec["choices"]))
    low, high, log, step = spec.get("low"), spec.get("high"), bool(spec.get("log", False)), spec.get("step")
    if kind == "int":
        return IntDistribution(int(low), int(high), log=log, step=int(step or 1))
    if kind == "float":
        return FloatDistribution(float(low), float(high), log=log, step=None if step is None else float(step))
    raise ValueError(f"search_space entry needs type int, float or categorical, got {spec!r}")


def legacy_search_space(search_space: Mapping[str, Mapping[str, Any]]) -> dict[str, SweptParam]:
    """Parameters of the deprecated ``search_space`` config, as :class:`SweptParam`."""
    return {str(name): SweptParam(key=str(name), name=str(name), text=repr(dict(spec)),
                                  distribution=legacy_distribution(spec))
            for name, spec in search_space.items()}


def sweep_search_space(params: Mapping[str, Any] | None, legacy: Mapping[str, Mapping[str, Any]] | None,
                       arguments: Sequence[str]) -> SearchSpace:
    """The sweep's space: ``hydra.sweeper.params`` then the command-line ``arguments`` (last wins).

    The deprecated ``search_space`` mapping is used only when ``params`` is not set (as upstream).
    """
    space = parse_search_space(params_to_lines(params) + list(arguments))
    if not legacy or params:
        return space
    merged = {n: p for n, p in legacy_search_space(legacy).items() if n not in space.fixed}
    merged.update(space.params)
    return SearchSpace(params=merged, fixed=space.fixed)
