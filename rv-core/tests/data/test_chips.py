"""The chip format: ChipWriter and the readers round-trip every task's chips."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from rv import keys
from rv.chips import ChipWriter, chip_paths, iter_chips, load_chip, read_chip_dir, read_chip_manifest
from rv.core.box import Box
from rv.core.class_map import ClassMap
from rv.data.label_source import SemanticSegmentationRasterSource
from rv.data.raster_source import GeoTIFFSource
from rv.errors import DataError


def test_segmentation_chips_round_trip(tmp_path, data_dir, landcover_class_map):
    image_src = GeoTIFFSource(str(data_dir / "landcover" / "s2_aberystwyth_tile4.tif"), channel_order=[2, 1, 0])
    labels = SemanticSegmentationRasterSource(
        GeoTIFFSource(str(data_dir / "landcover" / "s2_aberystwyth_tile4_labels.tif")), landcover_class_map
    )
    chip_dir = tmp_path / "chip"
    written = []
    with ChipWriter(str(chip_dir), keys.SEMANTIC_SEGMENTATION, landcover_class_map, 128, debug=True) as writer:
        for i, window in enumerate(image_src.extent.get_windows(128)):
            image, mask = image_src.get_chip_with_mask(window)
            split = "valid" if i == 3 else "train"
            rel = writer.write(split, "aber tile/4", image, mask, labels=labels.get_label_arr(window))
            written.append((rel, image, mask))
        # No manifest until the writer closes.
        assert not (chip_dir / "chips.json").exists()
    manifest = read_chip_manifest(str(chip_dir))
    assert manifest.raw == {
        "format_version": 1,
        "task": keys.SEMANTIC_SEGMENTATION,
        "class_map": landcover_class_map.to_list(),
        "background_class_id": None,
        "chip_size": 128,
        "num_channels": 3,
        "dtype": "uint16",
        "counts": {"train": 3, "valid": 1},
    }
    assert written[0][0] == "train/aber_tile_4-0.npz" and written[3][0] == "valid/aber_tile_4-0.npz"
    for rel, image, mask in written:
        chip = load_chip(str(chip_dir / rel))
        np.testing.assert_array_equal(chip["image"], image)
        np.testing.assert_array_equal(chip["mask"], mask)
        assert chip["labels"].dtype == np.uint8
    # The padded edge chip keeps its mask.
    assert load_chip(str(chip_dir / written[-1][0]))["mask"][-5:].all()
    assert len(list(iter_chips(str(chip_dir), "train"))) == 3
    pngs = sorted(p.name for p in (chip_dir / "debug" / "train").iterdir())
    assert pngs == ["aber_tile_4-0.png", "aber_tile_4-1.png", "aber_tile_4-2.png"]
    assert Image.open(chip_dir / "debug" / "train" / pngs[0]).size == (128, 128)
    cd = read_chip_dir(str(chip_dir))
    assert cd.class_map == landcover_class_map and cd.task == keys.SEMANTIC_SEGMENTATION


def test_object_detection_and_classification_chips(tmp_path, data_dir):
    src = GeoTIFFSource(str(data_dir / "trees" / "neon_osbs_029.tif"))
    cm = ClassMap.from_spec({"tree": (1, "yellow")})
    image, mask = src.get_chip_with_mask(Box(0, 0, 200, 200))
    boxes = np.array([[67, 103, 90, 127], [10, 10, 40, 50]], dtype=np.float64)
    with ChipWriter(str(tmp_path / "od"), keys.OBJECT_DETECTION, cm, 200, debug=True) as writer:
        writer.write("train", "osbs", image, mask, boxes=boxes, class_ids=[1, 1])
        writer.write("train", "osbs", image, mask, boxes=np.zeros((0, 4)), class_ids=[])
    first, second = (load_chip(p) for p in chip_paths(str(tmp_path / "od"), "train"))
    assert first["boxes"].dtype == np.float32 and first["class_ids"].dtype == np.int64
    np.testing.assert_allclose(first["boxes"], boxes)
    assert second["boxes"].shape == (0, 4)
    debug = np.asarray(Image.open(tmp_path / "od" / "debug" / "train" / "osbs-0.png"))
    # The box outline is drawn in the class color (yellow) at the box's top-left corner.
    assert tuple(debug[10, 10]) == (255, 255, 0)

    with ChipWriter(str(tmp_path / "cc"), keys.CHIP_CLASSIFICATION, cm, 200) as writer:
        writer.write("valid", "osbs", image, mask, class_id=1)
    chip = next(iter_chips(str(tmp_path / "cc"), "valid"))
    assert chip["class_id"].dtype == np.int64 and int(chip["class_id"]) == 1


def test_writer_rejects_inconsistent_chips(tmp_path):
    cm = ClassMap.from_spec(["a", "b"])
    writer = ChipWriter(str(tmp_path / "c"), keys.SEMANTIC_SEGMENTATION, cm, 8)
    writer.write("train", "s", np.zeros((8, 8, 3), np.uint8), labels=np.ones((8, 8), np.uint8))
    with pytest.raises(DataError, match="4 channels but the chips before it had 3"):
        writer.write("train", "s", np.zeros((8, 8, 4), np.uint8), labels=np.ones((8, 8), np.uint8))
    with pytest.raises(DataError, match="uint16 but the chips before it are uint8"):
        writer.write("train", "s", np.zeros((8, 8, 3), np.uint16), labels=np.ones((8, 8), np.uint8))
    with pytest.raises(DataError, match=r"class id\(s\) \[7\]"):
        writer.write("train", "s", np.zeros((8, 8, 3), np.uint8), labels=np.full((8, 8), 7, np.uint8))


def test_unfinished_and_stale_directories(tmp_path):
    cm = ClassMap.from_spec(["a"])
    with pytest.raises(DataError, match="did not finish"):
        read_chip_manifest(str(tmp_path / "nothing"))
    d = tmp_path / "chips"
    with ChipWriter(str(d), keys.CHIP_CLASSIFICATION, cm, 4) as w:
        for _ in range(3):
            w.write("train", "s", np.zeros((4, 4, 1), np.uint8), class_id=1)
    # A rerun replaces the previous chips instead of mixing with them.
    with ChipWriter(str(d), keys.CHIP_CLASSIFICATION, cm, 4) as w:
        w.write("train", "s", np.zeros((4, 4, 1), np.uint8), class_id=1)
    assert len(chip_paths(str(d), "train")) == 1
    assert json.loads((d / "chips.json").read_text())["counts"] == {"train": 1, "valid": 0}


def test_remote_chip_dir_is_uploaded_with_the_manifest_last(tmp_path):
    import fsspec

    fs = fsspec.filesystem("memory")
    cm = ClassMap.from_spec(["a"])
    try:
        with ChipWriter("memory://rv-core-tests/chips", keys.CHIP_CLASSIFICATION, cm, 4, tmp_dir=str(tmp_path)) as w:
            w.write("valid", "s", np.zeros((4, 4, 2), np.uint8), class_id=1)
            assert not fs.exists("memory://rv-core-tests/chips/chips.json")
        assert sorted(fs.find("memory://rv-core-tests/chips")) == [
            "/rv-core-tests/chips/chips.json",
            "/rv-core-tests/chips/valid/s-0.npz",
        ]
        assert json.loads(fs.cat("memory://rv-core-tests/chips/chips.json"))["counts"] == {"train": 0, "valid": 1}
        assert list(tmp_path.iterdir()) == []  # the staging directory is gone
    finally:
        fs.rm("memory://rv-core-tests", recursive=True)


def test_segmentation_chips_tally_pixels_without_a_class(tmp_path, data_dir):
    """CHIP's ignored share comes from the chips as written: unmasked pixels labelled 255."""
    from rv.chips import unlabelled_pixels

    label_tif = data_dir / "landcover" / "s2_aberystwyth_tile4_labels.tif"
    forest_only = ClassMap.from_spec({"forest": 1})  # grass, urban, water: no class
    labels = SemanticSegmentationRasterSource(GeoTIFFSource(str(label_tif)), forest_only)
    image_src = GeoTIFFSource(str(data_dir / "landcover" / "s2_aberystwyth_tile4.tif"), channel_order=[2, 1, 0])
    expected = {"train": [0, 0], "valid": [0, 0]}
    with ChipWriter(str(tmp_path / "chip"), keys.SEMANTIC_SEGMENTATION, forest_only, 128) as writer:
        for i, window in enumerate(image_src.extent.get_windows(128)):
            image, mask = image_src.get_chip_with_mask(window)  # the edge chips are padded: masked
            arr = labels.get_label_arr(window)
            split = "valid" if i == 3 else "train"
            writer.write(split, "tile4", image, mask, labels=arr)
            expected[split][0] += int((~mask).sum())
            expected[split][1] += int(((arr == 255) & ~mask).sum())
    assert writer.pixel_tally() == [
        {"scene": "tile4", "split": "train", "pixels": expected["train"][0], "unlabelled": expected["train"][1]},
        {"scene": "tile4", "split": "valid", "pixels": expected["valid"][0], "unlabelled": expected["valid"][1]},
    ]
    assert 0 < expected["train"][1] < expected["train"][0]
    # Masked pixels (nodata, outside the AOI) are neither counted nor called unlabelled.
    chip_labels = np.array([[1, 255], [255, 255]], dtype=np.uint8)
    assert unlabelled_pixels(chip_labels, np.array([[False, False], [True, True]])) == (2, 1)
    assert unlabelled_pixels(chip_labels) == (4, 3)


def _members(source) -> dict[str, bytes]:
    import zipfile

    with zipfile.ZipFile(source) as zf:
        assert zf.testzip() is None  # every member's CRC-32 checks out
        return {name: zf.read(name) for name in zf.namelist()}


def test_chip_files_hold_what_np_savez_writes(tmp_path, data_dir, landcover_class_map):
    """The chip writer's own ``.npz`` (one writev, no zipfile) holds, member for member, the bytes
    ``np.savez`` writes for the same arrays: real 10-band uint16 imagery with nodata, labels, mask."""
    import io

    image_src = GeoTIFFSource(str(data_dir / "multiband" / "s2_aberystwyth_subset_10band.tif"))
    labels = SemanticSegmentationRasterSource(
        GeoTIFFSource(str(data_dir / "landcover" / "s2_aberystwyth_tile4_labels.tif")), landcover_class_map
    )
    chip_dir = tmp_path / "chips"
    windows = image_src.extent.get_windows(96, padding="pad")[:6]  # edge windows padded: masked pixels
    with ChipWriter(str(chip_dir), keys.SEMANTIC_SEGMENTATION, landcover_class_map, 96) as writer:
        written = []
        for window in windows:
            image, mask = image_src.get_chip_with_mask(window)
            seg = labels.get_label_arr(Box(0, 0, 96, 96))
            written.append((writer.write("train", "s2", image, mask, labels=seg), image, mask, seg))
    assert any(mask.any() for _, _, mask, _ in written) and written[0][1].dtype == np.uint16
    for rel, image, mask, seg in written:
        reference = io.BytesIO()
        np.savez(reference, image=image, mask=mask, labels=seg)
        assert _members(chip_dir / rel) == _members(reference)
        chip = load_chip(str(chip_dir / rel))
        assert np.array_equal(chip["image"], image) and np.array_equal(chip["mask"], mask)
        assert np.array_equal(chip["labels"], seg)


@pytest.mark.parametrize(
    "arrays",
    [
        {"image": np.zeros((4, 5, 3), np.float32), "mask": np.ones((4, 5), bool), "class_id": np.asarray(2, np.int64)},
        {"boxes": np.zeros((0, 4), np.float32), "class_ids": np.zeros(0, np.int64)},
        {"big_endian": np.arange(12, dtype=">u2").reshape(3, 4), "fortran": np.asfortranarray(np.eye(3))},
        {"strided": np.arange(60, dtype=np.int16).reshape(6, 10)[::2, ::3]},
        {"objects": np.array([{"a": 1}, None], dtype=object)},  # pickled: left to np.savez
    ],
)
def test_write_npz_is_np_savez(tmp_path, arrays):
    import io

    from rv.chips import write_npz

    path = tmp_path / "a.npz"
    write_npz(str(path), arrays)
    reference = io.BytesIO()
    np.savez(reference, **arrays)
    assert _members(path) == _members(reference)
    with np.load(path, allow_pickle=True) as npz:
        for name, value in arrays.items():
            assert npz[name].dtype == value.dtype and npz[name].shape == value.shape
            assert np.array_equal(npz[name], value) if value.dtype != object else list(npz[name]) == list(value)
    # The same arrays give the same file (no timestamp in it), except np.savez's fallback.
    if not any(v.dtype.hasobject for v in arrays.values()):
        again = tmp_path / "b.npz"
        write_npz(str(again), arrays)
        assert again.read_bytes() == path.read_bytes()
