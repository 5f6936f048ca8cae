"""ClassMap: the spec forms users write, validation messages, colors and model indices."""

from __future__ import annotations

import numpy as np
import pytest

from rv.core.class_map import DEFAULT_PALETTE, IGNORE_CLASS_ID, ClassItem, ClassMap
from rv.errors import ConfigError


def test_list_of_names_numbers_from_one():
    cm = ClassMap.from_spec(["building", "background"], background_class_id="background")
    assert cm.ids == [1, 2] and cm.names == ["building", "background"]
    assert cm.background_class_id == 2
    assert cm.get_by_name("building").id == 1 and cm.get_by_id(2).name == "background"
    assert len(cm) == 2 and [it.name for it in cm] == ["building", "background"]


def test_dict_forms_and_colors():
    cm = ClassMap.from_spec({"water": (4, "blue"), "forest": (1, "#228b22"), "urban": 3})
    assert cm.ids == [1, 3, 4]  # sorted by id
    rgb = cm.colors_rgb()
    assert rgb[4] == (0, 0, 255) and rgb[1] == (34, 139, 34)
    # A class without a color gets the first palette color not already used.
    assert cm.get_by_id(3).color == DEFAULT_PALETTE[0]
    lut = cm.color_lut()
    assert lut.shape == (256, 3) and tuple(lut[4]) == (0, 0, 255) and tuple(lut[IGNORE_CLASS_ID]) == (0, 0, 0)


def test_round_trip_through_the_chips_json_form():
    cm = ClassMap.from_spec({"a": (0, "red"), "b": (7, "#00ff00")}, background_class_id=0)
    again = ClassMap.from_spec(cm.to_list(), background_class_id=cm.background_class_id)
    assert again == cm
    assert ClassMap.from_spec([ClassItem(1, "x", None)]).get_by_id(1).color == DEFAULT_PALETTE[0]


def test_model_indices_are_contiguous():
    cm = ClassMap.from_spec({"bg": 0, "building": 5, "road": 9})
    assert cm.id_to_index() == {0: 0, 5: 1, 9: 2}
    assert cm.index_to_id() == {0: 0, 1: 5, 2: 9}
    labels = np.array([[0, 5], [9, IGNORE_CLASS_ID]], dtype=np.uint8)
    idx = cm.id_to_index_lut()[labels]
    np.testing.assert_array_equal(idx, [[0, 1], [2, IGNORE_CLASS_ID]])
    np.testing.assert_array_equal(cm.index_to_id_lut()[idx], labels)


@pytest.mark.parametrize(
    "spec,kwargs,fragment",
    [
        ({"a": 1, "b": 1}, {}, "used by both 'a' and 'b'"),
        ({"a": 255}, {}, "reserved for ignored pixels"),
        ({"a": 300}, {}, "must be 0-254"),
        ({"a": -1}, {}, "must be 0-254"),
        ([{"id": 1, "name": "a"}, {"id": 2, "name": "a"}], {}, "appears twice"),
        ({"a": (1, "not-a-color")}, {}, "not a color"),
        ({"a": 1.5}, {}, "ids are ints"),
        ({"a": 1}, {"background_class_id": 3}, "not a class id"),
        ({"a": 1}, {"background_class_id": "nope"}, "names no class"),
        ([], {}, "empty"),
    ],
)
def test_invalid_class_maps_say_what_to_fix(spec, kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        ClassMap.from_spec(spec, **kwargs)


def test_unknown_lookups_name_the_known_classes():
    cm = ClassMap.from_spec(["a", "b"])
    with pytest.raises(ConfigError, match=r"names: \['a', 'b'\]"):
        cm.get_by_name("c")
    with pytest.raises(ConfigError, match=r"ids: \[1, 2\]"):
        cm.get_by_id(9)
    assert cm.has_id(1) and not cm.has_name("c") and 2 in cm


@pytest.mark.parametrize("name", ["background", "Background", "BACKGROUND"])
def test_a_class_named_background_is_the_background_when_none_is_set(name):
    # The class map a Raster Vision user writes, with no background class id.
    cm = ClassMap.from_spec({"building": (1, "red"), name: (0, "black")})
    assert cm.background_class_id == 0
    # One given explicitly wins; without such a name there is no background class.
    assert ClassMap.from_spec({"building": 1, name: 0, "other": 2}, background_class_id=2).background_class_id == 2
    assert ClassMap.from_spec({"building": 1, "bg": 0}).background_class_id is None
    assert ClassMap.from_spec({"building": 1, "background water": 0}).background_class_id is None


def test_two_classes_named_background_must_say_which_one():
    with pytest.raises(ConfigError, match=r"\['background', 'Background'\].*with_background_class_id"):
        ClassMap.from_spec({"background": 0, "Background": 2})
    assert ClassMap.from_spec({"background": 0, "Background": 2}, background_class_id=2).background_class_id == 2


def test_the_task_class_map_and_chips_json_follow_the_rule():
    import rv

    task = (
        rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
        .with_classes({"building": (1, "red"), "background": (0, "black")})
        .build()
    )
    assert task.background_class_id is None  # what the user set: nothing
    assert task.class_map.background_class_id == 0  # what rv uses
    # chips.json's class list read back without its background_class_id still knows the background.
    assert ClassMap.from_spec(task.class_map.to_list()).background_class_id == 0
