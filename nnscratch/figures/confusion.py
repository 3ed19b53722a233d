"""Confusion-matrix heatmap: counts beside row-normalized rates."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from nnscratch.figures._layout import new_figure


def row_rates(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (recall per true class); empty rows stay 0.

    Parameters
    ----------
    matrix : ndarray, shape (C, C), rows = true class

    Returns
    -------
    ndarray, shape (C, C), float64, rows summing to 1 (or 0 for empty rows)
    """
    m = np.asarray(matrix, dtype=np.float64)
    sums = m.sum(axis=1, keepdims=True)
    return np.divide(m, sums, out=np.zeros_like(m), where=sums > 0)


def _heatmap(ax: Axes, values: np.ndarray, labels: Sequence[str], fmt: str, vmax: float) -> None:
    """Draw ``values`` as a heatmap with every cell annotated by ``fmt``."""
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax)
    n = len(labels)
    fontsize = 8 if n <= 10 else 6
    for i in range(n):
        for j in range(n):
            v = values[i, j]
            color = "white" if v > 0.6 * vmax else "black"
            # cell labels sit inside the axes: leaving them out of the layout keeps it cheap
            ax.text(j, i, format(v, fmt), ha="center", va="center", color=color, fontsize=fontsize,
                    in_layout=False)
    ax.set_xticks(range(n), labels, fontsize=8, rotation=45 if max(map(len, labels)) > 2 else 0)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.figure.colorbar(image, ax=ax, shrink=0.8)


def confusion_matrix(matrix: np.ndarray, class_names: Sequence[str]) -> Figure:
    """Confusion matrix as two annotated heatmaps: counts and row-normalized rates.

    Parameters
    ----------
    matrix : ndarray, shape (C, C)
        Integer counts, rows = true class, columns = predicted class
        (as from ``nnscratch.metrics.confusion_matrix``).
    class_names : sequence of C str

    Returns
    -------
    matplotlib.figure.Figure
        Title states the total count and the accuracy (trace / total).
    """
    m = np.asarray(matrix)
    names = [str(c) for c in class_names]
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(names):
        raise ValueError(f"matrix of shape {m.shape} does not match {len(names)} class names")
    total = int(m.sum())
    accuracy = float(np.trace(m)) / total if total else float("nan")
    side = 4.0 + 0.35 * len(names)
    fig = new_figure(2 * side + 1.0, side)
    ax_counts, ax_rates = fig.subplots(1, 2)
    _heatmap(ax_counts, m.astype(np.int64), names, "d", vmax=max(int(m.max()), 1))
    ax_counts.set_title("counts")
    _heatmap(ax_rates, row_rates(m), names, ".2f", vmax=1.0)
    ax_rates.set_title("rate per true class (row-normalized)")
    fig.suptitle(f"confusion matrix: {total} examples, accuracy {accuracy:.4f}")
    return fig
