"""What importing rv, ``rv --help`` and ``rv plugins list`` must not import.

Discovery imports every plugin's entry module; those must import only rv and
their light config classes, so that the command line starts fast with every
package installed. And rv never imports a plugin package: plugins import rv.
Each check runs in a fresh interpreter and reads ``sys.modules``.
"""

import json
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "timm", "torchvision", "rasterio", "boto3")
PLUGIN_PACKAGES = ("rv_geojson", "rv_pytorch", "rv_aws", "rv_cli", "rv_slurm", "rv_qgis")

PROBE = """
import io, json, sys, contextlib
from rv_cli.main import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main({argv!r})
print(json.dumps({{"code": code, "output": out.getvalue(), "modules": sorted(sys.modules)}}))
"""


def top_level(modules):
    return {m.split(".")[0] for m in modules}


def probe(run_python, python, argv):
    result = run_python(python, PROBE.format(argv=argv))
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["code"] == 0, result.stderr
    return report, result.stderr


EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "buildings_segmentation.py")


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["plugins", "list"], ["predict", "--help"], ["ls", EXAMPLE, "-a", "root_uri", "out"]],
    ids=["help", "plugins-list", "predict-help", "ls-experiment"],
)
def test_cli_imports_no_heavy_library(run_python, argv):
    report, _ = probe(run_python, sys.executable, argv)
    loaded = top_level(report["modules"]) & set(HEAVY)
    assert not loaded, f"`rv {' '.join(argv)}` imported {sorted(loaded)}"
    assert "rv" in report["output"] or "buildings-segmentation" in report["output"]  # it printed its help / table / ids


@pytest.mark.parametrize("argv", [["--help"], ["plugins", "list"]], ids=["help", "plugins-list"])
def test_cli_with_third_party_plugins_imports_no_heavy_library(run_python, plugin_venv, argv):
    report, stderr = probe(run_python, plugin_venv, argv)
    assert "rv_hello" in top_level(report["modules"])  # the third-party plugin was discovered ...
    assert not top_level(report["modules"]) & set(HEAVY)  # ... and stayed light
    assert "rv_broken" in stderr


def test_plugins_list_discovers_every_installed_package(run_python):
    report, _ = probe(run_python, sys.executable, ["plugins", "list", "--json"])
    names = {p["name"] for p in json.loads(report["output"])}
    assert {"rv", "rv_cli"} <= names
    from importlib import metadata

    installed = {ep.name for ep in metadata.entry_points(group="rv.plugins")}
    assert installed <= names  # every entry point is listed, loaded or failed


def test_importing_rv_imports_no_plugin_package(run_python):
    code = "import json, sys, rv; print(json.dumps(sorted(sys.modules)))"
    modules = top_level(json.loads(run_python(sys.executable, code).stdout))
    assert not modules & set(PLUGIN_PACKAGES), sorted(modules & set(PLUGIN_PACKAGES))
    assert not modules & set(HEAVY)


def test_rv_public_api_without_plugins_loaded(run_python):
    # Building configs needs the registry (so plugin discovery) but no plugin package is imported by rv itself:
    # what is imported comes from entry points only.
    code = (
        "import json, sys, rv\n"
        "task = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(['a']).build()\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    modules = top_level(json.loads(run_python(sys.executable, code, env={"RV_DISABLE_PLUGIN_AUTOLOAD": "1"}).stdout))
    assert not modules & set(PLUGIN_PACKAGES)
    assert not modules & set(HEAVY)
