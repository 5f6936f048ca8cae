"""Non-georeferenced images (.png, .jpg, .tif) in pixel coordinates."""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from rv.core.box import Box
from rv.core.crs_transformer import CRSTransformer, IdentityCRSTransformer
from rv.data.raster_source.raster_source import RasterSource
from rv.errors import DataError
from rv.file_systems import is_local
from rv.file_utils import local_or_gdal_path


class ImageSource(RasterSource):
    """An ordinary image read whole into memory on first use (photos, drone frames, PNG tiles).

    Any georeferencing in the file is ignored: the CRS is None and the
    transformer is the identity, so labels are in pixel coordinates. An alpha
    band is dropped from the default channel order and becomes the nodata mask
    (alpha 0 = nodata).

    Args:
        uri: the image (.png, .jpg, .tif or any format GDAL reads).
        channel_order: 0-based bands to read (default: all but alpha).
        transformers: raster transformers applied by :meth:`get_chip`.
        tmp_dir: where a remote image is downloaded (default: rv's temporary directory).
    """

    def __init__(
        self,
        uri: str,
        channel_order: Sequence[int] | None = None,
        transformers: Sequence[Any] = (),
        tmp_dir: str | None = None,
    ):
        super().__init__(channel_order, transformers)
        self.tmp_dir = tmp_dir
        self.uri = os.fspath(uri)
        self._image: np.ndarray | None = None
        self._alpha: np.ndarray | None = None
        self._alpha_bands: list[int] = []

    def __repr__(self) -> str:
        return f"ImageSource({self.uri!r})"

    @property
    def name(self) -> str:
        return self.uri

    def _load(self) -> np.ndarray:
        if self._image is not None:
            return self._image
        import rasterio
        from rasterio.enums import ColorInterp
        from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

        tmp_dir = None
        try:
            if is_local(self.uri):
                path = local_or_gdal_path(self.uri, "")
                if not os.path.exists(path):
                    raise DataError(
                        f"Image {self.uri} does not exist ({path}). Check the path in the scene's raster source."
                    )
            else:
                if self.tmp_dir is not None:
                    os.makedirs(self.tmp_dir, exist_ok=True)
                tmp_dir = tempfile.mkdtemp(prefix="rv-image-", dir=self.tmp_dir)
                path = local_or_gdal_path(self.uri, tmp_dir)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", NotGeoreferencedWarning)
                    with rasterio.open(path) as ds:
                        data = ds.read()
                        alpha = [i for i, ci in enumerate(ds.colorinterp) if ci == ColorInterp.alpha]
            except RasterioIOError as e:
                raise DataError(
                    f"Cannot read image {self.uri}: {e}. Check that it is a complete PNG, JPEG or TIFF."
                ) from None
        finally:
            if tmp_dir is not None:
                shutil.rmtree(tmp_dir, ignore_errors=True)
        self._alpha_bands = alpha
        self._image = np.ascontiguousarray(np.moveaxis(data, 0, -1))
        self._alpha = (self._image[..., alpha[0]] == 0) if alpha else None
        return self._image

    @property
    def extent(self) -> Box:
        h, w = self._load().shape[:2]
        return Box(0, 0, h, w)

    @property
    def crs_transformer(self) -> CRSTransformer:
        return IdentityCRSTransformer()

    @property
    def num_bands(self) -> int:
        return self._load().shape[2]

    @property
    def raw_dtype(self) -> np.dtype:
        return self._load().dtype

    def _default_channel_order(self) -> list[int]:
        self._load()
        return [i for i in range(self.num_bands) if i not in self._alpha_bands]

    def _read(self, window: Box, bands: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
        image = self._load()
        rows, cols = window.to_slices()
        chip = image[rows, cols][..., bands]
        mask = None if self._alpha is None else self._alpha[rows, cols].copy()
        return chip, mask
