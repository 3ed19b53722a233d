"""The ready sweep configs in sweeps/ compose with conf/ and describe the intended studies."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.utils import setup_globals

from nnscratch.sweeper.context import sweep_context
from nnscratch.sweeper.space import sweep_search_space

REPO = Path(__file__).resolve().parents[1]
SWEEPS = sorted(p.stem for p in (REPO / "sweeps").glob("*.yaml"))
#: Full-MNIST sweeps against the hand-tuned reference networks (README results): epochs as the reference.
TARGET_EPOCHS = {"tpe_two_layer": 15, "tpe_three_layer": 10, "tpe_hidden": 20, "tpe_hidden_fine": 20}


@pytest.fixture()
def compose_sweep(tmp_path, monkeypatch):
    pytest.importorskip("nnscratch.config")
    from nnscratch.config import register_configs

    register_configs()
    setup_globals()
    (tmp_path / "sweep").symlink_to(REPO / "sweeps")  # what conf/sweep will point at
    monkeypatch.chdir(tmp_path)  # relative outputs (multirun/...) resolve here

    def _compose(name: str, *overrides: str):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
            return compose("config", overrides=[f"+sweep={name}", f"hydra.searchpath=[file://{tmp_path}]",
                                                *overrides],
                           return_hydra_config=True)

    yield _compose
    GlobalHydra.instance().clear()


def test_all_four_sweeps_exist():
    assert {"grid_lr_batch", "random_3layer", "tpe_deep", "binary_mnist"} <= set(SWEEPS)


@pytest.mark.parametrize("name", SWEEPS)
def test_sweep_composes_into_a_study_of_this_sweeper(compose_sweep, name, tmp_path):
    cfg = compose_sweep(name)
    ctx = sweep_context(cfg)
    assert ctx is not None and ctx.study_name == name and ctx.directions == ["maximize"]
    assert ctx.storage == str(tmp_path / "multirun" / "optuna" / f"{name}.journal")
    if name in TARGET_EPOCHS:
        assert cfg.epochs == TARGET_EPOCHS[name] and cfg.data.train_size is None and cfg.data.test_size is None
    else:
        assert 1 <= ctx.n_trials <= 20 and 3 <= cfg.epochs <= 5  # sized for a 2-core machine
    space = sweep_search_space(cfg.hydra.sweeper.params, None, [])
    assert set(space.params) == set(ctx.search_space) and space.params
    assert not set(space.params) - {"lr", "batch_size", "epochs", "keep_prob", "l2", "seed", "hidden_sizes",
                                    "optimizer", "schedule", "model", "data"}


def test_grid_sweeps_cover_their_whole_grid(compose_sweep):
    assert sweep_context(compose_sweep("grid_lr_batch")).n_trials == 12  # 3 lr x 2 batch sizes x 2 optimizers
    assert sweep_context(compose_sweep("binary_mnist")).n_trials == 6


def test_tpe_deep_prunes_with_the_median_rule(compose_sweep):
    ctx = sweep_context(compose_sweep("tpe_deep"))
    assert ctx.pruner["_target_"] == "optuna.pruners.MedianPruner" and ctx.sampler["multivariate"] is True
    assert ctx.search_space["hidden_sizes"].startswith("choice([256,256,128,128,64,64]")
