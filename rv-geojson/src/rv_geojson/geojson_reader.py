"""Read GeoJSON label files into pixel-space shapely geometries of one scene.

Every GeoJSON consumer in rv-geojson (label sources, the rasterizing raster
source, AOIs) goes through :func:`read_pixel_features`: it parses the file
(local path or any URI rv's file utilities can read), works out its CRS
(RFC 7946 WGS84 lon/lat unless a legacy ``crs`` member says otherwise),
reprojects every geometry to the raster's CRS with pyproj in one vectorized
call, maps it to pixel coordinates (x = column, y = row), repairs invalid
polygons, buffers points and lines when asked, and resolves each feature's
class against the class map. A raster without a CRS takes the file's
coordinates as its own (pixels for a plain image) but refuses a file that is
plainly georeferenced (a ``crs`` member, or WGS84 degrees smaller than a
pixel). Bad input raises :class:`rv.errors.DataError` naming the file, the
feature and the fix.

One concept, one module (over 500 lines): one GeoJSON file made into pixel
features of a scene — parsing, CRS, reprojection, repair and class
resolution (:class:`ClassResolver`) are steps of :func:`read_pixel_features`
that no other module uses apart.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from shapely.geometry import shape

from rv.core.geojson import GEOJSON_DEFAULT_CRS as _CORE_DEFAULT_CRS
from rv.errors import ConfigError, DataError

if TYPE_CHECKING:
    from rv_geojson.class_options_config import GeoJSONClassOptions

log = logging.getLogger(__name__)

#: CRS of a GeoJSON file without a ``crs`` member (RFC 7946: WGS84, lon/lat order).
GEOJSON_DEFAULT_CRS = _CORE_DEFAULT_CRS

_POLYGONAL = ("Polygon", "MultiPolygon")
_LINEAR = ("LineString", "MultiLineString", "LinearRing")
_PUNCTUAL = ("Point", "MultiPoint")
_GEOMETRY_TYPES = _POLYGONAL + _LINEAR + _PUNCTUAL + ("GeometryCollection",)

# How many feature indices a message lists before it says "and N more".
_MAX_LISTED = 10


class GeoJSONWarning(UserWarning):
    """Something in a GeoJSON file was repaired, dropped or clipped; the run goes on."""


# ---------------------------------------------------------------------------
# Text, JSON and CRS
# ---------------------------------------------------------------------------


def read_text(uri: Any) -> str:
    """UTF-8 text of a local path or any URI rv's file utilities read (``s3://``, ``http(s)://``, ``memory://``)."""
    from rv import file_utils

    uri = str(uri)
    data = file_utils.read_bytes(uri)  # MissingFileError (a DataError) names a missing file
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(
            f"GeoJSON file {uri} is not UTF-8 text (byte {e.start}: {data[e.start : e.start + 4]!r}). "
            "RFC 7946 GeoJSON is UTF-8; re-export the file as UTF-8."
        ) from None


def parse_geojson(text: str, uri: Any) -> dict[str, Any]:
    """Parse GeoJSON text into a FeatureCollection dict.

    A single Feature or a bare geometry is wrapped in a FeatureCollection
    (AOIs are often saved that way). Invalid JSON raises a ``DataError``
    naming the file and the line and column of the problem.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(
            f"GeoJSON file {uri} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno} "
            f"(character {e.pos}). Fix the file there (`python -m json.tool {uri}` shows the same "
            "position) or export it again from your GIS."
        ) from None
    if not isinstance(doc, dict) or "type" not in doc:
        raise DataError(
            f"GeoJSON file {uri} holds a JSON {type(doc).__name__} without a 'type' member, not GeoJSON. "
            'Give a FeatureCollection: {"type": "FeatureCollection", "features": [...]}.'
        )
    kind = doc["type"]
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise DataError(
                f"GeoJSON file {uri} is a FeatureCollection whose 'features' member is "
                f"{type(features).__name__}, not a list. Put the features in a list."
            )
        return doc
    if kind == "Feature":
        return {k: v for k, v in doc.items() if k == "crs"} | {"type": "FeatureCollection", "features": [doc]}
    if kind in _GEOMETRY_TYPES:
        feature = {"type": "Feature", "geometry": {k: v for k, v in doc.items() if k != "crs"}, "properties": {}}
        return {k: v for k, v in doc.items() if k == "crs"} | {"type": "FeatureCollection", "features": [feature]}
    raise DataError(f"GeoJSON file {uri} has type {kind!r}; rv reads a FeatureCollection, a Feature or a geometry.")


def read_geojson(uri: Any) -> dict[str, Any]:
    """Read and parse a GeoJSON file into a FeatureCollection dict (see :func:`parse_geojson`)."""
    return parse_geojson(read_text(uri), uri)


def geojson_crs(doc: Mapping[str, Any], uri: Any) -> str:
    """The CRS of a parsed GeoJSON document as a string pyproj and rasterio accept.

    RFC 7946 files have no ``crs`` member and are WGS84 lon/lat
    (``"EPSG:4326"``, read in x=lon, y=lat order). A legacy (GeoJSON 2008)
    ``crs`` member is honoured: ``{"type": "name", "properties": {"name":
    "urn:ogc:def:crs:EPSG::32616"}}`` or ``"EPSG:32616"``, and the older
    ``{"type": "EPSG", "properties": {"code": 32616}}``.
    """
    member = doc.get("crs")
    if member is None:
        return GEOJSON_DEFAULT_CRS
    name: Any = None
    if isinstance(member, str):
        name = member
    elif isinstance(member, Mapping):
        props = member.get("properties") or {}
        if member.get("type") == "name":
            name = props.get("name")
        elif str(member.get("type", "")).upper() == "EPSG" and "code" in props:
            name = f"EPSG:{props['code']}"
    if not name:
        raise DataError(
            f"GeoJSON file {uri} has a crs member {member!r} that rv cannot read. Use "
            '{"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::<code>"}}, '
            "or drop the member and write WGS84 lon/lat coordinates (RFC 7946)."
        )
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        crs = CRS.from_user_input(name)
    except CRSError:
        raise DataError(
            f"GeoJSON file {uri} declares the CRS {name!r}, which PROJ does not know. Give an EPSG code "
            "such as 'urn:ogc:def:crs:EPSG::32616', or reproject the file to WGS84 and drop the crs member."
        ) from None
    if crs.name.endswith("CRS84") or crs.to_string() in ("OGC:CRS84", "OGC:CRS83"):
        # CRS84 is WGS84 in lon/lat order, exactly what always_xy reads EPSG:4326 as.
        return GEOJSON_DEFAULT_CRS
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg is not None else crs.to_wkt()


# ---------------------------------------------------------------------------
# Classes
# ---------------------------------------------------------------------------


def background_class_id_of(class_map: Any, background_class_id: int | None = None) -> int | None:
    """The id of the class that means "nothing here", or None when there is none.

    A label source's own ``background_class_id`` wins, then the class map's;
    without either, a class named ``background`` in any case is the background
    (``{"building": (1, "red"), "background": (0, "black")}`` says so by name).
    """
    if background_class_id is not None:
        return int(background_class_id)
    if getattr(class_map, "background_class_id", None) is not None:
        return int(class_map.background_class_id)
    named = [int(item.id) for item in class_map if str(item.name).strip().casefold() == "background"]
    return named[0] if len(named) == 1 else None


def source_background_class_id(class_map: Any, background_class_id: int | None, uri: Any) -> int | None:
    """A label source's background class: its own ``background_class_id``, else the class map's (or None).

    Raises:
        ConfigError: the id is not in the class map.
    """
    if background_class_id is None:
        background_class_id = class_map.background_class_id
    if background_class_id is not None and background_class_id not in class_map.ids:
        raise ConfigError(
            f"background_class_id {background_class_id} for {uri} is not in the class map "
            f"(ids: {class_map.ids}); give one of its ids."
        )
    return background_class_id


def _given(props: Mapping[str, Any], name: str | None) -> bool:
    """True when the feature has a value for property ``name``.

    Null and blank text count as no value: shapefiles cannot store a null
    text attribute, so GIS exports write "" for a feature without one.
    """
    if not name:
        return False
    value = props.get(name)
    return value is not None and not (isinstance(value, str) and not value.strip())


class ClassResolver:
    """Finds each feature's class id from its properties.

    The first rule that applies wins:

    1. ``property_name`` (when given): the feature's value of that property,
       looked up in ``property_mapping`` (value → class id or class name) when
       given — a value missing from it is also tried as text, since mappings
       read from JSON configs have string keys — else read as a class id (int)
       or class name (str);
    2. the ``class_id_property`` (default ``"class_id"``);
    3. the ``class_name_property`` (default ``"class_name"``);
    4. ``default_class_id`` (e.g. every feature of a building footprint file
       is a building);
    5. when the class map has exactly one class besides the background class
       (see :func:`background_class_id_of`), that class: footprint files from
       OSM or SpaceNet carry dozens of properties but no class, and label the
       one class being learned. :meth:`resolve_all` logs once per file how
       many features got their class this way.

    Other properties are ignored, and so are null or blank values (GIS exports
    write "" for a text attribute a feature lacks). Class names match exactly
    or, when only one class matches, regardless of case and surrounding spaces
    (``"Tree"`` is class ``tree``). Anything else — no class with several candidate classes,
    or a class the class map does not have — is a ``DataError`` naming the
    file, the feature index, the property, the value and the fix.

    Args:
        class_map: the experiment's :class:`rv.core.class_map.ClassMap`.
        class_id_property, class_name_property, property_name,
        property_mapping, default_class_id: rules 1–4 above.
        background_class_id: the label source's own background class, when it
            has one (else the class map's, see :func:`background_class_id_of`).
    """

    def __init__(
        self,
        class_map: Any,
        class_id_property: str | None = "class_id",
        class_name_property: str | None = "class_name",
        property_name: str | None = None,
        property_mapping: Mapping[Any, Any] | None = None,
        default_class_id: int | None = None,
        background_class_id: int | None = None,
    ):
        self.class_map = class_map
        self.class_id_property = class_id_property
        self.class_name_property = class_name_property
        self.property_name = property_name
        self.property_mapping = dict(property_mapping) if property_mapping is not None else None
        if property_mapping is not None and property_name is None:
            raise ConfigError(
                "property_mapping was given without property_name; name the feature property the "
                "mapping applies to (e.g. property_name='landuse')."
            )
        self.default_class_id = default_class_id
        self._ids = {int(i) for i in class_map.ids}
        self._by_name = {item.name: int(item.id) for item in class_map}
        self._by_folded_name: dict[str, list[int]] = {}
        for item in class_map:
            self._by_folded_name.setdefault(item.name.strip().casefold(), []).append(int(item.id))
        if default_class_id is not None and default_class_id not in self._ids:
            raise ConfigError(
                f"default_class_id {default_class_id} is not in the class map (ids: {sorted(self._ids)}); "
                "give one of its ids."
            )
        self.background_class_id = background_class_id_of(class_map, background_class_id)
        #: ``(id, name)`` of every class but the background, in id order
        self.foreground = [(int(item.id), item.name) for item in class_map if item.id != self.background_class_id]
        #: the class of features without a class property when the class map leaves no doubt, else None
        self.implied_class_id = self.foreground[0][0] if len(self.foreground) == 1 else None

    @classmethod
    def from_options(
        cls, class_map: Any, options: GeoJSONClassOptions | None = None, background_class_id: int | None = None
    ) -> ClassResolver:
        """The resolver of a label source's :class:`rv_geojson.class_options_config.GeoJSONClassOptions`
        (default options when ``None``)."""
        if options is None:
            from rv_geojson.class_options_config import GeoJSONClassOptions

            options = GeoJSONClassOptions()
        return cls(
            class_map,
            class_id_property=options.class_id_property,
            class_name_property=options.class_name_property,
            property_name=options.property_name,
            property_mapping=options.property_mapping,
            default_class_id=options.default_class_id,
            background_class_id=background_class_id,
        )

    def _fix(self) -> str:
        tried = [p for p in (self.property_name, self.class_id_property, self.class_name_property) if p]
        return (
            f"Give every feature one of the properties {tried}, name the property holding the "
            "class with property_name (and property_mapping), or set default_class_id"
        )

    def _class_of_name(self, name: str) -> int | None:
        """The id of the class named ``name``: exactly, else ignoring case when only one class matches."""
        if name in self._by_name:
            return self._by_name[name]
        matches = self._by_folded_name.get(name.strip().casefold(), [])
        return matches[0] if len(matches) == 1 else None

    def _lookup(self, value: Any, index: int, uri: Any, source: str, hint: str = "") -> int:
        shown = value
        if isinstance(value, bool):
            value = None
        if isinstance(value, str):
            class_id = self._class_of_name(value)
            if class_id is not None:
                return class_id
            if value.strip().lstrip("-").isdigit():
                value = int(value)  # a class id written as text (CSV exports, JSON-config mappings)
            else:
                same = self._by_folded_name.get(value.strip().casefold(), [])
                ambiguous = (
                    f" It matches the classes {[self.class_map.get_by_id(i).name for i in same]} when case "
                    "is ignored; write the class name exactly."
                    if len(same) > 1
                    else ""
                )
                raise DataError(
                    f"Feature {index} of {uri} has {source} = {shown!r}, which is not a class name of the "
                    f"class map (names: {list(self._by_name)}).{ambiguous} Add the class to the class map, "
                    "fix the feature's class name, or map the values with property_mapping."
                )
        if isinstance(value, (int, np.integer)) or (isinstance(value, float) and float(value).is_integer()):
            class_id = int(value)
            if class_id in self._ids:
                return class_id
            raise DataError(
                f"Feature {index} of {uri} has {source} = {shown!r}, which is not a class id of the "
                f"class map (ids: {sorted(self._ids)}, names: {list(self._by_name)}). Add the class to "
                f"the class map or fix the feature's class.{hint}"
            )
        raise DataError(
            f"Feature {index} of {uri} has {source} = {shown!r}, which is neither a class id nor a class "
            f"name. {self._fix()}."
        )

    def _name_hint(self, props: Mapping[str, Any]) -> str:
        """A sentence for an unknown class id of a feature whose class name is a class of the map."""
        name = props.get(self.class_name_property) if self.class_name_property else None
        class_id = self._class_of_name(name) if isinstance(name, str) else None
        if class_id is None:
            return ""
        return (
            f" Its {self.class_name_property!r} {name!r} is class {self.class_map.get_by_id(class_id).name!r} "
            f"({class_id}): to classify the features by name, stop reading {self.class_id_property!r} with "
            ".with_class_id_property(None)."
        )

    def _resolve(self, props: Mapping[str, Any], index: int, uri: Any) -> tuple[int, bool]:
        """``(class id, implied)``: implied is True when rule 5 (the only non-background class) gave it."""
        if _given(props, self.property_name):
            value = props[self.property_name]
            source = f"property {self.property_name!r}"
            if self.property_mapping is not None:
                if value not in self.property_mapping and str(value) in self.property_mapping:
                    # Mappings read from JSON configs have string keys; feature values may be numbers.
                    value = str(value)
                if value not in self.property_mapping:
                    if self.default_class_id is not None:
                        return self.default_class_id, False
                    raise DataError(
                        f"Feature {index} of {uri} has {self.property_name} = {value!r}, which "
                        f"property_mapping does not map (keys: {list(self.property_mapping)}). Add "
                        "the value to property_mapping or set default_class_id."
                    )
                value = self.property_mapping[value]
                source = f"property {self.property_name!r} mapped to"
            return self._lookup(value, index, uri, source), False
        if _given(props, self.class_id_property):
            source = f"property {self.class_id_property!r}"
            return self._lookup(props[self.class_id_property], index, uri, source, self._name_hint(props)), False
        if _given(props, self.class_name_property):
            value = props[self.class_name_property]
            if not isinstance(value, str):
                value = str(value)
            return self._lookup(value, index, uri, f"property {self.class_name_property!r}"), False
        if self.default_class_id is not None:
            return self.default_class_id, False
        if self.implied_class_id is not None:
            return self.implied_class_id, True
        raise DataError(self._no_class_message(props, index, uri))

    def _no_class_message(self, props: Mapping[str, Any], index: int, uri: Any) -> str:
        shown = {k: v for k, v in list(props.items())[:6]}
        head = f"Feature {index} of {uri} has no class (properties: {shown}{' ...' if len(props) > 6 else ''})."
        if not self.foreground:
            return (
                f"{head} The class map has no class besides the background class "
                f"{self.background_class_id}; add the class these features are to the class map."
            )
        classes = ", ".join(f"{name!r} ({cid})" for cid, name in self.foreground)
        why = (
            f" The class map has {len(self.foreground)} classes besides the background ({classes}), so the "
            "feature could be any of them."
        )
        if self.background_class_id is None and len(self.foreground) == 2:
            why += (
                " If one of them means 'nothing here', make it the background class "
                "(with_background_class_id) and the features are the other one."
            )
        example_id, example_name = self.foreground[0]
        return f"{head}{why} {self._fix()} (e.g. .with_default_class_id({example_id}) for {example_name!r})."

    def resolve(self, properties: Mapping[str, Any] | None, index: int, uri: Any) -> int:
        """Class id of feature ``index`` of ``uri`` with these properties."""
        return self._resolve(properties or {}, index, uri)[0]

    def resolve_all(self, properties: Sequence[Mapping[str, Any] | None], uri: Any) -> np.ndarray:
        """``int64`` class ids of every feature of ``uri`` (file order), saying in the log how many were implied.

        One log line per call (one per file read): the features that had no
        class property and took the class map's only class besides the
        background (rule 5), and how to choose otherwise.
        """
        class_ids = np.empty(len(properties), dtype=np.int64)
        implied = 0
        # A feature's class depends only on the values of the three class properties: features that
        # share them (most of a file) share the answer. Keys carry the type (1, 1.0 and True differ).
        names = (self.property_name, self.class_id_property, self.class_name_property)
        known: dict[tuple, tuple[int, bool]] = {}
        for i, props in enumerate(properties):
            props = props or {}
            try:
                key = tuple((type(v), v) for v in (props.get(n) if n else None for n in names))
                answer = known.get(key)
            except TypeError:  # an unhashable value (a list, a dict): resolved on its own
                key = answer = None
            if answer is None:
                answer = self._resolve(props, i, uri)
                if key is not None:
                    known[key] = answer
            class_ids[i], was_implied = answer
            implied += was_implied
        if implied:
            name = dict(self.foreground)[self.implied_class_id]
            besides = (
                "the class map's only class"
                if self.background_class_id is None
                else f"the only class of the class map besides the background ({self.background_class_id})"
            )
            # A warning, not info: rv configures no log handler, so the user sees it (once per file)
            # without asking; a file whose classes sit in an unnamed property is caught here.
            log.warning(
                "%s: %d of %d features have no class property (%s), so they are class %r (%d), %s. "
                "To classify them otherwise, name the property holding the class (with_class_property) "
                "or set default_class_id.",
                uri,
                implied,
                len(properties),
                ", ".join(p for p in (self.property_name, self.class_id_property, self.class_name_property) if p)
                or "none read",
                name,
                self.implied_class_id,
                besides,
            )
        return class_ids


# ---------------------------------------------------------------------------
# Geometries
# ---------------------------------------------------------------------------


@dataclass
class PixelFeatures:
    """Features of one GeoJSON file in the pixel space of one raster.

    Attributes:
        geoms: object array of shapely geometries, pixel coordinates (x = column, y = row).
        class_ids: ``int64`` class id of each geometry (``-1`` when classes were not resolved).
        feature_indices: index of each geometry's feature in the file (dropped features leave gaps).
        properties: the ``properties`` dict of each kept feature.
        uri: the file they were read from.
    """

    geoms: np.ndarray
    class_ids: np.ndarray
    feature_indices: np.ndarray
    properties: list[dict[str, Any]] = field(default_factory=list)
    uri: str = ""
    #: a sentence to add to a "no label overlaps the scene" error (e.g. the raster has no CRS)
    note: str = ""

    def __len__(self) -> int:
        return len(self.geoms)

    def subset(self, keep: np.ndarray) -> PixelFeatures:
        """The features where the boolean or index array ``keep`` selects."""
        idx = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep, dtype=np.int64)
        return PixelFeatures(
            self.geoms[idx],
            self.class_ids[idx],
            self.feature_indices[idx],
            [self.properties[i] for i in idx],
            self.uri,
            self.note,
        )


def _list_indices(indices: Sequence[int]) -> str:
    indices = [int(i) for i in indices]
    shown = ", ".join(str(i) for i in indices[:_MAX_LISTED])
    more = f" and {len(indices) - _MAX_LISTED} more" if len(indices) > _MAX_LISTED else ""
    return shown + more


def _polygonal_part(geom: Any) -> Any:
    """The polygonal part of a geometry (a repaired polygon can come back as a collection)."""
    if geom.geom_type in _POLYGONAL:
        return geom
    polys = [g for g in shapely.get_parts(geom) if g.geom_type in _POLYGONAL and not g.is_empty]
    if not polys:
        return shapely.Polygon()
    return shapely.union_all(polys) if len(polys) > 1 else polys[0]


def _plain_polygons(features: list[Any]) -> np.ndarray | None:
    """The features as 2-D polygons built in two vectorized calls, or None to take the general path.

    Only files whose every feature is a ``Polygon`` with closed rings of at
    least 4 numeric positions of one dimension qualify (boxes and building
    footprints: most label files); anything else returns None, and the
    per-feature path builds the same geometries or names the broken feature.
    """
    coords: list[Any] = []
    ring_sizes: list[int] = []
    rings_per_polygon: list[int] = []
    for feature in features:
        g = feature.get("geometry") if type(feature) is dict and feature.get("type") == "Feature" else None
        if type(g) is not dict or g.get("type") != "Polygon":
            return None
        rings = g.get("coordinates")
        if type(rings) is not list or not rings:
            return None
        for ring in rings:
            if type(ring) is not list or len(ring) < 4 or ring[0] != ring[-1]:
                return None
            ring_sizes.append(len(ring))
            coords.extend(ring)
        rings_per_polygon.append(len(rings))
    try:
        xy = np.array(coords)
    except (ValueError, TypeError):  # positions of mixed dimensions
        return None
    if xy.ndim != 2 or xy.shape[1] not in (2, 3) or xy.dtype.kind not in "iuf":
        return None
    try:
        rings = shapely.linearrings(
            xy[:, :2].astype(np.float64), indices=np.repeat(np.arange(len(ring_sizes)), ring_sizes)
        )
        return shapely.polygons(rings, indices=np.repeat(np.arange(len(rings_per_polygon)), rings_per_polygon))
    except Exception:  # shapely.errors.GEOSException and kin: the general path names the feature
        return None


def _parse_geometries(features: list[Any], uri: Any) -> np.ndarray:
    """Shapely geometries of the features (2-D), ``DataError`` for null, broken or empty ones."""
    if len(features) and (plain := _plain_polygons(features)) is not None:
        return plain
    geoms = np.empty(len(features), dtype=object)
    for i, feature in enumerate(features):
        if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
            raise DataError(
                f"Feature {i} of {uri} is not a GeoJSON Feature ({str(feature)[:80]!r}). Every element of "
                '\'features\' must be {"type": "Feature", "geometry": ..., "properties": ...}.'
            )
        g = feature.get("geometry")
        if g is None:
            raise DataError(
                f"Feature {i} of {uri} has no geometry (null). rv cannot place it on the scene; give it "
                "coordinates or remove the feature."
            )
        if not isinstance(g, Mapping) or g.get("type") not in _GEOMETRY_TYPES:
            kind = g.get("type") if isinstance(g, Mapping) else type(g).__name__
            raise DataError(
                f"Feature {i} of {uri} has geometry type {kind!r}; GeoJSON geometries are "
                f"{', '.join(_GEOMETRY_TYPES)}. Fix the feature's geometry."
            )
        try:
            geom = shape(g)
        except Exception as e:  # shapely raises ValueError, TypeError, IndexError or GEOSException
            raise DataError(
                f"Feature {i} of {uri} has a {g.get('type')} geometry that cannot be built and so cannot be "
                f"repaired ({e}). Fix its coordinates (a polygon ring needs at least 4 positions, the "
                "first equal to the last) or remove the feature."
            ) from None
        if geom.is_empty:
            raise DataError(
                f"Feature {i} of {uri} has an empty {geom.geom_type} geometry. Give it coordinates or "
                "remove the feature."
            )
        geoms[i] = geom
    if len(geoms):
        geoms = shapely.force_2d(geoms)
    return geoms


def _check_lonlat(geoms: np.ndarray, uri: Any) -> None:
    """Catch projected coordinates in a file that claims (by having no crs member) to be WGS84."""
    if not len(geoms):
        return
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    if xmin < -180.0 - 1e-9 or xmax > 180.0 + 1e-9 or ymin < -90.0 - 1e-9 or ymax > 90.0 + 1e-9:
        raise DataError(
            f"GeoJSON file {uri} has no crs member, so RFC 7946 says its coordinates are WGS84 "
            f"longitude/latitude, but they span x {xmin:.6g}..{xmax:.6g}, y {ymin:.6g}..{ymax:.6g}, "
            "which are not degrees: the file is in a projected CRS. Reproject it to WGS84 (e.g. "
            "`ogr2ogr -t_srs EPSG:4326 out.geojson in.geojson`) or add a legacy crs member naming "
            'its CRS: {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::<code>"}}.'
        )


#: The fix for a raster without a CRS paired with georeferenced labels.
_NO_CRS_FIX = (
    "Assign the raster its CRS (e.g. `gdal_edit.py -a_srs EPSG:<code> <raster>`, the CRS the imagery "
    "was delivered in), or give labels in the raster's own coordinates (pixel x = column, y = row for "
    "a plain image) in a GeoJSON file without a crs member"
)


def _check_against_raster_without_crs(
    doc: Mapping[str, Any], map_geoms: np.ndarray, pixel_geoms: np.ndarray, uri: Any
) -> str:
    """Refuse georeferenced labels on a raster without a CRS; returns a note for a later no-overlap error.

    A raster without a CRS reads a GeoJSON file without a ``crs`` member in
    its own coordinates (pixels for a plain image: what rv writes for such
    rasters). A ``crs`` member, or coordinates that are plainly WGS84
    degrees — every line or polygon smaller than one pixel — cannot be
    placed on it: ``DataError``. Coordinates merely within lon/lat range
    are ambiguous; the returned note is added to the "no label overlaps
    the scene" error if they miss the raster.
    """
    if doc.get("crs") is not None:
        raise DataError(
            f"GeoJSON file {uri} declares the CRS {geojson_crs(doc, uri)} (its crs member), but the raster it "
            f"labels has no CRS, so rv cannot reproject the labels onto it. {_NO_CRS_FIX}."
        )
    if not len(map_geoms):
        return ""
    xmin, ymin, xmax, ymax = shapely.total_bounds(map_geoms)
    if not (-180.0 <= xmin and xmax <= 180.0 and -90.0 <= ymin and ymax <= 90.0):
        return ""
    lonlat = (
        f"The raster has no CRS, and {uri} has no crs member, so its coordinates (x {xmin:.6g}..{xmax:.6g}, "
        f"y {ymin:.6g}..{ymax:.6g}) may be WGS84 lon/lat (RFC 7946) that cannot be placed on the raster"
    )
    areal = ~np.isin(shapely.get_type_id(pixel_geoms), [0, 4])  # not Point / MultiPoint
    if areal.any():
        b = shapely.bounds(pixel_geoms[areal])
        if ((b[:, 2] - b[:, 0]) < 1.0).all() and ((b[:, 3] - b[:, 1]) < 1.0).all():
            raise DataError(
                f"GeoJSON file {uri} has no crs member, so RFC 7946 makes its coordinates WGS84 lon/lat "
                f"(they span x {xmin:.6g}..{xmax:.6g}, y {ymin:.6g}..{ymax:.6g}: every feature is smaller "
                "than one pixel of the raster), but the raster it labels has no CRS, so rv cannot place "
                f"them on it. {_NO_CRS_FIX}."
            )
    return f"{lonlat}. {_NO_CRS_FIX}."


def snap_to_integers(values: np.ndarray, tol: float = 1e-3) -> np.ndarray:
    """Round values within ``tol`` of an integer (reprojection round trips leave 1e-9 px of noise)."""
    values = np.asarray(values, dtype=np.float64)
    rounded = np.round(values)
    return np.where(np.abs(values - rounded) < tol, rounded, values)


def to_pixel_geoms(geoms: np.ndarray, src_crs: str, crs_transformer: Any) -> np.ndarray:
    """Geometries in ``src_crs`` → pixel space of ``crs_transformer``'s raster (vectorized).

    A raster without a CRS (plain images) takes the coordinates as its own
    map coordinates, as Raster Vision did for non-georeferenced images.
    """
    if not len(geoms):
        return geoms
    if getattr(crs_transformer, "crs", None) is None:
        return np.asarray(crs_transformer.map_to_pixel_geoms(geoms), dtype=object)
    return np.asarray(crs_transformer.crs_to_pixel_geoms(geoms, src_crs), dtype=object)


def repair_geometries(geoms: np.ndarray, feature_indices: np.ndarray, uri: Any) -> np.ndarray:
    """Repair invalid geometries with ``shapely.make_valid``, keeping polygonal parts of polygons.

    Warns (:class:`GeoJSONWarning`) naming the repaired features; raises
    ``DataError`` for a polygon with no area left after repair.
    """
    if not len(geoms):
        return geoms
    invalid = np.flatnonzero(~shapely.is_valid(geoms))
    if not len(invalid):
        return geoms
    geoms = geoms.copy()
    reasons = shapely.is_valid_reason(geoms[invalid])
    polygonal = np.isin(shapely.get_type_id(geoms[invalid]), [3, 6])  # Polygon, MultiPolygon
    bad_polys = invalid[polygonal]
    if len(bad_polys):
        # "structure" rebuilds polygons from their rings (self-intersections become
        # several polygons, overlaps a union) and drops collapsed parts.
        fixed = shapely.make_valid(geoms[bad_polys], method="structure", keep_collapsed=False)
        fixed = np.array([_polygonal_part(g) for g in fixed], dtype=object)
        empty = shapely.is_empty(fixed) | (shapely.area(fixed) <= 0)
        if empty.any():
            which = feature_indices[bad_polys[empty]]
            raise DataError(
                f"Feature(s) {_list_indices(which)} of {uri} have polygons with no area that cannot be "
                f"repaired ({reasons[polygonal][empty][0]}): all their points are collinear or equal. "
                "Redraw or remove them."
            )
        geoms[bad_polys] = fixed
    others = invalid[~polygonal]
    if len(others):
        geoms[others] = shapely.make_valid(geoms[others])
        empty = shapely.is_empty(geoms[others])
        if empty.any():
            raise DataError(
                f"Feature(s) {_list_indices(feature_indices[others[empty]])} of {uri} have geometries that "
                "are empty after repair. Fix or remove them."
            )
    warnings.warn(
        f"{uri}: repaired {len(invalid)} invalid geometr{'y' if len(invalid) == 1 else 'ies'} with "
        f"shapely.make_valid (feature(s) {_list_indices(feature_indices[invalid])}; first problem, at "
        f"pixel (col row): {reasons[0]}). Check them in a GIS if the labels look wrong.",
        GeoJSONWarning,
        stacklevel=3,
    )
    return geoms


def _distances(value: float | Mapping[int, float] | None, class_ids: np.ndarray) -> np.ndarray:
    """Per-geometry buffer distance from a scalar or a class id → distance mapping (NaN = none)."""
    if value is None:
        return np.full(len(class_ids), np.nan)
    if isinstance(value, Mapping):
        return np.array([float(value[c]) if c in value else np.nan for c in class_ids.tolist()])
    return np.full(len(class_ids), float(value))


def polygonize(
    features: PixelFeatures,
    line_buffer: float | Mapping[int, float] | None,
    point_radius: float | Mapping[int, float] | None,
) -> PixelFeatures:
    """Turn every geometry into an area: buffer lines by ``line_buffer`` and points by ``point_radius`` pixels.

    Distances may be one number or a class id → pixels mapping. Features
    whose kind has no (positive) distance are dropped with a warning; the
    polygonal parts of geometry collections are kept.
    """
    geoms = features.geoms.copy()
    types = shapely.get_type_id(geoms)
    # Type ids: 0 Point, 1 LineString, 2 LinearRing, 3 Polygon, 4 MultiPoint,
    # 5 MultiLineString, 6 MultiPolygon, 7 GeometryCollection.
    is_point = np.isin(types, [0, 4])
    is_line = np.isin(types, [1, 2, 5])
    is_collection = types == 7
    keep = np.ones(len(geoms), dtype=bool)
    for mask, value in ((is_point, point_radius), (is_line, line_buffer)):
        if not mask.any():
            continue
        dist = _distances(value, features.class_ids[mask])
        ok = np.isfinite(dist) & (dist > 0)
        idx = np.flatnonzero(mask)
        geoms[idx[ok]] = shapely.buffer(geoms[idx[ok]], dist[ok])
        keep[idx[~ok]] = False
    if is_collection.any():
        idx = np.flatnonzero(is_collection)
        geoms[idx] = np.array([_polygonal_part(g) for g in geoms[idx]], dtype=object)
        keep[idx] &= ~shapely.is_empty(geoms[idx])
    if not keep.all():
        dropped = features.feature_indices[~keep]
        warnings.warn(
            f"{features.uri}: dropped {len(dropped)} feature(s) that are points or lines with no buffer "
            f"distance, or collections without polygons (feature(s) {_list_indices(dropped)}). Set "
            "point_radius / line_buffer (pixels) to turn them into areas.",
            GeoJSONWarning,
            stacklevel=3,
        )
    out = features.subset(keep)
    out.geoms = geoms[keep]
    return out


def read_pixel_features(
    uri: Any,
    crs_transformer: Any,
    class_resolver: ClassResolver | None = None,
    line_buffer: float | Mapping[int, float] | None = None,
    point_radius: float | Mapping[int, float] | None = None,
    polygons_only: bool = True,
    doc: Mapping[str, Any] | None = None,
) -> PixelFeatures:
    """Read a GeoJSON file into the pixel space of the raster of ``crs_transformer``.

    Args:
        uri: local path or URI of the GeoJSON file.
        crs_transformer: the raster's :class:`rv.core.crs_transformer.CRSTransformer`.
        class_resolver: resolves each feature's class id; None leaves ``class_ids`` at -1.
        line_buffer: pixels to buffer lines by (number or class id → number).
        point_radius: pixels to buffer points by (number or class id → number).
        polygons_only: turn every geometry into an area (see :func:`polygonize`);
            False keeps points and lines as they are.
        doc: an already parsed document (skips reading ``uri``).

    Returns:
        :class:`PixelFeatures` in file order.
    """
    uri = str(uri)
    if doc is None:
        doc = read_geojson(uri)
    features = doc["features"]
    src_crs = geojson_crs(doc, uri)
    map_geoms = _parse_geometries(features, uri)
    if src_crs == GEOJSON_DEFAULT_CRS and getattr(crs_transformer, "crs", None) is not None:
        _check_lonlat(map_geoms, uri)
    properties = [dict(f.get("properties") or {}) for f in features]
    if class_resolver is not None:
        class_ids = class_resolver.resolve_all(properties, uri)
    else:
        class_ids = np.full(len(features), -1, dtype=np.int64)
    feature_indices = np.arange(len(features), dtype=np.int64)
    pixel_geoms = to_pixel_geoms(map_geoms, src_crs, crs_transformer)
    note = ""
    if getattr(crs_transformer, "crs", None) is None:
        note = _check_against_raster_without_crs(doc, map_geoms, pixel_geoms, uri)
    pixel_geoms = repair_geometries(pixel_geoms, feature_indices, uri)
    out = PixelFeatures(pixel_geoms, class_ids, feature_indices, properties, uri, note)
    if polygons_only:
        out = polygonize(out, line_buffer, point_radius)
    return out
