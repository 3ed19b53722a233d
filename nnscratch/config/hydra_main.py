"""``hydra.main`` keywords that give an app the same behaviour, without warnings, on Hydra 1.3 and 1.4."""

from __future__ import annotations

import inspect
from typing import Any

import hydra


def main_options(*trusted_targets: str) -> dict[str, Any]:
    """Keywords for ``hydra.main``; ``trusted_targets`` are what the config may instantiate
    (``"nnscratch.*"``: every target under a package).

    Hydra 1.3: ``version_base="1.3"`` (its defaults, and no warning about a missing version base).
    Hydra 1.4: the execution whitelist ``trusted_targets`` (1.4 warns for every config-selected
    target outside it, callbacks included, and 1.5 will refuse them) and no ``version_base``, which
    1.4 deprecates and only records.
    """
    if "execution_whitelist" not in inspect.signature(hydra.main).parameters:
        return {"version_base": "1.3"}
    return {"execution_whitelist": list(trusted_targets)}
