"""rv-qgis: rv's QGIS plugin (``rv_qgis/qgis_plugin``) and the ``rv qgis`` commands (``rv_qgis.plugin``).

Importing this package imports nothing of QGIS: the plugin folder is meant for
QGIS's own Python, where ``rv qgis install`` puts it.
"""

from pathlib import Path

__version__ = "0.1.0"

#: the QGIS plugin's folder, installed as ``<profile>/python/plugins/rv``
QGIS_PLUGIN_DIR = Path(__file__).resolve().parent / "qgis_plugin"
#: the folder name QGIS knows the plugin by
QGIS_PLUGIN_NAME = "rv"
