"""The stats analyzer in pieces gives exactly the one-pass statistics: shared among forked processes,
and as the parts of a split ANALYZE (``rv run --splits N``) merged."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from rv.analyzer.stats_analyzer import StatsAnalyzer
from rv.core.box import Box
from rv.data.raster_source import GeoTIFFSource, ImageSource


def assert_same_stats(a, b):
    for name in ("means", "stds", "p2", "p98", "mins", "maxs"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.count == b.count


@pytest.mark.parametrize("workers", [2, 3])
def test_landsat_nodata_histograms_equal_serial(data_dir, workers):
    """10 bands uint16 with nodata 0 and band-interleaved strips: exact histograms add up exactly."""
    path = data_dir / "multiband" / "landsat8_016037_900m_10band.tif"
    serial = StatsAnalyzer(sample_prob=1.0, chip_size=64, num_workers=1).process([GeoTIFFSource(str(path))])
    split = StatsAnalyzer(sample_prob=1.0, chip_size=64, num_workers=workers).process([GeoTIFFSource(str(path))])
    assert_same_stats(serial, split)
    with rasterio.open(path) as ds:
        data = ds.read().astype(np.float64)
    valid = data[3][data[3] != 0]
    assert split.means[3] == pytest.approx(valid.mean(), rel=1e-12)
    assert split.count == max(int((band != 0).sum()) for band in data)


def test_several_sources_sampled_equal_serial(data_dir):
    """Two scenes, a third of the windows sampled with a seed: same windows, same statistics."""
    buildings = data_dir / "buildings"
    sources = [GeoTIFFSource(str(buildings / "kampala_oam_a.tif")), GeoTIFFSource(str(buildings / "kampala_oam_b.tif"))]
    serial = StatsAnalyzer(sample_prob=0.3, chip_size=100, seed=5, num_workers=1).process(sources)
    split = StatsAnalyzer(sample_prob=0.3, chip_size=100, seed=5, num_workers=2).process(sources)
    assert_same_stats(serial, split)
    full = StatsAnalyzer(sample_prob=1.0, chip_size=100, num_workers=2).process(sources)
    assert split.count < full.count
    with rasterio.open(buildings / "kampala_oam_a.tif") as a, rasterio.open(buildings / "kampala_oam_b.tif") as b:
        pixels = np.concatenate([a.read().reshape(3, -1), b.read().reshape(3, -1)], axis=1)
    assert full.count == pixels.shape[1]
    np.testing.assert_allclose(full.means, pixels.mean(axis=1), rtol=1e-12)


@pytest.fixture
def reflectance(tmp_path, data_dir):
    """A float32 raster of three bands with a nodata corner: ``(path, flat)``, ``flat`` its valid pixels
    (bands × pixels, float64)."""
    with rasterio.open(data_dir / "multiband" / "s2_aberystwyth_subset_10band.tif") as ds:
        profile = ds.profile
        data = ds.read([1, 2, 3]).astype(np.float32) / 1000
    data[:, :20, :30] = -1  # a nodata corner
    profile.update(count=3, dtype="float32", nodata=-1)
    path = tmp_path / "reflectance.tif"
    with rasterio.open(path, "w", **profile) as out:
        out.write(data)
    flat = data.reshape(3, -1).astype(np.float64)
    return path, flat[:, flat[0] != -1]


def test_float_moments_and_reservoir_equal_serial(reflectance):
    """Float rasters: moments merged in window order and the reservoir's keys seeded per window."""
    path, flat = reflectance
    serial = StatsAnalyzer(sample_prob=1.0, chip_size=50, seed=3, num_workers=1).process([GeoTIFFSource(str(path))])
    split = StatsAnalyzer(sample_prob=1.0, chip_size=50, seed=3, num_workers=3).process([GeoTIFFSource(str(path))])
    assert_same_stats(serial, split)
    np.testing.assert_allclose(split.means, flat.mean(axis=1), rtol=1e-9)
    np.testing.assert_allclose(split.stds, flat.std(axis=1), rtol=1e-9)
    assert split.count == flat.shape[1]


def test_small_passes_and_unforkable_sources_stay_in_process(data_dir):
    path = data_dir / "buildings" / "kampala_oam_b.tif"
    analyzer = StatsAnalyzer(sample_prob=1.0, chip_size=64)
    geotiff = GeoTIFFSource(str(path))
    plan = analyzer._plan(geotiff, np.random.default_rng(0))
    # 512² pixels: fewer than the ~4 MPix worth forking for, unless the workers are asked for.
    assert analyzer._workers_for([geotiff], [plan]) == 1
    assert StatsAnalyzer(num_workers=2)._workers_for([geotiff], [plan]) == 2
    # An ImageSource does not declare that it reopens its file after a fork.
    image = ImageSource(str(path))
    assert StatsAnalyzer(num_workers=2)._workers_for([image], [plan]) == 1
    assert_same_stats(
        StatsAnalyzer(sample_prob=1.0, chip_size=64, num_workers=2).process([image]),
        StatsAnalyzer(sample_prob=1.0, chip_size=64, num_workers=2).process([geotiff]),
    )


def test_band_sequential_reads_equal_chips(data_dir):
    """``get_raw_bands_with_mask`` is ``get_raw_chip_with_mask`` band by band, nodata and padding included."""
    src = GeoTIFFSource(str(data_dir / "trees" / "neon_osbs_029.tif"), channel_order=[2, 0])  # nodata 255
    for window in (Box(0, 0, 400, 400), Box(100, 37, 228, 200), Box(-20, 350, 60, 430)):
        chip, mask = src.get_raw_chip_with_mask(window)
        bands, band_mask = src.get_raw_bands_with_mask(window)
        assert bands.flags.c_contiguous and bands.shape == (2, *chip.shape[:2])
        np.testing.assert_array_equal(bands, np.moveaxis(chip, -1, 0))
        np.testing.assert_array_equal(band_mask, mask)
    assert src.get_raw_bands_with_mask(Box(0, 0, 400, 400))[1].any()  # the file's nodata pixels


# ---------------------------------------------------------------------------------------------
# A split ANALYZE: each part's partial statistics, merged
# ---------------------------------------------------------------------------------------------


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


def test_parts_of_a_float_scene_merge_to_one_pass(reflectance):
    """Float rasters: per-window moments merged in window order, the reservoir's keys seeded per window."""
    path, flat = reflectance
    analyzer = StatsAnalyzer(sample_prob=1.0, chip_size=50, seed=3, num_workers=1)
    whole = analyzer.process([GeoTIFFSource(str(path))])
    partials = [analyzer.process_part([GeoTIFFSource(str(path))], k, 3) for k in range(3)]
    merged = analyzer.merge_parts([GeoTIFFSource(str(path))], partials)
    assert_same_stats(merged, whole)
    np.testing.assert_allclose(merged.means, flat.mean(axis=1), rtol=1e-9)
