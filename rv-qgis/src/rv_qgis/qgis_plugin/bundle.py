"""What a model bundle promises, read from its ``manifest.json`` (standard library only).

``rv``'s BUNDLE command writes ``model-bundle.zip`` with ``manifest.json`` (task,
classes, bands, channel order, dtype, the label store) and ``bundle-config.json``;
the plugin needs the task and the class map to style what ``rv predict`` writes.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass

from .class_map import ClassInfo, read_classes


class BundleError(Exception):
    """A bundle that cannot be read; the message names the file and the fix."""


@dataclass(frozen=True)
class BundleInfo:
    path: str
    task: str
    classes: list[ClassInfo]
    num_bands: int | None
    channel_order: list[int] | None
    #: the label store predictions are written with (``vector_output`` adds polygons)
    label_store: dict | None

    @property
    def writes_raster(self) -> bool:
        """Segmentation bundles predict a class raster; the other tasks write GeoJSON."""
        return self.task == "SEMANTIC_SEGMENTATION"


def read_bundle(path: str) -> BundleInfo:
    """Read a bundle's manifest (falling back on bundle-config.json's task for the class map)."""
    if not os.path.isfile(path):
        raise BundleError(f"model bundle {path} does not exist: give the model-bundle.zip an experiment's BUNDLE wrote")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "manifest.json" not in names:
                raise BundleError(f"{path} is not an rv model bundle (no manifest.json): give a model-bundle.zip")
            manifest = json.loads(zf.read("manifest.json"))
            config = json.loads(zf.read("bundle-config.json")) if "bundle-config.json" in names else {}
    except zipfile.BadZipFile as exc:
        raise BundleError(
            f"{path} is not a zip file ({exc}): give the model-bundle.zip an experiment's BUNDLE wrote"
        ) from exc
    except (OSError, ValueError) as exc:
        raise BundleError(f"cannot read model bundle {path}: {exc}") from exc
    task_config = (config.get("config", config) or {}).get("task") or {}
    classes = manifest.get("classes") or task_config.get("classes")
    task = manifest.get("task") or task_config.get("type") or ""
    return BundleInfo(
        path=path,
        task=str(task),
        classes=read_classes(classes),
        num_bands=manifest.get("num_bands"),
        channel_order=manifest.get("channel_order"),
        label_store=manifest.get("label_store"),
    )
