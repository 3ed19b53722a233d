"""Item 1: GEMM throughput of this machine for the exact matrix products the networks' steps run.

A training step of a dense layer (in -> out) at batch B runs three products: forward
``(B, in) @ (in, out)``, weight gradient ``X.T @ delta`` (``(in, B) @ (B, out)``) and, except for the
first layer, input gradient ``delta @ W.T`` (``(B, out) @ (out, in)``). Timing those products alone,
with the same memory layouts, gives the physical reference for a step: the *shape-set peak* is
their FLOPs over their summed times, i.e. what a step that did nothing but its GEMMs would achieve.

Run as ``python -m benchmarks.gemm --json`` it prints its measurements as JSON (used to measure
again in a subprocess with the OpenBLAS kernel variables unset).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.common import ItemResult, REPO, Row, Settings, net_label
from benchmarks.environment import numpy_blas
from benchmarks.timing import per_call

KERNEL_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


@dataclass(frozen=True)
class Gemm:
    """One product of a training step: ``kind`` is forward, grad_W or grad_X."""

    layer: int
    kind: str
    m: int
    k: int
    n: int

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n


def step_gemms(layer_sizes: list[int], batch_size: int) -> list[Gemm]:
    """The products one training step computes (no input gradient for the first layer)."""
    gemms = []
    for layer, (n_in, n_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:]), 1):
        gemms.append(Gemm(layer, "forward", batch_size, n_in, n_out))
        gemms.append(Gemm(layer, "grad_W", n_in, batch_size, n_out))
        if layer > 1:
            gemms.append(Gemm(layer, "grad_X", batch_size, n_out, n_in))
    return gemms


def step_gemm_flops(layer_sizes: list[int], batch_size: int) -> int:
    return sum(g.flops for g in step_gemms(layer_sizes, batch_size))


def operands(gemm: Gemm, dtype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, out) for ``np.matmul(a, b, out=out)``, laid out as the engine lays them out."""
    rng = np.random.default_rng(0)
    n_in, n_out = (gemm.k, gemm.n) if gemm.kind == "forward" else (gemm.m, gemm.n) if gemm.kind == "grad_W" else (gemm.n, gemm.k)
    batch = gemm.m if gemm.kind != "grad_W" else gemm.k
    W = rng.standard_normal((n_in, n_out)).astype(dtype)
    if gemm.kind == "forward":
        a, b, out = rng.random((batch, n_in)).astype(dtype), W, np.empty((batch, n_out), dtype)
    elif gemm.kind == "grad_W":
        a, b, out = rng.random((batch, n_in)).astype(dtype).T, rng.standard_normal((batch, n_out)).astype(dtype), W
    else:
        a, b, out = rng.standard_normal((batch, n_out)).astype(dtype), W.T, np.empty((batch, n_in), dtype)
    return a, b, out


def step_gemm_runner(layer_sizes: list[int], batch_size: int, dtype: str = "float32"):
    """A function running every product of one step once (operands allocated up front)."""
    prepared = [operands(gemm, dtype) for gemm in step_gemms(layer_sizes, batch_size)]

    def run() -> None:
        for a, b, out in prepared:
            np.matmul(a, b, out=out)

    return run


def time_gemm(gemm: Gemm, dtype: str, repeats: int, quick: bool = False) -> float:
    """Median seconds of one call, operands laid out as the engine lays them out."""
    a, b, out = operands(gemm, dtype)
    np.matmul(a, b, out=out)  # warm up (threads, page faults)
    number = min(5 if quick else 200, max(1, int(5e9 // gemm.flops)))  # ~5 GFLOP per repeat: 10-100 ms
    return per_call(lambda: np.matmul(a, b, out=out), repeats, number).median


def measure_net(layer_sizes: list[int], batch_size: int, dtype: str, repeats: int, quick: bool = False) -> dict[str, Any]:
    """Per-product GFLOP/s and the shape-set peak of one network at one batch size."""
    products, total_time, total_flops = [], 0.0, 0
    for gemm in step_gemms(layer_sizes, batch_size):
        seconds = time_gemm(gemm, dtype, repeats, quick)
        products.append({"layer": gemm.layer, "kind": gemm.kind, "m": gemm.m, "k": gemm.k, "n": gemm.n,
                         "seconds": seconds, "gflops": gemm.flops / seconds / 1e9})
        total_time += seconds
        total_flops += gemm.flops
    return {
        "layer_sizes": layer_sizes, "batch_size": batch_size, "dtype": dtype,
        "step_gemm_seconds": total_time, "step_gemm_flops": total_flops,
        "shape_set_gflops": total_flops / total_time / 1e9,
        "best_shape_gflops": max(p["gflops"] for p in products),
        "products": products,
    }


def square_peak(size: int, dtype: str, repeats: int) -> float:
    """GFLOP/s of a square product (the usual 'machine peak' figure)."""
    rng = np.random.default_rng(0)
    a, b = rng.random((size, size)).astype(dtype), rng.random((size, size)).astype(dtype)
    out = np.empty((size, size), dtype)
    np.matmul(a, b, out=out)
    return 2 * size**3 / per_call(lambda: np.matmul(a, b, out=out), repeats, 2).median / 1e9


def cases(settings: Settings) -> list[tuple[str, list[int], int]]:
    small, deep = settings.small_net, settings.deep_net
    return [("small", small, 32), ("small", small, 256), ("deep", deep, 256)]


def measure_all(settings: Settings) -> dict[str, Any]:
    """Everything item 1 measures, in this process (as configured)."""
    repeats = max(3, settings.repeats)
    result: dict[str, Any] = {"blas": numpy_blas(), "nets": {}, "square": {}}
    square = 256 if settings.quick else 2048
    for dtype in ("float32", "float64"):
        result["square"][dtype] = {"size": square, "gflops": square_peak(square, dtype, repeats)}
        for name, sizes, batch in cases(settings):
            result["nets"][f"{name}/{batch}/{dtype}"] = measure_net(sizes, batch, dtype, repeats, settings.quick)
    return result


def measure_unset(settings: Settings) -> dict[str, Any] | None:
    """The same measurements in a subprocess without the OpenBLAS kernel variables, or None when
    neither is set (the subprocess would measure the same configuration)."""
    if not any(os.environ.get(v) for v in KERNEL_VARIABLES):
        return None
    env = {k: v for k, v in os.environ.items() if k not in KERNEL_VARIABLES}
    command = [sys.executable, "-m", "benchmarks.gemm", "--json", "--repeats", str(settings.repeats)]
    command += ["--quick"] if settings.quick else []
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def run(settings: Settings, context: dict[str, Any]) -> ItemResult:
    configured = measure_all(settings)
    unset = measure_unset(settings)
    context["gemm"] = configured
    kernel = configured["blas"].get("architecture", "?")
    rows = []
    for dtype in ("float32", "float64"):
        for name, sizes, batch in cases(settings):
            key = f"{name}/{batch}/{dtype}"
            net = configured["nets"][key]
            other = ""
            if unset is not None:
                other = f"{unset['nets'][key]['shape_set_gflops']:.0f} ({unset['blas'].get('architecture', '?')})"
            label = net_label(sizes)
            rows.append(Row("1 GEMM", f"{label}, batch {batch}, {dtype}: step GEMMs, GFLOP/s",
                            nnscratch=f"{net['shape_set_gflops']:.0f}", other=other,
                            note=f"kernel {kernel}; best single product {net['best_shape_gflops']:.0f}"))
        sq = configured["square"][dtype]
        other = f"{unset['square'][dtype]['gflops']:.0f}" if unset is not None else ""
        rows.append(Row("1 GEMM", f"square {sq['size']}^3 {dtype}, GFLOP/s", nnscratch=f"{sq['gflops']:.0f}",
                        other=other, note=f"kernel {kernel}"))
    if unset is None:
        rows[0].note += "; OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE not set, so no 'unset' column"
    return ItemResult(rows, {"configured": configured, "kernel_variables_unset": unset})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="GEMM throughput for the networks' step products")
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    result = measure_all(Settings(quick=args.quick, repeats=args.repeats))
    if args.json:
        print(json.dumps(result))
    else:
        for key, net in result["nets"].items():
            print(f"{key:24s} shape-set {net['shape_set_gflops']:7.1f} GFLOP/s, best {net['best_shape_gflops']:7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
