"""conf/: every group option and experiment composes; shorthands; type and range errors (no training)."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import ConfigCompositionException, MissingConfigException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

import nnscratch as nn
from nnscratch.config import ConfigError, register_configs, sync_shorthands, validate_against_data, validate_config
from nnscratch.config.schema import OPTIMIZER_SCHEMAS, SCHEDULE_SCHEMAS

CONF = Path(__file__).resolve().parent.parent / "conf"
GROUPS = ("model", "optimizer", "schedule", "data", "tracking")
DATA_SHAPES = {"mnist": (784, 10), "fashion_mnist": (784, 10), "binary_mnist": (784, 2)}
MATCHING_DATA = {"binary_3layer": "binary_mnist"}
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def make(*overrides: str) -> DictConfig:
    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        return compose("config", overrides=list(overrides))


def plain(node: DictConfig) -> dict:
    return OmegaConf.to_container(node, resolve=True, enum_to_str=True)


DATA_SIZES = {"mnist": (60000, 10000), "fashion_mnist": (60000, 10000), "binary_mnist": (12665, 2115)}


def stand_in(name: str) -> SimpleNamespace:
    """What validate_against_data reads of a loaded data set, without loading it."""
    (n_features, n_classes), (n_train, n_test) = DATA_SHAPES[name], DATA_SIZES[name]
    return SimpleNamespace(name=name, n_features=n_features, n_classes=n_classes,
                           y_train=range(n_train), y_test=range(n_test))


def check(cfg: DictConfig) -> None:
    """Everything run() checks before training, with the data shapes taken from the data set name."""
    validate_config(sync_shorthands(cfg))
    validate_against_data(cfg, stand_in(cfg.data.name.name))


def test_default_config_is_the_three_layer_mnist_sgd_run():
    cfg = make()
    assert cfg.model.hidden_sizes == [128, 64] and cfg.model.output_size == 10
    assert cfg.optimizer._target_ == "nnscratch.optimizers.SGD" and cfg.lr == cfg.optimizer.lr == 0.1
    assert cfg.data.name.name == "mnist" and cfg.tracking.enabled and cfg.optimized_metric == "val/acc"
    check(cfg)


def test_multirun_parent_callback_is_registered():
    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose("config", return_hydra_config=True)
    assert cfg.hydra.callbacks.mlflow_parent_run._target_ == "nnscratch.tracking.sweep.MLflowSweepCallback"


def test_every_group_has_the_issue_options():
    assert options("model") == ["binary_3layer", "deep8", "three_layer", "two_layer"]
    assert options("optimizer") == sorted(OPTIMIZER_SCHEMAS) == ["adam", "momentum", "rmsprop", "sgd"]
    assert options("schedule") == sorted(SCHEDULE_SCHEMAS)
    assert options("data") == ["binary_mnist", "fashion_mnist", "mnist"]
    assert options("tracking") == ["mlflow", "none"]


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_group_option_composes_resolves_and_validates(group, option):
    overrides = [f"{group}={option}"]
    if group == "model" and option in MATCHING_DATA:
        overrides.append(f"data={MATCHING_DATA[option]}")
    if group == "data" and option == "binary_mnist":
        overrides.append("model=binary_3layer")
    cfg = make(*overrides)
    resolved = plain(cfg)
    assert resolved[group] is not None
    check(cfg)


@pytest.mark.parametrize("option", options("optimizer"))
def test_optimizer_configs_mirror_their_constructors(option):
    cfg = make(f"optimizer={option}", "lr=0.02")
    optimizer = instantiate(plain(cfg.optimizer))
    assert isinstance(optimizer, nn.Optimizer) and optimizer.lr == pytest.approx(0.02)
    assert type(optimizer).__name__.lower() == option
    assert OmegaConf.get_type(cfg.optimizer) is OPTIMIZER_SCHEMAS[option]


@pytest.mark.parametrize("option", options("schedule"))
def test_schedule_configs_mirror_their_constructors(option):
    cfg = make(f"schedule={option}", "epochs=4")
    schedule = instantiate(plain(cfg.schedule))
    assert schedule(0.1, 0) == pytest.approx(0.1)
    assert 0 <= schedule(0.1, 3) <= 0.1


@pytest.mark.parametrize("option", ["two_layer", "three_layer", "binary_3layer"])
def test_model_configs_build_the_networks(option):
    cfg = make(f"model={option}")
    model = instantiate(plain(cfg.model), rng=nn.make_generators(0).init)
    expected = {"two_layer": [784, 10, 10], "three_layer": [784, 128, 64, 10], "binary_3layer": [784, 128, 64, 1]}
    assert model.layer_sizes == expected[option]


def test_deep8_is_the_reference_architecture_with_he_init():
    cfg = make("model=deep8")
    sizes = [cfg.model.input_size, *cfg.model.hidden_sizes, cfg.model.output_size]
    assert sizes == [784, 3000, 2500, 2000, 1500, 1000, 500, 10] and cfg.model.init.name == "he"


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_composes_and_validates(name):
    cfg = make(f"+experiment={name}")
    check(cfg)
    assert cfg.tracking.experiment_name == name


def test_experiments_set_the_reference_hyperparameters():
    assert EXPERIMENTS == ["binary_mnist", "deep8_fashion", "deep8_mnist", "three_layer_mnist", "two_layer_mnist"]
    three = make("+experiment=three_layer_mnist")
    assert (three.optimizer._target_, three.lr, three.batch_size, three.epochs) == ("nnscratch.optimizers.SGD", 0.1, 32, 10)
    for name, data in (("deep8_mnist", "mnist"), ("deep8_fashion", "fashion_mnist")):
        deep = make(f"+experiment={name}")
        assert deep.data.name.name == data and deep.model.hidden_sizes[0] == 3000
        assert (deep.optimizer._target_, deep.optimizer.lr, deep.fit.batch_size) == ("nnscratch.optimizers.Adam", 0.001, 256)
        assert (deep.model.keep_prob, deep.fit.l2, deep.model.init.name) == (0.7, 0.05, "he")
    binary = make("+experiment=binary_mnist")
    assert binary.model.output_size == 1 and list(binary.data.digits) == [0, 1]


def test_command_line_beats_experiment():
    cfg = make("+experiment=deep8_mnist", "lr=0.0005", "epochs=1")
    assert cfg.optimizer.lr == 0.0005 and cfg.fit.epochs == 1


def test_optimizer_option_sets_its_own_default_lr():
    assert make("optimizer=adam").optimizer.lr == 0.001
    assert make("optimizer=sgd").optimizer.lr == 0.1


@pytest.mark.parametrize("override", ["lr=0.01", "optimizer.lr=0.01"])
def test_shorthand_and_group_key_are_one_source_of_truth(override):
    cfg = sync_shorthands(make("optimizer=adam", override))
    assert cfg.lr == cfg.optimizer.lr == 0.01
    assert OmegaConf.is_interpolation(cfg.optimizer, "lr")


@pytest.mark.parametrize("shorthand,path,value", [
    ("hidden_sizes", "model.hidden_sizes", [32, 16]),
    ("keep_prob", "model.keep_prob", 0.5),
    ("batch_size", "fit.batch_size", 128),
    ("epochs", "fit.epochs", 3),
    ("l2", "fit.l2", 0.01),
])
def test_every_shorthand_reaches_its_group(shorthand, path, value):
    for override in (f"{shorthand}={value}", f"{path}={value}"):
        cfg = sync_shorthands(make(override.replace(" ", "")))
        assert OmegaConf.select(cfg, path) == value and cfg[shorthand] == value


def test_dtype_shorthand_reaches_model_and_data():
    cfg = make("dtype=float64")
    assert cfg.model.dtype.name == cfg.data.dtype.name == "float64"


@pytest.mark.parametrize("override,message", [
    ("lr=abc", "lr=abc"),
    ("optimizer=adamm", "optimizer/adamm"),
    ("model.activation=relux", "model.activation=relux"),
    ("optimizer=adam optimizer.beta1=high", "optimizer.beta1=high"),
    ("epochs=1.5", "epochs=1.5"),
    ("optimizer.momentum=0.9", "optimizer.momentum"),  # sgd has no momentum: typos are not silently added
])
def test_type_errors_are_rejected_by_hydra(override, message):
    with pytest.raises((ConfigCompositionException, MissingConfigException)) as error:
        make(*override.split())
    assert message in str(error.value)


@pytest.mark.parametrize("override,message", [
    ("lr=-0.1", "lr=-0.1 is invalid: must be > 0"),
    ("lr=0", "lr=0.0 is invalid: must be > 0"),
    ("keep_prob=0", "keep_prob=0.0 is invalid: must be in (0, 1]"),
    ("keep_prob=1.5", "keep_prob=1.5 is invalid: must be in (0, 1]"),
    ("l2=-1", "l2=-1.0 is invalid: must be >= 0"),
    ("epochs=0", "epochs=0 is invalid: must be an integer >= 1"),
    ("batch_size=0", "batch_size=0 is invalid"),
    ("hidden_sizes=[128,0]", "hidden_sizes=[128, 0] is invalid"),
    ("optimizer=adam optimizer.beta1=1.0", "optimizer.beta1=1.0 is invalid: must be in [0, 1)"),
    ("data.val_fraction=0", "data.val_fraction=0.0 is invalid: must be in (0, 1)"),
    ("optimized_metric=val/f1", "optimized_metric='val/f1' is invalid"),
    ("seed=-1", "seed=-1 is invalid: must be an integer >= 0"),
    ("fit.max_loss_ratio=0.5", "fit.max_loss_ratio=0.5 is invalid: must be null (off) or a number > 1"),
])
def test_out_of_range_values_name_the_key_and_range(override, message):
    with pytest.raises(ConfigError) as error:
        validate_config(sync_shorthands(make(*override.split())))
    assert message in str(error.value)


def test_all_range_problems_are_reported_at_once():
    with pytest.raises(ConfigError) as error:
        validate_config(make("lr=-1", "keep_prob=2"))
    assert "lr=" in str(error.value) and "keep_prob=" in str(error.value)


@pytest.mark.parametrize("overrides,message", [
    (["model.input_size=100"], "model.input_size=100 is invalid: the first layer size must equal the 784"),
    (["data=binary_mnist"], "model.output_size=10 is invalid: the last layer size must be 2 (or 1"),
    (["model=binary_3layer"], "model.output_size=1 is invalid: the last layer size must be 10"),
])
def test_layer_sizes_must_fit_the_data(overrides, message):
    with pytest.raises(ConfigError) as error:
        check(make(*overrides))
    assert message in str(error.value)


def test_a_two_unit_softmax_fits_binary_data():
    check(make("data=binary_mnist", "model.output_size=2"))


@pytest.mark.parametrize("override, message", [
    ("data.train_size=10000000", "data.train_size=10000000 is invalid: mnist has 60000 train examples; use at most "
                                 "60000, or null for all"),
    ("data=binary_mnist model=binary_3layer data.test_size=5000", "data.test_size=5000 is invalid: binary_mnist has "
                                                                  "2115 test examples"),
])
def test_subsets_larger_than_the_data_set_are_refused_naming_its_size(override, message):
    with pytest.raises(ConfigError) as error:
        check(make(*override.split()))
    assert message in str(error.value)
    check(make("data.train_size=60000"))  # all of it is fine
