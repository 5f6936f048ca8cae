"""Install by name: wheels of the five packages and rv-app, then ``pip install rv-core rv-pytorch rv-aws`` from them.

Slow-marked (not in CI's default run): ``pytest -m slow tests/test_install_by_name.py``
(seconds to a minute: five wheel builds). It checks what a user's ``pip install``
depends on: that each package builds a wheel, that the wheels' metadata names
each other so that installing ``rv-core rv-pytorch rv-aws`` *by name* pulls in
rv-cli and rv-geojson (through the meta-distribution rv-app, which the
first-party plugins depend on: see rv-app/README.md), and that in the resulting environment ``rv plugins
list`` finds all five through the wheels' entry points, and ``import rv``
comes from the installed wheel, not from this checkout.

It runs offline and installs no third-party package: the wheels are built with
pip (hatchling, the build backend, comes from the package index as for any
build), and pip installs them with ``--no-index --find-links WHEELHOUSE`` into a
fresh venv that sees this environment's third-party packages (numpy,
rasterio, torch, boto3, ...) through a directory of symlinks that leaves rv's
own packages out. pip resolves every dependency of the wheels' metadata
against those packages: a missing or mis-spelled dependency fails the
install. The ``wheels`` nox session (``python3 -m nox -s wheels``) does the
same with the dependencies downloaded from the package index into an
entirely fresh venv.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
from importlib import metadata
from pathlib import Path

import pytest

from rv.testing import environ_without_rv

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["rv-core", "rv-cli", "rv-geojson", "rv-pytorch", "rv-aws"]
META = "rv-app"  # no code: depends on rv-core, rv-cli and rv-geojson
BY_NAME = ["rv-core", "rv-pytorch", "rv-aws"]  # what the user types; the rest come as dependencies


def _is_rv_package(entry: str) -> bool:
    """Does this site-packages entry belong to one of rv's editable installs (left out of the shadow)?"""
    names = {p.replace("-", "_") for p in [*PACKAGES, META]}
    if re.match(r"^(__editable__\.|_editable_impl_|__editable___)", entry):
        return any(n in entry for n in names)
    dist = re.match(r"^([A-Za-z0-9_.]+)-[^-]+\.(dist-info|egg-info)$", entry)
    return bool(dist) and dist.group(1).lower().replace(".", "_") in names


def _pip_env() -> dict[str, str]:
    """This process's environment without pip's configuration: no index, no extra find-links."""
    env = environ_without_rv(also_remove=("PIP_",))
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    """Wheels of the five packages and rv-app, built by pip (hatchling from the package index, in build isolation)."""
    out = tmp_path_factory.mktemp("wheelhouse")
    env = environ_without_rv()
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", out,
          *(ROOT / p for p in [*PACKAGES, META])], env=env, timeout=900)  # fmt: skip
    return out


@pytest.fixture(scope="module")
def by_name_venv(tmp_path_factory, wheelhouse) -> Path:
    """A fresh venv with ``rv-core rv-pytorch rv-aws`` pip-installed by name from the wheelhouse. Returns its bin/."""
    base = tmp_path_factory.mktemp("by-name")
    # The third-party packages of this environment, without rv's: one symlink per site-packages entry.
    shadow = base / "third-party-site"
    shadow.mkdir()
    purelib = Path(sysconfig.get_path("purelib"))
    for entry in sorted(os.listdir(purelib)):
        if not _is_rv_package(entry):
            (shadow / entry).symlink_to(purelib / entry)
    target = base / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(target)
    python = target / "bin" / "python"
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip()
    # After the venv's own site-packages on sys.path, so that the installed wheels come first.
    Path(site, "_rv_third_party.pth").write_text(f"import site; site.addsitedir({str(shadow)!r})\n", encoding="utf-8")
    before = _run([python, "-c", "import importlib.util as u; print(u.find_spec('rv'))"]).stdout.strip()
    assert before == "None", f"rv is importable in the fresh venv before the install: {before}"

    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-index", "--find-links", wheelhouse,
          "--no-input", "--quiet", *BY_NAME], env=_pip_env(), timeout=600)  # fmt: skip
    try:
        yield target / "bin"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_each_package_builds_a_wheel(wheelhouse):
    wheels = sorted(p.name for p in wheelhouse.glob("*.whl"))
    for package in [*PACKAGES, META]:
        version = metadata.version(package)
        assert f"{package.replace('-', '_')}-{version}-py3-none-any.whl" in wheels, wheels


def test_installing_three_by_name_installs_all_five_from_the_wheels(by_name_venv):
    code = (
        "import json; from importlib import metadata; import rv, rv_cli, rv_geojson, rv_pytorch, rv_aws\n"
        "print(json.dumps({m.__name__: m.__file__ for m in (rv, rv_cli, rv_geojson, rv_pytorch, rv_aws)}))"
    )
    files = json.loads(_run([by_name_venv / "python", "-c", code], env=_pip_env()).stdout)
    site = str(by_name_venv.parent / "lib")
    for module, path in files.items():
        assert path.startswith(site), f"{module} is imported from {path}, not from the installed wheel"
    # rv-cli's console script came with the wheels.
    assert (by_name_venv / "rv").exists()


def test_rv_plugins_list_in_the_by_name_install_shows_all_five(by_name_venv, tmp_path):
    env = {**_pip_env(), "RV_CONFIG_DIR": str(tmp_path / "rv-config"), "COLUMNS": "120"}
    result = _run([by_name_venv / "rv", "plugins", "list", "--json"], env=env, cwd=tmp_path, timeout=120)
    plugins = {p["distribution"]: p for p in json.loads(result.stdout)}
    for package in PACKAGES:
        assert package in plugins, f"`rv plugins list` does not show {package}: {sorted(plugins)}"
        assert plugins[package]["status"] == "ok", plugins[package]
        assert plugins[package]["version"] == metadata.version(package)
    assert plugins["rv-core"]["source"] == "entry point 'rv = rv.builtin'"
    assert "warning" not in result.stderr, result.stderr  # no plugin failed to load
    table = _run([by_name_venv / "rv", "plugins", "list"], env=env, cwd=tmp_path, timeout=120).stdout
    for package in PACKAGES:
        assert re.search(rf"^\S+\s+{package}\s+\d", table, re.M), table


def test_this_environment_is_left_alone(by_name_venv):
    # The editable installs of the checkout are still what this environment imports.
    for package in PACKAGES:
        dist = metadata.distribution(package)
        assert dist.version == metadata.version(package)
    import rv

    assert str(ROOT / "rv-core" / "src") in rv.__file__
