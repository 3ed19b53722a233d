"""The sweeper on the newest hydra-core 1.4 pre-release, in a second virtual environment.

hydra-core 1.4 instantiates plugin configs non-recursively and asks ``instantiate`` for an execution
whitelist; the plugin must work there as on 1.3 (this suite's own environment). The second
environment holds only hydra-core (the newest 1.4 pre-release on the registry), its omegaconf,
optuna and what the toy app needs (threadpoolctl, psutil); nnscratch comes from this checkout through
``PYTHONPATH``. It is built once per hydra-core version and cached under
``$XDG_CACHE_HOME/nnscratch/venvs`` (``~/.cache``); the first build downloads about 40 MB. When the
registry cannot be reached the tests skip, except under CI, where they fail.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from .conftest import _in_ci
from .sweeper_app.harness import APP, journal, load, subprocess_env, sweep_args

REPO = Path(__file__).resolve().parents[1]
FALLBACK_VERSION = "1.4.0rc3"  # the newest 1.4 pre-release when this was written; used if the index is silent
PACKAGES = ("optuna>=4", "threadpoolctl", "psutil")


def newest_pre_release() -> str:
    """The newest hydra-core 1.4 pre-release on the package index (``pip index versions hydra-core --pre``)."""
    try:
        listing = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "hydra-core", "--pre",
                                  "--disable-pip-version-check"], capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.TimeoutExpired):
        return FALLBACK_VERSION
    match = re.search(r"Available versions: (.*)", listing)
    versions = [v.strip() for v in match.group(1).split(",")] if match else []
    return next((v for v in versions if v.startswith("1.4")), FALLBACK_VERSION)


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nnscratch" / "venvs"


def hydra_venv(version: str) -> Path:
    """The cached environment's python for hydra-core ``version``, built on first use.

    The build goes to a private directory renamed into place when complete, so concurrent test runs
    never see (or remove) a half-built environment.
    """
    root = cache_root() / f"hydra-core-{version}-py{sys.version_info.major}{sys.version_info.minor}"
    python = root / "bin" / "python"
    if (root / "complete").exists():
        return python
    building = root.with_name(f"{root.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, timeout=300)
    subprocess.run([str(building / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    f"hydra-core=={version}", *PACKAGES], check=True, timeout=900)
    (building / "complete").touch()
    try:
        building.rename(root)  # python -m works from the new place: venvs find their prefix relative to bin/
    except OSError:  # another test process built it meanwhile: use theirs
        shutil.rmtree(building, ignore_errors=True)
    return python


@pytest.fixture(scope="module")
def hydra14() -> tuple[Path, str]:
    """``(python, hydra version)`` of the hydra-core 1.4 environment."""
    version = newest_pre_release()
    try:
        python = hydra_venv(version)
        reported = subprocess.run([str(python), "-c", "import hydra; print(hydra.__version__)"], check=True,
                                  capture_output=True, text=True, timeout=120).stdout.strip()
    except (OSError, subprocess.SubprocessError) as error:
        message = f"could not build the hydra-core {version} environment: {error}"
        if _in_ci():
            pytest.fail(message + "; CI is set, so the Hydra 1.4 check is required", pytrace=False)
        pytest.skip(message)
    return python, reported


def run_app(python: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = subprocess_env(PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run([str(python), str(APP), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_environment_runs_a_hydra_14_pre_release(hydra14):
    _, version = hydra14
    assert version.startswith("1.4.") and re.search(r"(dev|rc|a|b)\d+$", version), version


def test_sweep_runs_on_hydra_14(hydra14, tmp_path):
    python, _ = hydra14
    directory = tmp_path / "sweep"
    done = run_app(python, sweep_args(directory, "h14", "hydra.sweeper.n_trials=3", "+w=choice(1,2)"), tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    study = load(journal(directory, "h14"), "h14")
    assert [t.state.name for t in study.get_trials()] == ["COMPLETE"] * 3
    assert "+w" in OmegaConf.load(directory / "optimization_results.yaml").best_params
    assert "_execution_whitelist_" not in done.stderr + done.stdout  # samplers are built with the whitelist


def test_a_time_stamped_sweep_dir_on_hydra_14(hydra14, tmp_path):
    """Hydra's default kind of sweep dir (``multirun/${now:...}``; Hydra 1.4 marks its config read-only
    node by node): the journal goes under the dir's stable root, as on 1.3."""
    python, _ = hydra14
    stamped = f"hydra.sweep.dir={tmp_path}/multirun/${{now:%Y-%m-%d}}/${{now:%H-%M-%S}}"
    done = run_app(python, [*sweep_args(tmp_path / "fixed", "stamped", "hydra.sweeper.n_trials=2"), stamped], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    study = load(journal(tmp_path / "multirun", "stamped"), "stamped")
    assert [t.state.name for t in study.get_trials()] == ["COMPLETE"] * 2


@pytest.mark.slow
def test_train_py_sweeps_on_hydra_14_without_warnings(hydra14, mnist, tmp_path):
    """train.py itself, with this environment's packages and the 1.4 venv's hydra and omegaconf put in
    front: its callbacks and instantiate calls are whitelisted, its plugins found by entry point, and
    nothing deprecated is called."""
    python, _ = hydra14
    site = subprocess.run([str(python), "-c", "import hydra, os; print(os.path.dirname(os.path.dirname(hydra.__file__)))"],
                          check=True, capture_output=True, text=True, timeout=120).stdout.strip()
    shadow = tmp_path / "hydra14"
    shadow.mkdir()
    for package in ("hydra", "omegaconf"):
        (shadow / package).symlink_to(Path(site) / package)
    args = ["-m", "+sweep=random_3layer", "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=2", "epochs=1",
            "data.train_size=600", "data.test_size=300", "progress=none", "tracking=none"]
    env = {**os.environ, "PYTHONPATH": str(shadow), "NNSCRATCH_NO_BOOTSTRAP": "1"}
    done = subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Best trial" in output and "1.4" in subprocess.run(
        [sys.executable, "-c", "import hydra; print(hydra.__version__)"], env=env, capture_output=True, text=True).stdout
    assert "Warning" not in output, output[-3000:]


def test_grid_and_refusals_on_hydra_14(hydra14, tmp_path):
    python, _ = hydra14
    directory = tmp_path / "grid"
    grid = ["hydra/sweeper/sampler=grid", "x=choice(0,1)", "y=range(0,2)", "hydra.sweeper.n_trials=10"]
    done = run_app(python, sweep_args(directory, "grid", *grid), tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    points = sorted((t.params["x"], t.params["y"]) for t in load(journal(directory, "grid"), "grid").get_trials())
    assert points == [(0, 0), (0, 1), (1, 0), (1, 1)]
    refused = run_app(python, sweep_args(tmp_path / "motpe", "motpe", "hydra/sweeper/sampler=motpe"), tmp_path)
    assert refused.returncode != 0 and "The 'motpe' sampler was removed in Optuna 4.0" in refused.stderr
    assert not (tmp_path / "motpe" / "optuna").exists()
