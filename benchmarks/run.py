"""Run the benchmarks: ``python -m benchmarks [--quick] [--only 1,2,...]`` or ``python benchmarks/run.py``.

Prints the environment, one Markdown table of every figure and one of the targets, and writes all
of it with the raw repeats to ``benchmarks/results/latest.json``.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # python benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import environment  # noqa: E402
from benchmarks.common import REPO, ItemResult, Row, Settings  # noqa: E402
from benchmarks.targets import check_all  # noqa: E402

log = logging.getLogger("benchmarks")

ITEMS = {
    "1": ("gemm", "GEMM peak for the networks' shapes"),
    "2": ("mnist_epoch", "784-128-64-10 epoch time on MNIST"),
    "3": ("deep_step", "deep net step time and GFLOP/s"),
    "4": ("time_to_accuracy", "time to 98% test accuracy (minutes; only with --only 4 or --all)"),
    "5": ("tracking", "tracking overhead of train.py"),
    "6": ("sweep", "sweep throughput, 2 workers vs 1"),
    "7": ("memory", "peak memory vs working set"),
    "8": ("sweep_tracking", "tracking cost of sweeps and of one run; vs PyTorch + Optuna's MLflowCallback "
                            "(about 30 minutes; only with --only 8 or --all)"),
}
DEFAULT_ITEMS = ["1", "2", "3", "5", "6", "7"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="items: " + "; ".join(f"{k} {v[1]}" for k, v in ITEMS.items()))
    parser.add_argument("--quick", action="store_true", help="tiny networks and data: checks the harness, not speed")
    parser.add_argument("--only", help="comma-separated items, e.g. 1,3 (default: all but 4)")
    parser.add_argument("--all", action="store_true", help="every item, including 4")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per figure; the median is reported (>= 3)")
    parser.add_argument("--data", choices=["mnist", "synthetic"], default=None,
                        help="training data (default: mnist; synthetic with --quick)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch columns even if it is installed")
    parser.add_argument("--tta-repeats", type=int, default=1, help="runs per framework for item 4")
    parser.add_argument("--max-epochs", type=int, default=20, help="epoch limit for item 4")
    parser.add_argument("--tta-lr", type=float, default=1e-4, help="Adam learning rate for item 4")
    parser.add_argument("--cases", default="", help="item 8 only: comma-separated subset of small,mnist12,single,versus")
    parser.add_argument("--threads", type=int, default=None,
                        help="limit every library to N threads (BLAS via threadpoolctl, PyTorch, nnscratch's "
                             "updates, subprocesses via the environment); default: as the machine is configured")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "latest.json")
    return parser.parse_args(argv)


def selected_items(args: argparse.Namespace) -> list[str]:
    if args.all:
        return list(ITEMS)
    if not args.only:
        return DEFAULT_ITEMS
    items = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = [item for item in items if item not in ITEMS]
    if unknown:
        raise SystemExit(f"unknown item(s) {unknown}; choose from {', '.join(ITEMS)}")
    return items


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def results_table(rows: list[Row]) -> str:
    return markdown_table(["item", "measure", "nnscratch", "PyTorch", "other", "ratio", "note"],
                          [[r.item, r.measure, r.nnscratch, r.pytorch, r.other, r.ratio, r.note] for r in rows])


def targets_table(targets: list[dict[str, Any]]) -> str:
    def value(t: dict[str, Any]) -> str:
        return "not measured" if t["value"] is None else f"{t['value']:.3g}{t['unit']}"

    marks = {True: "yes", False: "NO", None: "-"}
    return markdown_table(["target", "measured", "limit", "met"],
                          [[t["target"], value(t), f"{t['comparison']} {t['limit']:g}{t['unit']}", marks[t["met"]]]
                           for t in targets])


def limit_threads(threads: int, with_torch: bool) -> Any:
    """Run everything with ``threads`` threads: environment for subprocesses, threadpoolctl for the
    BLAS already loaded in this process, and PyTorch's intra-op pool when it is installed."""
    import os

    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NNSCRATCH_NUM_THREADS"):
        os.environ[variable] = str(threads)
    from threadpoolctl import threadpool_limits

    limits = threadpool_limits(threads)
    if with_torch:
        try:
            import torch

            torch.set_num_threads(threads)
        except ImportError:
            pass
    return limits


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # MLflow's usage reports: no traffic leaves the machine
    logging.basicConfig(level=logging.INFO, format="[benchmarks] %(message)s", stream=sys.stderr)
    if args.repeats < 3 and not args.quick:
        raise SystemExit("--repeats must be >= 3 (figures are medians of at least 3 repeats)")
    settings = Settings(quick=args.quick, repeats=args.repeats, data=args.data or ("synthetic" if args.quick else "mnist"),
                        torch=not args.no_torch, tta_repeats=args.tta_repeats, tta_lr=args.tta_lr, max_epochs=args.max_epochs,
                        workdir=args.out.parent / "work", cases=tuple(c for c in args.cases.split(",") if c))
    limits = limit_threads(args.threads, settings.torch) if args.threads else None  # kept alive for the whole run
    env = environment.collect(with_torch=settings.torch)
    env["thread_limit"] = args.threads
    print("\n".join(environment.summary(env)) + "\n", flush=True)
    started, context, rows, details = time.perf_counter(), {}, [], {}
    for item in selected_items(args):
        module_name, title = ITEMS[item]
        log.info("item %s: %s", item, title)
        module = importlib.import_module(f"benchmarks.{module_name}")
        result: ItemResult = module.run(settings, context)
        rows += result.rows
        details[item] = result.details
    targets = [t for t in check_all(details) if t["item"] in details]
    report = results_table(rows) + "\n\n" + targets_table(targets)
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    document = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(settings).items()},
                "environment": env, "items": details, "rows": [vars(r) for r in rows], "targets": targets,
                "report_markdown": report, "elapsed_s": time.perf_counter() - started,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    args.out.write_text(json.dumps(document, indent=1, default=str))
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
