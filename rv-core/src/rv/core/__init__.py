"""Core geospatial entities: pixel windows (and random windows in an AOI), class maps, pixel ↔ map transforms."""

from rv.core.box import Box
from rv.core.class_map import IGNORE_CLASS_ID, ClassItem, ClassMap
from rv.core.crs_transformer import CRSTransformer, IdentityCRSTransformer
from rv.core.window_sampler import WindowSampler, random_windows

__all__ = [
    "IGNORE_CLASS_ID",
    "Box",
    "CRSTransformer",
    "ClassItem",
    "ClassMap",
    "IdentityCRSTransformer",
    "WindowSampler",
    "random_windows",
]
