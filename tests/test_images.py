"""MNIST-style preprocessing of user images: polarity, size, centring, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from nnscratch.images import (
    ImageError,
    center_of_mass,
    crop_to_ink,
    expand_image_args,
    fit_box,
    ink_map,
    mnist_like,
    paste_centered,
    preprocess_image,
    read_grayscale,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def draw_two(size: int, ink: int, paper: int, *, shift: tuple[int, int] = (0, 0), mode: str = "L") -> Image.Image:
    """A '2' stroke drawn on a ``size`` canvas, scaled from a 100-px design."""
    s = size / 100
    dx, dy = shift
    im = Image.new(mode, (size, size), paper)
    d = ImageDraw.Draw(im)
    pts = [(30, 35), (45, 20), (65, 22), (70, 40), (35, 80), (75, 80)]
    d.line([((x + dx) * s, (y + dy) * s) for x, y in pts], fill=ink, width=max(1, round(8 * s)), joint="curve")
    return im


def to_gray(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("L"), dtype=np.float64) / 255.0


def test_output_is_mnist_shaped_float32_in_unit_range():
    out = mnist_like(to_gray(draw_two(200, 0, 255)))
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() == 0.0 and out.max() == pytest.approx(1.0)


def test_digit_fits_20px_box_and_is_centred_by_mass():
    out = mnist_like(to_gray(draw_two(300, 0, 255, shift=(-20, 15))))
    rows = np.flatnonzero(out.any(axis=1))
    cols = np.flatnonzero(out.any(axis=0))
    assert max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) == 20
    cy, cx = center_of_mass(out)
    assert abs(cy - 13.5) <= 0.5 and abs(cx - 13.5) <= 0.5
    assert not out[0].any() and not out[:, 0].any()  # a clear margin, as in MNIST


def test_light_and_dark_backgrounds_give_the_same_image():
    dark_on_light = mnist_like(to_gray(draw_two(200, 20, 240)))
    light_on_dark = mnist_like(to_gray(draw_two(200, 240, 20)))
    np.testing.assert_allclose(dark_on_light, light_on_dark, atol=0.02)


def test_result_does_not_depend_on_canvas_size_or_position():
    small = mnist_like(to_gray(draw_two(120, 0, 255)))
    large = mnist_like(to_gray(draw_two(600, 0, 255, shift=(15, -10))))
    corr = np.corrcoef(small.ravel(), large.ravel())[0, 1]
    assert corr > 0.9


def test_grey_paper_becomes_black_background():
    out = mnist_like(to_gray(draw_two(200, 60, 200)))
    assert np.mean(out == 0.0) > 0.6  # most of the field is exact background, as in MNIST
    assert out.max() == pytest.approx(1.0)


def test_aspect_ratio_is_kept():
    ink = np.zeros((100, 100))
    ink[10:90, 40:60] = 1.0  # a bar 80 tall, 20 wide
    patch = fit_box(crop_to_ink(ink))
    assert patch.shape == (20, 5)


def test_paste_centered_keeps_the_patch_inside():
    patch = np.zeros((20, 20))
    patch[0, 0] = 1.0  # all mass in a corner: centring would push it out
    field = paste_centered(patch)
    assert field.sum() == 1.0 and field[8, 8] == 1.0  # offset clamped to 28 - 20 = 8


def test_uniform_image_has_no_digit():
    with pytest.raises(ImageError, match="no digit"):
        ink_map(np.full((50, 50), 0.7))


def test_preprocess_reads_files_of_every_polarity_and_format(tmp_path):
    draw_two(200, 0, 255).save(tmp_path / "a.png")
    draw_two(200, (250, 250, 250), (10, 10, 60), mode="RGB").save(tmp_path / "b.jpg", quality=90)
    a, b = preprocess_image(tmp_path / "a.png"), preprocess_image(tmp_path / "b.jpg")
    assert a.shape == b.shape == (784,) and a.dtype == np.float32
    assert np.corrcoef(a, b)[0, 1] > 0.95


def test_transparent_background_is_handled_for_both_stroke_colours(tmp_path):
    reference = preprocess_image_from(draw_two(200, 0, 255))
    for stroke in (0, 255):
        mask = draw_two(200, 255, 0)
        rgba = Image.new("RGBA", (200, 200), (stroke, stroke, stroke, 0))
        rgba.putalpha(mask)
        rgba.save(tmp_path / f"t{stroke}.png")
        out = preprocess_image(tmp_path / f"t{stroke}.png")
        np.testing.assert_allclose(out, reference, atol=0.02)


def preprocess_image_from(im: Image.Image) -> np.ndarray:
    return mnist_like(to_gray(im)).reshape(-1)


def test_sixteen_bit_png_is_scaled(tmp_path):
    arr = (to_gray(draw_two(100, 255, 0)) * 65535).astype(np.uint16)
    Image.fromarray(arr).save(tmp_path / "deep.png")
    gray = read_grayscale(tmp_path / "deep.png")
    assert gray.max() == pytest.approx(1.0) and gray.min() == 0.0


def test_unreadable_files_raise_clear_errors(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ImageError, match="notes.png is not a readable image"):
        preprocess_image(tmp_path / "notes.png")
    with pytest.raises(ImageError, match="cannot open .*missing.png"):
        preprocess_image(tmp_path / "missing.png")
    Image.new("L", (30, 30), 128).save(tmp_path / "blank.png")
    with pytest.raises(ImageError, match="blank.png: the image holds no digit"):
        preprocess_image(tmp_path / "blank.png")


def test_expand_image_args_handles_dirs_globs_and_missing(tmp_path):
    for name in ("b.png", "a.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "c.png").write_bytes(b"")
    got = expand_image_args([str(tmp_path), str(sub / "*.png"), str(tmp_path / "nope.png"), str(tmp_path / "z*.png")])
    assert got == [tmp_path / "a.jpg", tmp_path / "b.png", sub / "c.png", tmp_path / "nope.png", tmp_path / "z*.png"]


@pytest.mark.parametrize("name", ["three_dark_on_light.png", "seven_light_on_dark.png"])
def test_shipped_examples_become_centred_digits(name):
    out = preprocess_image(EXAMPLES / name).reshape(28, 28)
    cy, cx = center_of_mass(out)
    assert abs(cy - 13.5) <= 0.5 and abs(cx - 13.5) <= 0.5
    assert 0.1 < np.mean(out > 0) < 0.4  # a stroke, not a blob or speckle
