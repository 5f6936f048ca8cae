"""Model bundles are opened like untrusted archives (rv.bundle_archive)."""

import json
import os
import stat
import zipfile

import pytest

from rv.bundle_archive import MAX_BYTES_ENV, extract_bundle
from rv.errors import DataError

MANIFEST = json.dumps({"format_version": 3, "task": "SEMANTIC_SEGMENTATION", "backend": "PYTORCH_SEMANTIC_SEGMENTATION",
                       "classes": [{"id": 1, "name": "building", "color": "red"}]})


def _zip(path, entries):
    """A zip at ``path`` with ``entries``: name -> bytes, or ZipInfo -> bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def test_a_plain_bundle_is_extracted_with_its_manifest(tmp_path):
    bundle = _zip(tmp_path / "model-bundle.zip", {"manifest.json": MANIFEST, "stats.json": "{}"})
    manifest = extract_bundle(str(bundle), str(tmp_path / "out"))
    assert manifest["format_version"] == 3
    assert sorted(os.listdir(tmp_path / "out")) == ["manifest.json", "stats.json"]


@pytest.mark.parametrize("name, reason", [
    ("../../escaped.txt", "'..' segment"),
    ("/tmp/absolute.txt", "absolute path"),
    ("weights/../../../escaped.txt", "'..' segment"),
])
def test_zip_slip_entries_are_refused_and_nothing_is_written(tmp_path, name, reason):
    bundle = _zip(tmp_path / "evil.zip", {"manifest.json": MANIFEST, name: "pwned"})
    out = tmp_path / "deep" / "er" / "out"
    with pytest.raises(DataError, match=reason) as raised:
        extract_bundle(str(bundle), str(out))
    assert "evil.zip" in str(raised.value) and "outside" in str(raised.value)
    assert not out.exists()
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "deep" / "escaped.txt").exists()


def test_a_symbolic_link_entry_is_refused(tmp_path):
    link = zipfile.ZipInfo("model.safetensors")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(tmp_path / "link.zip", "w") as zf:
        zf.writestr("manifest.json", MANIFEST)
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(DataError, match="symbolic link"):
        extract_bundle(str(tmp_path / "link.zip"), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_a_zip_bomb_is_refused_before_extraction(tmp_path, monkeypatch):
    # 64 MiB of zeros deflates to about 64 KiB; with a 16 MiB limit it is a bomb.
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", MANIFEST)
        with zf.open("model.safetensors", "w") as f:
            chunk = bytes(1024**2)
            for _ in range(64):
                f.write(chunk)
    assert os.path.getsize(tmp_path / "bomb.zip") < 1024**2
    monkeypatch.setenv(MAX_BYTES_ENV, str(16 * 1024**2))
    with pytest.raises(DataError) as raised:
        extract_bundle(str(tmp_path / "bomb.zip"), str(tmp_path / "out"))
    message = str(raised.value)
    assert "zip bomb" in message and "0.1 GiB" in message and MAX_BYTES_ENV in message
    assert not (tmp_path / "out").exists()


def test_the_manifest_is_checked_before_anything_is_extracted(tmp_path):
    bundle = _zip(tmp_path / "not-rv.zip", {"manifest.json": json.dumps(["not", "a", "manifest"]),
                                            "model.safetensors": b"x"})
    with pytest.raises(DataError, match="not an rv bundle manifest"):
        extract_bundle(str(bundle), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    bundle = _zip(tmp_path / "none.zip", {"model.safetensors": b"x"})
    with pytest.raises(DataError, match="no manifest.json"):
        extract_bundle(str(bundle), str(tmp_path / "out"))


def test_a_file_that_is_not_a_zip_is_named(tmp_path):
    path = tmp_path / "model-bundle.zip"
    path.write_text("hello")
    with pytest.raises(DataError, match="not a zip file"):
        extract_bundle(str(path), str(tmp_path / "out"))
