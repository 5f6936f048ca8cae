"""Issue 12's acceptance: the seed's tiny-SpaceNet experiment, written as a Raster Vision user writes it.

Segmentation of building footprints, two scenes (train and validation) with
GeoJSON labels in WGS84, a stats analyzer and transformer, a backend from
model defaults. The test builds it from the file, saves it to JSON, reloads it
equal, and ``rv ls`` (a real subprocess) lists it without importing torch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import rv
from rv.experiment.experiment_set import load_experiments
from rv.serialization import config_from_json, config_to_json, load_config, save_config

BUILDINGS = Path(__file__).resolve().parents[1] / "examples" / "data" / "buildings"

TINY_SPACENET = textwrap.dedent(
    f'''
    import rv

    BASE_URI = {str(BUILDINGS)!r}


    class TinySpacenetExperimentSet(rv.ExperimentSet):
        def exp_main(self, root_uri):
            train_image_uri = f"{{BASE_URI}}/kampala_oam_a.tif"
            val_image_uri = f"{{BASE_URI}}/kampala_oam_b.tif"
            label_uri = f"{{BASE_URI}}/kampala_buildings.geojson"
            channel_order = [0, 1, 2]
            background_class_id = 2

            # ------------- TASK -------------
            task = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION) \\
                                .with_chip_size(300) \\
                                .with_chip_options(chips_per_scene=50) \\
                                .with_classes({{
                                    "building": (1, "red"),
                                    "background": (2, "black")
                                }}) \\
                                .build()

            # ------------- BACKEND -------------
            backend = rv.BackendConfig.builder(rv.PYTORCH_SEMANTIC_SEGMENTATION) \\
                                      .with_task(task) \\
                                      .with_debug(True) \\
                                      .with_batch_size(1) \\
                                      .with_num_steps(1) \\
                                      .with_model_defaults(rv.MOBILENETV3_LARGE) \\
                                      .build()

            # ------------- SCENES -------------
            def make_scene(scene_id, image_uri):
                raster_source = rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE) \\
                                                     .with_uri(image_uri) \\
                                                     .with_channel_order(channel_order) \\
                                                     .with_stats_transformer() \\
                                                     .build()
                label_raster_source = rv.RasterSourceConfig.builder(rv.GEOJSON_SOURCE) \\
                                                           .with_uri(label_uri) \\
                                                           .with_default_class_id(1) \\
                                                           .with_rasterizer_options(background_class_id) \\
                                                           .build()
                label_source = rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER) \\
                                                   .with_raster_source(label_raster_source) \\
                                                   .build()
                return rv.SceneConfig.builder() \\
                                     .with_task(task) \\
                                     .with_id(scene_id) \\
                                     .with_raster_source(raster_source) \\
                                     .with_label_source(label_source) \\
                                     .build()

            dataset = rv.DatasetConfig.builder() \\
                                      .with_train_scenes([make_scene("train_scene", train_image_uri)]) \\
                                      .with_validation_scenes([make_scene("val_scene", val_image_uri)]) \\
                                      .build()

            # ------------- EXPERIMENT -------------
            experiment = rv.ExperimentConfig.builder() \\
                                            .with_id("tiny-spacenet-experiment") \\
                                            .with_root_uri(root_uri) \\
                                            .with_task(task) \\
                                            .with_backend(backend) \\
                                            .with_dataset(dataset) \\
                                            .with_stats_analyzer() \\
                                            .build()

            return experiment


    if __name__ == "__main__":
        rv.main()
    '''
)


@pytest.fixture
def tiny_spacenet(tmp_path):
    path = tmp_path / "tiny_spacenet.py"
    path.write_text(TINY_SPACENET, encoding="utf-8")
    return path


def test_tiny_spacenet_builds_as_written(tiny_spacenet, tmp_path):
    (exp,) = load_experiments(path=str(tiny_spacenet), args={"root_uri": str(tmp_path / "out")})
    assert isinstance(exp, rv.ExperimentConfig)
    assert exp.id == "tiny-spacenet-experiment"
    assert exp.root_uri == str(tmp_path / "out")
    assert exp.task.chip_size == 300
    assert [(c.name, c.id) for c in exp.task.class_map] == [("building", 1), ("background", 2)]
    assert [s.id for s in exp.dataset.train_scenes] == ["train_scene"]
    assert [s.id for s in exp.dataset.validation_scenes] == ["val_scene"]
    train = exp.dataset.train_scenes[0]
    assert train.raster_source.uris == (str(BUILDINGS / "kampala_oam_a.tif"),)
    assert list(train.raster_source.channel_order) == [0, 1, 2]
    assert [t.key for t in train.raster_source.transformers] == [rv.STATS_TRANSFORMER]
    assert [a.key for a in exp.analyzers] == [rv.STATS_ANALYZER]
    # No label store and no evaluator were given: the task's defaults are filled in when it is planned.
    resolved = exp.resolved()
    store = resolved.dataset.validation_scenes[0].label_store
    assert store.key == rv.SEMANTIC_SEGMENTATION_RASTER
    assert store.uri.startswith(str(tmp_path / "out" / "predict" / "tiny-spacenet-experiment"))
    assert [e.key for e in resolved.evaluators] == [rv.SEMANTIC_SEGMENTATION_EVALUATOR]
    # The model defaults gave the backend an encoder; the builder's own options win over them.
    assert exp.backend.batch_size == 1 and exp.backend.num_steps == 1


def test_tiny_spacenet_saves_and_reloads_equal(tiny_spacenet, tmp_path):
    (exp,) = load_experiments(path=str(tiny_spacenet), args={"root_uri": str(tmp_path / "out")})
    text = config_to_json(exp)
    doc = json.loads(text)
    # The saved file records its format version and the plugins it needs, with versions.
    assert isinstance(doc["format_version"], int)
    needed = {p["distribution"] for p in doc["plugins"]}
    assert {"rv-core", "rv-geojson", "rv-pytorch"} <= needed
    assert config_from_json(text) == exp

    uri = str(tmp_path / "saved" / "tiny-spacenet-experiment.json")
    save_config(exp, uri)
    reloaded = load_config(uri)
    assert reloaded == exp
    assert reloaded.to_builder().build() == exp


def test_rv_ls_lists_tiny_spacenet_without_importing_torch(tiny_spacenet, tmp_path):
    # `rv ls` as a user runs it, in a fresh interpreter; then check that torch stayed out.
    probe = (
        "import sys; from rv_cli.main import main; code = main(sys.argv[1:]); "
        "assert 'torch' not in sys.modules, 'rv ls imported torch'; sys.exit(code)"
    )
    env = dict(os.environ, RV_PROGRESS="0")
    done = subprocess.run(
        [sys.executable, "-c", probe, "ls", str(tiny_spacenet), "-a", "root_uri", str(tmp_path / "out")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["tiny-spacenet-experiment"]
