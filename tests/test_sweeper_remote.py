"""Remote launchers: presets compose, and machine-local stores are named in a warning."""
from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from nnscratch.config import register_configs
from nnscratch.sweeper.remote import machine_local_stores

CONF = Path(__file__).resolve().parent.parent / "conf"


def test_machine_local_study_and_mlflow_store_are_named_by_their_setting():
    config = OmegaConf.create({"tracking": {"enabled": True, "tracking_uri": "sqlite:///mlflow.db"}})
    lines = machine_local_stores("/home/me/sweep/optuna/s.journal", config)
    assert [line.split(" is ")[0] for line in lines] == ["hydra.sweeper.storage", "tracking.tracking_uri"]
    shared = OmegaConf.create({"tracking": {"enabled": True, "tracking_uri": "http://mlflow:5000"}})
    assert machine_local_stores("postgresql+psycopg://u@db/optuna", shared) == []


def test_slurm_and_ray_presets_compose_with_their_defaults():
    register_configs()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        slurm = compose("config", overrides=["hydra/launcher=slurm"], return_hydra_config=True).hydra.launcher
        ray = compose("config", overrides=["hydra/launcher=ray"], return_hydra_config=True).hydra.launcher
    assert slurm._target_.endswith("SlurmLauncher") and (slurm.timeout_min, slurm.cpus_per_task) == (120, 2)
    assert ray.ray.init.address == "auto" and ray.ray.init.object_store_memory is None
