"""GDAL's block cache is bounded for rv's reads, unless the user chose a bound; windows come in cache order."""

from __future__ import annotations

import os

import numpy as np
import pytest
import rasterio
import rasterio.env

import rv.data.raster_source.geotiff_source as geotiff_source
from rv.core.box import Box
from rv.data.raster_source import GeoTIFFSource
from rv.errors import ConfigError

MiB = 2**20


@pytest.fixture
def gdal_cache(tmp_path, monkeypatch):
    """No cache settings from the shell or a profile file, rv's once-per-process flag reset; GDAL's
    bound restored afterwards (it is process-wide)."""
    from rv import settings

    original = geotiff_source.gdal_cache_max()
    for name in ("GDAL_CACHEMAX", "RV_GDAL_CACHEMAX_MB", "RV_CONFIG", "RV_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RV_CONFIG_DIR", str(tmp_path / "rv-config"))
    monkeypatch.chdir(tmp_path)
    settings.reset_settings()
    monkeypatch.setattr(geotiff_source, "_cache_configured_pid", None)
    # A bound nobody would choose, to see whether rv changed it.
    rasterio.env.set_gdal_config("GDAL_CACHEMAX", 77 * MiB)
    yield
    rasterio.env.set_gdal_config("GDAL_CACHEMAX", original)
    settings.reset_settings()


def read_a_window(data_dir):
    src = GeoTIFFSource(str(data_dir / "buildings" / "kampala_oam_b.tif"))
    src.get_chip(Box(0, 0, 64, 64))
    return src


def test_opening_a_source_bounds_the_cache_once_per_process(gdal_cache, data_dir):
    read_a_window(data_dir)
    assert geotiff_source.gdal_cache_max() == geotiff_source.DEFAULT_GDAL_CACHEMAX_MB * MiB
    # Once per process: a bound set later by the user (rasterio.Env, set_gdal_config) is not undone.
    rasterio.env.set_gdal_config("GDAL_CACHEMAX", 50 * MiB)
    read_a_window(data_dir)
    assert geotiff_source.gdal_cache_max() == 50 * MiB


def test_rv_setting_chooses_the_bound(gdal_cache, data_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("RV_GDAL_CACHEMAX_MB", "48")
    read_a_window(data_dir)
    assert geotiff_source.gdal_cache_max() == 48 * MiB
    # The same option in the [RV] section of the profile file.
    from rv import settings

    monkeypatch.delenv("RV_GDAL_CACHEMAX_MB")
    (tmp_path / "rv-config").mkdir()
    (tmp_path / "rv-config" / "default").write_text("[RV]\ngdal_cachemax_mb = 20\n")
    settings.reset_settings()
    assert geotiff_source.configure_gdal_cache(force=True) == 20 * MiB
    assert geotiff_source.gdal_cache_max() == 20 * MiB


def test_zero_leaves_gdal_alone(gdal_cache, data_dir, monkeypatch):
    monkeypatch.setenv("RV_GDAL_CACHEMAX_MB", "0")
    read_a_window(data_dir)
    assert geotiff_source.gdal_cache_max() == 77 * MiB


def test_the_users_gdal_cachemax_wins(gdal_cache, data_dir, monkeypatch):
    # The environment variable GDAL reads (here 77 MiB is what the user's value gave GDAL).
    monkeypatch.setenv("GDAL_CACHEMAX", "77")
    monkeypatch.setenv("RV_GDAL_CACHEMAX_MB", "48")
    read_a_window(data_dir)
    assert geotiff_source.gdal_cache_max() == 77 * MiB
    # A rasterio.Env with GDAL_CACHEMAX around rv's reads.
    monkeypatch.delenv("GDAL_CACHEMAX")
    with rasterio.Env(GDAL_CACHEMAX=90 * MiB):
        assert geotiff_source.configure_gdal_cache(force=True) is None
        assert geotiff_source.gdal_cache_max() == 90 * MiB


def test_a_bad_setting_names_itself(gdal_cache, data_dir, monkeypatch):
    monkeypatch.setenv("RV_GDAL_CACHEMAX_MB", "lots")
    with pytest.raises(ConfigError, match=r"gdal_cachemax_mb .*RV_GDAL_CACHEMAX_MB.* 'lots'"):
        read_a_window(data_dir)


def test_read_order_of_a_tiled_file_sweeps_strips(gdal_cache, data_dir):
    """Kampala A: 1024 x 1536, 3 x uint8, 256² tiles. Strips of whole tiles, each swept top to bottom."""
    src = GeoTIFFSource(str(data_dir / "buildings" / "kampala_oam_a.tif"))
    rng = np.random.default_rng(0)
    windows = [src.extent.make_random_square(128, rng) for _ in range(300)]
    # Half the bound holds the strip's live blocks: 3 block rows (a 128-px window touches 2, and the
    # next) x (strip + the 1 block column its last windows stick out into) x 192 KiB.
    # Windows start at columns 0..1408: 6 strips of 256 px, or 2 of 1024.
    for bound_mib, strip, strips in ((2, 256, 6), (6, 1024, 2)):  # 1 MiB / 576 KiB - 1 -> 1 (the least); 3 MiB -> 4
        rasterio.env.set_gdal_config("GDAL_CACHEMAX", bound_mib * MiB)
        ordered = src.read_order(windows)
        assert sorted(ordered, key=Box.to_tuple) == sorted(windows, key=Box.to_tuple)  # same windows
        keys = [(int(w.xmin // strip), w.ymin, w.xmin) for w in ordered]
        assert keys == sorted(keys)
        assert sorted({k[0] for k in keys}) == list(range(strips))
    # With room for every block, one strip: row by row.
    rasterio.env.set_gdal_config("GDAL_CACHEMAX", 64 * MiB)
    assert src.read_order(windows) == sorted(windows, key=lambda w: (w.ymin, w.xmin))


def test_read_order_of_a_striped_file_is_row_by_row(data_dir):
    """NEON trees: strips 6 rows high as wide as the raster, so reading row by row decodes each once."""
    src = GeoTIFFSource(str(data_dir / "trees" / "neon_osbs_029.tif"))
    assert src.block_shape == (6, 400)
    rng = np.random.default_rng(1)
    windows = [src.extent.make_random_square(64, rng) for _ in range(50)]
    assert src.read_order(windows) == sorted(windows, key=lambda w: (w.ymin, w.xmin))


def test_forked_children_inherit_nothing_but_the_setting(gdal_cache, data_dir):
    """A forked child reopens the dataset (its own file offset) and reads the same pixels."""
    src = read_a_window(data_dir)
    expected = src.get_chip(Box(100, 100, 300, 300))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            same = np.array_equal(src.get_chip(Box(100, 100, 300, 300)), expected)
            bound = geotiff_source.gdal_cache_max() == geotiff_source.DEFAULT_GDAL_CACHEMAX_MB * MiB
            os.write(w, b"1" if same and bound and src._pid == os.getpid() else b"0")
        finally:
            os._exit(0)
    os.close(w)
    assert os.read(r, 1) == b"1"
    os.waitpid(pid, 0)
    os.close(r)
