"""Synthetic scenes for the benchmarks: tiled GeoTIFFs with texture, and building footprints.

Everything is built window by window (one row of tiles at a time), so
making an 8192² or 20000² scene never holds it in memory, and everything
is deterministic for a given seed.

The scene grid is UTM zone 16N (EPSG:32616, around Atlanta) with 0.5 m
pixels; the buildings are written as RFC 7946 GeoJSON in WGS84 lon/lat,
so reading them exercises the reprojection to the raster's CRS exactly
as real labels do.

Imagery texture: two octaves of smooth value noise (bilinear over coarse
random grids), a few hundred large rectangles of other brightness (fields,
lots, roads), the buildings themselves as bright roofs, and per-pixel sensor
noise, so compression and reads cost what they cost on real imagery rather
than on constant tiles.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

#: Grid of every synthetic scene: UTM 16N, 0.5 m pixels, upper-left corner near Atlanta.
CRS = "EPSG:32616"
PIXEL_SIZE = 0.5
ORIGIN_X = 740_000.0
ORIGIN_Y = 3_740_000.0

#: Class ids of the synthetic labels.
BACKGROUND_ID = 0
BUILDING_ID = 1


def transform():
    """The affine pixel → map transform shared by the synthetic scenes."""
    from affine import Affine

    return Affine(PIXEL_SIZE, 0.0, ORIGIN_X, 0.0, -PIXEL_SIZE, ORIGIN_Y)


def class_map():
    """``background`` (0, the background class) and ``building`` (1)."""
    from rv.core.class_map import ClassItem, ClassMap

    return ClassMap([ClassItem(BACKGROUND_ID, "background"), ClassItem(BUILDING_ID, "building")], BACKGROUND_ID)


# --------------------------------------------------------------------------
# Buildings
# --------------------------------------------------------------------------


def building_polygons(size: int, count: int, seed: int = 0) -> np.ndarray:
    """``count`` building footprints in *pixel* coordinates (x = column, y = row) inside a ``size``² scene.

    Rotated rectangles 12–60 px (6–30 m) a side, a fifth of them L-shaped
    (the union of two rectangles), clustered in neighbourhoods like real
    buildings rather than spread uniformly. Returns a shapely object array.
    """
    import shapely

    rng = np.random.default_rng(seed)
    margin = 64
    # Neighbourhood centres, with buildings scattered around them.
    n_hoods = max(1, count // 40)
    hoods = rng.uniform(margin, size - margin, (n_hoods, 2))
    which = rng.integers(0, n_hoods, count)
    spread = size / 25
    centers = np.clip(hoods[which] + rng.normal(0, spread, (count, 2)), margin, size - margin)
    w = rng.uniform(12, 60, count)
    h = rng.uniform(12, 60, count)
    angle = rng.uniform(0, np.pi / 2, count)
    l_shaped = rng.random(count) < 0.2

    def rects(cx, cy, w, h, angle):
        # Corners of rotated rectangles, (n, 5, 2) closed rings.
        corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5], [-0.5, -0.5]])
        xy = corners[None] * np.stack([w, h], axis=1)[:, None, :]
        cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
        x = xy[..., 0] * cos - xy[..., 1] * sin + cx[:, None]
        y = xy[..., 0] * sin + xy[..., 1] * cos + cy[:, None]
        return shapely.polygons(np.stack([x, y], axis=-1))

    polys = rects(centers[:, 0], centers[:, 1], w, h, angle)
    # The wing of an L: a rectangle at one corner, along the same axes.
    wing = rects(
        centers[:, 0] + 0.5 * w * np.cos(angle),
        centers[:, 1] + 0.5 * w * np.sin(angle),
        w * 0.6,
        h * 0.5,
        angle,
    )
    polys[l_shaped] = shapely.union(polys[l_shaped], wing[l_shaped])
    return polys


def write_buildings_geojson(path: str, pixel_polys: np.ndarray) -> None:
    """Write pixel-space polygons as an RFC 7946 FeatureCollection (WGS84 lon/lat, ``class_id`` = building)."""
    import shapely
    from pyproj import Transformer

    t = transform()
    to_wgs84 = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)

    def pixel_to_lonlat(xy: np.ndarray) -> np.ndarray:
        mx = t.c + xy[:, 0] * t.a
        my = t.f + xy[:, 1] * t.e
        lon, lat = to_wgs84.transform(mx, my)
        return np.stack([lon, lat], axis=1)

    geoms = shapely.transform(pixel_polys, pixel_to_lonlat)
    # 7 decimals of a degree is ~1 cm: well below the 0.5 m pixel.
    geoms = shapely.set_precision(geoms, 1e-7)
    features = [
        {
            "type": "Feature",
            "properties": {"class_id": BUILDING_ID, "id": i},
            "geometry": json.loads(shapely.to_geojson(g)),
        }
        for i, g in enumerate(geoms)
    ]
    with open(path, "w") as f:
        json.dump({"type": "FeatureCollection", "features": features}, f)


# --------------------------------------------------------------------------
# Imagery
# --------------------------------------------------------------------------


def _bilinear(grid: np.ndarray, rows: np.ndarray, cols: np.ndarray, cell: int) -> np.ndarray:
    """Bilinear interpolation of a coarse ``grid`` (one value per ``cell`` px) at pixel ``rows`` × ``cols``."""
    iy, fy = np.divmod(rows, cell)
    ix, fx = np.divmod(cols, cell)
    fy = (fy / cell)[:, None].astype(np.float32)
    fx = (fx / cell)[None, :].astype(np.float32)
    g00 = grid[iy][:, ix]
    g01 = grid[iy][:, ix + 1]
    g10 = grid[iy + 1][:, ix]
    g11 = grid[iy + 1][:, ix + 1]
    return (1 - fy) * ((1 - fx) * g00 + fx * g01) + fy * ((1 - fx) * g10 + fx * g11)


@dataclass(frozen=True)
class ImageSpec:
    """What a synthetic image looks like: size, bands, dtype, value range, tiling, compression."""

    size: int
    bands: int
    dtype: str
    tile: int = 256
    compress: str | None = "deflate"

    @property
    def value_range(self) -> tuple[float, float]:
        # uint16 like 11-bit satellite imagery (WorldView, Pléiades); uint8 like an RGB orthophoto.
        return (0.0, 255.0) if self.dtype == "uint8" else (60.0, 2047.0)


def write_image(path: str, spec: ImageSpec, buildings: np.ndarray | None = None, seed: int = 0) -> str:
    """Write a tiled GeoTIFF of ``spec`` to ``path``, one row of tiles at a time; returns ``path``.

    ``buildings`` (pixel-space polygons) are drawn as bright roofs so the
    labels sit on visible objects.
    """
    import rasterio
    from affine import Affine
    from rasterio.features import rasterize

    rng = np.random.default_rng(seed)
    size, tile, c = spec.size, spec.tile, spec.bands
    lo, hi = spec.value_range
    # Two octaves of value noise: large landscape patches and finer variation.
    coarse_cell, fine_cell = 512, 48
    coarse = rng.random((c, size // coarse_cell + 2, size // coarse_cell + 2)).astype(np.float32)
    fine = rng.random((c, size // fine_cell + 2, size // fine_cell + 2)).astype(np.float32)
    band_gain = rng.uniform(0.7, 1.0, c).astype(np.float32)
    # Large rectangles (fields, parking lots, roads) of their own brightness.
    n_rects = max(8, (size // 256) ** 2 // 4)
    ry = rng.integers(0, size, n_rects)
    rx = rng.integers(0, size, n_rects)
    rh = rng.integers(16, 600, n_rects)
    rw = rng.integers(16, 600, n_rects)
    rv_ = rng.uniform(-0.3, 0.3, (n_rects, c)).astype(np.float32)
    roof = rng.uniform(0.25, 0.45, c).astype(np.float32)

    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": c,
        "dtype": spec.dtype,
        "crs": CRS,
        "transform": transform(),
        "tiled": True,
        "blockxsize": tile,
        "blockysize": tile,
        "interleave": "pixel",
        "BIGTIFF": "IF_SAFER",
    }
    if spec.compress:
        profile["compress"] = spec.compress
        profile["predictor"] = 2
    cols = np.arange(size)
    with rasterio.open(path, "w", **profile) as dst:
        for r0 in range(0, size, tile):
            rows = np.arange(r0, min(r0 + tile, size))
            h = len(rows)
            strip = np.empty((c, h, size), dtype=np.float32)
            for b in range(c):
                strip[b] = 0.6 * _bilinear(coarse[b], rows, cols, coarse_cell) + 0.25 * _bilinear(
                    fine[b], rows, cols, fine_cell
                )
            hit = (ry < r0 + h) & (ry + rh > r0)
            for i in np.flatnonzero(hit):
                y0, y1 = max(ry[i], r0) - r0, min(ry[i] + rh[i], r0 + h) - r0
                strip[:, y0:y1, rx[i] : rx[i] + rw[i]] += rv_[i][:, None, None]
            if buildings is not None and len(buildings):
                burned = rasterize(
                    ((g, 1) for g in buildings),
                    out_shape=(h, size),
                    transform=Affine.translation(0, r0),
                    fill=0,
                    dtype=np.uint8,
                )
                on_roof = burned.astype(bool)
                strip[:, on_roof] += roof[:, None]
            strip *= band_gain[:, None, None]
            strip += rng.normal(0, 0.012, strip.shape).astype(np.float32)  # sensor noise
            np.clip(strip, 0, 1, out=strip)
            out = (lo + strip * (hi - lo)).astype(spec.dtype)
            dst.write(out, window=rasterio.windows.Window(0, r0, size, h))
    return path


@dataclass(frozen=True)
class SyntheticScene:
    """Paths of a synthetic scene: images by name, the buildings GeoJSON, and its size."""

    size: int
    images: dict[str, str]
    geojson: str
    num_buildings: int


def build_scene(
    work_dir: str,
    size: int,
    num_buildings: int,
    images: dict[str, ImageSpec] | None = None,
    seed: int = 0,
) -> SyntheticScene:
    """Write a scene's images and its buildings GeoJSON into ``work_dir``.

    ``images`` maps a name to an :class:`ImageSpec` (default: ``"rgb"`` —
    3-band uint8 — and ``"ms"`` — 4-band uint16); every image shares the
    same grid and buildings.
    """
    if images is None:
        images = {"rgb": ImageSpec(size, 3, "uint8"), "ms": ImageSpec(size, 4, "uint16")}
    os.makedirs(work_dir, exist_ok=True)
    polys = building_polygons(size, num_buildings, seed=seed)
    geojson = os.path.join(work_dir, f"buildings-{size}.geojson")
    write_buildings_geojson(geojson, polys)
    paths = {}
    for i, (name, spec) in enumerate(images.items()):
        path = os.path.join(work_dir, f"{name}-{size}.tif")
        paths[name] = write_image(path, spec, polys, seed=seed + 1 + i)
    return SyntheticScene(size, paths, geojson, len(polys))


# --------------------------------------------------------------------------
# rv scenes and segmentation
# --------------------------------------------------------------------------


def rv_segmentation_scene(scene_id: str, image_path: str, geojson_path: str, tmp_dir: str | None = None):
    """An ``rv.data.scene.Scene`` made the way the segmentation defaults make it.

    The image is a :class:`~rv.data.raster_source.geotiff_source.GeoTIFFSource`;
    the labels are the GeoJSON rasterized per window by
    :class:`~rv_geojson.geojson_raster_source.GeoJSONRasterSource` inside a
    :class:`~rv.data.label_source.semantic_segmentation_raster_source.SemanticSegmentationRasterSource`
    (what a ``.geojson`` label URI becomes for segmentation).
    """
    from rv.data.label_source.semantic_segmentation_raster_source import SemanticSegmentationRasterSource
    from rv.data.raster_source.geotiff_source import GeoTIFFSource
    from rv.data.scene import Scene
    from rv_geojson.geojson_raster_source import GeoJSONRasterSource

    cmap = class_map()
    image = GeoTIFFSource(image_path, tmp_dir=tmp_dir)
    labels = GeoJSONRasterSource(geojson_path, cmap, image.crs_transformer, image.extent)
    return Scene(scene_id, image, SemanticSegmentationRasterSource(labels, cmap))


def segmentation_task(chip_size: int = 256, **chip_options):
    """The SEMANTIC_SEGMENTATION task entity, built from its config (background + building)."""
    from rv.task.semantic_segmentation_config import SemanticSegmentationConfig
    from rv.task.task_config import ClassConfig

    config = SemanticSegmentationConfig(
        classes=(ClassConfig(BACKGROUND_ID, "background"), ClassConfig(BUILDING_ID, "building")),
        chip_size=chip_size,
        background_class_id=BACKGROUND_ID,
    )
    config = config.to_builder().with_chip_options(**chip_options).build() if chip_options else config
    config.validate()
    return config.create()


def chip_scene(scene, task, out_dir: str, split: str = "train", seed: int = 0) -> tuple[int, list]:
    """Chip ``scene`` as CHIP does (``Task.chip_scene`` writing through ``rv.chips.ChipWriter``).

    Returns ``(count, windows)``: the chips written and the windows they
    came from (so a baseline can read the very same windows).
    """
    from rv.chips import ChipWriter

    rng = np.random.default_rng(seed)
    writer = ChipWriter(out_dir, task.config.key, task.class_map, task.chip_size)
    windows: list = []

    # The same callback shape as rv.command.chip._chip_one_scene (debug PNGs off).
    def write(split_, scene_id, image, mask, labels, window):
        writer.write(split_, scene_id, image, mask, **labels)
        windows.append(window)

    count = task.chip_scene(scene, split, write, [], rng)
    writer.close()
    return count, windows


def chip_command_config(image_path: str, geojson_path: str, out_uri: str, chip_size: int = 256, **chip_options):
    """The CHIP command config of one training scene, built with the builders as a user writes them.

    The task is SEMANTIC_SEGMENTATION (background 0 + building 1); the
    scene's raster source is GEOTIFF_SOURCE and its label source
    SEMANTIC_SEGMENTATION_RASTER over rv-geojson's GEOJSON_SOURCE (the
    buildings rasterized per window) — what a ``.geojson`` label URI becomes
    for segmentation. Run it with ``rv.command.chip.run_chip(config, tmp_dir)``.
    """
    import rv
    from rv.command.command_config import ChipCommandConfig

    task = (
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
        .with_classes({"background": (BACKGROUND_ID, "lightgray"), "building": (BUILDING_ID, "red")})
        .with_background_class_id(BACKGROUND_ID)
        .with_chip_size(chip_size)
        .with_chip_options(**chip_options)
        .build()
    )
    labels = rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_raster_source(
        rv.RasterSourceConfig.builder(rv.GEOJSON_SOURCE).with_uri(geojson_path)
    )
    scene = (
        rv.SceneConfig.builder()
        .with_task(task)
        .with_id("bench")
        .with_raster_source(rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE).with_uri(image_path))
        .with_label_source(labels)
        .build()
    )
    return ChipCommandConfig(key="bench", command_uri=out_uri, task=task, train_scenes=(scene,))


def command_windows(config, tmp_dir: str) -> list:
    """The windows ``run_chip`` chips for the (single) training scene of ``config``, in its order.

    ``run_chip`` seeds scene ``i`` with ``1000 + i`` and chips
    ``Task.get_chip_windows`` (split among its processes in contiguous parts).
    """
    task = config.task.create()
    scene = config.train_scenes[0].create(config.task, tmp_dir, with_labels=True)
    return task.get_chip_windows(scene, np.random.default_rng(1000))


# --------------------------------------------------------------------------
# Measurement helpers
# --------------------------------------------------------------------------


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, printed beside the figures: other work on the machine slows them."""
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


@contextlib.contextmanager
def work_dir(path: str | None, prefix: str) -> Iterator[str]:
    """A benchmark's working folder: ``path`` (``--work-dir``; made if missing, kept), else a temporary
    folder named ``prefix...``, removed at the end."""
    work = path or tempfile.mkdtemp(prefix=prefix)
    os.makedirs(work, exist_ok=True)
    try:
        yield work
    finally:
        if not path:
            shutil.rmtree(work, ignore_errors=True)


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process and of its finished children (pool workers)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all processes, all cores; Linux).

    The difference over a measurement, minus the measurement's own CPU
    time, is what *other* work took from the cores meanwhile.
    """
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return float("nan")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Wall clock, CPU (this process and its children) and the machine's busy time over a block."""

    def __enter__(self) -> Meter:
        self.t0, self.c0, self.m0 = time.perf_counter(), cpu_seconds(), machine_busy_seconds()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.t0
        self.cpu = cpu_seconds() - self.c0
        self.busy = machine_busy_seconds() - self.m0

    def report(self, count: float) -> dict:
        """``seconds``, ``rate`` (count per wall second), ``cpu``, ``cpu_rate`` (count per CPU second)
        and ``others``: cores other processes kept busy on average meanwhile."""
        return {
            "count": count,
            "seconds": self.wall,
            "rate": count / self.wall,
            "cpu": self.cpu,
            "cpu_rate": count / self.cpu,
            "others": max(0.0, (self.busy - self.cpu) / self.wall),
        }


def peak_rss_mb() -> float:
    """Peak resident set size of this process image, in MiB.

    On Linux this is ``VmHWM`` of ``/proc/self/status``: the high-water mark
    of this process's own memory map, which starts afresh at ``exec``.
    ``ru_maxrss`` does not: Linux carries the spawning parent's peak across
    fork + exec into the child's ``ru_maxrss`` (a bare ``python -c`` child of a
    process that allocated 300 MiB reports ~325 MiB), so it is only an upper
    bound; :func:`ru_maxrss_mb` gives it for comparison. Elsewhere,
    ``ru_maxrss`` is all there is.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return ru_maxrss_mb()


def ru_maxrss_mb() -> float:
    """``resource.getrusage(RUSAGE_SELF).ru_maxrss`` in MiB (KiB on Linux, bytes on macOS)."""
    import resource
    import sys

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def run_child(module_path: str, args: list[str], timeout: float = 1800) -> dict:
    """Run ``python module_path *args`` in a fresh process; it prints one JSON line last, returned parsed.

    A fresh process per measurement keeps GDAL's block cache and the peak
    RSS of one measurement out of the next.
    """
    import subprocess
    import sys

    bench_dir = os.path.dirname(os.path.abspath(module_path))
    env = dict(os.environ)
    env["PYTHONPATH"] = bench_dir + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, module_path, *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------
# Models and PREDICT (rv-pytorch)
# --------------------------------------------------------------------------


def segmentation_task_config(chip_size: int = 256, predict_stride: int | None = None, predict_batch_size: int = 8):
    """The SEMANTIC_SEGMENTATION task config (background 0 + building 1), built with the builders.

    ``predict_stride`` None keeps the task's default (the chip size less an eighth).
    """
    import rv

    builder = (
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
        .with_classes({"background": (BACKGROUND_ID, "lightgray"), "building": (BUILDING_ID, "red")})
        .with_background_class_id(BACKGROUND_ID)
        .with_chip_size(chip_size)
        .with_predict_batch_size(predict_batch_size)
    )
    if predict_stride is not None:
        builder = builder.with_predict_options(stride=int(predict_stride))
    return builder.build()


def segmentation_backend_config(
    task, encoder: str = "resnet18", decoder_channels: int = 128, train_uri: str | None = None, tta: str | None = None
):
    """PYTORCH_SEMANTIC_SEGMENTATION with the RESNET18 model defaults, ``encoder`` and ``decoder_channels`` set
    (and the test-time augmentation ``tta`` unless None: the model defaults' then)."""
    import rv

    options = {"encoder": encoder, "decoder_channels": int(decoder_channels)}
    if tta is not None:
        options["tta"] = tta
    builder = (
        rv.BackendConfig.builder(rv.PYTORCH_SEMANTIC_SEGMENTATION)
        .with_task(task)
        .with_model_defaults(rv.RESNET18)
        .with_config(options)
    )
    if train_uri is not None:
        builder = builder.with_training_output_uri(train_uri)
    return builder.build()


def write_random_segmentation_model(
    train_dir: str,
    encoder: str = "resnet18",
    chip_size: int = 256,
    decoder_channels: int = 128,
    num_channels: int = 3,
    dtype: str = "uint8",
    seed: int = 0,
    tta: str | None = None,
) -> str:
    """Leave in ``train_dir`` what TRAIN leaves (``model.safetensors`` + ``model-config.json``), with random weights.

    The network is the backend's own (``create_model`` of the
    PYTORCH_SEMANTIC_SEGMENTATION backend on a ``ModelSpec``, as TRAIN makes
    it), seeded; only the weights are untrained. Prediction costs the same
    whatever the weights are, so speed and memory benchmarks need no
    training. The model options (recorded in ``model-config.json``, read by
    PREDICT) are the RESNET18 model defaults' with ``decoder_channels`` and,
    unless None, ``tta`` set. Returns ``train_dir``.
    """
    import torch

    from rv_pytorch.data import Normalizer
    from rv_pytorch.model_files import MODEL_CONFIG_NAME, MODEL_NAME, ModelSpec, save_weights

    task = segmentation_task_config(chip_size)
    config = segmentation_backend_config(task, encoder, decoder_channels, train_dir, tta)
    backend = config.create(task)
    spec = ModelSpec(
        backend=config.backend_key,
        task=config.task_key,
        encoder=encoder,
        classes=[{"id": c.id, "name": c.name, "color": c.color} for c in task.classes],
        num_channels=num_channels,
        dtype=dtype,
        normalizer=Normalizer.for_dtype(dtype, num_channels).to_dict(),
        chip_size=chip_size,
        model_options=config.model_options(),
    )
    os.makedirs(train_dir, exist_ok=True)
    spec.save(os.path.join(train_dir, MODEL_CONFIG_NAME))
    torch.manual_seed(seed)
    model = backend.create_model(spec, pretrained=False)
    save_weights(model.state_dict(), os.path.join(train_dir, MODEL_NAME))
    return train_dir


def predict_command_config(
    image_path: str,
    train_dir: str,
    out_dir: str,
    chip_size: int = 256,
    stride: int | None = None,
    batch_size: int = 8,
    encoder: str = "resnet18",
    decoder_channels: int = 128,
):
    """The PREDICT command config of one GeoTIFF scene, built with the builders as an experiment makes it.

    The scene's raster source is GEOTIFF_SOURCE; its label store the
    SEMANTIC_SEGMENTATION_RASTER GeoTIFF at ``<out_dir>/bench.tif``; the
    backend PYTORCH_SEMANTIC_SEGMENTATION loading the model in ``train_dir``
    (see :func:`write_random_segmentation_model`). Run it with
    ``config.run(tmp_dir)`` (what ``rv run_command`` does).
    """
    import rv
    from rv.command.command_config import PredictCommandConfig

    task = segmentation_task_config(chip_size, stride, batch_size)
    backend = segmentation_backend_config(task, encoder, decoder_channels, train_dir)
    scene = (
        rv.SceneConfig.builder()
        .with_task(task)
        .with_id("bench")
        .with_raster_source(rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE).with_uri(image_path))
        .with_label_store(
            rv.LabelStoreConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_uri(os.path.join(out_dir, "bench.tif"))
        )
        .build()
    )
    return PredictCommandConfig(key="bench", command_uri=out_dir, task=task, backend=backend, scenes=(scene,))


def current_rss_mb() -> float:
    """Resident set size of this process now (``VmRSS``), in MiB; NaN where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def write_mosaic_image(path: str, size: int, source_path: str) -> str:
    """Write a ``size``² GeoTIFF by repeating the pixels of ``source_path`` (a smaller synthetic image).

    The profile (bands, dtype, tiling, compression, CRS, pixel size, origin)
    is the source's; row strips are tiled from the source, so a 32768² scene
    costs what GDAL's compression costs rather than generating a billion
    pixels of texture. Every tile is compressed and decoded as usual (GDAL
    does not deduplicate), so reading it costs what reading any scene of that
    size costs. Returns ``path``.
    """
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(source_path) as src:
        profile = src.profile.copy()
        pattern = src.read()  # (C, h, w): e.g. 48 MiB for a 4096² RGB source
        tile = src.block_shapes[0][0]
    c, ph, pw = pattern.shape
    profile.update(width=size, height=size, BIGTIFF="IF_SAFER")
    reps = -(-size // pw)
    with rasterio.open(path, "w", **profile) as dst:
        for r0 in range(0, size, tile):
            h = min(tile, size - r0)
            rows = np.arange(r0, r0 + h) % ph
            strip = np.tile(pattern[:, rows, :], (1, 1, reps))[:, :, :size]
            dst.write(strip, window=Window(0, r0, size, h))
    return path
