"""Search spaces in Hydra override syntax -> Optuna distributions -> job overrides (nnscratch.sweeper.space)."""
from __future__ import annotations

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from nnscratch.sweeper.space import encode_value, parse_override, parse_search_space, sweep_search_space


def dist(line: str):
    return parse_search_space([line]).params[line.split("=", 1)[0].lstrip("+")].distribution


@pytest.mark.parametrize(("line", "expected"), [
    ("x=choice(1, 2.5, a, 'b c', true)", CategoricalDistribution([1, 2.5, "a", "b c", True])),
    ("x=a,b,c", CategoricalDistribution(["a", "b", "c"])),
    ("x=range(1, 9, 2)", IntDistribution(1, 7, step=2)),
    ("x=range(1, 5)", IntDistribution(1, 4)),
    ("x=range(0.1, 0.5, 0.1)", FloatDistribution(0.1, 0.4, step=0.1)),
    ("x=range(5, 1, -2)", CategoricalDistribution([5, 3])),
    ("x=shuffle(range(1, 4))", CategoricalDistribution([1, 2, 3])),
    ("x=interval(0.1, 1)", FloatDistribution(0.1, 1.0)),
    ("x=interval(1, 10)", FloatDistribution(1.0, 10.0)),
    ("x=int(interval(1, 10))", IntDistribution(1, 10)),
    ("x=tag(log, interval(1e-4, 1e-1))", FloatDistribution(1e-4, 1e-1, log=True)),
    ("x=tag(log, int(interval(8, 512)))", IntDistribution(8, 512, log=True)),
    ("+x=choice(1, 2)", CategoricalDistribution([1, 2])),
])
def test_every_override_form_maps_to_its_distribution(line, expected):
    assert dist(line) == expected


def test_list_choices_are_stored_as_text_and_come_back_as_lists():
    space = parse_search_space(["hidden_sizes=choice([128,64],[256,128])", "optimizer=choice(sgd,adam)"])
    param = space.params["hidden_sizes"]
    assert param.distribution == CategoricalDistribution(["[128,64]", "[256,128]"])
    assert param.value("[256,128]") == [256, 128]
    assert space.overrides({"hidden_sizes": "[256,128]", "optimizer": "adam"}) == \
        ["hidden_sizes=[256,128]", "optimizer=adam"]
    assert space.python_values({"hidden_sizes": "[128,64]"}) == {"hidden_sizes": [128, 64]}


def test_overrides_keep_prefixes_and_fixed_lines_verbatim():
    space = parse_search_space(["+lr=tag(log, interval(1e-4, 1e-1))", "+sweep=grid_lr_batch", "~foo", "db=mysql"])
    assert space.overrides({"lr": 0.001}) == ["+lr=0.001", "+sweep=grid_lr_batch", "~foo", "db=mysql"]


@pytest.mark.parametrize("value", ["adam", "a b", "it's", "true", "1", "null", "", "1e-5", "[1,2]", "x=y",
                                   "back\\slash", 1, -2.5, 1e-05, True, None, [128, 64], {"a": 1, "b": [1, "x y"]}])
def test_encode_value_round_trips_through_hydras_parser(value):
    assert parse_override(f"k={encode_value(value)}").value() == value


def test_last_line_for_a_key_wins_fixed_over_swept_and_swept_over_fixed():
    config_params = ["lr=tag(log, interval(1e-4, 1e-1))", "batch_size=32"]
    space = parse_search_space(config_params + ["lr=0.01", "batch_size=choice(32, 64)"])
    assert "lr" not in space.params and space.fixed["lr"] == "lr=0.01"
    assert "batch_size" not in space.fixed
    assert space.params["batch_size"].distribution == CategoricalDistribution([32, 64])


def test_command_line_arguments_come_after_config_params():
    space = sweep_search_space({"x": "interval(0, 1)", "y": 3}, None, ["x=0.5", "+z=choice(a,b)"])
    assert set(space.params) == {"z"}
    assert space.fixed == {"y": "y=3", "x": "x=0.5"}


def test_legacy_search_space_is_used_only_without_params():
    legacy = {"x": {"type": "float", "low": 0.0, "high": 1.0, "log": False},
              "n": {"type": "int", "low": 1, "high": 9, "step": 2},
              "c": {"type": "categorical", "choices": ["a", "b"]}}
    space = sweep_search_space(None, legacy, ["c=a"])
    assert space.distributions == {"x": FloatDistribution(0.0, 1.0), "n": IntDistribution(1, 9, step=2)}
    assert set(sweep_search_space({"y": "interval(0, 1)"}, legacy, []).params) == {"y"}


def test_grid_values_enumerate_discrete_ranges_and_refuse_intervals():
    space = parse_search_space(["a=range(0.0, 1.0, 0.25)", "b=range(2, 8, 3)", "c=choice(x, y)"])
    assert space.grid() == {"a": [0.0, 0.25, 0.5, 0.75], "b": [2, 5], "c": ["x", "y"]}
    with pytest.raises(ValueError, match="grid sampler needs discrete values for 'lr'"):
        parse_search_space(["lr=interval(0, 1)"]).grid()


def test_unsupported_forms_raise():
    with pytest.raises(ValueError, match="not supported"):
        parse_search_space(["x=glob(*)"])
    with pytest.raises(ValueError, match="distinct"):
        parse_search_space(["x=choice('[1,2]', [1,2])"])
