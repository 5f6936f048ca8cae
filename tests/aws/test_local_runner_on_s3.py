"""An experiment with its scene and ``root_uri`` on S3, run by ``rv run local``.

Every output lands in the bucket; the GeoTIFFs are read in place by GDAL
(``/vsis3/`` range requests, seen in moto's request log), never downloaded;
the results equal those of the same experiment on local files.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from rv import file_utils, keys

HERE = Path(__file__).resolve().parent
IMAGE = HERE.parents[1] / "examples" / "data" / "landcover" / "s2_aberystwyth_tile4.tif"
LABELS = IMAGE.with_name("s2_aberystwyth_tile4_labels.tif")
#: pixels per class in the label raster (examples/data/DATA_LICENSES)
CLASS_PIXELS = {1: 6483, 2: 6022, 3: 22890, 4: 27606}


def _args(root, image, labels, *extra):
    return ["-a", "root_uri", root, "-a", "image_uri", image, "-a", "labels_uri", labels, *extra]


def _chip_arrays(read_bytes, paths):
    out = {}
    for name, path in paths.items():
        with np.load(io.BytesIO(read_bytes(path))) as npz:
            out[name] = {k: npz[k] for k in npz.files}
    return out


def _assert_read_in_place(recording, bucket, key):
    """GDAL read the object with range requests only: no whole-object GET, as a download would make."""
    requests = recording.s3_requests(bucket, key)
    gets = [r for r in requests if r.method == "GET"]
    assert gets, f"{key} was never read"
    assert {r.method for r in requests} <= {"HEAD", "GET"}
    for r in gets:
        assert (r.header("Range") or "").startswith("bytes="), f"a GET of {key} without a Range: {r.url}"


def test_analyze_and_chip_on_s3(moto_server, scene_on_s3, experiment_file, run_rv, tmp_path):
    bucket, image_uri, labels_uri = scene_on_s3
    root = f"s3://{bucket}/experiments/landcover"
    args = _args(root, image_uri, labels_uri)

    with moto_server.recording() as recording:
        result = run_rv("run", "local", experiment_file, "analyze", "chip", *args)
    assert result.returncode == 0, result.stderr
    assert "rv: ran 2 command(s)" in result.stderr

    # Every output is in the bucket, nothing in the working directory.
    found = moto_server.keys(bucket, "experiments/landcover/")
    rel = [k.removeprefix("experiments/landcover/") for k in found]
    train = [k for k in rel if k.startswith("chip/landcover/train/")]
    valid = [k for k in rel if k.startswith("chip/landcover/valid/")]
    assert sorted(set(rel) - set(train) - set(valid)) == [
        "analyze/landcover/command-config.json",
        "analyze/landcover/command-stamp.json",
        "analyze/landcover/log.txt",  # each command's log, uploaded beside its outputs
        "analyze/landcover/stats.json",
        "chip/landcover/chips.json",
        "chip/landcover/command-config.json",
        "chip/landcover/command-stamp.json",
        "chip/landcover/log.txt",
        "experiments/landcover.json",
    ]
    manifest = json.loads(file_utils.read_text(f"{root}/chip/landcover/chips.json"))
    assert manifest["counts"] == {"train": len(train), "valid": len(valid)}
    # 251 x 251 pixels, 64-pixel sliding windows: 4 x 4 per scene.
    assert len(train) == len(valid) == 16
    assert (manifest["num_channels"], manifest["dtype"], manifest["chip_size"]) == (3, "uint8", 64)
    assert list(Path.cwd().iterdir()) == []

    # The GeoTIFFs were read in place, by range requests.
    for path in (IMAGE, LABELS):
        _assert_read_in_place(recording, bucket, f"scenes/{path.name}")

    # The same experiment on local files gives the same statistics and chips.
    local_root = tmp_path / "local-out"
    result = run_rv("run", "local", experiment_file, "analyze", "chip", *_args(local_root, IMAGE, LABELS))
    assert result.returncode == 0, result.stderr
    stats = json.loads(file_utils.read_text(f"{root}/analyze/landcover/stats.json"))
    assert stats == json.loads((local_root / "analyze/landcover/stats.json").read_text())
    assert stats["num_channels"] == 3 and len(stats["means"]) == 3  # the channel order [2, 1, 0]
    names = {f"{split}/{Path(k).name}": k for split, ks in (("train", train), ("valid", valid)) for k in ks}
    remote = _chip_arrays(lambda k: file_utils.read_bytes(f"{root}/{k}"), names)
    local = _chip_arrays(lambda n: (local_root / "chip/landcover" / n).read_bytes(), {n: n for n in names})
    assert remote.keys() == local.keys()
    for name in names:
        for array in ("image", "mask", "labels"):
            np.testing.assert_array_equal(remote[name][array], local[name][array], err_msg=f"{name} {array}")
    labels = np.concatenate([c["labels"].ravel() for c in remote.values()])
    assert set(np.unique(labels)) <= {1, 2, 3, 4, 255} and {1, 2, 3, 4} <= set(np.unique(labels))

    # The stamps on S3 say the outputs are finished: a second run runs nothing.
    again = run_rv("run", "local", experiment_file, "analyze", "chip", *args)
    assert again.returncode == 0, again.stderr
    assert "nothing to run" in again.stderr


def test_a_window_of_a_tiled_geotiff_on_s3_reads_only_its_bytes(moto_server, s3_bucket, tmp_path, monkeypatch):
    """rv's GeoTIFFSource enters rv-aws's GDAL environment (the gdal_env_for hook) and reads one window."""
    import rasterio.shutil

    from rv.core.box import Box
    from rv.data.raster_source.geotiff_source import GeoTIFFSource

    tiled = tmp_path / "tiled.tif"
    rasterio.shutil.copy(IMAGE, tiled, driver="GTiff", tiled=True, blockxsize=64, blockysize=64, interleave="pixel")
    uri = f"s3://{s3_bucket}/scenes/tiled.tif"
    file_utils.upload(tiled, uri)

    downloads = []
    real_download = file_utils.download_if_needed
    monkeypatch.setattr(file_utils, "download_if_needed", lambda *a: downloads.append(a) or real_download(*a))
    source = GeoTIFFSource(uri, channel_order=[2, 1, 0], tmp_dir=str(tmp_path / "scratch"))
    with moto_server.recording() as recording:
        chip = source.get_chip(Box(64, 128, 128, 192))  # one 64 x 64 block
    assert downloads == []
    with rasterio.open(IMAGE) as local:
        expected = local.read([3, 2, 1], window=Window(128, 64, 64, 64))
    np.testing.assert_array_equal(chip, np.moveaxis(expected, 0, -1))

    _assert_read_in_place(recording, s3_bucket, "scenes/tiled.tif")
    fetched = 0
    for r in recording.s3_requests(s3_bucket, "scenes/tiled.tif", "GET"):
        start, end = r.header("Range").removeprefix("bytes=").split("-")
        fetched += int(end) - int(start) + 1
    # The header and one 80 KiB block (64 x 64 x 10 bands x 2 bytes), not the 1.3 MB file.
    assert fetched < tiled.stat().st_size / 4


# Not slow (about 12 s: the majority-class baseline backend trains nothing and needs no torch), so
# CI's default run covers the whole pipeline on S3; the rv-pytorch variant below trains, and stays slow.
def test_whole_pipeline_on_s3(moto_server, scene_on_s3, experiment_file, run_rv):
    """ANALYZE to BUNDLE with the majority-class baseline backend: every output on S3, metrics as expected."""
    bucket, image_uri, labels_uri = scene_on_s3
    root = f"s3://{bucket}/out"
    with moto_server.recording() as recording:
        result = run_rv("run", "local", experiment_file, *_args(root, image_uri, labels_uri))
    assert result.returncode == 0, result.stderr
    assert "rv: ran 6 command(s)" in result.stderr

    outputs = {k for k in moto_server.keys(bucket, "out/") if not k.endswith(".npz")}
    for command in ("analyze", "chip", "train", "predict", "eval", "bundle"):
        assert f"out/{command}/landcover/command-config.json" in outputs
        assert f"out/{command}/landcover/command-stamp.json" in outputs
        assert f"out/{command}/landcover/log.txt" in outputs
    for output in (
        "out/analyze/landcover/stats.json",
        "out/chip/landcover/chips.json",
        "out/train/landcover/model.pth",
        "out/predict/landcover/tile4-valid.tif",
        "out/eval/landcover/eval.json",
        "out/bundle/landcover/model-bundle.zip",
    ):
        assert output in outputs
    for path in (IMAGE, LABELS):
        _assert_read_in_place(recording, bucket, f"scenes/{path.name}")

    # The baseline learnt the most frequent class, water (4), and predicted it everywhere.
    model = json.loads(file_utils.read_text(f"{root}/train/landcover/model.pth"))
    assert model["class_id"] == 4
    evaluation = json.loads(file_utils.read_text(f"{root}/eval/landcover/eval.json"))
    classes = {c["class_id"]: c for c in evaluation["classes"]}
    assert {i: c["gt_count"] for i, c in classes.items()} == CLASS_PIXELS
    assert classes[4]["recall"] == 1.0 and classes[4]["pred_count"] == sum(CLASS_PIXELS.values())
    assert classes[4]["precision"] == pytest.approx(CLASS_PIXELS[4] / sum(CLASS_PIXELS.values()))
    assert all(classes[i]["pred_count"] == 0 for i in (1, 2, 3))

    # The predictions are georeferenced like the scene.
    from rv.file_systems import gdal_path
    from rv_aws.s3 import rasterio_env_for_s3

    with rasterio_env_for_s3(), rasterio.open(gdal_path(f"{root}/predict/landcover/tile4-valid.tif")) as predicted:
        with rasterio.open(IMAGE) as scene:
            assert (predicted.crs, predicted.transform, predicted.shape) == (scene.crs, scene.transform, scene.shape)
        assert np.unique(predicted.read(1)).tolist() == [4]

    with zipfile.ZipFile(io.BytesIO(file_utils.read_bytes(f"{root}/bundle/landcover/model-bundle.zip"))) as bundle:
        assert {"manifest.json", "bundle-config.json", "stats.json", "model.pth"} <= set(bundle.namelist())


@pytest.mark.slow
def test_whole_pipeline_on_s3_with_rv_pytorch(moto_server, scene_on_s3, experiment_file, run_rv):
    """The same pipeline with rv-pytorch's segmentation backend and a tiny training budget."""
    from rv.plugins import get_plugin_manager

    if not get_plugin_manager().rv_registry.has("backends", keys.PYTORCH_SEMANTIC_SEGMENTATION):
        pytest.skip(
            "rv-pytorch registers no PYTORCH_SEMANTIC_SEGMENTATION backend here (rv_pytorch.plugin is not loaded), "
            "so TRAIN, PREDICT, EVAL and BUNDLE with a real model cannot run; ANALYZE and CHIP on S3 are "
            "covered by test_analyze_and_chip_on_s3 and the rest by test_whole_pipeline_on_s3 with the baseline."
        )
    bucket, image_uri, labels_uri = scene_on_s3
    root = f"s3://{bucket}/out-pytorch"
    budget = ["-a", "backend", keys.PYTORCH_SEMANTIC_SEGMENTATION, "-a", "num_epochs", "1", "-a", "batch_size", "4"]
    result = run_rv("run", "local", experiment_file, *_args(root, image_uri, labels_uri, *budget), timeout=900)
    assert result.returncode == 0, result.stderr
    evaluation = json.loads(file_utils.read_text(f"{root}/eval/landcover/eval.json"))
    assert {c["class_id"]: c["gt_count"] for c in evaluation["classes"]} == CLASS_PIXELS
    assert file_utils.exists(f"{root}/bundle/landcover/model-bundle.zip")
