"""Styling layers by class map, or by a style profile (a QML or SLD file per layer kind)."""

from __future__ import annotations

import os

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsContrastEnhancement,
    QgsMultiBandColorRenderer,
    QgsPalettedRasterRenderer,
    QgsRasterLayer,
    QgsRendererCategory,
    QgsSymbol,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtGui import QColor

from .class_map import FALLBACK_COLORS, TAB_COLORS, ClassInfo


class StyleError(Exception):
    """A style profile file that cannot be applied; the message names it."""


def class_color(info: ClassInfo, index: int = 0) -> QColor:
    """The class's colour (CSS name, ``#rrggbb`` or ``tab:`` colour), else one of a fixed palette."""
    name = TAB_COLORS.get(str(info.color).lower(), info.color) if info.color else None
    color = QColor(name) if isinstance(name, str) else QColor()
    return color if color.isValid() else QColor(FALLBACK_COLORS[index % len(FALLBACK_COLORS)])


def style_class_raster(layer: QgsRasterLayer, classes: list[ClassInfo]) -> None:
    """A paletted renderer on band 1: one entry per class, its colour and name."""
    entries = [QgsPalettedRasterRenderer.Class(c.id, class_color(c, i), c.name) for i, c in enumerate(classes)]
    layer.setRenderer(QgsPalettedRasterRenderer(layer.dataProvider(), 1, entries))
    layer.triggerRepaint()


def style_image(layer: QgsRasterLayer, rgb_bands=()) -> None:
    """Red, green, blue from the bands the model read (its channel order), stretched min-max."""
    count = layer.bandCount()
    bands = [b for b in rgb_bands if 1 <= b <= count]
    if count < 3 or len(bands) < 3:
        return  # QGIS's default (a grey stretch) for one-band images
    renderer = QgsMultiBandColorRenderer(layer.dataProvider(), *bands[:3])
    layer.setRenderer(renderer)
    layer.setContrastEnhancement(QgsContrastEnhancement.StretchToMinimumMaximum)
    layer.triggerRepaint()


def _class_field(layer: QgsVectorLayer) -> str | None:
    names = layer.fields().names()
    for candidate in ("class_id", "class_name", "label", "DN"):
        if candidate in names:
            return candidate
    return None


def style_class_vector(layer: QgsVectorLayer, classes: list[ClassInfo]) -> None:
    """A categorized renderer on the class id (or name): one category per class, its colour and name."""
    field = _class_field(layer)
    if field is None:
        return
    by_name = field == "class_name"
    categories = []
    for i, info in enumerate(classes):
        symbol = QgsSymbol.defaultSymbol(layer.geometryType())
        color = class_color(info, i)
        if layer.geometryType() == QgsWkbTypes.PolygonGeometry:
            fill = QColor(color)
            fill.setAlpha(110)
            symbol.setColor(fill)
            symbol.symbolLayer(0).setStrokeColor(color)
            symbol.symbolLayer(0).setStrokeWidth(0.5)
        else:
            symbol.setColor(color)
        categories.append(QgsRendererCategory(info.name if by_name else info.id, symbol, info.name))
    layer.setRenderer(QgsCategorizedSymbolRenderer(field, categories))
    layer.triggerRepaint()


def style_aoi(layer: QgsVectorLayer) -> None:
    """An AOI: its outline only, so the image shows through."""
    symbol = QgsSymbol.defaultSymbol(layer.geometryType())
    if layer.geometryType() == QgsWkbTypes.PolygonGeometry:
        symbol.symbolLayer(0).setBrushStyle(0)  # Qt.NoBrush
        symbol.symbolLayer(0).setStrokeColor(QColor("#ffd700"))
        symbol.symbolLayer(0).setStrokeWidth(0.8)
    layer.renderer().setSymbol(symbol)
    layer.triggerRepaint()


def apply_style_file(layer, path: str) -> None:
    """Apply a QML or SLD file; raise :class:`StyleError` naming the file when QGIS refuses it."""
    if not os.path.isfile(path):
        raise StyleError(f"style file {path} does not exist: fix the style profile in Plugins → rv → Configure")
    if path.lower().endswith(".sld"):
        message, ok = layer.loadSldStyle(path)
    else:
        message, ok = layer.loadNamedStyle(path)
    if not ok:
        raise StyleError(f"cannot apply style file {path} to layer {layer.name()}: {message}")
    layer.triggerRepaint()


def style_layer(layer, kind: str, classes: list[ClassInfo], rgb_bands=(), profile: dict | None = None) -> None:
    """Style a loaded layer of ``kind``: the profile's file for that kind if any, else by class map."""
    if profile and profile.get(kind):
        apply_style_file(layer, profile[kind])
        return
    if kind == "image" and isinstance(layer, QgsRasterLayer):
        style_image(layer, rgb_bands)
    elif kind == "aoi" and isinstance(layer, QgsVectorLayer):
        style_aoi(layer)
    elif isinstance(layer, QgsRasterLayer):
        style_class_raster(layer, classes)
    elif isinstance(layer, QgsVectorLayer):
        style_class_vector(layer, classes)
