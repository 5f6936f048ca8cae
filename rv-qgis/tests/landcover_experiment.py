"""The land-cover segmentation experiment the QGIS tests load: one train scene with an AOI, one validation scene.

Image and labels: the Sentinel-2 tile of ``examples/data/landcover``; the
validation scene's predictions are written with polygons (``vector_output``).
"""

import rv

CLASSES = {"forest": (1, "darkgreen"), "grass": (2, "lightgreen"), "urban": (3, "grey"), "water": (4, "blue")}


class LandCover(rv.ExperimentSet):
    def exp_landcover(self, root_uri, image_uri, labels_uri, aoi_uri):
        task = (
            rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
            .with_classes(CLASSES)
            .with_chip_size(64)
            .with_chip_options(window_method="sliding", stride=64)
            .build()
        )
        backend = rv.BackendConfig.builder("MAJORITY_CLASS_BASELINE").with_task(task).build()
        raster_source = (
            rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE)
            .with_uri(image_uri)
            .with_channel_order([2, 1, 0])
            .with_stats_transformer()
            .build()
        )
        scenes = (
            rv.SceneConfig.builder().with_task(task).with_raster_source(raster_source).with_label_source(labels_uri)
        )
        train = scenes.with_id("tile4-train").with_aoi_uri(aoi_uri).build()
        store = rv.LabelStoreConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_vector_output(True).build()
        valid = scenes.with_id("tile4-valid").with_label_store(store).build()
        dataset = rv.DatasetConfig.builder().with_train_scene(train).with_validation_scene(valid).build()
        return (
            rv.ExperimentConfig.builder()
            .with_id("landcover")
            .with_task(task)
            .with_backend(backend)
            .with_dataset(dataset)
            .with_root_uri(root_uri)
            .with_stats_analyzer()
            .build()
        )


if __name__ == "__main__":
    rv.main()
