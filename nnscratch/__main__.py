"""Command line without Hydra: ``python -m nnscratch train --hidden-sizes 128 64 --lr 0.1 ...``.

For tracked runs and sweeps use ``train.py``; ``train`` needs nothing but numpy. ``rerun RUN_ID``
trains a tracked run (a sweep child too) again from its MLflow record and compares the two.
"""
from __future__ import annotations

import argparse
import logging
import time

from . import MLP, fit, make_generators, save, train_val_split
from .metrics import evaluate
from .optimizers import OPTIMIZERS

log = logging.getLogger("nnscratch")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nnscratch", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train an MLP on a dataset and print its test accuracy")
    train.add_argument("--dataset", default="mnist", choices=["mnist", "fashion_mnist", "binary_mnist"])
    train.add_argument("--hidden-sizes", type=int, nargs="*", default=[128, 64])
    train.add_argument("--activation", default="relu", choices=["relu", "leaky_relu", "tanh", "sigmoid"])
    train.add_argument("--init", default="he", choices=["he", "xavier", "small"])
    train.add_argument("--optimizer", default="sgd", choices=sorted(OPTIMIZERS))
    train.add_argument("--lr", type=float, default=0.1)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--epochs", type=int, default=5)
    train.add_argument("--keep-prob", type=float, default=1.0)
    train.add_argument("--l2", type=float, default=0.0)
    train.add_argument("--val-fraction", type=float, default=0.0)
    train.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--save", metavar="PATH", help="write the trained model to PATH.npz + PATH.json")
    rerun = commands.add_parser("rerun", help="train a tracked run again from its MLflow record and compare")
    rerun.add_argument("run_id", help="MLflow run id (a sweep's child run works too)")
    rerun.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                       help="changes to the recorded config, e.g. dtype=float64 (reported as differences)")
    rerun.add_argument("--tracking-uri", metavar="URI", help="store of the run (default: $MLFLOW_TRACKING_URI, else "
                                              "sqlite:///mlflow.db in the current directory)")
    rerun.add_argument("--strict", action="store_true",
                       help="stop before training if the run was made from a dirty tree or another commit")
    rerun.add_argument("--blas-threads", type=_positive_int, metavar="N",
                       help="BLAS threads to train with (default: as recorded)")
    return parser


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return int(text)


def train(args: argparse.Namespace) -> dict[str, float]:
    """Train as the arguments say; returns the final metrics."""
    from .data import load_dataset

    data = load_dataset(args.dataset, dtype=args.dtype)
    gens = make_generators(args.seed)
    model = MLP(
        data.n_features, args.hidden_sizes, 1 if data.n_classes == 2 else data.n_classes,
        activation=args.activation, init=args.init, keep_prob=args.keep_prob, dtype=args.dtype,
        rng=gens.init, dropout_rng=gens.dropout,
    )
    X, y, validation = data.X_train, data.y_train, None
    if args.val_fraction > 0:
        X, y, X_val, y_val = train_val_split(X, y, args.val_fraction, gens.split)
        validation = (X_val, y_val)
    optimizer = OPTIMIZERS[args.optimizer](lr=args.lr)
    start = time.perf_counter()
    history = fit(model, optimizer, X, y, epochs=args.epochs, batch_size=args.batch_size, l2=args.l2,
                  validation=validation, rng=gens.shuffle, callbacks=[_LogEpoch(args.epochs)])
    test = evaluate(model, data.X_test, data.y_test)
    if args.save:
        save(model, args.save)
    return {**history.last, "test/loss": test["loss"], "test/acc": test["acc"],
            "train_time": time.perf_counter() - start}


class _LogEpoch:
    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        shown = " ".join(f"{k}={v:.4f}" for k, v in metrics.items() if k != "lr")
        log.info("epoch %d/%d %s", epoch, self.epochs, shown)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "rerun":  # its warnings must read as warnings
        from .rerun import main as rerun_main

        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        raise SystemExit(rerun_main(args))
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    metrics = train(args)
    print(f"test accuracy {100 * metrics['test/acc']:.2f}% (test loss {metrics['test/loss']:.4f}, "
          f"{metrics['train_time']:.1f} s, {args.dtype})")


if __name__ == "__main__":
    main()
