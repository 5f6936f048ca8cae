"""Styling layers by class map, or by a style profile (a QML or SLD file per layer kind)."""

from __future__ import annotations

import os

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsContrastEnhancement,
    QgsExpression,
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


def _quote(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _int_or_name(column: str, names: str) -> str:
    """An expression: the column's value as a class id when it is an integer, else looked up as a class name."""
    text = f"trim(to_string({column}))"
    return f"if(regexp_match({text}, '^-?[0-9]+$'), to_int({text}), map_get({names}, lower({text})))"


def class_expression(layer: QgsVectorLayer, classes: list[ClassInfo], options: dict) -> str | None:
    """A QGIS expression giving each feature's class id by the rules of rv's GeoJSON class resolver.

    In order: ``property_name`` (through ``property_mapping`` when given), ``class_id_property``,
    ``class_name_property`` (names match regardless of case), ``default_class_id``, and the only
    class besides the background. ``None`` when none applies.
    """
    fields = set(layer.fields().names())
    names = "map(" + ", ".join(f"{_quote(c.name.strip().lower())}, {c.id}" for c in classes) + ")"
    ids_by_name = {c.name: c.id for c in classes}
    terms = []
    name = options.get("property_name")
    mapping = options.get("property_mapping")
    if name in fields:
        column = QgsExpression.quotedColumnRef(name)
        if isinstance(mapping, dict) and mapping:
            pairs = []
            for value, target in mapping.items():
                class_id = ids_by_name.get(target, target) if isinstance(target, str) else target
                if isinstance(class_id, int):
                    pairs.append(f"{_quote(value)}, {class_id}")
            terms.append(f"map_get(map({', '.join(pairs)}), to_string({column}))")
        else:
            terms.append(_int_or_name(column, names))
    for key, default in (("class_id_property", "class_id"), ("class_name_property", "class_name")):
        field = options.get(key, default)
        if field in fields:
            terms.append(_int_or_name(QgsExpression.quotedColumnRef(field), names))
    if isinstance(options.get("default_class_id"), int):
        terms.append(str(options["default_class_id"]))
    background = options.get("background_class_id")
    if background is None:
        background = next((c.id for c in classes if c.name.strip().lower() == "background"), None)
    others = [c.id for c in classes if c.id != background]
    if len(others) == 1:
        terms.append(str(others[0]))
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else f"coalesce({', '.join(terms)})"


def style_class_vector(layer: QgsVectorLayer, classes: list[ClassInfo], class_options: dict | None = None) -> None:
    """A categorized renderer on the class id: one category per class, its colour and name.

    The class comes from the ``class_id`` (or ``class_name``) attribute rv writes, or, for ground
    truth, from an expression following the label source's ``class_options``.
    """
    by_name = False
    attribute = class_expression(layer, classes, class_options) if class_options else None
    if attribute is None:
        attribute = _class_field(layer)
        by_name = attribute == "class_name"
    if attribute is None:
        return
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
    layer.setRenderer(QgsCategorizedSymbolRenderer(attribute, categories))
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


def style_layer(
    layer,
    kind: str,
    classes: list[ClassInfo],
    rgb_bands=(),
    profile: dict | None = None,
    class_options: dict | None = None,
) -> None:
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
        style_class_vector(layer, classes, class_options)
