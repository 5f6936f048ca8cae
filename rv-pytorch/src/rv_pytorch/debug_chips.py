"""``debug-chips.png``: training chips as the model sees them, with their labels drawn.

Written by TRAIN when the backend's ``debug`` option is on. Each chip is
taken after augmentation and normalisation and mapped back to pixel values
for display, so a person can check the band order, the normalisation, the
augmentation and the labels in one picture: segmentation labels are tinted
in the class colors (ignored pixels untinted), boxes are outlined in their
class color, and a chip classification chip has a border in its class color
and the class name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def _display_rgb(image: np.ndarray, mask: np.ndarray, mean: np.ndarray, std: np.ndarray, uint8: bool) -> np.ndarray:
    """``(C, H, W)`` normalised -> ``(H, W, 3)`` uint8 for display (first three bands, or grey)."""
    raw = image * std[:, None, None] + mean[:, None, None]
    bands = raw[:3] if raw.shape[0] >= 3 else raw[:1].repeat(3, axis=0)
    if uint8:
        out = np.clip(bands, 0, 255)
    else:
        out = np.empty_like(bands)
        for i, band in enumerate(bands):
            valid = band[~mask] if (~mask).any() else band.ravel()
            lo, hi = np.percentile(valid, [2, 98]) if valid.size else (0.0, 1.0)
            out[i] = np.clip((band - lo) / max(hi - lo, 1e-6) * 255, 0, 255)
    rgb = out.transpose(1, 2, 0).astype(np.uint8)
    rgb[mask] = (40, 40, 40)
    return rgb


def write_debug_chips(
    dataset,
    path: str,
    class_names: Sequence[str],
    class_colors: Sequence[tuple[int, int, int]],
    normalizer: Any,
    uint8: bool,
    count: int = 16,
    columns: int = 4,
) -> str:
    """Draw up to ``count`` items of ``dataset`` in a grid and save the PNG at ``path``."""
    from PIL import Image, ImageDraw

    n = min(count, len(dataset))
    if n == 0:
        return path
    items = [dataset[i] for i in range(n)]
    size = max(max(item["image"].shape[-2:]) for item in items)
    scale = max(1, 192 // size)
    cell = size * scale + 8
    rows = (n + columns - 1) // columns
    sheet = Image.new("RGB", (columns * cell, rows * cell), (255, 255, 255))
    colors = [tuple(int(v) for v in c) for c in class_colors]
    for k, item in enumerate(items):
        image = item["image"].numpy()
        mask = item["mask"].numpy().astype(bool)
        rgb = _display_rgb(image, mask, normalizer.mean, normalizer.std, uint8).astype(np.float32)
        if "labels" in item:
            labels = item["labels"].numpy()
            for index, color in enumerate(colors):
                where = labels == index
                rgb[where] = 0.55 * rgb[where] + 0.45 * np.asarray(color, np.float32)
        tile = Image.fromarray(rgb.astype(np.uint8)).resize((rgb.shape[1] * scale, rgb.shape[0] * scale), Image.NEAREST)
        draw = ImageDraw.Draw(tile)
        if "boxes" in item:
            for box, index in zip(item["boxes"].tolist(), item["class_ids"].tolist()):
                ymin, xmin, ymax, xmax = (v * scale for v in box)
                draw.rectangle([xmin, ymin, xmax - 1, ymax - 1], outline=colors[index], width=2)
        if "class_id" in item:
            index = int(item["class_id"])
            if 0 <= index < len(colors):
                draw.rectangle([0, 0, tile.width - 1, tile.height - 1], outline=colors[index], width=3)
                draw.text((4, 4), class_names[index], fill=colors[index])
        y, x = divmod(k, columns)
        sheet.paste(tile, (x * cell + 4, y * cell + 4))
    sheet.save(path)
    return path
