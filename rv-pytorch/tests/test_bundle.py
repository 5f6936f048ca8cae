"""The model bundle's input contract and manifest format, through ``rv.Predictor`` and ``rv predict``.

The bundle is made here by the BUNDLE command itself (``rv.command.bundle.run_bundle``)
from a chip classifier with random weights (seeded): what is checked is what the
bundle promises and refuses, not what the model has learnt.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

import rv
from rv.command.bundle import BUNDLE_FORMAT_VERSION, run_bundle
from rv.command.command_config import BundleCommandConfig
from rv.errors import ConfigError, DataError
from rv.predictor import upgrade_manifest
from rv_pytorch.data import Normalizer
from rv_pytorch.model_files import MODEL_NAME, ModelSpec, save_weights

torch.set_num_threads(1)
DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
KAMPALA_B = DATA / "buildings" / "kampala_oam_b.tif"
FORMAT_1_MANIFEST = Path(__file__).resolve().parent / "data" / "bundle-manifest-format-1.json"
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """A chip-classification bundle (3-band uint8, every band, 64 px cells) written by BUNDLE."""
    return write_bundle(tmp_path_factory.mktemp("bundle"))


def write_bundle(root: Path, label_store=None) -> Path:
    """A chip-classification bundle written by BUNDLE into ``root``, its template scene with ``label_store``."""
    task = (rv.TaskConfig.builder(rv.CHIP_CLASSIFICATION)
            .with_classes({"background": (0, "black"), "building": (1, "red")}).with_background_class_id(0)
            .with_chip_size(64).with_predict_package_uri(str(root / "bundle" / "model-bundle.zip")).build())
    backend_config = (rv.BackendConfig.builder(rv.PYTORCH_CHIP_CLASSIFICATION).with_task(task)
                      .with_config({"encoder": "resnet18"}).build()).evolve(training_output_uri=str(root / "train"))
    backend = backend_config.create(task, None)
    spec = ModelSpec(backend=rv.PYTORCH_CHIP_CLASSIFICATION, task=rv.CHIP_CLASSIFICATION, encoder="resnet18",
                     classes=[{"id": c.id, "name": c.name, "color": c.color} for c in task.classes], num_channels=3,
                     dtype="uint8", normalizer=Normalizer.for_dtype("uint8", 3).to_dict(), chip_size=64,
                     model_options=backend_config.model_options())
    torch.manual_seed(0)
    (root / "train").mkdir(parents=True)
    (root / "tmp").mkdir()
    save_weights(backend.create_model(spec).state_dict(), str(root / "train" / MODEL_NAME))
    spec.save(str(root / "train" / "model-config.json"))
    scene = rv.SceneConfig.builder().with_task(task).with_id("template").with_raster_source(str(KAMPALA_B))
    if label_store is not None:
        scene = scene.with_label_store(label_store)
    scene = scene.build()
    run_bundle(BundleCommandConfig(key="cc", command_uri=str(root / "bundle"), task=task, backend=backend_config,
                                   scene=scene), str(root / "tmp"))
    return root / "bundle" / "model-bundle.zip"


def with_manifest(bundle: Path, out: Path, manifest: dict | str) -> Path:
    """A copy of ``bundle`` whose manifest.json is ``manifest``."""
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            if item.filename != "manifest.json":
                dst.writestr(item, src.read(item.filename))
        dst.writestr("manifest.json", manifest if isinstance(manifest, str) else json.dumps(manifest))
    return out


@pytest.fixture
def no_pixel_reads(monkeypatch):
    """Reading pixels of a GeoTIFF fails the test: the contract is checked on the metadata."""
    from rv.data.raster_source.geotiff_source import GeoTIFFSource

    def refuse(self, window, bands):
        raise AssertionError(f"pixels of {self.name} were read before the contract was checked")

    monkeypatch.setattr(GeoTIFFSource, "_read", refuse)


@pytest.mark.parametrize("update_stats", [False, True])
def test_an_out_of_range_channel_order_gets_the_bundles_expectation_before_any_pixel_or_model(
        bundle, tmp_path, no_pixel_reads, update_stats):
    predictor = rv.Predictor(str(bundle), str(tmp_path), update_stats=update_stats, channel_order=[2, 1, 5])
    out = tmp_path / "cells.geojson"
    with pytest.raises(DataError) as raised:
        predictor.predict(str(KAMPALA_B), str(out))
    message = str(raised.value)
    assert "model expects 3 band(s) (channel order [0, 1, 2] of a 3-band uint8 image)" in message
    assert f"the raster {KAMPALA_B} has 3 band(s) (indices 0-2)" in message
    assert "index 5 of the channel order asked for (--channel-order) [2, 1, 5] is out of range" in message
    assert "--channel-order with 3 band indices from 0 to 2" in message
    assert "asks for band index" not in message  # not the raster source's own error
    assert predictor.backend is None and not out.exists()


def test_rv_predict_refuses_an_out_of_range_channel_order_with_the_contract_message(bundle, tmp_path):
    out = tmp_path / "cells.geojson"
    result = subprocess.run([sys.executable, "-m", "rv", "predict", str(bundle), str(KAMPALA_B), str(out),
                             "--channel-order", "0 1 3"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode != 0
    err = " ".join(result.stderr.split())  # the console may wrap the message
    assert "model expects 3 band(s) (channel order [0, 1, 2]" in err and "has 3 band(s)" in err
    assert "index 3" in err and "out of range" in err
    assert not out.exists()


def test_a_valid_channel_order_of_another_length_is_refused_with_the_band_count(bundle, tmp_path, no_pixel_reads):
    predictor = rv.Predictor(str(bundle), str(tmp_path), channel_order=[0, 1])
    with pytest.raises(DataError, match=r"gives 2 channel\(s\).*expects 3 \(channel order \[0, 1, 2\]"):
        predictor.predict(str(KAMPALA_B))
    assert predictor.backend is None


def test_the_bundle_writes_the_current_manifest_format_with_its_bands(bundle):
    with zipfile.ZipFile(bundle) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["format_version"] == BUNDLE_FORMAT_VERSION == 3
    assert manifest["label_store"] is None  # the template scene names no store: the task's default applies
    assert (manifest["channel_order"], manifest["num_bands"], manifest["num_channels"], manifest["dtype"]) == (
        [0, 1, 2], 3, 3, "uint8")
    assert upgrade_manifest(manifest, "b") == manifest


def test_a_format_1_manifest_is_upgraded_and_its_bundle_predicts_the_same(bundle, tmp_path):
    old = json.loads(FORMAT_1_MANIFEST.read_text())
    assert old["format_version"] == 1 and old["channel_order"] is None
    upgraded = upgrade_manifest(old, "old")
    assert upgraded["format_version"] == BUNDLE_FORMAT_VERSION and upgraded["channel_order"] == [0, 1, 2]
    assert old["channel_order"] is None  # the caller's dict is left alone
    # Before the format had a version, it was format 1.
    unversioned = {k: v for k, v in old.items() if k != "format_version"}
    assert upgrade_manifest(unversioned, "older") == upgraded

    old_bundle = with_manifest(bundle, tmp_path / "format-1.zip", FORMAT_1_MANIFEST.read_text())
    predictor = rv.Predictor(str(old_bundle), str(tmp_path / "old"))
    assert predictor.manifest == {**json.loads(FORMAT_1_MANIFEST.read_text()), "format_version": 3,
                                  "channel_order": [0, 1, 2], "label_store": None}
    from_old = predictor.predict(str(KAMPALA_B))
    from_new = rv.Predictor(str(bundle), str(tmp_path / "new")).predict(str(KAMPALA_B))
    assert len(from_old) == len(from_new) == 64  # 512² in 64 px cells
    for cell in from_new.get_cells():
        assert from_old.get_cell_class_id(cell) == from_new.get_cell_class_id(cell)
    # The upgraded manifest states the contract as the current format does.
    with pytest.raises(DataError, match=r"expects 3 band\(s\) \(channel order \[0, 1, 2\] of a 3-band uint8"):
        rv.Predictor(str(old_bundle), str(tmp_path / "old2"), channel_order=[0, 1, 9]).predict(str(KAMPALA_B))


def test_a_manifest_of_a_future_format_is_refused_before_the_model_is_loaded(bundle, tmp_path, monkeypatch):
    from rv_pytorch.backend import PyTorchBackend

    monkeypatch.setattr(PyTorchBackend, "load_model", lambda *a: pytest.fail("the model was loaded"))
    manifest = json.loads(FORMAT_1_MANIFEST.read_text())
    future = with_manifest(bundle, tmp_path / "future.zip", {**manifest, "format_version": 99})
    with pytest.raises(ConfigError, match=r"future.zip is a bundle of format 99, newer than this rv reads \(3\): "
                                          "upgrade rv"):
        rv.Predictor(str(future), str(tmp_path / "f"))
    with pytest.raises(DataError, match="format version 'two', not a number"):
        upgrade_manifest({**manifest, "format_version": "two"}, "damaged.zip")
    with pytest.raises(DataError, match="format version 0; bundle formats start at 1"):
        upgrade_manifest({**manifest, "format_version": 0}, "zero.zip")


def test_a_bundle_predicts_several_images_with_one_model_and_the_experiments_label_store(tmp_path, monkeypatch):
    """The experiment wrote its cells in the raster's CRS (``with_source_crs``): so does the bundle, for
    every image, named after it, with the model loaded once."""
    from rv_pytorch.backend import PyTorchBackend

    store = rv.LabelStoreConfig.builder(rv.CHIP_CLASSIFICATION_GEOJSON).with_source_crs()
    source_crs_bundle = write_bundle(tmp_path / "made", label_store=store)
    with zipfile.ZipFile(source_crs_bundle) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["label_store"] == {"type": "CHIP_CLASSIFICATION_GEOJSON", "use_source_crs": True}

    loads = []
    real_load = PyTorchBackend.load_model
    monkeypatch.setattr(PyTorchBackend, "load_model", lambda self, *a: loads.append(a) or real_load(self, *a))
    predictor = rv.Predictor(str(source_crs_bundle), str(tmp_path / "tmp"))
    images = [str(KAMPALA_B), str(DATA / "buildings" / "kampala_oam_a.tif")]
    written = predictor.predict_images(images, str(tmp_path / "out"), config_dir=str(tmp_path / "configs"))
    assert len(loads) == 1
    assert written == {images[0]: str(tmp_path / "out" / "kampala_oam_b.geojson"),
                       images[1]: str(tmp_path / "out" / "kampala_oam_a.geojson")}
    assert sorted(p.name for p in (tmp_path / "configs").iterdir()) == ["kampala_oam_a.json", "kampala_oam_b.json"]
    for out, cells in ((written[images[0]], 64), (written[images[1]], 16 * 24)):  # 64 px cells of 512², 1024 x 1536
        doc = json.loads(Path(out).read_text())
        assert "crs" in doc and len(doc["features"]) == cells
        x, y = doc["features"][0]["geometry"]["coordinates"][0][0]
        assert abs(x) > 1000 and abs(y) > 1000  # projected metres, not WGS84 degrees

    # Two images of one name would overwrite each other: refused before anything is predicted.
    twin = tmp_path / "twin"
    twin.mkdir()
    (twin / "kampala_oam_b.tif").symlink_to(KAMPALA_B)
    with pytest.raises(ConfigError, match="have the same name"):
        predictor.predict_images([str(KAMPALA_B), str(twin / "kampala_oam_b.tif")], str(tmp_path / "out2"))
    assert not (tmp_path / "out2").exists()


def test_rv_predict_refuses_a_folder_without_geotiffs(bundle, tmp_path):
    empty = tmp_path / "no-images"
    empty.mkdir()
    (empty / "readme.txt").write_text("nothing to predict")
    result = subprocess.run([sys.executable, "-m", "rv", "predict", str(bundle), str(empty), str(tmp_path / "out")],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode != 0
    err = " ".join(result.stderr.split())
    assert f"The folder {empty} holds no GeoTIFF" in err
    assert not (tmp_path / "out").exists()
