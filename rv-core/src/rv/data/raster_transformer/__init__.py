"""Raster transformers: per-chip transforms applied after reading (e.g. stats normalisation to uint8).

The names below load on first access (:mod:`rv._lazy`).
"""

from __future__ import annotations

from rv._lazy import lazy_exports

_EXPORTS = {
    "RasterTransformer": "rv.data.raster_transformer.raster_transformer",
    "StatsTransformer": "rv.data.raster_transformer.stats_transformer",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
