"""Label stores: where a scene's predictions are written and read back.

The names below load on first access (:mod:`rv._lazy`).
"""

from __future__ import annotations

from rv._lazy import lazy_exports

_EXPORTS = {
    "LabelStore": "rv.data.label_store.label_store",
    "SemanticSegmentationRasterStore": "rv.data.label_store.semantic_segmentation_raster_store",
    "SegmentationRasterWriter": "rv.data.label_store.semantic_segmentation_raster_store",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
