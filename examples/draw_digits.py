"""Draw the two example digit images shipped in this folder (run from the repository root).

``three_dark_on_light.png``: a 3 in dark ink on light grey paper, off-centre.
``seven_light_on_dark.png``: a 7 in light chalk on a dark board, in colour (RGB).
Both are 200x200: nothing like MNIST's 28x28 white-on-black, so
``python -m nnscratch.predict`` has to convert them the way MNIST was made.
"""

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent


def draw_three() -> Image.Image:
    im = Image.new("L", (200, 200), 232)
    d = ImageDraw.Draw(im)
    # angles run clockwise from 3 o'clock: upper bowl from upper left round to the middle,
    # lower bowl from the middle round to lower left
    d.arc((62, 28, 138, 100), start=195, end=95, fill=25, width=19)
    d.arc((56, 88, 144, 172), start=265, end=150, fill=25, width=20)
    return im


def draw_seven() -> Image.Image:
    im = Image.new("RGB", (200, 200), (24, 28, 40))
    d = ImageDraw.Draw(im)
    d.line([(48, 42), (146, 38), (92, 176)], fill=(236, 236, 228), width=19, joint="curve")
    d.line([(84, 108), (136, 106)], fill=(236, 236, 228), width=15)  # the continental cross bar
    return im


if __name__ == "__main__":
    draw_three().save(HERE / "three_dark_on_light.png", optimize=True)
    draw_seven().save(HERE / "seven_light_on_dark.png", optimize=True)
