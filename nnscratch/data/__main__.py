"""Command line: ``python -m nnscratch.data fetch NAME...`` (prefetch into the cache) and ``info NAME``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import numpy as np

from .cache import CachedArrays
from .datasets import binary_split, check_digits
from .errors import DataUnavailableError
from .fetch import fetch_dataset
from .registry import DATASET_NAMES, get_spec
from .sources import SOURCE_NAMES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nnscratch.data", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO level)")
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="fetch, verify and cache data sets")
    fetch.add_argument("names", nargs="+", choices=DATASET_NAMES, metavar="NAME",
                       help=f"one or more of {', '.join(DATASET_NAMES)}")
    fetch.add_argument("--force", action="store_true", help="fetch again even if the cache is valid")
    info = commands.add_parser("info", help="print counts, per-class counts, mean pixel and source")
    info.add_argument("name", choices=DATASET_NAMES, metavar="NAME", help=f"one of {', '.join(DATASET_NAMES)}")
    info.add_argument("--digits", nargs=2, type=int, default=(0, 1), metavar="D",
                      help="for binary_mnist: the two digits kept (default 0 1)")
    for sub in (fetch, info):
        sub.add_argument("--data-dir", help="directory holding the four IDX files (default $NNSCRATCH_DATA_DIR)")
        sub.add_argument("--cache-dir", help="cache root (default $NNSCRATCH_CACHE_DIR or ~/.cache/nnscratch)")
        sub.add_argument("--sources", nargs="+", choices=SOURCE_NAMES, metavar="SOURCE",
                         help=f"sources to try in order, from {', '.join(SOURCE_NAMES)} (default: all that apply)")
    return parser


def _splits(name: str, cached: CachedArrays, digits: Sequence[int]) -> tuple[list[str], dict[str, tuple]]:
    """Class names and ``{"train"/"test": (uint8 images (n, 28, 28), labels (n,))}`` as the data set sees them."""
    splits = {"train": (cached.train_images, cached.train_labels), "test": (cached.test_images, cached.test_labels)}
    if name != "binary_mnist":
        return list(get_spec(name).class_names), splits
    pair = check_digits(digits)
    return [str(d) for d in pair], {key: binary_split(*value, pair) for key, value in splits.items()}


def _info_lines(name: str, cached: CachedArrays, digits: Sequence[int]) -> list[str]:
    class_names, splits = _splits(name, cached, digits)
    (train_images, train_labels), (_, test_labels) = splits["train"], splits["test"]
    train = np.bincount(train_labels, minlength=len(class_names))
    test = np.bincount(test_labels, minlength=len(class_names))
    lines = [f"data set     {name}", f"source       {cached.source}", f"cache        {cached.directory}",
             f"train        {len(train_labels)} images of {tuple(train_images.shape[1:])}",
             f"test         {len(test_labels)} images",
             f"mean pixel   {train_images.mean(dtype=np.float64):.3f} (training set, 0..255 scale)",
             "class              train   test"]
    for i, (cls, n_train, n_test) in enumerate(zip(class_names, train, test, strict=True)):
        lines.append(f"{i:>2} {cls:<14}{n_train:>6} {n_test:>6}")
    lines += [f"sha256       {digest}  {file}" for file, digest in sorted(cached.sha256.items())]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 ok, 1 data unavailable)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    # binary_mnist is stored as mnist: fetch each stored data set once
    names = list(dict.fromkeys(get_spec(n).name for n in args.names)) if args.command == "fetch" else [args.name]
    status = 0
    for name in names:
        try:
            cached = fetch_dataset(name, data_dir=args.data_dir, cache_dir=args.cache_dir, sources=args.sources,
                                   force=args.command == "fetch" and args.force)
            lines = _info_lines(name, cached, args.digits) if args.command == "info" else [
                f"{name}: ok ({len(cached.train_labels)} train / {len(cached.test_labels)} test) "
                f"from {cached.source}, cached in {cached.directory}"]
        except (DataUnavailableError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
            continue
        print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
