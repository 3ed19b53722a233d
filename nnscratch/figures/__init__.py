"""Figures for runs and datasets, built as matplotlib ``Figure`` objects without pyplot.

Every function returns a :class:`matplotlib.figure.Figure` (nothing is shown and no
global pyplot state is touched); :func:`save_figure` writes one to disk, rendering
through Agg. :func:`training_animation` writes a GIF. ``python -m nnscratch.figures
RUN_ID`` regenerates a logged run's figures.
"""

from nnscratch.figures._layout import save_figure
from nnscratch.figures.animation import DecisionRegionRecorder, PCAPlane, training_animation
from nnscratch.figures.confusion import confusion_matrix
from nnscratch.figures.curves import learning_curves, overlay_learning_curves
from nnscratch.figures.network import first_layer_weights, hidden_activations
from nnscratch.figures.samples import dataset_preview, misclassified_grid

__all__ = [
    "DecisionRegionRecorder",
    "PCAPlane",
    "confusion_matrix",
    "dataset_preview",
    "first_layer_weights",
    "hidden_activations",
    "learning_curves",
    "misclassified_grid",
    "overlay_learning_curves",
    "save_figure",
    "training_animation",
]
