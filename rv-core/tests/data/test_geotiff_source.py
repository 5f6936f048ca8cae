"""GeoTIFFSource on real rasters: windows, channel order, nodata masks, mosaics, remote reads, errors."""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

from rv.core.box import Box
from rv.data.raster_source import GeoTIFFSource, gdal_path
from rv.errors import DataError


def _rasterio_chip(path, window: Box, bands=None) -> np.ndarray:
    with rasterio.open(path) as ds:
        data = ds.read(None if bands is None else [b + 1 for b in bands], window=window.to_rasterio_window())
    return np.moveaxis(data, 0, -1)


def test_kampala_metadata_and_windows(data_dir):
    path = data_dir / "buildings" / "kampala_oam_a.tif"
    src = GeoTIFFSource(str(path))
    assert src.extent == Box(0, 0, 1024, 1536)
    assert src.crs.to_epsg() == 3857
    assert src.num_channels == 3 and src.dtype == np.uint8 and src.nodata is None
    with rasterio.open(path) as ds:
        assert src.transform == ds.transform
    for window in [Box(0, 0, 256, 256), Box(300, 700, 600, 1000), Box(1000, 1500, 1024, 1536)]:
        chip, mask = src.get_chip_with_mask(window)
        assert chip.shape == (window.height, window.width, 3)
        np.testing.assert_array_equal(chip, _rasterio_chip(path, window))
        assert not mask.any()  # no nodata value, no internal mask


def test_windows_partly_outside_are_padded_and_masked(data_dir):
    path = data_dir / "buildings" / "sn4_atlanta_pan.tif"
    src = GeoTIFFSource(str(path))
    assert (src.dtype, src.num_channels, src.nodata) == (np.uint16, 1, 0)
    window = Box(-50, 800, 150, 1000)  # 50 rows above, 100 columns right of the raster
    chip, mask = src.get_chip_with_mask(window)
    assert chip.shape == (200, 200, 1)
    inside = Box(0, 800, 150, 900)
    np.testing.assert_array_equal(chip[50:, :100], _rasterio_chip(path, inside))
    assert (chip[:50] == 0).all() and (chip[:, 100:] == 0).all()
    assert mask[:50].all() and mask[:, 100:].all()
    assert not mask[50:, :100].any()  # the README: no pixel of this raster is 0
    # A window wholly outside is all padding.
    chip, mask = src.get_chip_with_mask(Box(2000, 2000, 2010, 2010))
    assert mask.all() and not chip.any()


def test_channel_order_on_sentinel2(data_dir):
    path = data_dir / "multiband" / "s2_aberystwyth_subset_10band.tif"
    src = GeoTIFFSource(str(path), channel_order=[2, 1, 0])
    assert src.num_channels == 3 and src.extent == Box(0, 0, 339, 324)
    window = Box(100, 50, 228, 178)
    np.testing.assert_array_equal(src.get_chip(window), _rasterio_chip(path, window, [2, 1, 0]))
    # Band 3 (B4, red) comes first: RGB order.
    assert np.array_equal(src.get_chip(window)[..., 0], _rasterio_chip(path, window, [2])[..., 0])


def test_landsat8_nodata_edges_become_the_mask(data_dir):
    path = data_dir / "multiband" / "landsat8_016037_900m_10band.tif"
    src = GeoTIFFSource(str(path))
    chip, mask = src.get_chip_with_mask(src.extent)
    with rasterio.open(path) as ds:
        data = ds.read()
        gdal_mask = ds.dataset_mask() == 0
    expected = (data == 0).all(axis=0)
    assert expected.sum() > 10000  # the scene's nodata edges
    np.testing.assert_array_equal(mask, expected)
    # Same rule as GDAL's dataset mask: nodata only where every band is.
    np.testing.assert_array_equal(mask, gdal_mask)
    # A nodata value given to the source overrides the file's.
    no_override = GeoTIFFSource(str(path), nodata=65535)
    assert no_override.nodata == 65535
    assert not no_override.get_chip_with_mask(src.extent)[1][expected].any()


def _write_part(src_path, dst_path, window: Window, nodata=None):
    with rasterio.open(src_path) as ds:
        profile = ds.profile.copy()
        data = ds.read(window=window)
        profile.update(
            width=int(window.width),
            height=int(window.height),
            # The part's transform: the corner moves to the window's top-left pixel.
            transform=ds.transform @ Affine.translation(window.col_off, window.row_off),
            nodata=nodata,
        )
        profile.pop("blockxsize", None), profile.pop("blockysize", None), profile.pop("tiled", None)
    with rasterio.open(dst_path, "w", **profile) as out:
        out.write(data)


def test_two_file_mosaic_equals_the_original(data_dir, tmp_path):
    path = data_dir / "buildings" / "kampala_oam_a.tif"
    left, right = tmp_path / "left.tif", tmp_path / "right.tif"
    _write_part(path, left, Window(0, 0, 700, 1024))
    _write_part(path, right, Window(700, 0, 836, 1024))
    mosaic = GeoTIFFSource([str(left), str(right)])
    original = GeoTIFFSource(str(path))
    assert mosaic.extent == original.extent
    assert mosaic.crs == original.crs and mosaic.transform.almost_equals(original.transform)
    chip, mask = mosaic.get_chip_with_mask(mosaic.extent)
    np.testing.assert_array_equal(chip, original.get_chip(original.extent))
    assert not mask.any()
    # A window straddling the seam reads from both files.
    window = Box(100, 600, 400, 900)
    np.testing.assert_array_equal(mosaic.get_chip(window), original.get_chip(window))


def test_mosaic_gap_is_masked_and_nodata_is_kept(data_dir, tmp_path):
    path = data_dir / "multiband" / "landsat8_016037_900m_10band.tif"
    top, bottom = tmp_path / "top.tif", tmp_path / "bottom.tif"
    # Rows 100-149 are in neither file.
    _write_part(path, top, Window(0, 0, 255, 100), nodata=0)
    _write_part(path, bottom, Window(0, 150, 255, 109), nodata=0)
    mosaic = GeoTIFFSource([str(top), str(bottom)])
    original = GeoTIFFSource(str(path))
    assert mosaic.extent == original.extent
    chip, mask = mosaic.get_chip_with_mask(mosaic.extent)
    orig_chip, orig_mask = original.get_chip_with_mask(original.extent)
    assert mask[100:150].all()
    np.testing.assert_array_equal(mask[:100], orig_mask[:100])
    np.testing.assert_array_equal(mask[150:], orig_mask[150:])
    np.testing.assert_array_equal(chip[150:], orig_chip[150:])


def test_mosaic_without_nodata_masks_the_gap(data_dir, tmp_path):
    path = data_dir / "buildings" / "kampala_oam_a.tif"
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    _write_part(path, a, Window(0, 0, 512, 512))
    _write_part(path, b, Window(1024, 512, 512, 512))
    mosaic = GeoTIFFSource([str(a), str(b)])
    chip, mask = mosaic.get_chip_with_mask(mosaic.extent)
    assert mosaic.extent == Box(0, 0, 1024, 1536)
    assert not mask[:512, :512].any() and not mask[512:, 1024:].any()
    assert mask[512:, :1024].all() and mask[:512, 512:].all()
    np.testing.assert_array_equal(chip[:512, :512], _rasterio_chip(path, Box(0, 0, 512, 512)))


def test_mosaic_of_different_crs_is_a_clear_error(data_dir, tmp_path):
    other = tmp_path / "other_crs.tif"
    _write_part(data_dir / "buildings" / "kampala_oam_b.tif", other, Window(0, 0, 64, 64))
    with rasterio.open(other, "r+") as ds:
        ds.crs = "EPSG:4326"
    src = GeoTIFFSource([str(data_dir / "buildings" / "kampala_oam_a.tif"), str(other)])
    with pytest.raises(DataError, match=r"must share a CRS"):
        _ = src.extent


def test_errors_name_the_file_and_the_fix(data_dir, tmp_path):
    with pytest.raises(DataError, match=r"missing\.tif does not exist"):
        _ = GeoTIFFSource(str(tmp_path / "missing.tif")).extent
    garbage = tmp_path / "garbage.tif"
    garbage.write_bytes(b"II*\x00" + b"\x00" * 100)
    with pytest.raises(DataError, match=r"garbage\.tif.*rio info"):
        GeoTIFFSource(str(garbage)).get_chip(Box(0, 0, 10, 10))
    # A TIFF cut short: the header opens, the strips are gone.
    truncated = tmp_path / "truncated.tif"
    full = (data_dir / "buildings" / "sn4_atlanta_pan.tif").read_bytes()
    truncated.write_bytes(full[: len(full) // 3])
    with pytest.raises(DataError, match=r"truncated\.tif"):
        GeoTIFFSource(str(truncated)).get_chip(Box(800, 0, 900, 900))
    src = GeoTIFFSource(str(data_dir / "buildings" / "kampala_oam_a.tif"), channel_order=[0, 3])
    with pytest.raises(DataError, match=r"band index 3, but the raster has 3 bands \(indices 0-2\)"):
        src.get_chip(Box(0, 0, 10, 10))


def test_require_crs(tmp_path):
    plain = tmp_path / "plain.tif"
    with rasterio.open(plain, "w", driver="GTiff", width=8, height=8, count=1, dtype="uint8") as ds:
        ds.write(np.arange(64, dtype=np.uint8).reshape(1, 8, 8))
    src = GeoTIFFSource(str(plain))
    assert src.crs is None and src.get_chip(Box(0, 0, 8, 8))[3, 2, 0] == 26
    with pytest.raises(DataError, match=r"has no CRS.*Georeference"):
        _ = GeoTIFFSource(str(plain), require_crs=True).extent


def test_pickle_reopens_in_the_new_process(data_dir):
    src = GeoTIFFSource(str(data_dir / "trees" / "neon_osbs_029.tif"))
    window = Box(10, 10, 74, 74)
    before = src.get_chip(window)
    clone = pickle.loads(pickle.dumps(src))
    assert clone._dataset is None  # the handle is not pickled
    np.testing.assert_array_equal(clone.get_chip(window), before)


def test_memory_uri_is_downloaded(data_dir):
    import fsspec

    fs = fsspec.filesystem("memory")
    data = (data_dir / "landcover" / "s2_aberystwyth_tile4_labels.tif").read_bytes()
    fs.pipe("memory://rv-core-tests/labels.tif", data)
    try:
        src = GeoTIFFSource("memory://rv-core-tests/labels.tif")
        counts = np.bincount(src.get_chip(src.extent).ravel())
        assert counts[1:5].tolist() == [6483, 6022, 22890, 27606]
    finally:
        fs.rm("memory://rv-core-tests/labels.tif")


# The HTTP server runs in its own process: rasterio holds the GIL while GDAL
# opens a /vsicurl/ file, so a server thread in the test process would never answer.
_RANGE_SERVER = r"""
import http.server, os, re, sys
from functools import partial

root, port_file, log_file = sys.argv[1:4]

class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def end_headers(self):
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def do_GET(self):
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", (self.headers.get("Range") or "").strip())
        path = self.translate_path(self.path)
        if match is None or not os.path.isfile(path):
            return super().do_GET()
        size = os.path.getsize(path)
        start = int(match.group(1))
        end = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
        with open(path, "rb") as f:
            f.seek(start)
            body = f.read(end - start + 1)
        with open(log_file, "a") as log:
            log.write(f"{len(body)}\n")
        self.send_response(206)
        self.send_header("Content-Type", "image/tiff")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=root))
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.replace(port_file + ".tmp", port_file)
server.serve_forever()
"""


@pytest.fixture
def http_dir(tmp_path):
    """``(folder, base_url, log_path)``: ``folder`` served over HTTP with range requests."""
    folder = tmp_path / "served"
    folder.mkdir()
    script, port_file, log = tmp_path / "server.py", tmp_path / "port", tmp_path / "ranges.log"
    script.write_text(_RANGE_SERVER)
    proc = subprocess.Popen([sys.executable, str(script), str(folder), str(port_file), str(log)])
    try:
        for _ in range(200):
            if port_file.exists():
                break
            time.sleep(0.05)
        else:
            pytest.fail("the test HTTP server did not start")
        yield folder, f"http://127.0.0.1:{port_file.read_text()}", log
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_http_raster_is_read_in_place_with_ranges(data_dir, http_dir):
    folder, base, log = http_dir
    # A tiled copy (as a COG would be) so that a window needs only a few tiles.
    src_path = data_dir / "buildings" / "kampala_oam_a.tif"
    shutil.copy(src_path, folder / "a.tif")
    uri = f"{base}/a.tif"
    assert gdal_path(uri) == f"/vsicurl/{uri}"
    src = GeoTIFFSource(uri)
    window = Box(256, 512, 512, 768)
    np.testing.assert_array_equal(src.get_chip(window), _rasterio_chip(src_path, window))
    # Range requests fetched far less than the whole file.
    sent = sum(int(n) for n in log.read_text().split())
    assert 0 < sent < src_path.stat().st_size / 3


def test_gdal_paths(tmp_path):
    assert gdal_path("s3://bucket/key/x.tif") == "/vsis3/bucket/key/x.tif"
    assert gdal_path("https://host/x.tif") == "/vsicurl/https://host/x.tif"
    assert gdal_path("/vsizip//a.zip/b.tif") == "/vsizip//a.zip/b.tif"
    assert gdal_path(f"file://{tmp_path}/x.tif") == f"{tmp_path}/x.tif"
    with pytest.raises(DataError, match="memory"):
        gdal_path("memory://x.tif")


@pytest.mark.parametrize("kind", ["alpha", "internal_mask"])
def test_alpha_band_and_internal_mask_become_the_mask(tmp_path, data_dir, kind):
    src_path = data_dir / "buildings" / "kampala_oam_b.tif"
    with rasterio.open(src_path) as ds:
        profile = ds.profile
        rgb = ds.read(window=Window(0, 0, 128, 128))
        transform = ds.transform
    valid = np.full((128, 128), 255, np.uint8)
    valid[:, :40] = 0  # the left 40 columns are nodata
    profile.update(width=128, height=128, transform=transform, nodata=None, tiled=False)
    path = tmp_path / f"{kind}.tif"
    if kind == "alpha":
        profile.update(count=4, photometric="RGB", alpha="YES")
        with rasterio.open(path, "w", **profile) as out:
            out.write(np.concatenate([rgb, valid[None]]))
    else:
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(path, "w", **profile) as out:
            out.write(rgb)
            out.write_mask(valid)
    src = GeoTIFFSource(str(path))
    assert src.num_channels == 3 and src.channel_order == [0, 1, 2]  # alpha is not image data
    chip, mask = src.get_chip_with_mask(Box(0, 0, 128, 128))
    np.testing.assert_array_equal(chip, np.moveaxis(rgb, 0, -1))
    np.testing.assert_array_equal(mask, valid == 0)


def test_check_complete_catches_a_truncated_file_before_any_pixel_read(data_dir, tmp_path):
    """The input check's cheap test: one block read, the last, whatever the raster's size."""
    atlanta = data_dir / "buildings" / "sn4_atlanta_pan.tif"
    GeoTIFFSource(str(atlanta)).check_complete()  # a complete file passes
    tiled = data_dir / "buildings" / "kampala_oam_a.tif"
    GeoTIFFSource([str(tiled)]).check_complete()
    full = atlanta.read_bytes()
    for fraction in (0.5, 0.95):
        truncated = tmp_path / f"truncated_{fraction}.tif"
        truncated.write_bytes(full[: int(len(full) * fraction)])
        src = GeoTIFFSource(str(truncated))
        assert src.extent == Box(0, 0, 900, 900)  # the header opens
        with pytest.raises(DataError, match=r"truncated_0\.\d+\.tif is truncated or corrupt.*download the file again"):
            src.check_complete()
