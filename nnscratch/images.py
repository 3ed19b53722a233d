"""Turn a user's digit photo or drawing into an MNIST-like 28x28 image.

MNIST digits were made by scaling each digit to fit a 20x20 box (keeping its
aspect ratio, anti-aliased) and pasting it into a 28x28 field so that its centre
of mass sits at the centre, ink bright (1) on a dark (0) background.
:func:`preprocess_image` repeats that for any PNG/JPEG of any size:

1. read as grayscale in [0, 1] (EXIF rotation applied; transparency composited
   onto a background that contrasts with the strokes);
2. make ink bright: invert when the border (taken as background) is light;
3. stretch so the background is 0 and the strongest ink 1, drop faint noise;
4. crop to the bounding box of the ink;
5. scale the longest side to 20 px, keeping the aspect ratio;
6. paste into 28x28 with the centre of mass at the centre.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MNIST_SIZE = 28
MNIST_BOX = 20


class ImageError(ValueError):
    """An image that cannot be read or holds no digit."""


def read_grayscale(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as grayscale luminance.

    Parameters
    ----------
    path : str or PathLike
        Any format Pillow reads (PNG, JPEG, BMP, GIF, ...).

    Returns
    -------
    ndarray, shape (H, W), float64 in [0, 1]

    Raises
    ------
    ImageError
        If the file is missing or not an image Pillow can decode.
    """
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            return _luminance(im)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise ImageError(f"cannot open {path}: {exc.strerror or exc}") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageError(f"{path} is not a readable image: {exc}") from exc


def _luminance(im: Image.Image) -> np.ndarray:
    """(H, W) luminance in [0, 1]; transparent pixels take the colour opposite the strokes."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        return np.clip(arr / top, 0.0, 1.0)
    la = np.asarray(im.convert("RGBA").convert("LA"), dtype=np.float64) / 255.0
    gray, alpha = la[..., 0], la[..., 1]
    if alpha.min() >= 1.0:
        return gray
    # strokes are the opaque pixels: put them on a backdrop of the opposite brightness
    stroke_level = float(np.sum(gray * alpha) / max(float(alpha.sum()), 1e-12))
    backdrop = 0.0 if stroke_level > 0.5 else 1.0
    return alpha * gray + (1.0 - alpha) * backdrop


def border_level(gray: np.ndarray) -> float:
    """Median brightness of the image border, taken as the background level.

    Parameters
    ----------
    gray : ndarray, shape (H, W)
    """
    h, w = gray.shape
    k = max(1, min(h, w) // 50)
    border = np.concatenate([gray[:k].ravel(), gray[-k:].ravel(), gray[:, :k].ravel(), gray[:, -k:].ravel()])
    return float(np.median(border))


def ink_map(gray: np.ndarray, *, noise_floor: float = 0.15) -> np.ndarray:
    """Ink intensity with background 0 and strongest ink 1, whatever the polarity.

    Parameters
    ----------
    gray : ndarray, shape (H, W), in [0, 1]
    noise_floor : float
        Ink below this fraction of the strongest ink is set to 0 (paper texture, JPEG noise).

    Returns
    -------
    ndarray, shape (H, W), float64 in [0, 1]

    Raises
    ------
    ImageError
        If the image is uniform (no ink).
    """
    background = border_level(gray)
    ink = 1.0 - gray if background > 0.5 else gray
    ink = ink - (1.0 - background if background > 0.5 else background)
    top = float(ink.max())
    if top <= 0.05:
        raise ImageError("the image holds no digit (it is uniform)")
    ink = np.clip(ink / top, 0.0, 1.0)
    ink[ink < noise_floor] = 0.0
    return ink


def crop_to_ink(ink: np.ndarray) -> np.ndarray:
    """The smallest rectangle holding every non-zero pixel. (H, W) -> (h, w)."""
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    if len(rows) == 0:
        raise ImageError("the image holds no digit (no ink found)")
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def fit_box(ink: np.ndarray, box: int = MNIST_BOX) -> np.ndarray:
    """Scale so the longest side is ``box`` pixels, keeping the aspect ratio (anti-aliased).

    Parameters
    ----------
    ink : ndarray, shape (h, w)
    box : int

    Returns
    -------
    ndarray, shape (h', w') with max(h', w') == box, float64 in [0, 1], max 1
    """
    h, w = ink.shape
    scale = box / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # PIL wants (width, height)
    resized = Image.fromarray(ink.astype(np.float32), mode="F").resize(size, Image.Resampling.LANCZOS)
    out = np.clip(np.asarray(resized, dtype=np.float64), 0.0, 1.0)
    top = out.max()
    return out / top if top > 0 else out


def center_of_mass(image: np.ndarray) -> tuple[float, float]:
    """Intensity-weighted (row, col) centre of an image in pixel-index units."""
    total = image.sum()
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / total), float((cols * image).sum() / total)


def paste_centered(patch: np.ndarray, size: int = MNIST_SIZE) -> np.ndarray:
    """Paste ``patch`` into a ``size`` x ``size`` zero field with its centre of mass at the centre.

    The offset is rounded to whole pixels and clamped so the patch stays inside.

    Parameters
    ----------
    patch : ndarray, shape (h, w), h, w <= size

    Returns
    -------
    ndarray, shape (size, size), float64
    """
    h, w = patch.shape
    cy, cx = center_of_mass(patch)
    centre = (size - 1) / 2.0
    top = int(np.clip(round(centre - cy), 0, size - h))
    left = int(np.clip(round(centre - cx), 0, size - w))
    field = np.zeros((size, size))
    field[top : top + h, left : left + w] = patch
    return field


def mnist_like(gray: np.ndarray) -> np.ndarray:
    """Grayscale image of any size and polarity -> MNIST-like (28, 28) float32 in [0, 1]."""
    return paste_centered(fit_box(crop_to_ink(ink_map(gray)))).astype(np.float32)


def preprocess_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file and return the MNIST-like model input.

    Returns
    -------
    ndarray, shape (784,), float32 in [0, 1]

    Raises
    ------
    ImageError
        If the file cannot be read or holds no digit.
    """
    try:
        return mnist_like(read_grayscale(path)).reshape(-1)
    except ImageError as exc:
        if str(path) in str(exc):
            raise
        raise ImageError(f"{path}: {exc}") from exc


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm")


def expand_image_args(args: list[str] | tuple[str, ...]) -> list[Path]:
    """Files named on a command line: files as given, directories' image files, glob patterns.

    Paths that match nothing are kept as given, so the caller reports them as unreadable
    rather than silently dropping them.

    Returns
    -------
    list of Path, in argument order (each directory's and glob's matches sorted)
    """
    out: list[Path] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        elif not path.exists() and any(ch in arg for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(arg, recursive=True))
            out.extend(matches if matches else [path])
        else:
            out.append(path)
    return out

