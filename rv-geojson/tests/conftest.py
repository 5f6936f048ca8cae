"""Shared helpers for rv-geojson's tests: the real sample data in examples/data."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import rasterio

import rv
from rv.backend.backend_config import BackendConfig, BackendConfigBuilder
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


#: Key of the model-free backend of :func:`no_backend`.
NO_BACKEND = "RV_GEOJSON_TESTS_NO_BACKEND"


@attrs.frozen
class NoBackendConfig(BackendConfig):
    """A backend that is never run: the input check, CHIP and EVAL do not need one, the experiment does."""


class NoBackendConfigBuilder(BackendConfigBuilder):
    config_class = NoBackendConfig


class NoBackendPlugin:
    @rv.hookimpl
    def register_backends(self, register):
        register(NO_BACKEND, NoBackendConfigBuilder)


@pytest.fixture
def no_backend(rv_register_plugin, tmp_path, monkeypatch):
    """Real entry points plus a model-free backend (its key is returned); no rv settings from the shell."""
    from rv import settings

    monkeypatch.setenv("RV_CONFIG_DIR", str(tmp_path / "rv-config"))
    settings.reset_settings()
    rv_register_plugin(NoBackendPlugin(), "rv_geojson_tests_no_backend")
    yield NO_BACKEND
    settings.reset_settings()
