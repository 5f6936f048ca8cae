"""Prediction overlay PNGs: the image, predicted outlines and ground-truth outlines.

Written by PREDICT next to the predictions (``<predict_uri>/<scene id>-overlay.png``)
so that a person can see at a glance whether the model works. Images are read
decimated (at most ``max_size`` pixels on a side): memory stays bounded on any
scene size.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from rv import file_utils
from rv.core.box import Box

MAX_SIZE = 1024


def _display_rgb(chip: np.ndarray) -> np.ndarray:
    """Stretch the first three channels to uint8 (2–98 % per channel) for display."""
    if chip.ndim == 2:
        chip = chip[..., None]
    rgb = chip[..., :3] if chip.shape[-1] >= 3 else np.repeat(chip[..., :1], 3, axis=-1)
    if rgb.dtype == np.uint8:
        return rgb
    out = np.zeros(rgb.shape, dtype=np.uint8)
    for c in range(3):
        band = rgb[..., c].astype(np.float64)
        valid = band[band != 0]
        if valid.size == 0:
            continue
        lo, hi = np.percentile(valid, [2, 98])
        out[..., c] = np.clip((band - lo) / max(hi - lo, 1e-9) * 255, 0, 255).astype(np.uint8)
    return out


#: side of the blocks a decimated picture is read in: memory is one block plus the picture
BLOCK_SIZE = 2048


def _decimation_step(height: int, width: int, max_size: int) -> int:
    return max(1, int(np.ceil(max(height, width) / max_size)))


def _read_decimated(read: Callable[[Box], np.ndarray], height: int, width: int, step: int) -> np.ndarray:
    """Every ``step``-th pixel of a ``height`` x ``width`` raster, read block by block.

    ``read(window)`` returns the array of a window (``(h, w)`` or ``(h, w, c)``).
    Blocks are a multiple of ``step`` on a side, so their subsamples tile the
    picture exactly and no read is larger than a block: a 32768² scene costs
    one 2048² block at a time, not the whole raster.
    """
    block = step * max(1, BLOCK_SIZE // step)
    out: np.ndarray | None = None
    for y0 in range(0, height, block):
        for x0 in range(0, width, block):
            part = read(Box(y0, x0, min(y0 + block, height), min(x0 + block, width)))[::step, ::step]
            if out is None:
                out = np.empty((-(-height // step), -(-width // step), *part.shape[2:]), part.dtype)
            out[y0 // step : y0 // step + part.shape[0], x0 // step : x0 // step + part.shape[1]] = part
    assert out is not None
    return out


def overlay_figure(
    task_config: Any,
    scene_config: Any,
    tmp_dir: str,
    max_size: int = MAX_SIZE,
    predictions: bool = True,
    ground_truth: bool = True,
    title: str | None = None,
):
    """A matplotlib ``Figure`` of a scene's image with its predictions and/or ground truth outlined.

    Predictions (the scene's label store) are drawn solid and ground truth
    (its label source) dashed when both are shown; one alone is drawn solid.
    The figure is made without pyplot (no global state, no backend switch),
    so it can be saved here or shown in a notebook by :mod:`rv.plot`.
    """
    import attrs
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch, Rectangle

    with_gt = ground_truth and scene_config.label_source is not None
    with_pred = predictions and scene_config.label_store is not None
    # The image as stored (no transformers: no statistics needed); labels read against it.
    rs_config = attrs.evolve(scene_config.raster_source, transformers=())
    scene = attrs.evolve(scene_config, raster_source=rs_config).create(
        task_config, tmp_dir, with_labels=with_gt, with_store=with_pred
    )
    raster_source = rs_config.create(tmp_dir)
    height, width = raster_source.extent.height, raster_source.extent.width
    step = _decimation_step(height, width, max_size)
    image = _read_decimated(raster_source.get_chip, height, width, step)
    scale = float(step)
    rgb = _display_rgb(image)
    class_map = task_config.class_map
    colors = {
        item.id: np.array(c) / 255.0 for item, c in zip(class_map, [class_map.colors_rgb()[i] for i in class_map.ids])
    }
    bg = class_map.background_class_id
    h, w = rgb.shape[:2]
    fig = Figure(figsize=(10, 10 * h / max(w, 1)), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.imshow(rgb, extent=(0, w * scale, h * scale, 0))
    gt_style = "dashed" if with_pred else "solid"
    layers = [
        (scene.label_source if with_gt else None, gt_style),
        (scene.label_store if with_pred else None, "solid"),
    ]
    kind = task_config.key
    if kind == "SEMANTIC_SEGMENTATION":
        # Class ids read decimated, window by window, like the image: never the whole raster.
        for labels, style in layers:
            if labels is None:
                continue
            arr = _read_decimated(labels.get_label_arr, height, width, step)
            for cid in class_map.ids:
                if cid == bg:
                    continue
                m = (arr == cid).astype(float)
                if m.any():
                    ys = np.arange(m.shape[0]) * step
                    xs = np.arange(m.shape[1]) * step
                    ax.contour(
                        xs,
                        ys,
                        m,
                        levels=[0.5],
                        colors=[colors[cid]],
                        linewidths=1.2 if style == "solid" else 0.9,
                        linestyles=style,
                    )
    else:
        for source, style in layers:
            if source is None:
                continue
            labels = source.get_labels()
            boxes = getattr(labels, "boxes", None)
            if boxes is None:
                boxes = labels.cells
            for box, cid in zip(np.asarray(boxes).reshape(-1, 4), np.asarray(labels.class_ids)):
                if kind == "CHIP_CLASSIFICATION" and cid == bg:
                    continue
                y0, x0, y1, x1 = box
                ax.add_patch(
                    Rectangle(
                        (x0, y0),
                        x1 - x0,
                        y1 - y0,
                        fill=False,
                        edgecolor=colors.get(int(cid), (1, 1, 0)),
                        linestyle=style,
                        linewidth=1.2,
                    )
                )
    handles = []
    if with_pred and with_gt:
        handles += [
            Patch(facecolor="none", edgecolor="white", linestyle="solid", label="predicted"),
            Patch(facecolor="none", edgecolor="white", linestyle="dashed", label="ground truth"),
        ]
    handles += [Patch(color=tuple(colors[i]), label=class_map.get_by_id(i).name) for i in class_map.ids if i != bg]
    ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.7)
    if title is None:
        shown = {
            (True, True): "predictions (solid) and ground truth (dashed)",
            (True, False): "predictions",
            (False, True): "ground truth",
            (False, False): "image",
        }[(with_pred, with_gt)]
        title = f"{scene.id}: {shown}"
    ax.set_title(title)
    ax.set_axis_off()
    return fig


def write_prediction_overlay(
    task_config: Any, scene_config: Any, out_dir_uri: str, tmp_dir: str, max_size: int = MAX_SIZE
) -> str | None:
    """Write ``<out_dir_uri>/<scene id>-overlay.png`` (:func:`overlay_figure`); returns its URI."""
    fig = overlay_figure(task_config, scene_config, tmp_dir, max_size)
    local = os.path.join(tmp_dir, f"{scene_config.id}-overlay.png")
    fig.savefig(local, bbox_inches="tight")
    uri = file_utils.join(out_dir_uri, f"{scene_config.id}-overlay.png")
    file_utils.upload(local, uri)
    return uri
