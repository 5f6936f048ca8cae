"""The plugin's settings (Configure): the ``rv`` executable, the working directory, style profiles.

Stored in QGIS's settings (``QgsSettings``, the profile's ``QGIS3.ini``) under ``rv/``:

- ``rv/executable``: path of the ``rv`` command to run (empty: ``rv`` found on ``PATH``);
- ``rv/working_dir``: where files of remote experiments are downloaded (empty: ``~/.rv-qgis``);
- ``rv/style_profiles``: JSON ``{"profile name": {"image": "x.qml", "ground_truth": "y.sld", ...}}``,
  a QML or SLD file per layer kind (``image``, ``ground_truth``, ``predictions``, ``aoi``).
"""

from __future__ import annotations

import json
import os

from qgis.core import QgsSettings

EXECUTABLE = "rv/executable"
WORKING_DIR = "rv/working_dir"
STYLE_PROFILES = "rv/style_profiles"


def _get(key: str) -> str:
    value = QgsSettings().value(key, "")
    return str(value or "").strip()


def _set(key: str, value: str) -> None:
    QgsSettings().setValue(key, value)


def executable() -> str:
    return _get(EXECUTABLE)


def set_executable(path: str) -> None:
    _set(EXECUTABLE, path)


def working_dir() -> str:
    return _get(WORKING_DIR) or os.path.join(os.path.expanduser("~"), ".rv-qgis")


def set_working_dir(path: str) -> None:
    _set(WORKING_DIR, path)


def style_profiles() -> dict:
    """The style profiles by name; an unreadable setting counts as none."""
    try:
        profiles = json.loads(_get(STYLE_PROFILES) or "{}")
    except ValueError:
        return {}
    return profiles if isinstance(profiles, dict) else {}


def set_style_profiles(profiles: dict) -> None:
    _set(STYLE_PROFILES, json.dumps(profiles))
