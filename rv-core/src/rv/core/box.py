"""Pixel windows (:class:`Box`) and vectorized operations on arrays of boxes.

A box is a window in *pixel* coordinates of a raster, ordered
``(ymin, xmin, ymax, xmax)`` like everywhere in rv: ``y`` is the row, ``x`` the
column, ``ymax``/``xmax`` are exclusive. Arrays of boxes are ``(N, 4)`` float
arrays in the same order. Map coordinates never go in a Box; convert them with
:class:`rv.core.crs_transformer.CRSTransformer` first.

This module imports only numpy and attrs (shapely and rasterio are imported
inside the methods that need them) so that configs may use it freely.
"""

from __future__ import annotations

import contextlib
import gc
import math
import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

import attrs
import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import rasterio.windows
    import shapely

Padding = Literal["pad", "shift", "drop"]


class _HybridSquare:
    """``Box.make_square(ymin, xmin, size)`` on the class, ``box.make_square(size)`` on a box.

    Raster Vision 0.8 code calls the static form; the instance form anchors
    the square at the box's top-left corner. One descriptor keeps both.
    """

    def __get__(self, instance: Box | None, owner: type[Box]):
        if instance is None:

            def make_square(ymin: float, xmin: float, size: float) -> Box:
                """Square box of side ``size`` with top-left corner ``(ymin, xmin)``."""
                return owner(ymin, xmin, ymin + size, xmin + size)

            return make_square

        def make_square_here(size: float) -> Box:
            """Square box of side ``size`` sharing this box's top-left corner."""
            return owner(instance.ymin, instance.xmin, instance.ymin + size, instance.xmin + size)

        return make_square_here


def _randint(rng: Any, low: int, high: int) -> int:
    """Random integer in ``[low, high]`` (inclusive) from a numpy Generator, ``random.Random`` or None."""
    if rng is None:
        rng = np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(low, high + 1))
    if isinstance(rng, random.Random):
        return rng.randint(low, high)
    if isinstance(rng, np.random.RandomState):
        return int(rng.randint(low, high + 1))
    raise TypeError(f"rng must be a numpy Generator, random.Random or None, got {type(rng).__name__}")


def _pair(value: Any) -> tuple[Any, Any]:
    """``(v, v)`` for a number, the two values of a ``(y, x)`` pair as they are."""
    if np.isscalar(value):
        return value, value
    first, second = value
    return first, second


def _axis_starts(length: float, size: int, stride: int, padding: Padding) -> list[float]:
    """Window start offsets (relative to the axis origin) along one axis."""
    if padding == "drop":
        if length < size:
            return []
        n = int((length - size) // stride) + 1
        return [i * stride for i in range(n)]
    # Windows needed so that the last one reaches the end of the axis.
    n = max(int(math.ceil((length - size) / stride)), 0) + 1
    starts: list[float] = [i * stride for i in range(n)]
    if padding == "shift" and length >= size:
        # Pull the last window back so it ends exactly on the edge: no padding.
        starts[-1] = length - size
        # The shift can make the last two windows identical; keep one.
        if len(starts) > 1 and starts[-1] == starts[-2]:
            starts.pop()
    return starts


@attrs.frozen(order=False)
class Box:
    """A pixel window ``(ymin, xmin, ymax, xmax)``; ``ymax``/``xmax`` exclusive.

    Coordinates may be ints or floats (floats for object detection boxes,
    ints for raster windows). Boxes are immutable and hashable.
    """

    ymin: float
    xmin: float
    ymax: float
    xmax: float

    make_square = _HybridSquare()

    # ----------------------------------------------------------------- shape

    @property
    def height(self) -> float:
        """Number of rows (``ymax - ymin``)."""
        return self.ymax - self.ymin

    @property
    def width(self) -> float:
        """Number of columns (``xmax - xmin``)."""
        return self.xmax - self.xmin

    @property
    def size(self) -> tuple[float, float]:
        """``(height, width)``, the shape of the array this window reads."""
        return (self.height, self.width)

    @property
    def area(self) -> float:
        """``height * width`` (0 for an empty or inverted box)."""
        return max(self.height, 0) * max(self.width, 0)

    @property
    def center(self) -> tuple[float, float]:
        """``(y, x)`` of the box center."""
        return ((self.ymin + self.ymax) / 2, (self.xmin + self.xmax) / 2)

    def is_empty(self) -> bool:
        """True when the box has no area."""
        return self.height <= 0 or self.width <= 0

    # ----------------------------------------------------------- conversions

    def to_tuple(self) -> tuple[float, float, float, float]:
        """``(ymin, xmin, ymax, xmax)``."""
        return (self.ymin, self.xmin, self.ymax, self.xmax)

    def to_array(self) -> np.ndarray:
        """``float64`` array ``[ymin, xmin, ymax, xmax]``."""
        return np.array(self.to_tuple(), dtype=np.float64)

    @classmethod
    def from_array(cls, arr: Any) -> Box:
        """Box from a length-4 sequence ``[ymin, xmin, ymax, xmax]``."""
        a = np.asarray(arr).reshape(-1)
        if a.shape != (4,):
            raise ValueError(f"Box.from_array needs 4 values (ymin, xmin, ymax, xmax), got shape {np.shape(arr)}")
        return cls(*(v.item() for v in a))

    def to_int(self) -> Box:
        """Box with coordinates rounded outward to ints (floor mins, ceil maxes)."""
        return Box(
            int(math.floor(self.ymin)),
            int(math.floor(self.xmin)),
            int(math.ceil(self.ymax)),
            int(math.ceil(self.xmax)),
        )

    def to_shapely(self) -> shapely.Polygon:
        """Rectangle polygon in pixel space (``x`` = column, ``y`` = row)."""
        import shapely

        return shapely.box(self.xmin, self.ymin, self.xmax, self.ymax)

    @classmethod
    def from_shapely(cls, geom: Any) -> Box:
        """Bounding box of a pixel-space shapely geometry."""
        minx, miny, maxx, maxy = geom.bounds
        return cls(miny, minx, maxy, maxx)

    def to_rasterio_window(self) -> rasterio.windows.Window:
        """``rasterio.windows.Window`` reading this box (may lie partly outside: read it boundless)."""
        from rasterio.windows import Window

        return Window(col_off=self.xmin, row_off=self.ymin, width=self.width, height=self.height)

    @classmethod
    def from_rasterio_window(cls, window: Any) -> Box:
        """Box covering a ``rasterio.windows.Window``."""
        return cls(
            window.row_off,
            window.col_off,
            window.row_off + window.height,
            window.col_off + window.width,
        )

    def to_slices(self) -> tuple[slice, slice]:
        """``(row_slice, col_slice)`` to index a ``(H, W, ...)`` array with integer coordinates."""
        b = self.to_int()
        return (slice(b.ymin, b.ymax), slice(b.xmin, b.xmax))

    def to_xywh(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, width, height)``."""
        return (self.xmin, self.ymin, self.width, self.height)

    def to_xyxy(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` (the torchvision/shapely order)."""
        return (self.xmin, self.ymin, self.xmax, self.ymax)

    # ------------------------------------------------------- set operations

    def intersection(self, other: Box) -> Box | None:
        """The overlap of two boxes, or ``None`` if they do not overlap (touching is no overlap)."""
        ymin = max(self.ymin, other.ymin)
        xmin = max(self.xmin, other.xmin)
        ymax = min(self.ymax, other.ymax)
        xmax = min(self.xmax, other.xmax)
        if ymax <= ymin or xmax <= xmin:
            return None
        return Box(ymin, xmin, ymax, xmax)

    def intersects(self, other: Box) -> bool:
        """True when the boxes share some area (boxes that only touch do not intersect)."""
        return self.intersection(other) is not None

    def contains_box(self, other: Box) -> bool:
        """True when ``other`` lies entirely inside this box."""
        return (
            self.ymin <= other.ymin and self.xmin <= other.xmin and other.ymax <= self.ymax and other.xmax <= self.xmax
        )

    def contains_point(self, y: float, x: float) -> bool:
        """True when pixel point ``(y, x)`` is inside ``[min, max)``."""
        return self.ymin <= y < self.ymax and self.xmin <= x < self.xmax

    def union(self, other: Box) -> Box:
        """Smallest box containing both boxes."""
        return Box(
            min(self.ymin, other.ymin),
            min(self.xmin, other.xmin),
            max(self.ymax, other.ymax),
            max(self.xmax, other.xmax),
        )

    # ------------------------------------------------------------ new boxes

    def buffer(self, n: float) -> Box:
        """Box grown by ``n`` pixels on every side (negative ``n`` shrinks it)."""
        return Box(self.ymin - n, self.xmin - n, self.ymax + n, self.xmax + n)

    def shift(self, dy: float, dx: float) -> Box:
        """Box moved by ``dy`` rows and ``dx`` columns."""
        return Box(self.ymin + dy, self.xmin + dx, self.ymax + dy, self.xmax + dx)

    def clip(self, extent: Box) -> Box:
        """Box clamped to ``extent``; an outside box becomes a zero-area box on the extent's edge."""
        ymin = min(max(self.ymin, extent.ymin), extent.ymax)
        xmin = min(max(self.xmin, extent.xmin), extent.xmax)
        ymax = min(max(self.ymax, extent.ymin), extent.ymax)
        xmax = min(max(self.xmax, extent.xmin), extent.xmax)
        return Box(ymin, xmin, ymax, xmax)

    def make_random_square_container(self, size: int, rng: Any = None) -> Box:
        """A random square window of side ``size`` that contains this box.

        Used to chip around an object: the object lands at a random place in
        the chip. ``rng`` is a numpy ``Generator``, ``random.Random`` or None.
        Raises ``ValueError`` when the box is larger than ``size``.
        """
        if size < self.width or size < self.height:
            raise ValueError(f"A square of side {size} cannot contain {self} ({self.height}x{self.width})")
        y = _randint(rng, int(math.ceil(self.ymax - size)), int(math.floor(self.ymin)))
        x = _randint(rng, int(math.ceil(self.xmax - size)), int(math.floor(self.xmin)))
        return Box(y, x, y + size, x + size)

    def make_random_square(self, size: int, rng: Any = None) -> Box:
        """A random square window of side ``size`` inside this box (integer corners).

        Raises ``ValueError`` when ``size`` exceeds the box's height or width.
        """
        if size > self.width or size > self.height:
            raise ValueError(f"A square of side {size} does not fit in {self} ({self.height}x{self.width})")
        y = _randint(rng, int(math.ceil(self.ymin)), int(math.floor(self.ymax - size)))
        x = _randint(rng, int(math.ceil(self.xmin)), int(math.floor(self.xmax - size)))
        return Box(y, x, y + size, x + size)

    def get_windows(
        self,
        size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: Padding = "pad",
    ) -> list[Box]:
        """Sliding windows of ``size`` with ``stride`` tiling this box, row by row.

        ``size`` and ``stride`` are ints or ``(rows, cols)``; ``stride``
        defaults to ``size`` (no overlap). ``padding`` says what happens at the
        bottom and right edges when the box is not a multiple of the stride:

        - ``"pad"``: the last window sticks out past the edge (the reader pads
          it and masks the outside);
        - ``"shift"``: the last window is moved back to end exactly on the
          edge (it overlaps its neighbour more); a box smaller than ``size``
          still yields one padded window;
        - ``"drop"``: windows that would stick out are not produced.

        With ``"pad"`` and ``"shift"`` the windows cover every pixel of the box.
        """
        if padding not in ("pad", "shift", "drop"):
            raise ValueError(f"padding must be 'pad', 'shift' or 'drop', got {padding!r}")
        size_y, size_x = _pair(size)
        if stride is None:
            stride_y, stride_x = size_y, size_x
        else:
            stride_y, stride_x = _pair(stride)
        if min(size_y, size_x, stride_y, stride_x) <= 0:
            raise ValueError(f"size and stride must be positive, got size={size}, stride={stride}")
        rows = _axis_starts(self.height, size_y, stride_y, padding)
        cols = _axis_starts(self.width, size_x, stride_x, padding)
        return [
            Box(self.ymin + r, self.xmin + c, self.ymin + r + size_y, self.xmin + c + size_x)
            for r in rows
            for c in cols
        ]

    def __repr__(self) -> str:
        return f"Box(ymin={self.ymin}, xmin={self.xmin}, ymax={self.ymax}, xmax={self.xmax})"


# --------------------------------------------------------------------------
# Vectorized operations on (N, 4) arrays (ymin, xmin, ymax, xmax)
# --------------------------------------------------------------------------


def as_box_array(boxes: Any) -> np.ndarray:
    """``(N, 4)`` float64 array from an array, a list of :class:`Box` or an empty sequence."""
    if isinstance(boxes, np.ndarray):
        arr = boxes
    elif len(boxes) and isinstance(boxes[0], Box):
        arr = np.array([b.to_tuple() for b in boxes])
    else:
        arr = np.asarray(boxes)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"box arrays are (N, 4) (ymin, xmin, ymax, xmax), got shape {arr.shape}")
    return arr


def areas(boxes: Any) -> np.ndarray:
    """``(N,)`` areas of an ``(N, 4)`` box array (0 for empty boxes)."""
    b = as_box_array(boxes)
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def intersection_matrix(a: Any, b: Any) -> np.ndarray:
    """``(N, M)`` intersection areas between boxes ``a`` (N, 4) and ``b`` (M, 4)."""
    a = as_box_array(a)
    b = as_box_array(b)
    ymin = np.maximum(a[:, None, 0], b[None, :, 0])
    xmin = np.maximum(a[:, None, 1], b[None, :, 1])
    ymax = np.minimum(a[:, None, 2], b[None, :, 2])
    xmax = np.minimum(a[:, None, 3], b[None, :, 3])
    return np.clip(ymax - ymin, 0, None) * np.clip(xmax - xmin, 0, None)


def iou_matrix(a: Any, b: Any) -> np.ndarray:
    """``(N, M)`` intersection over union; 0 where both boxes are empty."""
    inter = intersection_matrix(a, b)
    union = areas(a)[:, None] + areas(b)[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def ioa_matrix(a: Any, b: Any) -> np.ndarray:
    """``(N, M)`` intersection over the area of the *first* argument's box.

    ``ioa_matrix(a, b)[i, j]`` is the fraction of ``a[i]`` covered by
    ``b[j]`` (0 for an empty ``a[i]``). To find labels mostly inside a
    window: ``ioa_matrix(label_boxes, window[None])[:, 0]``.
    """
    inter = intersection_matrix(a, b)
    area_a = areas(a)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(area_a > 0, inter / np.where(area_a > 0, area_a, 1), 0.0)


def clip_boxes(boxes: Any, window: Box) -> np.ndarray:
    """Boxes clamped to ``window`` (same coordinate frame); boxes outside become zero-area."""
    b = as_box_array(boxes).copy()
    b[:, [0, 2]] = np.clip(b[:, [0, 2]], window.ymin, window.ymax)
    b[:, [1, 3]] = np.clip(b[:, [1, 3]], window.xmin, window.xmax)
    return b


def boxes_to_shapely(boxes: Any) -> np.ndarray:
    """Object array of pixel-space shapely rectangles (vectorized ``shapely.box``)."""
    import shapely

    b = as_box_array(boxes)
    return shapely.box(b[:, 1], b[:, 0], b[:, 3], b[:, 2])


def boxes_from_shapely(geoms: Any) -> np.ndarray:
    """``(N, 4)`` bounding boxes (ymin, xmin, ymax, xmax) of pixel-space geometries."""
    import shapely

    bounds = shapely.bounds(np.asarray(geoms, dtype=object)).reshape(-1, 4)  # minx, miny, maxx, maxy
    return as_box_array(bounds[:, [1, 0, 3, 2]])


@contextlib.contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Python's cycle collector off for a while (as it was after).

    It runs every few hundred new objects and then walks every tracked
    object: making 100,000 shapely geometries in a process that holds many
    objects (torch's) costs seconds of collections instead of 0.1 s.
    Geometries hold no reference cycles, so nothing is left uncollected.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def intersecting_pairs(
    a: Any, b: Any = None, *, max_pairs: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The pairs of boxes that overlap: ``(i, j, intersection, iou)`` arrays, one entry a pair.

    ``a[i]`` and ``b[j]`` share a positive area ``intersection``; ``iou`` is
    that over their union. With ``b`` None, the pairs within ``a``, each
    once (``i < j``). The candidates come from a shapely ``STRtree`` of
    ``b``'s boxes queried with ``a``'s, so time and memory grow with the
    number of overlapping pairs rather than with ``len(a) × len(b)``; pairs
    are in ascending ``i``. With ``max_pairs``, None when the candidates
    outnumber it (the tree is queried a chunk of ``a`` at a time, so the
    answer comes before the pairs are all made).
    """
    import shapely

    first = as_box_array(a)
    second = first if b is None else as_box_array(b)
    empty = np.zeros(0, np.int64)
    if len(first) == 0 or len(second) == 0:
        return empty, empty.copy(), np.zeros(0), np.zeros(0)
    found, total = [], 0
    with _cycle_collector_paused():
        queries = boxes_to_shapely(first)
        tree = shapely.STRtree(queries if b is None else boxes_to_shapely(second))
        chunk = max(4096, len(first) // 16)
        for start in range(0, len(first), chunk):
            ii, jj = tree.query(queries[start : start + chunk])
            ii = ii + start
            if b is None:
                keep = ii < jj
                ii, jj = ii[keep], jj[keep]
            total += len(ii)
            if max_pairs is not None and total > max_pairs:
                return None
            found.append((ii, jj))
    i = np.concatenate([f[0] for f in found]).astype(np.int64, copy=False)
    j = np.concatenate([f[1] for f in found]).astype(np.int64, copy=False)
    # Column by column on the candidate pairs: no (pairs, 4) temporaries.
    p, q = first.T, second.T
    inter = np.clip(np.minimum(p[2][i], q[2][j]) - np.maximum(p[0][i], q[0][j]), 0, None) * np.clip(
        np.minimum(p[3][i], q[3][j]) - np.maximum(p[1][i], q[1][j]), 0, None
    )
    overlap = inter > 0
    i, j, inter = i[overlap], j[overlap], inter[overlap]
    union = areas(first)[i] + areas(second)[j] - inter
    return i, j, inter, inter / union
