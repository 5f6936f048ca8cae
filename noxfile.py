"""Install rv's packages into fresh environments and run their tests, the docs and lint.

`python3 -m nox` runs the developer sessions (CI runs `bash scripts/test.sh` instead); `python3 -m nox -l`
lists the sessions; `python3 -m nox -s "tests(package='rv-core')"` runs one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PACKAGES = ["rv-core", "rv-cli", "rv-geojson", "rv-pytorch", "rv-aws"]
# The rv application (rv-app: rv-core, rv-cli, rv-geojson) comes with every package's tests.
CORE = ["rv-core", "rv-cli", "rv-geojson", "rv-app"]
PACKAGES_TESTS = [f"{p}/tests" for p in PACKAGES]
CONSTRAINTS = ["-c", str(ROOT / "requirements.lock"), "-c", str(ROOT / "constraints.txt")]
# Test, lint and docs tools: the same file scripts/setup.sh installs into .venv.
DEV_REQUIREMENTS = ["-r", str(ROOT / "requirements-dev.txt")]
PYTHON = "3.11"

# The default run (CI's): everything but the tests marked slow, which train real models for
# minutes each, plus the one slow test that holds the product's quality bar (`quality`);
# `python3 -m nox -s slow` runs all the slow tests.
nox.options.sessions = ["lint", "tests", "integration", "quality", "wheels", "docs"]
nox.options.error_on_missing_interpreters = True


def _pip(session: nox.Session, *args: str, python: str | None = None) -> None:
    """``pip ARGS`` with the session's Python (or ``python``), through scripts/pip.sh: its retries and resumes."""
    python = python or os.path.join(session.bin, "python")
    session.run("bash", str(ROOT / "scripts" / "pip.sh"), python, *args, external=True)


def _editable(*packages: str) -> list[str]:
    args: list[str] = []
    for p in packages:
        args += ["-e", str(ROOT / p)]
    return args


def _install(session: nox.Session, *packages: str) -> None:
    wanted = list(dict.fromkeys([*CORE, *packages]))
    _pip(session, "install", *CONSTRAINTS, *_editable(*wanted), *DEV_REQUIREMENTS)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over every package."""
    _pip(session, "install", *CONSTRAINTS, "ruff")
    session.run("ruff", "check", ".")


@nox.session(python=PYTHON)
@nox.parametrize("package", PACKAGES)
def tests(session: nox.Session, package: str) -> None:
    """One package's tests, in an environment with that package (and rv-core's trio)."""
    _install(session, package)
    session.run("pytest", f"{package}/tests", "-m", "not slow", *session.posargs)


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """Cross-package tests (tests/): real entry points, end-to-end pipelines, examples."""
    _install(session, *PACKAGES)
    session.run("pytest", "tests", "-m", "not slow", *session.posargs)


@nox.session(python=PYTHON)
def quality(session: nox.Session) -> None:
    """The main job's quality bar: examples/buildings_segmentation.py at its default budget (~10 min)."""
    _install(session, *PACKAGES)
    session.run("pytest", "tests/quality", "-m", "slow", "-s", *session.posargs)


@nox.session(python=PYTHON)
def slow(session: nox.Session) -> None:
    """The slow end-to-end tests (real training runs, minutes each) of every package."""
    _install(session, *PACKAGES)
    session.run("pytest", *PACKAGES_TESTS, "tests", "-m", "slow", *session.posargs)


@nox.session(python=PYTHON)
def wheels(session: nox.Session) -> None:
    """Build wheels of all five packages and install them *by name* into a fresh venv."""
    _pip(session, "install", "build>=1.0")
    wheelhouse = ROOT / "wheelhouse"
    shutil.rmtree(wheelhouse, ignore_errors=True)
    for package in [*PACKAGES, "rv-app"]:
        session.run("python", "-m", "build", "--wheel", "--outdir", str(wheelhouse), str(ROOT / package))
    venv = Path(session.create_tmp()) / "by-name"
    shutil.rmtree(venv, ignore_errors=True)
    session.run("python", "-m", "venv", str(venv))
    py = str(venv / "bin" / "python")
    # pip older than 24 gives up on boto3/aiobotocore's botocore pins; a fresh venv may carry one
    _pip(session, "install", "--quiet", "--upgrade", "pip>=24", python=py)
    _pip(
        session,
        "install",
        "--quiet",
        *CONSTRAINTS,
        "--find-links",
        str(wheelhouse),
        "rv-core",
        "rv-pytorch",
        "rv-aws",
        python=py,
    )
    out = session.run(str(venv / "bin" / "rv"), "plugins", "list", "--json", external=True, silent=True)
    import json

    plugins = {p["distribution"]: p for p in json.loads(out)}
    for dist in PACKAGES:
        if dist not in plugins or plugins[dist]["status"] != "ok":
            session.error(f"`rv plugins list` in the by-name install does not show {dist} as ok: {plugins.get(dist)}")
    session.log("by-name install works: " + ", ".join(f"{d} {p['version']}" for d, p in sorted(plugins.items())))
    session.run(str(venv / "bin" / "rv"), "plugins", "list", external=True)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site in strict mode (warnings are errors)."""
    _install(session, *PACKAGES)
    session.run("python", "docs/gen_reference.py", "--check")
    session.run("mkdocs", "build", "--strict", "--site-dir", str(Path(session.create_tmp()) / "site"))


@nox.session(python=False)
def dev(session: nox.Session) -> None:
    """The development environment .venv, every package editable: scripts/setup.sh, as CI makes it."""
    session.run("bash", str(ROOT / "scripts" / "setup.sh"), external=True)
    session.log(f"activate with: source {os.path.relpath(ROOT / '.venv')}/bin/activate")
