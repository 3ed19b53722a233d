"""Confusion-matrix heatmap that shows the errors: counts in every cell, colour only off the diagonal.

Drawn with Pillow, not matplotlib: a sweep draws one per trial, and Pillow draws and saves ten classes
in about 40 ms, without the second it takes a worker process to import matplotlib and the ~0.3 s
matplotlib takes to render a hundred annotated cells. :func:`confusion_cells` decides what each cell says and how it is
coloured; :func:`confusion_matrix` lays that out as a picture.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

DIAGONAL_COLOR = "#dfe7dc"  # correct predictions: a flat pale green, so errors own the colour scale
DIAGONAL_TEXT = "#1b5e20"
#: matplotlib's "Reds" (ColorBrewer's 9-class Reds, linearly interpolated), light to dark.
REDS = ("#fff5f0", "#fee0d2", "#fcbba1", "#fc9272", "#fb6a4a", "#ef3b2c", "#cb181d", "#a50f15", "#67000d")
COLORBAR_LABEL = "errors: share of the true class (row)"


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


_REDS_RGB = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in REDS], dtype=np.float64)


def reds(values: np.ndarray | float) -> np.ndarray:
    """The "Reds" colours of ``values`` in [0, 1] (0 = palest): uint8 RGB, shape ``(*values.shape, 3)``."""
    anchors = np.linspace(0.0, 1.0, len(REDS))
    v = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
    return np.stack([np.interp(v, anchors, _REDS_RGB[:, c]) for c in range(3)], axis=-1).round().astype(np.uint8)


@dataclass(frozen=True)
class ConfusionCells:
    """What the heatmap shows: per cell its text, fill and text colour; the colour scale; the title."""

    texts: list[list[str]]
    fills: list[list[str | tuple[int, int, int]]]
    text_colors: list[list[str]]
    vmax: float
    title: str


def confusion_cells(matrix: np.ndarray, class_names: Sequence[str]) -> ConfusionCells:
    """Every cell annotated with its count; off-diagonal cells coloured by the share of their true class
    that went to that wrong column (the scale is set by the largest error, at least 1 %, so a 1 %
    confusion is visible next to a 99 % diagonal); diagonal cells flat, annotated with their recall.

    Raises
    ------
    ValueError
        The matrix is not square or does not match ``class_names``.
    """
    m = np.asarray(matrix)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(class_names):
        raise ValueError(f"matrix of shape {m.shape} does not match {len(class_names)} class names")
    n, total = len(m), int(m.sum())
    rates = row_rates(m)
    errors = rates[~np.eye(n, dtype=bool)]
    vmax = max(float(errors.max()) if errors.size else 0.0, 0.01)
    texts, fills, colors = [], [], []
    for i in range(n):
        texts.append([]), fills.append([]), colors.append([])
        for j in range(n):
            count = int(m[i, j])
            if i == j:
                texts[i].append(f"{count}\n{rates[i, j]:.0%}")
                fills[i].append(DIAGONAL_COLOR)
                colors[i].append(DIAGONAL_TEXT)
            else:
                texts[i].append(str(count) if count else "·")
                fills[i].append(tuple(int(c) for c in reds(rates[i, j] / vmax)))
                colors[i].append("white" if rates[i, j] > 0.6 * vmax else "black")
    accuracy = float(np.trace(m)) / total if total else float("nan")
    return ConfusionCells(texts, fills, colors, vmax, f"test set: {total} examples, accuracy {accuracy:.2%}")


def confusion_matrix(matrix: np.ndarray, class_names: Sequence[str]) -> Image.Image:
    """The confusion matrix of :func:`confusion_cells` as a picture (rows = true class, columns =
    predicted), with class names on both axes and a colour bar for the error share.

    Parameters
    ----------
    matrix : ndarray, shape (C, C)
        Integer counts, rows = true class, columns = predicted class
        (as from ``nnscratch.metrics.confusion_matrix``).
    class_names : sequence of C str

    Returns
    -------
    PIL.Image.Image
        RGB; save it with ``.save(path)`` (or :func:`nnscratch.figures.save_figure`).
    """
    names = [str(c) for c in class_names]
    cells = confusion_cells(matrix, names)
    return _Canvas(names).draw(cells)


class _Canvas:
    """Pixel layout of one heatmap: cell size from the class count, margins from the labels."""

    def __init__(self, names: list[str]) -> None:
        self.names, self.n = names, len(names)
        self.tilted = max(map(len, names)) > 2  # long names would collide under their columns
        self.cell = int(np.clip(440 // self.n, 28, 110))
        size = 10 if self.cell >= 40 else 8
        self.font, self.bold = _font(size + 3), _font(size + 2, bold=True)
        self.label_font, self.title_font = _font(15), _font(17)
        grid = self.cell * self.n
        self.left = 40 + max(_text_width(self.label_font, name) for name in names)
        self.top = 50
        below = 40 + max(_text_width(self.label_font, name) for name in names) * 3 // 4 if self.tilted else 60
        self.image = Image.new("RGB", (self.left + grid + 150, self.top + grid + below), "white")
        self.draw_ = ImageDraw.Draw(self.image)

    def draw(self, cells: ConfusionCells) -> Image.Image:
        self._cells(cells)
        self._labels()
        self._colorbar(cells.vmax)
        width = self.image.width
        self.draw_.text((width // 2, 24), cells.title, font=self.title_font, fill="black", anchor="mm")
        return self.image

    def _cell_box(self, i: int, j: int) -> tuple[int, int, int, int]:
        x, y = self.left + j * self.cell, self.top + i * self.cell
        return x, y, x + self.cell, y + self.cell

    def _cells(self, cells: ConfusionCells) -> None:
        for i in range(self.n):
            for j in range(self.n):
                box = self._cell_box(i, j)
                self.draw_.rectangle(box, fill=cells.fills[i][j])
                centre = ((box[0] + box[2]) // 2, (box[1] + box[3]) // 2)
                font = self.bold if i == j else self.font
                self.draw_.multiline_text(centre, cells.texts[i][j], font=font, fill=cells.text_colors[i][j],
                                          anchor="mm", align="center", spacing=1)
        grid = self.cell * self.n
        self.draw_.rectangle((self.left, self.top, self.left + grid, self.top + grid), outline="#444444")

    def _labels(self) -> None:
        grid, font = self.cell * self.n, self.label_font
        for k, name in enumerate(self.names):
            middle = self.top + k * self.cell + self.cell // 2
            self.draw_.text((self.left - 8, middle), name, font=font, fill="black", anchor="rm")
            centre = self.left + k * self.cell + self.cell // 2
            if self.tilted:
                _paste_rotated(self.image, name, font, (centre, self.top + grid + 6), angle=45)
            else:
                self.draw_.text((centre, self.top + grid + 6), name, font=font, fill="black", anchor="mt")
        below = self.image.height - 16
        self.draw_.text((self.left + grid // 2, below), "predicted", font=font, fill="black", anchor="mm")
        _paste_rotated(self.image, "true", font, (14, self.top + grid // 2), angle=90, anchor="centre")

    def _colorbar(self, vmax: float) -> None:
        grid = self.cell * self.n
        x0, x1 = self.left + grid + 22, self.left + grid + 40
        column = reds(np.linspace(1.0, 0.0, grid))[:, None, :]  # top = the largest error
        self.image.paste(Image.fromarray(np.repeat(column, x1 - x0, axis=1)), (x0, self.top))
        self.draw_.rectangle((x0, self.top, x1, self.top + grid), outline="#444444")
        step = _nice_step(vmax / 5)
        decimals = max(0, -int(np.floor(np.log10(step * 100)))) if step < 0.01 else 0
        for k in range(int(vmax / step + 1e-9) + 1):
            value = k * step
            y = self.top + grid - round(value / vmax * grid)
            self.draw_.line((x1, y, x1 + 4, y), fill="black")
            self.draw_.text((x1 + 7, y), f"{value:.{decimals}%}", font=self.font, fill="black", anchor="lm")
        _paste_rotated(self.image, COLORBAR_LABEL, _font(13), (x1 + 70, self.top + grid // 2), angle=90,
                       anchor="centre")


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at least ``raw``."""
    power = 10.0 ** np.floor(np.log10(raw))
    return next(f * power for f in (1, 2, 2.5, 5, 10) if f * power >= raw - 1e-12)


def _paste_rotated(image: Image.Image, text: str, font: ImageFont.FreeTypeFont, at: tuple[int, int], *,
                   angle: int, anchor: str = "top-right") -> None:
    """Draw ``text`` turned ``angle`` degrees counter-clockwise; ``at`` is its top-right corner
    (tilted tick labels end under their column) or its centre."""
    left, top, right, bottom = font.getbbox(text)
    mask = Image.new("L", (right + 2, bottom + 2), 0)
    ImageDraw.Draw(mask).text((0, 0), text, font=font, fill=255)
    turned = mask.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    if anchor == "centre":
        corner = (at[0] - turned.width // 2, at[1] - turned.height // 2)
    else:
        corner = (at[0] - turned.width, at[1])
    image.paste("black", corner, turned)


def _text_width(font: ImageFont.FreeTypeFont, text: str) -> int:
    left, _, right, _ = font.getbbox(text)
    return right - left


@lru_cache(maxsize=None)
def _font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans, the font of the matplotlib figures (found without importing matplotlib), else
    Pillow's own."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.submodule_search_locations:
        name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
        path = Path(list(spec.submodule_search_locations)[0]) / "mpl-data" / "fonts" / "ttf" / name
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)
