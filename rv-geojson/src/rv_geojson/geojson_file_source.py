"""What every source reading a scene's labels from a GeoJSON file shares.

:class:`GeoJSONFileSource` holds the file, the scene grid it is read onto
and the rule finding each feature's class. The label sources and the
raster source derive from it (before their rv-core interface) as attrs
classes: each declares only its own options, keyword-only, and reads the
file in :meth:`GeoJSONFileSource._load`.
"""

from __future__ import annotations

from typing import Any

import attrs

from rv.core.box import Box
from rv.core.class_map import ClassMap
from rv.core.crs_transformer import CRSTransformer
from rv_geojson.class_options_config import GeoJSONClassOptions
from rv_geojson.geojson_reader import ClassResolver, PixelFeatures, read_pixel_features, source_background_class_id

#: How the GeoJSON sources are made attrs classes: plain instances (``__dict__``, identity
#: equality and hashing, the default repr), the options taken as given.
geojson_source = attrs.define(slots=False, eq=False, repr=False)


@geojson_source
class GeoJSONFileSource:
    """A GeoJSON file read onto one scene's pixel grid.

    Args:
        uri: the GeoJSON file (any CRS; see :func:`rv_geojson.geojson_reader.read_pixel_features`).
        class_map: the task's classes.
        crs_transformer, extent: the grid of the scene's image the features are drawn on.
        class_options: how each feature's class is found
            (:class:`rv_geojson.class_options_config.GeoJSONClassOptions`; default options when None).
    """

    uri: str = attrs.field(converter=str)
    class_map: ClassMap
    _crs_transformer: CRSTransformer = attrs.field(alias="crs_transformer")
    _extent: Box = attrs.field(alias="extent")
    class_options: GeoJSONClassOptions | None = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        super().__init__()  # the rv-core interface's own state
        self.class_resolver = ClassResolver.from_options(self.class_map, self.class_options, self._background())
        self._load()

    def _background(self) -> int | None:
        """The class a feature naming the background gets; sources with a background override this."""
        return None

    def _load(self) -> None:
        """Read the file (called once, after the options are set)."""
        raise NotImplementedError

    @property
    def extent(self) -> Box:
        """The scene's extent (pixels)."""
        return self._extent

    @property
    def crs_transformer(self) -> CRSTransformer:
        """The scene image's transformer (labels live on its grid)."""
        return self._crs_transformer

    def read_features(self, **options: Any) -> PixelFeatures:
        """The file's features in scene pixels (``options`` as :func:`read_pixel_features` takes them)."""
        return read_pixel_features(self.uri, self._crs_transformer, self.class_resolver, **options)


@geojson_source
class GeoJSONFileSourceWithBackground(GeoJSONFileSource):
    """A :class:`GeoJSONFileSource` with a background class.

    Args:
        background_class_id: the class of what no feature covers (default: the class map's;
            None with neither).
    """

    background_class_id: int | None = attrs.field(default=None, kw_only=True)

    def _background(self) -> int | None:
        self.background_class_id = source_background_class_id(self.class_map, self.background_class_id, self.uri)
        return self.background_class_id
