"""An experiment written with later Raster Vision names runs as the same experiment written with rv's.

``RASTERIO_SOURCE``, ``RASTERIZED_SOURCE``, task keys given to
``LabelSourceConfig.builder`` and ``with_vector_source(uri)`` are aliases:
the two files below differ only in those names, and give equal experiment
configs, the same saved JSON and the same command plan. The installed
plugins (rv-geojson, rv-pytorch) are found for real.
"""

import json

import pytest

from rv.experiment.experiment_set import load_experiments
from rv.serialization import config_to_json

HEADER = '''
import rv

IMAGE = {image!r}
LABELS = {labels!r}
'''

#: the names of later Raster Vision releases
LATER_NAMES = '''

class Buildings(rv.ExperimentSet):
    def exp_segmentation(self, root_uri):
        task = (rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_chip_size(64)
                .with_classes({"building": (1, "red"), "background": (2, "black")}).build())
        image = rv.RasterSourceConfig.builder(rv.RASTERIO_SOURCE).with_uri(IMAGE).with_channel_order([0, 1, 2])
        label_raster = (rv.RasterSourceConfig.builder(rv.RASTERIZED_SOURCE)
                        .with_vector_source(LABELS).with_rasterizer_options(2).build())
        labels = rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION).with_raster_source(label_raster).build()
        return experiment("segmentation", task, rv.PYTORCH_SEMANTIC_SEGMENTATION, image, labels, root_uri)

    def exp_detection(self, root_uri):
        task = rv.TaskConfig.builder(rv.OBJECT_DETECTION).with_chip_size(64).with_classes(["building"]).build()
        image = rv.RasterSourceConfig.builder(rv.RASTERIO_SOURCE).with_uri(IMAGE)
        labels = rv.LabelSourceConfig.builder(rv.OBJECT_DETECTION).with_vector_source(LABELS).build()
        return experiment("detection", task, rv.PYTORCH_OBJECT_DETECTION, image, labels, root_uri)

    def exp_classification(self, root_uri):
        task = rv.TaskConfig.builder(rv.CHIP_CLASSIFICATION).with_chip_size(64).with_classes(["building"]).build()
        image = rv.RasterSourceConfig.builder(rv.RASTERIO_SOURCE).with_uri(IMAGE)
        labels = (rv.LabelSourceConfig.builder(rv.CHIP_CLASSIFICATION).with_vector_source(LABELS)
                  .with_ioa_thresh(0.5).build())
        return experiment("classification", task, rv.PYTORCH_CHIP_CLASSIFICATION, image, labels, root_uri)
'''

#: the same experiments in rv's own names
RV_NAMES = '''

class Buildings(rv.ExperimentSet):
    def exp_segmentation(self, root_uri):
        task = (rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_chip_size(64)
                .with_classes({"building": (1, "red"), "background": (2, "black")}).build())
        image = rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE).with_uri(IMAGE).with_channel_order([0, 1, 2])
        label_raster = (rv.RasterSourceConfig.builder(rv.GEOJSON_SOURCE)
                        .with_uri(LABELS).with_rasterizer_options(background_class_id=2).build())
        labels = rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_raster_source(label_raster).build()
        return experiment("segmentation", task, rv.PYTORCH_SEMANTIC_SEGMENTATION, image, labels, root_uri)

    def exp_detection(self, root_uri):
        task = rv.TaskConfig.builder(rv.OBJECT_DETECTION).with_chip_size(64).with_classes(["building"]).build()
        image = rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE).with_uri(IMAGE)
        labels = rv.LabelSourceConfig.builder(rv.OBJECT_DETECTION_GEOJSON).with_uri(LABELS).build()
        return experiment("detection", task, rv.PYTORCH_OBJECT_DETECTION, image, labels, root_uri)

    def exp_classification(self, root_uri):
        task = rv.TaskConfig.builder(rv.CHIP_CLASSIFICATION).with_chip_size(64).with_classes(["building"]).build()
        image = rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE).with_uri(IMAGE)
        labels = (rv.LabelSourceConfig.builder(rv.CHIP_CLASSIFICATION_GEOJSON).with_uri(LABELS)
                  .with_ioa_thresh(0.5).build())
        return experiment("classification", task, rv.PYTORCH_CHIP_CLASSIFICATION, image, labels, root_uri)
'''

EXPERIMENT = '''

def experiment(exp_id, task, backend_key, image, labels, root_uri):
    backend = rv.BackendConfig.builder(backend_key).with_task(task).with_model_defaults(rv.RESNET18).with_num_steps(2)
    scene = rv.SceneConfig.builder().with_task(task).with_id("kampala-a").with_raster_source(image).with_label_source(labels)
    dataset = rv.DatasetConfig.builder().with_train_scene(scene).with_validation_scene(scene.with_id("kampala-a-valid"))
    return (rv.ExperimentConfig.builder().with_id(exp_id).with_task(task).with_backend(backend)
            .with_dataset(dataset).with_root_uri(root_uri).build())
'''


@pytest.fixture
def experiment_files(tmp_path, data_dir):
    paths = {}
    for name, text in (("later_names", LATER_NAMES), ("rv_names", RV_NAMES)):
        path = tmp_path / f"{name}.py"
        image = str(data_dir / "buildings" / "kampala_oam_a.tif")
        labels = str(data_dir / "buildings" / "kampala_buildings.geojson")
        path.write_text(HEADER.format(image=image, labels=labels) + text + EXPERIMENT, encoding="utf-8")
        paths[name] = path
    return paths


def test_later_names_give_the_same_experiments_and_saved_json(experiment_files, tmp_path):
    args = {"root_uri": str(tmp_path / "out")}
    later = load_experiments(path=str(experiment_files["later_names"]), args=args)
    ours = load_experiments(path=str(experiment_files["rv_names"]), args=args)
    assert [e.id for e in later] == ["classification", "detection", "segmentation"]
    assert later == ours
    for a, b in zip(later, ours):
        saved = config_to_json(a)
        assert saved == config_to_json(b)
        assert not any(name in saved for name in ("RASTERIO_SOURCE", "RASTERIZED_SOURCE"))
    segmentation = json.loads(config_to_json(later[2]))
    assert '"GEOJSON_SOURCE"' in json.dumps(segmentation) and '"SEMANTIC_SEGMENTATION_RASTER"' in json.dumps(segmentation)
    # with_rasterizer_options(2), positionally as documented: 2 is the background class.
    label_raster = later[2].dataset.train_scenes[0].label_source.raster_source
    assert label_raster.uri.endswith("kampala_buildings.geojson") and label_raster.background_class_id == 2


def test_the_rv_command_plans_the_same_commands(rv_cli, experiment_files, tmp_path):
    plans = []
    for name in ("later_names", "rv_names"):
        result = rv_cli("run", "local", str(experiment_files[name]), "--dry_run", "-a", "root_uri", str(tmp_path / "out"))
        assert result.exit_code == 0, result.output
        plans.append(result.stdout)
    assert plans[0] == plans[1]
    assert "CHIP segmentation" in plans[0] and "BUNDLE detection" in plans[0]


def test_with_vector_source_takes_a_uri(experiment_files):
    import rv

    with pytest.raises(rv.ConfigError, match=r"with_vector_source\(\) takes the URI of a GeoJSON file"):
        rv.LabelSourceConfig.builder(rv.OBJECT_DETECTION).with_vector_source({"type": "FeatureCollection"})
