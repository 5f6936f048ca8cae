"""Label sources: a scene's ground truth.

Names are imported on first access, so that importing a config module of this
package (at plugin discovery) does not import the entities.
"""

from __future__ import annotations

from rv._lazy import lazy_exports

_EXPORTS = {
    "LabelSource": "rv.data.label_source.label_source",
    "SemanticSegmentationRasterSource": "rv.data.label_source.semantic_segmentation_raster_source",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
