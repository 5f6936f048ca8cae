"""Label sources: a scene's ground truth.

The names below load on first access (:mod:`rv._lazy`).
"""

from __future__ import annotations

from rv._lazy import lazy_exports

_EXPORTS = {
    "LabelSource": "rv.data.label_source.label_source",
    "SemanticSegmentationRasterSource": "rv.data.label_source.semantic_segmentation_raster_source",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
