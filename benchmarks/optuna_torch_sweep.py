"""What a PyTorch user writes instead of ``train.py -m +sweep=random_3layer``: a torch MLP, Optuna's
``study.optimize`` with TPE and Optuna's MLflow callback (optuna-integration) logging params and the
metric of every trial. Benchmark-only (``pip install 'nnscratch[bench]'``).

    python -m benchmarks.optuna_torch_sweep --trials 16 --epochs 3 --jobs 2 --tracking-uri sqlite:///t.db

Same search as ``conf/sweep/random_3layer.yaml``: the space (lr log-uniform in [0.003, 0.3], hidden
sizes, batch size, keep probability, L2), TPE seeded 42, the same MNIST subsets (10,000 training
images, 10 % of them held out for validation), SGD, and two trials at a time (Optuna's threads; each
trial's torch ops on one thread, as each of our jobs gets one BLAS thread). Prints one JSON line:
``{"best_val_acc": ..., "optimize_s": ..., "trials": ...}``.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import optuna
import torch
from optuna_integration.mlflow import MLflowCallback
from torch import nn

import nnscratch
from nnscratch.data import load_dataset

HIDDEN = {"[64,32]": [64, 32], "[128,64]": [128, 64], "[256,128]": [256, 128], "[512,256]": [512, 256]}


def split(train_size: int, seed: int = 42) -> tuple[np.ndarray, ...]:
    """The training subset and its validation split, drawn as train.py draws them."""
    data = load_dataset("mnist")
    gens = nnscratch.make_generators(seed)
    keep = np.sort(gens.split.choice(len(data.y_train), size=train_size, replace=False))
    return nnscratch.train_val_split(data.X_train[keep], data.y_train[keep], 0.1, gens.split)


def network(hidden: list[int], keep_prob: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for n_in, n_out in zip([784, *hidden[:-1]], hidden):
        layers += [nn.Linear(n_in, n_out), nn.ReLU(), nn.Dropout(1.0 - keep_prob)]
    return nn.Sequential(*layers, nn.Linear(hidden[-1], 10))


def objective(data: tuple[np.ndarray, ...], epochs: int):
    X_train, y_train, X_val, y_val = (torch.from_numpy(a) for a in data)

    def run(trial: optuna.Trial) -> float:
        torch.set_num_threads(1)
        lr = trial.suggest_float("lr", 0.003, 0.3, log=True)
        hidden = HIDDEN[trial.suggest_categorical("hidden_sizes", list(HIDDEN))]
        batch_size = trial.suggest_categorical("batch_size", [32, 64, 128])
        keep_prob = trial.suggest_float("keep_prob", 0.6, 1.0)
        l2 = trial.suggest_float("l2", 1e-6, 1e-2, log=True)
        torch.manual_seed(trial.number)
        model = network(hidden, keep_prob)
        # nnscratch's L2 term is l2 / (2 * batch) * ||W||^2 per batch: weight decay l2 / batch
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=l2 / batch_size)
        loss_fn = nn.CrossEntropyLoss()
        for _ in range(epochs):
            model.train()
            for index in torch.randperm(len(y_train)).split(batch_size):
                optimizer.zero_grad(set_to_none=True)
                loss_fn(model(X_train[index]), y_train[index]).backward()
                optimizer.step()
        model.eval()
        with torch.no_grad():
            return float((model(X_val).argmax(dim=1) == y_val).double().mean())

    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.optuna_torch_sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=10000)
    parser.add_argument("--tracking-uri", required=True)
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    callback = MLflowCallback(tracking_uri=args.tracking_uri, metric_name="val/acc")
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=42))
    data = split(args.train_size)
    start = time.perf_counter()
    study.optimize(objective(data, args.epochs), n_trials=args.trials, n_jobs=args.jobs, callbacks=[callback])
    print(json.dumps({"best_val_acc": study.best_value, "optimize_s": time.perf_counter() - start,
                      "trials": len(study.trials)}))


if __name__ == "__main__":
    main()
