"""The packages' declared requirements form no cycle, and installing by name brings the whole application.

Read from the ``pyproject.toml`` files of this checkout (what the wheels'
metadata will say), not from the installed metadata: a cycle is caught
before any wheel is built. The slow ``tests/test_install_by_name.py`` checks
the same promise with real wheels and pip.
"""

from __future__ import annotations

import graphlib
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = sorted([*ROOT.glob("rv-*/pyproject.toml"), *ROOT.glob("examples/plugins/*/pyproject.toml")])


def _declared() -> dict[str, set[str]]:
    """Each project of the checkout → the names of the projects of the checkout it requires (extras included)."""
    projects = {}
    for path in PROJECTS:
        project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
        requirements = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            requirements += extra
        projects[canonicalize_name(project["name"])] = {canonicalize_name(Requirement(r).name) for r in requirements}
    return {name: {r for r in requires if r in projects} for name, requires in projects.items()}


def _closure(graph: dict[str, set[str]], names: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph[name])
    return seen


def test_the_checkout_holds_every_first_party_project():
    names = set(_declared())
    assert {"rv-core", "rv-cli", "rv-geojson", "rv-pytorch", "rv-aws", "rv-slurm", "rv-qgis", "rv-app"} <= names


def test_declared_requirements_have_no_cycle():
    graph = _declared()
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as e:
        pytest.fail(f"the pyproject.toml files declare a dependency cycle: {' -> '.join(e.args[1])}")
    assert order.index("rv-core") < order.index("rv-cli") < order.index("rv-app")
    # The SDK requires no other rv project: everything else builds on it.
    assert graph["rv-core"] == set()


def test_installing_core_pytorch_and_aws_by_name_brings_the_command_and_geojson():
    graph = _declared()
    assert _closure(graph, ["rv-core", "rv-pytorch", "rv-aws"]) == {
        "rv-core", "rv-cli", "rv-geojson", "rv-app", "rv-pytorch", "rv-aws",
    }  # fmt: skip
