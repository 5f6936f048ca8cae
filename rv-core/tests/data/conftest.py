"""Fixtures of the core data tests: the shared real-data directory and class maps."""

from __future__ import annotations

import pytest

from rv.core.class_map import ClassMap


@pytest.fixture
def landcover_class_map() -> ClassMap:
    """The four classes of ``landcover/s2_aberystwyth_tile4_labels.tif``, with their README counts' order."""
    return ClassMap.from_spec(
        {"forest": (1, "forestgreen"), "grass": (2, "#9acd32"), "urban": (3, "red"), "water": (4, "#1f77b4")}
    )
