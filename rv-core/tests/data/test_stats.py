"""StatsAnalyzer and StatsTransformer on real multiband rasters."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from rv.analyzer.stats_analyzer import RasterStats, StatsAnalyzer
from rv.core.box import Box
from rv.data.raster_source import GeoTIFFSource
from rv.data.raster_transformer import StatsTransformer


def test_landsat8_stats_equal_numpy_without_nodata(data_dir):
    path = data_dir / "multiband" / "landsat8_016037_900m_10band.tif"
    stats = StatsAnalyzer(sample_prob=1.0, chip_size=100).process([GeoTIFFSource(str(path))])
    with rasterio.open(path) as ds:
        data = ds.read().astype(np.float64)
    assert stats.num_channels == 10
    for b in range(10):
        valid = data[b][data[b] != 0]  # nodata 0 excluded band by band, as GDAL does
        assert stats.means[b] == pytest.approx(valid.mean(), rel=1e-9)
        assert stats.stds[b] == pytest.approx(valid.std(), rel=1e-9)
        # Exact histogram: the percentiles are data values (the inverted-CDF definition).
        assert stats.p2[b] == np.percentile(valid, 2, method="inverted_cdf")
        assert stats.p98[b] == np.percentile(valid, 98, method="inverted_cdf")
        assert (stats.mins[b], stats.maxs[b]) == (valid.min(), valid.max())
    assert stats.maxs.max() == 65535  # the README's saturated pixels


def test_sampled_stats_are_close_and_reproducible(data_dir):
    src = GeoTIFFSource(str(data_dir / "buildings" / "kampala_oam_a.tif"))
    full = StatsAnalyzer(sample_prob=1.0, chip_size=128).process([src])
    a = StatsAnalyzer(sample_prob=0.3, chip_size=128, seed=1).process([src])
    b = StatsAnalyzer(sample_prob=0.3, chip_size=128, seed=1).process([src])
    np.testing.assert_array_equal(a.means, b.means)
    assert a.count < full.count
    np.testing.assert_allclose(a.means, full.means, rtol=0.1)


def test_float_rasters_use_streaming_moments(tmp_path, data_dir):
    with rasterio.open(data_dir / "multiband" / "s2_aberystwyth_subset_10band.tif") as ds:
        profile = ds.profile
        data = ds.read([1, 2, 3]).astype(np.float32) / 1000  # reflectance
    profile.update(count=3, dtype="float32", nodata=None)
    path = tmp_path / "reflectance.tif"
    with rasterio.open(path, "w", **profile) as out:
        out.write(data)
    stats = StatsAnalyzer(sample_prob=1.0, chip_size=64).process([GeoTIFFSource(str(path))])
    flat = data.reshape(3, -1).astype(np.float64)
    np.testing.assert_allclose(stats.means, flat.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(stats.stds, flat.std(axis=1), rtol=1e-6)
    np.testing.assert_allclose(stats.p98, np.percentile(flat, 98, axis=1), rtol=0.02)


def test_stats_json_round_trip(tmp_path, data_dir):
    src = GeoTIFFSource(str(data_dir / "buildings" / "sn4_atlanta_pan.tif"))
    stats = StatsAnalyzer(sample_prob=1.0).process([src])
    uri = str(tmp_path / "analyze" / "stats.json")
    stats.save(uri)
    saved = json.loads(open(uri).read())
    assert saved["format_version"] == 1 and len(saved["means"]) == 1
    loaded = RasterStats.load(uri)
    np.testing.assert_allclose(loaded.means, stats.means)
    np.testing.assert_allclose(loaded.p98, stats.p98)
    # Raster Vision 0.8's stats.json (means and stds only) still loads.
    legacy = RasterStats.from_dict({"means": [1.0], "stds": [2.0]})
    assert legacy.p2 is None and legacy.stds.tolist() == [2.0]


def test_stats_transformer_makes_uint8_and_keeps_nodata_zero(data_dir):
    path = data_dir / "multiband" / "landsat8_016037_900m_10band.tif"
    raw = GeoTIFFSource(str(path), channel_order=[3, 2, 1])
    stats = StatsAnalyzer(sample_prob=1.0).process([raw])
    src = GeoTIFFSource(str(path), channel_order=[3, 2, 1], transformers=[StatsTransformer(stats)])
    assert src.dtype == np.uint8 and raw.dtype == np.uint16
    chip, mask = src.get_chip_with_mask(src.extent)
    assert chip.dtype == np.uint8
    assert (chip[mask] == 0).all()  # nodata stays recognisable
    assert chip[~mask].min() >= 1 and chip[~mask].max() == 255  # saturated pixels clip to 255
    # Linear between mean - 3 std and mean + 3 std.
    raw_chip = raw.get_chip(src.extent).astype(np.float64)
    lo = stats.means - 3 * stats.stds
    expected = 1 + np.clip((raw_chip - lo) / (6 * stats.stds), 0, 1) * 254
    diff = np.abs(chip[~mask].astype(float) - expected[~mask])
    assert diff.max() <= 0.51
    # A window partly outside: padding masked to 0.
    chip, mask = src.get_chip_with_mask(Box(-10, -10, 40, 40))
    assert (chip[:10] == 0).all() and mask[:10].all()


def test_stats_transformer_rejects_a_channel_mismatch(data_dir):
    stats = RasterStats(means=[1, 2], stds=[1, 1])
    src = GeoTIFFSource(str(data_dir / "buildings" / "kampala_oam_a.tif"), transformers=[StatsTransformer(stats)])
    from rv.errors import DataError

    with pytest.raises(DataError, match="2 channels but the chip has 3"):
        src.get_chip(Box(0, 0, 10, 10))
