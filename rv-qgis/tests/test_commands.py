"""``rv qgis install`` and ``rv qgis package``, as a user runs them (no QGIS needed)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import rv_qgis

RV = str(Path(sys.executable).with_name("rv"))


def rv(*args, **kw):
    return subprocess.run([RV, *map(str, args)], capture_output=True, text=True, timeout=120, **kw)


def test_install_links_the_plugin_into_a_profile_and_replaces_an_earlier_install(tmp_path):
    profile = tmp_path / "profiles" / "default"
    done = rv("qgis", "install", "--profile", profile)
    assert done.returncode == 0, done.stderr
    target = profile / "python" / "plugins" / "rv"
    assert target.is_symlink() and target.resolve() == rv_qgis.QGIS_PLUGIN_DIR
    assert "hasProcessingProvider=yes" in (target / "metadata.txt").read_text()
    # enabled in the profile's settings, running the rv that installed it
    settings = (profile / "QGIS" / "QGIS3.ini").read_text(encoding="utf-8")
    assert "[PythonPlugins]\nrv=true" in settings and f"[rv]\nexecutable={RV}" in settings

    (profile / "QGIS" / "QGIS3.ini").write_text("[PythonPlugins]\nprocessing=true\n\n[rv]\nworking_dir=/w\n")
    again = rv("qgis", "install", "--profile", profile, "--copy")
    assert again.returncode == 0, again.stderr
    assert (
        not target.is_symlink() and (target / "__init__.py").is_file() and (target / "predict_algorithm.py").is_file()
    )
    # the user's other settings stay
    assert (profile / "QGIS" / "QGIS3.ini").read_text(encoding="utf-8") == (
        f"[PythonPlugins]\nprocessing=true\nrv=true\n\n[rv]\nworking_dir=/w\nexecutable={RV}\n"
    )


def test_install_defaults_to_the_qgis_custom_config_path(tmp_path):
    done = rv("qgis", "install", env={**__import__("os").environ, "QGIS_CUSTOM_CONFIG_PATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "profiles" / "default" / "python" / "plugins" / "rv" / "metadata.txt").is_file()


def test_package_writes_the_plugin_manager_zip(tmp_path):
    done = rv("qgis", "package", "--output", tmp_path / "rv.zip")
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(tmp_path / "rv.zip") as zf:
        names = zf.namelist()
        metadata = zf.read("rv/metadata.txt").decode()
    assert {"rv/__init__.py", "rv/metadata.txt", "rv/provider.py", "rv/predict_algorithm.py"} <= set(names)
    assert all(name.startswith("rv/") and "__pycache__" not in name for name in names)
    assert "name=rv" in metadata and "version=0.1.0" in metadata


def test_rv_help_lists_qgis_and_imports_no_qgis():
    done = rv("--help")
    assert "qgis" in done.stdout
    probe = subprocess.run(
        [sys.executable, "-c", "import rv_qgis.plugin, sys; print('qgis' in sys.modules)"],
        capture_output=True,
        text=True,
    )
    assert probe.stdout.strip() == "False"


def test_fetch_copies_remote_files_when_absent_or_newer(tmp_path):
    import functools
    import http.server
    import json
    import os
    import threading
    import time

    served = tmp_path / "www"
    served.mkdir()
    (served / "exp.json").write_text('{"v": 1}', encoding="utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_address[1]}/exp.json"
    work, out = tmp_path / "work", tmp_path / "fetched.json"

    def fetch(*uris):
        done = rv("qgis", "fetch", *uris, "--working-dir", work, "--output", out)
        assert done.returncode == 0, done.stderr
        return json.loads(out.read_text(encoding="utf-8"))

    try:
        first = fetch(uri, served / "exp.json", "nothing://x/y.json")
        copy = work / "http" / f"127.0.0.1:{server.server_address[1]}" / "exp.json"
        assert first["files"] == {uri: str(copy), str(served / "exp.json"): str(served / "exp.json")}
        assert first["downloaded"] == [uri] and copy.read_text(encoding="utf-8") == '{"v": 1}'
        assert "nothing://" in first["errors"]["nothing://x/y.json"]  # names the scheme no file system reads
        assert fetch(uri)["downloaded"] == []  # unchanged on the server
        (served / "exp.json").write_text('{"v": 2}', encoding="utf-8")
        later = time.time() + 5
        os.utime(served / "exp.json", (later, later))
        assert fetch(uri)["downloaded"] == [uri] and copy.read_text(encoding="utf-8") == '{"v": 2}'
    finally:
        server.shutdown()
        server.server_close()
