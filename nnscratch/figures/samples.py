"""Grids of dataset images: a labelled preview and the misclassified test images."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from nnscratch.figures._layout import as_images, grid_shape, message_figure, tiled_images


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
    return tiled_images(imgs, [str(class_names[int(label)]) for label in labs], cols=cols, caption_lines=1,
                        title=f"{len(imgs)} samples")


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
    captions = [f"true {class_names[int(t[i])]}\npred {class_names[int(p[i])]} ({conf[i]:.0%})" for i in picked]
    return tiled_images(imgs[picked], captions, cols=grid_shape(len(picked))[1], caption_lines=2,
                        title=f"misclassified: showing {len(picked)} of {n_wrong} (of {len(t)} images)")
