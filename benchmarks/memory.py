"""Item 7: peak resident memory of the deep net's training against its computed working set.

Measured in a fresh subprocess (``python -m benchmarks.memory --probe``) so nothing else in the
benchmark run inflates the peak: it allocates the training data, records its RSS as the baseline,
then trains the deep net with Adam at batch 256 one step per epoch and records the RSS after every
step. The working set is what training must hold: parameters, gradients, Adam's two moments, the
layer outputs and deltas of one batch and the batch buffer.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

import numpy as np

from benchmarks.common import DEEP_NET, ItemResult, QUICK_DEEP_NET, REPO, Row, Settings, net_label

BATCH = 256
MB = 1 << 20


def rss_bytes() -> int:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    """High-water mark of this process's RSS (VmHWM; unlike ru_maxrss it does not inherit the peak
    of the parent that forked us)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("VmHWM missing from /proc/self/status")


def working_set(layer_sizes: list[int], batch_size: int, itemsize: int = 4) -> dict[str, int]:
    """Bytes training must hold, by part."""
    n_params = sum(n_in * n_out + n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))
    units = sum(layer_sizes[1:])
    return {
        "parameters": n_params * itemsize,
        "gradients": n_params * itemsize,
        "adam_moments": 2 * n_params * itemsize,
        "outputs_and_deltas": 2 * batch_size * units * itemsize,
        "batch_buffer": batch_size * (layer_sizes[0] * itemsize + 8),
    }


def probe(layer_sizes: list[int], steps: int) -> dict[str, Any]:
    """Run in the subprocess: train ``steps`` single-step epochs and record RSS."""
    import nnscratch as nn

    rng = np.random.default_rng(0)
    X, y = rng.random((BATCH, layer_sizes[0]), dtype=np.float32), rng.integers(0, layer_sizes[-1], BATCH)
    baseline = rss_bytes()
    gens = nn.make_generators(0)
    model = nn.MLP.from_layer_sizes(layer_sizes, rng=gens.init, dropout_rng=gens.dropout)
    after_steps: list[int] = []

    class RecordRSS:
        def on_epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
            after_steps.append(rss_bytes())

    nn.fit(model, nn.Adam(1e-4), X, y, epochs=steps, batch_size=BATCH, rng=gens.shuffle, callbacks=[RecordRSS()])
    return {"baseline_rss": baseline, "peak_rss": peak_rss_bytes(),
            "rss_after_step": after_steps, "layer_sizes": layer_sizes}


def run(settings: Settings, context: dict[str, Any]) -> ItemResult:
    sizes, steps = (QUICK_DEEP_NET, 3) if settings.quick else (DEEP_NET, 10)
    command = [sys.executable, "-m", "benchmarks.memory", "--probe", "--steps", str(steps)]
    command += ["--quick"] if settings.quick else []
    measured = json.loads(subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True).stdout)
    parts = working_set(sizes, BATCH)
    total = sum(parts.values())
    used = measured["peak_rss"] - measured["baseline_rss"]
    rss = measured["rss_after_step"]
    growth = rss[-1] - rss[1] if len(rss) > 1 else 0
    details = {**measured, "working_set": parts, "working_set_total": total, "peak_minus_baseline": used,
               "ratio": used / total, "growth_after_first_step": growth}
    rows = [
        Row("7 memory", f"{net_label(sizes)}, Adam, batch {BATCH}: peak RSS above baseline / working set",
            nnscratch=f"{used / MB:.0f} MB / {total / MB:.0f} MB", ratio=f"{used / total:.2f}x",
            note=f"baseline (interpreter + data) {measured['baseline_rss'] / MB:.0f} MB; peak RSS {measured['peak_rss'] / MB:.0f} MB"),
        Row("7 memory", f"RSS growth from step 2 to step {len(rss)}", nnscratch=f"{growth / MB:+.1f} MB",
            note="steady state: no allocation per step"),
    ]
    return ItemResult(rows, details)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="memory probe (run by item 7 in a subprocess)")
    parser.add_argument("--probe", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args(argv)
    print(json.dumps(probe(QUICK_DEEP_NET if args.quick else DEEP_NET, args.steps)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
