"""The on-disk chip format: written by CHIP, read by backends.

::

    <chip_dir>/
      chips.json                 manifest, written last (it marks the output finished)
      train/<scene_id>-<n>.npz   one file per chip
      valid/<scene_id>-<n>.npz
      debug/train/*.png, debug/valid/*.png   when debug is on

``chips.json``: ``{"format_version": 1, "task", "class_map": [{"id", "name",
"color"}], "background_class_id", "chip_size", "num_channels", "dtype",
"counts": {"train": N, "valid": M}}``.

Each ``.npz`` holds ``image`` ``(H, W, C)``, ``mask`` ``(H, W)`` bool (True =
nodata) and, by task: ``class_id`` (int64 scalar) for chip classification;
``boxes`` float32 ``(N, 4)`` (pixel ``ymin, xmin, ymax, xmax`` inside the
chip) and ``class_ids`` int64 ``(N,)`` for object detection; ``labels`` uint8
``(H, W)`` (255 = ignore) for semantic segmentation. The file is what
``np.savez`` writes (member for member), packed by :func:`write_npz`.

The module is long because it is the whole format in one place: what CHIP
writes (:class:`ChipWriter`, the ``.npz`` packing of :func:`write_npz`, the
debug PNGs) and what every backend reads (:func:`read_chip_manifest`,
:func:`chip_paths`, :func:`load_chip`); a change of the format is a change here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rv import keys
from rv.core.class_map import IGNORE_CLASS_ID, ClassMap
from rv.errors import ConfigError, DataError

FORMAT_VERSION = 1
MANIFEST_NAME = "chips.json"
SPLITS = ("train", "valid")

# Label arrays each task stores, with their dtypes.
_TASK_LABELS = {
    keys.CHIP_CLASSIFICATION: ("class_id",),
    keys.OBJECT_DETECTION: ("boxes", "class_ids"),
    keys.SEMANTIC_SEGMENTATION: ("labels",),
}


def _is_local(uri: str) -> bool:
    from rv.file_systems import is_local

    return is_local(uri)


def _local(uri: str) -> str:
    from rv.file_systems import gdal_path

    return gdal_path(uri)


def _safe_name(scene_id: str) -> str:
    """A scene id usable as a file name (path separators and spaces replaced)."""
    return re.sub(r"[^\w.\-]+", "_", str(scene_id)) or "scene"


class ChipWriter:
    """Writes training chips of one CHIP run in the chip format.

    Use as a context manager (or call :meth:`close`): ``chips.json`` is
    written only when every chip is, so a crashed run never looks finished.
    A previous run's ``chips.json``, ``train/``, ``valid/`` and ``debug/``
    in ``chip_dir`` are removed when the writer starts. A remote
    ``chip_dir`` is staged in a temporary directory and uploaded on close.

    Args:
        chip_dir: the output directory (local path or URI).
        task: the task key (``rv.CHIP_CLASSIFICATION``, ``rv.OBJECT_DETECTION``,
            ``rv.SEMANTIC_SEGMENTATION``).
        class_map: the classes.
        chip_size: the side of the chips.
        num_channels: channels of every image (default: taken from the first chip).
        dtype: dtype of every image (default: the first chip's).
        debug: also write a debug PNG per chip under ``debug/<split>/``.
        compress: zip-compress the ``.npz`` files (smaller, slower).
    """

    def __init__(
        self,
        chip_dir: str,
        task: str,
        class_map: ClassMap,
        chip_size: int,
        num_channels: int | None = None,
        dtype: Any = None,
        debug: bool = False,
        compress: bool = False,
        tmp_dir: str | None = None,
    ):
        if task not in _TASK_LABELS:
            raise ConfigError(f"ChipWriter does not know the task {task!r}; use one of {sorted(_TASK_LABELS)}.")
        self.chip_dir = os.fspath(chip_dir)
        self.task = task
        self.class_map = class_map
        self.chip_size = int(chip_size)
        self.num_channels = num_channels
        self.dtype = None if dtype is None else np.dtype(dtype)
        self.debug = debug
        self.compress = compress
        self.counts = {split: 0 for split in SPLITS}
        self._scene_counts: dict[tuple[str, str], int] = {}
        # (split, scene id) -> [pixels with data inside the AOI, those of them without a class]
        self._pixel_tally: dict[tuple[str, str], list[int]] = {}
        self._valid_ids = np.zeros(256, dtype=bool)
        self._valid_ids[class_map.ids] = True
        # Segmentation labels may also hold the ignore id.
        self._allowed_seg = self._valid_ids.copy()
        self._allowed_seg[IGNORE_CLASS_ID] = True
        self._closed = False
        if _is_local(self.chip_dir):
            self._staging: str | None = None
            self.local_dir = _local(self.chip_dir)
        else:
            self._staging = tempfile.mkdtemp(prefix="rv-chips-", dir=tmp_dir)
            self.local_dir = self._staging
        self._clear_previous()

    def _clear_previous(self) -> None:
        manifest = os.path.join(self.local_dir, MANIFEST_NAME)
        if os.path.exists(manifest):
            os.remove(manifest)  # first, so a half-cleared directory never looks finished
        for sub in (*SPLITS, "debug"):
            shutil.rmtree(os.path.join(self.local_dir, sub), ignore_errors=True)
        if self._staging is not None:
            from rv import file_utils

            if file_utils.exists(file_utils.join(self.chip_dir, MANIFEST_NAME)):
                file_utils.delete(file_utils.join(self.chip_dir, MANIFEST_NAME))
            for sub in (*SPLITS, "debug"):
                target = file_utils.join(self.chip_dir, sub)
                if file_utils.exists(target):
                    file_utils.delete(target, recursive=True)
        for split in SPLITS:
            os.makedirs(os.path.join(self.local_dir, split), exist_ok=True)

    def __enter__(self) -> ChipWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        elif self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)

    # --------------------------------------------------------------- writing

    def _check(self, split: str, scene_id: str, image: np.ndarray, mask: np.ndarray | None, labels: dict) -> None:
        where = f"chip {self.counts.get(split, 0)} of scene {scene_id!r} ({split})"
        if split not in SPLITS:
            raise ConfigError(f"Chip split {split!r} is not one of {SPLITS}.")
        if image.ndim != 3:
            raise DataError(f"The image of {where} has shape {image.shape}; chips are (H, W, C).")
        if self.num_channels is None:
            self.num_channels = image.shape[2]
        if self.dtype is None:
            self.dtype = image.dtype
        if image.shape[2] != self.num_channels:
            raise DataError(
                f"The image of {where} has {image.shape[2]} channels but the chips before it had "
                f"{self.num_channels}; every scene must use the same channel order."
            )
        if image.dtype != self.dtype:
            raise DataError(
                f"The image of {where} is {image.dtype} but the chips before it are {self.dtype}; give every "
                "scene the same raster transformers (e.g. the stats transformer) so chips share a dtype."
            )
        if mask is not None and mask.shape != image.shape[:2]:
            raise DataError(f"The mask of {where} has shape {mask.shape}, not the image's {image.shape[:2]}.")
        needed = _TASK_LABELS[self.task]
        missing = [k for k in needed if k not in labels]
        extra = [k for k in labels if k not in needed]
        if missing or extra:
            raise ConfigError(f"A {self.task} chip takes labels {list(needed)}; got {sorted(labels)} for {where}.")
        if self.task == keys.CHIP_CLASSIFICATION:
            ids = np.atleast_1d(np.asarray(labels["class_id"]))
        elif self.task == keys.OBJECT_DETECTION:
            ids = np.asarray(labels["class_ids"]).reshape(-1)
            boxes = np.asarray(labels["boxes"])
            if boxes.size and (boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) != len(ids)):
                raise DataError(f"{where} has boxes of shape {boxes.shape} for {len(ids)} class ids; boxes are (N, 4).")
        else:
            seg = np.asarray(labels["labels"])
            if seg.shape != image.shape[:2]:
                raise DataError(f"The labels of {where} have shape {seg.shape}, not the image's {image.shape[:2]}.")
            seg = seg.astype(np.uint8, copy=False)
            # Usually every value between the smallest and the largest is allowed (~10 µs to see);
            # else a 256-entry lookup (~80 µs); the ids present are counted only on failure.
            if (
                seg.size
                and not self._allowed_seg[seg.min() : int(seg.max()) + 1].all()
                and not self._allowed_seg.take(seg).all()
            ):
                present = np.flatnonzero(np.bincount(seg.ravel(), minlength=256))
                ids = present[present != IGNORE_CLASS_ID]
            else:
                ids = np.zeros(0, dtype=np.int64)
        bad = [int(i) for i in ids if not (0 <= int(i) < 256 and self._valid_ids[int(i)])]
        if bad:
            raise DataError(
                f"{where} has class id(s) {sorted(set(bad))} that are not in the class map {self.class_map.ids}. "
                "Add them to the class map or fix the labels."
            )

    def write(self, split: str, scene_id: str, image: np.ndarray, mask: np.ndarray | None = None, **labels: Any) -> str:
        """Write one chip; returns its path relative to ``chip_dir`` (``train/<scene>-<n>.npz``).

        ``labels`` by task: ``class_id=`` (CC), ``boxes=, class_ids=`` (OD,
        chip pixel coordinates), ``labels=`` (segmentation, uint8, 255 = ignore).
        """
        if self._closed:
            raise RuntimeError("This ChipWriter is closed.")
        image = np.asarray(image)
        self._check(split, scene_id, image, mask, labels)
        mask = np.zeros(image.shape[:2], dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        arrays: dict[str, np.ndarray] = {"image": image, "mask": mask}
        if self.task == keys.CHIP_CLASSIFICATION:
            arrays["class_id"] = np.asarray(int(np.asarray(labels["class_id"]).item()), dtype=np.int64)
        elif self.task == keys.OBJECT_DETECTION:
            arrays["boxes"] = np.asarray(labels["boxes"], dtype=np.float32).reshape(-1, 4)
            arrays["class_ids"] = np.asarray(labels["class_ids"], dtype=np.int64).reshape(-1)
        else:
            arrays["labels"] = np.asarray(labels["labels"], dtype=np.uint8)
            tally = self._pixel_tally.setdefault((split, str(scene_id)), [0, 0])
            inside, unlabelled = unlabelled_pixels(arrays["labels"], mask)
            tally[0] += inside
            tally[1] += unlabelled
        name = _safe_name(scene_id)
        n = self._scene_counts.get((split, name), 0)
        self._scene_counts[(split, name)] = n + 1
        rel = f"{split}/{name}-{n}.npz"
        path = os.path.join(self.local_dir, rel)
        if self.compress:
            with open(path, "wb") as f:
                np.savez_compressed(f, **arrays)  # type: ignore[arg-type]  # numpy types **kwds as allow_pickle
        else:
            write_npz(path, arrays)
        self.counts[split] += 1
        if self.debug:
            self.write_debug_png(
                split, f"{name}-{n}", image, mask, **{k: v for k, v in arrays.items() if k not in ("image", "mask")}
            )
        return rel

    def write_debug_png(
        self, split: str, name: str, image: np.ndarray, mask: np.ndarray | None = None, **labels: Any
    ) -> str:
        """Write ``debug/<split>/<name>.png``: the chip with its labels drawn on it; returns the relative path."""
        png = render_debug_image(image, mask, self.class_map, **labels)
        rel = f"debug/{split}/{name}.png"
        path = os.path.join(self.local_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        png.save(path)
        return rel

    def pixel_tally(self) -> list[dict[str, Any]]:
        """Segmentation only: per scene and split, how many chip pixels lie inside the AOI with data
        (``pixels``) and how many of those have no class (``unlabelled``: 255 in the labels).

        ``[{"scene", "split", "pixels", "unlabelled"}, ...]`` in the order scenes were first written;
        CHIP warns from it when labels leave pixels without a class.
        """
        return [
            {"scene": scene, "split": split, "pixels": inside, "unlabelled": unlabelled}
            for (split, scene), (inside, unlabelled) in self._pixel_tally.items()
        ]

    def manifest(self) -> dict[str, Any]:
        """The ``chips.json`` content for the chips written so far."""
        return {
            "format_version": FORMAT_VERSION,
            "task": self.task,
            "class_map": self.class_map.to_list(),
            "background_class_id": self.class_map.background_class_id,
            "chip_size": self.chip_size,
            "num_channels": self.num_channels,
            "dtype": None if self.dtype is None else self.dtype.name,
            "counts": dict(self.counts),
        }

    def close(self) -> dict[str, Any]:
        """Write ``chips.json`` last (and upload a remote chip directory); returns the manifest."""
        if self._closed:
            return self.manifest()
        manifest = self.manifest()
        if self.num_channels is None:
            raise DataError(
                f"No chip was written to {self.chip_dir}: the scenes gave no windows to chip. Check the AOIs, "
                "the labels and the chip options."
            )
        text = json.dumps(manifest, indent=2)
        if self._staging is None:
            path = os.path.join(self.local_dir, MANIFEST_NAME)
            with open(path + ".tmp", "w") as f:
                f.write(text)
            os.replace(path + ".tmp", path)
        else:
            from rv import file_utils

            try:
                # Chips first, the manifest last: the manifest marks the upload finished.
                file_utils.sync_to_dir(self._staging, self.chip_dir)
                file_utils.write_text(file_utils.join(self.chip_dir, MANIFEST_NAME), text)
            finally:
                shutil.rmtree(self._staging, ignore_errors=True)
        self._closed = True
        return manifest


def unlabelled_pixels(labels: np.ndarray, mask: np.ndarray | None = None) -> tuple[int, int]:
    """``(pixels, unlabelled)`` of a segmentation chip: pixels not masked (data, inside the AOI), and
    those of them whose label is :data:`IGNORE_CLASS_ID` (no class: training ignores them).

    One pass over the labels when nothing is unlabelled, the usual case with a background class.
    """
    labels = np.asarray(labels)
    unlabelled = int(np.count_nonzero(labels == IGNORE_CLASS_ID))
    if mask is None:
        return int(labels.size), unlabelled
    mask = np.asarray(mask, dtype=bool)
    masked = int(np.count_nonzero(mask))
    if unlabelled and masked:
        # Masked pixels are 255 too (CHIP sets them so): only the unmasked ones are unlabelled.
        unlabelled = int(np.count_nonzero((labels == IGNORE_CLASS_ID) & ~mask))
    return int(labels.size) - masked, unlabelled


# --------------------------------------------------------------------------
# Chip files
# --------------------------------------------------------------------------

# ZIP (PKWARE APPNOTE) records of an uncompressed archive without ZIP64 extensions.
_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")  # signature .. extra length
_CENTRAL_HEADER = struct.Struct("<IHHHHHHIIIHHHHHII")  # signature .. local header offset
_END_RECORD = struct.Struct("<IHHHHIIH")
# Members dated 1980-01-01 00:00 (the earliest DOS date): the same arrays give the same file.
_DOS_TIME, _DOS_DATE = 0, (1 << 5) | 1
_ZIP_VERSION = 20  # 2.0: stored members, no ZIP64
_MADE_BY_UNIX = (3 << 8) | _ZIP_VERSION
_FILE_ATTRIBUTES = (0o100644) << 16  # a regular file, rw-r--r--
_ZIP32_LIMIT = 0xFFFFFFFF - 1

_npy_headers: dict[tuple[np.dtype, tuple[int, ...], bool], bytes] = {}


def _npy_header(array: np.ndarray) -> bytes:
    """The ``.npy`` header numpy writes for ``array`` (format 1.0), memoised by dtype, shape and order."""
    key = (array.dtype, array.shape, array.flags.f_contiguous and not array.flags.c_contiguous)
    header = _npy_headers.get(key)
    if header is None:
        import io

        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, np.lib.format.header_data_from_array_1_0(array))
        header = buf.getvalue()
        if len(_npy_headers) < 1024:
            _npy_headers[key] = header
    return header


def write_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` as an uncompressed ``.npz``, as ``np.savez(path, **arrays)`` does.

    The members (``<name>.npy``: numpy's own header, then the array's bytes
    in C order) are byte-for-byte those ``np.savez`` writes, so ``np.load``
    (and any zip reader) reads the file as before. What differs is the cost:
    ``np.savez`` goes through ``zipfile``, which writes each member in small
    pieces and seeks back to patch its header, ~0.7 ms for a 256² RGB
    segmentation chip, more than the chip's image read. Here the zip records
    are packed with ``struct`` and the whole file goes to the kernel in one
    ``writev`` call (no copy of the arrays into a buffer); the CRC-32 the zip
    format requires is the only pass over the data. The members carry a
    fixed date (1980-01-01), so the same chip always gives the same file.

    Archives that need ZIP64 (a member of 4 GiB or more) and arrays of Python
    objects go through ``np.savez``.
    """
    members: list[tuple[bytes, bytes, memoryview, int, int]] | None = []
    for name, value in arrays.items():
        array = np.asanyarray(value)
        if array.dtype.hasobject or type(array) is not np.ndarray:
            members = None
            break
        # numpy stores a Fortran-ordered array as such, any other in C order.
        fortran = array.flags.f_contiguous and not array.flags.c_contiguous
        if not fortran and not array.flags.c_contiguous:
            array = np.ascontiguousarray(array)
        data = memoryview((array.T if fortran else array).reshape(-1).view(np.uint8))  # type: ignore[arg-type]  # the bytes, in file order
        header = _npy_header(array)
        crc = zlib.crc32(data, zlib.crc32(header))
        members.append(((name + ".npy").encode("utf-8"), header, data, crc, len(header) + len(data)))
    if members is None or sum(size + 30 + len(fname) for fname, _, _, _, size in members) >= _ZIP32_LIMIT:
        with open(path, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]  # numpy types **kwds as allow_pickle
        return
    buffers: list[Any] = []
    central = []
    offset = 0
    for fname, header, data, crc, size in members:
        local = _LOCAL_HEADER.pack(0x04034B50, _ZIP_VERSION, 0, 0, _DOS_TIME, _DOS_DATE, crc, size, size, len(fname), 0)
        buffers += [local + fname + header, data]
        central.append(
            _CENTRAL_HEADER.pack(
                0x02014B50,
                _MADE_BY_UNIX,
                _ZIP_VERSION,
                0,
                0,
                _DOS_TIME,
                _DOS_DATE,
                crc,
                size,
                size,
                len(fname),
                0,
                0,
                0,
                0,
                _FILE_ATTRIBUTES,
                offset,
            )
            + fname
        )
        offset += len(local) + len(fname) + size
    directory = b"".join(central)
    buffers.append(
        directory + _END_RECORD.pack(0x06054B50, 0, 0, len(members), len(members), len(directory), offset, 0)
    )
    _write_all(path, buffers)


def _write_all(path: str, buffers: list[Any]) -> None:
    """Create ``path`` holding the concatenation of ``buffers``: one ``writev`` where the OS has it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o666)
    try:
        if hasattr(os, "writev"):
            total = sum(len(b) for b in buffers)
            written = os.writev(fd, buffers)
            if written == total:
                return
            # A short write (a signal, a nearly full disk): write the rest piece by piece.
            rest = memoryview(b"".join(buffers))[written:]
        else:
            rest = memoryview(b"".join(buffers))
        while rest:
            rest = rest[os.write(fd, rest) :]
    finally:
        os.close(fd)


# --------------------------------------------------------------------------
# Debug images
# --------------------------------------------------------------------------


def _display_rgb(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """uint8 ``(H, W, 3)`` for display: first three channels (or grey), stretched p2–p98 if not uint8."""
    img = image[..., :3] if image.shape[2] >= 3 else np.repeat(image[..., :1], 3, axis=2)
    if img.dtype != np.uint8:
        valid = img[~mask] if mask is not None and (~mask).any() else img.reshape(-1, 3)
        valid = valid.astype(np.float64)
        lo = np.percentile(valid, 2, axis=0) if valid.size else np.zeros(3)
        hi = np.percentile(valid, 98, axis=0) if valid.size else np.ones(3)
        span = np.where(hi > lo, hi - lo, 1)
        img = (np.clip((img.astype(np.float64) - lo) / span, 0, 1) * 255).astype(np.uint8)
    img = np.ascontiguousarray(img)
    if mask is not None and mask.any():
        img = img.copy()
        img[mask] = (255, 0, 255)  # nodata in magenta: never mistaken for imagery
    return img


def render_debug_image(image: np.ndarray, mask: np.ndarray | None, class_map: ClassMap, **labels: Any):
    """A ``PIL.Image`` of the chip with its labels: segmentation colors blended in, boxes outlined
    with their class name, or a chip-classification border and class name."""
    from PIL import Image, ImageDraw

    rgb = _display_rgb(np.asarray(image), mask)
    colors = class_map.colors_rgb()
    if "labels" in labels:
        seg = np.asarray(labels["labels"], dtype=np.uint8)
        overlay = class_map.color_lut()[seg]
        labelled = (seg != IGNORE_CLASS_ID)[..., None]
        rgb = np.where(labelled, (0.55 * rgb + 0.45 * overlay).astype(np.uint8), rgb)
    pil = Image.fromarray(rgb, "RGB")
    draw = ImageDraw.Draw(pil)

    def name_of(class_id: int) -> str:
        return class_map.get_by_id(class_id).name if class_map.has_id(class_id) else str(class_id)

    if "boxes" in labels:
        for (ymin, xmin, ymax, xmax), cid in zip(
            np.asarray(labels["boxes"]).reshape(-1, 4), np.asarray(labels["class_ids"]).reshape(-1)
        ):
            color = colors.get(int(cid), (255, 255, 255))
            draw.rectangle([float(xmin), float(ymin), float(xmax) - 1, float(ymax) - 1], outline=color, width=2)
            draw.text((float(xmin) + 2, float(ymin) + 1), name_of(int(cid)), fill=color)
    if "class_id" in labels:
        cid = int(np.asarray(labels["class_id"]).item())
        color = colors.get(cid, (255, 255, 255))
        w, h = pil.size
        text = name_of(cid)
        box = draw.textbbox((6, 6), text)
        draw.rectangle([box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2], fill=(0, 0, 0))
        draw.text((6, 6), text, fill=color)
        # The border last: a name wider than a small chip must not hide it.
        draw.rectangle([0, 0, w - 1, h - 1], outline=color, width=4)
    return pil


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------


#: the tasks a chip directory may be made for
TASKS = (keys.CHIP_CLASSIFICATION, keys.OBJECT_DETECTION, keys.SEMANTIC_SEGMENTATION)
_REQUIRED = ("task", "class_map", "chip_size", "num_channels", "dtype", "counts")


@dataclass(frozen=True)
class ChipManifest:
    """A checked ``chips.json``: what backends need to read the chips, and the file as read.

    The class lists are in class-map order, which is the order of a model's
    class indices. ``raw`` is the whole JSON object (CHIP's ``warnings`` and
    ``unlabelled_pixels`` included).
    """

    format_version: int
    task: str
    class_ids: tuple[int, ...]
    class_names: tuple[str, ...]
    class_colors: tuple[Any, ...]
    background_class_id: int | None
    chip_size: int
    num_channels: int
    dtype: str
    counts: dict[str, int]
    raw: dict[str, Any] = field(repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_ids)

    @property
    def class_map(self) -> ClassMap:
        """The class map the chips were made with."""
        return ClassMap.from_spec(self.raw["class_map"], self.background_class_id)


def read_chip_manifest(chip_dir: str | os.PathLike) -> ChipManifest:
    """The ``chips.json`` of a (local) chip directory, checked.

    Raises:
        DataError: CHIP did not finish (no ``chips.json``), the file is not
            valid JSON, is of a newer format, lacks a field, names an unknown
            task or has class ids that are not distinct integers 0-254.
    """
    path = os.path.join(_local(os.fspath(chip_dir)), MANIFEST_NAME)
    if not os.path.isfile(path):
        raise DataError(
            f"The chip directory {os.fspath(chip_dir)} has no {MANIFEST_NAME}: the CHIP command did not finish. "
            "Run CHIP again (with --rerun if needed)."
        )
    try:
        with open(path) as f:
            raw = json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(f"{path} is not valid JSON ({e}); rerun CHIP to rewrite it.") from None
    if not isinstance(raw, dict):
        raise DataError(f"{path} holds a JSON {type(raw).__name__}, not a chip manifest; rerun CHIP to rewrite it.")
    version = raw.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise DataError(
            f"{path} has chip format version {version!r}; this rv reads version {FORMAT_VERSION} and older. "
            "Upgrade rv or rerun CHIP."
        )
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise DataError(f"{path} lacks {missing}; rerun CHIP to rewrite it.")
    try:
        class_map = raw["class_map"]
        manifest = ChipManifest(
            format_version=version,
            task=raw["task"],
            class_ids=tuple(int(c["id"]) for c in class_map),
            class_names=tuple(str(c["name"]) for c in class_map),
            class_colors=tuple(c.get("color") for c in class_map),
            background_class_id=raw.get("background_class_id"),
            chip_size=int(raw["chip_size"]),
            num_channels=int(raw["num_channels"]),
            dtype=str(raw["dtype"]),
            counts={k: int(v) for k, v in raw["counts"].items()},
            raw=raw,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(
            f"The chip manifest {path} is not valid ({type(exc).__name__}: {exc}). It must follow the chip "
            "format of docs/internals.md; rerun CHIP to rewrite it."
        ) from None
    if manifest.task not in TASKS:
        raise DataError(f"The chip manifest {path} names the unknown task {manifest.task!r}; expected one of {TASKS}.")
    ids = manifest.class_ids
    if not ids or len(set(ids)) != len(ids) or not all(0 <= i < IGNORE_CLASS_ID for i in ids):
        raise DataError(
            f"The class map in {path} has ids {list(ids)}; class ids must be distinct integers 0-254 "
            f"({IGNORE_CLASS_ID} means ignore) and there must be at least one."
        )
    return manifest


def chip_paths(chip_dir: str | os.PathLike, split: str) -> list[str]:
    """The ``.npz`` files of one split, sorted."""
    if split not in SPLITS:
        raise ConfigError(f"Chip split {split!r} is not one of {SPLITS}.")
    d = os.path.join(_local(os.fspath(chip_dir)), split)
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".npz"))


def load_chip(path: str) -> dict[str, np.ndarray]:
    """The arrays of one chip file (``image``, ``mask`` and the task's labels)."""
    try:
        with np.load(path) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"Cannot read the chip {path}: {e}. Rerun CHIP to rewrite it.") from None


def iter_chips(chip_dir: str, split: str) -> Iterator[dict[str, np.ndarray]]:
    """Yields the arrays of each chip of ``split``, in file-name order."""
    read_chip_manifest(chip_dir)  # refuse unfinished directories
    for path in chip_paths(chip_dir, split):
        yield load_chip(path)


class ChipDir:
    """A finished chip directory: its manifest, class map and chips."""

    def __init__(self, chip_dir: str):
        self.path = os.fspath(chip_dir)
        self.manifest = read_chip_manifest(self.path)
        self.class_map = self.manifest.class_map

    @property
    def task(self) -> str:
        return self.manifest.task

    def paths(self, split: str) -> list[str]:
        """The chip files of ``split``."""
        return chip_paths(self.path, split)

    def iter_chips(self, split: str) -> Iterator[dict[str, np.ndarray]]:
        """The chips of ``split``."""
        for path in self.paths(split):
            yield load_chip(path)


def read_chip_dir(chip_dir: str) -> ChipDir:
    """Open a finished chip directory (``DataError`` if ``chips.json`` is missing)."""
    return ChipDir(chip_dir)
