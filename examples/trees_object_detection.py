"""Tree crowns in NEON aerial imagery (Florida longleaf pine): object detection.

One 400×400 px scene (0.1 m, EPSG:32617) split by AOIs: the left 70 % trains,
the right 30 % is held out for validation. Boxes are tree crowns in WGS84;
their features carry the benchmark's ``class_id`` 0 and ``class_name``
"Tree", so the label source reads the class from ``class_name`` through a
mapping onto this class map's id 1.

    rv run local examples/trees_object_detection.py -a root_uri out/trees
"""

from __future__ import annotations

from pathlib import Path

import rv

DATA = Path(__file__).resolve().parent / "data" / "trees"


class TreesObjectDetection(rv.ExperimentSet):
    def exp_trees_object_detection(self, root_uri, num_epochs: int | None = None, num_steps: int | None = None,
                                   chip_size: int = 128):
        task = (
            rv.TaskConfig.builder(rv.OBJECT_DETECTION)
            .with_chip_size(chip_size)
            .with_classes({"tree": (1, "yellow")})
            .with_chip_options(window_method="sliding", ioa_thresh=0.5)
            .with_predict_options(merge_thresh=0.3, score_thresh=0.3)
            .with_debug(True)
            .build()
        )
        backend = rv.BackendConfig.builder(rv.PYTORCH_OBJECT_DETECTION).with_task(task).with_model_defaults(rv.RESNET18)
        if num_epochs is not None:
            backend = backend.with_num_epochs(num_epochs)
        if num_steps is not None:
            backend = backend.with_num_steps(num_steps)
        backend = backend.build()

        labels = (
            rv.LabelSourceConfig.builder(rv.OBJECT_DETECTION_GEOJSON)
            .with_uri(str(DATA / "neon_osbs_029_trees.geojson"))
            .with_class_property("class_name", {"Tree": 1})
        )

        def scene(scene_id: str, aoi: str):
            return (
                rv.SceneConfig.builder()
                .with_task(task)
                .with_id(scene_id)
                .with_raster_source(str(DATA / "neon_osbs_029.tif"), channel_order=[0, 1, 2])
                .with_label_source(labels)
                .with_aoi_uri(str(DATA / aoi))
                .build()
            )

        dataset = (
            rv.DatasetConfig.builder()
            .with_train_scenes([scene("osbs_029_train", "train_aoi.geojson")])
            .with_validation_scenes([scene("osbs_029_validation", "validation_aoi.geojson")])
            .build()
        )
        return (
            rv.ExperimentConfig.builder()
            .with_id("trees-object-detection")
            .with_task(task)
            .with_backend(backend)
            .with_dataset(dataset)
            .with_root_uri(root_uri)
            .build()
        )


if __name__ == "__main__":
    rv.main()
