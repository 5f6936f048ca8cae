"""Window feeding for prediction: the sliding windows over a raster, read and normalised ahead of the model.

The caller gives a ``read_window(window) -> (chip, mask)`` callable (a chip
``(H, W, C)`` and a nodata mask ``(H, W)``, True = nodata or outside the
raster; ``window`` is a pixel box ``(ymin, xmin, ymax, xmax)``) and the
raster's extent ``(height, width)``. The windows are
:meth:`rv.core.Box.get_windows` of the extent with ``padding="shift"``: every
``stride``, the last row and column flush with the raster's edge, so no
window reaches past it unless the raster is smaller than a chip.

:class:`WindowFeeder` reads and normalises the windows in a background
thread feeding a bounded queue, so raster I/O overlaps the model's compute;
windows that are nodata only are skipped. :func:`window_batches` groups them
in batches for the model and says which window rows are finished.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rv.core.box import Box
from rv.errors import ConfigError, DataError
from rv_pytorch.data import Normalizer

Window = tuple[int, int, int, int]
ReadWindow = Callable[[Window], tuple[np.ndarray, np.ndarray]]


def sliding_windows(extent: tuple[int, int], chip_size: int, stride: int) -> list[list[Window]]:
    """The windows covering ``extent``, grouped in rows (top to bottom, left to right)."""
    rows: dict[int, list[Window]] = {}
    for box in Box(0, 0, int(extent[0]), int(extent[1])).get_windows(chip_size, stride, padding="shift"):
        window = (int(box.ymin), int(box.xmin), int(box.ymax), int(box.xmax))
        rows.setdefault(window[0], []).append(window)
    return list(rows.values())


def check_geometry(extent: tuple[int, int], chip_size: int, stride: int | None) -> int:
    """The stride (default ``chip_size``), after checking it and the extent."""
    stride = chip_size if stride is None else stride
    if chip_size < 1 or not 0 < stride <= chip_size:
        raise ConfigError(
            f"Prediction chip size {chip_size} and stride {stride}: the stride must be between "
            "1 and the chip size (a larger stride would leave gaps between windows)."
        )
    if extent[0] < 1 or extent[1] < 1:
        raise DataError(f"The raster extent {tuple(extent)} is empty; nothing to predict.")
    return stride


@dataclass
class WindowChip:
    """A window read and normalised: its row index, window, ``(C, H, W)`` image and nodata mask."""

    row: int
    window: Window
    image: torch.Tensor
    mask: np.ndarray


_ROW_END = "row_end"
_DONE = "done"


class WindowFeeder:
    """Reads and normalises windows in a background thread.

    Iterating yields :class:`WindowChip` items and, after the last window of
    each window row, ``("row_end", row_index)``. An exception in the reader
    is re-raised in the consumer; leaving the iteration early stops the reader.
    """

    def __init__(self, read_window: ReadWindow, rows: list[list[Window]], normalizer: Normalizer, queue_size: int = 16):
        self.read_window = read_window
        self.rows = rows
        self.normalizer = normalizer
        self.queue: queue.Queue = queue.Queue(maxsize=max(queue_size, 1))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="rv-window-reader", daemon=True)

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for row_index, row in enumerate(self.rows):
                for window in row:
                    chip, mask = self.read_window(window)
                    mask = np.asarray(mask, dtype=bool)
                    expected = (window[2] - window[0], window[3] - window[1])
                    if chip.shape[:2] != expected or mask.shape != expected:
                        raise DataError(
                            f"read_window{window} returned a chip of shape {chip.shape} and a mask of "
                            f"shape {mask.shape}; both must cover the window, {expected} pixels "
                            "(pad outside the raster and mark it in the mask)."
                        )
                    if mask.all():
                        continue  # nodata only: nothing to predict
                    item = WindowChip(row_index, window, self.normalizer(chip, mask), mask)
                    if not self._put(item):
                        return
                if not self._put((_ROW_END, row_index)):
                    return
            self._put((_DONE, None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(exc)

    def __iter__(self) -> Iterator[Any]:
        self.thread.start()
        try:
            while True:
                item = self.queue.get()
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, tuple) and item[0] == _DONE:
                    return
                yield item
        finally:
            self.stop.set()
            self.thread.join()


Batches = Iterator[tuple[list[WindowChip], list[int]]]


def _batches(feeder: WindowFeeder, batch_size: int) -> Batches:
    """Batches of chips (spanning window rows) with the rows finished once the batch is processed."""
    batch: list[WindowChip] = []
    finished: list[int] = []
    for item in feeder:
        if isinstance(item, WindowChip):
            batch.append(item)
            if len(batch) == batch_size:
                yield batch, finished
                batch, finished = [], []
        else:
            finished.append(item[1])
            if not batch:
                yield [], finished
                finished = []
    if batch or finished:
        yield batch, finished


def _with_progress(batches: Batches, rows: list[list[Window]], description: str) -> Batches:
    """Yield ``batches`` unchanged while rv's progress display counts the windows done."""
    from rv.progress import Progress

    with Progress() as progress:
        task = progress.add_task(description, total=sum(len(row) for row in rows))
        for chips, finished in batches:
            yield chips, finished
            progress.advance(task, len(chips))


def window_batches(
    read_window: ReadWindow,
    rows: list[list[Window]],
    normalizer: Normalizer,
    batch_size: int,
    queue_size: int = 16,
    description: str = "predict windows",
) -> Batches:
    """``(chips, finished_rows)`` pairs: up to ``batch_size`` windows read ahead by a :class:`WindowFeeder`
    (an empty list when only rows finished), and the indices of the window rows complete once those
    chips are processed. rv's progress display counts the windows."""
    return _with_progress(
        _batches(WindowFeeder(read_window, rows, normalizer, queue_size), batch_size), rows, description
    )
