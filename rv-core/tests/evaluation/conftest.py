"""Fixtures of the evaluation tests: shared data and class maps."""

from __future__ import annotations

import pytest

from rv.core.class_map import ClassMap


@pytest.fixture
def landcover_class_map() -> ClassMap:
    """The four classes of ``landcover/s2_aberystwyth_tile4_labels.tif``."""
    return ClassMap.from_spec({"forest": 1, "grass": 2, "urban": 3, "water": 4})


@pytest.fixture
def three_classes() -> ClassMap:
    """Classes 0 background, 1 building, 2 road (ids not starting at 1 on purpose)."""
    return ClassMap.from_spec({"background": 0, "building": 1, "road": 2}, background_class_id=0)
