"""What an rv experiment JSON holds for QGIS: its scenes and their layers (standard library only).

rv writes every experiment it runs to ``<root_uri>/experiments/<id>.json``
(``{"format_version", "config_class", "plugins", "config": {...}}``). The
plugin reads it here, without rv: the scenes of each split, the URIs of their
image, ground truth, predictions and AOIs, and the class map. Layer names
follow Raster Vision's QGIS plugin: ``train-<scene>``, ``val-<scene>-ground_truth``,
``test-<scene>-predictions``, ``train-<scene>-aoi``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from .class_map import ClassInfo, read_classes

#: (split, key of the dataset config, layer name prefix)
SPLITS = (
    ("train", "train_scenes", "train"),
    ("validation", "validation_scenes", "val"),
    ("test", "test_scenes", "test"),
)
#: the kinds of layer a scene can give, in the order they are offered
LAYER_KINDS = ("image", "ground_truth", "predictions", "aoi")
RASTER_EXTENSIONS = (".tif", ".tiff", ".vrt", ".img", ".jp2", ".png", ".jpg")


class ExperimentError(Exception):
    """An experiment file that cannot be read; the message names the file and the fix."""


@dataclass(frozen=True)
class LayerSpec:
    """One layer to load: its name, kind (``image``, ``ground_truth``, ``predictions``, ``aoi``) and source."""

    name: str
    kind: str
    uri: str
    #: bands to show as red, green, blue (1-based), for images
    rgb_bands: tuple[int, ...] = ()
    #: how a vector label source reads each feature's class (its ``class_options``), for ground truth
    class_options: dict | None = field(default=None, compare=False, hash=False)

    @property
    def is_raster(self) -> bool:
        return self.uri.lower().split("?")[0].endswith(RASTER_EXTENSIONS)


@dataclass
class SceneSpec:
    """One scene of the experiment and the layers it can give."""

    split: str
    id: str
    prefix: str
    layers: list[LayerSpec] = field(default_factory=list)

    @property
    def group_name(self) -> str:
        """The layer tree group of the scene: ``<prefix>-<scene id>``, like its image layer."""
        return f"{self.prefix}-{self.id}"


@dataclass
class Experiment:
    """An experiment as the plugin sees it."""

    path: str
    id: str
    task: str
    root_uri: str
    classes: list[ClassInfo]
    scenes: list[SceneSpec]

    def select(self, splits=None, scene_ids=None, kinds=None) -> list[SceneSpec]:
        """The scenes of ``splits`` (names in :data:`SPLITS`) whose id is in ``scene_ids``, keeping layers of ``kinds``.

        ``None`` for any argument means all of them. An unknown scene id is an
        :class:`ExperimentError` naming the ids there are.
        """
        if scene_ids:
            known = {s.id for s in self.scenes}
            unknown = [s for s in scene_ids if s not in known]
            if unknown:
                raise ExperimentError(
                    f"experiment {self.id} ({self.path}) has no scene {', '.join(unknown)}; "
                    f"its scenes are {', '.join(sorted(known)) or 'none'}"
                )
        chosen = []
        for scene in self.scenes:
            if splits and scene.split not in splits:
                continue
            if scene_ids and scene.id not in scene_ids:
                continue
            layers = [layer for layer in scene.layers if not kinds or layer.kind in kinds]
            chosen.append(SceneSpec(scene.split, scene.id, scene.prefix, layers))
        return chosen


def _uris_of(config) -> list[str]:
    """The file URIs of a raster source, label source or label store config, whatever its type."""
    if not isinstance(config, dict):
        return []
    if isinstance(config.get("uri"), str):
        return [config["uri"]]
    uris = config.get("uris")
    if isinstance(uris, (list, tuple)) and uris:
        return [u for u in uris if isinstance(u, str)]
    for key in ("raster_source", "vector_source"):
        found = _uris_of(config.get(key))
        if found:
            return found
    return []


def _rgb_bands(raster_source) -> tuple[int, ...]:
    order = raster_source.get("channel_order") if isinstance(raster_source, dict) else None
    if isinstance(order, (list, tuple)) and len(order) >= 3:
        return tuple(int(c) + 1 for c in order[:3])
    return ()


def _class_options(label_source) -> dict | None:
    """How a vector label source finds each feature's class: its ``class_options``, and its background class."""
    if not isinstance(label_source, dict):
        return None
    options = label_source.get("class_options") or label_source.get("vector_source", {}).get("class_options")
    if not isinstance(options, dict):
        return None
    return dict(options, background_class_id=label_source.get("background_class_id"))


def polygons_uri(raster_uri: str) -> str:
    """Where a segmentation label store with ``vector_output`` writes its polygons: ``<uri stem>-polygons.geojson``."""
    stem, _ = os.path.splitext(raster_uri)
    return f"{stem}-polygons.geojson"


def scene_layers(scene: dict, prefix: str) -> list[LayerSpec]:
    """The layers of one scene config, named as Raster Vision names them."""
    base = f"{prefix}-{scene['id']}"
    layers = []

    def add(name, kind, uris, rgb=(), class_options=None):
        for i, uri in enumerate(uris):
            layers.append(LayerSpec(name if len(uris) == 1 else f"{name}-{i + 1}", kind, uri, rgb, class_options))

    raster_source = scene.get("raster_source")
    add(base, "image", _uris_of(raster_source), _rgb_bands(raster_source))
    label_source = scene.get("label_source")
    add(f"{base}-ground_truth", "ground_truth", _uris_of(label_source), class_options=_class_options(label_source))
    store = scene.get("label_store")
    predictions = _uris_of(store)
    add(f"{base}-predictions", "predictions", predictions)
    if predictions and isinstance(store, dict) and store.get("vector_output"):
        add(f"{base}-predictions-polygons", "predictions", [polygons_uri(predictions[0])])
    aois = [u for u in scene.get("aoi_uris") or [] if isinstance(u, str)]
    if not aois and isinstance(scene.get("aoi_uri"), str):  # scene configs of format 1
        aois = [scene["aoi_uri"]]
    add(f"{base}-aoi", "aoi", aois)
    return layers


def parse_experiment(data: dict, path: str = "<memory>") -> Experiment:
    """An :class:`Experiment` from the JSON rv writes (the ``config`` wrapper of format 2, or a bare config)."""
    config = data.get("config", data) if isinstance(data, dict) else None
    if not isinstance(config, dict) or not isinstance(config.get("dataset"), dict) or "task" not in config:
        raise ExperimentError(
            f"{path} is not an rv experiment config (no task and dataset): pick a JSON file from the "
            "experiments/ folder under the experiment's root_uri"
        )
    task = config["task"] if isinstance(config["task"], dict) else {}
    scenes = []
    for split, key, prefix in SPLITS:
        for scene in config["dataset"].get(key) or []:
            if isinstance(scene, dict) and "id" in scene:
                scenes.append(SceneSpec(split, str(scene["id"]), prefix, scene_layers(scene, prefix)))
    return Experiment(
        path=path,
        id=str(config.get("id", os.path.splitext(os.path.basename(path))[0])),
        task=str(task.get("type", "")),
        root_uri=str(config.get("root_uri", "")),
        classes=read_classes(task.get("classes")),
        scenes=scenes,
    )


def read_experiment(path: str) -> Experiment:
    """Read an experiment JSON file (a local path)."""
    if not os.path.isfile(path):
        raise ExperimentError(f"experiment file {path} does not exist: pick one under <root_uri>/experiments/")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExperimentError(f"cannot read experiment file {path}: {exc}") from exc
    return parse_experiment(data, path)
