"""Shared fixtures. Keep this file small: session-scoped data sets and nothing area-specific.

Real data is loaded once per session through :func:`nnscratch.data.load_dataset`. When it cannot be
obtained the tests that need it are skipped locally, but fail under CI (env ``CI`` set), where the
data must be available.
"""
from __future__ import annotations

import os

import pytest

# MLflow's usage reports go to its servers; tests (and the processes they start) talk to loopback only
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _load_real(name: str):
    """``load_dataset(name)``, or skip (fail in CI) when the data cannot be obtained.

    Only "unavailable" errors are turned into skips; anything else (a checksum mismatch, a bug in
    the loader) propagates and fails the test.
    """
    try:
        from nnscratch.data import load_dataset
        from nnscratch.data.errors import DataUnavailableError
    except ImportError as error:
        reason = f"nnscratch.data.load_dataset is not importable: {error}"
    else:
        try:
            return load_dataset(name)
        except (DataUnavailableError, OSError) as error:
            reason = f"{type(error).__name__}: {error}"
    message = f"real {name} data is unavailable ({reason})"
    if _in_ci():
        pytest.fail(message + "; CI is set, so real data is required", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def mnist():
    """Real MNIST (``nnscratch.data.Dataset``): 60k train / 10k test, float32 rows in [0, 1]."""
    return _load_real("mnist")


@pytest.fixture(scope="session")
def fashion_mnist():
    """Real Fashion-MNIST (``nnscratch.data.Dataset``), same layout as :func:`mnist`."""
    return _load_real("fashion_mnist")
