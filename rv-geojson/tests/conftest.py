"""Shared helpers for rv-geojson's tests: the real sample data in examples/data."""

from __future__ import annotations

from pathlib import Path

import pytest
import rasterio

from rv.core.box import Box
from rv.core.class_map import ClassMap
from rv.core.crs_transformer import CRSTransformer


def scene_grid(tif: Path) -> tuple[CRSTransformer, Box]:
    """``(crs_transformer, extent)`` of a GeoTIFF, as a raster source would give them."""
    with rasterio.open(tif) as ds:
        return CRSTransformer.from_dataset(ds), Box(0, 0, ds.height, ds.width)


@pytest.fixture(scope="session")
def building_class_map() -> ClassMap:
    """Background 0, building 1 (the Kampala and Atlanta footprints have no class property)."""
    return ClassMap.from_spec({"background": 0, "building": 1}, background_class_id=0)


@pytest.fixture(scope="session")
def kampala_geojson(data_dir: Path) -> Path:
    return data_dir / "buildings" / "kampala_buildings.geojson"


@pytest.fixture
def no_backend(rv_baseline_backend, tmp_path, monkeypatch):
    """Real entry points plus rv.testing's torch-free baseline (its key is returned); no rv profile file.

    The input check, CHIP and EVAL never run the backend; the experiment needs one.
    """
    from rv import settings

    monkeypatch.setenv("RV_CONFIG_DIR", str(tmp_path / "rv-config"))
    settings.reset_settings()
    yield rv_baseline_backend
    settings.reset_settings()
