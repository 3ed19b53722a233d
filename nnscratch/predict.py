"""Classify your own digit images with a trained model.

Usage::

    python -m nnscratch.predict --run RUN_ID IMAGE...
    python -m nnscratch.predict --model PATH_OR_URI IMAGE...      # checkpoint, directory, models:/name@alias

IMAGE may be a file (PNG, JPEG, ... any size, light or dark background), a directory
or a glob pattern. Each image is converted the way MNIST was made
(:mod:`nnscratch.images`), then one line per image gives the predicted label and the
top-3 probabilities. An unreadable image gets an error line on stderr and the others
still run; the exit status is then 1. When the model cannot be loaded (nothing there, a
malformed or inconsistent checkpoint, class names or MLmodel file), one line naming the file
goes to stderr and the exit status is 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from nnscratch.images import ImageError, expand_image_args, preprocess_image
from nnscratch.model_uri import LoadedModel, ModelNotFoundError, load_model


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one image: label and the ``k`` most probable classes."""

    path: Path
    label: str
    top: list[tuple[str, float]]

    def format(self) -> str:
        ranked = ", ".join(f"{name} {p:.1%}" for name, p in self.top)
        return f"{self.path}: {self.label}  ({ranked})"


def top_k(proba: np.ndarray, class_names: Sequence[str], k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` most probable (class name, probability) pairs, most probable first.

    Parameters
    ----------
    proba : ndarray, shape (C,)
    """
    order = np.argsort(-proba, kind="stable")[: min(k, len(proba))]
    return [(class_names[i], float(proba[i])) for i in order]


def classify(loaded: LoadedModel, paths: Sequence[Path], k: int = 3) -> tuple[list[Prediction], list[str]]:
    """Preprocess and classify each image; unreadable ones become error messages.

    Returns
    -------
    predictions : one per readable image, in input order
    errors : one message per image that could not be used
    """
    rows, kept, errors = [], [], []
    for path in paths:
        try:
            rows.append(preprocess_image(path))
            kept.append(path)
        except ImageError as exc:
            errors.append(str(exc))
    if not rows:
        return [], errors
    dtype = next(iter(loaded.model.parameters.values())).dtype
    proba = loaded.model.predict_proba(np.stack(rows).astype(dtype, copy=False))
    names = loaded.class_names
    preds = [Prediction(p, names[int(np.argmax(row))], top_k(row, names, k)) for p, row in zip(kept, proba)]
    return preds, errors


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nnscratch.predict", description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", metavar="RUN_ID", help="MLflow run id whose logged model to use")
    source.add_argument("--model", metavar="PATH_OR_URI",
                        help="checkpoint path, model directory, or MLflow URI (models:/name@alias, runs:/...)")
    parser.add_argument("--tracking-uri", help="MLflow store (default $MLFLOW_TRACKING_URI or ./mlflow.db)")
    parser.add_argument("--top", type=int, default=3, help="how many probabilities to print (default 3)")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files, directories or glob patterns")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        loaded = load_model(args.model, run_id=args.run, tracking_uri=args.tracking_uri)
    except (ModelNotFoundError, ValueError, OSError) as exc:
        print(f"error: cannot load the model: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    paths = expand_image_args(args.images)
    predictions, errors = classify(loaded, paths, k=args.top)
    print(f"model: {loaded.source} ({' -> '.join(map(str, loaded.model.layer_sizes))})")
    for prediction in predictions:
        print(prediction.format())
    for message in errors:
        print(f"error: {message}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
