"""rv.file_utils against real file systems: local disk, a loopback HTTP server, memory://."""

from __future__ import annotations

import shutil
import uuid

import numpy as np
import pytest

from rv import file_utils
from rv.errors import DataError, FileSystemError
from rv.file_utils import MissingFileError


@pytest.fixture
def mem_root():
    """A fresh memory:// directory (the memory file system is shared by the whole process)."""
    root = f"memory://rv-test-{uuid.uuid4().hex[:10]}"
    yield root
    file_utils.delete(root, recursive=True)


# ---------------------------------------------------------------------------
# HTTP (read only)
# ---------------------------------------------------------------------------


def test_http_read_exists_and_download(http_dir, tmp_path):
    (http_dir.root / "stats.json").write_text('{"means": [1, 2, 3]}\n')
    payload = bytes(range(256)) * 40
    (http_dir.root / "sub").mkdir()
    (http_dir.root / "sub" / "blob.bin").write_bytes(payload)

    assert file_utils.read_text(http_dir / "stats.json") == '{"means": [1, 2, 3]}\n'
    assert file_utils.read_bytes(http_dir / "sub/blob.bin") == payload
    assert file_utils.exists(http_dir / "stats.json")
    assert file_utils.exists(http_dir / "sub/")
    assert not file_utils.exists(http_dir / "nope.json")
    assert not file_utils.is_local(http_dir / "stats.json")

    local = file_utils.download_if_needed(http_dir / "sub/blob.bin", tmp_path / "dl")
    assert local.startswith(str(tmp_path / "dl"))
    assert local.endswith("blob.bin")
    with open(local, "rb") as f:
        assert f.read() == payload

    # open_file gives a seekable file that reads only the bytes asked for.
    http_dir.clear()
    with file_utils.open_file(http_dir / "sub/blob.bin", "rb") as f:
        f.seek(5000)
        assert f.read(10) == payload[5000:5010]
    ranges = [r for r in http_dir.requests if r[2]]
    assert ranges, http_dir.requests
    assert sum(r[3] or 0 for r in http_dir.requests) < len(payload)


def test_http_missing_file_names_the_url(http_dir, tmp_path):
    url = http_dir / "missing/labels.geojson"
    with pytest.raises(MissingFileError, match="missing/labels.geojson") as info:
        file_utils.read_text(url)
    assert isinstance(info.value, DataError)
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(MissingFileError, match="does not exist"):
        file_utils.download_if_needed(url, tmp_path)


def test_http_is_read_only(http_dir):
    url = http_dir / "out/predictions.tif"
    for write in (
        lambda: file_utils.write_text(url, "x"),
        lambda: file_utils.write_bytes(url, b"x"),
        lambda: file_utils.open_file(url, "wb"),
        lambda: file_utils.make_dir(http_dir / "out"),
    ):
        with pytest.raises(FileSystemError, match="read-only") as info:
            write()
        assert url.split("/out")[0] in str(info.value)
        assert "local path" in str(info.value)
    assert not (http_dir.root / "out").exists()
    # The message names the whole URI written to, as does upload's and sync's.
    for write in (
        lambda: file_utils.write_text(url, "x"),
        lambda: file_utils.open_file(url, "w"),
        lambda: file_utils.upload(__file__, url),
    ):
        with pytest.raises(FileSystemError, match="read-only") as info:
            write()
        assert f"Cannot write to {url}:" in str(info.value)
    with pytest.raises(FileSystemError, match="read-only") as info:
        file_utils.sync_to_dir(str(http_dir.root), http_dir / "mirror")
    assert "mirror" in str(info.value)


def test_geotiff_window_over_http_uses_range_reads(http_dir_process, data_dir):
    rasterio = pytest.importorskip("rasterio")
    from rasterio.windows import Window

    tif = data_dir / "trees" / "neon_osbs_029.tif"
    shutil.copy(tif, http_dir_process.root / tif.name)
    url = http_dir_process / tif.name
    window = Window(col_off=100, row_off=150, width=64, height=48)

    with rasterio.open(tif) as local:
        expected = local.read(window=window)
        expected_crs, expected_transform = local.crs, local.transform

    path = file_utils.gdal_path(url)
    assert path == "/vsicurl/" + url
    with rasterio.Env(**file_utils.gdal_env()):
        with rasterio.open(path) as remote:
            assert remote.crs == expected_crs
            assert remote.crs.to_epsg() == 32617
            assert remote.transform == expected_transform
            assert (remote.width, remote.height, remote.count) == (400, 400, 3)
            got = remote.read(window=window)

    assert got.shape == (3, 48, 64)
    np.testing.assert_array_equal(got, expected)
    assert got.std() > 0  # a real image window, not a blank

    requests = http_dir_process.requests
    gets = [r for r in requests if r[0] == "GET"]
    assert gets and all(r[2] and r[2].startswith("bytes=") for r in gets), requests
    # Only part of the file crossed the wire, and GDAL never asked for the
    # directory listing or sidecar files (GDAL_DISABLE_READDIR_ON_OPEN).
    assert sum(r[3] or 0 for r in requests) < tif.stat().st_size
    assert {r[1] for r in requests} == {"/" + tif.name}


# ---------------------------------------------------------------------------
# memory://
# ---------------------------------------------------------------------------


def test_memory_round_trips(mem_root, tmp_path):
    text_uri = file_utils.join(mem_root, "stats", "stats.json")
    bytes_uri = file_utils.join(mem_root, "chips/train/scene-1-0.npz")
    file_utils.write_text(text_uri, "héllo\nwörld\n")
    data = np.arange(1000, dtype=np.uint16).tobytes()
    file_utils.write_bytes(bytes_uri, data)
    with file_utils.open_file(file_utils.join(mem_root, "chips/chips.json"), "w") as f:
        f.write('{"format_version": 1}')

    assert file_utils.read_text(text_uri) == "héllo\nwörld\n"
    assert file_utils.read_bytes(bytes_uri) == data
    with file_utils.open_file(file_utils.join(mem_root, "chips/chips.json")) as f:
        assert f.read() == '{"format_version": 1}'
    assert file_utils.exists(text_uri)
    assert file_utils.exists(file_utils.join(mem_root, "chips"))  # a directory
    assert not file_utils.exists(file_utils.join(mem_root, "nope"))

    assert file_utils.list_paths(file_utils.join(mem_root, "chips")) == [file_utils.join(mem_root, "chips/chips.json")]
    assert file_utils.list_paths(mem_root, recursive=True) == sorted(
        [text_uri, bytes_uri, file_utils.join(mem_root, "chips/chips.json")]
    )
    assert file_utils.list_paths(mem_root, ext="NPZ", recursive=True) == [bytes_uri]
    assert file_utils.list_paths(file_utils.join(mem_root, "missing")) == []

    # copies across file systems and within memory://
    local = tmp_path / "copy" / "scene.npz"
    file_utils.copy(bytes_uri, str(local))
    assert local.read_bytes() == data
    back = file_utils.join(mem_root, "back.npz")
    file_utils.copy(str(local), back)
    file_utils.copy(back, file_utils.join(mem_root, "again.npz"))
    assert file_utils.read_bytes(file_utils.join(mem_root, "again.npz")) == data

    downloaded = file_utils.download_if_needed(text_uri, tmp_path / "dl")
    assert downloaded == file_utils.get_local_path(text_uri, tmp_path / "dl")
    assert open(downloaded, encoding="utf-8").read() == "héllo\nwörld\n"

    file_utils.delete(back)
    assert not file_utils.exists(back)
    file_utils.delete(back)  # deleting what is gone is fine
    with pytest.raises(FileSystemError, match="recursive=True"):
        file_utils.delete(file_utils.join(mem_root, "chips"))
    with pytest.raises(MissingFileError, match="nope.json"):
        file_utils.read_bytes(file_utils.join(mem_root, "nope.json"))


def test_remote_write_is_all_or_nothing(mem_root):
    uri = file_utils.join(mem_root, "eval.json")
    with pytest.raises(RuntimeError):
        with file_utils.open_file(uri, "w") as f:
            f.write('{"overall": ')
            raise RuntimeError("evaluator crashed")
    assert not file_utils.exists(uri)


# ---------------------------------------------------------------------------
# local disk
# ---------------------------------------------------------------------------


def test_local_write_is_atomic(tmp_path):
    out = tmp_path / "predict" / "scene-1.json"
    with pytest.raises(RuntimeError, match="killed"):
        with file_utils.open_file(out, "w") as f:
            f.write('{"labels": [')
            raise RuntimeError("killed mid-write")
    assert not out.exists()
    assert list(out.parent.iterdir()) == []  # no temporary file left behind

    file_utils.write_text(out, '{"labels": []}')
    assert out.read_text() == '{"labels": []}'

    # A failed rewrite keeps the old content whole.
    with pytest.raises(ValueError):
        with file_utils.open_file(out, "wb") as f:
            f.write(b"garbage")
            raise ValueError("bad prediction")
    assert out.read_text() == '{"labels": []}'

    # An abandoned writer (never closed) leaves nothing behind either.
    writer = file_utils.open_file(tmp_path / "abandoned.txt", "w")
    writer.write("half")
    del writer
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predict"]
    assert [p.name for p in out.parent.iterdir()] == ["scene-1.json"]


def test_local_paths_and_file_uris(tmp_path):
    target = tmp_path / "a" / "b.txt"
    file_utils.write_text("file://" + str(target), "via file uri")
    assert target.read_text() == "via file uri"
    assert file_utils.read_text(str(target)) == "via file uri"
    assert file_utils.is_local(str(target)) and file_utils.is_local("file:///x")
    assert file_utils.download_if_needed(str(target), tmp_path / "unused") == str(target)
    assert file_utils.get_local_path("file://" + str(target), tmp_path) == str(target)
    assert file_utils.list_paths("file://" + str(tmp_path / "a")) == ["file://" + str(target)]
    with pytest.raises(MissingFileError, match="missing.tif"):
        file_utils.read_bytes(tmp_path / "missing.tif")
    with pytest.raises(MissingFileError, match="missing.tif"):
        file_utils.download_if_needed(str(tmp_path / "missing.tif"), tmp_path)
    with pytest.raises(FileSystemError, match="directory"):
        file_utils.read_bytes(tmp_path / "a")
    with pytest.raises(FileSystemError, match="mode 'a'"):
        file_utils.open_file(target, "a")


def test_sync_between_local_and_memory(tmp_path, mem_root):
    src = tmp_path / "train"
    files = {
        "model.pth": b"\x00weights" * 100,
        "logs/metrics.csv": b"epoch,loss\n0,1.5\n1,0.9\n",
        "logs/tb/events.out": b"tensorboard",
    }
    for rel, content in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(content)

    dst = file_utils.join(mem_root, "train")
    written = file_utils.sync_to_dir(str(src), dst)
    assert sorted(written) == sorted(file_utils.join(dst, rel) for rel in files)
    for rel, content in files.items():
        assert file_utils.read_bytes(file_utils.join(dst, rel)) == content

    back = tmp_path / "restored"
    file_utils.sync_from_dir(dst, str(back))
    restored = {p.relative_to(back).as_posix(): p.read_bytes() for p in back.rglob("*") if p.is_file()}
    assert restored == files

    # delete=True removes what the source no longer has, on either side.
    (src / "logs" / "tb" / "events.out").unlink()
    file_utils.sync_to_dir(str(src), dst, delete=True)
    assert not file_utils.exists(file_utils.join(dst, "logs/tb/events.out"))
    assert file_utils.exists(file_utils.join(dst, "model.pth"))
    (back / "stale.txt").write_text("old")
    file_utils.sync_from_dir(dst, str(back), delete=True)
    assert not (back / "stale.txt").exists()
    assert (back / "model.pth").read_bytes() == files["model.pth"]

    with pytest.raises(MissingFileError, match="nothing-here"):
        file_utils.sync_from_dir(file_utils.join(mem_root, "nothing-here"), str(tmp_path / "x"))


# ---------------------------------------------------------------------------
# URIs and file system lookup
# ---------------------------------------------------------------------------


def test_join_keeps_schemes():
    assert file_utils.join("s3://bucket/out/", "chip", "/chips.json") == "s3://bucket/out/chip/chips.json"
    assert file_utils.join("memory://", "a", "b") == "memory://a/b"
    assert file_utils.join("file:///", "tmp") == "file:///tmp"
    assert file_utils.join("https://host/data", "x.tif") == "https://host/data/x.tif"
    assert file_utils.join("/data/out", "/train", "a.npz") == "/data/out/train/a.npz"
    assert file_utils.join("out", "stats.json") == "out/stats.json"
    assert file_utils.join("C:\\data", "x.tif").startswith("C:\\data")


def test_get_local_path_stays_inside_tmp_dir(tmp_path):
    assert file_utils.get_local_path("s3://bucket/a/b.tif", tmp_path) == str(tmp_path / "s3/bucket/a/b.tif")
    climbing = file_utils.get_local_path("https://host/../../etc/passwd", tmp_path)
    assert climbing.startswith(str(tmp_path / "https" / "host"))
    signed_a = file_utils.get_local_path("https://host/x.tif?sig=a", tmp_path)
    signed_b = file_utils.get_local_path("https://host/x.tif?sig=b", tmp_path)
    assert signed_a != signed_b and signed_a.endswith("x.tif")


def test_unknown_scheme_names_the_uri_and_the_fix():
    with pytest.raises(FileSystemError, match=r"gs://bucket/scene\.tif") as info:
        file_utils.read_bytes("gs://bucket/scene.tif")
    assert "file_system_for hook" in str(info.value)

    # s3:// names the plugin that provides it, when no plugin answers for it.
    from rv.plugins import make_plugin_manager, use_plugin_manager

    with use_plugin_manager(make_plugin_manager(autoload=False, legacy=False)):
        with pytest.raises(FileSystemError, match="pip install rv-aws") as info:
            file_utils.write_text("s3://bucket/out/stats.json", "{}")
    assert "s3://bucket/out/stats.json" in str(info.value)


def test_plugins_provide_file_systems(mem_root):
    """A plugin adds a scheme through the file_system_for hook."""
    import rv
    from rv.plugins import RVPluginManager, use_plugin_manager

    calls = []

    class HookPlugin:
        @rv.hookimpl
        def file_system_for(self, uri, mode):
            if uri.startswith("hooked://"):
                calls.append(mode)
                return _PrefixedMemory(mem_root, "hooked://")
            return None

    pm = RVPluginManager()
    pm.add_plugin(HookPlugin(), "hook-plugin")
    pm.build_registry()
    with use_plugin_manager(pm):
        file_utils.write_text("hooked://x/a.txt", "via hook")
        assert file_utils.read_text("hooked://x/a.txt") == "via hook"
        # rv-core's own file systems still answer under this plugin manager.
        assert file_utils.read_text(file_utils.join(mem_root, "x/a.txt")) == "via hook"
    assert calls == ["w", "r"]


def test_a_plugin_with_the_removed_register_file_systems_hook_is_told_what_replaced_it(capsys):
    import rv
    from rv.errors import PluginError
    from rv.plugins import RVPluginManager

    class OldPlugin:
        @rv.hookimpl
        def register_file_systems(self, register):
            register("old", lambda uri, mode: None)

    pm = RVPluginManager()
    pm.add_plugin(OldPlugin(), "old-plugin")
    pm.check_hook_names()
    assert "implement file_system_for(uri, mode) instead" in capsys.readouterr().err
    pm.strict = True
    with pytest.raises(PluginError, match="'register_file_systems', which rv no longer has"):
        pm.check_hook_names()


def _PrefixedMemory(mem_root: str, scheme: str):
    """A memory file system that stores ``<scheme>path`` under ``mem_root/path``."""
    from fsspec.implementations.memory import MemoryFileSystem

    root = mem_root.replace("memory://", "/")

    class Prefixed(MemoryFileSystem):
        cachable = False

        @classmethod
        def _strip_protocol(cls, path):
            path = str(path)
            if path.startswith(scheme):
                path = root + "/" + path[len(scheme) :]
            return super()._strip_protocol(path)

    return Prefixed()
