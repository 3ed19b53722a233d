"""What the figures were measured on: CPU, numpy and its BLAS (kernel, threads), PyTorch, load."""
from __future__ import annotations

import os
import platform
from typing import Any

import numpy as np

#: Environment variables that change BLAS kernels or thread counts.
VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
             "MKL_NUM_THREADS", "NNSCRATCH_NUM_THREADS")


def blas_info() -> list[dict[str, Any]]:
    """threadpoolctl's view of the loaded BLAS/OpenMP libraries (kernel architecture, threads)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("user_api", "internal_api", "version", "architecture", "num_threads", "threading_layer", "filepath")
    return [{k: info.get(k) for k in keys} for info in threadpool_info()]


def numpy_blas() -> dict[str, Any]:
    """The BLAS numpy itself uses (first ``blas`` entry), or an empty dict."""
    for info in blas_info():
        if info["user_api"] == "blas" and "numpy" in str(info.get("filepath", "")):
            return info
    return next((info for info in blas_info() if info["user_api"] == "blas"), {})


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def torch_info() -> dict[str, Any] | None:
    """PyTorch version and threads, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return {
        "version": torch.__version__,
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
        "mkl": bool(torch.backends.mkl.is_available()),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


def collect(with_torch: bool = True) -> dict[str, Any]:
    """Everything above as one JSON-able dict (``with_torch=False`` does not import torch)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas_info(),
        "variables": {name: os.environ.get(name) for name in VARIABLES},
        "torch": torch_info() if with_torch else None,
    }


def summary(env: dict[str, Any]) -> list[str]:
    """A few human-readable lines for the top of the report."""
    blases = [b for b in env["blas"] if b["user_api"] == "blas"]
    blas = next((b for b in blases if "numpy" in str(b["filepath"])), blases[0] if blases else None)
    blas_text = (f"{blas['internal_api']} {blas['version']}, kernel {blas['architecture']}, "
                 f"{blas['num_threads']} threads" if blas else "unknown (threadpoolctl missing)")
    torch = env["torch"]
    torch_text = (f"{torch['version']}, {torch['num_threads']} threads, capability {torch['cpu_capability']}"
                  if torch else "not used (not installed, or --no-torch): its columns are empty")
    variables = ", ".join(f"{k}={v}" for k, v in env["variables"].items() if v is not None) or "none set"
    load = env["load_average"]
    limit = env.get("thread_limit")
    return [
        f"Threads: {'limited to ' + str(limit) + ' by --threads' if limit else 'as configured (no --threads)'}",
        f"CPU: {env['cpu']} ({env['usable_cpus']} usable of {env['logical_cpus']} logical CPUs)",
        f"Python {env['python']}, numpy {env['numpy']}, BLAS: {blas_text}",
        f"PyTorch: {torch_text}",
        f"Environment variables: {variables}",
        f"Load average at start (1/5/15 min): {', '.join(f'{x:.2f}' for x in load) if load else 'n/a'}",
    ]
