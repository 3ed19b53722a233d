"""Learning curves: one run's loss and accuracy, and one metric across several runs."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from nnscratch.figures._layout import message_figure, new_figure

_PANELS = (("loss", "loss"), ("acc", "accuracy"))
TOP_LABELLED = 5  # overlay: runs named in the legend; the rest are drawn thin and grey


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
    fig = new_figure(5.0 * len(panels), 3.8, layout=None)  # fixed margins: faster, same look
    fig.subplots_adjust(left=0.1 if len(panels) > 1 else 0.16, right=0.97, bottom=0.14,
                        top=0.8 if "\n" in title else 0.86, wspace=0.28)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (ylabel, keys) in zip(axes, panels):
        for key in keys:
            _plot_series(ax, key, history[key])
        _epoch_axis(ax)
        ax.set_ylabel(ylabel, fontsize=11)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=10)
    if title:
        fig.suptitle(title, fontsize=12)
    return fig


def _epoch_axis(ax: Axes) -> None:
    """Whole epochs only: a 3-epoch run gets ticks 1, 2, 3, not 1.0, 1.25, ..."""
    ax.set_xlabel("epoch", fontsize=11)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def overlay_learning_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]], metric: str = "val/acc", title: str = ""
) -> Figure:
    """One metric of several runs (e.g. the trials of a sweep) on one axis.

    Parameters
    ----------
    histories : mapping of run label -> history mapping (as for :func:`learning_curves`)
        Runs without ``metric`` are skipped. Pass the best run first: the first
        :data:`TOP_LABELLED` are coloured and named in the legend (outside the axes), the others
        drawn thin and grey.
    metric : str
        The history key to overlay.
    title : str
        Axes title; default ``"<metric> of <n> runs"``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    runs = {label: h[metric] for label, h in histories.items() if metric in h and len(h[metric]) > 0}
    if not runs:
        return message_figure(f"no run has {metric!r}")
    fig = new_figure(9.0, 4.2, layout=None)  # fixed margins: the legend gets the right third
    fig.subplots_adjust(left=0.08, right=0.6, bottom=0.13, top=0.9)
    ax = fig.add_subplot()
    items = list(runs.items())
    for label, values in items[TOP_LABELLED:]:
        y = np.asarray(values, dtype=float)
        ax.plot(np.arange(1, len(y) + 1), y, color="0.75", linewidth=0.8, zorder=1)
    for rank, (label, values) in enumerate(items[:TOP_LABELLED], start=1):
        y = np.asarray(values, dtype=float)
        ax.plot(np.arange(1, len(y) + 1), y, label=f"{rank}. {label}", linewidth=1.8, zorder=2,
                marker="o" if len(y) <= 30 else None, markersize=3)
    if len(items) > TOP_LABELLED:
        ax.plot([], [], color="0.75", linewidth=0.8, label=f"{len(items) - TOP_LABELLED} other runs")
    _epoch_axis(ax)
    ax.set_ylabel(metric, fontsize=11)
    ax.set_title(title or f"{metric} of {len(runs)} runs", fontsize=12)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)
    return fig
