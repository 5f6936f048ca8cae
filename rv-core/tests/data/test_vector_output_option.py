"""``with_vector_output`` of the segmentation raster store: True or False, never a list taken as True.

Later Raster Vision releases take a per-class list
(``[{"mode": "polygons", "class_id": 1, "denoise": 3}]``); rv writes every
class's polygons with no mode or denoising, so the list is refused with the
forms rv takes instead of becoming ``vector_output=True`` in silence.
"""

from __future__ import annotations

import pytest

import rv
from rv.errors import ConfigError

LATER_FORM = [{"mode": "polygons", "class_id": 1, "denoise": 3}]


def _builder():
    return rv.LabelStoreConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_uri("out/scene.tif")


def test_true_and_false_still_work():
    on = _builder().with_vector_output(True).build()
    assert on.vector_output is True and on.output_uris() == ["out/scene.tif", "out/scene-polygons.geojson"]
    assert _builder().with_vector_output().build().vector_output is True
    off = _builder().with_vector_output(False).build()
    assert off.vector_output is False and off.output_uris() == ["out/scene.tif"]
    assert _builder().with_vector_output(True, crs="source").build().vector_crs == "source"


@pytest.mark.parametrize("value", [LATER_FORM, LATER_FORM[0], "out/polygons.geojson", 3, None])
def test_anything_else_is_refused_with_the_forms_rv_takes(value):
    with pytest.raises(ConfigError) as info:
        _builder().with_vector_output(value)
    text = str(info.value)
    assert text.startswith("with_vector_output takes True or False"), text
    assert repr(value) in text and "with_vector_output(True)" in text and "class_id" in text, text


def test_the_later_list_form_is_named_as_such():
    with pytest.raises(ConfigError, match="per-class list of later Raster Vision releases") as info:
        _builder().with_vector_output(LATER_FORM)
    assert "denoise" in str(info.value) and "-polygons.geojson" in str(info.value)
