"""Item 3: step time and achieved GFLOP/s of 784-3000-2500-2000-1500-1000-500-10 with Adam, batch 256.

The nnscratch step is timed through ``nnscratch.fit`` (batching, forward, loss, backward, Adam),
next to the forward+backward alone (``MLP.train_step``, no update) and a standalone full-buffer
``Adam.step``: Adam's share of the step is (step - forward+backward) / step. Achieved GFLOP/s counts
the step's matrix products (:func:`benchmarks.gemm.step_gemm_flops`) and is compared with the
shape-set GEMM peak of item 1 measured in the same run.
"""
from __future__ import annotations

from typing import Any

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import nnscratch as nn
from benchmarks import gemm
from benchmarks.common import ItemResult, Row, Settings, load_data, net_label, torch_available
from benchmarks.timing import interleaved, per_call

BATCH = 256
LR = 1e-4


def gemm_reference(settings: Settings, context: dict[str, Any]) -> dict[str, Any]:
    """Item 1's deep-net measurement from this run, measured now if item 1 did not run."""
    measured = context.get("gemm", {}).get("nets", {}).get("deep/256/float32")
    return measured or gemm.measure_net(settings.deep_net, BATCH, "float32", max(3, settings.repeats))


def copy_bandwidth(n_bytes: int, threads: int, repeats: int) -> float:
    """GB/s of ``np.copyto`` between two ``n_bytes`` arrays split over ``threads`` threads, counted
    as bytes read + bytes written (STREAM's convention): the memory roofline for Adam."""
    src = np.ones(n_bytes // 4, np.float32)
    dst = np.empty_like(src)
    bounds = [len(src) * i // threads for i in range(threads + 1)]
    parts = [(dst[a:b], src[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    with ThreadPoolExecutor(threads) as pool:
        def copy() -> None:
            list(pool.map(lambda p: np.copyto(*p), parts))

        copy()
        return 2 * src.nbytes / per_call(copy, max(3, repeats)).median / 1e9


def run(settings: Settings, context: dict[str, Any]) -> ItemResult:
    sizes, steps = settings.deep_net, 3 if settings.quick else 8
    data = load_data(settings, n_train=BATCH * steps)
    X, y = data.X_train, data.y_train
    gens = nn.make_generators(0)
    model = nn.MLP.from_layer_sizes(sizes, rng=gens.init, dropout_rng=gens.dropout)
    adam = nn.Adam(LR)
    nn.fit(model, adam, X, y, epochs=1, batch_size=BATCH, rng=gens.shuffle)  # warm up: buffers, state

    def full_step() -> float:
        return nn.fit(model, adam, X, y, epochs=1, batch_size=BATCH, rng=gens.shuffle).last["epoch_time"] / steps

    def forward_backward() -> float:
        start = time.perf_counter()
        for i in range(steps):
            model.train_step(X[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH])
        return (time.perf_counter() - start) / steps

    gemms_only = gemm.step_gemm_runner(sizes, BATCH)
    gemms_only()  # warm up
    contenders = {"nnscratch": full_step, "nnscratch_forward_backward": forward_backward,
                  "adam_standalone": lambda: _adam_alone(adam, model), "step_gemms_alone": gemms_only}
    use_torch = torch_available(settings)
    if use_torch:
        from benchmarks.torch_reference import Trainer

        trainer = Trainer(sizes, "adam", LR, X, y)
        trainer.train_epoch(BATCH)  # warm up
        contenders["pytorch"] = lambda: trainer.train_epoch(BATCH) / steps
        parts: list[tuple[float, float]] = []

        def pytorch_parts() -> float:
            parts.append(trainer.timed_parts(BATCH, steps))
            return sum(parts[-1])

        contenders["pytorch_forward_backward_plus_adam"] = pytorch_parts
    timings = interleaved(contenders, settings.repeats)
    median = {name: t.median for name, t in timings.items()}
    flops = gemm.step_gemm_flops(sizes, BATCH)
    reference = gemm_reference(settings, context)
    achieved = flops / median["nnscratch"] / 1e9
    n_params = model.n_parameters
    bandwidth = {threads: copy_bandwidth(4 * n_params, threads, settings.repeats) for threads in (1, 2)}
    adam_bytes = 7 * 4 * n_params  # reads w, g, m, v; writes w, m, v
    details: dict[str, Any] = {
        "parameters": n_params, "copy_bandwidth_gbs": bandwidth, "adam_bytes": adam_bytes,
        "adam_memory_floor_s": adam_bytes / max(bandwidth.values()) / 1e9,
        "layer_sizes": sizes, "batch_size": BATCH, "steps_per_repeat": steps, "step_gemm_flops": flops,
        "timings": {k: t.as_dict() for k, t in timings.items()},
        "achieved_gflops": achieved,
        # the step's products timed alone, interleaved with the steps: the same-moment GEMM peak
        "interleaved_gemm_peak_gflops": flops / median["step_gemms_alone"] / 1e9,
        "fraction_of_shape_set_peak": median["step_gemms_alone"] / median["nnscratch"],
        "fraction_of_item1_shape_set_peak": achieved / reference["shape_set_gflops"],
        "fraction_of_best_shape_peak": achieved / reference["best_shape_gflops"],
        "gemm_reference": {k: reference[k] for k in ("shape_set_gflops", "best_shape_gflops", "step_gemm_seconds")},
        "adam_share": (median["nnscratch"] - median["nnscratch_forward_backward"]) / median["nnscratch"],
        "adam_standalone_share": median["adam_standalone"] / median["nnscratch"],
    }
    label = f"{net_label(sizes)}, Adam, batch {BATCH}"
    rows = [Row("3 deep step", f"{label}: step time, ms", nnscratch=f"{1e3 * median['nnscratch']:.1f}",
                pytorch=f"{1e3 * median['pytorch']:.1f}" if use_torch else "",
                other=f"forward+backward {1e3 * median['nnscratch_forward_backward']:.1f}; Adam alone {1e3 * median['adam_standalone']:.1f}",
                ratio=f"{median['nnscratch'] / median['pytorch']:.2f}x PyTorch" if use_torch else "")]
    if use_torch:
        details["ratio_to_pytorch"] = median["nnscratch"] / median["pytorch"]
        details["pytorch_achieved_gflops"] = flops / median["pytorch"] / 1e9
        details["pytorch_forward_backward_s"] = statistics.median(p[0] for p in parts)
        details["pytorch_adam_s"] = statistics.median(p[1] for p in parts)
        rows[0].pytorch += (f" (forward+backward {1e3 * details['pytorch_forward_backward_s']:.1f}; "
                            f"Adam {1e3 * details['pytorch_adam_s']:.1f})")
    rows.append(Row("3 deep step", f"{label}: achieved GFLOP/s (step GEMM FLOPs / step time)",
                    nnscratch=f"{achieved:.0f}", pytorch=f"{details.get('pytorch_achieved_gflops', 0):.0f}" if use_torch else "",
                    other=f"GEMM peak: the step's products alone {details['interleaved_gemm_peak_gflops']:.0f} (interleaved); "
                          f"item 1: shape-set {reference['shape_set_gflops']:.0f}, best shape {reference['best_shape_gflops']:.0f}",
                    ratio=f"{100 * details['fraction_of_shape_set_peak']:.0f}% of the GEMM peak "
                          f"({100 * details['fraction_of_best_shape_peak']:.0f}% of item 1's best shape)"))
    torch_share = ""
    if use_torch:
        details["pytorch_adam_share"] = details["pytorch_adam_s"] / (details["pytorch_adam_s"] + details["pytorch_forward_backward_s"])
        torch_share = f"{100 * details['pytorch_adam_share']:.1f}%"
    rows.append(Row("3 deep step", f"{label}: Adam's share of the step", nnscratch=f"{100 * details['adam_share']:.1f}%",
                    pytorch=torch_share,
                    other=f"standalone Adam.step {1e3 * median['adam_standalone']:.1f} ms; its memory floor "
                          f"{1e3 * details['adam_memory_floor_s']:.1f} ms ({adam_bytes / 1e6:.0f} MB at {max(bandwidth.values()):.0f} GB/s)",
                    note="share = (step - forward+backward) / step"))
    return ItemResult(rows, details)


def _adam_alone(adam: nn.Adam, model: nn.MLP) -> float:
    """Seconds of one standalone Adam step over the whole buffer (state advances like a real step)."""
    start = time.perf_counter()
    adam.step(model.params)
    return time.perf_counter() - start
