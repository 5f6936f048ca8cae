"""Land cover from 10-band Sentinel-2 with a class raster: multiband semantic segmentation.

One 251×251 px tile near Aberystwyth (10 m, EPSG:27700, uint16 reflectance)
with a per-pixel class raster (forest, grass, urban, water). The top 65 %
trains and the bottom 35 % is held out (AOIs). ``channel_order`` picks the
bands the model sees (default: B4 B3 B2 B8 = red, green, blue, near infrared);
ANALYZE's statistics normalise them.

    rv run local examples/landcover_multiband.py -a root_uri out/landcover
    rv run local examples/landcover_multiband.py -a root_uri out/landcover-all -a channels "0 1 2 3 4 5 6 7 8 9"
"""

from __future__ import annotations

from pathlib import Path

import rv

DATA = Path(__file__).resolve().parent / "data" / "landcover"
CLASSES = {"forest": (1, "darkgreen"), "grass": (2, "yellowgreen"), "urban": (3, "gray"), "water": (4, "royalblue")}


class LandcoverMultiband(rv.ExperimentSet):
    def exp_landcover_multiband(self, root_uri, channels: str = "2 1 0 6", num_epochs: int | None = None,
                                num_steps: int | None = None, chip_size: int = 64):
        channel_order = [int(c) for c in channels.replace(",", " ").split()]
        task = (
            rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
            .with_chip_size(chip_size)
            .with_classes(CLASSES)
            .with_chip_options(window_method="sliding", stride=chip_size // 4)
            # A 251 px tile, where speed does not matter: windows half a chip apart and test-time
            # flips (both opt-in), as when its figures were measured.
            .with_predict_options(stride=chip_size // 2)
            .with_debug(True)
            .build()
        )
        backend = (
            rv.BackendConfig.builder(rv.PYTORCH_SEMANTIC_SEGMENTATION).with_task(task).with_model_defaults(rv.RESNET18)
            .with_config({"tta": "flips"})
        )
        if num_epochs is not None:
            backend = backend.with_num_epochs(num_epochs)
        if num_steps is not None:
            backend = backend.with_num_steps(num_steps)
        backend = backend.build()

        def scene(scene_id: str, aoi: str):
            return (
                rv.SceneConfig.builder()
                .with_task(task)
                .with_id(scene_id)
                .with_raster_source(str(DATA / "s2_aberystwyth_tile4.tif"), channel_order=channel_order)
                .with_label_source(str(DATA / "s2_aberystwyth_tile4_labels.tif"))
                .with_aoi_uri(str(DATA / aoi))
                .build()
            )

        dataset = (
            rv.DatasetConfig.builder()
            .with_train_scenes([scene("tile4_train", "train_aoi.geojson")])
            .with_validation_scenes([scene("tile4_validation", "validation_aoi.geojson")])
            .build()
        )
        return (
            rv.ExperimentConfig.builder()
            .with_id("landcover-multiband")
            .with_task(task)
            .with_backend(backend)
            .with_dataset(dataset)
            .with_stats_analyzer()
            .with_root_uri(root_uri)
            .build()
        )


if __name__ == "__main__":
    rv.main()
