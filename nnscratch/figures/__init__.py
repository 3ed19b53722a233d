"""Figures for runs and datasets.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (nothing is shown and
no global pyplot state is touched), except :func:`confusion_matrix`, which Pillow draws as a
``PIL.Image.Image`` (every sweep trial records one). :func:`save_figure` writes either to disk.
:func:`training_animation` writes a GIF. ``python -m nnscratch.figures RUN_ID`` regenerates a logged
run's figures.

Names are imported on first use, so a process that draws only the confusion matrix (a sweep worker)
never imports matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "save_figure": "saving",
    "DecisionRegionRecorder": "animation",
    "PCAPlane": "animation",
    "training_animation": "animation",
    "confusion_matrix": "confusion",
    "learning_curves": "curves",
    "overlay_learning_curves": "curves",
    "first_layer_weights": "network",
    "hidden_activations": "network",
    "dataset_preview": "samples",
    "misclassified_grid": "samples",
}

__all__ = sorted(_MODULES)


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)


def __dir__() -> list[str]:
    return __all__
