"""Raster transformers: per-chip transforms applied after reading (e.g. stats normalisation to uint8).

Names are imported on first access, so that importing a config module of this
package (at plugin discovery) does not import the entities.
"""

from __future__ import annotations

from rv._lazy import lazy_exports

_EXPORTS = {
    "RasterTransformer": "rv.data.raster_transformer.raster_transformer",
    "StatsTransformer": "rv.data.raster_transformer.stats_transformer",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
