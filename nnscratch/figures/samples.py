"""Grids of dataset images: a labelled preview and the misclassified test images."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from nnscratch.figures._layout import (
    as_images,
    grid_shape,
    hide_unused,
    message_figure,
    new_figure,
    show_image,
    tile_axes,
)


def dataset_preview(
    images: np.ndarray,
    labels: Sequence[int],
    class_names: Sequence[str],
    rows: int = 3,
    cols: int = 3,
    image_shape: Sequence[int] = (28, 28),
) -> Figure:
    """The first ``rows * cols`` images, each titled with its class name.

    Parameters
    ----------
    images : ndarray, shape (n, H*W) or (n, H, W), values in [0, 1]
    labels : sequence of n int class ids
    class_names : sequence of str, indexed by class id
    rows, cols : int
        Grid size; fewer images leave the remaining cells blank.
    image_shape : (H, W)

    Returns
    -------
    matplotlib.figure.Figure
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"rows and cols must be >= 1, got rows={rows}, cols={cols}")
    imgs = as_images(images, image_shape)[: rows * cols]
    labs = np.asarray(labels)[: len(imgs)]
    fig = new_figure(1.6 * cols, 1.7 * rows + 0.4, layout=None)
    axes = tile_axes(fig, rows, cols, tile_height=1.7, caption=0.22, heading=0.3)
    for ax, image, label in zip(axes.ravel(), imgs, labs):
        show_image(ax, image, f"{class_names[int(label)]}")
    hide_unused(axes, len(imgs))
    fig.suptitle(f"{len(imgs)} samples")
    return fig


def _pick_mistakes(true: np.ndarray, pred: np.ndarray, confidence: np.ndarray, limit: int) -> np.ndarray:
    """Indices where ``true != pred``, most confident mistakes first, at most ``limit``."""
    wrong = np.flatnonzero(true != pred)
    order = np.argsort(-confidence[wrong], kind="stable")
    return wrong[order][:limit]


def misclassified_grid(
    images: np.ndarray,
    true: Sequence[int],
    pred: Sequence[int],
    confidence: np.ndarray,
    class_names: Sequence[str],
    image_shape: Sequence[int] = (28, 28),
    max_images: int = 25,
) -> Figure:
    """Misclassified images titled with true label, predicted label and confidence.

    Correctly classified rows are dropped, so the whole test set can be passed.
    The most confident mistakes are shown first.

    Parameters
    ----------
    images : ndarray, shape (n, H*W) or (n, H, W)
    true, pred : sequences of n int class ids
    confidence : ndarray, shape (n,) or (n, C)
        Probability the model gave its prediction; with (n, C) probabilities the
        row maximum is used.
    class_names : sequence of str
    image_shape : (H, W)
    max_images : int
        At most this many tiles.

    Returns
    -------
    matplotlib.figure.Figure
    """
    t, p = np.asarray(true), np.asarray(pred)
    conf = np.asarray(confidence, dtype=float)
    if conf.ndim == 2:
        conf = conf.max(axis=1)
    if not (len(t) == len(p) == len(conf) == len(images)):
        raise ValueError(
            f"images, true, pred and confidence differ in length: "
            f"{len(images)}, {len(t)}, {len(p)}, {len(conf)}"
        )
    picked = _pick_mistakes(t, p, conf, max_images)
    n_wrong = int(np.sum(t != p))
    if len(picked) == 0:
        return message_figure(f"no misclassified images among {len(t)}")
    imgs = as_images(images, image_shape)
    rows, cols = grid_shape(len(picked))
    fig = new_figure(1.7 * cols, 1.9 * rows + 0.5, layout=None)
    axes = tile_axes(fig, rows, cols, tile_height=1.9, caption=0.38, heading=0.4)
    for ax, i in zip(axes.ravel(), picked):
        title = f"true {class_names[int(t[i])]}\npred {class_names[int(p[i])]} ({conf[i]:.0%})"
        show_image(ax, imgs[i], title)
    hide_unused(axes, len(picked))
    fig.suptitle(f"misclassified: showing {len(picked)} of {n_wrong} (of {len(t)} images)")
    return fig
