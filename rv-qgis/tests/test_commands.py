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

    again = rv("qgis", "install", "--profile", profile, "--copy")
    assert again.returncode == 0, again.stderr
    assert not target.is_symlink() and (target / "__init__.py").is_file() and (target / "predict_algorithm.py").is_file()


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
    probe = subprocess.run([sys.executable, "-c", "import rv_qgis.plugin, sys; print('qgis' in sys.modules)"],
                           capture_output=True, text=True)
    assert probe.stdout.strip() == "False"
