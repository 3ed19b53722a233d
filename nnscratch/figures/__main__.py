"""``python -m nnscratch.figures RUN_ID [--out DIR] [--tracking-uri URI] [--no-log] [--no-data] [--missing]``

Draws a logged run's full figure set (learning curves, confusion matrix, first-layer weights,
dataset preview, hidden activations, misclassified test images) and logs it to the run where
train.py puts it: ``learning_curves.png`` and ``confusion_matrix.png`` at the artifact root, the
others under ``figures/``. ``--out DIR`` also keeps the PNG files in DIR; ``--no-log`` only writes
them there. A sweep child records only the two root figures; this gives it the rest.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nnscratch.figures",
                                     description="Draw the full figure set of a logged MLflow run into the run.")
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("--out", type=Path, help="also write the PNG files into this directory")
    parser.add_argument("--tracking-uri", help="MLflow store (default $MLFLOW_TRACKING_URI or ./mlflow.db)")
    parser.add_argument("--no-log", action="store_true", help="do not log to the run (needs --out)")
    parser.add_argument("--no-data", action="store_true",
                        help="skip the figures that need the dataset (preview, activations, misclassified)")
    parser.add_argument("--missing", action="store_true", help="draw only the figures the run does not have yet")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.no_log and args.out is None:
        parser.error("--no-log needs --out DIR (otherwise nothing would be kept)")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow.exceptions import MlflowException

    from nnscratch.figures.from_run import regenerate
    from nnscratch.model_uri import default_tracking_uri
    from nnscratch.tracking.artifacts import figure_path

    uri = args.tracking_uri or default_tracking_uri()
    try:
        drawn = regenerate(args.run_id, uri, args.out, log_to_run=not args.no_log, with_data=not args.no_data,
                           missing_only=args.missing)
    except MlflowException as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    for name in drawn:
        print(args.out / f"{name}.png" if args.no_log else f"runs:/{args.run_id}/{figure_path(name)}")
    return 0 if drawn or args.missing else 1


if __name__ == "__main__":
    sys.exit(main())
