"""Training animation: decision regions on the data's first two principal components.

The data are projected on their first two principal components. The plane
through the data mean spanned by those components is sampled on a grid, each
grid point is lifted back to input space (``mean + z @ components``) and
classified by the model, giving the model's decision regions *on that plane*.
Points are drawn at their projections and coloured by their true label; since
they lie off the plane, a point can sit in a region of another colour and still
be classified correctly.

Use :class:`DecisionRegionRecorder` as a ``fit`` callback (it snapshots the
regions every few epochs, which costs one forward pass over the grid per
snapshot), then :func:`training_animation` writes the GIF. Opt-in: it costs time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib.animation import PillowWriter
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from nnscratch.figures._layout import new_figure
from nnscratch.figures.network import model_dtype

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PCAPlane:
    """The plane through ``mean`` spanned by the two leading principal ``components``.

    Attributes
    ----------
    mean : ndarray, shape (features,)
    components : ndarray, shape (2, features), orthonormal rows
    """

    mean: np.ndarray
    components: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> "PCAPlane":
        """Principal plane of ``X`` (n, features) by SVD of the centred data (float64)."""
        x = np.asarray(X, dtype=np.float64)
        mean = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
        return cls(mean=mean, components=vt[:2].copy())

    def project(self, X: np.ndarray) -> np.ndarray:
        """Coordinates on the plane: (n, features) -> (n, 2)."""
        return (np.asarray(X, dtype=np.float64) - self.mean) @ self.components.T

    def lift(self, Z: np.ndarray) -> np.ndarray:
        """Points of the plane in input space: (n, 2) -> (n, features)."""
        return self.mean + np.asarray(Z, dtype=np.float64) @ self.components


def plane_grid(Z: np.ndarray, grid_size: int, margin: float = 0.1) -> tuple[np.ndarray, tuple[float, ...]]:
    """A ``grid_size`` x ``grid_size`` grid covering the projected points plus a margin.

    Parameters
    ----------
    Z : ndarray, shape (n, 2)
    grid_size : int
    margin : float
        Fraction of each range added on both sides.

    Returns
    -------
    grid : ndarray, shape (grid_size**2, 2), row-major with the first axis along z2
    extent : (z1_min, z1_max, z2_min, z2_max) for ``imshow(origin="lower")``
    """
    lo, hi = Z.min(axis=0), Z.max(axis=0)
    pad = margin * np.maximum(hi - lo, 1e-9)
    lo, hi = lo - pad, hi + pad
    z1 = np.linspace(lo[0], hi[0], grid_size)
    z2 = np.linspace(lo[1], hi[1], grid_size)
    g1, g2 = np.meshgrid(z1, z2)
    grid = np.column_stack([g1.ravel(), g2.ravel()])
    return grid, (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))


@dataclass
class Frame:
    """One snapshot: the epoch (0 = before training), predicted class per grid cell, metrics."""

    epoch: int
    regions: np.ndarray
    metrics: Mapping[str, float] = field(default_factory=dict)


class DecisionRegionRecorder:
    """``fit`` callback that snapshots the decision regions every ``every`` epochs.

    Parameters
    ----------
    X : ndarray, shape (n, features)
        Points to draw and to fit the principal plane on (the first ``max_points`` are used).
    y : ndarray, shape (n,), int class ids
    every : int
        Snapshot every this many epochs (plus epoch 0 and, in :meth:`on_train_end`, the last).
    grid_size : int
        Cells per side of the region grid.
    max_points : int
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, *, every: int = 5, grid_size: int = 80,
                 max_points: int = 1000) -> None:
        if every < 1 or grid_size < 2 or max_points < 2:
            raise ValueError(f"need every >= 1, grid_size >= 2, max_points >= 2; "
                             f"got {every}, {grid_size}, {max_points}")
        x = np.asarray(X)[:max_points]
        self.y = np.asarray(y)[:max_points]
        self.every = every
        self.grid_size = grid_size
        self.plane = PCAPlane.fit(x)
        self.points = self.plane.project(x)
        grid, self.extent = plane_grid(self.points, grid_size)
        self._lifted = self.plane.lift(grid)
        self._model = None
        self._last_epoch = -1
        self._last_metrics: dict[str, float] = {}
        self.frames: list[Frame] = []

    def snapshot(self, model, epoch: int, metrics: Mapping[str, float] | None = None) -> Frame:
        """Classify the grid with ``model`` and append the frame."""
        pred = np.asarray(model.predict(self._lifted.astype(model_dtype(model))))
        frame = Frame(epoch, pred.reshape(self.grid_size, self.grid_size), dict(metrics or {}))
        self.frames.append(frame)
        self._last_epoch = epoch
        return frame

    def on_train_begin(self, model) -> None:
        self._model = model
        self.snapshot(model, 0)

    def on_epoch_end(self, epoch: int, metrics: Mapping[str, float]) -> None:
        self._last_metrics = dict(metrics)
        if epoch % self.every == 0:
            self.snapshot(self._model, epoch, metrics)

    def on_train_end(self, history) -> None:
        last = len(getattr(history, "epochs", []) or [])
        if self._model is not None and last > self._last_epoch:
            self.snapshot(self._model, last, self._last_metrics)


def _class_cmap(n_classes: int) -> ListedColormap:
    """Distinct colours for ``n_classes`` classes (tab10, or tab20 beyond 10)."""
    import matplotlib

    base = matplotlib.colormaps["tab10" if n_classes <= 10 else "tab20"]
    return ListedColormap([base(i % base.N) for i in range(n_classes)])


def _frame_title(frame: Frame) -> str:
    parts = [f"epoch {frame.epoch}"]
    for key in ("train/acc", "val/acc", "val/loss"):
        if key in frame.metrics:
            parts.append(f"{key} {frame.metrics[key]:.3f}")
    return "   ".join(parts)


def training_animation(
    recorder: DecisionRegionRecorder,
    path: str | Path,
    *,
    class_names: Sequence[str] | None = None,
    fps: float = 2.0,
    dpi: int = 80,
) -> Path:
    """Write the recorded frames as a GIF with matplotlib's ``PillowWriter``.

    Parameters
    ----------
    recorder : DecisionRegionRecorder
        After ``fit`` ran with it as a callback (at least one frame).
    path : str or Path
        Output file; ``.gif`` is appended when it has no suffix.
    class_names : sequence of str, optional
        Legend labels; default the class ids.
    fps : float
    dpi : int

    Returns
    -------
    Path of the written GIF.
    """
    if not recorder.frames:
        raise ValueError("the recorder holds no frames: pass it to fit(callbacks=[...]) first")
    out = Path(path)
    out = out if out.suffix else out.with_suffix(".gif")
    out.parent.mkdir(parents=True, exist_ok=True)
    n_classes = int(max(recorder.y.max(initial=0), max(int(f.regions.max()) for f in recorder.frames))) + 1
    if class_names is not None:
        n_classes = max(n_classes, len(class_names))
    fig, image, title = _animation_figure(recorder, n_classes, class_names)
    writer = PillowWriter(fps=fps)
    with writer.saving(fig, str(out), dpi):
        for frame in recorder.frames:
            image.set_data(frame.regions)
            title.set_text(_frame_title(frame))
            writer.grab_frame()
    log.info("wrote %d frames to %s", len(recorder.frames), out)
    return out


def _animation_figure(recorder: DecisionRegionRecorder, n_classes: int, class_names):
    """The reusable figure: a region image to update, the fixed scatter, a title."""
    cmap = _class_cmap(n_classes)
    fig: Figure = new_figure(6.0, 5.2)
    ax = fig.add_subplot()
    image = ax.imshow(recorder.frames[0].regions, origin="lower", extent=recorder.extent, aspect="auto",
                      cmap=cmap, vmin=-0.5, vmax=n_classes - 0.5, alpha=0.35, interpolation="nearest")
    ax.scatter(recorder.points[:, 0], recorder.points[:, 1], c=recorder.y, cmap=cmap, vmin=-0.5,
               vmax=n_classes - 0.5, s=6, edgecolors="none")
    names = list(class_names) if class_names is not None else [str(i) for i in range(n_classes)]
    handles = [ax.scatter([], [], color=cmap(i), s=20, label=names[i]) for i in range(n_classes)]
    ax.legend(handles=handles, fontsize=7, loc="upper right", ncols=2 if n_classes > 5 else 1)
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    title = ax.set_title("")
    return fig, image, title
