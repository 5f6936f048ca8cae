"""Fixtures of rv-cli's tests: a clean environment, the ``rv`` command in-process and in a subprocess.

``invoke_rv`` runs :func:`rv_cli.main.main` in-process with the active
plugin manager (fast, and lets a test register plugins); ``run_rv`` runs a
real ``python -m rv`` subprocess, in the current environment or in a
throwaway venv that has the example plugins installed (``plugin_venv``).
"""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rv.testing import environ_without_rv, use_legacy_fake_backend

ROOT = Path(__file__).resolve().parents[2]  # rv-cli/tests/conftest.py -> the repository
EXAMPLE_PLUGINS = ROOT / "examples" / "plugins"
# the sample data kept in the repository: <repo>/examples/data
LANDCOVER = ROOT / "examples" / "data" / "landcover"

EXPERIMENTS = textwrap.dedent(
    f"""
    import rv

    IMAGE = {str(LANDCOVER / "s2_aberystwyth_tile4.tif")!r}
    LABELS = {str(LANDCOVER / "s2_aberystwyth_tile4_labels.tif")!r}


    class Tile4(rv.ExperimentSet):
        def exp_segmentation(self, root_uri, chip_size: int = 64):
            task = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(["forest", "grass", "urban", "water"])
            task = task.with_chip_size(chip_size).build()
            scenes = rv.SceneConfig.builder().with_task(task).with_raster_source(IMAGE).with_label_source(LABELS)
            dataset = rv.DatasetConfig.builder().with_train_scene(scenes.with_id("train")).with_validation_scene(
                scenes.with_id("valid")
            )
            return [
                rv.ExperimentConfig.builder().with_id(exp_id).with_task(task).with_dataset(dataset)
                .with_backend(rv.BackendConfig.builder("FAKE_BACKEND").with_options(epochs=epochs))
                .with_root_uri(root_uri).with_chip_key("tile4").build()
                for exp_id, epochs in (("quick", 1), ("thorough", 10))
            ]
    """
)


def _clean_environ(tmp_path: Path) -> dict:
    env = environ_without_rv()
    env["RV_CONFIG_DIR"] = str(tmp_path / "rv-config")
    return env


@pytest.fixture(autouse=True)
def clean_environment(rv_clean_environment):
    """No rv settings from the developer's shell; cwd and config dir in tmp; no active plugin manager
    (``rv_clean_environment`` of :mod:`rv.testing`)."""
    return rv_clean_environment


@pytest.fixture
def fake_backend_file(tmp_path, monkeypatch):
    """The FAKE_BACKEND legacy plugin file of :mod:`rv.testing`, named by PLUGINS_FILES (for in-process and
    subprocess runs)."""
    return use_legacy_fake_backend(tmp_path, monkeypatch)


@pytest.fixture
def experiment_file(tmp_path):
    """Two segmentation experiments on the real landcover tile, sharing CHIP key ``tile4``."""
    path = tmp_path / "tile4_experiments.py"
    path.write_text(EXPERIMENTS, encoding="utf-8")
    return path


def invoke_rv(*args: str, columns: int = 100):
    """Run ``rv ARGS`` in-process through :func:`rv_cli.main.main` (click's CliRunner captures output)."""
    import click
    from click.testing import CliRunner

    from rv_cli.console import console, error_console
    from rv_cli.main import main

    @click.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
    @click.argument("argv", nargs=-1, type=click.UNPROCESSED)
    def entry(argv):
        sys.exit(main(list(argv)))

    # rich consoles are made once per process; give them the width under test.
    console.cache_clear()
    error_console.cache_clear()
    try:
        return CliRunner().invoke(entry, list(args), catch_exceptions=False, env={"COLUMNS": str(columns)})
    finally:
        console.cache_clear()
        error_console.cache_clear()


@pytest.fixture
def rv_cli():
    """``rv_cli(*args, columns=100)``: :func:`invoke_rv`."""
    return invoke_rv


@pytest.fixture
def run_rv(tmp_path):
    """``run_rv(*args, python=sys.executable, env=None, columns=100)``: ``python -m rv ARGS`` in a subprocess."""

    def _run(*args: str, python=sys.executable, env: dict | None = None, columns: int = 100):
        environ = _clean_environ(tmp_path)
        environ["COLUMNS"] = str(columns)
        environ.update(env or {})
        return subprocess.run(
            [str(python), "-m", "rv", *args],
            capture_output=True,
            text=True,
            env=environ,
            cwd=tmp_path / "cwd",
            timeout=120,
        )

    return _run


@pytest.fixture(scope="session")
def plugin_venv(rv_plugin_venv):
    """Python of a throwaway venv that sees this environment plus rv-hello and rv-broken, installed for real.

    ``rv_plugin_venv`` (from ``rv.testing``) builds the examples' wheels and
    installs them with pip into a venv of its own, so the development
    environment is never changed. Shared by every test of the session that
    asks for the same packages.
    """
    return rv_plugin_venv(EXAMPLE_PLUGINS / "rv-hello", EXAMPLE_PLUGINS / "rv-broken")
