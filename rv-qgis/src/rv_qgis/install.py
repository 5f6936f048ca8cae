"""Putting the QGIS plugin where QGIS finds it: a profile's plugin folder, or a plugin-manager zip."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from rv.errors import ConfigError
from rv_qgis import QGIS_PLUGIN_DIR, QGIS_PLUGIN_NAME

#: files of the plugin folder that are never installed or packaged
_SKIPPED = ("__pycache__", ".pyc")


def default_profile_dir() -> Path:
    """QGIS's default profile: under ``$QGIS_CUSTOM_CONFIG_PATH`` when set, else the user's QGIS3 folder."""
    custom = os.environ.get("QGIS_CUSTOM_CONFIG_PATH")
    base = Path(custom) if custom else Path.home() / ".local" / "share" / "QGIS" / "QGIS3"
    return base / "profiles" / "default"


def plugin_files() -> list[Path]:
    """The plugin's files, relative to its folder, in a stable order."""
    files = []
    for path in sorted(QGIS_PLUGIN_DIR.rglob("*")):
        rel = path.relative_to(QGIS_PLUGIN_DIR)
        if path.is_file() and not any(part == "__pycache__" or part.endswith(".pyc") for part in rel.parts):
            files.append(rel)
    return files


def install_plugin(
    profile: str | os.PathLike | None = None,
    copy: bool = False,
    enable: bool = True,
    rv_executable: str | None = None,
) -> Path:
    """Install the plugin as ``<profile>/python/plugins/rv``: a symbolic link to this package's folder, or a copy.

    An earlier install (link or folder) is replaced. With ``enable`` the plugin is also enabled in
    the profile's settings, with ``rv_executable`` (when given) as the ``rv`` it runs. Returns the
    installed folder.
    """
    profile_dir = Path(profile).expanduser() if profile else default_profile_dir()
    if profile_dir.exists() and not profile_dir.is_dir():
        raise ConfigError(f"QGIS profile {profile_dir} is a file: give the profile's folder with --profile.")
    plugins_dir = profile_dir / "python" / "plugins"
    plugins_dir.mkdir(parents=True, exist_ok=True)
    target = plugins_dir / QGIS_PLUGIN_NAME
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        shutil.rmtree(target)
    if copy:
        for rel in plugin_files():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(QGIS_PLUGIN_DIR / rel, target / rel)
    else:
        target.symlink_to(QGIS_PLUGIN_DIR, target_is_directory=True)
    if enable:
        enable_plugin(profile_dir, rv_executable)
    return target


def _set_ini_value(path: Path, section: str, key: str, value: str) -> None:
    """Set ``key=value`` in ``[section]`` of a QGIS settings file (Qt's INI format), keeping every other line."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    header = f"[{section}]"
    start = next((i for i, line in enumerate(lines) if line.strip() == header), None)
    if start is None:
        lines += ([""] if lines and lines[-1].strip() else []) + [header, f"{key}={value}"]
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
        found = next((i for i in range(start + 1, end) if lines[i].split("=", 1)[0].strip() == key), None)
        if found is not None:
            lines[found] = f"{key}={value}"
        else:
            while end > start + 1 and not lines[end - 1].strip():
                end -= 1
            lines.insert(end, f"{key}={value}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def enable_plugin(profile_dir: Path, rv_executable: str | None) -> Path:
    """Enable the plugin in the profile's settings (``QGIS/QGIS3.ini``) and set the ``rv`` it runs; returns the file.

    QGIS (and ``qgis_process``) loads a profile's Python plugins only when enabled there
    (``[PythonPlugins] rv=true``); ``[rv] executable`` is the plugin's Configure setting.
    """
    ini = profile_dir / "QGIS" / "QGIS3.ini"
    _set_ini_value(ini, "PythonPlugins", QGIS_PLUGIN_NAME, "true")
    if rv_executable:
        _set_ini_value(ini, "rv", "executable", rv_executable)
    return ini


def package_plugin(output: str | os.PathLike) -> Path:
    """Write the plugin-manager zip: one top folder ``rv/`` holding the plugin's files. Returns its path."""
    out = Path(output).expanduser()
    if out.is_dir():
        out = out / "rv-qgis-plugin.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for rel in plugin_files():
            zf.write(QGIS_PLUGIN_DIR / rel, f"{QGIS_PLUGIN_NAME}/{rel.as_posix()}")
    os.replace(tmp, out)  # never a half-written zip under the final name
    return out
