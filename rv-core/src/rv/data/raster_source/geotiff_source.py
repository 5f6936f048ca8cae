"""GeoTIFF (and any GDAL raster) read window by window with rasterio."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import warnings
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from rv.core.box import Box
from rv.core.crs_transformer import CRSTransformer, IdentityCRSTransformer
from rv.data.raster_source.raster_source import RasterSource
from rv.errors import ConfigError, DataError
from rv.file_systems import is_local
from rv.file_utils import local_or_gdal_path

#: GDAL block cache rv sets per process unless the user chose one (MiB; ``[RV] gdal_cachemax_mb``).
DEFAULT_GDAL_CACHEMAX_MB = 24

# The process whose GDAL block cache rv has configured (a forked child inherits the setting).
_cache_configured_pid: int | None = None


def configure_gdal_cache(force: bool = False) -> int | None:
    """Bound GDAL's block cache for this process, once; returns the bound in bytes, or None if left alone.

    GDAL keeps every decoded block up to ``GDAL_CACHEMAX``, by default 5 % of
    the machine's RAM (1.2 GB on 24 GiB): reading a large scene window by
    window then holds most of it in memory, so a process's peak memory grows
    with the scene. rv caps the cache at ``[RV] gdal_cachemax_mb`` MiB
    (environment ``RV_GDAL_CACHEMAX_MB``; default
    :data:`DEFAULT_GDAL_CACHEMAX_MB`), which holds the blocks a sweep of
    windows in :meth:`GeoTIFFSource.read_order` reuses. A ``GDAL_CACHEMAX``
    the user set (environment variable, or the active ``rasterio.Env``) wins;
    ``gdal_cachemax_mb = 0`` leaves GDAL's default alone.

    Called by every :class:`GeoTIFFSource` when it opens a dataset; the work
    is done once per process (``force`` redoes it, for tests).
    """
    global _cache_configured_pid
    if _cache_configured_pid == os.getpid() and not force:
        return None
    _cache_configured_pid = os.getpid()
    import rasterio.env

    if "GDAL_CACHEMAX" in os.environ or (rasterio.env.hasenv() and "GDAL_CACHEMAX" in rasterio.env.getenv()):
        return None
    from rv.settings import get_settings

    value = get_settings().get("RV", "gdal_cachemax_mb")
    if value is None or not str(value).strip():
        mb = float(DEFAULT_GDAL_CACHEMAX_MB)
    else:
        try:
            mb = float(value)
        except ValueError:
            mb = -1.0
        if not mb >= 0:
            raise ConfigError(
                f"The setting gdal_cachemax_mb ([RV] section, or RV_GDAL_CACHEMAX_MB) is {value!r}; it must be a "
                "number of MiB >= 0 (0 leaves GDAL's own default of 5 % of RAM). Fix or unset it."
            )
    if mb == 0:
        return None
    nbytes = max(1, int(mb * 2**20))
    # rasterio maps GDAL_CACHEMAX to GDALSetCacheMax64, which also applies after the cache was first used.
    rasterio.env.set_gdal_config("GDAL_CACHEMAX", nbytes)
    return nbytes


def gdal_cache_max() -> int:
    """GDAL's block cache bound of this process, in bytes."""
    import rasterio.env

    return int(rasterio.env.get_gdal_config("GDAL_CACHEMAX"))


class GeoTIFFSource(RasterSource):
    """A georeferenced raster (one file, or several mosaicked) read in windows.

    - One URI is opened directly; several are mosaicked through a GDAL VRT
      (same CRS, pixel size, bands and grid required, else ``DataError``).
    - Remote URIs are read in place where GDAL can (``http(s)`` →
      ``/vsicurl/``, ``s3`` → ``/vsis3/``, ``gs``, ``az``), so only the
      blocks of a window are fetched; other schemes (``memory://``) and every
      remote URI when ``allow_streaming=False`` are downloaded to a temporary
      directory first.
    - The dataset is opened on first use and kept open; after a fork or
      unpickling it is reopened in the new process.
    - The nodata mask comes from ``nodata`` (given, else the file's nodata
      value; a pixel is nodata when every channel read equals it) and from the
      file's internal mask or alpha band.
    - GDAL's block cache is bounded per process (:func:`configure_gdal_cache`),
      and :meth:`read_order` sorts windows so that a sweep over them reuses
      the cached blocks: memory stays flat however large the scene.

    Args:
        uris: one URI or a list of URIs.
        channel_order: 0-based bands to read (default: all bands but alpha).
        nodata: nodata value overriding the file's.
        transformers: raster transformers applied by :meth:`get_chip`.
        allow_streaming: read remote files in place when GDAL can.
        require_crs: raise ``DataError`` when the raster has no CRS.
        tmp_dir: parent of the temporary directory for downloads and the mosaic
            VRT (default: rv's temporary directory).
    """

    #: Safe to use in a forked child: the dataset is reopened there (see :attr:`dataset`).
    reopens_after_fork = True

    def __init__(
        self,
        uris: str | Sequence[str],
        channel_order: Sequence[int] | None = None,
        nodata: float | None = None,
        transformers: Sequence[Any] = (),
        allow_streaming: bool = True,
        require_crs: bool = False,
        tmp_dir: str | None = None,
    ):
        super().__init__(channel_order, transformers)
        self.tmp_dir = tmp_dir
        if isinstance(uris, (str, os.PathLike)):
            uris = [os.fspath(uris)]
        self.uris = [os.fspath(u) for u in uris]
        if not self.uris:
            raise DataError("A GeoTIFF source needs at least one URI; none was given.")
        self._nodata_arg = nodata
        self.allow_streaming = allow_streaming
        self.require_crs = require_crs
        self._reset()

    def _reset(self) -> None:
        self._dataset: Any = None
        self._pid: int | None = None
        self._tmp_dir: str | None = None
        self._meta: dict[str, Any] | None = None

    # Pickling (DataLoader workers, process pools) sends the arguments, not the open handle.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in ("_dataset", "_pid", "_tmp_dir", "_meta"):
            state[key] = None
        state.pop("_finalizer", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"GeoTIFFSource({self.uris if len(self.uris) > 1 else self.uris[0]!r})"

    @property
    def name(self) -> str:
        return self.uris[0] if len(self.uris) == 1 else f"the mosaic of {', '.join(self.uris)}"

    # --------------------------------------------------------------- opening

    def _get_tmp_dir(self) -> str:
        if self._tmp_dir is None:
            if self.tmp_dir is not None:
                os.makedirs(self.tmp_dir, exist_ok=True)
            self._tmp_dir = tempfile.mkdtemp(prefix="rv-geotiff-", dir=self.tmp_dir)
            self._finalizer = weakref.finalize(self, shutil.rmtree, self._tmp_dir, True)
        return self._tmp_dir

    def _path_of(self, uri: str) -> str:
        if is_local(uri):
            path = local_or_gdal_path(uri, "")
            if not os.path.exists(path):
                raise DataError(f"Raster {uri} does not exist ({path}). Check the path in the scene's raster source.")
            return path
        try:
            return local_or_gdal_path(uri, self._get_tmp_dir(), self.allow_streaming)
        except DataError:
            raise
        except Exception as e:  # download errors come from the file system in use
            raise DataError(f"Cannot fetch raster {uri}: {e}. Check the URI and your access to it.") from e

    def _open(self) -> Any:
        import rasterio
        from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

        configure_gdal_cache()
        paths = [self._path_of(u) for u in self.uris]
        if len(paths) == 1:
            target = paths[0]
        else:
            from rv.data.raster_source.vrt import mosaic_vrt_xml

            target = os.path.join(self._get_tmp_dir(), "mosaic.vrt")
            with open(target, "w") as f:
                f.write(mosaic_vrt_xml(paths, self.uris))
        self._remote = any(p.startswith("/vsi") for p in paths)
        try:
            with warnings.catch_warnings(), self._gdal_env():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                ds = rasterio.open(target)
        except RasterioIOError as e:
            raise DataError(
                f"Cannot read {self.name} as a raster: {e}. Check that it is a complete GeoTIFF "
                "(or another format GDAL reads), e.g. with `rio info`."
            ) from None
        if self.require_crs and ds.crs is None:
            ds.close()
            raise DataError(
                f"Raster {self.name} has no CRS, but this scene needs one (labels in map coordinates). "
                "Georeference it (gdal_edit.py -a_srs ...) or use an ImageSource with pixel-coordinate labels."
            )
        self._dataset = ds
        self._pid = os.getpid()
        self._meta = self._read_meta(ds)
        return ds

    def _gdal_env(self) -> Any:
        """GDAL options for remote reads (no directory listing, merged ranges, retries); nothing locally."""
        if not getattr(self, "_remote", False):
            return contextlib.nullcontext()
        import rasterio

        from rv.file_utils import gdal_env
        from rv.plugins import get_plugin_manager

        stack = contextlib.ExitStack()
        stack.enter_context(rasterio.Env(**gdal_env()))
        # The plugin owning the scheme (rv-aws for s3://) adds credentials and endpoints.
        plugin_env = get_plugin_manager().hook.gdal_env_for(uri=self.uris[0])
        if plugin_env is not None:
            stack.enter_context(plugin_env)
        return stack

    @staticmethod
    def _read_meta(ds: Any) -> dict[str, Any]:
        from rasterio.enums import ColorInterp, MaskFlags

        if ds.crs is None and ds.transform.is_identity:
            crs_transformer: CRSTransformer = IdentityCRSTransformer()
        else:
            crs_transformer = CRSTransformer(ds.transform, ds.crs)
        flags = ds.mask_flag_enums[0] if ds.count else []
        alpha_bands = [i for i, ci in enumerate(ds.colorinterp) if ci == ColorInterp.alpha]
        return {
            "extent": Box(0, 0, ds.height, ds.width),
            "crs_transformer": crs_transformer,
            "count": ds.count,
            "dtype": np.dtype(ds.dtypes[0]),
            "nodata": ds.nodata,
            # A per-dataset mask or alpha band marks nodata in addition to the nodata value.
            "dataset_mask": MaskFlags.per_dataset in flags or MaskFlags.alpha in flags or bool(alpha_bands),
            "alpha_bands": alpha_bands,
            "block_shape": tuple(ds.block_shapes[0]) if ds.count else (ds.height, ds.width),
            "pixel_interleaved": ds.interleaving is None or ds.interleaving.name.lower() == "pixel",
        }

    @property
    def dataset(self) -> Any:
        """The open rasterio dataset (opened on first use, reopened after a fork)."""
        if self._dataset is None or self._pid != os.getpid():
            return self._open()
        return self._dataset

    @property
    def meta(self) -> dict[str, Any]:
        if self._meta is None or self._pid != os.getpid():
            self.dataset  # noqa: B018 - opens and fills _meta
        return self._meta  # type: ignore[return-value]

    def close(self) -> None:
        """Close the dataset (it reopens on the next read)."""
        if self._dataset is not None and self._pid == os.getpid():
            self._dataset.close()
        self._dataset = None

    # -------------------------------------------------------------- metadata

    @property
    def extent(self) -> Box:
        return self.meta["extent"]

    @property
    def crs_transformer(self) -> CRSTransformer:
        return self.meta["crs_transformer"]

    @property
    def num_bands(self) -> int:
        return self.meta["count"]

    @property
    def raw_dtype(self) -> np.dtype:
        return self.meta["dtype"]

    @property
    def nodata(self) -> float | None:
        return self._nodata_arg if self._nodata_arg is not None else self.meta["nodata"]

    def _default_channel_order(self) -> list[int]:
        alpha = set(self.meta["alpha_bands"])
        return [i for i in range(self.num_bands) if i not in alpha]

    @property
    def block_shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the file's internal blocks (tiles, or strips as wide as the raster)."""
        return self.meta["block_shape"]

    def read_order(self, windows: Sequence[Box]) -> list[Box]:
        """``windows`` sorted so that reading them in turn reuses GDAL's (bounded) block cache.

        Row by row (``ymin``, then ``xmin``) when the blocks are strips as wide
        as the raster. For tiled files, the scene is cut into vertical strips
        a few tiles wide, visited left to right and each swept top to bottom:
        while one strip is read, only the tiles under the current windows'
        rows of that strip are live, so they stay in the cache and each tile
        is decoded about once whatever the scene's width, where a plain
        row-major sweep over a wide multi-band scene would need whole rows of
        tiles in the cache. The strip width is chosen so that this working set
        fills at most half of GDAL's cache bound. Same windows, new order: a
        random sample stays the same random sample.
        """
        windows = list(windows)
        if len(windows) < 2:
            return windows
        block_h, block_w = self.block_shape
        if block_w >= self.extent.width:
            return sorted(windows, key=lambda w: (w.ymin, w.xmin))
        bands = self.num_bands if self.meta["pixel_interleaved"] else len(self.channel_order)
        block_bytes = block_h * block_w * bands * self.raw_dtype.itemsize
        # Live while a strip n blocks wide is swept: the block rows the windows at the current height
        # touch (and the next one), across the strip and the blocks its last windows stick out into.
        rows = int(np.ceil(max(w.height for w in windows) / block_h)) + 2
        sticking_out = int(np.ceil(max(w.width for w in windows) / block_w))
        blocks_across = max(1, gdal_cache_max() // 2 // (rows * block_bytes) - sticking_out)
        strip = blocks_across * block_w
        return sorted(windows, key=lambda w: (int(w.xmin // strip), w.ymin, w.xmin))

    # ----------------------------------------------------------------- check

    def check_complete(self) -> None:
        """Raise ``DataError`` when a local file of this source is truncated (the input check calls this).

        Cheap: for each local file, the last internal block (tile or strip)
        of every band is read — one block, whatever the raster's size. A
        truncated GeoTIFF keeps its header, so it opens, but its last blocks
        point past the end of the file and fail here rather than minutes
        into CHIP. Remote files are not read (their headers were checked
        when the source opened).
        """
        import rasterio
        from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
        from rasterio.windows import Window

        for uri in self.uris:
            if not is_local(uri):
                continue
            path = self._path_of(uri)
            row = col = 0
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", NotGeoreferencedWarning)
                    with rasterio.open(path) as ds:
                        if not ds.count or not ds.width or not ds.height:
                            continue
                        block_h, block_w = ds.block_shapes[0]
                        row = (ds.height - 1) // block_h * block_h
                        col = (ds.width - 1) // block_w * block_w
                        ds.read(window=Window(col, row, min(block_w, ds.width - col), min(block_h, ds.height - row)))
            except RasterioIOError:
                size = os.path.getsize(path)
                raise DataError(
                    f"Raster {uri} is truncated or corrupt: its header opens, but its last block (rows "
                    f"{row}.., columns {col}..) cannot be read from the file's {size} bytes. Copy or "
                    "download the file again (check it with `gdalinfo -checksum`)."
                ) from None

    # ----------------------------------------------------------------- reads

    def _read(self, window: Box, bands: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
        # GDAL writes straight into the pixel-interleaved (H, W, C) buffer
        # through a (C, H, W) strided view: no transpose copy afterwards.
        chip = np.empty((int(window.height), int(window.width), len(bands)), dtype=self.raw_dtype)
        mask = self._read_into(window, bands, np.moveaxis(chip, -1, 0))
        return chip, mask

    def _read_into(self, window: Box, bands: list[int], out: np.ndarray) -> np.ndarray | None:
        """Read ``window`` (inside the extent) of 0-based ``bands`` into ``out`` ``(C, H, W)``; returns the mask."""
        from rasterio.errors import RasterioIOError

        ds = self.dataset
        rio_window = window.to_rasterio_window()
        try:
            with self._gdal_env():
                ds.read([b + 1 for b in bands], window=rio_window, out=out)
                dataset_mask = ds.read_masks(1, window=rio_window) if self.meta["dataset_mask"] else None
        except RasterioIOError as e:
            raise DataError(
                f"Reading window {window} of {self.name} failed: {e}. The file may be truncated or corrupt; "
                "check it with `rio info` / `gdalinfo -checksum`."
            ) from None
        mask = None
        nodata = self.nodata
        if nodata is not None:
            mask = nodata_mask(np.moveaxis(out, 0, -1), nodata)
        if dataset_mask is not None:
            invalid = dataset_mask == 0
            mask = invalid if mask is None else (mask | invalid)
        return mask

    def get_raw_bands_with_mask(self, window: Box) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`get_raw_chip_with_mask` but band-sequential: ``(C, H, W)``, each band contiguous.

        For consumers that work band by band (the stats analyzer's
        histograms): GDAL fills each band's plane directly, with no strided
        copy per band afterwards.
        """
        window = Box(*(int(round(v)) for v in window.to_tuple()))
        if window.intersection(self.extent) != window:
            chip, mask = self.get_raw_chip_with_mask(window)
            return np.ascontiguousarray(np.moveaxis(chip, -1, 0)), mask
        bands = self.channel_order
        out = np.empty((len(bands), int(window.height), int(window.width)), dtype=self.raw_dtype)
        mask = self._read_into(window, bands, out)
        return out, (np.zeros(out.shape[1:], dtype=bool) if mask is None else mask)


def nodata_mask(chip: np.ndarray, nodata: float) -> np.ndarray:
    """``(H, W)`` True where every channel of ``chip`` equals ``nodata`` (NaN-aware).

    GDAL's dataset-mask rule: a pixel is nodata only when all its bands are.
    One comparison per channel: reducing over the short last axis is ~6x slower.
    """
    is_nodata = np.isnan if np.isnan(nodata) else (lambda band: band == nodata)
    mask = is_nodata(chip[..., 0])
    for c in range(1, chip.shape[-1]):
        mask &= is_nodata(chip[..., c])
    return mask
