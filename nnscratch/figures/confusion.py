"""Confusion-matrix heatmap that shows the errors: counts in every cell, colour only off the diagonal."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from nnscratch.figures._layout import new_figure

ERROR_CMAP = "Reds"
DIAGONAL_COLOR = "#dfe7dc"  # correct predictions: a flat pale green, so errors own the colour scale


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


def confusion_matrix(matrix: np.ndarray, class_names: Sequence[str]) -> Figure:
    """Confusion matrix: every cell annotated with its count; off-diagonal cells coloured by the share
    of their true class that went to that wrong column (the scale is set by the largest error, so a
    1 % confusion is visible next to a 99 % diagonal); diagonal cells flat, annotated with their recall.

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
    n = len(names)
    total = int(m.sum())
    accuracy = float(np.trace(m)) / total if total else float("nan")
    rates = row_rates(m)
    errors = np.ma.masked_where(np.eye(n, dtype=bool), rates)
    vmax = max(float(errors.max()) if errors.count() else 0.0, 0.01)
    long_names = max(map(len, names)) > 2
    bottom = 0.2 if long_names else 0.11
    fig = new_figure(6.8, 6.2 if long_names else 5.6, layout=None)  # fixed margins draw faster, look the same
    ax = fig.add_axes((0.14 if long_names else 0.1, bottom, 0.68, 0.89 - bottom))
    ax.set_anchor("W")  # the square heatmap hugs the left margin, next to the colorbar
    cax = fig.add_axes((0.78 if not long_names else 0.8, bottom, 0.025, 0.89 - bottom))
    ax.set_facecolor(DIAGONAL_COLOR)  # masked (diagonal) cells show the axes background
    image = ax.imshow(errors, cmap=ERROR_CMAP, vmin=0.0, vmax=vmax, interpolation="nearest")
    fontsize = 10 if n <= 10 else 7
    for i in range(n):
        for j in range(n):
            count = int(m[i, j])
            if i == j:
                text, color, weight = f"{count}\n{rates[i, j]:.0%}", "#1b5e20", "bold"
            else:
                text, weight = (str(count) if count else "·"), "normal"
                color = "white" if rates[i, j] > 0.6 * vmax else "black"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize=fontsize if i != j else fontsize - 1,
                    fontweight=weight, linespacing=0.9)
    ax.set_xticks(range(n), names, fontsize=11, rotation=45 if long_names else 0,
                  ha="right" if long_names else "center")
    ax.set_yticks(range(n), names, fontsize=11)
    ax.set_xlabel("predicted", fontsize=11)
    ax.set_ylabel("true", fontsize=11)
    ax.set_title(f"test set: {total} examples, accuracy {accuracy:.2%}", fontsize=12)
    colorbar = fig.colorbar(image, cax=cax, format=lambda x, _: f"{x:.0%}")
    colorbar.set_label("errors: share of the true class (row)", fontsize=10)
    return fig
