"""Per-channel raster statistics (``stats.json``), computed by streaming over windows.

Integer rasters up to 16 bits (uint8, int8, uint16, int16: nearly all
imagery) are summarised by an exact per-channel histogram: one ``bincount``
per chip, constant memory (65 536 bins per channel), and exact means,
standard deviations and percentiles. Other dtypes (float, 32-bit ints) use
exact streaming moments (Chan et al.'s parallel update) and percentiles from
a fixed-size uniform reservoir sample.

One concept, one module (over 500 lines): the statistics of a set of
rasters, from the windows read to ``stats.json`` — the two exact
accumulators (histogram, moments), the per-part partial results that the
worker processes return, and :class:`RasterStats` that merges and writes them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import numpy as np

from rv.core.box import Box
from rv.errors import DataError

STATS_FORMAT_VERSION = 1
_RESERVOIR_SIZE = 200_000  # values kept per channel for percentiles of float rasters


@attrs.frozen(eq=False)
class RasterStats:
    """Per-channel statistics of one or more rasters, over valid (non-nodata) pixels.

    All arrays are ``(C,)`` float64 in the raster sources' channel order.
    ``p2``/``p98`` are the 2nd and 98th percentiles. ``count`` is the largest
    number of valid values of a channel. Nodata is per band, as in GDAL: a
    value equal to the source's nodata never enters a band's statistics, and
    neither do pixels the source masks.
    """

    means: np.ndarray = attrs.field(converter=lambda v: np.asarray(v, dtype=np.float64))
    stds: np.ndarray = attrs.field(converter=lambda v: np.asarray(v, dtype=np.float64))
    p2: np.ndarray | None = attrs.field(
        default=None, converter=attrs.converters.optional(lambda v: np.asarray(v, dtype=np.float64))
    )
    p98: np.ndarray | None = attrs.field(
        default=None, converter=attrs.converters.optional(lambda v: np.asarray(v, dtype=np.float64))
    )
    mins: np.ndarray | None = attrs.field(
        default=None, converter=attrs.converters.optional(lambda v: np.asarray(v, dtype=np.float64))
    )
    maxs: np.ndarray | None = attrs.field(
        default=None, converter=attrs.converters.optional(lambda v: np.asarray(v, dtype=np.float64))
    )
    count: int = 0

    @property
    def num_channels(self) -> int:
        """Number of channels described."""
        return len(self.means)

    def to_dict(self) -> dict[str, Any]:
        """The ``stats.json`` content."""

        def lst(a: np.ndarray | None) -> list[float] | None:
            return None if a is None else [float(v) for v in a]

        return {
            "format_version": STATS_FORMAT_VERSION,
            "num_channels": self.num_channels,
            "count": int(self.count),
            "means": lst(self.means),
            "stds": lst(self.stds),
            "p2": lst(self.p2),
            "p98": lst(self.p98),
            "mins": lst(self.mins),
            "maxs": lst(self.maxs),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], uri: str = "stats") -> RasterStats:
        """Read ``stats.json`` content (also Raster Vision 0.8's ``{"means", "stds"}``)."""
        if "means" not in d or "stds" not in d:
            raise DataError(f"{uri} is not a stats file: it lacks 'means' and 'stds'. Rerun the ANALYZE command.")
        version = d.get("format_version", STATS_FORMAT_VERSION)
        if version > STATS_FORMAT_VERSION:
            raise DataError(
                f"{uri} has stats format version {version}, newer than this rv understands "
                f"({STATS_FORMAT_VERSION}). Upgrade rv-core."
            )
        return cls(
            means=d["means"],
            stds=d["stds"],
            p2=d.get("p2"),
            p98=d.get("p98"),
            mins=d.get("mins"),
            maxs=d.get("maxs"),
            count=int(d.get("count", 0)),
        )

    def save(self, uri: str) -> None:
        """Write ``stats.json`` to ``uri`` (any URI rv's file utilities write)."""
        from rv.file_utils import write_text  # lazily: pulls in fsspec

        write_text(uri, json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, uri: str) -> RasterStats:
        """Read ``stats.json`` from ``uri``."""
        from rv.file_utils import read_text

        try:
            d = json.loads(read_text(uri))
        except json.JSONDecodeError as e:
            raise DataError(f"{uri} is not valid JSON ({e}). Rerun the ANALYZE command to rewrite it.") from None
        return cls.from_dict(d, uri)


class _HistogramAccumulator:
    """Exact per-channel histograms for integer dtypes of at most 16 bits.

    Windows are added into a *partial* (a ``(C, bins)`` count array) per
    source or per part of a source; partials add up exactly, whatever the
    processes that made them, and :meth:`merge_source` folds a source's
    partial into the result once that source is done.
    """

    def __init__(self, num_channels: int, dtype: np.dtype):
        self.num_channels = num_channels
        self.nbins = 1 << (8 * dtype.itemsize)
        self.signed = dtype.kind == "i"
        self.udtype = np.dtype(f"u{dtype.itemsize}")
        # Signed values map to bins by flipping the sign bit (-32768 -> 0, 0 -> 32768): one pass, stays 16-bit.
        self.offset = self.nbins // 2 if self.signed else 0
        self.hist = np.zeros((num_channels, self.nbins), dtype=np.int64)

    def _bins(self, values: np.ndarray) -> np.ndarray:
        if self.signed:
            return values.view(self.udtype) ^ self.udtype.type(self.offset)
        return values

    def new_partial(self) -> np.ndarray:
        return np.zeros((self.num_channels, self.nbins), dtype=np.int64)

    def add(self, partial: np.ndarray, bands: np.ndarray, mask: np.ndarray, nodata: float | None, key: Any) -> None:
        """Count a window's ``(C, H, W)`` values into ``partial``, masked pixels left out."""
        bins = self._bins(bands)
        # One bincount per contiguous band is the fastest exact histogram numpy offers. Without
        # minlength it stops at the largest value (2,048 bins for 11-bit imagery, not 65,536).
        for c in range(self.num_channels):
            counts = np.bincount(bins[c].ravel())
            partial[c, : len(counts)] += counts
        if mask.any():
            # Masked pixels are usually few: count them and take them back out.
            masked = bins[:, mask]
            for c in range(self.num_channels):
                counts = np.bincount(masked[c])
                partial[c, : len(counts)] -= counts

    @staticmethod
    def combine(partials: list[np.ndarray]) -> np.ndarray:
        """The partial of consecutive parts of one source (counts add up)."""
        total = partials[0]
        for p in partials[1:]:
            total += p
        return total

    def merge_source(self, partial: np.ndarray, nodata: float | None) -> None:
        # Nodata is per band (as in GDAL): a band's nodata value is never one of its statistics.
        if nodata is not None and not np.isnan(nodata) and float(nodata).is_integer():
            b = int(nodata) + self.offset
            if 0 <= b < self.nbins:
                partial[:, b] = 0
        self.hist += partial

    def result(self) -> RasterStats:
        h = self.hist
        values = np.arange(self.nbins, dtype=np.float64) - self.offset
        counts = h.sum(axis=1)
        if counts.min() == 0:
            return _no_valid_pixels(self.num_channels)
        means = (h @ values) / counts
        variances = (h * (values[None, :] - means[:, None]) ** 2).sum(axis=1) / counts
        cdf = np.cumsum(h, axis=1)

        def pct(q: float) -> np.ndarray:
            # Lower percentile: the smallest value with at least q % of the values at or below it.
            targets = np.ceil(q / 100 * counts).clip(1, None)
            return np.array([values[np.searchsorted(cdf[c], targets[c])] for c in range(self.num_channels)])

        nonzero = h > 0
        mins = values[np.argmax(nonzero, axis=1)]
        maxs = values[self.nbins - 1 - np.argmax(nonzero[:, ::-1], axis=1)]
        return RasterStats(means, np.sqrt(variances), pct(2), pct(98), mins, maxs, int(counts.max()))


@attrs.define
class _MomentPartial:
    """What a run of windows contributes: each window's moments (merged later, in window order, so
    the float sums do not depend on how windows were shared among processes) and a reservoir."""

    moments: list[tuple[np.ndarray, ...]]
    reservoir: np.ndarray
    keys: np.ndarray


class _MomentAccumulator:
    """Exact streaming mean/variance (Chan's parallel update) + reservoir percentiles, for other dtypes.

    The reservoir keeps the values with the smallest random keys; each
    window's keys come from a generator seeded by (seed, source, window), so
    the sample is the same whether one process or several read the windows.
    """

    def __init__(self, num_channels: int, entropy: int):
        self.n = np.zeros(num_channels, dtype=np.int64)
        self.mean = np.zeros(num_channels)
        self.m2 = np.zeros(num_channels)
        self.mins = np.full(num_channels, np.inf)
        self.maxs = np.full(num_channels, -np.inf)
        self.entropy = entropy
        self.num_channels = num_channels
        self.reservoir = np.zeros((0, num_channels))
        self._keys = np.zeros(0)

    def new_partial(self) -> _MomentPartial:
        return _MomentPartial([], np.zeros((0, self.num_channels)), np.zeros(0))

    def add(self, partial: _MomentPartial, bands: np.ndarray, mask: np.ndarray, nodata: float | None, key: Any) -> None:
        """Add a window's ``(C, H, W)`` values to ``partial``; ``key`` = (source index, window index)."""
        vals = bands[:, ~mask].T.astype(np.float64)  # (n, C)
        # Per-band nodata and non-finite values become NaN and drop out of every sum.
        invalid = ~np.isfinite(vals)
        if nodata is not None and not np.isnan(nodata):
            invalid |= vals == nodata
        if invalid.any():
            vals[invalid] = np.nan
            vals = vals[~invalid.all(axis=1)]
        nb_c = (~np.isnan(vals)).sum(axis=0)  # valid values per channel
        if not nb_c.any():
            return
        with np.errstate(invalid="ignore", divide="ignore"):
            mb = np.where(nb_c > 0, np.nansum(vals, axis=0) / np.maximum(nb_c, 1), 0.0)
            m2b = np.nansum((vals - mb) ** 2, axis=0)
            mins = np.nanmin(np.where(np.isnan(vals), np.inf, vals), axis=0)
            maxs = np.nanmax(np.where(np.isnan(vals), -np.inf, vals), axis=0)
        partial.moments.append((nb_c, mb, m2b, mins, maxs))
        # Uniform reservoir sample over all pixels seen (NaN = invalid band): random keys, keep the smallest.
        keys = np.random.default_rng([self.entropy, *key]).random(len(vals))
        self._keep_smallest(partial, vals, keys)

    @staticmethod
    def _keep_smallest(partial: _MomentPartial, vals: np.ndarray, keys: np.ndarray) -> None:
        pool = np.concatenate([partial.reservoir, vals])
        pool_keys = np.concatenate([partial.keys, keys])
        if len(pool) > _RESERVOIR_SIZE:
            keep = np.argpartition(pool_keys, _RESERVOIR_SIZE)[:_RESERVOIR_SIZE]
            pool, pool_keys = pool[keep], pool_keys[keep]
        partial.reservoir, partial.keys = pool, pool_keys

    def combine(self, partials: list[_MomentPartial]) -> _MomentPartial:
        """The partial of consecutive parts of one source (moments in window order, one reservoir)."""
        total = partials[0]
        for p in partials[1:]:
            total.moments.extend(p.moments)
            self._keep_smallest(total, p.reservoir, p.keys)
        return total

    def merge_source(self, partial: _MomentPartial, nodata: float | None) -> None:
        # Nodata was dropped value by value in add().
        for nb, mb, m2b, mins, maxs in partial.moments:
            delta = mb - self.mean
            tot = self.n + nb
            safe_tot = np.maximum(tot, 1)
            self.mean = self.mean + delta * nb / safe_tot
            self.m2 = self.m2 + m2b + delta**2 * self.n * nb / safe_tot
            self.n = tot
            self.mins = np.fmin(self.mins, mins)
            self.maxs = np.fmax(self.maxs, maxs)
        mine = _MomentPartial([], self.reservoir, self._keys)
        self._keep_smallest(mine, partial.reservoir, partial.keys)
        self.reservoir, self._keys = mine.reservoir, mine.keys

    def result(self) -> RasterStats:
        c = len(self.mean)
        if self.n.min() == 0:
            return _no_valid_pixels(c)
        p2, p98 = np.nanpercentile(self.reservoir, [2, 98], axis=0)
        return RasterStats(self.mean, np.sqrt(self.m2 / self.n), p2, p98, self.mins, self.maxs, int(self.n.max()))


def _no_valid_pixels(num_channels: int) -> RasterStats:
    """Raise: statistics of a channel without a single valid pixel are meaningless."""
    raise DataError(
        "The stats analyzer found no valid pixel in at least one channel: every sampled window was nodata. "
        "Raise sample_prob, check the nodata value of the raster sources, or check the AOI."
    )


#: Below this many pixels (all sources together) a pass runs in this process: forking costs more.
_MIN_PARALLEL_PIXELS = 4 * 2**20

# What forked workers read: set by the parent just before the pool forks, inherited by the children
# (so the raster sources are never pickled), and cleared when the pool is done.
_FORK_STATE: dict[str, Any] | None = None


def _read_bands(source: Any, window: Box) -> tuple[np.ndarray, np.ndarray]:
    """``(C, H, W)`` raw bands and the ``(H, W)`` mask of ``window`` (``RasterSource.get_raw_bands_with_mask``)."""
    return source.get_raw_bands_with_mask(window)


def _analyze_part(task: tuple[int, int, list[tuple[int, int, int, int]]]) -> Any:
    """In a forked worker: the partial of windows ``first, first+1, ...`` (given as tuples) of one source."""
    source_index, first, windows = task
    state = _FORK_STATE
    assert state is not None, "the stats analyzer's workers must be forked from the analyzing process"
    return _partial(state["acc"], state["sources"][source_index], source_index, first, windows)


def _partial(acc: Any, source: Any, source_index: int, first: int, windows: list[tuple[int, int, int, int]]) -> Any:
    partial = acc.new_partial()
    nodata = source.nodata
    for j, w in enumerate(windows):
        bands, mask = _read_bands(source, Box(*w))
        acc.add(partial, bands, mask, nodata, (source_index, first + j))
    return partial


_MOMENT_FIELDS = ("n", "mean", "m2", "min", "max")


def _partial_arrays(prefix: str, partial: Any) -> dict[str, np.ndarray]:
    """A partial (histogram, or moments and reservoir) as named plain arrays."""
    if isinstance(partial, np.ndarray):
        return {f"{prefix}_hist": partial}
    out = {f"{prefix}_reservoir": partial.reservoir, f"{prefix}_keys": partial.keys}
    for k, name in enumerate(_MOMENT_FIELDS):
        rows = [m[k] for m in partial.moments]
        out[f"{prefix}_{name}"] = np.stack(rows) if rows else np.zeros((0, partial.reservoir.shape[1]))
    return out


def _partial_from_arrays(prefix: str, npz: Any, acc: Any) -> Any:
    if isinstance(acc, _HistogramAccumulator):
        return np.array(npz[f"{prefix}_hist"])
    columns = [npz[f"{prefix}_{name}"] for name in _MOMENT_FIELDS]
    moments = [tuple(np.array(c[w]) for c in columns) for w in range(len(columns[0]))]
    return _MomentPartial(moments, np.array(npz[f"{prefix}_reservoir"]), np.array(npz[f"{prefix}_keys"]))


class StatsAnalyzer:
    """Computes :class:`RasterStats` over raster sources by streaming through sampled windows.

    The extent of each source is cut into ``chip_size`` windows; each window
    is read with probability ``sample_prob`` (at least one window per source),
    with the channel order applied but no transformers. Nodata pixels are
    excluded. Memory stays constant whatever the scene size.

    The windows are read in the order the source prefers (``read_order``:
    GeoTIFF windows in cache-friendly strips) and, for sources that reopen
    their files after a fork (``reopens_after_fork``, e.g. ``GeoTIFFSource``)
    and passes of at least ~4 MPix, shared among ``num_workers`` forked
    processes in contiguous parts; each returns its part's histograms (or
    per-window moments and reservoir), merged in window order, so the result
    is exactly the single-process one.

    Args:
        sample_prob: probability that a window is read (1.0 = full pass).
        chip_size: side of the windows read.
        seed: random seed of the window sampling (and of the float reservoir).
        num_workers: processes reading windows (default: the CPU count; 1 = this process only).
            Given explicitly, it is used whatever the size of the pass.
    """

    def __init__(
        self, sample_prob: float = 0.1, chip_size: int = 300, seed: int | None = None, num_workers: int | None = None
    ):
        if not 0 < sample_prob <= 1:
            raise ValueError(f"sample_prob must be in (0, 1], got {sample_prob}")
        if num_workers is not None and num_workers < 1:
            raise ValueError(f"num_workers must be >= 1, got {num_workers}")
        self.sample_prob = sample_prob
        self.chip_size = chip_size
        self.seed = seed
        self.num_workers = num_workers

    def _windows(self, extent: Box, rng: np.random.Generator) -> list[Box]:
        windows = extent.get_windows(self.chip_size, padding="pad")
        if self.sample_prob >= 1:
            return windows
        keep = rng.random(len(windows)) < self.sample_prob
        if not keep.any():
            keep[rng.integers(len(windows))] = True
        return [w for w, k in zip(windows, keep) if k]

    def _plan(self, source: Any, rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
        """The source's sampled windows, clipped to its extent (padding is masked: it counts for
        nothing) and in the source's read order, as int tuples."""
        extent = source.extent
        windows = [w.intersection(extent) for w in self._windows(extent, rng)]
        windows = [w for w in windows if w is not None and w.height > 0 and w.width > 0]
        windows = source.read_order(windows)
        return [(int(round(w.ymin)), int(round(w.xmin)), int(round(w.ymax)), int(round(w.xmax))) for w in windows]

    def _workers_for(self, sources: list[Any], plans: list[list]) -> int:
        import multiprocessing as mp

        workers = self.num_workers or os.cpu_count() or 1
        n_windows = sum(len(p) for p in plans)
        if workers < 2 or n_windows < 2 or "fork" not in mp.get_all_start_methods():
            return 1
        if not all(getattr(s, "reopens_after_fork", False) for s in sources):
            return 1  # a source holding an open file would share its file offset with the children
        if self.num_workers is None:
            pixels = sum((w[2] - w[0]) * (w[3] - w[1]) for p in plans for w in p)
            if pixels < _MIN_PARALLEL_PIXELS:
                return 1
        return min(workers, n_windows)

    def _setup(self, raster_sources: Sequence[Any] | Iterable[Any]) -> tuple[list[Any], Any, list[list]]:
        """The sources, an empty accumulator of their dtype, and each source's sampled windows."""
        sources = list(raster_sources)
        if not sources:
            raise DataError("The stats analyzer was given no raster sources; give the scenes to analyze.")
        rng = np.random.default_rng(self.seed)
        acc: _HistogramAccumulator | _MomentAccumulator | None = None
        num_channels = None
        for source in sources:
            nc = len(source.channel_order)
            dtype = np.dtype(source.raw_dtype)
            if acc is None:
                num_channels = nc
                if dtype.kind in "ui" and dtype.itemsize <= 2:
                    acc = _HistogramAccumulator(nc, dtype)
                else:
                    acc = _MomentAccumulator(nc, int(np.random.SeedSequence(self.seed).entropy))  # type: ignore[arg-type]
            elif nc != num_channels:
                raise DataError(
                    f"Raster source {source.name} has {nc} channels but the first one has {num_channels}; "
                    "the scenes analyzed together must use the same channel order."
                )
            elif isinstance(acc, _HistogramAccumulator) and not (dtype.kind in "ui" and dtype.itemsize <= 2):
                raise DataError(
                    f"Raster source {source.name} has dtype {dtype}, unlike the integer rasters before it; "
                    "analyze rasters of one dtype together."
                )
        assert acc is not None
        return sources, acc, [self._plan(source, rng) for source in sources]

    # -- split ANALYZE (rv run --splits): partial results of a part of the windows, merged later ------

    def process_part(self, raster_sources: Sequence[Any] | Iterable[Any], part: int, parts: int) -> bytes:
        """The partial statistics of part ``part`` of ``parts`` contiguous runs of all sampled windows
        (every source's, in order), as ``.npz`` bytes (plain arrays: read back without pickle).

        :meth:`merge_parts` over the bytes of every part gives exactly what :meth:`process` gives.
        """
        import io

        sources, acc, plans = self._setup(raster_sources)
        flat = [(i, j) for i, plan in enumerate(plans) for j in range(len(plan))]
        mine = [flat[k] for k in range(len(flat) * part // parts, len(flat) * (part + 1) // parts)]
        arrays: dict[str, np.ndarray] = {}
        tasks: list[tuple[int, int]] = []
        for i in sorted({i for i, _ in mine}):
            js = [j for s, j in mine if s == i]
            partial = _partial(acc, sources[i], i, js[0], plans[i][js[0] : js[-1] + 1])
            arrays.update(_partial_arrays(f"t{len(tasks)}", partial))
            tasks.append((i, js[0]))
        arrays["tasks"] = np.asarray(tasks, dtype=np.int64).reshape(-1, 2)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]  # numpy types **kwds as allow_pickle
        return buffer.getvalue()

    def merge_parts(self, raster_sources: Sequence[Any] | Iterable[Any], parts: Sequence[bytes]) -> RasterStats:
        """The statistics of every source from the :meth:`process_part` bytes of all parts, in part order."""
        import io

        sources, acc, _ = self._setup(raster_sources)
        current, partials = None, []
        for data in parts:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                for t, (i, _first) in enumerate(npz["tasks"].tolist()):
                    if current is not None and i != current:
                        acc.merge_source(acc.combine(partials), sources[current].nodata)
                        partials = []
                    current = i
                    partials.append(_partial_from_arrays(f"t{t}", npz, acc))
        if partials:
            acc.merge_source(acc.combine(partials), sources[current].nodata)
        return acc.result()

    def process(self, raster_sources: Sequence[Any] | Iterable[Any]) -> RasterStats:
        """Statistics over every source (all must have the same channel count and dtype kind)."""
        global _FORK_STATE
        sources, acc, plans = self._setup(raster_sources)
        workers = self._workers_for(sources, plans)
        if workers == 1:
            for i, (source, plan) in enumerate(zip(sources, plans)):
                acc.merge_source(_partial(acc, source, i, 0, plan), source.nodata)
            return acc.result()

        import multiprocessing as mp

        # Contiguous parts (a few per worker, for balance) keep each worker's reads local.
        n_parts = workers * 4
        tasks = []
        for i, plan in enumerate(plans):
            k = min(n_parts, len(plan))
            bounds = [len(plan) * j // k for j in range(k + 1)]
            tasks += [(i, bounds[j], plan[bounds[j] : bounds[j + 1]]) for j in range(k)]
        _FORK_STATE = {"acc": acc, "sources": sources}
        try:
            with mp.get_context("fork").Pool(workers) as pool:
                current, parts = None, []
                # imap returns the parts in order: a source's parts are combined in window order.
                for (i, _, _), partial in zip(tasks, pool.imap(_analyze_part, tasks)):
                    if current is not None and i != current:
                        acc.merge_source(acc.combine(parts), sources[current].nodata)
                        parts = []
                    current = i
                    parts.append(partial)
                if parts:
                    acc.merge_source(acc.combine(parts), sources[current].nodata)
        finally:
            _FORK_STATE = None
        return acc.result()
