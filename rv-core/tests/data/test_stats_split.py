"""A split ANALYZE (``rv run --splits N``): each part's partial statistics, merged, equal one pass."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from rv.analyzer.stats_analyzer import StatsAnalyzer
from rv.data.raster_source import GeoTIFFSource


def assert_same_stats(a, b):
    for name in ("means", "stds", "p2", "p98", "mins", "maxs"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.count == b.count


@pytest.mark.parametrize("parts", [2, 3])
def test_parts_of_two_sampled_integer_scenes_merge_to_one_pass(data_dir, parts):
    buildings = data_dir / "buildings"
    sources = [GeoTIFFSource(str(buildings / "kampala_oam_a.tif")), GeoTIFFSource(str(buildings / "kampala_oam_b.tif"))]
    analyzer = StatsAnalyzer(sample_prob=0.5, chip_size=100, seed=5, num_workers=1)
    whole = analyzer.process(sources)
    # Each part in a "process" of its own: sources reopened, only the part's bytes handed on.
    partials = [analyzer.process_part(list(sources), k, parts) for k in range(parts)]
    assert all(isinstance(p, bytes) and p for p in partials)
    assert_same_stats(analyzer.merge_parts(sources, partials), whole)


def test_parts_of_a_float_scene_merge_to_one_pass(tmp_path, data_dir):
    """Float rasters: per-window moments merged in window order, the reservoir's keys seeded per window."""
    with rasterio.open(data_dir / "multiband" / "s2_aberystwyth_subset_10band.tif") as ds:
        profile = ds.profile
        data = ds.read([1, 2, 3]).astype(np.float32) / 1000
    data[:, :20, :30] = -1  # a nodata corner
    profile.update(count=3, dtype="float32", nodata=-1)
    path = tmp_path / "reflectance.tif"
    with rasterio.open(path, "w", **profile) as out:
        out.write(data)
    analyzer = StatsAnalyzer(sample_prob=1.0, chip_size=50, seed=3, num_workers=1)
    whole = analyzer.process([GeoTIFFSource(str(path))])
    partials = [analyzer.process_part([GeoTIFFSource(str(path))], k, 3) for k in range(3)]
    merged = analyzer.merge_parts([GeoTIFFSource(str(path))], partials)
    assert_same_stats(merged, whole)
    flat = data.reshape(3, -1).astype(np.float64)
    flat = flat[:, flat[0] != -1]
    np.testing.assert_allclose(merged.means, flat.mean(axis=1), rtol=1e-9)
