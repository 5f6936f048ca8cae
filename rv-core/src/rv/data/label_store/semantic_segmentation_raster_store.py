"""Segmentation predictions streamed to a tiled GeoTIFF (plus optional scores and polygons).

Memory never grows with the scene: windows are written to a tiled,
compressed GeoTIFF as they come (GDAL's bounded block cache flushes tiles to
disk), scores go to a second GeoTIFF, and polygons are extracted by reading
the finished raster back block by block.

Outputs:

- ``uri``: class ids (``uint8``, 1 band, nodata 255 = no prediction) or, with
  ``rgb=True``, class colors (3 ``uint8`` bands, ``(0, 0, 0)`` = no prediction).
- ``scores_uri`` (``write_scores=True``; default ``<uri stem>-scores.tif``):
  ``float32``, one band per class in class-map (model index) order, NaN =
  no prediction. float32 keeps the probabilities exact; DEFLATE with the
  floating-point predictor keeps the file small.
- ``vector_output`` (a ``.geojson`` URI): one polygon feature per connected
  region of a class, properties ``class_id`` and ``class_name``; WGS84 lon/lat
  without a ``crs`` member (RFC 7946) by default, or in the raster's CRS with
  a legacy ``crs`` member when ``vector_crs="source"``.

Every file is written to a temporary file and moved (or uploaded) into
place only when the writer closes without error.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from rv.core.box import Box
from rv.core.class_map import IGNORE_CLASS_ID, ClassMap
from rv.core.crs_transformer import CRSTransformer, IdentityCRSTransformer, OnRasterGrid
from rv.core.geojson import GEOJSON_DEFAULT_CRS
from rv.data.label_store.label_store import LabelStore
from rv.errors import ConfigError, DataError
from rv.labels.semantic_segmentation_labels import SemanticSegmentationLabels


def _mkdtemp(parent: str | None) -> str:
    if parent is not None:
        os.makedirs(parent, exist_ok=True)
    return tempfile.mkdtemp(prefix="rv-seg-store-", dir=parent)


def default_scores_uri(uri: str) -> str:
    """``labels.tif`` → ``labels-scores.tif``."""
    root, ext = os.path.splitext(uri)
    return f"{root}-scores{ext or '.tif'}"


class SemanticSegmentationRasterStore(OnRasterGrid, LabelStore):
    """Writes a scene's segmentation predictions as a georeferenced GeoTIFF, window by window.

    Use :meth:`open_writer`::

        with store.open_writer() as writer:
            for window in windows:
                writer.write(window, class_arr, scores=probabilities)

    Args:
        uri: where the class (or RGB) GeoTIFF goes (any URI rv writes).
        extent: the scene's extent (pixel ``Box(0, 0, H, W)``).
        crs: the scene raster's CRS (or None for a non-georeferenced image).
        transform: the scene raster's affine transform.
        class_map: the classes.
        rgb: write class colors (3 bands) instead of class ids.
        write_scores: also write per-class scores (float32) to ``scores_uri``.
        vector_output: URI of a GeoJSON of class polygons to write, or None.
        tile_size: GeoTIFF tile side (a multiple of 16).
        scores_uri: where the scores go (default ``<uri stem>-scores.tif``).
        vector_crs: None or ``"EPSG:4326"`` (default: WGS84, RFC 7946), ``"source"``
            for the raster's CRS, another CRS string, or ``"pixel"`` for pixel coordinates.
        vector_class_ids: classes to polygonize (default: all but the background class).
        vector_simplify: Douglas–Peucker tolerance in pixels (0 keeps the exact pixel outlines).
        tmp_dir: parent of the temporary files (default: rv's temporary directory).
    """

    def __init__(
        self,
        uri: str,
        extent: Box,
        crs: Any,
        transform: Any,
        class_map: ClassMap,
        rgb: bool = False,
        write_scores: bool = False,
        vector_output: str | None = None,
        tile_size: int = 256,
        scores_uri: str | None = None,
        vector_crs: str | None = None,
        vector_class_ids: Sequence[int] | None = None,
        vector_simplify: float = 0.0,
        tmp_dir: str | None = None,
    ):
        self.uri = os.fspath(uri)
        self.extent = extent.to_int()
        if crs is None and (transform is None or tuple(transform)[:6] == (1, 0, 0, 0, 1, 0)):
            self.crs_transformer: CRSTransformer = IdentityCRSTransformer()
        else:
            self.crs_transformer = CRSTransformer(transform, crs)
        self.class_map = class_map
        self.rgb = rgb
        self.write_scores = write_scores
        self.scores_uri = scores_uri or default_scores_uri(self.uri)
        self.vector_output = vector_output
        if tile_size <= 0 or tile_size % 16:
            raise ConfigError(f"tile_size {tile_size} is not a positive multiple of 16 (GeoTIFF tiles need that).")
        self.tile_size = tile_size
        self.vector_crs = vector_crs or GEOJSON_DEFAULT_CRS
        self.tmp_dir = tmp_dir
        self.vector_class_ids = (
            list(vector_class_ids)
            if vector_class_ids is not None
            else [i for i in class_map.ids if i != class_map.background_class_id]
        )
        self.vector_simplify = vector_simplify
        self._readers: dict[str, Any] = {}
        if vector_output and self.crs_transformer.crs is None and self.vector_crs != "pixel":
            raise ConfigError(
                f"Polygons for {vector_output} cannot be georeferenced: the scene raster has no CRS. "
                "Use vector_crs='pixel' for polygons in pixel coordinates, or georeference the raster."
            )

    @classmethod
    def from_raster_source(cls, uri: str, raster_source: Any, class_map: ClassMap, **kwargs: Any):
        """Store on the grid of ``raster_source`` (its extent, CRS and transform)."""
        return cls(uri, raster_source.extent, raster_source.crs, raster_source.transform, class_map, **kwargs)

    def __repr__(self) -> str:
        return f"SemanticSegmentationRasterStore({self.uri!r})"

    # --------------------------------------------------------------- writing

    @contextmanager
    def open_writer(self) -> Iterator[SegmentationRasterWriter]:
        """Context manager yielding a :class:`SegmentationRasterWriter`; outputs appear only on success."""
        self._forget_readers()  # the files are about to be replaced
        writer = SegmentationRasterWriter(self)
        try:
            yield writer
        except BaseException:
            writer.discard()
            raise
        writer.commit()
        self._forget_readers()

    def save(self, labels: SemanticSegmentationLabels) -> None:
        """Write every window of ``labels`` (in memory: for small scenes; stream with :meth:`open_writer`)."""
        with self.open_writer() as writer:
            for window, label_arr, scores in labels:
                writer.write(window, label_arr, scores)

    def empty(self) -> SemanticSegmentationLabels:
        """Empty labels to fill and :meth:`save`."""
        return SemanticSegmentationLabels()

    # --------------------------------------------------------------- reading

    def _reader(self, uri: str) -> Any:
        """A cached :class:`GeoTIFFSource` on an output (reopened after each commit)."""
        reader = self._readers.get(uri)
        if reader is None:
            from rv.data.raster_source.geotiff_source import GeoTIFFSource
            from rv.file_systems import is_local, local_path

            if is_local(uri) and not os.path.exists(local_path(uri)):
                raise DataError(f"No predictions at {uri}: nothing has been written there yet (run PREDICT).")
            reader = GeoTIFFSource(uri, tmp_dir=self.tmp_dir)
            self._readers[uri] = reader
        return reader

    def _forget_readers(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers = {}

    def get_label_arr(self, window: Box | None = None) -> np.ndarray:
        """``uint8 (H, W)`` class ids written for ``window`` (default: everything), 255 = none.

        Reads only the window. RGB outputs are mapped back to ids through the
        class colors (a pixel of no class color, e.g. never written, is 255).
        """
        window = self.extent if window is None else window.to_int()
        chip, outside = self._reader(self.uri).get_raw_chip_with_mask(window)
        if self.rgb:
            keys = (chip[..., 0].astype(np.int64) << 16) | (chip[..., 1].astype(np.int64) << 8) | chip[..., 2]
            out = np.full(keys.shape, IGNORE_CLASS_ID, dtype=np.uint8)
            for class_id, (r, g, b) in self.class_map.colors_rgb().items():
                out[keys == ((r << 16) | (g << 8) | b)] = class_id
        else:
            out = chip[..., 0].copy()
        out[outside] = IGNORE_CLASS_ID
        return out

    def get_scores_arr(self, window: Box | None = None) -> np.ndarray:
        """``float32 (H, W, C)`` scores written for ``window`` (NaN = none), C in class-map order."""
        if not self.write_scores:
            raise ConfigError(f"{self} was made with write_scores=False, so it has no scores to read.")
        window = self.extent if window is None else window.to_int()
        chip, _ = self._reader(self.scores_uri).get_raw_chip_with_mask(window)
        # Outside the raster the reader pads with 0; scores say "none" with NaN.
        inside = window.intersection(self.extent)
        out = np.full(chip.shape, np.nan, dtype=np.float32)
        if inside is not None:
            sl = inside.shift(-window.ymin, -window.xmin).to_slices()
            out[sl] = chip[sl]
        return out

    def get_labels(self) -> SemanticSegmentationLabels:
        """The whole prediction as one window (reads the full raster: small scenes only)."""
        scores = self.get_scores_arr() if self.write_scores else None
        return SemanticSegmentationLabels.from_array(self.get_label_arr(), self.extent, scores)


class SegmentationRasterWriter:
    """Writes windows to the store's temporary GeoTIFF(s); made by :meth:`SemanticSegmentationRasterStore.open_writer`."""

    def __init__(self, store: SemanticSegmentationRasterStore):
        import rasterio

        self.store = store
        self._tmp_dir = _mkdtemp(store.tmp_dir)
        self._staged: list[str] = []
        self._done = False
        h, w = int(store.extent.height), int(store.extent.width)
        profile = {
            "driver": "GTiff",
            "width": w,
            "height": h,
            "crs": store.crs,
            "transform": store.transform,
            "tiled": True,
            "blockxsize": store.tile_size,
            "blockysize": store.tile_size,
            "compress": "deflate",
            "BIGTIFF": "IF_SAFER",
        }
        self.labels_path = self._staging_path(store.uri, "labels.tif")
        self.scores_path = self._staging_path(store.scores_uri, "scores.tif")
        if store.rgb:
            # Unwritten tiles stay (0, 0, 0): GDAL fills never-written blocks with 0.
            self._labels = rasterio.open(
                self.labels_path, "w", **profile, count=3, dtype="uint8", photometric="RGB", predictor=2
            )
            self._lut = store.class_map.color_lut()
        else:
            # nodata 255: never-written tiles are filled with it when the file closes.
            self._labels = rasterio.open(
                self.labels_path, "w", **profile, count=1, dtype="uint8", nodata=IGNORE_CLASS_ID, predictor=2
            )
        self._scores = None
        if store.write_scores:
            self._scores = rasterio.open(
                self.scores_path,
                "w",
                **profile,
                count=len(store.class_map),
                dtype="float32",
                nodata=float("nan"),
                predictor=3,
            )
            for i, item in enumerate(store.class_map):
                self._scores.set_band_description(i + 1, f"{item.id}:{item.name}")

    def _staging_path(self, uri: str, name: str) -> str:
        """Where an output is written before it is committed.

        Next to a local destination (hidden name), so the commit is an atomic
        rename and never a copy of a large raster; in the temporary directory
        for a remote one, which is uploaded on commit.
        """
        from rv.file_systems import is_local, local_path

        if is_local(uri):
            dest = os.path.abspath(local_path(uri))
            parent = os.path.dirname(dest)
            os.makedirs(parent, exist_ok=True)
            path = os.path.join(parent, f".{os.path.basename(dest)}.{uuid.uuid4().hex[:12]}.tmp")
            self._staged.append(path)
            return path
        return os.path.join(self._tmp_dir, name)

    def _put(self, path: str, uri: str) -> None:
        from rv.file_systems import is_local, local_path

        if is_local(uri):
            os.replace(path, local_path(uri))
        else:
            from rv.file_utils import upload

            upload(path, uri)

    def write(self, window: Box, class_arr: np.ndarray, scores: np.ndarray | None = None) -> None:
        """Write class ids ``uint8 (H, W)`` (and scores ``(H, W, C)`` in class-map order) for ``window``.

        Parts of the window outside the extent are dropped (padded edge chips).
        Where windows overlap, the last write wins.
        """
        window = window.to_int()
        class_arr = np.asarray(class_arr)
        if class_arr.shape != (window.height, window.width):
            raise ValueError(f"class array shape {class_arr.shape} does not match window {window} {window.size}")
        inside = window.intersection(self.store.extent)
        if inside is None:
            return
        src = inside.shift(-window.ymin, -window.xmin).to_slices()
        rio_window = inside.to_rasterio_window()
        arr = class_arr[src].astype(np.uint8, copy=False)
        if self.store.rgb:
            self._labels.write(np.moveaxis(self._lut[arr], -1, 0), window=rio_window)
        else:
            self._labels.write(arr, 1, window=rio_window)
        if self._scores is not None:
            if scores is None:
                raise ValueError("This store writes scores (write_scores=True): pass scores=(H, W, C) probabilities.")
            scores = np.asarray(scores, dtype=np.float32)
            if scores.shape != (window.height, window.width, len(self.store.class_map)):
                raise ValueError(
                    f"scores shape {scores.shape} is not (H, W, C) = {(window.height, window.width, len(self.store.class_map))}"
                )
            self._scores.write(np.moveaxis(scores[src], -1, 0), window=rio_window)

    def _close_datasets(self) -> None:
        self._labels.close()
        if self._scores is not None:
            self._scores.close()

    def discard(self) -> None:
        """Drop everything written; the store's URIs are untouched."""
        if self._done:
            return
        self._done = True
        try:
            self._close_datasets()
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        shutil.rmtree(self._tmp_dir, ignore_errors=True)
        for path in self._staged:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)

    def commit(self) -> None:
        """Close the files, write polygons if asked, and put every output at its URI."""
        if self._done:
            return
        self._done = True
        try:
            self._close_datasets()
            vector_path = None
            if self.store.vector_output:
                vector_path = self._staging_path(self.store.vector_output, "polygons.geojson")
                write_class_polygons(self.labels_path, vector_path, self.store)
            # The class raster goes last: its presence marks the output finished.
            if self._scores is not None:
                self._put(self.scores_path, self.store.scores_uri)
            if vector_path is not None:
                self._put(vector_path, self.store.vector_output)
            self._put(self.labels_path, self.store.uri)
        finally:
            self._cleanup()


# --------------------------------------------------------------------------
# Polygons
# --------------------------------------------------------------------------


def polygonize_classes(
    labels_path: str,
    class_ids: Sequence[int],
    block_size: int = 1024,
    class_map: ClassMap | None = None,
    rgb: bool = False,
) -> dict[int, list[Any]]:
    """Pixel-space polygons per class of a class raster, read block by block.

    ``rasterio.features.shapes`` outlines the regions of each block; regions
    touching an inner block edge may continue in the next block, so they are
    merged per class with ``shapely.union_all`` at the end (outlines are on
    whole pixels, so pieces share their edges exactly). Regions inside one
    block are final as soon as they are found.
    """
    import rasterio
    import shapely
    import shapely.geometry
    from affine import Affine
    from rasterio.features import shapes

    wanted = set(int(c) for c in class_ids)
    final: dict[int, list[Any]] = {c: [] for c in wanted}
    pending: dict[int, list[Any]] = {c: [] for c in wanted}
    if rgb and class_map is not None:
        color_to_id = {(r << 16) | (g << 8) | b: cid for cid, (r, g, b) in class_map.colors_rgb().items()}
    with rasterio.open(labels_path) as ds:
        extent = Box(0, 0, ds.height, ds.width)
        for block in extent.get_windows(block_size, padding="pad"):
            block = block.intersection(extent)
            assert block is not None
            if rgb:
                rgb_arr = ds.read([1, 2, 3], window=block.to_rasterio_window()).astype(np.int64)
                keys = (rgb_arr[0] << 16) | (rgb_arr[1] << 8) | rgb_arr[2]
                arr = np.full(keys.shape, IGNORE_CLASS_ID, dtype=np.uint8)
                for key, cid in color_to_id.items():
                    arr[keys == key] = cid
            else:
                arr = ds.read(1, window=block.to_rasterio_window())
            mask = np.isin(arr, list(wanted))
            if not mask.any():
                continue
            transform = Affine.translation(block.xmin, block.ymin)
            geoms, values = [], []
            for geom, value in shapes(arr, mask=mask, connectivity=4, transform=transform):
                geoms.append(geom)
                values.append(int(value))
            if not geoms:
                continue
            polys = np.array([shapely.geometry.shape(g) for g in geoms], dtype=object)
            bounds = shapely.bounds(polys)
            # Only edges shared with another block matter; the scene's own edges end every region.
            touches = (
                ((bounds[:, 0] <= block.xmin) & (block.xmin > 0))
                | ((bounds[:, 1] <= block.ymin) & (block.ymin > 0))
                | ((bounds[:, 2] >= block.xmax) & (block.xmax < extent.xmax))
                | ((bounds[:, 3] >= block.ymax) & (block.ymax < extent.ymax))
            )
            for poly, value, touch in zip(polys, values, touches):
                (pending if touch else final)[value].append(poly)
    for class_id, pieces in pending.items():
        if pieces:
            merged = shapely.union_all(pieces)
            final[class_id].extend(p for p in shapely.get_parts(merged) if not p.is_empty)
    return final


def write_class_polygons(labels_path: str, out_path: str, store: SemanticSegmentationRasterStore) -> int:
    """Write the GeoJSON of class polygons of ``labels_path`` to ``out_path``; returns the feature count.

    Written by rv's one GeoJSON writer (:func:`rv.core.geojson.write_geojson`):
    RFC 7946 (WGS84, rings oriented) unless ``store.vector_crs`` asks for
    another CRS, the raster's (``"source"``) or pixels.
    """
    import shapely

    from rv.core.geojson import write_geojson

    by_class = polygonize_classes(labels_path, store.vector_class_ids, class_map=store.class_map, rgb=store.rgb)
    geoms: list[Any] = []
    properties: list[dict[str, Any]] = []
    for class_id in sorted(by_class):
        polys = by_class[class_id]
        if not polys:
            continue
        class_geoms = np.asarray(polys, dtype=object)
        if store.vector_simplify > 0:
            class_geoms = shapely.simplify(class_geoms, store.vector_simplify, preserve_topology=True)
        name = store.class_map.get_by_id(class_id).name if store.class_map.has_id(class_id) else str(class_id)
        geoms.extend(class_geoms)
        properties.extend({"class_id": int(class_id), "class_name": name} for _ in class_geoms)
    write_geojson(out_path, geoms, properties, store.crs_transformer, crs=store.vector_crs)
    return len(geoms)
