"""Building / no-building cells on drone imagery of Kampala: chip classification.

The scenes of ``buildings_segmentation.py``: Kampala A trains, Kampala B
validates. Each cell of a grid (cell size = chip size, 32 px = 4.8 m) is
"building" when one footprint covers at least half of it, else "background"
(Kampala B: 121 building cells of 256). The defaults (20 epochs, class-balanced
loss) train in ~5 CPU-minutes; bench/example_quality.py checks the result.

    rv run local examples/buildings_chip_classification.py -a root_uri out/buildings-cc
"""

from __future__ import annotations

from pathlib import Path

import rv

DATA = Path(__file__).resolve().parent / "data" / "buildings"


class BuildingsChipClassification(rv.ExperimentSet):
    def exp_buildings_chip_classification(self, root_uri, num_epochs: int | None = 20,
                                          num_steps: int | None = None, chip_size: int = 32):
        task = (
            rv.TaskConfig.builder(rv.CHIP_CLASSIFICATION)
            .with_chip_size(chip_size)
            .with_classes({"building": (1, "red"), "background": (2, "lightgray")})
            .with_background_class_id(2)
            .with_debug(True)
            .build()
        )
        # Kampala A's cells are 22 % building, B's 47 %: weigh the classes by frequency ** -0.5
        # so the rarer building cells are not under-predicted.
        backend = (
            rv.BackendConfig.builder(rv.PYTORCH_CHIP_CLASSIFICATION)
            .with_task(task)
            .with_model_defaults(rv.RESNET18)
            .with_config({"class_balance": 0.5})
        )
        if num_epochs is not None:
            backend = backend.with_num_epochs(num_epochs)
        if num_steps is not None:
            backend = backend.with_num_steps(num_steps)
        backend = backend.build()

        def scene(scene_id: str, image: str):
            labels = (
                rv.LabelSourceConfig.builder(rv.CHIP_CLASSIFICATION_GEOJSON)
                .with_uri(str(DATA / "kampala_buildings.geojson"))
                .with_default_class_id(1)
                .with_ioa_thresh(0.5)
                .with_use_intersection_over_cell(True)
                .with_background_class_id(2)
            )
            return (
                rv.SceneConfig.builder()
                .with_task(task)
                .with_id(scene_id)
                .with_raster_source(str(DATA / image), channel_order=[0, 1, 2])
                .with_label_source(labels)
                .build()
            )

        dataset = (
            rv.DatasetConfig.builder()
            .with_train_scenes([scene("kampala_a", "kampala_oam_a.tif")])
            .with_validation_scenes([scene("kampala_b", "kampala_oam_b.tif")])
            .build()
        )
        return (
            rv.ExperimentConfig.builder()
            .with_id("buildings-chip-classification")
            .with_task(task)
            .with_backend(backend)
            .with_dataset(dataset)
            .with_root_uri(root_uri)
            .build()
        )


if __name__ == "__main__":
    rv.main()
