"""The confusion-matrix picture written beside ``eval.json`` as ``confusion_matrix.png``.

Rows are ground truth, columns predictions. Each cell shows its count; its
colour is the count as a fraction of its ground-truth row, so a good model
shows a dark diagonal whatever the class sizes. Drawn with Pillow (a
few milliseconds): matplotlib's import alone costs EVAL several times what
the matching does, and a grid of coloured cells with text needs none of it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Above this many classes the counts are not printed in the cells (they would not fit).
MAX_ANNOTATED_CLASSES = 30

# Matplotlib's "Blues" at 0, 0.125, ..., 1 (fraction of the ground-truth row → cell colour).
_BLUES = np.array(
    [
        (247, 251, 255),
        (222, 235, 247),
        (198, 219, 239),
        (158, 202, 225),
        (107, 174, 214),
        (66, 146, 198),
        (33, 113, 181),
        (8, 81, 156),
        (8, 48, 107),
    ],
    dtype=float,
)


def _format_count(n: int) -> str:
    """Short count for a cell: ``987``, ``12.3k``, ``4.56M``."""
    if n < 10_000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    if n < 1_000_000_000:
        return f"{n / 1_000_000:.3g}M"
    return f"{n / 1_000_000_000:.3g}G"


def _blues(fraction: np.ndarray) -> np.ndarray:
    """RGB (uint8) of each fraction in [0, 1] on the Blues ramp."""
    pos = np.clip(fraction, 0.0, 1.0) * (len(_BLUES) - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(_BLUES) - 1)
    t = (pos - lo)[..., None]
    return np.round(_BLUES[lo] * (1 - t) + _BLUES[hi] * t).astype(np.uint8)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # Pillow's scalable font (FreeType builds)
    except (TypeError, OSError):
        return ImageFont.load_default()


def render_confusion_matrix_png(
    confusion: Any, labels: Sequence[str], title: str = "Confusion matrix", dpi: int = 100
) -> bytes:
    """PNG bytes of a confusion matrix (rows ground truth, columns prediction) labelled with ``labels``.

    ``dpi`` scales the picture (100: cells of 60 pixels for up to 10 classes).
    """
    from PIL import Image, ImageDraw

    cm = np.asarray(confusion, dtype=np.int64)
    n = cm.shape[0]
    if cm.ndim != 2 or cm.shape[1] != n or len(labels) != n:
        raise ValueError(f"need a square matrix and one label per row; got shape {cm.shape} and {len(labels)} labels")
    row_sums = cm.sum(axis=1, keepdims=True)
    fraction = np.divide(cm, row_sums, out=np.zeros(cm.shape), where=row_sums > 0)

    scale = dpi / 100
    # Cells of 60 px (up to 10 classes) and a grid of at least 300 px; smaller cells for many classes.
    cell = int(round(scale * (max(60, 300 // n) if n <= 10 else 36 if n <= MAX_ANNOTATED_CLASSES else 24)))
    text_font, small_font, title_font = _font(int(13 * scale)), _font(int(11 * scale)), _font(int(16 * scale))
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_w = max(int(measure.textlength(str(label), font=small_font)) for label in labels)
    pad = int(12 * scale)
    left = pad + int(18 * scale) + label_w + pad  # "ground truth" axis title, row labels
    top = pad + int(24 * scale)  # title
    grid = cell * n
    bar_w = int(16 * scale)
    width = max(left + grid + pad * 3 + bar_w + int(40 * scale), int(400 * scale))
    bottom = top + grid + pad + label_w + int(28 * scale)  # column labels (rotated), axis title
    height = bottom + pad

    rgb = np.full((height, width, 3), 255, dtype=np.uint8)
    colours = _blues(fraction)
    rgb[top : top + grid, left : left + grid] = np.repeat(np.repeat(colours, cell, axis=0), cell, axis=1)
    bar_x = left + grid + pad * 2
    ramp = _blues(np.linspace(1.0, 0.0, grid))[:, None, :]
    rgb[top : top + grid, bar_x : bar_x + bar_w] = np.repeat(ramp, bar_w, axis=1)
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)

    draw.text((left + grid / 2, pad), title, fill="black", font=title_font, anchor="mt")
    for k in range(n + 1):  # cell borders
        draw.line([(left + k * cell, top), (left + k * cell, top + grid)], fill=(255, 255, 255), width=1)
        draw.line([(left, top + k * cell), (left + grid, top + k * cell)], fill=(255, 255, 255), width=1)
    draw.rectangle([left, top, left + grid, top + grid], outline=(60, 60, 60))
    if n <= MAX_ANNOTATED_CLASSES:
        font = text_font if n <= 10 else small_font
        for (i, j), count in np.ndenumerate(cm):
            colour = "white" if fraction[i, j] > 0.5 else "black"
            centre = (left + j * cell + cell / 2, top + i * cell + cell / 2)
            draw.text(centre, _format_count(int(count)), fill=colour, font=font, anchor="mm")
    for i, label in enumerate(labels):  # row labels, right-aligned beside the grid
        draw.text((left - pad // 2, top + i * cell + cell / 2), str(label), fill="black", font=small_font, anchor="rm")
    # Column labels, rotated: drawn on a strip, turned, pasted under the grid.
    strip = Image.new("L", (label_w + pad, grid), 0)
    strip_draw = ImageDraw.Draw(strip)
    for j, label in enumerate(labels):
        strip_draw.text((label_w + pad // 2, j * cell + cell / 2), str(label), fill=255, font=small_font, anchor="rm")
    turned = strip.rotate(90, expand=True)  # reads upwards, each label ending just under its column
    image.paste((0, 0, 0), (left, top + grid + pad // 2), turned)
    draw.text((left + grid / 2, height - pad), "prediction", fill="black", font=text_font, anchor="mb")
    vertical = Image.new("L", (grid, int(18 * scale)), 0)
    ImageDraw.Draw(vertical).text((grid / 2, 0), "ground truth", fill=255, font=text_font, anchor="mt")
    image.paste((0, 0, 0), (pad, top), vertical.rotate(90, expand=True))
    draw.rectangle([bar_x, top, bar_x + bar_w, top + grid], outline=(60, 60, 60))
    for value in (0.0, 0.5, 1.0):
        y = top + (1 - value) * grid
        draw.text((bar_x + bar_w + 4, y), f"{value:.1f}", fill="black", font=small_font, anchor="lm")
    draw.text((bar_x + bar_w / 2, top + grid + 4), "row share", fill="black", font=small_font, anchor="mt")

    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False, compress_level=3)
    return buf.getvalue()


def write_confusion_matrix_png(
    uri: str | os.PathLike, confusion: Any, labels: Sequence[str], title: str = "Confusion matrix"
) -> None:
    """Write :func:`render_confusion_matrix_png` to ``uri`` atomically (any rv file system)."""
    from rv import file_utils

    file_utils.write_bytes(uri, render_confusion_matrix_png(confusion, labels, title))
