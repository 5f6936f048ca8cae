"""SpaceNet Atlanta's buildings evaluated against themselves through EVAL: every score is perfect.

A real-data sanity check of the whole EVAL path for the three tasks: the
experiment is built with the builders, the ground truth of the validation
scene is saved into its label store (as PREDICT would save predictions), and
EVAL is planned (input check on), written to ``command-config.json`` and run
through ``rv.command.run_command.run_command`` as a runner runs it. The
labels are the 43 polygons of ``sn4_atlanta_pan_buildings.geojson``
(EPSG:32616 by a legacy ``crs`` member) on the 900×900 panchromatic tile.
"""

import json

import pytest

import rv


def _task(task_type):
    builder = rv.TaskConfig.builder(task_type).with_chip_size(300)
    if task_type == rv.SEMANTIC_SEGMENTATION:
        classes = {"background": (0, "black"), "building": (1, "red")}
        return builder.with_classes(classes).with_background_class_id(0).build()
    return builder.with_classes({"building": (1, "red")}).build()


def _label_source(task_type, labels):
    if task_type == rv.OBJECT_DETECTION:
        return rv.LabelSourceConfig.builder(rv.OBJECT_DETECTION_GEOJSON).with_uri(labels).with_default_class_id(1)
    if task_type == rv.CHIP_CLASSIFICATION:
        return (rv.LabelSourceConfig.builder(rv.CHIP_CLASSIFICATION_GEOJSON).with_uri(labels)
                .with_default_class_id(1).with_cell_size(100).with_infer_cells().with_background_class_id(None))
    geojson = rv.RasterSourceConfig.builder("GEOJSON_SOURCE").with_uri(labels).with_default_class_id(1)
    return rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_raster_source(geojson)


@pytest.mark.parametrize("task_type", ["OBJECT_DETECTION", "SEMANTIC_SEGMENTATION", "CHIP_CLASSIFICATION"])
def test_atlanta_labels_against_themselves_are_perfect(no_backend, data_dir, tmp_path, task_type):
    from rv.command.dag import build_plan
    from rv.command.run_command import run_command
    from rv.runner.runner import write_command_configs

    image = str(data_dir / "buildings" / "sn4_atlanta_pan.tif")
    labels = str(data_dir / "buildings" / "sn4_atlanta_pan_buildings.geojson")
    task = _task(task_type)
    scene = (rv.SceneConfig.builder().with_task(task).with_raster_source(image)
             .with_label_source(_label_source(task_type, labels)))
    dataset = (rv.DatasetConfig.builder().with_train_scenes([scene.with_id("atlanta-train").build()])
               .with_validation_scenes([scene.with_id("atlanta").build()]))
    backend = rv.BackendConfig.builder(no_backend).with_task(task).build()
    experiment = (rv.ExperimentConfig.builder().with_id(f"atlanta-{task_type.lower()}").with_task(task)
                  .with_backend(backend).with_dataset(dataset).with_root_uri(str(tmp_path / "out")).build())

    # The ground truth saved as the predictions PREDICT would write.
    resolved = experiment.resolved()
    (scene_config,) = resolved.dataset.validation_scenes
    built = scene_config.create(resolved.task, str(tmp_path), with_labels=True, with_store=True)
    truth = built.label_source.get_labels()
    built.label_store.save(truth)

    plan = build_plan([experiment], ["EVAL"], check_inputs=True)
    from rv.command.preflight import preflight

    preflight(plan)  # the input check passes on real data
    (uri,) = write_command_configs(plan)
    run_command(uri, tmp_dir=str(tmp_path))

    with open(resolved.evaluators[0].output_uri) as f:
        report = json.load(f)
    overall = report["overall"]
    (building,) = [c for c in report["classes"] if c["class_name"] == "building"]
    assert set(report["scenes"]) == {"atlanta"}
    for row in (overall, building):
        assert row["precision"] == row["recall"] == row["f1"] == 1.0, row
    if task_type == rv.OBJECT_DETECTION:
        assert building["gt_count"] == building["pred_count"] == 43 == len(truth)
        assert overall["ap50"] == overall["map"] == 1.0
    elif task_type == rv.SEMANTIC_SEGMENTATION:
        assert overall["miou"] == 1.0 and building["iou"] == 1.0
        (background,) = [c for c in report["classes"] if c["class_name"] == "background"]
        assert background["iou"] == 1.0
        # every pixel is counted once: 900 x 900, split between the two classes
        assert building["gt_count"] + background["gt_count"] == 900 * 900
        assert 0 < building["gt_count"] < 900 * 900 // 2
    else:
        assert building["gt_count"] == building["pred_count"] > 0
