"""Real-data helpers of rv-pytorch's tests: read the shared scenes, rasterize
labels, cut chips and write chip directories in the format of
``docs/internals.md`` (``chips.json`` + one ``.npz`` per chip).

The chips are cut here with rasterio windowed reads and
``rasterio.features.rasterize`` so the tests do not depend on rv's CHIP command.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

# the sample data kept in the repository: <repo>/examples/data
DATA_DIR = Path(__file__).resolve().parents[2] / "examples" / "data"
KAMPALA_A = DATA_DIR / "buildings" / "kampala_oam_a.tif"
KAMPALA_B = DATA_DIR / "buildings" / "kampala_oam_b.tif"
KAMPALA_LABELS = DATA_DIR / "buildings" / "kampala_buildings.geojson"
NEON = DATA_DIR / "trees" / "neon_osbs_029.tif"
NEON_BOXES = DATA_DIR / "trees" / "neon_osbs_029_trees.csv"
BUILDING_CLASSES = [{"id": 0, "name": "background", "color": "black"}, {"id": 1, "name": "building", "color": "red"}]


def read_scene(path: Path, window=None) -> np.ndarray:
    """A scene (or a ``(row_off, col_off, height, width)`` window of it) as ``(H, W, C)``."""
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(path) as src:
        win = None if window is None else Window(window[1], window[0], window[3], window[2])
        return src.read(window=win).transpose(1, 2, 0)


def kampala_building_raster(path: Path) -> np.ndarray:
    """Building (1) / background (0) labels of a Kampala scene: the WGS84 polygons
    reprojected to the scene's CRS, clipped to it and rasterized on its grid."""
    import rasterio
    import rasterio.features
    import shapely
    from pyproj import Transformer

    features = json.loads(KAMPALA_LABELS.read_text())["features"]
    geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in features])
    with rasterio.open(path) as src:
        to_scene = Transformer.from_crs("EPSG:4326", src.crs, always_xy=True)
        geoms = shapely.make_valid(
            shapely.transform(geoms, lambda xy: np.column_stack(to_scene.transform(xy[:, 0], xy[:, 1])))
        )
        scene_box = shapely.box(*src.bounds)
        geoms = shapely.intersection(geoms[shapely.intersects(geoms, scene_box)], scene_box)
        return rasterio.features.rasterize(
            [(g, 1) for g in geoms], out_shape=(src.height, src.width), transform=src.transform, fill=0, dtype="uint8"
        )


def neon_boxes() -> np.ndarray:
    """The 61 NEON tree boxes as ``(N, 4)`` ``ymin, xmin, ymax, xmax`` pixels."""
    with open(NEON_BOXES, newline="") as f:
        rows = list(csv.DictReader(f))
    return np.array([[float(r["ymin"]), float(r["xmin"]), float(r["ymax"]), float(r["xmax"])] for r in rows], np.float32)


def write_chip_dir(root: Path, task: str, class_map, chips: dict[str, list[dict]], chip_size: int) -> Path:
    """Write chips (``{"train": [arrays...], "valid": [...]}``) and ``chips.json``."""
    first = next(c for split in chips.values() for c in split)
    for split, items in chips.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        for n, arrays in enumerate(items):
            np.savez_compressed(root / split / f"scene-{n}.npz", **arrays)
    manifest = {
        "format_version": 1,
        "task": task,
        "class_map": class_map,
        "background_class_id": 0 if task != "OBJECT_DETECTION" else None,
        "chip_size": chip_size,
        "num_channels": int(first["image"].shape[2]),
        "dtype": str(first["image"].dtype),
        "counts": {split: len(items) for split, items in chips.items()},
    }
    (root / "chips.json").write_text(json.dumps(manifest))
    return root


def grid(height: int, width: int, size: int, stride: int):
    for y in range(0, height - size + 1, stride):
        for x in range(0, width - size + 1, stride):
            yield y, x


def neon_detection_chips(image: np.ndarray, boxes: np.ndarray, block, size: int, stride: int) -> list[dict]:
    """Chips of a block ``(y0, x0, h, w)`` of the NEON scene with the boxes
    clipped to each chip (kept when at least half of the box is inside)."""
    y0, x0, h, w = block
    out = []
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    for y, x in grid(h, w, size, stride):
        top, left = y0 + y, x0 + x
        clipped = boxes - np.array([top, left, top, left], np.float32)
        clipped = np.clip(clipped, 0, size)
        inside = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
        keep = inside >= 0.5 * areas
        chip = image[top : top + size, left : left + size]
        out.append({
            "image": chip,
            "mask": (chip == 255).all(axis=2),
            "boxes": clipped[keep].astype(np.float32),
            "class_ids": np.zeros(int(keep.sum()), np.int64),
        })
    return out
