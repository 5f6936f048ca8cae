"""The confusion-matrix picture written beside ``eval.json`` as ``confusion_matrix.png``.

Rows are ground truth, columns predictions. Each cell shows its count; its
colour is the count as a fraction of its ground-truth row, so a good model
shows a dark diagonal whatever the class sizes. matplotlib is imported
inside the functions and drawn on an Agg canvas without pyplot, so the
global backend and pyplot's figure list are left alone.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Above this many classes the counts are not printed in the cells (they would not fit).
MAX_ANNOTATED_CLASSES = 30


def _format_count(n: int) -> str:
    """Short count for a cell: ``987``, ``12.3k``, ``4.56M``."""
    if n < 10_000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    if n < 1_000_000_000:
        return f"{n / 1_000_000:.3g}M"
    return f"{n / 1_000_000_000:.3g}G"


def render_confusion_matrix_png(
    confusion: Any, labels: Sequence[str], title: str = "Confusion matrix", dpi: int = 100
) -> bytes:
    """PNG bytes of a confusion matrix (rows ground truth, columns prediction) labelled with ``labels``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cm = np.asarray(confusion, dtype=np.int64)
    n = cm.shape[0]
    if cm.ndim != 2 or cm.shape[1] != n or len(labels) != n:
        raise ValueError(f"need a square matrix and one label per row; got shape {cm.shape} and {len(labels)} labels")
    row_sums = cm.sum(axis=1, keepdims=True)
    fraction = np.divide(cm, row_sums, out=np.zeros(cm.shape), where=row_sums > 0)

    side = float(np.clip(0.6 * n + 3.0, 4.5, 20.0))  # inches; grows with the class count
    fig = Figure(figsize=(side + 1.0, side), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(fraction, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    cbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    cbar.set_label("fraction of ground-truth row")

    ticks = np.arange(n)
    ax.set_xticks(ticks, labels=list(labels), rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(ticks, labels=list(labels))
    ax.set_xlabel("prediction")
    ax.set_ylabel("ground truth")
    ax.set_title(title)
    if n <= MAX_ANNOTATED_CLASSES:
        fontsize = 10 if n <= 10 else 7
        for (i, j), count in np.ndenumerate(cm):
            color = "white" if fraction[i, j] > 0.5 else "black"
            ax.text(j, i, _format_count(int(count)), ha="center", va="center", color=color, fontsize=fontsize)

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def write_confusion_matrix_png(
    uri: str | os.PathLike, confusion: Any, labels: Sequence[str], title: str = "Confusion matrix"
) -> None:
    """Write :func:`render_confusion_matrix_png` to ``uri`` atomically (any rv file system)."""
    from rv import file_utils

    file_utils.write_bytes(uri, render_confusion_matrix_png(confusion, labels, title))
