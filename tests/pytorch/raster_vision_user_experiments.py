"""Experiments as a Raster Vision 0.8 user writes them, straight from that documentation.

The class map names a background class but sets no background class id; the
labels are the footprint file as it comes (no class property), given to the
scenes as a bare GeoJSON URI. The validation scene states its label store, a
``SEMANTIC_SEGMENTATION_RASTER`` store that also writes the class polygons
(``with_vector_output``), so PREDICT and ``rv predict`` with the model bundle
write both. ``exp_buildings_without_background`` is the same experiment with
only the building class, so that the pixels no footprint covers have no class
at all.

``exp_trees`` is object detection with ``window_method="sliding"`` and
``exp_building_cells`` chip classification, both on label files without a
class property (the test writes the tree boxes that way and passes the URI).

Run by ``tests/pytorch/test_raster_vision_user_segmentation.py`` and
``test_raster_vision_user_detection_and_cells.py`` with
``rv run local tests/pytorch/raster_vision_user_experiments.py -m <method> -a root_uri OUT``
at a small budget: ``exp_buildings`` trains 32 steps on 32 chips of 128 pixels,
enough to beat answering one class everywhere on Kampala B; the others train a
few steps (``-a steps N``, ``-a chip_size N``, ``-a chips N``, ``-a batch_size N``
change the segmentation budget; ``-a score_thresh X`` the trees' prediction threshold).
"""

from pathlib import Path

import rv

BASE_URI = Path(__file__).resolve().parents[2] / "examples" / "data" / "buildings"

# The builder chains keep the documentation's backslash layout, as users copy it.
# fmt: off


class BuildingsExperimentSet(rv.ExperimentSet):
    def exp_buildings(self, root_uri, steps=32, chip_size=128, chips=32, batch_size=4):
        classes = {"building": (1, "red"), "background": (0, "black")}
        return self.experiment("buildings", classes, root_uri, steps, chip_size, chips, batch_size)

    def exp_buildings_without_background(self, root_uri, steps=4, chip_size=64, chips=16, batch_size=4):
        classes = {"building": (1, "red")}
        return self.experiment("buildings-no-background", classes, root_uri, steps, chip_size, chips, batch_size)

    def experiment(self, exp_id, classes, root_uri, steps, chip_size, chips, batch_size):
        train_image_uri = f"{BASE_URI}/kampala_oam_a.tif"
        val_image_uri = f"{BASE_URI}/kampala_oam_b.tif"
        label_uri = f"{BASE_URI}/kampala_buildings.geojson"

        task = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION) \
                            .with_chip_size(int(chip_size)) \
                            .with_classes(classes) \
                            .with_chip_options(chips_per_scene=int(chips)) \
                            .build()

        backend = rv.BackendConfig.builder(rv.PYTORCH_SEMANTIC_SEGMENTATION) \
                                  .with_task(task) \
                                  .with_model_defaults(rv.RESNET18) \
                                  .with_batch_size(int(batch_size)) \
                                  .with_num_steps(int(steps)) \
                                  .with_train_options(do_monitoring=False) \
                                  .build()

        # The label store stated explicitly, as the documentation shows for the validation scene (no URI:
        # PREDICT names it), asking for building polygons beside the class GeoTIFF.
        val_label_store = rv.LabelStoreConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER) \
                                             .with_vector_output(True) \
                                             .build()

        def make_scene(scene_id, image_uri, label_store=None):
            raster_source = rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE) \
                                                 .with_uri(image_uri) \
                                                 .with_stats_transformer() \
                                                 .build()
            return rv.SceneConfig.builder() \
                                 .with_task(task) \
                                 .with_id(scene_id) \
                                 .with_raster_source(raster_source) \
                                 .with_label_source(label_uri) \
                                 .with_label_store(label_store) \
                                 .build()

        dataset = rv.DatasetConfig.builder() \
                                  .with_train_scenes([make_scene("train_scene", train_image_uri)]) \
                                  .with_validation_scenes([make_scene("val_scene", val_image_uri, val_label_store)]) \
                                  .build()

        return rv.ExperimentConfig.builder() \
                                  .with_id(exp_id) \
                                  .with_root_uri(root_uri) \
                                  .with_task(task) \
                                  .with_backend(backend) \
                                  .with_dataset(dataset) \
                                  .with_stats_analyzer() \
                                  .build()


class DetectionAndCellsExperimentSet(rv.ExperimentSet):
    def exp_trees(self, root_uri, label_uri, steps=2, score_thresh=0.5):
        image_uri = str(BASE_URI.parent / "trees" / "neon_osbs_029.tif")
        task = rv.TaskConfig.builder(rv.OBJECT_DETECTION) \
                            .with_chip_size(100) \
                            .with_classes({"tree": (1, "yellow")}) \
                            .with_chip_options(window_method="sliding") \
                            .with_predict_options(merge_thresh=0.1, score_thresh=float(score_thresh)) \
                            .build()
        backend = rv.BackendConfig.builder(rv.PYTORCH_OBJECT_DETECTION) \
                                  .with_task(task) \
                                  .with_model_defaults(rv.RESNET18) \
                                  .with_batch_size(4) \
                                  .with_num_steps(int(steps)) \
                                  .with_train_options(do_monitoring=False) \
                                  .build()
        return self.single_scene_experiment("trees", task, backend, image_uri, label_uri, root_uri)

    def exp_building_cells(self, root_uri, steps=2):
        task = rv.TaskConfig.builder(rv.CHIP_CLASSIFICATION) \
                            .with_chip_size(256) \
                            .with_classes({"building": (1, "red"), "background": (0, "black")}) \
                            .build()
        backend = rv.BackendConfig.builder(rv.PYTORCH_CHIP_CLASSIFICATION) \
                                  .with_task(task) \
                                  .with_model_defaults(rv.RESNET18) \
                                  .with_batch_size(4) \
                                  .with_num_steps(int(steps)) \
                                  .with_train_options(do_monitoring=False) \
                                  .build()
        return self.single_scene_experiment("building-cells", task, backend, f"{BASE_URI}/kampala_oam_a.tif",
                                            f"{BASE_URI}/kampala_buildings.geojson", root_uri)

    def single_scene_experiment(self, exp_id, task, backend, image_uri, label_uri, root_uri):
        scene = rv.SceneConfig.builder() \
                              .with_task(task) \
                              .with_raster_source(image_uri) \
                              .with_label_source(label_uri)
        dataset = rv.DatasetConfig.builder() \
                                  .with_train_scenes([scene.with_id("train_scene").build()]) \
                                  .with_validation_scenes([scene.with_id("val_scene").build()]) \
                                  .build()
        return rv.ExperimentConfig.builder() \
                                  .with_id(exp_id) \
                                  .with_root_uri(root_uri) \
                                  .with_task(task) \
                                  .with_backend(backend) \
                                  .with_dataset(dataset) \
                                  .build()

# fmt: on


if __name__ == "__main__":
    rv.main()
