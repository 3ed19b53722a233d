"""Importing the engine stays light: numpy only, no tracking/sweep/plotting libraries."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ["mlflow", "hydra", "omegaconf", "optuna", "matplotlib", "pandas", "plotly", "torch", "sqlalchemy", "scipy"]


def imported_heavy_modules(statement: str) -> list[str]:
    code = (
        f"import json, sys\n{statement}\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("statement", ["import nnscratch", "import nnscratch.data"])
def test_import_does_not_pull_in_heavy_libraries(statement):
    assert imported_heavy_modules(statement) == []


def test_public_api_is_exported():
    import nnscratch as nn

    for name in nn.__all__:
        assert hasattr(nn, name), name
    for name in ("MLP", "fit", "History", "Callback", "DivergedError", "StopTraining", "make_generators",
                 "train_val_split", "save", "load", "SGD", "Momentum", "RMSprop", "Adam"):
        assert name in nn.__all__, name
    assert isinstance(nn.__version__, str) and nn.__version__
