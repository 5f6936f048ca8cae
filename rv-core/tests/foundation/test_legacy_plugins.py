"""The older plugin form: ``[PLUGINS] files=[...] modules=[...]`` naming modules with ``register_plugin``.

The rv configuration is a real INI file named by ``RV_CONFIG`` (or the
profile file in ``RV_CONFIG_DIR``), read by :mod:`rv.settings` as rv does at
start-up.
"""

import sys
import textwrap

import pytest

import rv
from rv import file_utils, settings
from rv.plugins import make_plugin_manager, use_plugin_manager

# A Raster Vision 0.8 style plugin file: a raster source, its default provider, a runner and a file system.
LEGACY_FILE = '''
import attrs
import fsspec.implementations.memory

import rv
from rv.config import field
from rv.data.raster_source.raster_source_config import RasterSourceConfig, RasterSourceConfigBuilder
from rv.runner.runner import Runner

LEGACY_SOURCE = "LEGACY_SOURCE"


@attrs.frozen
class LegacySourceConfig(RasterSourceConfig):
    uri: str = field(default="", doc="the file")
    gain: float = field(default=1.0, doc="multiplies pixel values")


class LegacySourceConfigBuilder(RasterSourceConfigBuilder):
    config_class = LegacySourceConfig

    def with_uri(self, uri):
        return self._with(uri=uri)


class LegacySourceProvider:
    """The 0.8 provider protocol: handles(uri) and construct(uri)."""

    @staticmethod
    def handles(uri):
        return uri.endswith(".legacy")

    @staticmethod
    def construct(uri):
        return LegacySourceConfigBuilder().with_uri(uri)


class PrintingRunner(Runner):
    def run(self, plan, options):
        print(len(plan.commands))


class LegacyFileSystem(fsspec.implementations.memory.MemoryFileSystem):
    protocol = "legacyfs"
    store = {}
    pseudo_dirs = [""]


def register_plugin(plugin_registry):
    plugin_registry.register_config_builder(rv.RASTER_SOURCE, LEGACY_SOURCE, LegacySourceConfigBuilder)
    plugin_registry.register_default_raster_source(LegacySourceProvider)
    plugin_registry.register_experiment_runner("printing", PrintingRunner)
    plugin_registry.register_filesystem(LegacyFileSystem)
'''

# The module form: an importable module with register_plugin, here registering an analyzer and a runner.
LEGACY_MODULE = '''
import attrs

import rv
from rv.analyzer.analyzer_config import AnalyzerConfig, AnalyzerConfigBuilder


@attrs.frozen
class HistogramAnalyzerConfig(AnalyzerConfig):
    bins: int = 16

    def output_names(self):
        return ["histogram.json"]


class HistogramAnalyzerConfigBuilder(AnalyzerConfigBuilder):
    config_class = HistogramAnalyzerConfig


def evaluator_for(task_type):
    """A plain-function provider (also accepted)."""
    if task_type == rv.OBJECT_DETECTION:
        from rv.evaluation.task_evaluator_configs import ObjectDetectionEvaluatorConfigBuilder

        return ObjectDetectionEvaluatorConfigBuilder().with_score_thresh(0.9)
    return None


class CsvLabels:
    """handles/construct provider of label sources: .csv boxes for object detection."""

    @staticmethod
    def handles(task_type, uri):
        return task_type == rv.OBJECT_DETECTION and uri.endswith(".csv")

    @staticmethod
    def construct(uri):
        from rv.data.label_source.semantic_segmentation_raster_source_config import (
            SemanticSegmentationRasterSourceConfigBuilder,
        )

        # Any registered label source will do for the test: what matters is who picked it.
        return SemanticSegmentationRasterSourceConfigBuilder().with_raster_source(uri.replace(".csv", ".tif"))


def rgb_store_for(task_type):
    if task_type == rv.SEMANTIC_SEGMENTATION:
        from rv.data.label_store.semantic_segmentation_raster_store_config import (
            SemanticSegmentationRasterStoreConfigBuilder,
        )

        return SemanticSegmentationRasterStoreConfigBuilder().with_rgb(True)
    return None


class QueueRunner:
    """A runner class (registered by key, made by `rv run queue`)."""

    def run(self, plan, options):
        return [pc.config.command_type for pc in plan.to_run()]


def register_plugin(plugin_registry):
    plugin_registry.register_config_builder("analyzers", "HISTOGRAM_ANALYZER", HistogramAnalyzerConfigBuilder)
    plugin_registry.register_experiment_runner("queue", QueueRunner)
    plugin_registry.register_default_evaluator(evaluator_for)
    plugin_registry.register_default_label_source(CsvLabels)
    plugin_registry.register_default_label_store(rgb_store_for)
'''


@pytest.fixture
def legacy_plugins(tmp_path, monkeypatch):
    """A legacy plugin file and module, named in an INI file that RV_CONFIG points at."""
    plugin_file = tmp_path / "my_legacy_plugin.py"
    plugin_file.write_text(LEGACY_FILE, encoding="utf-8")
    module_dir = tmp_path / "modules"
    module_dir.mkdir()
    (module_dir / "rv_test_legacy_module.py").write_text(LEGACY_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(module_dir))
    monkeypatch.delitem(sys.modules, "rv_test_legacy_module", raising=False)
    ini = tmp_path / "rv.ini"
    ini.write_text(
        textwrap.dedent(
            f"""
            [RV]
            model_defaults_uri = /nowhere/defaults.json

            [PLUGINS]
            files = ["{plugin_file}"]
            modules = rv_test_legacy_module
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("RV_CONFIG", str(ini))
    settings.reset_settings()
    return plugin_file


def test_legacy_file_registers_a_config_builder(legacy_plugins):
    pm = make_plugin_manager()
    info = pm.rv_plugins["my_legacy_plugin"]
    assert info.status == "ok"
    assert info.source == f"legacy file {legacy_plugins}"
    assert pm.rv_registry.provided_by("my_legacy_plugin") == {
        "raster_sources": ["LEGACY_SOURCE"], "runners": ["printing"],
    }  # fmt: skip
    with use_plugin_manager(pm):
        config = rv.RasterSourceConfig.builder("LEGACY_SOURCE").with_uri("a.legacy").with_options(gain=2.0).build()
        assert config.key == "LEGACY_SOURCE"
        from rv.testing import assert_config_round_trip

        assert assert_config_round_trip(config).gain == 2.0


def test_legacy_default_raster_source_provider_picks_by_uri(legacy_plugins):
    with use_plugin_manager(make_plugin_manager()):
        scene = rv.SceneConfig.builder().with_id("s").with_raster_source("imagery/scene.legacy").build()
        assert scene.raster_source.key == "LEGACY_SOURCE"
        assert scene.raster_source.uri == "imagery/scene.legacy"
        # Other URIs still go to rv-core's providers.
        assert rv.SceneConfig.builder().with_id("s").with_raster_source("x.tif").build().raster_source.key == rv.GEOTIFF_SOURCE


def test_legacy_runner_is_registered(legacy_plugins):
    pm = make_plugin_manager()
    from rv.runner.runner import Runner

    runner = pm.rv_registry.get("runners", "printing")
    assert runner.__name__ == "PrintingRunner" and issubclass(runner, Runner)
    assert pm.rv_registry.get_registration("runners", "printing").plugin == "my_legacy_plugin"


def test_legacy_file_system_serves_its_protocol(legacy_plugins):
    with use_plugin_manager(make_plugin_manager()):
        file_utils.write_text("legacyfs://bucket/notes/a.txt", "hello from a legacy file system")
        assert file_utils.exists("legacyfs://bucket/notes/a.txt")
        assert file_utils.read_text("legacyfs://bucket/notes/a.txt") == "hello from a legacy file system"
        # Its own store, not rv's memory://.
        assert not file_utils.exists("memory://bucket/notes/a.txt")


def test_legacy_module_registers_by_module_name_with_function_providers(legacy_plugins):
    pm = make_plugin_manager()
    assert pm.rv_plugins["rv_test_legacy_module"].source == "legacy module rv_test_legacy_module"
    assert pm.rv_registry.provided_by("rv_test_legacy_module") == {
        "analyzers": ["HISTOGRAM_ANALYZER"], "runners": ["queue"],
    }  # fmt: skip
    assert pm.rv_registry.get("runners", "queue").__name__ == "QueueRunner"
    assert pm.rv_registry.get_registration("runners", "queue").plugin == "rv_test_legacy_module"
    with use_plugin_manager(pm):
        # The legacy default evaluator comes before rv-core's (trylast) provider.
        evaluator = pm.hook.default_evaluator(task_type=rv.OBJECT_DETECTION).build()
        assert evaluator.score_thresh == 0.9
        assert pm.hook.default_evaluator(task_type=rv.SEMANTIC_SEGMENTATION).build().key == rv.SEMANTIC_SEGMENTATION_EVALUATOR
        od_task = rv.TaskConfig.builder(rv.OBJECT_DETECTION).with_classes(["tree"]).build()
        scene = rv.SceneConfig.builder().with_id("s").with_task(od_task).with_raster_source("trees.tif")
        assert scene.with_label_source("trees.csv").build().label_source.raster_source.uris == ("trees.tif",)
        seg_task = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(["tree"]).build()
        store = scene.with_task(seg_task).with_label_store("pred.tif").build().label_store
        assert store.rgb is True and store.uri == "pred.tif"


def test_profile_file_in_the_config_dir_works_too(tmp_path, monkeypatch):
    plugin_file = tmp_path / "from_profile.py"
    plugin_file.write_text(LEGACY_FILE, encoding="utf-8")
    config_dir = tmp_path / "profiles"
    config_dir.mkdir()
    (config_dir / "field-team").write_text(f"[PLUGINS]\nfiles = {plugin_file}\n", encoding="utf-8")
    monkeypatch.setenv("RV_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("RV_PROFILE", "field-team")
    settings.reset_settings()
    assert "LEGACY_SOURCE" in make_plugin_manager().rv_registry.keys("raster_sources")


def test_environment_form_names_plugin_files(tmp_path, monkeypatch):
    plugin_file = tmp_path / "from_env.py"
    plugin_file.write_text(LEGACY_FILE, encoding="utf-8")
    monkeypatch.setenv("PLUGINS_FILES", f'["{plugin_file}"]')
    settings.reset_settings()
    pm = make_plugin_manager()
    assert pm.rv_plugins["from_env"].status == "ok"


def test_a_broken_legacy_plugin_is_recorded_not_fatal(tmp_path, monkeypatch, capsys):
    no_hook = tmp_path / "no_hook.py"
    no_hook.write_text("x = 1\n", encoding="utf-8")
    raises = tmp_path / "raises.py"
    raises.write_text("def register_plugin(plugin_registry):\n    plugin_registry.register_config_builder('TASKS', 'X', object)\n")
    monkeypatch.setenv("PLUGINS_FILES", f"{no_hook}, {raises}, {tmp_path / 'missing.py'}")
    monkeypatch.setenv("PLUGINS_MODULES", "rv_no_such_legacy_module")
    settings.reset_settings()
    pm = make_plugin_manager()
    failed = {p.name: p.error for p in pm.failures}
    assert "has no register_plugin(plugin_registry) function" in failed["no_hook"]
    assert "Unknown registry group 'TASKS'" in failed["raises"]
    assert "missing" in failed
    assert failed["rv_no_such_legacy_module"] == "ModuleNotFoundError: No module named 'rv_no_such_legacy_module'"
    err = capsys.readouterr().err
    assert "plugin 'no_hook'" in err and "plugin 'rv_no_such_legacy_module'" in err
    assert rv.SEMANTIC_SEGMENTATION in pm.rv_registry.keys("tasks")


def test_a_legacy_plugin_implements_only_the_hooks_its_calls_need(legacy_plugins):
    # So `rv plugins list` shows what each really contributes.
    infos = {p.name: p for p in make_plugin_manager().plugin_infos()}
    assert infos["my_legacy_plugin"].hooks == [
        "default_raster_source", "file_system_for", "register_raster_sources", "register_runners",
    ]  # fmt: skip
    assert infos["rv_test_legacy_module"].hooks == [
        "default_evaluator", "default_label_source", "default_label_store", "register_analyzers", "register_runners",
    ]  # fmt: skip


def test_a_legacy_config_builder_may_name_any_group(tmp_path, monkeypatch):
    # register_config_builder("runners" | "model_defaults", ...) reaches those groups too (model_defaults
    # has no method of its own in rv.legacy_plugins: the generic one of any newer group).
    plugin_file = tmp_path / "other_groups.py"
    plugin_file.write_text(
        "class Runner:\n    def run(self, plan, options):\n        pass\n\n\n"
        "def register_plugin(plugin_registry):\n"
        "    plugin_registry.register_config_builder('runners', 'as_builder', Runner)\n"
        "    plugin_registry.register_config_builder('model_defaults', 'TEAM_BACKEND', {'batch_size': 4})\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("PLUGINS_FILES", str(plugin_file))
    settings.reset_settings()
    pm = make_plugin_manager()
    assert pm.rv_plugins["other_groups"].status == "ok", pm.rv_plugins["other_groups"].error
    assert pm.rv_registry.provided_by("other_groups") == {"model_defaults": ["TEAM_BACKEND"], "runners": ["as_builder"]}
