"""Item 2: epoch time of 784-128-64-10 with SGD on MNIST at batch 32 and 256.

Contenders, interleaved in each repeat: ``nnscratch.fit`` (float32, and float64 for the accuracy
check), PyTorch CPU, and a tutorial-style float64 NumPy implementation (:mod:`benchmarks.tutorial_mlp`).
Every contender trains its own model for ``repeats`` epochs, one timed epoch per repeat; their test
accuracies afterwards check that the float32 engine matches float64 (within 0.3 points).
"""
from __future__ import annotations

from typing import Any

import numpy as np

import nnscratch as nn
from benchmarks.common import ItemResult, Row, Settings, load_data, net_label, torch_available
from benchmarks.step_phases import PHASES, step_profile
from benchmarks.timing import interleaved
from benchmarks.tutorial_mlp import TutorialMLP

LR = 0.1
BATCH_SIZES = (32, 256)


def nnscratch_contender(sizes: list[int], dtype: str, X: np.ndarray, y: np.ndarray, batch: int):
    gens = nn.make_generators(0)
    model = nn.MLP.from_layer_sizes(sizes, dtype=dtype, rng=gens.init, dropout_rng=gens.dropout)
    optimizer = nn.SGD(LR)

    def epoch() -> float:
        return nn.fit(model, optimizer, X, y, epochs=1, batch_size=batch, rng=gens.shuffle).last["epoch_time"]

    return model, epoch


def tutorial_contender(sizes: list[int], X: np.ndarray, y: np.ndarray, batch: int):
    model, rng = TutorialMLP(sizes, np.random.default_rng(0)), np.random.default_rng(1)

    def epoch() -> None:  # wall time is recorded
        model.train_epoch(X, y, batch, LR, rng)

    return model, epoch


def run(settings: Settings, context: dict[str, Any]) -> ItemResult:
    data = load_data(settings, n_train=2048 if settings.quick else None)
    sizes, repeats = settings.small_net, settings.repeats
    X64, X_test64 = data.X_train.astype(np.float64), data.X_test.astype(np.float64)
    use_torch = torch_available(settings)
    rows, details = [], {"data": data.source, "layer_sizes": sizes, "lr": LR, "batches": {}}
    label = net_label(sizes)
    for batch in BATCH_SIZES:
        model32, epoch32 = nnscratch_contender(sizes, "float32", data.X_train, data.y_train, batch)
        model64, epoch64 = nnscratch_contender(sizes, "float64", X64, data.y_train, batch)
        tutorial, tutorial_epoch = tutorial_contender(sizes, X64, data.y_train, batch)
        contenders = {"nnscratch": epoch32, "nnscratch_float64": epoch64, "tutorial_float64": tutorial_epoch}
        if use_torch:
            from benchmarks.torch_reference import Trainer

            trainer = Trainer(sizes, "sgd", LR, data.X_train, data.y_train)
            contenders["pytorch"] = lambda: trainer.train_epoch(batch)
        timings = interleaved(contenders, repeats)
        accuracy = {
            "nnscratch": nn.metrics.evaluate(model32, data.X_test, data.y_test)["acc"],
            "nnscratch_float64": nn.metrics.evaluate(model64, X_test64, data.y_test)["acc"],
            "tutorial_float64": tutorial.accuracy(X_test64, data.y_test),
        }
        if use_torch:
            accuracy["pytorch"] = trainer.accuracy(data.X_test, data.y_test)
        median = {name: t.median for name, t in timings.items()}
        steps = -(-len(data.y_train) // batch)
        entry = {"timings": {k: t.as_dict() for k, t in timings.items()}, "test_accuracy_after": accuracy,
                 "epochs_trained": repeats, "steps_per_epoch": steps,
                 "nnscratch_us_per_step": median["nnscratch"] / steps * 1e6,
                 "float32_minus_float64_points": 100 * (accuracy["nnscratch"] - accuracy["nnscratch_float64"])}
        ratio = f"{median['nnscratch'] / median['tutorial_float64']:.2f}x tutorial"
        pytorch = ""
        if use_torch:
            entry["ratio_to_pytorch"] = median["nnscratch"] / median["pytorch"]
            ratio = f"{entry['ratio_to_pytorch']:.2f}x PyTorch; " + ratio
            pytorch = f"{median['pytorch']:.3f}"
        entry["ratio_to_tutorial"] = median["nnscratch"] / median["tutorial_float64"]
        entry["step_profile_us"] = {"as_fit_runs": step_profile(sizes, data.X_train, data.y_train, batch, LR),
                                    "one_blas_thread": step_profile(sizes, data.X_train, data.y_train, batch, LR, threads=1)}
        details["batches"][str(batch)] = entry
        rows.append(Row("2 MNIST epoch", f"{label} SGD, batch {batch}: epoch time, s",
                        nnscratch=f"{median['nnscratch']:.3f}", pytorch=pytorch,
                        other=f"tutorial f64 {median['tutorial_float64']:.3f}; nnscratch f64 {median['nnscratch_float64']:.3f}",
                        ratio=ratio, note=f"{entry['nnscratch_us_per_step']:.0f} us/step"))
        rows.append(Row("2 MNIST epoch", f"batch {batch}: test accuracy after {repeats} epochs, %",
                        nnscratch=f"{100 * accuracy['nnscratch']:.2f}",
                        pytorch=f"{100 * accuracy['pytorch']:.2f}" if use_torch else "",
                        other=f"tutorial f64 {100 * accuracy['tutorial_float64']:.2f}; nnscratch f64 {100 * accuracy['nnscratch_float64']:.2f}",
                        ratio=f"f32 - f64: {entry['float32_minus_float64_points']:+.2f} points"))
        rows.append(_profile_row(batch, entry["step_profile_us"]))
    return ItemResult(rows, details)


def _profile_row(batch: int, profiles: dict[str, dict[str, float]]) -> Row:
    def phases(profile: dict[str, float]) -> str:
        return "; ".join(f"{phase} {profile[phase]:.0f}" for phase in PHASES)

    fit, single = profiles["as_fit_runs"], profiles["one_blas_thread"]
    return Row("2 MNIST epoch", f"batch {batch}: step profile, us per step (as fit runs)",
               nnscratch=f"{fit['step']:.0f}", other=f"{phases(fit)}; products alone {fit['gemms_alone']:.0f}",
               note=f"1 BLAS thread: {single['step']:.0f} ({phases(single)}; products alone {single['gemms_alone']:.0f})")
