"""rv's QGIS plugin (installed as the folder ``rv`` of a profile's ``python/plugins``).

QGIS calls :func:`classFactory` with its interface. The plugin adds the
Processing provider ``rv`` (``rv:load_experiment``, ``rv:predict``) and, in
the desktop application, a Plugins → rv menu (Load experiment, Predict,
Configure). It runs in QGIS's own Python with the standard library and QGIS
only: rv itself runs as the ``rv`` subprocess.
"""


def classFactory(iface):  # noqa: N802 (QGIS's name)
    from .rv_plugin import RvPlugin

    return RvPlugin(iface)
