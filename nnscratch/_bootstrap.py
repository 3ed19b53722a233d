"""Create and enter the project's virtual environment on first use (standard library only).

``train.py`` and ``python3 -m tests`` load this file by path before importing any third-party
package, so a fresh machine needs nothing but Python 3.10+ to run either command. Set
``NNSCRATCH_NO_BOOTSTRAP=1`` to manage the environment yourself.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REQUIRED_MODULES = ("numpy", "hydra", "mlflow", "optuna", "pandas", "matplotlib", "nnscratch")


def ensure_environment(repo: Path, extras: str = "dev") -> None:
    """Return if the running interpreter is ready, else re-run this process inside ``repo/.venv``."""
    if os.environ.get("NNSCRATCH_NO_BOOTSTRAP"):
        return
    venv = repo / ".venv"
    in_venv = Path(sys.prefix).resolve() == venv.resolve()
    if not in_venv and _ready(repo):
        return
    if _stale(repo, venv, extras):
        _install(repo, venv, extras)
    if not in_venv:
        python = venv / "bin" / "python"
        os.execv(python, [str(python), *sys.argv])


def ensure_system_packages(packages: list[str]) -> None:
    """Install missing Debian packages when running as root with apt (used by the test command)."""
    if shutil.which("apt-get") is None or os.geteuid() != 0 or os.environ.get("NNSCRATCH_NO_BOOTSTRAP"):
        return
    missing = [p for p in packages if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if missing:
        _say(f"installing system packages: {' '.join(missing)}")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def _ready(repo: Path) -> bool:
    if any(importlib.util.find_spec(name) is None for name in REQUIRED_MODULES):
        return False
    origin = importlib.util.find_spec("nnscratch").origin or ""
    return Path(origin).resolve().is_relative_to(repo.resolve())


def _stamp(repo: Path, extras: str) -> str:
    return hashlib.sha256((repo / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()


def _stale(repo: Path, venv: Path, extras: str) -> bool:
    stamp = venv / ".nnscratch-stamp"
    return not stamp.exists() or stamp.read_text() != _stamp(repo, extras)


def _install(repo: Path, venv: Path, extras: str) -> None:
    python = venv / "bin" / "python"
    if not python.exists():
        _say(f"creating {venv} (first run only)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    started = time.monotonic()
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    _say("upgrading pip")
    subprocess.run([*pip, "--quiet", "--upgrade", "pip"], check=True)
    _say(f"installing nnscratch[{extras}] and its dependencies into {venv} "
         "(a few minutes on a fresh machine; pip's progress follows)")
    subprocess.run([*pip, "--editable", f"{repo}[{extras}]"], check=True)  # pip's own lines show progress
    (venv / ".nnscratch-stamp").write_text(_stamp(repo, extras))
    _say(f"environment ready in {time.monotonic() - started:.0f} s; running your command")


def _say(message: str) -> None:
    print(f"[nnscratch bootstrap] {message}", file=sys.stderr, flush=True)


def load(repo: Path):  # noqa: ANN201 - returns this module, loaded without importing the package
    """Load this file as a module by path (importing ``nnscratch`` would need numpy)."""
    spec = importlib.util.spec_from_file_location("nnscratch_bootstrap", repo / "nnscratch" / "_bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
