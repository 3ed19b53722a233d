"""Which ``_target_`` values an app's config may instantiate, for Hydra 1.4's execution whitelist."""

from __future__ import annotations

import inspect
from typing import Any

import hydra


def trusted_targets(*targets: str) -> dict[str, Any]:
    """``hydra.main`` keywords that trust ``targets`` (``"nnscratch.*"``: every target under a package).

    Hydra 1.4 warns for every config-selected target (callbacks, ``instantiate``) outside the app's
    execution whitelist, and will refuse them in 1.5; Hydra 1.3 has no whitelist, so this is empty there.
    """
    if "execution_whitelist" not in inspect.signature(hydra.main).parameters:
        return {}
    return {"execution_whitelist": list(targets)}
