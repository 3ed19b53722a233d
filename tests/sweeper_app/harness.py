"""Running the toy app (app.py) from the sweeper tests: in this process or as subprocesses.

In-process runs reuse this interpreter's imports (about a second per sweep); subprocesses are used
where processes are the point (joblib workers, SIGKILL, several workers on one study).
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import optuna
from hydra.core.global_hydra import GlobalHydra

APP = Path(__file__).resolve().with_name("app.py")


@lru_cache(maxsize=1)
def toy_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nnscratch_sweeper_toy_app", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sweep_args(sweep_dir: Path, study: str, *extra: str) -> list[str]:
    """Multirun arguments with a fixed sweep dir (so the default journal is sweep_dir/optuna/STUDY.journal)."""
    return ["-m", f"hydra.sweep.dir={sweep_dir}", f"hydra.sweeper.study_name={study}",
            f"log_file={sweep_dir.parent / (study + '.events.jsonl')}", *extra]


def run_in_process(args: list[str], cwd: Path) -> int:
    """Run the toy app's multirun here; returns the exit code (0 on success).

    Hydra's process-wide state (argv, working directory, logging handlers, GlobalHydra) is put back
    afterwards so later tests in the session see what they expect.
    """
    old_argv, old_cwd = sys.argv, os.getcwd()
    root = logging.getLogger()
    old_handlers, old_level = root.handlers[:], root.level
    sys.argv = [str(APP), *args]
    os.chdir(cwd)
    try:
        toy_app().main()
    except SystemExit as stop:
        return int(stop.code or 0)
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)
        for handler in root.handlers[:]:
            if handler not in old_handlers:
                root.removeHandler(handler)
                handler.close()
        root.handlers[:] = old_handlers
        root.setLevel(old_level)
        GlobalHydra.instance().clear()
    return 0


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, HYDRA_FULL_ERROR="1", PYTHONUNBUFFERED="1", **extra)
    env.pop("NNSCRATCH_OPTUNA_STORAGE", None)
    return env


def start(args: list[str], cwd: Path, log: Path, **env: str) -> subprocess.Popen:
    """Start the toy app as a subprocess, output to ``log``."""
    handle = open(log, "ab")  # noqa: SIM115 - owned by the process object
    return subprocess.Popen([sys.executable, str(APP), *args], cwd=cwd, stdout=handle, stderr=subprocess.STDOUT,
                            env=subprocess_env(**env))


def run(args: list[str], cwd: Path, log: Path, timeout: float = 120, **env: str) -> int:
    """Run the toy app as a subprocess to the end; returns its exit code."""
    process = start(args, cwd, log, **env)
    return process.wait(timeout=timeout)


def journal(sweep_dir: Path, study: str) -> Path:
    return sweep_dir / "optuna" / f"{study}.journal"


def load(storage: str | Path, study: str) -> optuna.Study:
    from nnscratch.sweeper.storage import load_study

    return load_study(study, str(storage))


def events(sweep_dir: Path, study: str, kind: str = "start") -> list[dict[str, Any]]:
    """The toy app's JSON-line events of one study (``start`` or ``end``)."""
    path = sweep_dir.parent / f"{study}.events.jsonl"
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [e for e in lines if e["event"] == kind]
