"""``rv.testing``: the pytest plugin for plugin authors, used the way a plugin's own test suite would."""

import os
import subprocess
import sys

import pytest

import rv
from rv.errors import PluginError
from rv.plugins import get_plugin_manager
from rv.testing import assert_config_round_trip, register_plugin

pytest_plugins = ["pytester"]

# A plugin author's test file: no import of rv.testing, the fixtures come from the pytest11 entry point.
AUTHOR_TESTS = '''
import attrs
import pytest

import rv
from rv.evaluation.evaluator_config import EvaluatorConfig, EvaluatorConfigBuilder


@attrs.frozen
class ShoutingEvaluatorConfig(EvaluatorConfig):
    volume: int = 11


class ShoutingEvaluatorConfigBuilder(EvaluatorConfigBuilder):
    config_class = ShoutingEvaluatorConfig

    def with_volume(self, volume):
        return self._with(volume=volume)


class ShoutingPlugin:
    @rv.hookimpl
    def register_evaluators(self, register):
        register("SHOUTING_EVALUATOR", ShoutingEvaluatorConfigBuilder)


def test_key_round_trips(rv_register_plugin, assert_config_round_trip):
    rv_register_plugin(ShoutingPlugin())
    config = rv.EvaluatorConfig.builder("SHOUTING_EVALUATOR").with_volume(12).build()
    assert assert_config_round_trip(config).volume == 12


def test_each_test_gets_a_fresh_manager(rv_plugin_manager):
    assert "SHOUTING_EVALUATOR" not in rv_plugin_manager.rv_registry.keys("evaluators")
    assert rv.SEMANTIC_SEGMENTATION in rv_plugin_manager.rv_registry.keys("tasks")


def test_a_broken_plugin_fails_the_test_at_once(rv_register_plugin):
    class Typo:
        @rv.hookimpl
        def register_evaluator(self, register):
            pass

    with pytest.raises(rv.PluginError, match="unknown hook"):
        rv_register_plugin(Typo())
'''


def test_fixtures_reach_plugin_authors_through_the_pytest11_entry_point(pytester):
    pytester.makepyfile(test_author=AUTHOR_TESTS)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_rv_testing_imports_nothing_beyond_rv_itself():
    # pytest imports rv.testing in every session of an environment with rv-core: it must stay cheap.
    code = (
        "import sys, pytest, rv; before = set(sys.modules); import rv.testing; "
        "print(sorted(set(sys.modules) - before))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['rv.testing']"


def test_rv_plugin_manager_is_fresh_and_active(rv_plugin_manager):
    assert get_plugin_manager() is rv_plugin_manager
    assert rv_plugin_manager.rv_plugins["rv"].status == "ok"


def test_rv_register_plugin_registers_keys_into_the_active_manager(rv_register_plugin, rv_plugin_manager):
    import attrs

    from rv.analyzer.stats_analyzer_config import StatsAnalyzerConfig

    @attrs.frozen
    class SlowStatsConfig(StatsAnalyzerConfig):
        pass

    class Slow:
        @rv.hookimpl
        def register_analyzers(self, register):
            register("SLOW_STATS", SlowStatsConfig)

    pm = rv_register_plugin(Slow(), "slow")
    assert pm is rv_plugin_manager is get_plugin_manager()
    assert rv.AnalyzerConfig.builder("SLOW_STATS").build().key == "SLOW_STATS"
    assert pm.rv_plugins["slow"].status == "ok"


def test_register_plugin_raises_the_plugins_error(rv_plugin_manager):
    class Failing:
        @rv.hookimpl
        def register_tasks(self, register):
            raise ValueError("bad task table")

    with pytest.raises(PluginError, match=r"Plugin 'failing' failed to register: ValueError: bad task table"):
        register_plugin(rv_plugin_manager, Failing(), "failing")
    with pytest.raises(PluginError, match=r"Cannot register plugin 'rv'"):
        register_plugin(rv_plugin_manager, object(), "rv")  # the name is taken


def test_assert_config_round_trip_catches_a_lossy_config(rv_register_plugin, tmp_path):
    import attrs

    from rv.config import field
    from rv.evaluation.evaluator_config import EvaluatorConfig

    # A field typed as a tuple: a list given to it comes back as a tuple, a set cannot be saved at all.
    @attrs.frozen
    class LossyEvaluatorConfig(EvaluatorConfig):
        names: tuple = field(factory=tuple, doc="x")

    class Lossy:
        @rv.hookimpl
        def register_evaluators(self, register):
            register("LOSSY", LossyEvaluatorConfig)

    rv_register_plugin(Lossy())
    good = LossyEvaluatorConfig(names=("a", "b"))
    assert assert_config_round_trip(good, tmp_path) == good
    with pytest.raises(AssertionError, match=r"structure\(unstructure\(c\)\) != c for LossyEvaluatorConfig"):
        assert_config_round_trip(LossyEvaluatorConfig(names=["a"]), tmp_path)
    with pytest.raises(AssertionError, match=r"unstructure\(\) of a LossyEvaluatorConfig is not plain JSON"):
        assert_config_round_trip(LossyEvaluatorConfig(names=frozenset({"a"})), tmp_path)


def test_sample_configs_cover_every_config_group(rv_plugin_manager):
    from rv.testing import sample_configs

    groups = {group for group, _, _ in sample_configs()}
    assert groups >= {"tasks", "raster_sources", "raster_transformers", "label_sources", "label_stores",
                      "analyzers", "augmentors", "evaluators"}  # fmt: skip


def test_clean_rv_environment_hides_the_shell_and_restores_the_active_manager(tmp_path, monkeypatch):
    from rv.plugins import make_plugin_manager, use_plugin_manager
    from rv.testing import clean_rv_environment

    monkeypatch.setenv("RV_PROFILE", "gpu")
    monkeypatch.setenv("AWS_BATCH_JOB_QUEUE", "q")
    outer = make_plugin_manager(autoload=False, legacy=False)
    with use_plugin_manager(outer):
        with clean_rv_environment(tmp_path / "t", monkeypatch, also_remove=("AWS_BATCH_",)) as cwd:
            assert "RV_PROFILE" not in os.environ and "AWS_BATCH_JOB_QUEUE" not in os.environ
            assert os.getcwd() == str(cwd) and not os.listdir(cwd)
            assert os.environ["RV_CONFIG_DIR"] == str(tmp_path / "t" / "rv-config")
            inner = get_plugin_manager()
            assert inner is not outer and "rv" in inner.rv_plugins
        assert get_plugin_manager() is outer


def test_the_baseline_backend_loads_in_process_and_as_a_legacy_module(rv_baseline_backend, monkeypatch):
    from rv.plugins import make_plugin_manager
    from rv.testing import use_baseline_backend
    from rv.testing.baseline import MajorityClassBackendConfig

    assert rv.BackendConfig.builder(rv_baseline_backend).build().__class__ is MajorityClassBackendConfig
    # What a subprocess sees: the module named in PLUGINS_MODULES.
    assert use_baseline_backend(monkeypatch) == rv_baseline_backend
    pm = make_plugin_manager(autoload=False)
    assert pm.rv_plugins["rv.testing.baseline"].source == "legacy module rv.testing.baseline"
    assert pm.rv_registry.get_registration("backends", rv_baseline_backend).plugin == "rv.testing.baseline"
