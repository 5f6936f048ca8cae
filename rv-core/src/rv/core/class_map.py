"""Class maps: the user's classes, their ids, names and colors.

Class ids are the user's own ints in ``0..254``; ``255``
(:data:`IGNORE_CLASS_ID`) marks pixels without a label (nodata, outside the
AOI) that losses and evaluation skip. Models see contiguous *indices*
``0..n-1`` instead; :meth:`ClassMap.id_to_index` and
:meth:`ClassMap.index_to_id` convert.

Imports only attrs and numpy at module level; matplotlib is imported inside
the color helpers.

**The background class.** A class map may name one class as the background
(what "nothing here" is: pixels no label covers, cells without an object).
When none is named, a class called ``background`` (in any case) is it, as a
Raster Vision user who writes ``{"building": 1, "background": 0}``
expects; with neither, there is no background class and pixels without a
label are ignored (255), never called background.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs
import numpy as np

from rv.errors import ConfigError
from rv.keys import IGNORE_CLASS_ID  # noqa: E402  (re-exported)

#: Colors given to classes that have none, in order of their id (tab10, then tab20's light shades).
DEFAULT_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
    "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)  # fmt: skip

#: The class name that makes a class the background when no background class is named (any case).
BACKGROUND_NAME = "background"

_HEX_RE = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8}|[0-9a-fA-F]{3})$")


def _css_rgb(color: str) -> tuple[int, int, int] | None:
    """``(r, g, b)`` of a hex string or a CSS/X11 colour name through Pillow (cheap), else ``None``."""
    from PIL import ImageColor

    try:
        rgb = ImageColor.getrgb(color)
    except ValueError:
        return None
    return tuple(int(v) for v in rgb[:3])  # type: ignore[return-value]


def color_to_rgb(color: str) -> tuple[int, int, int]:
    """``(r, g, b)`` ints 0–255 of a color string (``'red'``, ``'#ff0000'``, ``'tab:blue'``).

    Hex strings and CSS names are read by Pillow; only matplotlib's own names
    (``'tab:blue'``, ``'C0'``, ``'r'``) pay for importing matplotlib.
    """
    rgb = _css_rgb(color) if isinstance(color, str) and ":" not in color and len(color) > 2 else None
    if rgb is not None:
        return rgb
    import matplotlib.colors as mcolors

    try:
        r, g, b = mcolors.to_rgb(color)
    except ValueError:
        raise ConfigError(
            f"Class color {color!r} is not a color. Use a name matplotlib knows "
            "('red', 'tab:blue', 'forestgreen') or a hex string '#rrggbb'."
        ) from None
    return (round(r * 255), round(g * 255), round(b * 255))


def _check_color(color: str, name: str) -> None:
    if not isinstance(color, str):
        raise ConfigError(
            f"Class {name!r} has color {color!r} ({type(color).__name__}); colors are strings: "
            "a name like 'red' or a hex string '#rrggbb'."
        )
    if _HEX_RE.match(color):
        return
    try:
        color_to_rgb(color)
    except ConfigError:
        raise ConfigError(
            f"Class {name!r} has color {color!r}, which is not a color. Use a name matplotlib "
            "knows ('red', 'tab:blue', 'forestgreen') or a hex string '#rrggbb'."
        ) from None


@attrs.frozen
class ClassItem:
    """One class: its id (0–254), its name and its display color (or None for the default)."""

    id: int
    name: str
    color: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"id", "name", "color"}`` as written to ``chips.json`` and configs."""
        return {"id": self.id, "name": self.name, "color": self.color}


@attrs.frozen(init=False)
class ClassMap:
    """An ordered set of :class:`ClassItem`, sorted by id, with an optional background class.

    Ids must be unique ints in 0–254 (255 is :data:`IGNORE_CLASS_ID`), names
    unique and non-empty. Items without a color get one from
    :data:`DEFAULT_PALETTE` by position. Build from a user-friendly spec with
    :meth:`from_spec`. With ``background_class_id=None``, the class named
    ``background`` (any case), if there is one, is the background class
    (:func:`named_background_id`).
    """

    items: tuple[ClassItem, ...]
    background_class_id: int | None

    def __init__(self, items: Iterable[ClassItem], background_class_id: int | None = None):
        items = tuple(items)
        for item in items:
            if not isinstance(item, ClassItem):
                raise ConfigError(f"ClassMap items must be ClassItem, got {item!r}; use ClassMap.from_spec(...).")
        _validate(items, background_class_id)
        if background_class_id is None:
            background_class_id = named_background_id(items)
        items = tuple(sorted(items, key=lambda it: it.id))
        used = {it.color for it in items if it.color is not None}
        free = [c for c in DEFAULT_PALETTE if c not in used] or list(DEFAULT_PALETTE)
        filled = []
        n_free = 0
        for item in items:
            if item.color is None:
                item = attrs.evolve(item, color=free[n_free % len(free)])
                n_free += 1
            filled.append(item)
        self.__attrs_init__(tuple(filled), background_class_id)

    # -------------------------------------------------------------- building

    @classmethod
    def from_spec(cls, spec: Any, background_class_id: int | None = None) -> ClassMap:
        """Build a class map from any of the forms users write.

        - ``["building", "background"]``: names, ids 1..n in list order;
        - ``{"building": 1, "background": 2}``: name → id;
        - ``{"building": (1, "red"), "background": (2, "#000000")}``: name → (id, color);
        - ``[{"id": 1, "name": "building", "color": "red"}, ...]`` or ``ClassItem``s
          (the form written to ``chips.json``);
        - an existing ``ClassMap`` (returned unchanged unless ``background_class_id`` is given).

        ``background_class_id`` may also be given as a class *name*.
        """
        if isinstance(spec, ClassMap):
            if background_class_id is None:
                return spec
            return cls(spec.items, _resolve_background(spec.items, background_class_id))
        items: list[ClassItem] = []
        if isinstance(spec, Mapping):
            for name, value in spec.items():
                if isinstance(value, (tuple, list)):
                    if len(value) != 2:
                        raise ConfigError(f"Class {name!r} maps to {value!r}; use name -> id or name -> (id, color).")
                    items.append(ClassItem(_check_id(value[0], name), str(name), value[1]))
                else:
                    items.append(ClassItem(_check_id(value, name), str(name), None))
        elif isinstance(spec, (list, tuple)):
            for i, entry in enumerate(spec):
                if isinstance(entry, ClassItem):
                    items.append(entry)
                elif isinstance(entry, Mapping):
                    missing = {"id", "name"} - set(entry)
                    if missing:
                        raise ConfigError(
                            f"Class map entry {dict(entry)!r} lacks {sorted(missing)}; "
                            "entries are {'id': int, 'name': str, 'color': str (optional)}."
                        )
                    items.append(
                        ClassItem(_check_id(entry["id"], entry["name"]), str(entry["name"]), entry.get("color"))
                    )
                elif isinstance(entry, str):
                    items.append(ClassItem(i + 1, entry, None))
                else:
                    raise ConfigError(
                        f"Class map entry {entry!r} is not understood; give class names, "
                        "{'id', 'name', 'color'} dicts or ClassItem objects."
                    )
        else:
            raise ConfigError(
                f"Class map spec {spec!r} is not understood; give a list of names, "
                "a dict name -> id, or a dict name -> (id, color)."
            )
        return cls(items, _resolve_background(items, background_class_id))

    def to_list(self) -> list[dict[str, Any]]:
        """``[{"id", "name", "color"}, ...]`` (the ``chips.json`` form; :meth:`from_spec` reads it)."""
        return [item.to_dict() for item in self.items]

    # --------------------------------------------------------------- lookups

    def get_by_id(self, class_id: int) -> ClassItem:
        """The class with this id; ``ConfigError`` naming the known ids otherwise."""
        for item in self.items:
            if item.id == class_id:
                return item
        raise ConfigError(f"Class id {class_id!r} is not in the class map (ids: {self.ids}).")

    def get_by_name(self, name: str) -> ClassItem:
        """The class with this name; ``ConfigError`` naming the known names otherwise."""
        for item in self.items:
            if item.name == name:
                return item
        raise ConfigError(f"Class name {name!r} is not in the class map (names: {self.names}).")

    def has_id(self, class_id: int) -> bool:
        """True when a class has this id."""
        return any(item.id == class_id for item in self.items)

    def has_name(self, name: str) -> bool:
        """True when a class has this name."""
        return any(item.name == name for item in self.items)

    @property
    def ids(self) -> list[int]:
        """Class ids, ascending."""
        return [item.id for item in self.items]

    @property
    def names(self) -> list[str]:
        """Class names in id order."""
        return [item.name for item in self.items]

    @property
    def colors(self) -> list[str]:
        """Color strings in id order."""
        return [item.color for item in self.items]  # type: ignore[misc]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[ClassItem]:
        return iter(self.items)

    def __contains__(self, class_id: object) -> bool:
        return any(item.id == class_id for item in self.items)

    # ---------------------------------------------------------------- colors

    def colors_rgb(self) -> dict[int, tuple[int, int, int]]:
        """Class id → ``(r, g, b)`` uint8 values."""
        return {item.id: color_to_rgb(item.color) for item in self.items}  # type: ignore[arg-type]

    def color_lut(self, ignore_color: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
        """``(256, 3)`` uint8 lookup table class id → RGB (``lut[label_arr]`` paints a label array).

        Ids not in the map, and 255, get ``ignore_color``.
        """
        lut = np.zeros((256, 3), dtype=np.uint8)
        lut[:] = ignore_color
        for class_id, rgb in self.colors_rgb().items():
            lut[class_id] = rgb
        return lut

    # ----------------------------------------------------- model indices

    def id_to_index(self) -> dict[int, int]:
        """Class id → contiguous model index ``0..n-1`` (in id order)."""
        return {item.id: i for i, item in enumerate(self.items)}

    def index_to_id(self) -> dict[int, int]:
        """Contiguous model index → class id."""
        return {i: item.id for i, item in enumerate(self.items)}

    def id_to_index_lut(self) -> np.ndarray:
        """``(256,)`` uint8 lookup table id → index; unknown ids and 255 map to 255 (ignore)."""
        lut = np.full(256, IGNORE_CLASS_ID, dtype=np.uint8)
        for i, item in enumerate(self.items):
            lut[item.id] = i
        return lut

    def index_to_id_lut(self) -> np.ndarray:
        """``(256,)`` uint8 lookup table index → id; indices ≥ n and 255 map to 255."""
        lut = np.full(256, IGNORE_CLASS_ID, dtype=np.uint8)
        for i, item in enumerate(self.items):
            lut[i] = item.id
        return lut


# ---------------------------------------------------------------- validation


def _check_id(value: Any, name: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"Class {name!r} has id {value!r}; class ids are ints in 0-254.")
    return int(value)


def named_background_id(items: Iterable[ClassItem]) -> int | None:
    """The id of the class named ``background`` in any case (``"Background"``, ``"BACKGROUND"``), or None.

    This is the background class of a class map that names none. Two such
    classes (``background`` and ``Background``) are a ``ConfigError``: which
    one is meant must be said with ``background_class_id``.
    """
    found = [item for item in items if isinstance(item.name, str) and item.name.casefold() == BACKGROUND_NAME]
    if len(found) > 1:
        raise ConfigError(
            f"Classes {[it.name for it in found]} (ids {[it.id for it in found]}) are all named background; "
            "say which one is the background class with with_background_class_id(id), or rename the others."
        )
    return found[0].id if found else None


def _resolve_background(items: Iterable[ClassItem], background: int | str | None) -> int | None:
    if isinstance(background, str):
        for item in items:
            if item.name == background:
                return item.id
        raise ConfigError(
            f"background_class_id {background!r} names no class (names: {[it.name for it in items]}); "
            "give one of the class names or ids."
        )
    return background


def _validate(items: tuple[ClassItem, ...], background_class_id: int | None) -> None:
    if not items:
        raise ConfigError("The class map is empty; give at least one class, e.g. ClassMap.from_spec(['building']).")
    seen_ids: dict[int, str] = {}
    seen_names: set[str] = set()
    for item in items:
        _check_id(item.id, item.name)
        if not 0 <= item.id <= 254:
            hint = (
                f"{IGNORE_CLASS_ID} is reserved for ignored pixels (rv.IGNORE_CLASS_ID)"
                if item.id == IGNORE_CLASS_ID
                else "ids are stored as uint8"
            )
            raise ConfigError(f"Class {item.name!r} has id {item.id}; class ids must be 0-254 ({hint}). Renumber it.")
        if item.id in seen_ids:
            raise ConfigError(
                f"Class id {item.id} is used by both {seen_ids[item.id]!r} and {item.name!r}; give each class its own id."
            )
        if not isinstance(item.name, str) or not item.name:
            raise ConfigError(f"Class id {item.id} has name {item.name!r}; names are non-empty strings.")
        if item.name in seen_names:
            raise ConfigError(f"Class name {item.name!r} appears twice; class names must be unique.")
        if item.color is not None:
            _check_color(item.color, item.name)
        seen_ids[item.id] = item.name
        seen_names.add(item.name)
    if background_class_id is not None and background_class_id not in seen_ids:
        raise ConfigError(
            f"background_class_id {background_class_id!r} is not a class id (ids: {sorted(seen_ids)}); "
            "use one of them or None."
        )
