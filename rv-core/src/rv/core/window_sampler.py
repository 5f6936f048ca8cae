"""Random square windows inside (or over) an AOI, drawn uniformly from the windows that fit.

Drawing random windows over the whole extent and keeping those in the AOI
(capped rejection sampling) silently returns too few windows when the AOI is
a thin strip or a small part of the scene. :class:`WindowSampler` instead
rasterizes the AOI once on a coarse grid (at most ~1M cells, whatever the
scene size), finds the grid cells of window *origins* that may give a window
inside the AOI (``mode="within"``) or touching it (``"intersects"``), and
draws origins uniformly from those cells only; each drawn window is then
checked exactly against the AOI polygon. The candidate cells are a tight
superset of the feasible origins (they differ only along the AOI's
boundary), so nearly every draw is kept, and the result is exactly uniform
over the feasible integer origins. When no window fits, it raises a
:class:`~rv.errors.DataError` naming the AOI and the window size instead of
returning fewer windows.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rv.core.box import Box
from rv.errors import DataError

#: Cells of the coarse grid the AOI is rasterized on (bounds its memory: ~8 bytes a cell).
_MAX_GRID_CELLS = 1 << 20
#: Origins checked one by one, at most, to prove that no window fits before giving up.
_MAX_EXHAUSTIVE = 1 << 19
_BATCH = 256


def _as_generator(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


def _block_sums(sat: np.ndarray, r0: np.ndarray, r1: np.ndarray, c0: np.ndarray, c1: np.ndarray) -> np.ndarray:
    """Sums of the blocks ``[r0, r1) x [c0, c1)`` (index arrays, broadcast) from a summed-area table."""
    h, w = sat.shape[0] - 1, sat.shape[1] - 1
    r0, r1 = np.clip(r0, 0, h), np.clip(r1, 0, h)
    c0, c1 = np.clip(c0, 0, w), np.clip(c1, 0, w)
    return sat[r1, c1] - sat[r0, c1] - sat[r1, c0] + sat[r0, c0]


class WindowSampler:
    """Uniformly random ``size``² windows (integer corners) in ``extent``, inside or over ``aoi``.

    Args:
        extent: the pixel extent windows start in. A window's origin lies in
            ``[ymin, ymax - size] x [xmin, xmax - size]``; an extent smaller
            than ``size`` along an axis gives the single origin ``ymin``
            (``xmin``) on that axis (the window sticks out and is padded).
        size: window side, in pixels.
        aoi: a shapely (multi)polygon in pixel coordinates (x = column, y =
            row), or None for the whole extent.
        mode: ``"within"``: windows lie inside the AOI; ``"intersects"``:
            windows touch it (what is outside is masked later).
        aoi_name: how error messages name the AOI (e.g. "the AOI of scene 'a'").

    Raises:
        DataError: when no window of ``size`` fits (at construction, so a
            scene fails before any chip is read).
    """

    def __init__(self, extent: Box, size: int, aoi: Any = None, mode: str = "within", aoi_name: str = "the AOI"):
        if mode not in ("within", "intersects"):
            raise ValueError(f"mode must be 'within' or 'intersects', got {mode!r}")
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        self.size = int(size)
        self.mode = mode
        self.aoi_name = aoi_name
        self.extent = extent
        # Integer origin ranges (inclusive) allowed by the extent.
        ey0, ex0 = int(math.ceil(extent.ymin)), int(math.ceil(extent.xmin))
        ey1 = max(ey0, int(math.floor(extent.ymax)) - self.size)
        ex1 = max(ex0, int(math.floor(extent.xmax)) - self.size)
        self.aoi = None if aoi is None else aoi
        self._exhaustive: np.ndarray | None = None
        if self.aoi is None:
            self._range = (ey0, ex0, ey1, ex1)
            return
        import shapely

        if self.aoi.is_empty:
            raise DataError(f"{aoi_name} is empty: no {size}x{size} window can be chipped in it.")
        shapely.prepare(self.aoi)
        minx, miny, maxx, maxy = self.aoi.bounds
        # Origins that may work, from the AOI's bounds.
        if mode == "within":
            y0, x0 = max(ey0, int(math.ceil(miny))), max(ex0, int(math.ceil(minx)))
            y1, x1 = min(ey1, int(math.floor(maxy)) - self.size), min(ex1, int(math.floor(maxx)) - self.size)
        else:
            y0, x0 = max(ey0, int(math.floor(miny)) - self.size), max(ex0, int(math.floor(minx)) - self.size)
            y1, x1 = min(ey1, int(math.ceil(maxy))), min(ex1, int(math.ceil(maxx)))
        if y1 < y0 or x1 < x0:
            raise self._no_fit()
        self._range = (y0, x0, y1, x1)
        self._setup_grid()
        if not len(self._cells):
            raise self._no_fit()

    # ------------------------------------------------------------------ setup

    def _no_fit(self) -> DataError:
        minx, miny, maxx, maxy = self.aoi.bounds
        where = "inside" if self.mode == "within" else "touching"
        return DataError(
            f"No {self.size}x{self.size} window fits {where} {self.aoi_name} (pixel bounds x {minx:.0f}–{maxx:.0f}, "
            f"y {miny:.0f}–{maxy:.0f}, {maxx - minx:.0f}x{maxy - miny:.0f} px) within the scene extent "
            f"{self.extent.height:.0f}x{self.extent.width:.0f}: use a smaller chip size or a larger AOI."
        )

    def _setup_grid(self) -> None:
        from affine import Affine
        from rasterio.features import rasterize

        y0, x0, y1, x1 = self._range
        size = self.size
        span_y, span_x = y1 - y0 + size, x1 - x0 + size  # pixels any window may cover
        g = max(1, int(math.ceil(math.sqrt(span_y * span_x / _MAX_GRID_CELLS))))
        self._g = g
        # Origin cells: cell (i, j) holds origins [y0 + i g, y0 + (i+1) g) x [x0 + j g, ...).
        ny, nx = (y1 - y0) // g + 1, (x1 - x0) // g + 1
        # Pixel cells on the same grid: cell (r, c) covers pixels [y0 + r g, y0 + (r+1) g) x ...
        hy, hx = -(-span_y // g) + 1, -(-span_x // g) + 1
        touched = rasterize(
            [self.aoi],
            out_shape=(hy, hx),
            transform=Affine(g, 0, x0, 0, g, y0),
            fill=0,
            default_value=1,
            all_touched=True,
            dtype=np.uint8,
        )
        sat = np.zeros((hy + 1, hx + 1), dtype=np.int64)
        sat[1:, 1:] = touched.cumsum(axis=0, dtype=np.int64).cumsum(axis=1)
        i = np.arange(ny)[:, None]
        j = np.arange(nx)[None, :]
        if self.mode == "within":
            # Every origin of cell i gives a window that fully covers pixel cells i+1 .. i+L; a window
            # inside the AOI has each of them touched (their centres are inside it).
            inner = (size - 1) // g - 1
            if inner <= 0:
                ok = np.ones((ny, nx), dtype=bool)
            else:
                ok = _block_sums(sat, i + 1, i + 1 + inner, j + 1, j + 1 + inner) == inner * inner
        else:
            # The windows of cell i cover pixel cells i .. i+K-1; one of them (or a neighbour, for a
            # window that only touches the AOI's edge) must be touched.
            k = (g + size - 2) // g + 1
            ok = _block_sums(sat, i - 1, i + k + 1, j - 1, j + k + 1) > 0
        self._cells = np.flatnonzero(ok.ravel())
        self._nx = nx

    # --------------------------------------------------------------- sampling

    def _fits(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        import shapely

        boxes = shapely.box(xs, ys, xs + self.size, ys + self.size)
        if self.mode == "within":
            return shapely.contains(self.aoi, boxes)
        return shapely.intersects(self.aoi, boxes)

    def _draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` candidate origins, uniform over the candidate cells (not yet checked)."""
        y0, x0, y1, x1 = self._range
        g = self._g
        cell = self._cells[rng.integers(0, len(self._cells), n)]
        ys = y0 + (cell // self._nx) * g + rng.integers(0, g, n)
        xs = x0 + (cell % self._nx) * g + rng.integers(0, g, n)
        inside = (ys <= y1) & (xs <= x1)
        return ys[inside], xs[inside]

    def _enumerate(self) -> np.ndarray | None:
        """Every feasible origin ``(M, 2)``, found by checking all origins of the candidate cells
        (only when random draws found none); None when there are too many to check; raises when
        none fits."""
        if self._exhaustive is None:
            y0, x0, y1, x1 = self._range
            g = self._g
            if len(self._cells) * g * g > _MAX_EXHAUSTIVE:
                return None
            oy, ox = np.meshgrid(np.arange(g), np.arange(g), indexing="ij")
            ys = (y0 + (self._cells // self._nx) * g)[:, None] + oy.ravel()[None]
            xs = (x0 + (self._cells % self._nx) * g)[:, None] + ox.ravel()[None]
            ys, xs = ys.ravel(), xs.ravel()
            keep = (ys <= y1) & (xs <= x1)
            ys, xs = ys[keep], xs[keep]
            fit = self._fits(ys, xs)
            if not fit.any():
                raise self._no_fit()
            self._exhaustive = np.stack([ys[fit], xs[fit]], axis=1)
        return self._exhaustive

    def sample(self, count: int, rng: Any = None) -> list[Box]:
        """``count`` random windows (with replacement), uniform over the feasible integer origins.

        Deterministic for a seeded ``rng`` (numpy Generator, int seed or None).
        """
        rng = _as_generator(rng)
        if count <= 0:
            return []
        size = self.size
        if self.aoi is None:
            y0, x0, y1, x1 = self._range
            ys = rng.integers(y0, y1 + 1, count)
            xs = rng.integers(x0, x1 + 1, count)
            return [Box(int(y), int(x), int(y) + size, int(x) + size) for y, x in zip(ys, xs)]
        if self._exhaustive is not None:
            picks = self._exhaustive[rng.integers(0, len(self._exhaustive), count)]
            return [Box(int(y), int(x), int(y) + size, int(x) + size) for y, x in picks]
        out: list[Box] = []
        drawn = 0
        tried_all = False
        while len(out) < count:
            need = count - len(out)
            ys, xs = self._draw(rng, max(_BATCH, 2 * need))
            drawn += len(ys)
            fit = self._fits(ys, xs)
            for y, x in zip(ys[fit][:need], xs[fit][:need]):
                out.append(Box(int(y), int(x), int(y) + size, int(x) + size))
            if len(out) < count and not tried_all and drawn >= 20 * _BATCH and len(out) * 100 < drawn:
                # Under 1 % of the draws fit: check every candidate origin once (or prove none fits),
                # then draw from the feasible ones directly.
                tried_all = True
                if self._enumerate() is not None:
                    return out + self.sample(count - len(out), rng)
            if len(out) < count and drawn > 100_000 + 1000 * count:
                raise DataError(
                    f"Only {len(out)} of {count} random {size}x{size} windows {self.mode} {self.aoi_name} "
                    f"were found in {drawn} draws: the AOI is too thin for this chip size. Use a smaller chip "
                    "size or a sliding window method."
                )
        return out


def random_windows(
    extent: Box,
    size: int,
    count: int,
    rng: Any = None,
    aoi: Any = None,
    mode: str = "within",
    aoi_name: str = "the AOI",
) -> list[Box]:
    """``count`` random ``size``² windows in ``extent``, inside (or touching) ``aoi``; see :class:`WindowSampler`."""
    return WindowSampler(extent, size, aoi, mode, aoi_name).sample(count, rng)
