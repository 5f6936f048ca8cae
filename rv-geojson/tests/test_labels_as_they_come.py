"""Label files as OSM, SpaceNet and NEON deliver them, read by the three GeoJSON label sources.

The files are made from the sample data the way they come from those
sources: building footprints with dozens of OSM tags and no class property,
SpaceNet's Atlanta file (its own properties and a legacy ``crs`` member),
NEON's trees named ``"Tree"`` with a class id of their own numbering. Each
is read through the scene a user builds (``with_label_source(uri)``) for
segmentation (rasterized), object detection and chip classification, and
the tests assert the classes and counts a user would check, the one log
line that says which class was taken, and the errors that remain.
"""

import json
import logging
import os

import numpy as np
import pytest

import rv
from rv.core.class_map import ClassMap
from rv.errors import DataError
from rv_geojson.geojson_reader import ClassResolver, background_class_id_of

pytestmark = pytest.mark.filterwarnings("ignore::rv_geojson.geojson_reader.GeoJSONWarning")

#: The logger that says which class features without one were given.
READER_LOG = "rv_geojson.geojson_reader"
#: The class map of the Raster Vision documentation's building experiments.
BUILDING_AND_BACKGROUND = {"building": (1, "red"), "background": (0, "black")}
TASKS = [rv.SEMANTIC_SEGMENTATION, rv.OBJECT_DETECTION, rv.CHIP_CLASSIFICATION]
#: Kampala footprints on scene A: 90 inside and 18 crossing its edge, of 206 in the file.
KAMPALA_A_FEATURES = 108


@pytest.fixture(autouse=True)
def _plugins(rv_plugin_manager):
    """Real entry points (rv-core, rv-geojson), as ``rv run`` loads them."""


def _rewrite(src, dst, properties_of):
    """``src`` with each feature's properties replaced by ``properties_of(index, properties)``."""
    doc = json.loads(src.read_text())
    for i, feature in enumerate(doc["features"]):
        feature["properties"] = properties_of(i, dict(feature.get("properties") or {}))
    dst.write_text(json.dumps(doc))
    return dst


def osm_properties(i, _):
    """Tags of an OSM building way as an OSM export writes them: many, none of them a class."""
    return {
        "osm_id": 400_000_000 + i, "osm_type": "way", "building": "yes", "name": f"House {i}" if i % 5 == 0 else None,
        "addr:street": "Kampala Road", "addr:housenumber": str(i + 1), "addr:city": "Kampala",
        "addr:country": "UG", "building:levels": str(1 + i % 3), "building:material": "brick",
        "roof:material": "metal", "roof:shape": "gabled", "height": None, "amenity": None, "shop": None,
        "office": None, "source": "Bing", "source:date": "2017", "start_date": None, "wheelchair": None,
        "layer": None, "note": None, "fixme": None, "osm_version": 3, "osm_user": "mapper", "osm_changeset": 51_000_000,
        "osm_timestamp": "2017-08-01T12:00:00Z", "z_order": 0, "way_area": 120.5 + i,
    }  # fmt: skip


@pytest.fixture
def osm_buildings(data_dir, tmp_path):
    """The Kampala footprints with OSM tags and no class property."""
    return _rewrite(data_dir / "buildings" / "kampala_buildings.geojson", tmp_path / "osm_buildings.geojson",
                    osm_properties)


def _task(task_type, classes, background_class_id=None):
    builder = rv.TaskConfig.builder(task_type).with_chip_size(256).with_classes(classes)
    return builder.with_background_class_id(background_class_id).build()


def _labels(task, image, labels, tmp_path):
    """The label source entity of a scene built as a user builds it (``labels``: a URI or a label source builder)."""
    scene = (rv.SceneConfig.builder().with_task(task).with_id("scene").with_raster_source(str(image))
             .with_label_source(str(labels) if isinstance(labels, os.PathLike) else labels).build())
    return scene.create(task, str(tmp_path), with_labels=True).label_source


def _with_default_class(task, uri, class_id):
    """The label source builder of ``task`` for ``uri`` with an explicit ``default_class_id``."""
    if task.task_type == rv.SEMANTIC_SEGMENTATION:
        geojson = rv.RasterSourceConfig.builder("GEOJSON_SOURCE").with_uri(str(uri)).with_default_class_id(class_id)
        return rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_raster_source(geojson)
    key = rv.OBJECT_DETECTION_GEOJSON if task.task_type == rv.OBJECT_DETECTION else rv.CHIP_CLASSIFICATION_GEOJSON
    return rv.LabelSourceConfig.builder(key).with_uri(str(uri)).with_default_class_id(class_id)


def _feature_class_ids(label_source):
    """Class id of each feature kept on the scene (the rasterizing source is inside the segmentation one)."""
    return getattr(label_source, "raster_source", label_source).index.class_ids


def _ground_truth(label_source):
    """What training sees: the class-id raster, the boxes with their classes, or the cells with theirs."""
    inner = getattr(label_source, "raster_source", None)
    if inner is not None:
        return inner.rasterize_window(inner.extent)
    labels = label_source.get_labels()
    boxes = labels.boxes if hasattr(labels, "boxes") else labels.cells
    return np.column_stack([boxes, labels.class_ids])


def _implied_records(caplog, uri):
    return [r for r in caplog.records if r.name == READER_LOG and str(uri) in r.getMessage()]


# ------------------------------------------------------ no class property


@pytest.mark.parametrize("task_type", TASKS)
def test_osm_footprints_are_the_one_class_besides_background(data_dir, tmp_path, osm_buildings, caplog, task_type):
    """A bare URI of footprints without a class: every feature is a building, and the log says so once."""
    classes = {"building": (1, "red")} if task_type == rv.OBJECT_DETECTION else BUILDING_AND_BACKGROUND
    task = _task(task_type, classes, None if task_type == rv.OBJECT_DETECTION else 0)
    image = data_dir / "buildings" / "kampala_oam_a.tif"
    with caplog.at_level(logging.INFO, logger=READER_LOG):
        labels = _labels(task, image, osm_buildings, tmp_path)
    class_ids = _feature_class_ids(labels)
    assert len(class_ids) == KAMPALA_A_FEATURES and set(class_ids.tolist()) == {1}

    (record,) = _implied_records(caplog, osm_buildings)
    message = record.getMessage()
    assert record.levelno == logging.WARNING
    assert "206 of 206 features have no class property" in message and "class 'building' (1)" in message
    besides = "the class map's only class" if task_type == rv.OBJECT_DETECTION else "besides the background (0)"
    assert besides in message

    # The same ground truth as the plain footprint file with the class given explicitly: the OSM tags change nothing.
    caplog.clear()
    explicit = _labels(task, image, _with_default_class(task, data_dir / "buildings" / "kampala_buildings.geojson",
                                                         1), tmp_path)
    assert not [r for r in caplog.records if r.name == READER_LOG]  # a class given is not announced
    truth = _ground_truth(labels)
    np.testing.assert_array_equal(truth, _ground_truth(explicit))
    if task_type == rv.SEMANTIC_SEGMENTATION:
        # buildings and background both present: nothing ignored inside the scene
        assert set(np.unique(truth).tolist()) == {0, 1} and (truth == 1).sum() > 10_000
    elif task_type == rv.CHIP_CLASSIFICATION:
        assert set(truth[:, 4].tolist()) == {0, 1}


def test_spacenet_file_with_legacy_crs_member(data_dir, tmp_path, caplog):
    """SpaceNet's Atlanta file (EPSG:32616 by a legacy crs member, SpaceNet/OSM properties, an ``Id`` of 0).

    Rasterized, it matches an RFC 7946 copy (WGS84, no crs member) of the same polygons: the crs member is
    honoured, not read as lon/lat; ``Id`` 0 is not a class id and a blank ``class_name`` is no class.
    """
    import shapely
    from pyproj import Transformer
    from shapely.geometry import mapping, shape

    src = data_dir / "buildings" / "sn4_atlanta_pan_buildings.geojson"
    # "Id" as SpaceNet's v1 files have it; a blank class_name as a shapefile export writes a missing text field
    spacenet = _rewrite(src, tmp_path / "spacenet.geojson", lambda i, p: p | {"Id": 0, "class_name": " "})
    doc = json.loads(spacenet.read_text())
    assert doc["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::32616"
    assert "partialDec" in doc["features"][0]["properties"] and "class_id" not in doc["features"][0]["properties"]
    to_wgs84 = Transformer.from_crs("EPSG:32616", "EPSG:4326", always_xy=True).transform
    for feature in doc["features"]:
        feature["geometry"] = mapping(shapely.transform(shape(feature["geometry"]), to_wgs84, interleaved=False))
    del doc["crs"]
    rfc7946 = tmp_path / "rfc7946.geojson"
    rfc7946.write_text(json.dumps(doc))

    task = _task(rv.SEMANTIC_SEGMENTATION, BUILDING_AND_BACKGROUND, 0)
    image = data_dir / "buildings" / "sn4_atlanta_pan.tif"
    with caplog.at_level(logging.INFO, logger=READER_LOG):
        legacy = _labels(task, image, spacenet, tmp_path)
    assert (_feature_class_ids(legacy) == 1).all() and len(_feature_class_ids(legacy)) == 43
    assert "43 of 43 features" in _implied_records(caplog, spacenet)[0].getMessage()
    a, b = _ground_truth(legacy), _ground_truth(_labels(task, image, rfc7946, tmp_path))
    assert a.shape == (900, 900) and set(np.unique(a).tolist()) == {0, 1}
    iou = ((a == 1) & (b == 1)).sum() / ((a == 1) | (b == 1)).sum()
    assert iou > 0.99 and (a == 1).sum() > 20_000


def test_background_class_by_name_or_setting():
    cm = ClassMap.from_spec({"building": 1, "Background": 0})
    assert background_class_id_of(cm) == 0  # by name, any case
    assert background_class_id_of(ClassMap.from_spec({"building": 1, "other": 0})) is None
    assert background_class_id_of(ClassMap.from_spec({"building": 1, "other": 0}, background_class_id=0)) == 0
    assert background_class_id_of(cm, 1) == 1  # a label source's own background wins
    # with "other" as the background, the features are buildings; without one, two candidates remain
    assert ClassResolver(ClassMap.from_spec({"building": 1, "other": 0}), background_class_id=0).implied_class_id == 1
    assert ClassResolver(ClassMap.from_spec({"building": 1, "other": 0})).implied_class_id is None


@pytest.mark.parametrize("task_type", TASKS)
def test_no_class_with_two_candidate_classes_is_an_error(data_dir, tmp_path, osm_buildings, task_type):
    """The error's example names a real class, never the background (id 0 here, named, not set)."""
    classes = {"background": (0, "black"), "building": (1, "red"), "tree": (2, "green")}
    task = _task(task_type, classes)
    with pytest.raises(DataError) as e:
        _labels(task, data_dir / "buildings" / "kampala_oam_a.tif", osm_buildings, tmp_path)
    message = str(e.value)
    assert f"Feature 0 of {osm_buildings} has no class" in message and "'osm_id': 400000000" in message
    assert "2 classes besides the background ('building' (1), 'tree' (2))" in message
    assert "(e.g. .with_default_class_id(1) for 'building')" in message
    assert "default_class_id=0" not in message and "with_default_class_id(0)" not in message


# ---------------------------------------------------- class names and ids


def test_neon_tree_names_in_another_case(data_dir, tmp_path, caplog):
    """NEON's trees: ``class_name`` "Tree" (class ``tree``) and ``class_id`` 0 of their own numbering."""
    trees = data_dir / "trees" / "neon_osbs_029_trees.geojson"
    image = data_dir / "trees" / "neon_osbs_029.tif"
    task = _task(rv.OBJECT_DETECTION, {"tree": (1, "green")})
    # As delivered, the class_id 0 wins and is not a class of the map: the error says how to read the names.
    with pytest.raises(DataError) as e:
        _labels(task, image, trees, tmp_path)
    message = str(e.value)
    assert f"Feature 0 of {trees} has property 'class_id' = 0, which is not a class id of the class map" in message
    assert "(ids: [1], names: ['tree'])" in message
    assert "'class_name' 'Tree' is class 'tree' (1)" in message and ".with_class_id_property(None)" in message

    source = rv.LabelSourceConfig.builder(rv.OBJECT_DETECTION_GEOJSON).with_uri(str(trees)).with_class_id_property(None)
    with caplog.at_level(logging.INFO, logger=READER_LOG):
        labels = _labels(task, image, source, tmp_path).get_labels()
    assert len(labels) == 61 and set(labels.class_ids.tolist()) == {1}
    assert not _implied_records(caplog, trees)  # every feature named its class

    # Without the class_id property (a GIS export that kept the name only), "Tree" is read as tree.
    named = _rewrite(trees, tmp_path / "named_trees.geojson", lambda i, p: {"class_name": p["class_name"]})
    again = _labels(task, image, named, tmp_path).get_labels()
    np.testing.assert_array_equal(again.boxes, labels.boxes)
    assert set(again.class_ids.tolist()) == {1}


@pytest.mark.parametrize("task_type", [rv.SEMANTIC_SEGMENTATION, rv.CHIP_CLASSIFICATION])
def test_upper_case_class_names(data_dir, tmp_path, osm_buildings, task_type):
    classes = {"background": (0, "black"), "building": (1, "red"), "tree": (2, "green")}
    task = _task(task_type, classes, 0)
    upper = _rewrite(osm_buildings, tmp_path / "upper.geojson", lambda i, p: p | {"class_name": "BUILDING"})
    image = data_dir / "buildings" / "kampala_oam_a.tif"
    labels = _labels(task, image, upper, tmp_path)
    assert (_feature_class_ids(labels) == 1).all()
    explicit = _labels(task, image, _with_default_class(task, osm_buildings, 1), tmp_path)
    np.testing.assert_array_equal(_ground_truth(labels), _ground_truth(explicit))


def test_a_name_matching_two_classes_when_case_is_ignored(tmp_path):
    resolver = ClassResolver(ClassMap.from_spec({"tree": 1, "Tree": 2}))
    assert resolver.resolve({"class_name": "Tree"}, 0, "x.geojson") == 2  # exact match first
    with pytest.raises(DataError, match=r"'TREE', which is not a class name .* matches the classes \['tree', 'Tree'\]"):
        resolver.resolve({"class_name": "TREE"}, 3, "x.geojson")


@pytest.mark.parametrize("task_type", TASKS)
def test_unknown_class_id_names_property_value_and_class_map(data_dir, tmp_path, osm_buildings, task_type):
    odd = _rewrite(osm_buildings, tmp_path / "odd.geojson", lambda i, p: p | {"class_id": 7 if i == 5 else 1})
    task = _task(task_type, BUILDING_AND_BACKGROUND, 0)
    with pytest.raises(DataError) as e:
        _labels(task, data_dir / "buildings" / "kampala_oam_a.tif", odd, tmp_path)
    assert (
        f"Feature 5 of {odd} has property 'class_id' = 7, which is not a class id of the class map "
        "(ids: [0, 1], names: ['background', 'building'])"
    ) in str(e.value)


# ------------------------------------------------------------ input check


def _segmentation_experiment(data_dir, tmp_path, backend_key, task):
    buildings = data_dir / "buildings"

    def scene(scene_id, image):
        return (rv.SceneConfig.builder().with_task(task).with_id(scene_id).with_raster_source(str(buildings / image))
                .with_label_source(str(buildings / "kampala_buildings.geojson")).build())

    dataset = (rv.DatasetConfig.builder().with_train_scenes([scene("kampala_a", "kampala_oam_a.tif")])
               .with_validation_scenes([scene("kampala_b", "kampala_oam_b.tif")]))
    backend = rv.BackendConfig.builder(backend_key).with_task(task).build()
    return (rv.ExperimentConfig.builder().with_id("buildings").with_task(task).with_backend(backend)
            .with_dataset(dataset).with_root_uri(str(tmp_path / "out")).build())


def test_input_check_accepts_footprints_without_class(no_backend, data_dir, tmp_path, caplog):
    """The documented experiment: a bare URI of footprints and the building/background class map."""
    from rv.command.dag import build_plan
    from rv.command.preflight import preflight

    task = _task(rv.SEMANTIC_SEGMENTATION, BUILDING_AND_BACKGROUND, 0)
    experiment = _segmentation_experiment(data_dir, tmp_path, no_backend, task)
    with caplog.at_level(logging.INFO, logger=READER_LOG):
        preflight(build_plan([experiment], ["CHIP"], check_inputs=True))
    records = _implied_records(caplog, data_dir / "buildings" / "kampala_buildings.geojson")
    assert len(records) == 2  # one line per scene's read of the file
    assert all("206 of 206 features" in r.getMessage() and "'building' (1)" in r.getMessage() for r in records)

    # With two classes the features could be, the input check stops with an example that is a real class.
    task = _task(rv.SEMANTIC_SEGMENTATION, BUILDING_AND_BACKGROUND | {"tree": (2, "green")}, 0)
    experiment = _segmentation_experiment(data_dir, tmp_path, no_backend, task)
    with pytest.raises(DataError) as e:
        preflight(build_plan([experiment], ["CHIP"], check_inputs=True))
    message = str(e.value)
    assert message.startswith("The input check found 2 problems")  # both scenes, each named
    assert "kampala_buildings.geojson has no class" in message and ".with_default_class_id(1)" in message
