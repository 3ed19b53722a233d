"""Item 4: wall time to 98% test accuracy on MNIST, deep net with Adam at batch 256.

Each framework trains from its own initialisation, evaluates the test set after every epoch and
stops at the target; the time includes those evaluations. Minutes per run, so it only runs when
asked for (``--only 4``) and repeats ``--tta-repeats`` times (default 1).
"""
from __future__ import annotations

import time
from typing import Any

import nnscratch as nn
from benchmarks.common import Data, ItemResult, Row, Settings, load_data, log, net_label, torch_available

BATCH = 256
TARGET = 0.98


class StopAtTarget:
    """fit callback: record the time each epoch ends; stop once val/acc reaches the target."""

    def __init__(self, target: float) -> None:
        self.target, self.start = target, time.perf_counter()
        self.curve: list[tuple[float, float]] = []

    def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        self.curve.append((time.perf_counter() - self.start, metrics["val/acc"]))
        log.info("nnscratch epoch %d: test acc %.4f at %.0f s", epoch, *self.curve[-1][::-1])
        if metrics["val/acc"] >= self.target:
            raise nn.StopTraining


def nnscratch_run(data: Data, sizes: list[int], lr: float, max_epochs: int, target: float) -> dict[str, Any]:
    gens = nn.make_generators(0)
    model = nn.MLP.from_layer_sizes(sizes, rng=gens.init, dropout_rng=gens.dropout)
    stop = StopAtTarget(target)
    nn.fit(model, nn.Adam(lr), data.X_train, data.y_train, epochs=max_epochs, batch_size=BATCH,
           validation=(data.X_test, data.y_test), rng=gens.shuffle, callbacks=[stop])
    return _outcome(stop.curve, target)


def pytorch_run(data: Data, sizes: list[int], lr: float, max_epochs: int, target: float) -> dict[str, Any]:
    from benchmarks.torch_reference import Trainer

    trainer = Trainer(sizes, "adam", lr, data.X_train, data.y_train)
    start, curve = time.perf_counter(), []
    for _ in range(max_epochs):
        trainer.train_epoch(BATCH)
        curve.append((time.perf_counter() - start, trainer.accuracy(data.X_test, data.y_test)))
        log.info("pytorch epoch %d: test acc %.4f at %.0f s", len(curve), *curve[-1][::-1])
        if curve[-1][1] >= target:
            break
    return _outcome(curve, target)


def _outcome(curve: list[tuple[float, float]], target: float) -> dict[str, Any]:
    reached = curve[-1][1] >= target
    return {"reached": reached, "seconds": curve[-1][0] if reached else None, "epochs": len(curve),
            "curve": [{"seconds": s, "test_acc": a} for s, a in curve]}


def run(settings: Settings, context: dict[str, Any]) -> ItemResult:
    data = load_data(settings, n_train=1024 if settings.quick else None)
    sizes, max_epochs = settings.deep_net, 2 if settings.quick else settings.max_epochs
    runs: dict[str, list[dict[str, Any]]] = {"nnscratch": [], "pytorch": []}
    use_torch = torch_available(settings)
    for _ in range(settings.tta_repeats):
        runs["nnscratch"].append(nnscratch_run(data, sizes, settings.tta_lr, max_epochs, TARGET))
        if use_torch:
            runs["pytorch"].append(pytorch_run(data, sizes, settings.tta_lr, max_epochs, TARGET))
    summary = {name: _median_run(r) for name, r in runs.items() if r}
    details = {"target": TARGET, "lr": settings.tta_lr, "batch_size": BATCH, "max_epochs": max_epochs, "runs": runs,
               "summary": summary}
    ours, theirs = summary["nnscratch"], summary.get("pytorch")
    ratio = ""
    if theirs and ours["seconds"] and theirs["seconds"]:
        details["ratio_to_pytorch"] = ours["seconds"] / theirs["seconds"]
        ratio = f"{details['ratio_to_pytorch']:.2f}x PyTorch"
    rows = [Row("4 time to 98%", f"{net_label(sizes)}, Adam lr {settings.tta_lr:g}, batch {BATCH}: seconds (epochs)",
                nnscratch=_text(ours), pytorch=_text(theirs) if theirs else "", ratio=ratio,
                note=f"{settings.tta_repeats} run(s) each, median; includes a test evaluation per epoch")]
    return ItemResult(rows, details)


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median run by time, a run that missed the target counting as the slowest."""
    ordered = sorted(runs, key=lambda r: r["seconds"] if r["reached"] else float("inf"))
    middle = ordered[(len(ordered) - 1) // 2]
    return {"seconds": middle["seconds"], "epochs": middle["epochs"]}


def _text(summary: dict[str, Any]) -> str:
    if summary["seconds"] is None:
        return f"not reached in {summary['epochs']} epochs"
    return f"{summary['seconds']:.1f} ({summary['epochs']})"
