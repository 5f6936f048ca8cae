"""Fixtures of the data-layer tests: real data, a model-free backend, and the real command path.

The experiments here are built with the builders as a user writes them, and
their ANALYZE, CHIP and EVAL commands run the way a runner runs them: the
plan is built (with its input check), every command config is written to
``command-config.json`` and run through ``rv.command.run_command.run_command``
(which reads the JSON back). EVAL needs predictions and there is no model:
the ground truth of each validation scene is written into its label store
first, as PREDICT would write predictions, so evaluation must come out
perfect.

No ``from __future__ import annotations``: the attrs config below is read by
the serializer, and conftest modules of several folders share a module name.
"""

import json
from pathlib import Path

import attrs
import numpy as np
import pytest

import rv
from rv.testing.baseline import BASELINE_BACKEND

COMMANDS = ["ANALYZE", "CHIP", "EVAL"]


@pytest.fixture(autouse=True)
def clean_environment(rv_clean_environment):
    """No rv settings from the shell; the working directory an empty folder (``rv_clean_environment``)."""
    return rv_clean_environment


@pytest.fixture
def rv_env(rv_plugin_manager, rv_baseline_backend):
    """A fresh active plugin manager (real entry points: rv-core, rv-geojson, ...) plus rv.testing's baseline backend.

    ANALYZE, CHIP and EVAL never run the backend; the experiment needs one.
    """
    return rv_plugin_manager


def backend_for(task):
    """The backend config for ``task`` (rv.testing's torch-free baseline; never run here)."""
    return rv.BackendConfig.builder(BASELINE_BACKEND).with_task(task).build()


def build_experiment(exp_id, task, train_scenes, validation_scenes, root_uri, stats=None):
    """An ExperimentConfig built with the builders; ``stats``: options of a stats analyzer to add."""
    dataset = rv.DatasetConfig.builder().with_train_scenes(train_scenes).with_validation_scenes(validation_scenes)
    builder = (
        rv.ExperimentConfig.builder()
        .with_id(exp_id)
        .with_task(task)
        .with_backend(backend_for(task))
        .with_dataset(dataset)
        .with_root_uri(str(root_uri))
    )
    if stats is not None:
        builder = builder.with_stats_analyzer(**stats)
    return builder.build()


def write_ground_truth_as_predictions(experiment, tmp_dir):
    """Save each validation scene's ground truth into its label store, as PREDICT would save predictions."""
    resolved = experiment.resolved()
    for scene_config in resolved.dataset.validation_scenes:
        # The store needs the image's grid only; its transformers need ANALYZE's stats, not written yet.
        scene_config = attrs.evolve(
            scene_config, raster_source=attrs.evolve(scene_config.raster_source, transformers=())
        )
        scene = scene_config.create(resolved.task, str(tmp_dir), with_labels=True, with_store=True)
        scene.label_store.save(scene.label_source.get_labels())


def run_commands(experiment, tmp_dir, commands=COMMANDS):
    """Plan ``commands`` (input check on), write their configs, run each through ``run_command``.

    Returns the command configs read back from their ``command-config.json``.
    """
    from rv.command.dag import build_plan
    from rv.command.run_command import load_command, run_command
    from rv.runner.runner import write_command_configs

    if "EVAL" in commands:
        write_ground_truth_as_predictions(experiment, tmp_dir)
    plan = build_plan([experiment], commands, check_inputs=True)
    assert [pc.config.command_type for pc in plan.to_run()] == [c for c in COMMANDS if c in commands]
    ran = []
    for uri in write_command_configs(plan):
        assert load_command(uri) == next(pc.config for pc in plan.commands if pc.config.config_uri == uri)
        ran.append(run_command(uri, tmp_dir=str(tmp_dir)))
    return ran


def read_eval(experiment):
    """The eval.json of an experiment's EVAL (and the path of its confusion-matrix PNG)."""
    resolved = experiment.resolved()
    eval_uri = resolved.evaluators[0].output_uri
    with open(eval_uri) as f:
        return json.load(f), Path(eval_uri).with_name("confusion_matrix.png")


def read_chips(experiment):
    """``(manifest, {"train": [chip dict, ...], "valid": [...]}, {"train": [names], ...})`` of CHIP's output."""
    from rv.chips import read_chip_dir

    chip_dir = read_chip_dir(experiment.resolved().command_uri("CHIP"))
    chips, names = {}, {}
    for split in ("train", "valid"):
        paths = chip_dir.paths(split)
        names[split] = [Path(p).stem for p in paths]
        chips[split] = [dict(np.load(p)) for p in paths]
    return chip_dir.manifest.raw, chips, names


class ChipLocator:
    """Finds chips in their scene by their pixels alone, so a test does not trust how CHIP chose windows.

    ``scene_arr`` is the scene ``(H, W, C)`` as chips see it; outside it rv pads with 0, and so does
    this. Positions are indexed once by the value of the window's first pixel.
    """

    def __init__(self, scene_arr, h, w):
        self.h, self.w = h, w
        self.padded = np.pad(scene_arr, ((h, h), (w, w), (0, 0)))
        top = self.padded[: self.padded.shape[0] - h + 1, : self.padded.shape[1] - w + 1]
        self.ncols = top.shape[1]
        keys = self._keys(top.reshape(-1, top.shape[2]))
        self.order = np.argsort(keys, kind="stable")
        self.sorted_keys = keys[self.order]

    @staticmethod
    def _keys(pixels):
        """One uint64 per pixel from its bytes (at most 8 bytes a pixel: 8 uint8 or 4 uint16 bands)."""
        raw = np.ascontiguousarray(pixels).view(np.uint8).reshape(len(pixels), -1)
        assert raw.shape[1] <= 8, "ChipLocator packs a pixel into 8 bytes"
        packed = np.zeros((len(pixels), 8), dtype=np.uint8)
        packed[:, : raw.shape[1]] = raw
        return packed.view(np.uint64)[:, 0]

    def locate(self, image):
        """Every window (``rv.core.box.Box``) whose pixels equal ``image``."""
        from rv.core.box import Box

        h, w = self.h, self.w
        assert image.shape[:2] == (h, w)
        key = self._keys(image[:1, 0])[0]
        lo = np.searchsorted(self.sorted_keys, key, side="left")
        hi = np.searchsorted(self.sorted_keys, key, side="right")
        flat = self.order[lo:hi]
        ys, xs = flat // self.ncols, flat % self.ncols
        for py, px in ((h // 2, w // 2), (h - 1, w - 1), (0, w - 1), (h - 1, 0), (h // 3, 2 * w // 3)):
            keep = (self.padded[ys + py, xs + px] == image[py, px]).all(axis=-1)
            ys, xs = ys[keep], xs[keep]
        # (y, x) index the padded array: the window starts at scene row y - h, column x - w.
        return [
            Box(int(y) - h, int(x) - w, int(y), int(x))
            for y, x in zip(ys, xs)
            if np.array_equal(self.padded[y : y + h, x : x + w], image)
        ]


def window_of(arr, window, fill=0):
    """``arr[window]`` for a window that may stick out of ``arr`` (padded with ``fill``)."""
    h, w = int(window.height), int(window.width)
    out = np.full((h, w) + arr.shape[2:], fill, dtype=arr.dtype)
    y0, x0 = int(window.ymin), int(window.xmin)
    ys, xs = max(y0, 0), max(x0, 0)
    ye, xe = min(y0 + h, arr.shape[0]), min(x0 + w, arr.shape[1])
    if ye > ys and xe > xs:
        out[ys - y0 : ye - y0, xs - x0 : xe - x0] = arr[ys:ye, xs:xe]
    return out


def write_aoi(path, pixel_polygon, tif, crs="EPSG:4326"):
    """Write an AOI GeoJSON of a pixel-space polygon of ``tif``, in ``crs`` (legacy crs member unless WGS84).

    The pixel → map conversion uses the raster's transform and GDAL's
    ``transform_geom``, independently of rv.
    """
    import rasterio
    import shapely
    from rasterio.warp import transform_geom

    with rasterio.open(tif) as ds:
        t = ds.transform
        map_poly = shapely.transform(
            pixel_polygon,
            lambda xy: np.column_stack([t.c + t.a * xy[:, 0] + t.b * xy[:, 1], t.f + t.d * xy[:, 0] + t.e * xy[:, 1]]),
        )
        geometry = transform_geom(ds.crs, crs, shapely.geometry.mapping(map_poly))
    doc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": geometry}]}
    if crs != "EPSG:4326":
        code = crs.split(":")[1]
        doc["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{code}"}}
    Path(path).write_text(json.dumps(doc))
    return str(path)


def pixel_centres_in(polygon, shape):
    """``bool (H, W)``: pixels whose centre lies in the pixel-space ``polygon`` (independent of rv)."""
    import shapely

    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    return shapely.contains_xy(polygon, cols + 0.5, rows + 0.5)


@pytest.fixture
def helpers():
    """The module's helpers, for the test files (which cannot import conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        **{
            obj.__name__: obj
            for obj in (
                backend_for,
                build_experiment,
                run_commands,
                read_eval,
                read_chips,
                ChipLocator,
                window_of,
                write_aoi,
                pixel_centres_in,
            )
        }
    )
