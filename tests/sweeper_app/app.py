"""Toy Hydra app for the sweeper tests: a score of x and y built up over a fake epoch loop.

Every epoch reports ``val/score`` to the job's trial (when there is one) through
``nnscratch.sweeper.job.PruningCallback``, exactly as train.py does with ``val/acc``. Each start and
end is appended as a JSON line to ``log_file`` so tests can see which jobs ran, in which process.
"""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig

from nnscratch.config.hydra_main import main_options


def score(x: float, y: float) -> float:
    """Maximized at x = 1, y = 0."""
    return -((x - 1.0) ** 2) - y**2


def blas_threads() -> int | None:
    """Threads the BLAS libraries in this process may use right now (None if none is loaded)."""
    from threadpoolctl import threadpool_info

    counts = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
    return max(counts) if counts else None


def wait_until(path: str | None, timeout: float = 60.0) -> None:
    """Block until ``path`` exists (lets a test line up jobs of several workers)."""
    deadline = time.monotonic() + timeout
    while path and not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def terminate_launcher(log_file: str, jobs_started: int, timeout: float = 60.0) -> None:
    """SIGTERM to the launching process once ``jobs_started`` jobs have started; this job then runs on."""
    deadline = time.monotonic() + timeout
    while len(started_jobs(log_file)) < jobs_started and time.monotonic() < deadline:
        time.sleep(0.05)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a job that finishes after the signal
    os.kill(sweep_pid(), signal.SIGTERM)


def sweep_pid() -> int:
    """The sweep's own process: the nearest ancestor running this app (a joblib worker's parent is the
    forkserver it was forked from, not the sweep)."""
    import psutil

    for parent in psutil.Process().parents():
        if any(Path(arg).name == Path(__file__).name for arg in parent.cmdline()):
            return parent.pid
    return os.getppid()


def started_jobs(log_file: str) -> list[dict]:
    if not Path(log_file).exists():
        return []
    lines = Path(log_file).read_text().splitlines()
    return [e for e in map(json.loads, filter(None, lines)) if e["event"] == "start"]


def parent_command() -> str:
    """The command line of this job's parent process (the forkserver, for joblib workers)."""
    import psutil

    try:
        return " ".join(psutil.Process().parent().cmdline())
    except (psutil.Error, AttributeError):
        return ""


def log_event(path: str | None, **event: object) -> None:
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(event) + "\n")


@hydra.main(config_path=str(Path(__file__).resolve().parent / "conf"), config_name="config",
            **main_options("nnscratch.*"))
def main(cfg: DictConfig) -> float | list[float]:
    from nnscratch.sweeper.job import PruningCallback, current_trial

    trial = current_trial()
    number = trial.number if trial is not None else None
    callback = PruningCallback(trial, monitor="val/score") if trial is not None else None
    log_event(cfg.log_file, event="start", trial=number, x=cfg.x, y=cfg.y, pid=os.getpid(), cwd=os.getcwd(),
              parent=parent_command(),
              blas=blas_threads(), time=time.time(), slurm_job=os.environ.get("SLURM_JOB_ID"))
    wait_until(cfg.wait_for)
    if number is not None and number == cfg.terminate_launcher:
        terminate_launcher(cfg.log_file, cfg.jobs_started)
    if cfg.fail_above is not None and cfg.x > cfg.fail_above:
        raise RuntimeError(f"x={cfg.x} is above fail_above={cfg.fail_above}")
    value = score(cfg.x, cfg.y) - cfg.penalty_per_trial * (number or 0)
    pause = cfg.sleep * (cfg.odd_trial_slowdown if (number or 0) % 2 else 1.0)
    for epoch in range(1, cfg.epochs + 1):
        time.sleep(pause)
        if callback is not None:
            callback.on_epoch_end(epoch, {"val/score": value - (cfg.epochs - epoch) * 0.01})
    log_event(cfg.log_file, event="end", trial=number, x=cfg.x, y=cfg.y, pid=os.getpid(), time=time.time())
    Path("result.txt").write_text(str(value))
    if cfg.objectives == 2:
        return [value, abs(cfg.x) + abs(cfg.y)]
    return value


if __name__ == "__main__":
    main()
