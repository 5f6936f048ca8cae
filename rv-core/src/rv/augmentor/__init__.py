"""Augmentors applied to training chips at CHIP time.

Names are imported on first access, so that importing a config module of this
package (at plugin discovery) does not import the entities.
"""

from __future__ import annotations

from rv._lazy import lazy_exports

_EXPORTS = {
    "NodataAugmentor": "rv.augmentor.nodata_augmentor",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
