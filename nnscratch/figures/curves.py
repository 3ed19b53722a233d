"""Learning curves: one run's loss and accuracy, and one metric across several runs."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from nnscratch.figures._layout import message_figure, new_figure

_PANELS = (("loss", "loss"), ("acc", "accuracy"))


def _plot_series(ax: Axes, label: str, values: Sequence[float]) -> None:
    """Plot ``values`` against 1-based epochs; non-finite values leave gaps."""
    y = np.asarray(values, dtype=float)
    epochs = np.arange(1, len(y) + 1)
    style = "--" if label.startswith("val") else "-"
    ax.plot(epochs, y, style, marker="o" if len(y) <= 30 else None, markersize=3, label=label)


def learning_curves(history: Mapping[str, Sequence[float]], title: str = "") -> Figure:
    """Loss and accuracy per epoch, train and validation, on one figure.

    Parameters
    ----------
    history : mapping of metric name -> per-epoch values
        Keys such as ``"train/loss"``, ``"val/loss"``, ``"train/acc"``, ``"val/acc"``;
        every key ending in ``/loss`` goes to the loss panel, ``/acc`` to the accuracy panel,
        other keys (``lr``, ``epoch_time``) are ignored.
    title : str
        Figure title, e.g. the run name.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per kind present (loss, accuracy).
    """
    panels = []
    for suffix, ylabel in _PANELS:
        keys = sorted(k for k in history if k.endswith("/" + suffix) and len(history[k]) > 0)
        if keys:
            panels.append((ylabel, keys))
    if not panels:
        return message_figure(f"{title}\nno loss or accuracy history".strip())
    fig = new_figure(5.0 * len(panels), 3.6)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (ylabel, keys) in zip(axes, panels):
        for key in keys:
            _plot_series(ax, key, history[key])
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def overlay_learning_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]], metric: str = "val/acc"
) -> Figure:
    """One metric of several runs (e.g. the trials of a sweep) on one axis.

    Parameters
    ----------
    histories : mapping of run label -> history mapping (as for :func:`learning_curves`)
        Runs without ``metric`` are skipped.
    metric : str
        The history key to overlay.

    Returns
    -------
    matplotlib.figure.Figure
    """
    runs = {label: h[metric] for label, h in histories.items() if metric in h and len(h[metric]) > 0}
    if not runs:
        return message_figure(f"no run has {metric!r}")
    fig = new_figure(6.5, 4.0)
    ax = fig.add_subplot()
    for label, values in runs.items():
        y = np.asarray(values, dtype=float)
        ax.plot(np.arange(1, len(y) + 1), y, label=str(label), linewidth=1.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} of {len(runs)} runs")
    ax.grid(True, alpha=0.3)
    if len(runs) <= 12:
        ax.legend(fontsize=7)
    return fig
