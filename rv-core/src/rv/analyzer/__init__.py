"""Analyzers: passes over the training scenes before chipping (raster statistics).

Names are imported on first access, so that importing a config module of this
package (at plugin discovery) does not import the entities.
"""

from __future__ import annotations

from rv._lazy import lazy_exports

_EXPORTS = {
    "RasterStats": "rv.analyzer.stats_analyzer",
    "StatsAnalyzer": "rv.analyzer.stats_analyzer",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
