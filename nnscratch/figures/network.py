"""Looking inside a trained network: hidden activations and first-layer weights.

The functions take any model with the ``nnscratch.MLP`` interface they need
(``hidden_activations``, ``predict_proba``, ``parameters``).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from nnscratch.figures._layout import grid_shape, hide_unused, new_figure, show_image


def square_shape(n: int) -> tuple[int, int] | None:
    """``(s, s)`` when ``n`` is a perfect square, else None."""
    s = math.isqrt(n)
    return (s, s) if s * s == n else None


def model_dtype(model) -> np.dtype:
    """The dtype of the model's parameters (float32 if it has none), so inputs match it."""
    params = getattr(model, "parameters", None) or {}
    return next(iter(params.values())).dtype if params else np.dtype(np.float32)


def units_as_grid(values: np.ndarray) -> np.ndarray:
    """Lay a vector of unit values out on a near-square grid, NaN-padded.

    Parameters
    ----------
    values : ndarray, shape (units,)

    Returns
    -------
    ndarray, shape (rows, cols), float64, rows * cols >= units
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    rows, cols = grid_shape(len(v))
    grid = np.full(rows * cols, np.nan)
    grid[: len(v)] = v
    return grid.reshape(rows, cols)


def _activation_panel(ax: Axes, act: np.ndarray, index: int) -> None:
    """One hidden layer's activations as a heat grid with its colorbar, titled with its size and active share."""
    image = ax.imshow(units_as_grid(act), cmap="viridis", interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    active = float(np.mean(act > 0)) if act.size else 0.0
    ax.set_title(f"hidden {index}: {act.size} units, {active:.0%} > 0", fontsize=10)
    colorbar = ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    colorbar.set_label("activation", fontsize=9)
    colorbar.ax.tick_params(labelsize=8)


def _output_panel(ax: Axes, proba: np.ndarray) -> None:
    """Class probabilities as a bar chart, the arg-max in a contrasting colour."""
    classes = np.arange(len(proba))
    colors = ["tab:orange" if i == int(np.argmax(proba)) else "tab:blue" for i in classes]
    ax.bar(classes, proba, color=colors)
    ax.set_xticks(classes)
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability", fontsize=9)
    ax.set_title(f"output: class {int(np.argmax(proba))} ({np.max(proba):.0%})", fontsize=10)


def hidden_activations(model, image: np.ndarray, image_shape: Sequence[int] | None = None) -> Figure:
    """The input image, every hidden layer's activations and the output probabilities.

    Parameters
    ----------
    model : object with ``hidden_activations(X) -> list[ndarray (1, units)]`` and
        ``predict_proba(X) -> ndarray (1, C)``
    image : ndarray, shape (features,), (1, features) or (H, W)
    image_shape : (H, W), optional
        How to draw the input; defaults to a square when ``features`` is a perfect square.

    Returns
    -------
    matplotlib.figure.Figure
        Panels in reading order: input, hidden 1 ... hidden L, output.
    """
    x = np.asarray(image, dtype=model_dtype(model)).reshape(1, -1)
    acts = [np.asarray(a).reshape(-1) for a in model.hidden_activations(x)]
    proba = np.asarray(model.predict_proba(x)).reshape(-1)
    shape = tuple(image_shape) if image_shape is not None else square_shape(x.shape[1])
    n_panels = len(acts) + 2
    rows, cols = grid_shape(n_panels, max_cols=4)
    fig = new_figure(3.4 * cols, 3.2 * rows + 0.3, layout=None)  # fixed margins: faster, same look
    fig.subplots_adjust(left=0.04, right=0.9, bottom=0.06, top=0.88 if rows == 1 else 0.92, wspace=0.6,
                        hspace=0.3)
    axes = fig.subplots(rows, cols, squeeze=False)
    flat = axes.ravel()
    show_image(flat[0], x.reshape(shape) if shape else x, "input", aspect="auto" if shape is None else None)
    for i, act in enumerate(acts, start=1):
        _activation_panel(flat[i], act, i)
    _output_panel(flat[len(acts) + 1], proba)
    hide_unused(axes, n_panels)
    fig.suptitle(f"activations of {len(acts)} hidden layers for one input")
    return fig


def first_layer_weights(model, image_shape: Sequence[int] = (28, 28), max_units: int = 64) -> Figure:
    """The incoming weights of the first hidden units, each drawn as an image tile.

    Each tile is scaled by its own largest absolute weight (red positive, blue negative), so units
    with small weights stay readable. The tiles form one mosaic image with a blank gap between
    them: one image draws in a tenth of the time of one axes per tile.

    Parameters
    ----------
    model : object whose ``parameters["dense1.W"]`` has shape (H*W, units)
    image_shape : (H, W)
    max_units : int
        At most this many tiles (the first units).

    Returns
    -------
    matplotlib.figure.Figure
    """
    w = np.asarray(model.parameters["dense1.W"], dtype=np.float64)
    h, wd = int(image_shape[0]), int(image_shape[1])
    if w.shape[0] != h * wd:
        raise ValueError(f"dense1.W has {w.shape[0]} inputs, image_shape {(h, wd)} needs {h * wd}")
    n = min(w.shape[1], max_units)
    rows, cols = grid_shape(n)
    fig = new_figure(max(6.0, 0.95 * cols + 1.6), max(5.0, 0.95 * rows + 0.9), layout=None)
    fig.subplots_adjust(left=0.02, right=0.86, bottom=0.02, top=0.93)
    ax = fig.add_subplot()
    show_image(ax, weight_mosaic(w[:, :n], (h, wd), cols), cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    ax.set_frame_on(False)
    colorbar = fig.colorbar(ax.images[0], ax=ax, fraction=0.04, pad=0.02, ticks=[-1, 0, 1])
    colorbar.set_label("weight / the unit's largest |weight|", fontsize=10)
    fig.suptitle(f"first-layer weights: {n} of {w.shape[1]} units (red +, blue −)", fontsize=12)
    return fig


def weight_mosaic(columns: np.ndarray, image_shape: tuple[int, int], cols: int, gap: int = 1) -> np.ndarray:
    """Columns of (H*W, n) weights as one (rows*(H+gap)-gap, cols*(W+gap)-gap) image.

    Tile ``j`` sits at row ``j // cols``, column ``j % cols``, divided by its largest absolute
    value (so it spans [-1, 1]); gaps and unused tiles are NaN, which imshow leaves blank.
    """
    h, w = image_shape
    n = columns.shape[1]
    rows = math.ceil(n / cols)
    scale = np.abs(columns).max(axis=0)
    tiles = (columns / np.where(scale > 0, scale, 1.0)).T.reshape(n, h, w)
    mosaic = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    for j, tile in enumerate(tiles):
        top, left = (j // cols) * (h + gap), (j % cols) * (w + gap)
        mosaic[top:top + h, left:left + w] = tile
    return mosaic
