"""The test command: ``python3 -m tests [pytest args]`` from the repository root.

Creates ``.venv`` on first use, installs the system packages the tests need (real Fashion-MNIST,
Chromium for the browser tests, SLURM for the cluster tests) when it can, then runs pytest inside the
environment.
"""
import importlib.util
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# real Fashion-MNIST, Chromium for the browser tests, and what the single-node SLURM test cluster runs
SYSTEM_PACKAGES = ["dataset-fashion-mnist", "chromium", "slurm-wlm", "munge", "slurmdbd", "mariadb-server"]


def _bootstrap():
    spec = importlib.util.spec_from_file_location("nnscratch_bootstrap", REPO / "nnscratch" / "_bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    bootstrap = _bootstrap()
    bootstrap.ensure_system_packages(SYSTEM_PACKAGES)
    bootstrap.ensure_environment(REPO)
    os.chdir(REPO)
    os.execv(sys.executable, [sys.executable, "-m", "pytest", *sys.argv[1:]])
