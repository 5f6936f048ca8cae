"""Analyzers: passes over the training scenes before chipping (raster statistics).

The names below load on first access (:mod:`rv._lazy`).
"""

from __future__ import annotations

from rv._lazy import lazy_exports

_EXPORTS = {
    "RasterStats": "rv.analyzer.stats_analyzer",
    "StatsAnalyzer": "rv.analyzer.stats_analyzer",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
