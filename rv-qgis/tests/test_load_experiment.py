"""``rv:load_experiment`` in real QGIS: layers, names, groups, CRS and styles of a real experiment."""

from __future__ import annotations

import rasterio

LOAD_ALL = """
    feedback = QgsProcessingFeedback()
    out = processing.run("rv:load_experiment", {"EXPERIMENT": os.environ["EXPERIMENT"]}, feedback=feedback)
    project = QgsProject.instance()
    groups = {g.name(): [l.name() for l in g.findLayers()] for g in project.layerTreeRoot().findGroups()}
    layers = {l.name(): describe(l) for l in project.mapLayers().values()}
    result({"loaded": out["LOADED"], "groups": groups, "layers": layers, "project_crs": project.crs().authid()})
"""

#: the experiment's class map as QGIS shows it: value, colour, name
CLASSES = [[1, "#006400", "forest"], [2, "#90ee90", "grass"], [3, "#808080", "urban"], [4, "#0000ff", "water"]]


def scene_groups(train, valid, valid_layers):
    """The layer groups of a loaded experiment of one training and one validation scene, layers top to
    bottom: the training scene's AOI, ground truth and image; the validation scene's ``valid_layers``
    (``predictions``...), ground truth and image."""
    return {
        f"train-{train}": [f"train-{train}-aoi", f"train-{train}-ground_truth", f"train-{train}"],
        f"val-{valid}": [
            *(f"val-{valid}-{layer}" for layer in valid_layers),
            f"val-{valid}-ground_truth",
            f"val-{valid}",
        ],
    }


def test_layers_are_named_grouped_and_styled_as_in_raster_vision(run_qgis, landcover_run):
    got = run_qgis(LOAD_ALL, EXPERIMENT=landcover_run.experiment)

    assert got["groups"] == scene_groups("tile4-train", "tile4-valid", ["predictions-polygons", "predictions"])
    assert got["loaded"] == 7
    layers = got["layers"]
    with rasterio.open(landcover_run.image) as image:
        crs = f"EPSG:{image.crs.to_epsg()}"
    assert got["project_crs"] == crs
    for name in ("train-tile4-train", "val-tile4-valid", "val-tile4-valid-ground_truth", "val-tile4-valid-predictions"):
        assert layers[name]["crs"] == crs, name
    # the image as the model saw it: channel order [2, 1, 0] as red, green, blue
    assert layers["val-tile4-valid"]["renderer"] == "multibandcolor"
    assert layers["val-tile4-valid"]["bands"] == [3, 2, 1]
    for name in ("train-tile4-train-ground_truth", "val-tile4-valid-ground_truth", "val-tile4-valid-predictions"):
        assert layers[name]["renderer"] == "paletted", name
        assert layers[name]["classes"] == CLASSES, name
    polygons = layers["val-tile4-valid-predictions-polygons"]
    assert polygons["renderer"] == "categorizedSymbol"
    assert polygons["field"] == "class_id"
    assert polygons["classes"] == CLASSES
    assert layers["train-tile4-train-aoi"]["renderer"] == "singleSymbol"


SELECT = """
    project = QgsProject.instance()
    out = processing.run("rv:load_experiment", {
        "EXPERIMENT": os.environ["EXPERIMENT"], "SPLITS": [1], "LAYERS": [1, 2], "SCENES": "tile4-valid",
        "STYLE_PROFILE": "grey"})
    names = sorted(l.name() for l in project.mapLayers().values())
    truth = project.mapLayersByName("val-tile4-valid-ground_truth")[0]
    errors = {}
    for name, params in {
        "unknown_scene": {"SCENES": "tile9"},
        "missing_file": {"EXPERIMENT": os.path.join(os.path.dirname(os.environ["EXPERIMENT"]), "gone.json")},
        "not_an_experiment": {"EXPERIMENT": os.environ["NOT_EXPERIMENT"]},
        "unknown_profile": {"STYLE_PROFILE": "nope"},
    }.items():
        try:
            processing.run("rv:load_experiment", dict({"EXPERIMENT": os.environ["EXPERIMENT"]}, **params))
            errors[name] = None
        except QgsProcessingException as exc:
            errors[name] = str(exc)
    result({"names": names, "truth_renderer": truth.renderer().type(), "errors": errors})
"""


def test_choose_scenes_layers_and_a_style_profile_and_bad_inputs_are_messages(run_qgis, landcover_run, tmp_path):
    # A style profile: a QML (single band grey) for the ground truth layers.
    qml = tmp_path / "grey.qml"
    make_qml = f"""
    layer = QgsRasterLayer({str(landcover_run.predictions)!r}, "p")
    from qgis.core import QgsSingleBandGrayRenderer
    layer.setRenderer(QgsSingleBandGrayRenderer(layer.dataProvider(), 1))
    layer.saveNamedStyle({str(qml)!r})
    plugin_settings = __import__("rv.settings", fromlist=["x"])
    plugin_settings.set_style_profiles({{"grey": {{"ground_truth": {str(qml)!r}}}}})
    """
    not_experiment = tmp_path / "eval.json"
    not_experiment.write_text('{"overall": {}}', encoding="utf-8")
    got = run_qgis(make_qml + SELECT, EXPERIMENT=landcover_run.experiment, NOT_EXPERIMENT=not_experiment)

    assert got["names"] == [
        "val-tile4-valid-ground_truth",
        "val-tile4-valid-predictions",
        "val-tile4-valid-predictions-polygons",
    ]
    assert got["truth_renderer"] == "singlebandgray"
    errors = got["errors"]
    assert "no scene tile9" in errors["unknown_scene"] and "tile4-train, tile4-valid" in errors["unknown_scene"]
    assert "experiments/gone.json does not exist" in errors["missing_file"]
    assert "is not an rv experiment config" in errors["not_an_experiment"]
    assert "no style profile 'nope'" in errors["unknown_profile"] and "grey" in errors["unknown_profile"]


LOAD_DETECTION = """
    from qgis.core import QgsExpressionContextUtils, QgsRenderContext
    processing.run("rv:load_experiment", {"EXPERIMENT": os.environ["EXPERIMENT"]})
    project = QgsProject.instance()
    groups = {g.name(): [l.name() for l in g.findLayers()] for g in project.layerTreeRoot().findGroups()}
    layers = {}
    for layer in project.mapLayers().values():
        info = describe(layer)
        if isinstance(layer, QgsVectorLayer):
            # how many of its features QGIS draws (a feature of no category is not drawn)
            renderer = layer.renderer().clone()
            context = QgsRenderContext()
            context.expressionContext().appendScopes(QgsExpressionContextUtils.globalProjectLayerScopes(layer))
            renderer.startRender(context, layer.fields())
            drawn = 0
            for feature in layer.getFeatures():
                context.expressionContext().setFeature(feature)
                drawn += renderer.willRenderFeature(feature, context)
            info["drawn"] = drawn
            renderer.stopRender(context)
            info["features"] = layer.featureCount()
        layers[layer.name()] = info
    result({"groups": groups, "layers": layers, "project_crs": project.crs().authid()})
"""


def test_a_detection_experiment_shows_boxes_in_class_colours(run_qgis, trees_run):
    got = run_qgis(LOAD_DETECTION, EXPERIMENT=trees_run.detection.experiment)

    assert got["groups"] == scene_groups("osbs-train", "osbs-valid", ["aoi", "predictions"])
    layers = got["layers"]
    assert got["project_crs"] == "EPSG:32617"  # the imagery's
    assert layers["val-osbs-valid"]["crs"] == "EPSG:32617" and layers["val-osbs-valid"]["renderer"] == "multibandcolor"
    # boxes: categorized by class, the class map's yellow "tree"
    for name in ("val-osbs-valid-ground_truth", "val-osbs-valid-predictions", "train-osbs-train-ground_truth"):
        boxes = layers[name]
        assert boxes["crs"] == "EPSG:4326", name  # GeoJSON
        assert boxes["renderer"] == "categorizedSymbol", name
        assert boxes["classes"] == [[1, "#ffff00", "tree"]], name
        assert boxes["features"] > 0 and boxes["drawn"] == boxes["features"], name
    # the ground truth's features say class_id 0, class_name "Tree": the label source maps "Tree" to class 1
    assert "Tree" in layers["val-osbs-valid-ground_truth"]["field"]
    assert layers["val-osbs-valid-predictions"]["field"] == "class_id"
    assert layers["val-osbs-valid-aoi"]["renderer"] == "singleSymbol"
