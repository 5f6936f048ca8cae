"""Two experiments on the NEON tree crowns of ``examples/data/trees`` that the QGIS tests load and predict with.

``trees-detection`` (object detection: tree crowns as boxes) and ``trees-cells``
(chip classification: 100 px cells with or without trees), each with a train
and a validation scene split by AOIs. The backend is the torch-free
MAJORITY_CLASS_VECTOR_BASELINE of ``baseline_backend.py``.
"""

import rv


class Trees(rv.ExperimentSet):
    def _experiment(self, id, task, root_uri, image_uri, labels, train_aoi_uri, valid_aoi_uri):
        backend = rv.BackendConfig.builder("MAJORITY_CLASS_VECTOR_BASELINE").with_task(task).build()

        def scene(scene_id, aoi_uri):
            return (
                rv.SceneConfig.builder()
                .with_task(task)
                .with_id(scene_id)
                .with_raster_source(image_uri, channel_order=[0, 1, 2])
                .with_label_source(labels)
                .with_aoi_uri(aoi_uri)
                .build()
            )

        dataset = (
            rv.DatasetConfig.builder()
            .with_train_scene(scene("osbs-train", train_aoi_uri))
            .with_validation_scene(scene("osbs-valid", valid_aoi_uri))
            .build()
        )
        return (
            rv.ExperimentConfig.builder()
            .with_id(id)
            .with_task(task)
            .with_backend(backend)
            .with_dataset(dataset)
            .with_root_uri(root_uri)
            .build()
        )

    def exp_trees_detection(self, root_uri, image_uri, labels_uri, train_aoi_uri, valid_aoi_uri):
        task = (
            rv.TaskConfig.builder(rv.OBJECT_DETECTION)
            .with_chip_size(100)
            .with_classes({"tree": (1, "yellow")})
            .with_chip_options(window_method="sliding", ioa_thresh=0.5)
            .build()
        )
        labels = (
            rv.LabelSourceConfig.builder(rv.OBJECT_DETECTION_GEOJSON)
            .with_uri(labels_uri)
            .with_class_property("class_name", {"Tree": 1})
            .build()
        )
        return self._experiment("trees-detection", task, root_uri, image_uri, labels, train_aoi_uri, valid_aoi_uri)

    def exp_trees_cells(self, root_uri, image_uri, labels_uri, train_aoi_uri, valid_aoi_uri):
        task = (
            rv.TaskConfig.builder(rv.CHIP_CLASSIFICATION)
            .with_chip_size(100)
            .with_classes({"trees": (1, "darkgreen"), "background": (2, "tan")})
            .with_background_class_id(2)
            .build()
        )
        labels = (
            rv.LabelSourceConfig.builder(rv.CHIP_CLASSIFICATION_GEOJSON)
            .with_uri(labels_uri)
            .with_class_property("class_name", {"Tree": 1})
            .with_background_class_id(2)
            .with_ioa_thresh(0.01)
            .build()
        )
        return self._experiment("trees-cells", task, root_uri, image_uri, labels, train_aoi_uri, valid_aoi_uri)


if __name__ == "__main__":
    rv.main()
