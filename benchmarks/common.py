"""Settings, networks and data shared by the benchmark items."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("benchmarks")

REPO = Path(__file__).resolve().parent.parent
SMALL_NET = [784, 128, 64, 10]
DEEP_NET = [784, 3000, 2500, 2000, 1500, 1000, 500, 10]
# --quick stands in tiny networks and data so the whole harness runs in seconds (smoke test)
QUICK_SMALL_NET = [784, 32, 16, 10]
QUICK_DEEP_NET = [784, 96, 64, 48, 10]


@dataclass
class Settings:
    """How a benchmark run is configured (command-line options)."""

    quick: bool = False
    repeats: int = 3
    data: str = "mnist"  # mnist | synthetic
    torch: bool = True  # compare with PyTorch when it is installed
    tta_repeats: int = 1
    tta_lr: float = 1e-4
    max_epochs: int = 20
    cases: tuple[str, ...] = ()  # item 8's cases to run (empty: all)
    workdir: Path = field(default_factory=lambda: REPO / "benchmarks" / "results" / "work")

    @property
    def small_net(self) -> list[int]:
        return QUICK_SMALL_NET if self.quick else SMALL_NET

    @property
    def deep_net(self) -> list[int]:
        return QUICK_DEEP_NET if self.quick else DEEP_NET


@dataclass
class Data:
    """Train and test arrays: X float32 (n, 784) in [0, 1], y int64 (n,)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    source: str


def load_data(settings: Settings, n_train: int | None = None) -> Data:
    """Real MNIST (``nnscratch.data``) or, with ``--data synthetic`` or --quick, random images."""
    if settings.data == "mnist":
        from nnscratch.data import load_dataset

        ds = load_dataset("mnist")
        data = Data(ds.X_train, ds.y_train, ds.X_test, ds.y_test, f"MNIST ({ds.source})")
    else:
        rng = np.random.default_rng(0)
        n = 60000 if n_train is None else n_train
        data = Data(rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n),
                    rng.random((max(n // 6, 10), 784), dtype=np.float32), rng.integers(0, 10, max(n // 6, 10)),
                    "synthetic uniform noise")
    if n_train is not None and n_train < len(data.y_train):
        data.X_train, data.y_train = data.X_train[:n_train], data.y_train[:n_train]
        data.X_test, data.y_test = data.X_test[: max(n_train // 6, 10)], data.y_test[: max(n_train // 6, 10)]
    return data


def net_label(layer_sizes: list[int]) -> str:
    """``784-128-64-10``."""
    return "-".join(map(str, layer_sizes))


def step_flops(layer_sizes: list[int], batch_size: int) -> int:
    """Matrix-product FLOPs of one training step: forward, input gradient and weight gradient
    (2 * batch * in * out each), the cost model used for all achieved-GFLOP/s figures."""
    return sum(6 * batch_size * n_in * n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))


def torch_available(settings: Settings) -> bool:
    if not settings.torch:
        return False
    try:
        import torch  # noqa: F401
    except ImportError:
        log.info("PyTorch is not installed: its columns are skipped (pip install 'nnscratch[bench]')")
        return False
    return True


@dataclass
class Row:
    """One line of the report table."""

    item: str
    measure: str
    nnscratch: str = ""
    pytorch: str = ""
    other: str = ""
    ratio: str = ""
    note: str = ""


@dataclass
class ItemResult:
    """What an item contributes: table rows and JSON details (raw seconds, repeats, shapes...)."""

    rows: list[Row]
    details: dict[str, Any]
