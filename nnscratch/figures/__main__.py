"""``python -m nnscratch.figures RUN_ID [--out DIR] [--tracking-uri URI] [--no-log] [--no-data]``

Regenerates a logged run's figures (learning curves, confusion matrix, first-layer weights,
dataset preview, hidden activations, misclassified test images) into DIR (default
``figures/<RUN_ID>``) and logs them to the run under ``figures/`` unless ``--no-log``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nnscratch.figures",
                                     description="Regenerate the figures of a logged MLflow run.")
    parser.add_argument("run_id", metavar="RUN_ID")
    parser.add_argument("--out", type=Path, help="output directory (default <tmp>/nnscratch-figures/RUN_ID, "
                        "outside the checkout: the figures are logged to the run)")
    parser.add_argument("--tracking-uri", help="MLflow store (default $MLFLOW_TRACKING_URI or ./mlflow.db)")
    parser.add_argument("--no-log", action="store_true", help="only write files, do not log to the run")
    parser.add_argument("--no-data", action="store_true",
                        help="skip the figures that need the dataset (preview, activations, misclassified)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow.exceptions import MlflowException

    from nnscratch.figures.from_run import regenerate
    from nnscratch.model_uri import default_tracking_uri

    uri = args.tracking_uri or default_tracking_uri()
    out = args.out or Path(tempfile.gettempdir()) / "nnscratch-figures" / args.run_id
    try:
        written = regenerate(args.run_id, uri, out, log_to_run=not args.no_log, with_data=not args.no_data)
    except MlflowException as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
