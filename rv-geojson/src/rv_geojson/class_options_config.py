"""How a GeoJSON feature's class is found: the options every rv-geojson label source shares.

A :class:`GeoJSONClassOptions` is nested in the configs of ``GEOJSON_SOURCE``,
``CHIP_CLASSIFICATION_GEOJSON`` and ``OBJECT_DETECTION_GEOJSON`` (field
``class_options``) and handed as it is to their entities; their builders get
the ``with_class_*`` methods of :class:`ClassOptionsBuilderMixin`. The rule
itself lives in :class:`rv_geojson.geojson_reader.ClassResolver`
(``ClassResolver.from_options``).

Light module: imported at plugin discovery, it imports only ``rv`` and attrs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from rv.config import Config, field
from rv.errors import ConfigError


@attrs.frozen
class GeoJSONClassOptions(Config):
    """Where each feature's class comes from; the first rule that applies wins.

    1. ``property_name``: that property's value, looked up in
       ``property_mapping`` (value → class id or class name) when given, else
       read as a class id or class name;
    2. ``class_id_property`` (default ``"class_id"``);
    3. ``class_name_property`` (default ``"class_name"``);
    4. ``default_class_id`` (e.g. every feature of a footprint file is a building);
    5. when the class map has exactly one class besides the background, that
       class (said once per file in the log); with several, a feature without
       a class is an error.

    Class names match regardless of case when only one class matches
    (``"Tree"`` is class ``tree``); other properties are ignored.
    """

    class_id_property: str | None = field(default="class_id", doc="feature property holding a class id")
    class_name_property: str | None = field(default="class_name", doc="feature property holding a class name")
    property_name: str | None = field(
        default=None, doc="feature property holding the class (read through property_mapping when given)"
    )
    # A dict is not hashable: left out of the hash, still compared by ==.
    property_mapping: dict[str, Any] | None = field(
        default=None, hash=False, doc="value of property_name → class id or class name (keys compared as text too)"
    )
    default_class_id: int | None = field(
        default=None,
        doc="class of features no property classifies (unset: the class map's only class besides the background, "
        "if it has just one)",
    )

    def validate(self) -> None:
        if self.property_mapping is not None and self.property_name is None:
            raise ConfigError(
                "property_mapping was given without property_name; name the feature property it applies to: "
                ".with_class_property('landuse', {'residential': 'building'})."
            )


class ClassOptionsBuilderMixin:
    """``with_class_*`` methods for builders of configs with a ``class_options`` field."""

    def _class_options(self) -> GeoJSONClassOptions:
        return self.values.get("class_options") or GeoJSONClassOptions()  # type: ignore[attr-defined]

    def _with_class_options(self, **changes: Any):
        options = attrs.evolve(self._class_options(), **changes)
        options.validate()
        return self._with(class_options=options)  # type: ignore[attr-defined]

    def with_class_options(self, **options: Any):
        """Set any of ``class_id_property``, ``class_name_property``, ``property_name``,
        ``property_mapping``, ``default_class_id`` (see :class:`GeoJSONClassOptions`)."""
        known = [f.name for f in attrs.fields(GeoJSONClassOptions)]
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ConfigError(f"Unknown class option(s) {unknown}; known: {', '.join(known)}.")
        if options.get("property_mapping") is not None:
            options["property_mapping"] = _mapping(options["property_mapping"])
        return self._with_class_options(**options)

    def with_class_property(self, property_name: str, mapping: Mapping[Any, Any] | None = None):
        """Read each feature's class from ``property_name``, through ``mapping`` (value → class id or name) if given."""
        return self._with_class_options(
            property_name=property_name, property_mapping=None if mapping is None else _mapping(mapping)
        )

    def with_class_id_property(self, name: str | None):
        """The feature property holding a class id (None: do not look for one)."""
        return self._with_class_options(class_id_property=name)

    def with_class_name_property(self, name: str | None):
        """The feature property holding a class name (None: do not look for one)."""
        return self._with_class_options(class_name_property=name)

    def with_default_class_id(self, class_id: int | None):
        """The class of features that no property classifies (e.g. every feature is a building).

        Not needed when the class map has only one class besides the background: that class is the default.
        """
        return self._with_class_options(default_class_id=None if class_id is None else int(class_id))


def _mapping(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    """A JSON-safe mapping: keys as text (JSON object keys are strings), values as given."""
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"The class mapping must be a dict (value → class id or name), got {mapping!r:.80}.")
    return {str(k): v for k, v in mapping.items()}
