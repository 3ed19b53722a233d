"""Shared layout helpers for the figure functions.

Every figure is a :class:`matplotlib.figure.Figure` built without pyplot, so no
global figure manager, backend switch or ``plt.show`` is involved; ``savefig``
renders through Agg on its own.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

IMAGE_CMAP = "gray"
"""Colour map for dataset images: 0 (background) black, 1 (ink) white, as stored."""


def new_figure(width: float, height: float, *, layout: str | None = "constrained") -> Figure:
    """A fresh figure of ``width`` x ``height`` inches; ``layout=None`` for fixed margins, which draw
    faster than constrained layout where the result looks the same."""
    return Figure(figsize=(width, height), layout=layout)


def tile_axes(fig: Figure, rows: int, cols: int, *, tile_height: float, caption: float,
              heading: float) -> np.ndarray:
    """A ``rows`` x ``cols`` grid of image tiles with fixed margins (constrained layout takes longer
    than the drawing itself on grids of dozens of tiles). Sizes in inches: ``tile_height`` per row,
    of which ``caption`` is each tile's title, and ``heading`` above the grid for the suptitle."""
    height = fig.get_figheight()
    return fig.subplots(rows, cols, squeeze=False, gridspec_kw={
        "left": 0.02, "right": 0.98, "bottom": 0.1 / height, "top": 1.0 - (heading + caption) / height,
        "wspace": 0.12, "hspace": caption / (tile_height - caption)})


def grid_shape(n: int, *, max_cols: int | None = None) -> tuple[int, int]:
    """Rows and columns of a near-square grid holding ``n`` tiles (n >= 1)."""
    if n < 1:
        raise ValueError(f"grid_shape needs n >= 1, got {n}")
    cols = math.ceil(math.sqrt(n))
    if max_cols is not None:
        cols = min(cols, max_cols)
    return math.ceil(n / cols), cols


def as_images(images: np.ndarray, image_shape: Sequence[int]) -> np.ndarray:
    """Reshape flat rows to images.

    Parameters
    ----------
    images : ndarray, shape (n, H*W) or (n, H, W)
    image_shape : (H, W)

    Returns
    -------
    ndarray, shape (n, H, W)
    """
    arr = np.asarray(images)
    h, w = int(image_shape[0]), int(image_shape[1])
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.shape[1:] == (h, w):
        return arr
    if arr.ndim != 2 or arr.shape[1] != h * w:
        raise ValueError(f"images of shape {arr.shape} do not match image_shape {(h, w)}")
    return arr.reshape(len(arr), h, w)


def show_image(ax: Axes, image: np.ndarray, title: str = "", **imshow_kwargs) -> None:
    """Draw one grayscale image without ticks, with an optional small title."""
    kwargs = {"cmap": IMAGE_CMAP, "vmin": 0.0, "vmax": 1.0, "interpolation": "nearest"}
    kwargs.update(imshow_kwargs)
    ax.imshow(image, **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def hide_unused(axes: np.ndarray, used: int) -> None:
    """Turn off the axes after the first ``used`` ones of a flattened grid."""
    for ax in axes.ravel()[used:]:
        ax.set_axis_off()


def message_figure(text: str, *, width: float = 4.0, height: float = 2.0) -> Figure:
    """A figure that only states ``text`` (e.g. "no misclassified images")."""
    fig = new_figure(width, height)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=11, transform=ax.transAxes)
    return fig

