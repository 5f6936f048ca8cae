"""Bad input through the real ``rv`` command: a clear error before any work, never a traceback.

Each test runs ``python -m rv run local experiment.py -n`` (or ``rv run_command``)
in a subprocess on real data from ``examples/data`` made bad in one way —
a missing file, a raster without a CRS under WGS84 labels, labels outside
the scene, a polygon that cannot be repaired, an unknown config key, a
truncated GeoTIFF, a channel order past the band count — and asserts that
rv exits non-zero with a message naming the file and the fix, that no
``Traceback`` is printed, and that nothing was written under the output
root. The input check lists every problem of a run in one error.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rv.testing import environ_without_rv

ROOT = Path(__file__).resolve().parents[2]
BUILDINGS = ROOT / "examples" / "data" / "buildings"
KAMPALA_B = BUILDINGS / "kampala_oam_b.tif"
KAMPALA_LABELS = BUILDINGS / "kampala_buildings.geojson"
ATLANTA = BUILDINGS / "sn4_atlanta_pan.tif"
ATLANTA_LABELS = BUILDINGS / "sn4_atlanta_pan_buildings.geojson"

#: One detection experiment: a train and a validation scene, each image and label file replaceable with -a.
EXPERIMENT = textwrap.dedent(
    f'''
    import rv


    class BadInput(rv.ExperimentSet):
        def exp_buildings(self, root_uri, image={str(KAMPALA_B)!r}, labels={str(KAMPALA_LABELS)!r},
                          image2=None, labels2=None, channel_order=None, aoi=None):
            task = (rv.TaskConfig.builder(rv.OBJECT_DETECTION).with_chip_size(256)
                    .with_classes({{"building": (1, "red")}}).build())
            backend = rv.BackendConfig.builder(rv.PYTORCH_OBJECT_DETECTION).with_task(task).build()
            order = None if channel_order is None else [int(c) for c in channel_order.split(",")]

            def scene(scene_id, image, labels):
                source = (rv.LabelSourceConfig.builder(rv.OBJECT_DETECTION_GEOJSON).with_uri(labels)
                          .with_default_class_id(1))
                scene = (rv.SceneConfig.builder().with_task(task).with_id(scene_id)
                         .with_raster_source(image, channel_order=order).with_label_source(source))
                return (scene.with_aoi_uri(aoi) if aoi else scene).build()

            dataset = (rv.DatasetConfig.builder().with_train_scenes([scene("train", image, labels)])
                       .with_validation_scenes([scene("valid", image2 or image, labels2 or labels)]).build())
            return (rv.ExperimentConfig.builder().with_id("buildings").with_task(task).with_backend(backend)
                    .with_dataset(dataset).with_root_uri(root_uri).build())
    '''
)


@pytest.fixture
def rv_run(tmp_path):
    """``rv_run(*args)``: ``python -m rv run local experiment.py -n -a root_uri OUT *args`` in a clean environment."""
    experiment = tmp_path / "bad_input_experiment.py"
    experiment.write_text(EXPERIMENT, encoding="utf-8")
    config_dir = tmp_path / "rv-config"
    config_dir.mkdir()
    env = environ_without_rv()
    env["RV_CONFIG_DIR"] = str(config_dir)
    out = tmp_path / "out"

    def _run(*args, command=None):
        argv = command or ["run", "local", str(experiment), "-n", "-a", "root_uri", str(out), *args]
        result = subprocess.run([sys.executable, "-m", "rv", *map(str, argv)], capture_output=True, text=True,
                                env=env, cwd=tmp_path, timeout=120)
        result.output = result.stdout + result.stderr
        return result

    _run.out = out
    _run.experiment = experiment
    return _run


def assert_fails_clearly(result, *fragments):
    """Exit code != 0, one ``rv: error:``, every fragment in the output, no traceback."""
    assert result.returncode != 0, result.output
    assert "rv: error:" in result.stderr, result.output
    assert "Traceback" not in result.output, result.output
    for fragment in fragments:
        assert str(fragment) in result.output, f"{fragment!r} not in:\n{result.output}"


def copy_without_crs(path: Path, dst: Path, identity: bool = False) -> Path:
    """``path`` rewritten without a CRS (and, with ``identity``, without its geotransform either)."""
    import warnings

    import rasterio
    from affine import Affine
    from rasterio.errors import NotGeoreferencedWarning

    with rasterio.open(path) as src:
        profile, data = src.profile, src.read()
    profile.pop("crs", None)
    if identity:
        profile["transform"] = Affine.identity()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(dst, "w", **profile) as out:
            out.write(data)
    return dst


def truncated_copy(path: Path, dst: Path) -> Path:
    data = path.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


def test_the_experiment_itself_passes_the_input_check(rv_run):
    result = rv_run()
    assert result.returncode == 0, result.output
    assert "CHIP buildings" in result.output and "Traceback" not in result.output


def test_missing_raster(rv_run, tmp_path):
    missing = tmp_path / "no_such_scene.tif"
    result = rv_run("-a", "image", missing)
    assert_fails_clearly(result, missing, "Fix the paths in the experiment")
    assert not rv_run.out.exists()


@pytest.mark.parametrize("identity", [False, True], ids=["crs-stripped", "plain-image"])
def test_raster_without_crs_under_wgs84_labels(rv_run, tmp_path, identity):
    no_crs = copy_without_crs(KAMPALA_B, tmp_path / "kampala_no_crs.tif", identity=identity)
    result = rv_run("-a", "image", no_crs)
    assert_fails_clearly(result, "Input check failed for scene 'train'", no_crs, KAMPALA_LABELS,
                         "has no CRS", "WGS84", "gdal_edit.py -a_srs", "pixel")
    assert not rv_run.out.exists()


def test_raster_without_crs_under_labels_with_a_crs_member(rv_run, tmp_path):
    no_crs = copy_without_crs(ATLANTA, tmp_path / "atlanta_no_crs.tif")
    result = rv_run("-a", "image", no_crs, "-a", "labels", ATLANTA_LABELS)
    assert_fails_clearly(result, no_crs, ATLANTA_LABELS, "declares the CRS EPSG:32616", "gdal_edit.py -a_srs")


def test_labels_outside_the_scene(rv_run):
    # Kampala's buildings on the Atlanta tile: both georeferenced, 11,000 km apart.
    result = rv_run("-a", "image", ATLANTA)
    assert_fails_clearly(result, f"No label in {KAMPALA_LABELS} overlaps the scene", "columns 0..900",
                         "Check that the label file belongs to this image")


def test_polygon_that_cannot_be_repaired(rv_run, tmp_path):
    flat = tmp_path / "flat_building.geojson"
    ring = [[32.590, 0.349], [32.591, 0.349], [32.592, 0.349], [32.590, 0.349]]  # collinear: no area
    flat.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    result = rv_run("-a", "labels", flat)
    assert_fails_clearly(result, f"Feature(s) 0 of {flat}", "cannot be repaired", "Redraw or remove them")


def test_invalid_json_and_unknown_class(rv_run, tmp_path):
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [}')
    result = rv_run("-a", "labels", broken)
    assert_fails_clearly(result, f"GeoJSON file {broken} is not valid JSON", "line 1, column 44",
                         "Fix the file there")
    tree = tmp_path / "tree.geojson"
    square = [[32.590, 0.349], [32.5901, 0.349], [32.5901, 0.3491], [32.590, 0.3491], [32.590, 0.349]]
    tree.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"class_name": "tree"}, "geometry": {"type": "Polygon",
                                                                            "coordinates": [square]}}]}))
    result = rv_run("-a", "labels", tree)
    assert_fails_clearly(result, f"Feature 0 of {tree} has property 'class_name' = 'tree'",
                         "not a class name of the class map", "Add the class to the class map")


def test_aoi_outside_the_scene(rv_run, tmp_path):
    aoi = tmp_path / "atlanta_aoi.geojson"
    lonlat = [[-84.4, 33.7], [-84.39, 33.7], [-84.39, 33.71], [-84.4, 33.71], [-84.4, 33.7]]
    aoi.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [lonlat]}}]}))
    result = rv_run("-a", "aoi", aoi)
    assert_fails_clearly(result, f"The AOI in {aoi} lies outside the scene", "Give this scene the AOI drawn for it")


def test_truncated_geotiff(rv_run, tmp_path):
    truncated = truncated_copy(ATLANTA, tmp_path / "atlanta_truncated.tif")
    result = rv_run("-a", "image", truncated, "-a", "labels", ATLANTA_LABELS)
    assert_fails_clearly(result, truncated, "truncated or corrupt", "download the file again")
    assert not rv_run.out.exists()


def test_channel_order_past_the_band_count(rv_run):
    result = rv_run("-a", "channel_order", "0,1,5")
    assert_fails_clearly(result, "scene 'train'", KAMPALA_B, "band index 5", "3 bands", "fix the channel order")


def test_every_problem_of_the_run_is_reported_at_once(rv_run, tmp_path):
    truncated = truncated_copy(ATLANTA, tmp_path / "atlanta_truncated.tif")
    no_crs = copy_without_crs(KAMPALA_B, tmp_path / "kampala_no_crs.tif")
    result = rv_run("-a", "image", truncated, "-a", "labels", ATLANTA_LABELS, "-a", "image2", no_crs,
                    "-a", "labels2", KAMPALA_LABELS)
    assert_fails_clearly(result, "The input check found 2 problems", "1. Input check failed for scene 'train'",
                         "2. Input check failed for scene 'valid'", truncated, no_crs, KAMPALA_LABELS,
                         "pass -x to skip the input check")
    # the validation scene's labels, read by CHIP and EVAL, are reported once
    assert result.output.count("scene 'valid'") == 1, result.output


def _command_config(rv_run, tmp_path) -> dict:
    """CHIP's command-config.json of the experiment, as a dict (planned in this process)."""
    from rv.command.dag import build_plan
    from rv.experiment.experiment_set import load_experiments
    from rv.serialization import config_to_json

    experiments = load_experiments(path=str(rv_run.experiment), args={"root_uri": str(rv_run.out)})
    chip = next(pc.config for pc in build_plan(experiments, ["CHIP"]).commands)
    return json.loads(config_to_json(chip))


def test_unknown_key_in_a_command_config(rv_run, tmp_path):
    doc = _command_config(rv_run, tmp_path)
    doc["config"]["task"]["chip_sise"] = doc["config"]["task"].pop("chip_size")
    bad = tmp_path / "command-config.json"
    bad.write_text(json.dumps(doc))
    result = rv_run(command=["run_command", bad])
    assert_fails_clearly(result, str(bad), "Unknown key(s) 'chip_sise'", "did you mean 'chip_size'?")


def test_unknown_key_inside_a_scene_of_a_command_config(rv_run, tmp_path):
    doc = _command_config(rv_run, tmp_path)
    raster = doc["config"]["train_scenes"][0]["raster_source"]
    raster["chanel_order"] = raster.pop("channel_order", None)
    bad = tmp_path / "command-config.json"
    bad.write_text(json.dumps(doc))
    result = rv_run(command=["run_command", bad])
    assert_fails_clearly(result, str(bad), "Unknown key(s) 'chanel_order'", "did you mean 'channel_order'?")


def test_skipping_the_check_is_possible(rv_run, tmp_path):
    """-x skips the input check, as the error says: the plan is printed (nothing runs with -n)."""
    truncated = truncated_copy(ATLANTA, tmp_path / "atlanta_truncated.tif")
    result = rv_run("-x", "-a", "image", truncated, "-a", "labels", ATLANTA_LABELS)
    assert result.returncode == 0, result.output
    assert not rv_run.out.exists()


def _refused_port() -> int:
    """A loopback port where nothing listens (bound, then closed)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_http_image_on_a_port_that_refuses_connections_says_so_not_missing(rv_run):
    port = _refused_port()
    url = f"http://127.0.0.1:{port}/kampala_oam_b.tif"
    result = rv_run("-a", "image", url)
    assert_fails_clearly(result, url, f"127.0.0.1:{port} refused the connection", "start the server")
    assert "does not exist" not in result.output and "missing" not in result.output


def test_a_directory_given_as_the_image_says_it_is_a_directory(rv_run, tmp_path):
    folder = tmp_path / "scenes"
    folder.mkdir()
    result = rv_run("-a", "image", folder)
    assert_fails_clearly(result, str(folder), "is a directory")
    assert not rv_run.out.exists()


def test_a_directory_named_like_a_label_file_says_it_is_a_directory(rv_run, tmp_path):
    folder = tmp_path / "labels.geojson"
    folder.mkdir()
    (folder / "part-1.geojson").write_text("{}")
    result = rv_run("-a", "labels", folder)
    assert_fails_clearly(result, str(folder), "is a directory, not a file", "part-1.geojson")


def test_a_raster_holding_only_nodata_is_named_by_the_dry_run(rv_run, tmp_path):
    import numpy as np
    import rasterio

    empty = tmp_path / "empty_export.tif"
    with rasterio.open(KAMPALA_B) as src:
        profile = src.profile
    profile.update(nodata=0)
    with rasterio.open(empty, "w", **profile) as dst:
        dst.write(np.zeros((profile["count"], profile["height"], profile["width"]), dtype=profile["dtype"]))
    result = rv_run("-a", "image2", empty)
    assert_fails_clearly(result, str(empty), "holds no data", "nodata value 0 in every band")
    assert result.output.count("holds no data") == 1  # the train scene's real raster is fine
