"""A GDAL VRT that mosaics several rasters on the same grid into one dataset.

Written as VRT XML (GDAL's own format) so that the mosaic is read with the
same windowed, block-aligned reads as a single file, without copying pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from rv.errors import DataError

_GDAL_TYPES = {
    "uint8": "Byte",
    "int8": "Int8",
    "uint16": "UInt16",
    "int16": "Int16",
    "uint32": "UInt32",
    "int32": "Int32",
    "uint64": "UInt64",
    "int64": "Int64",
    "float32": "Float32",
    "float64": "Float64",
}

# Sources whose origins differ by more than this fraction of a pixel are not on one grid.
_GRID_TOLERANCE = 0.01


def _fmt(v: float) -> str:
    return repr(float(v))


def mosaic_vrt_xml(paths: Sequence[str], uris: Sequence[str] | None = None) -> str:
    """VRT XML mosaicking the rasters at ``paths`` (GDAL paths) into their union extent.

    All rasters must share the CRS, pixel size, band count and dtype, be
    north-up and lie on one pixel grid; otherwise :class:`DataError` names the
    mismatching file. Later files win where rasters overlap. Nodata is kept
    (``NoDataValue`` + per-source ``NODATA`` so one file's nodata never
    covers another's pixels); without nodata, a dataset mask band marks the
    parts of the union no file covers.
    """
    import rasterio

    uris = list(uris) if uris is not None else list(paths)
    infos: list[dict[str, Any]] = []
    for path, uri in zip(paths, uris):
        try:
            with rasterio.open(path) as ds:
                infos.append(
                    {
                        "uri": uri,
                        "path": path,
                        "crs": ds.crs,
                        "transform": ds.transform,
                        "width": ds.width,
                        "height": ds.height,
                        "count": ds.count,
                        "dtypes": ds.dtypes,
                        "nodata": ds.nodata,
                        "colorinterp": [ci.name for ci in ds.colorinterp],
                    }
                )
        except rasterio.errors.RasterioIOError as e:
            raise DataError(f"Cannot open {uri} for the mosaic: {e}. Check the URI and that it is a raster.") from None
    first = infos[0]
    t0 = first["transform"]
    if t0.b != 0 or t0.d != 0:
        raise DataError(f"{first['uri']} is rotated; mosaics need north-up rasters. Warp it first (gdalwarp).")
    for info in infos[1:]:
        t = info["transform"]
        if info["crs"] != first["crs"]:
            raise DataError(
                f"Cannot mosaic {info['uri']} (CRS {info['crs']}) with {first['uri']} (CRS {first['crs']}): "
                "the files of one GeoTIFF source must share a CRS. Reproject them to one CRS first "
                "(gdalwarp -t_srs) or use them as separate scenes."
            )
        if abs(t.a - t0.a) > 1e-9 * abs(t0.a) or abs(t.e - t0.e) > 1e-9 * abs(t0.e) or t.b != 0 or t.d != 0:
            raise DataError(
                f"Cannot mosaic {info['uri']} (pixel size {t.a}, {t.e}) with {first['uri']} "
                f"(pixel size {t0.a}, {t0.e}): the files must share a north-up pixel size. Resample them first."
            )
        if info["count"] != first["count"] or tuple(info["dtypes"]) != tuple(first["dtypes"]):
            raise DataError(
                f"Cannot mosaic {info['uri']} ({info['count']} bands {info['dtypes'][0]}) with {first['uri']} "
                f"({first['count']} bands {first['dtypes'][0]}): the files must have the same bands and dtype."
            )
        if info["nodata"] != first["nodata"]:
            raise DataError(
                f"Cannot mosaic {info['uri']} (nodata {info['nodata']}) with {first['uri']} "
                f"(nodata {first['nodata']}): the files must share a nodata value. Set one with rio edit-info."
            )
    res_x, res_y = t0.a, t0.e  # res_y < 0 for north-up rasters
    lefts = [i["transform"].c for i in infos]
    tops = [i["transform"].f for i in infos]
    rights = [i["transform"].c + i["width"] * res_x for i in infos]
    bottoms = [i["transform"].f + i["height"] * res_y for i in infos]
    left = min(lefts) if res_x > 0 else max(lefts)
    top = max(tops) if res_y < 0 else min(tops)
    width = round((max(rights) - left) / res_x) if res_x > 0 else round((min(rights) - left) / res_x)
    height = round((min(bottoms) - top) / res_y) if res_y < 0 else round((max(bottoms) - top) / res_y)

    offsets = []
    for info in infos:
        dx = (info["transform"].c - left) / res_x
        dy = (info["transform"].f - top) / res_y
        if abs(dx - round(dx)) > _GRID_TOLERANCE or abs(dy - round(dy)) > _GRID_TOLERANCE:
            raise DataError(
                f"{info['uri']} is not on the pixel grid of {first['uri']} (offset {dx:.3f}, {dy:.3f} pixels); "
                "mosaicked files must be aligned to whole pixels. Warp it onto the grid first (gdalwarp -tap)."
            )
        offsets.append((round(dx), round(dy)))

    nodata = first["nodata"]
    srs = escape(first["crs"].to_wkt()) if first["crs"] is not None else ""
    gt = ", ".join(_fmt(v) for v in (left, res_x, 0.0, top, 0.0, res_y))
    lines = [f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">']
    if srs:
        lines.append(f"  <SRS>{srs}</SRS>")
    lines.append(f"  <GeoTransform>{gt}</GeoTransform>")

    def source(tag: str, info: dict[str, Any], band: str, off: tuple[int, int], extra: str = "") -> str:
        return (
            f"    <{tag}>\n"
            f'      <SourceFilename relativeToVRT="0">{escape(info["path"])}</SourceFilename>\n'
            f"      <SourceBand>{band}</SourceBand>\n"
            f'      <SrcRect xOff="0" yOff="0" xSize="{info["width"]}" ySize="{info["height"]}"/>\n'
            f'      <DstRect xOff="{off[0]}" yOff="{off[1]}" xSize="{info["width"]}" ySize="{info["height"]}"/>\n'
            f"{extra}"
            f"    </{tag}>"
        )

    for b in range(first["count"]):
        dtype = first["dtypes"][b]
        if dtype not in _GDAL_TYPES:
            raise DataError(f"{first['uri']} band {b} has dtype {dtype}, which rv cannot mosaic.")
        lines.append(f'  <VRTRasterBand dataType="{_GDAL_TYPES[dtype]}" band="{b + 1}">')
        if nodata is not None:
            lines.append(f"    <NoDataValue>{_fmt(nodata)}</NoDataValue>")
        ci = first["colorinterp"][b]
        lines.append(f"    <ColorInterp>{ci.capitalize() if ci != 'undefined' else 'Undefined'}</ColorInterp>")
        for info, off in zip(infos, offsets):
            if nodata is not None:
                lines.append(source("ComplexSource", info, str(b + 1), off, f"      <NODATA>{_fmt(nodata)}</NODATA>\n"))
            else:
                lines.append(source("SimpleSource", info, str(b + 1), off))
        lines.append("  </VRTRasterBand>")
    if nodata is None:
        # No nodata value: a dataset mask marks where no file has pixels.
        lines.append("  <MaskBand>")
        lines.append('    <VRTRasterBand dataType="Byte">')
        for info, off in zip(infos, offsets):
            lines.append(source("SimpleSource", info, "mask,1", off).replace("\n    ", "\n      ", 0))
        lines.append("    </VRTRasterBand>")
        lines.append("  </MaskBand>")
    lines.append("</VRTDataset>")
    return "\n".join(lines) + "\n"
