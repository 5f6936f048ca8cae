"""Fixtures of the core data tests: the shared real-data directory and class maps."""

from __future__ import annotations

from pathlib import Path

import pytest

from rv.core.class_map import ClassMap

# rv-core/tests/data/conftest.py -> parents[3] = /work/main -> /work/shared/data
DATA_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "data"


@pytest.fixture
def data_dir() -> Path:
    """The shared real-data directory (/work/shared/data)."""
    assert DATA_DIR.is_dir(), DATA_DIR
    return DATA_DIR


@pytest.fixture
def landcover_class_map() -> ClassMap:
    """The four classes of ``landcover/s2_aberystwyth_tile4_labels.tif``, with their README counts' order."""
    return ClassMap.from_spec(
        {"forest": (1, "forestgreen"), "grass": (2, "#9acd32"), "urban": (3, "red"), "water": (4, "#1f77b4")}
    )
