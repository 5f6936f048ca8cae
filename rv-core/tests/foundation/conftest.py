"""Fixtures of the foundation tests: a clean rv environment, a torch-free fake backend, experiment files.

The fake backend is what a backend plugin looks like to the core (a
BackendConfig subclass registered under a key), without torch. It is
registered two ways: in-process with ``rv_register_plugin`` (from
``rv.testing``), and as the legacy plugin *file* ``rv.testing.LEGACY_FAKE_BACKEND`` named by ``PLUGINS_FILES``, so
that subprocesses (``rv run_command`` started by the local runner, ``python
experiment.py``) see it too.

No ``from __future__ import annotations`` here: the attrs classes below are
resolved by the serializer and must carry real types, since several
``conftest`` modules share one name in ``sys.modules``.
"""

import sys
import textwrap
from pathlib import Path

import attrs
import pytest

import rv
from rv.backend.backend_config import BackendConfig, BackendConfigBuilder
from rv.config import field
from rv.testing import FAKE_BACKEND, use_legacy_fake_backend

# the sample data kept in the repository: <repo>/examples/data
DATA_DIR = Path(__file__).resolve().parents[3] / "examples" / "data"
LANDCOVER = DATA_DIR / "landcover"
IMAGE = str(LANDCOVER / "s2_aberystwyth_tile4.tif")
LABELS = str(LANDCOVER / "s2_aberystwyth_tile4_labels.tif")
FIXTURES = Path(__file__).resolve().parent / "data"


@attrs.frozen
class FakeBackendConfig(BackendConfig):
    """A backend config with one option of its own; it never trains anything."""

    epochs: int = field(default=1, doc="passes over the chips")


class FakeBackendConfigBuilder(BackendConfigBuilder):
    config_class = FakeBackendConfig

    def with_epochs(self, epochs: int) -> "FakeBackendConfigBuilder":
        return self._with(epochs=int(epochs))


class FakeBackendPlugin:
    """A plugin object registering FAKE_BACKEND."""

    @rv.hookimpl
    def register_backends(self, register):
        register(FAKE_BACKEND, FakeBackendConfigBuilder)


#: Two segmentation experiments on the real landcover tile that share one CHIP key.
EXPERIMENT_FILE = textwrap.dedent(
    f'''
    import rv

    IMAGE = {IMAGE!r}
    LABELS = {LABELS!r}
    CLASSES = {{"forest": (1, "darkgreen"), "grass": (2, "lightgreen"), "urban": (3, "grey"), "water": (4, "blue")}}


    class LandCover(rv.ExperimentSet):
        def experiment(self, exp_id, root_uri, chip_size, epochs, image=IMAGE):
            task = (
                rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
                .with_classes(CLASSES)
                .with_chip_size(chip_size)
                .build()
            )
            backend = rv.BackendConfig.builder("FAKE_BACKEND").with_task(task).with_epochs(epochs).build()
            scenes = rv.SceneConfig.builder().with_task(task)
            train = scenes.with_id("tile4-train").with_raster_source(image).with_label_source(LABELS).build()
            valid = scenes.with_id("tile4-valid").with_raster_source(image).with_label_source(LABELS).build()
            dataset = rv.DatasetConfig.builder().with_train_scene(train).with_validation_scene(valid).build()
            return (
                rv.ExperimentConfig.builder()
                .with_id(exp_id)
                .with_task(task)
                .with_backend(backend)
                .with_dataset(dataset)
                .with_root_uri(root_uri)
                .with_chip_key("landcover-chips")
                .with_stats_analyzer()
                .build()
            )

        def exp_two_trainings(self, root_uri, chip_size: int = 64, image=IMAGE):
            """Two experiments, one CHIP: they differ only in what TRAIN does."""
            return [
                self.experiment("short", root_uri, chip_size, 1, image),
                self.experiment("long", root_uri, chip_size, 5, image),
            ]


    if __name__ == "__main__":
        rv.main()
    '''
)


@pytest.fixture(autouse=True)
def clean_environment(rv_clean_environment):
    """No rv settings from the developer's shell, no profile file, no .env; no active plugin manager.

    ``rv_clean_environment`` of :mod:`rv.testing`: the working directory is an
    empty ``cwd`` folder in ``tmp_path``, and whatever plugin manager a test
    makes active is dropped afterwards.
    """
    return rv_clean_environment


@pytest.fixture
def fake_backend(rv_register_plugin):
    """The fresh active plugin manager of this test, with FAKE_BACKEND registered in-process."""
    return rv_register_plugin(FakeBackendPlugin(), "fake_backend")


@pytest.fixture
def legacy_fake_backend(tmp_path, monkeypatch):
    """FAKE_BACKEND as a legacy plugin file named by ``PLUGINS_FILES`` (seen by subprocesses too).

    Returns a fresh plugin manager, made active for the test.
    """
    from rv import plugins

    use_legacy_fake_backend(tmp_path, monkeypatch)
    pm = plugins.make_plugin_manager()
    with plugins.use_plugin_manager(pm):
        yield pm


@pytest.fixture
def experiment_file(tmp_path):
    """The path of the two-experiment file (shared CHIP key) written to ``tmp_path``."""
    path = tmp_path / "landcover_experiments.py"
    path.write_text(EXPERIMENT_FILE, encoding="utf-8")
    return path


@pytest.fixture
def root_uri(tmp_path):
    """An output root that does not exist yet."""
    return str(tmp_path / "out")


def invoke_rv(*args: str):
    """Run the ``rv`` command in-process (click's CliRunner, which typer's wraps) with the active plugin manager.

    Goes through :func:`rv_cli.main.main`, so rv's error handling applies.
    Returns the click ``Result`` (``exit_code``, ``stdout``, ``stderr``).
    """
    import click
    from click.testing import CliRunner

    from rv_cli.main import main

    @click.command(context_settings={"ignore_unknown_options": True, "help_option_names": []})
    @click.argument("argv", nargs=-1, type=click.UNPROCESSED)
    def entry(argv):
        sys.exit(main(list(argv)))

    return CliRunner().invoke(entry, list(args), catch_exceptions=False)


@pytest.fixture
def rv_cli():
    """``rv_cli("run", "local", ...)``: :func:`invoke_rv`."""
    return invoke_rv


@pytest.fixture
def fake_distribution(tmp_path, monkeypatch):
    """``fake_distribution(name, version, modules, entry_points)``: an installed distribution, for real discovery.

    Writes the modules and a ``<name>.dist-info`` (METADATA and
    ``entry_points.txt`` with group ``rv.plugins``) into a fresh directory put
    on ``sys.path``, which is all ``importlib.metadata`` looks at: the
    distribution is found exactly like a pip-installed one, and gone after the
    test.
    """
    counter = [0]

    def _make(name: str, version: str, modules: dict, entry_points: dict) -> Path:
        counter[0] += 1
        site = tmp_path / f"site-{counter[0]}"
        site.mkdir()
        for module, source in modules.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
        lines = ["[rv.plugins]"] + [f"{ep} = {target}" for ep, target in entry_points.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        monkeypatch.syspath_prepend(str(site))
        for module in modules:
            monkeypatch.delitem(sys.modules, module, raising=False)
        return site

    yield _make
