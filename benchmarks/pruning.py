"""Pruning benchmark: the ``random_3layer`` sweep without and with median pruning.

    python -m benchmarks.pruning                       # 12 trials x 5 epochs, train_size 5000, 1 job
    python -m benchmarks.pruning --trials 16 --epochs 6 --train-size 10000 --jobs 2

Runs ``train.py -m +sweep=random_3layer`` twice, one after the other, each in its own scratch
directory (``--workdir``/<pruner>: journal, ``multirun/``, log; MLflow is off unless ``--tracking``),
with the same sampler seed, trials and epochs: once with ``hydra/sweeper/pruner=none`` and once with
``hydra/sweeper/pruner=median``. The random sampler draws the same parameters in both sweeps (its
draws do not depend on the results) and training is seeded, so the two sweeps train the same networks
and differ only in the epochs the pruner saves. With one job (the default) the pruning decisions are
deterministic as well; with ``--jobs 2`` they depend on which trials have finished when one reports.

Both studies are then read from their journal files with Optuna. Printed and written to
``benchmarks/results/pruning.json``: total epochs trained (sum over trials of the epochs each
reported, i.e. its intermediate values), trials pruned, best value (``val/acc`` of the last epoch),
wall time and CPU time of each sweep (the sweep process and its job processes; other load on the
machine disturbs it less than wall time), and the difference of the best values, which must stay
within ``--tolerance`` (default 0.3 accuracy points). Exit status 1 when it does not or a sweep failed.

Pruning steps are epochs 1, 2, ... and Optuna's median pruner may prune from step ==
``n_warmup_steps``, so ``--warmup-steps 2`` (the default) never prunes on the first epoch alone.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
SWEEP = "random_3layer"
PRUNERS = ("none", "median")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pruning", description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=12, help="trials per sweep (default 12)")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per trial (default 5)")
    parser.add_argument("--train-size", type=int, default=5000, help="MNIST training subset (default 5000)")
    parser.add_argument("--test-size", type=int, default=1000, help="MNIST test subset (default 1000)")
    parser.add_argument("--jobs", type=int, default=1, help="trials at a time, hydra.sweeper.n_jobs (default 1)")
    parser.add_argument("--seed", type=int, default=42, help="sampler seed (default 42, as in the sweep file)")
    parser.add_argument("--startup-trials", type=int, default=4,
                        help="median pruner: complete trials before any pruning (default 4)")
    parser.add_argument("--warmup-steps", type=int, default=2,
                        help="median pruner: first epoch that may be pruned (Optuna prunes from step == "
                             "n_warmup_steps and epochs are reported as steps 1, 2, ...; default 2: never "
                             "on the first epoch alone)")
    parser.add_argument("--tolerance", type=float, default=0.3,
                        help="allowed |best(none) - best(median)| in accuracy points (default 0.3)")
    parser.add_argument("--tracking", action="store_true",
                        help="keep MLflow tracking on (off by default: the benchmark is about epochs)")
    parser.add_argument("--workdir", type=Path, default=RESULTS / "pruning_work",
                        help="scratch root; each sweep gets WORKDIR/<pruner>, emptied first")
    parser.add_argument("--out", type=Path, default=RESULTS / "pruning.json")
    return parser.parse_args(argv)


def sweep_command(pruner: str, args: argparse.Namespace, workdir: Path) -> list[str]:
    """The ``train.py -m`` command of one sweep."""
    command = [sys.executable, str(REPO / "train.py"), "-m", f"+sweep={SWEEP}",
               f"hydra/sweeper/pruner={pruner}",
               f"hydra.sweeper.study_name=pruning_{pruner}",
               f"hydra.sweeper.storage={workdir / 'study.journal'}",
               f"hydra.sweeper.n_trials={args.trials}", f"hydra.sweeper.n_jobs={args.jobs}",
               f"hydra.sweeper.sampler.seed={args.seed}",
               f"epochs={args.epochs}", f"data.train_size={args.train_size}", f"data.test_size={args.test_size}",
               f"hydra.sweep.dir={workdir / 'multirun'}", "progress=none"]
    if pruner == "median":
        command += [f"hydra.sweeper.pruner.n_startup_trials={args.startup_trials}",
                    f"hydra.sweeper.pruner.n_warmup_steps={args.warmup_steps}"]
    if not args.tracking:
        command.append("tracking=none")
    return command


def run_sweep(pruner: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one sweep in a fresh scratch directory; wall seconds, command, log file, return code."""
    workdir = (args.workdir / pruner).resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    command = sweep_command(pruner, args, workdir)
    env = {**os.environ, "NNSCRATCH_NO_BOOTSTRAP": "1", "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}"}
    env.pop("NNSCRATCH_OPTUNA_STORAGE", None)
    print(f"[{pruner}] {' '.join(command)}", file=sys.stderr, flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(workdir / "sweep.log", "w") as log:
        returncode = subprocess.run(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of the sweep and its (reaped) job processes: less sensitive to other load than wall time
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"[{pruner}] {wall:.1f} s wall, {cpu:.1f} s CPU, exit {returncode}", file=sys.stderr, flush=True)
    return {"pruner": pruner, "workdir": str(workdir), "command": command, "returncode": returncode,
            "wall_s": wall, "cpu_s": cpu, "log": str(workdir / "sweep.log")}


def study_summary(pruner: str, storage: Path, epochs: int) -> dict[str, Any]:
    """Read the study back from its journal: states, epochs trained, best trial."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage
    from optuna.trial import TrialState

    study = optuna.load_study(study_name=f"pruning_{pruner}",
                              storage=JournalStorage(JournalFileBackend(str(storage))))
    trials = study.get_trials(deepcopy=False)
    per_trial = []
    for t in trials:
        reported = len(t.intermediate_values)
        if reported == 0 and t.state == TrialState.COMPLETE:  # a task that reports nothing ran every epoch
            reported = epochs
        per_trial.append({"number": t.number, "state": t.state.name, "value": t.value, "epochs": reported,
                          "pruned_at": t.user_attrs.get("pruned_at"), "params": t.params,
                          "duration_s": t.duration.total_seconds() if t.duration else None})
    states = {s.name: sum(1 for t in trials if t.state == s) for s in TrialState}
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = study.best_trial if complete else None
    return {"study": study.study_name, "storage": str(storage), "trials": len(trials),
            "states": {k: v for k, v in states.items() if v},
            "pruned": states["PRUNED"], "epochs_trained": sum(p["epochs"] for p in per_trial),
            "epochs_possible": epochs * len(trials),
            "best_value": best.value if best else None, "best_trial": best.number if best else None,
            "best_params": best.params if best else None, "per_trial": per_trial}


def table(results: dict[str, dict[str, Any]]) -> str:
    rows = [("", *PRUNERS),
            ("trials (states)", *(f"{r['trials']} ({', '.join(f'{k} {v}' for k, v in r['states'].items())})"
                                  for r in results.values())),
            ("epochs trained", *(f"{r['epochs_trained']} / {r['epochs_possible']}" for r in results.values())),
            ("trials pruned", *(str(r["pruned"]) for r in results.values())),
            ("best val/acc (trial)", *(f"{r['best_value']:.4f} (#{r['best_trial']})" if r["best_value"] is not None
                                       else "-" for r in results.values())),
            ("wall time", *(f"{r['wall_s']:.1f} s" for r in results.values())),
            ("CPU time (all processes)", *(f"{r['cpu_s']:.1f} s" for r in results.values())),
            ("sum of trial durations", *(f"{sum(p['duration_s'] or 0 for p in r.get('per_trial', [])):.1f} s"
                                         for r in results.values()))]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, dict[str, Any]] = {}
    for pruner in PRUNERS:  # one after the other: the sweeps must not compete for the cores
        run = run_sweep(pruner, args)
        summary = study_summary(pruner, Path(run["workdir"]) / "study.journal", args.epochs) \
            if (Path(run["workdir"]) / "study.journal").exists() else {
                "trials": 0, "states": {}, "pruned": 0, "epochs_trained": 0, "epochs_possible": 0,
                "best_value": None, "best_trial": None}
        results[pruner] = {**run, **summary}
    none, median = results["none"], results["median"]
    ok = all(r["returncode"] == 0 and r["best_value"] is not None for r in results.values())
    diff_points = 100 * (none["best_value"] - median["best_value"]) if ok else None
    saved = 1 - median["epochs_trained"] / none["epochs_trained"] if ok and none["epochs_trained"] else None
    within = ok and abs(diff_points) <= args.tolerance
    print(table(results))
    if ok:
        print(f"best(none) - best(median) = {diff_points:+.2f} points (tolerance {args.tolerance}): "
              f"{'OK' if within else 'FAIL'}; median pruning trained {median['epochs_trained']} of "
              f"{none['epochs_trained']} epochs ({100 * saved:.0f} % saved), wall time "
              f"{none['wall_s']:.0f} s -> {median['wall_s']:.0f} s, CPU time {none['cpu_s']:.0f} s -> "
              f"{median['cpu_s']:.0f} s (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: "
              "wall time is only meaningful on an idle machine)")
    else:
        print("a sweep failed; see " + ", ".join(r["log"] for r in results.values() if r["returncode"]))
    report = {"sweep": SWEEP, "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "python": platform.python_version(), "machine": platform.node(), "cpus": os.cpu_count(),
              "loadavg_end": os.getloadavg(), "results": results, "best_diff_points": diff_points,
              "epochs_saved_fraction": saved, "within_tolerance": within}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))
    print(f"written {args.out}")
    return 0 if within else 1


if __name__ == "__main__":
    raise SystemExit(main())
