"""Reading GeoJSON onto a raster grid: CRSs, counts against the scene, classes, repairs."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.warp import transform_geom

from rv.core.box import Box
from rv.core.class_map import ClassMap
from rv.errors import ConfigError, DataError
from rv_geojson.geojson_reader import (
    ClassResolver,
    GeoJSONWarning,
    geojson_crs,
    read_geojson,
    read_pixel_features,
)
from rv_geojson.testing import scene_grid
from rv_geojson.vector_index import VectorIndex


def _index(uri, tif, class_map, **kwargs):
    ct, extent = scene_grid(tif)
    resolver = ClassResolver(class_map, **kwargs)
    return VectorIndex(read_pixel_features(uri, ct, resolver), extent)


def _to_pixels(transform, ring):
    """Map (x, y) -> pixel (col, row) with the inverse affine, written out."""
    a, b, c, d, e, f = tuple(~transform)[:6]
    return a * ring[:, 0] + b * ring[:, 1] + c, d * ring[:, 0] + e * ring[:, 1] + f


@pytest.mark.parametrize(("scene", "inside", "crossing"), [("a", 90, 18), ("b", 65, 33)])
def test_kampala_counts_match_the_readme(data_dir, kampala_geojson, building_class_map, scene, inside, crossing):
    tif = data_dir / "buildings" / f"kampala_oam_{scene}.tif"
    with pytest.warns(GeoJSONWarning) as record:
        index = _index(kampala_geojson, tif, building_class_map, default_class_id=1)
    assert (index.num_inside, index.num_crossing) == (inside, crossing)
    assert index.num_outside == 206 - inside - crossing
    assert len(index) == inside + crossing
    # Crossing polygons are clipped: everything kept lies in the scene.
    assert shapely.covered_by(index.geoms, index.extent.to_shapely()).all()
    messages = " ".join(str(r.message) for r in record)
    assert f"{inside} lie inside" in messages and f"{crossing} cross its edge" in messages
    # Feature 107 self-intersects; it is repaired, and the warning names it.
    assert "repaired 1 invalid geometry" in messages and "feature(s) 107" in messages


def test_kampala_pixel_positions_agree_with_rasterio_warp(data_dir, kampala_geojson, building_class_map):
    """WGS84 -> EPSG:3857 -> pixels, checked against GDAL's own reprojection."""
    tif = data_dir / "buildings" / "kampala_oam_a.tif"
    ct, _ = scene_grid(tif)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoJSONWarning)
        features = read_pixel_features(kampala_geojson, ct, ClassResolver(building_class_map, default_class_id=1))
    doc = json.loads(kampala_geojson.read_text())
    with rasterio.open(tif) as ds:
        for i in (0, 50, 150, 205):
            g = transform_geom("EPSG:4326", ds.crs, doc["features"][i]["geometry"])
            cols, rows = _to_pixels(ds.transform, np.array(g["coordinates"][0]))
            ours = np.array(features.geoms[i].exterior.coords)
            np.testing.assert_allclose(ours[:, 0], cols, atol=1e-3)
            np.testing.assert_allclose(ours[:, 1], rows, atol=1e-3)
    assert (features.class_ids == 1).all()


def test_atlanta_legacy_crs_member_is_honoured(data_dir, building_class_map):
    uri = data_dir / "buildings" / "sn4_atlanta_pan_buildings.geojson"
    tif = data_dir / "buildings" / "sn4_atlanta_pan.tif"
    doc = read_geojson(uri)
    assert geojson_crs(doc, uri) == "EPSG:32616"
    with warnings.catch_warnings():
        warnings.simplefilter("error", GeoJSONWarning)  # all inside: nothing to warn about
        index = _index(uri, tif, building_class_map, default_class_id=1)
    assert (len(index), index.num_inside, index.num_crossing, index.num_outside) == (43, 43, 0, 0)
    # Same CRS as the raster: pixel = inverse affine of the UTM coordinates.
    with rasterio.open(tif) as ds:
        ring = np.array(doc["features"][7]["geometry"]["coordinates"][0])[:, :2]
        cols, rows = _to_pixels(ds.transform, ring)
    np.testing.assert_allclose(np.array(index.geoms[7].exterior.coords), np.column_stack([cols, rows]), atol=1e-6)


def test_crs_member_forms():
    assert geojson_crs({}, "x") == "EPSG:4326"
    assert geojson_crs({"crs": {"type": "name", "properties": {"name": "EPSG:3857"}}}, "x") == "EPSG:3857"
    crs84 = {"crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}}
    assert geojson_crs(crs84, "x") == "EPSG:4326"
    assert geojson_crs({"crs": {"type": "EPSG", "properties": {"code": 27700}}}, "x") == "EPSG:27700"
    with pytest.raises(DataError, match=r"labels\.geojson declares the CRS 'EPSG:999999', which PROJ does not know"):
        geojson_crs({"crs": {"type": "name", "properties": {"name": "EPSG:999999"}}}, "labels.geojson")


def _square(x, y, d=0.0001):
    return {"type": "Polygon", "coordinates": [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]}


def _write(tmp_path, features, name="labels.geojson", **extra):
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", **extra, "features": features}))
    return path


@pytest.fixture
def kampala_a(data_dir):
    return scene_grid(data_dir / "buildings" / "kampala_oam_a.tif")


@pytest.fixture
def center_lonlat(kampala_a):
    ct, extent = kampala_a
    x, y = ct.pixel_to_map(extent.width / 2, extent.height / 2)
    from pyproj import Transformer

    return Transformer.from_crs(ct.crs, "EPSG:4326", always_xy=True).transform(x, y)


def test_classes_from_id_name_and_mapped_property(tmp_path, kampala_a, center_lonlat):
    ct, _ = kampala_a
    lon, lat = center_lonlat
    cm = ClassMap.from_spec({"background": 0, "building": 1, "tree": 2})
    feats = [
        {"type": "Feature", "geometry": _square(lon, lat), "properties": {"class_id": 2}},
        {"type": "Feature", "geometry": _square(lon, lat), "properties": {"class_name": "building"}},
        {"type": "Feature", "geometry": _square(lon, lat), "properties": {"kind": "house"}},
        {"type": "Feature", "geometry": _square(lon, lat), "properties": {"kind": "palm"}},
    ]
    path = _write(tmp_path, feats)
    mapped = ClassResolver(cm, property_name="kind", property_mapping={"house": "building", "palm": 2})
    doc = read_geojson(path)
    assert [mapped.resolve(f["properties"], i, path) for i, f in enumerate(doc["features"][2:])] == [1, 2]
    plain = read_pixel_features(path, ct, ClassResolver(cm, default_class_id=0))
    assert plain.class_ids.tolist() == [2, 1, 0, 0]
    with pytest.raises(ConfigError, match="default_class_id 9 is not in the class map"):
        ClassResolver(cm, default_class_id=9)


def test_points_and_lines_are_buffered_in_pixels(tmp_path, kampala_a, center_lonlat):
    ct, _ = kampala_a
    lon, lat = center_lonlat
    feats = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": {}},
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[lon, lat], [lon + 0.0001, lat]]},
            "properties": {},
        },
    ]
    path = _write(tmp_path, feats)
    features = read_pixel_features(path, ct, line_buffer=3, point_radius=10)
    assert shapely.get_type_id(features.geoms).tolist() == [3, 3]
    assert features.geoms[0].area == pytest.approx(np.pi * 100, rel=0.01)
    # 0.0001 degrees of longitude at the equator is ~11.1 m = ~74.6 px at 0.149 m.
    line_px = 0.0001 * 111319.49 / ct.transform.a
    assert features.geoms[1].area == pytest.approx(line_px * 6 + np.pi * 9, rel=0.01)
    with pytest.warns(GeoJSONWarning, match="dropped 2 feature"):
        assert len(read_pixel_features(path, ct)) == 0


def test_memory_uri_is_read_through_file_utils(kampala_a, center_lonlat):
    from rv import file_utils

    ct, _ = kampala_a
    lon, lat = center_lonlat
    uri = "memory://rv-geojson-test/labels.geojson"
    file_utils.write_text(uri, json.dumps({"type": "Feature", "geometry": _square(lon, lat), "properties": {}}))
    features = read_pixel_features(uri, ct)
    assert len(features) == 1 and features.geoms[0].area > 100


# ----------------------------------------------------------------- errors


def test_invalid_json_names_file_and_position(tmp_path, kampala_a):
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection",\n "features": [\n  {"type": "Feature" "geometry": null}]}')
    with pytest.raises(DataError) as e:
        read_pixel_features(path, kampala_a[0])
    msg = str(e.value)
    assert "broken.geojson is not valid JSON" in msg and "line 3, column 22" in msg and "Fix the file" in msg


def test_feature_without_class(tmp_path, kampala_a, center_lonlat):
    """With two classes besides the background, a feature without a class is an error (see test_labels_as_they_come)."""
    cm = ClassMap.from_spec({"background": 0, "building": 1, "tree": 2}, background_class_id=0)
    path = _write(tmp_path, [{"type": "Feature", "geometry": _square(*center_lonlat), "properties": {"osm_id": 5}}])
    with pytest.raises(DataError, match=r"Feature 0 of .*labels\.geojson has no class") as e:
        read_pixel_features(path, kampala_a[0], ClassResolver(cm))
    assert "default_class_id" in str(e.value) and "property_name" in str(e.value)


def test_unknown_class_name(tmp_path, kampala_a, center_lonlat, building_class_map):
    feats = [{"type": "Feature", "geometry": _square(*center_lonlat), "properties": {"class_name": "building"}}] * 2
    feats.append({"type": "Feature", "geometry": _square(*center_lonlat), "properties": {"class_name": "roof"}})
    path = _write(tmp_path, feats)
    with pytest.raises(DataError, match=r"Feature 2 of .*labels\.geojson has property 'class_name' = 'roof'") as e:
        read_pixel_features(path, kampala_a[0], ClassResolver(building_class_map))
    assert "names: ['background', 'building']" in str(e.value)
    assert "Add the class to the class map" in str(e.value)


def test_unknown_class_id(tmp_path, kampala_a, center_lonlat, building_class_map):
    path = _write(tmp_path, [{"type": "Feature", "geometry": _square(*center_lonlat), "properties": {"class_id": 7}}])
    with pytest.raises(DataError, match=r"class_id' = 7, which is not a class id of the class map \(ids: \[0, 1\]"):
        read_pixel_features(path, kampala_a[0], ClassResolver(building_class_map))


def test_unrepairable_geometry(tmp_path, kampala_a, center_lonlat):
    lon, lat = center_lonlat
    flat = {"type": "Polygon", "coordinates": [[[lon, lat], [lon + 1e-4, lat], [lon + 2e-4, lat], [lon, lat]]]}
    feats = [
        {"type": "Feature", "geometry": _square(lon, lat), "properties": {}},
        {"type": "Feature", "geometry": flat, "properties": {}},
    ]
    path = _write(tmp_path, feats)
    with pytest.raises(DataError, match=r"Feature\(s\) 1 of .*labels\.geojson have polygons with no area") as e:
        read_pixel_features(path, kampala_a[0])
    assert "Redraw or remove them" in str(e.value)
    single = {"type": "Polygon", "coordinates": [[[lon, lat]]]}
    path = _write(tmp_path, [{"type": "Feature", "geometry": single, "properties": {}}], name="single.geojson")
    with pytest.raises(DataError, match=r"Feature 0 of .*single\.geojson has a Polygon geometry that cannot be built"):
        read_pixel_features(path, kampala_a[0])


def test_bowtie_is_repaired_with_a_warning(tmp_path, kampala_a, center_lonlat):
    lon, lat = center_lonlat
    d = 1e-4
    ring = [[lon, lat], [lon + d, lat + d], [lon + d, lat], [lon, lat + d], [lon, lat]]
    path = _write(
        tmp_path, [{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {}}]
    )
    with pytest.warns(GeoJSONWarning, match=r"repaired 1 invalid geometry .*feature\(s\) 0"):
        features = read_pixel_features(path, kampala_a[0])
    assert features.geoms[0].is_valid and features.geoms[0].geom_type == "MultiPolygon"
    side = d * 111319.49 / kampala_a[0].transform.a
    assert features.geoms[0].area == pytest.approx(side * side / 2, rel=0.01)


def test_labels_not_overlapping_the_scene(data_dir, kampala_geojson, building_class_map):
    """Kampala labels on the Atlanta raster: no overlap is an error, not an empty scene."""
    ct, extent = scene_grid(data_dir / "buildings" / "sn4_atlanta_pan.tif")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoJSONWarning)
        features = read_pixel_features(kampala_geojson, ct, ClassResolver(building_class_map, default_class_id=1))
    with pytest.raises(DataError, match=r"No label in .*kampala_buildings\.geojson overlaps the scene") as e:
        VectorIndex(features, extent)
    msg = str(e.value)
    assert "columns 0..900 and rows 0..900" in msg and "its CRS is right" in msg


def test_projected_coordinates_without_crs_member(tmp_path, data_dir):
    doc = json.loads((data_dir / "buildings" / "sn4_atlanta_pan_buildings.geojson").read_text())
    del doc["crs"]
    path = tmp_path / "no_crs.geojson"
    path.write_text(json.dumps(doc))
    ct, _ = scene_grid(data_dir / "buildings" / "sn4_atlanta_pan.tif")
    with pytest.raises(DataError, match=r"no_crs\.geojson has no crs member.*not degrees.*Reproject it to WGS84"):
        read_pixel_features(path, ct)


def test_missing_file_and_null_geometry(tmp_path, kampala_a):
    with pytest.raises(DataError, match=r"nope\.geojson.*does not exist"):
        read_pixel_features(tmp_path / "nope.geojson", kampala_a[0])
    path = _write(tmp_path, [{"type": "Feature", "geometry": None, "properties": {}}])
    with pytest.raises(DataError, match=r"Feature 0 of .*labels\.geojson has no geometry \(null\)"):
        read_pixel_features(path, kampala_a[0])


def test_window_queries_use_the_index(data_dir, kampala_geojson, building_class_map):
    tif = data_dir / "buildings" / "kampala_oam_a.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeoJSONWarning)
        index = _index(kampala_geojson, tif, building_class_map, default_class_id=1)
    window = Box(256, 512, 512, 768)
    geoms, class_ids = index.query(window)
    # Same answer as a brute-force scan over every polygon.
    brute = shapely.area(shapely.intersection(index.geoms, window.to_shapely())) > 0
    assert len(geoms) == brute.sum() > 0
    assert (class_ids == 1).all()
    assert shapely.covered_by(geoms, window.to_shapely()).all()
    np.testing.assert_allclose(
        shapely.area(geoms).sum(), shapely.area(shapely.intersection(index.geoms, window.to_shapely())).sum()
    )


def _fc(*rings):
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}
            for ring in rings
        ],
    }


def test_raster_without_crs_refuses_georeferenced_labels(tmp_path, kampala_geojson):
    """WGS84 labels (no crs member) or a crs member cannot be placed on a raster without a CRS."""
    from rv.core.crs_transformer import CRSTransformer, IdentityCRSTransformer

    stripped = CRSTransformer(rasterio.Affine(0.149, 0, 3627800.0, 0, -0.149, 38950.0))  # a CRS dropped
    for ct in (IdentityCRSTransformer(), stripped):
        with pytest.raises(DataError, match=r"WGS84 lon/lat .*no CRS.*gdal_edit\.py -a_srs") as e:
            read_pixel_features(kampala_geojson, ct)
        assert str(kampala_geojson) in str(e.value)
    utm = tmp_path / "utm.geojson"
    doc = _fc([[733700, 3725000], [733710, 3725000], [733710, 3725010], [733700, 3725000]])
    utm.write_text(json.dumps(doc | {"crs": {"type": "name", "properties": {"name": "EPSG:32616"}}}))
    with pytest.raises(DataError, match=r"declares the CRS EPSG:32616.*raster it labels has no CRS"):
        read_pixel_features(utm, IdentityCRSTransformer())


def test_raster_without_crs_reads_labels_in_its_own_coordinates(tmp_path):
    """Pixel-coordinate labels of a plain image (what rv writes for one) still read, even within lon/lat range."""
    from rv.core.crs_transformer import IdentityCRSTransformer

    path = tmp_path / "pixels.geojson"
    path.write_text(
        json.dumps(_fc([[10, 10], [40, 10], [40, 30], [10, 10]], [[100, 50], [150, 50], [150, 80], [100, 50]]))
    )
    features = read_pixel_features(path, IdentityCRSTransformer())
    assert shapely.bounds(features.geoms[0]).tolist() == [10, 10, 40, 30]
    # labels that miss the image say why they might
    far = tmp_path / "far.geojson"
    far.write_text(json.dumps(_fc([[-84, 33], [-80, 33], [-80, 36], [-84, 33]])))
    with pytest.raises(DataError, match=r"No label .* overlaps the scene.*may be WGS84 lon/lat.*gdal_edit"):
        VectorIndex(read_pixel_features(far, IdentityCRSTransformer()), Box(0, 0, 512, 512))


@pytest.mark.parametrize("z", [None, 12.5])
def test_polygon_files_read_in_one_go_match_feature_by_feature(tmp_path, kampala_a, center_lonlat, z):
    """A file of plain polygons is built in bulk; it must give what the per-feature path gives (a point
    in the file sends it down that path): holes, 2-D or 3-D positions, bow-tie rings."""
    ct, _ = kampala_a
    lon, lat = center_lonlat
    d = 1e-4

    def ring(*xy):
        return [[x, y] if z is None else [x, y, z] for x, y in xy]

    outer = ring((lon, lat), (lon + d, lat), (lon + d, lat + d), (lon, lat + d), (lon, lat))
    q, h = d / 4, d / 2
    hole = ring((lon + q, lat + q), (lon + h, lat + q), (lon + h, lat + h), (lon + q, lat + q))
    bowtie = ring((lon, lat), (lon + d, lat + d), (lon + d, lat), (lon, lat + d), (lon, lat))
    square = ring(
        (lon + 2 * d, lat), (lon + 3 * d, lat), (lon + 3 * d, lat + d), (lon + 2 * d, lat + d), (lon + 2 * d, lat)
    )
    geoms = [{"type": "Polygon", "coordinates": rings} for rings in ([outer, hole], [bowtie], [square])]
    feats = [{"type": "Feature", "geometry": g, "properties": {"class_id": 1}} for g in geoms]
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": {"class_id": 1}}
    cm = ClassMap.from_spec({"background": 0, "building": 1})
    with pytest.warns(GeoJSONWarning, match=r"repaired 1 invalid geometry .*feature\(s\) 1"):
        bulk = read_pixel_features(_write(tmp_path, feats, "bulk.geojson"), ct, ClassResolver(cm))
    with pytest.warns(GeoJSONWarning, match=r"repaired 1 invalid geometry .*feature\(s\) 1"):
        each = read_pixel_features(_write(tmp_path, feats + [point], "each.geojson"), ct, ClassResolver(cm))
    assert len(bulk.geoms) == 3 and bulk.class_ids.tolist() == [1, 1, 1]
    assert shapely.equals_exact(bulk.geoms, each.geoms[:3], tolerance=0).all()
    assert not shapely.has_z(bulk.geoms).any() and shapely.get_num_interior_rings(bulk.geoms[0]) == 1
    assert bulk.geoms[0].area == pytest.approx(bulk.geoms[2].area * (1 - 1 / 32), rel=1e-6)


def test_class_values_of_different_types_are_not_confused(tmp_path, kampala_a, center_lonlat):
    """Features sharing a class value share the lookup; 1, 1.0 and "1" are class 1, True is no class id."""
    cm = ClassMap.from_spec({"background": 0, "building": 1, "tree": 2})
    values = [1, 1.0, "1", 2, "tree", 1, 2.0]
    feats = [{"type": "Feature", "geometry": _square(*center_lonlat), "properties": {"class_id": v}} for v in values]
    features = read_pixel_features(_write(tmp_path, feats), kampala_a[0], ClassResolver(cm))
    assert features.class_ids.tolist() == [1, 1, 1, 2, 2, 1, 2]
    feats.append({"type": "Feature", "geometry": _square(*center_lonlat), "properties": {"class_id": True}})
    with pytest.raises(DataError, match=r"Feature 7 of .*bool\.geojson has property 'class_id' = True"):
        read_pixel_features(_write(tmp_path, feats, "bool.geojson"), kampala_a[0], ClassResolver(cm))
