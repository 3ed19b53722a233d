"""Epoch times of the deep8 net with negligible values flushed to zero, or with subnormals only.

    python -m benchmarks.flush_creep --epochs 12                    # as the engine runs
    python -m benchmarks.flush_creep --epochs 12 --subnormals-only  # the earlier flush rule

Trains 784-3000-2500-2000-1500-1000-500-10 as ``experiments/deep8_mnist`` does (He init, Adam
0.001 with cosine decay over 30 epochs, batch 256, keep_prob 0.7, L2 0.05, 54,000 MNIST training
images, seed 42) and prints each epoch's time and training loss, then the test accuracy. Under the
L2 term, weights with no data gradient shrink toward 0; without :data:`FLUSH_BELOW` they pass
through values that make Adam's arithmetic subnormal and the epochs slow down as they accumulate.
"""
from __future__ import annotations

import argparse

import nnscratch as nn
import nnscratch.optimizers
from nnscratch.data import load_dataset
from nnscratch.schedules import Cosine

DEEP8 = [784, 3000, 2500, 2000, 1500, 1000, 500, 10]


class EpochPrinter:
    def on_train_begin(self, model: nn.MLP) -> None: ...

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        print(f"epoch {epoch:2d}: {metrics['epoch_time']:5.1f} s, train loss {metrics['train/loss']:.5f}", flush=True)

    def on_train_end(self, history: nn.History) -> None: ...


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--subnormals-only", action="store_true", help="flush only subnormal values")
    args = parser.parse_args()
    if args.subnormals_only:
        nnscratch.optimizers.FLUSH_BELOW = {}
    data = load_dataset("mnist")
    gens = nn.make_generators(42)
    model = nn.MLP.from_layer_sizes(DEEP8, init="he", keep_prob=0.7, rng=gens.init, dropout_rng=gens.dropout)
    nn.fit(model, nn.Adam(0.001), data.X_train[:54000], data.y_train[:54000], epochs=args.epochs,
           batch_size=256, l2=0.05, schedule=Cosine(30), rng=gens.shuffle, callbacks=[EpochPrinter()])
    print(f"test accuracy {nn.metrics.evaluate(model, data.X_test, data.y_test)['acc']:.4f}")


if __name__ == "__main__":
    main()
