"""Plugin discovery through real entry points, and the registry's messages.

Distributions made by the ``fake_distribution`` fixture are found by
``importlib.metadata`` exactly like installed ones, so these tests go through
the same code path as ``pip install some-rv-plugin``.
"""

import pytest

import rv
from rv.errors import ConfigError, PluginError
from rv.plugins import get_plugin_manager, make_plugin_manager, use_plugin_manager
from rv.registry import Registry

EVALUATOR_PLUGIN = """
    import attrs
    import rv
    from rv.evaluation.evaluator_config import EvaluatorConfig, EvaluatorConfigBuilder


    @attrs.frozen
    class CountingEvaluatorConfig(EvaluatorConfig):
        pass


    class CountingEvaluatorConfigBuilder(EvaluatorConfigBuilder):
        config_class = CountingEvaluatorConfig


    @rv.hookimpl
    def register_evaluators(register):
        register("COUNTING_EVALUATOR", CountingEvaluatorConfigBuilder)
"""


def names(pm):
    return sorted(pm.rv_plugins)


# ---------------------------------------------------------------------------
# discovery
# ---------------------------------------------------------------------------


def test_rv_core_registers_its_builtins_through_its_own_entry_point():
    pm = make_plugin_manager(autoload=False)
    info = pm.rv_plugins["rv"]
    assert (info.distribution, info.status, info.source) == ("rv-core", "ok", "entry point 'rv = rv.builtin'")
    reg = pm.rv_registry
    assert set(reg.keys("tasks")) == {rv.CHIP_CLASSIFICATION, rv.OBJECT_DETECTION, rv.SEMANTIC_SEGMENTATION}
    assert set(reg.keys("raster_sources")) == {rv.GEOTIFF_SOURCE, rv.IMAGE_SOURCE}
    assert reg.keys("runners") == [rv.INPROCESS, rv.LOCAL]
    assert pm.plugin_infos()[0].provides["evaluators"] == [
        rv.CHIP_CLASSIFICATION_EVALUATOR, rv.OBJECT_DETECTION_EVALUATOR, rv.SEMANTIC_SEGMENTATION_EVALUATOR,
    ]  # fmt: skip


def test_a_third_party_distribution_is_found_and_its_key_usable(fake_distribution):
    fake_distribution("rv-counting", "1.2.3", {"rv_counting_plugin": EVALUATOR_PLUGIN}, {"counting": "rv_counting_plugin"})
    pm = make_plugin_manager()
    info = pm.rv_plugins["counting"]
    assert (info.distribution, info.version, info.status) == ("rv-counting", "1.2.3", "ok")
    assert pm.rv_registry.provided_by("counting") == {"evaluators": ["COUNTING_EVALUATOR"]}
    assert pm.distributions()["rv-counting"] == "1.2.3"
    with use_plugin_manager(pm):
        config = rv.EvaluatorConfig.builder("COUNTING_EVALUATOR").with_output_uri("eval.json").build()
        assert config.key == "COUNTING_EVALUATOR"
        from rv.serialization import required_plugins

        assert {"distribution": "rv-counting", "version": "1.2.3"} in required_plugins(config)


def test_a_plugin_that_fails_to_import_is_recorded_and_warned_about(fake_distribution, capsys):
    fake_distribution(
        "rv-needs-missing", "0.3", {"rv_needs_missing": "import rv_no_such_module_anywhere\n"},
        {"needs_missing": "rv_needs_missing"},
    )
    pm = make_plugin_manager()
    info = pm.rv_plugins["needs_missing"]
    assert info.status == "failed"
    assert (info.distribution, info.version) == ("rv-needs-missing", "0.3")
    assert info.error == "ModuleNotFoundError: No module named 'rv_no_such_module_anywhere'"
    assert "Traceback" in info.traceback
    assert "needs_missing" in [p.name for p in pm.failures]
    # One warning line naming plugin, distribution, version and error.
    lines = [line for line in capsys.readouterr().err.splitlines() if "needs_missing" in line]
    assert lines == [
        "rv: warning: plugin 'needs_missing' (rv-needs-missing 0.3) failed to load: ModuleNotFoundError: "
        "No module named 'rv_no_such_module_anywhere' (see `rv plugins list`; RV_STRICT_PLUGINS=1 to make "
        "this an error)"
    ]
    # The host is fine: built-ins are there.
    assert rv.SEMANTIC_SEGMENTATION in pm.rv_registry.keys("tasks")


def test_strict_mode_re_raises_a_plugin_failure(fake_distribution, monkeypatch):
    fake_distribution(
        "rv-needs-missing", "0.3", {"rv_needs_missing": "import rv_no_such_module_anywhere\n"},
        {"needs_missing": "rv_needs_missing"},
    )
    monkeypatch.setenv("RV_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError) as e:
        make_plugin_manager(load_only=["needs_missing"])
    msg = str(e.value)
    assert "Plugin 'needs_missing' (rv-needs-missing 0.3) failed to load" in msg
    assert "No module named 'rv_no_such_module_anywhere'" in msg
    assert "unset RV_STRICT_PLUGINS" in msg
    assert isinstance(e.value.__cause__, ModuleNotFoundError)


def test_a_plugin_whose_register_hook_raises_is_recorded_and_its_keys_undone(fake_distribution, capsys):
    fake_distribution(
        "rv-half-broken", "0.1",
        {
            "rv_half_broken": """
                import rv
                from rv.evaluation.task_evaluator_configs import ChipClassificationEvaluatorConfig


                @rv.hookimpl
                def register_tasks(register):
                    from rv.task.object_detection_config import ObjectDetectionConfig
                    import attrs

                    @attrs.frozen
                    class OtherTask(ObjectDetectionConfig):
                        pass

                    register("OTHER_TASK", OtherTask)


                @rv.hookimpl
                def register_evaluators(register):
                    raise RuntimeError("the plugin's registration broke")
            """
        },
        {"half_broken": "rv_half_broken"},
    )
    pm = make_plugin_manager()
    info = pm.rv_plugins["half_broken"]
    assert info.status == "failed"
    assert info.error == "RuntimeError: the plugin's registration broke"
    assert info.source == "hook register_evaluators"
    assert "OTHER_TASK" not in pm.rv_registry.keys("tasks")  # a half-registered plugin is undone
    assert pm.get_plugin("half_broken") is None
    assert "plugin 'half_broken' (rv-half-broken 0.1) failed to load" in capsys.readouterr().err


def test_a_register_hook_failure_is_an_error_in_strict_mode():
    class Broken:
        @rv.hookimpl
        def register_analyzers(self, register):
            raise RuntimeError("nope")

    pm = make_plugin_manager(autoload=False, strict=True)
    with pytest.raises(PluginError, match=r"Plugin 'broken' .* failed to load from hook register_analyzers: RuntimeError: nope"):
        pm.add_plugin(Broken(), "broken")


def test_unknown_hook_name_is_an_error_in_strict_mode_and_a_warning_otherwise(fake_distribution, capsys):
    fake_distribution(
        "rv-typo", "0.1",
        {"rv_typo_plugin": "import rv\n\n@rv.hookimpl\ndef register_evaluator(register):\n    pass\n"},
        {"typo": "rv_typo_plugin"},
    )
    with pytest.raises(PluginError) as e:
        make_plugin_manager(load_only=["typo"], strict=True)
    assert "register_evaluator" in str(e.value)
    assert "Check the hook's name against rv.hookspecs" in str(e.value)

    pm = make_plugin_manager(load_only=["typo"], strict=False)
    assert pm.rv_plugins["typo"].status == "ok"
    assert "unknown hook 'register_evaluator'" in capsys.readouterr().err


def test_two_distributions_with_one_plugin_name_do_not_hide_each_other(fake_distribution):
    fake_distribution("rv-first", "1.0", {"rv_first_plugin": "x = 1\n"}, {"samename": "rv_first_plugin"})
    fake_distribution("rv-second", "2.0", {"rv_second_plugin": "x = 2\n"}, {"samename": "rv_second_plugin"})
    pm = make_plugin_manager(load_only=["samename"])
    ok = pm.rv_plugins["samename"]
    assert ok.status == "ok"
    failed = [p for p in pm.failures if p.name.startswith("samename (")]
    assert len(failed) == 1
    assert {ok.distribution, failed[0].distribution} == {"rv-first", "rv-second"}
    assert "already taken by distribution" in failed[0].error


# ---------------------------------------------------------------------------
# RV_DISABLE_PLUGIN_AUTOLOAD and RV_LOAD_PLUGINS
# ---------------------------------------------------------------------------


def test_disable_autoload_loads_only_rv_core(monkeypatch, fake_distribution):
    fake_distribution("rv-counting", "1.0", {"rv_counting_plugin": EVALUATOR_PLUGIN}, {"counting": "rv_counting_plugin"})
    monkeypatch.setenv("RV_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert names(make_plugin_manager()) == ["rv"]
    # ... plus what RV_LOAD_PLUGINS names, by entry point or distribution name.
    monkeypatch.setenv("RV_LOAD_PLUGINS", "counting")
    assert names(make_plugin_manager()) == ["counting", "rv"]
    monkeypatch.setenv("RV_LOAD_PLUGINS", "rv-counting, rv_cli")
    assert names(make_plugin_manager()) == ["counting", "rv", "rv_cli"]


def test_load_plugins_limits_autoload(monkeypatch, fake_distribution):
    fake_distribution("rv-counting", "1.0", {"rv_counting_plugin": EVALUATOR_PLUGIN}, {"counting": "rv_counting_plugin"})
    everything = names(make_plugin_manager())
    assert {"rv", "rv_cli", "counting"} <= set(everything)
    monkeypatch.setenv("RV_LOAD_PLUGINS", "rv_cli")
    assert names(make_plugin_manager()) == ["rv", "rv_cli"]
    # Explicit arguments win over the environment.
    assert names(make_plugin_manager(load_only=["counting"])) == ["counting", "rv"]


def test_the_active_plugin_manager_is_made_once_and_can_be_swapped():
    pm = get_plugin_manager()
    assert get_plugin_manager() is pm
    other = make_plugin_manager(autoload=False)
    with use_plugin_manager(other):
        assert get_plugin_manager() is other
    assert get_plugin_manager() is pm


# ---------------------------------------------------------------------------
# the registry's messages
# ---------------------------------------------------------------------------


def test_unknown_key_lists_known_keys_and_the_closest_match():
    pm = make_plugin_manager(autoload=False)
    with use_plugin_manager(pm), pytest.raises(ConfigError) as e:
        rv.TaskConfig.builder("SEMANTIC_SEGMENTATON")
    msg = str(e.value)
    assert "Unknown task key 'SEMANTIC_SEGMENTATON'. Did you mean 'SEMANTIC_SEGMENTATION'?" in msg
    assert "Known task keys: CHIP_CLASSIFICATION, OBJECT_DETECTION, SEMANTIC_SEGMENTATION." in msg


def test_unknown_key_without_a_close_match_still_lists_the_keys():
    pm = make_plugin_manager(autoload=False)
    with pytest.raises(ConfigError) as e:
        pm.rv_registry.get("raster_transformers", "FOO")
    assert "Did you mean" not in str(e.value)
    assert "Known raster transformer keys: STATS_TRANSFORMER." in str(e.value)


@pytest.mark.parametrize(
    "group, key, package",
    [
        ("backends", rv.PYTORCH_SEMANTIC_SEGMENTATION, "rv-pytorch"),
        ("raster_sources", rv.GEOJSON_SOURCE, "rv-geojson"),
        ("label_sources", rv.OBJECT_DETECTION_GEOJSON, "rv-geojson"),
        ("runners", rv.AWS_BATCH, "rv-aws"),
    ],
)
def test_a_first_party_key_of_a_missing_package_names_the_package(group, key, package):
    pm = make_plugin_manager(load_only=["rv"])  # as if only rv-core were installed
    with pytest.raises(ConfigError) as e:
        pm.rv_registry.get(group, key)
    assert f"it is provided by the {package} package" in str(e.value)
    assert f"pip install {package}" in str(e.value)


def test_a_known_first_party_key_through_the_builder_names_the_package():
    with use_plugin_manager(make_plugin_manager(load_only=["rv"])), pytest.raises(ConfigError, match="pip install rv-pytorch"):
        rv.BackendConfig.builder(rv.PYTORCH_CHIP_CLASSIFICATION)


def test_a_duplicate_key_names_both_plugins():
    from rv.task.object_detection_config import ObjectDetectionConfigBuilder

    reg = Registry()
    reg.register("tasks", "BOXES", ObjectDetectionConfigBuilder, plugin="boxes_a", distribution="rv-boxes-a")
    with pytest.raises(PluginError) as e:
        reg.register("tasks", "BOXES", ObjectDetectionConfigBuilder, plugin="boxes_b", distribution="rv-boxes-b")
    assert str(e.value).startswith(
        "The task key 'BOXES' is registered twice: by plugin 'boxes_a' (rv-boxes-a) and by plugin 'boxes_b' (rv-boxes-b)."
    )


def test_a_plugin_registering_an_existing_key_fails_naming_both(capsys):
    import attrs

    from rv.task.object_detection_config import ObjectDetectionConfig

    @attrs.frozen
    class ImpostorTask(ObjectDetectionConfig):
        pass

    class Impostor:
        @rv.hookimpl
        def register_tasks(self, register):
            register(rv.OBJECT_DETECTION, ImpostorTask)

    pm = make_plugin_manager(autoload=False)
    pm.add_plugin(Impostor(), "impostor", "rv-impostor", "0.1")
    info = pm.rv_plugins["impostor"]
    assert info.status == "failed"
    assert "The task key 'OBJECT_DETECTION' is registered twice: by plugin 'rv' (rv-core) and by plugin " \
        "'impostor' (rv-impostor)" in info.error
    # rv-core's OBJECT_DETECTION is untouched.
    assert pm.rv_registry.get_registration("tasks", rv.OBJECT_DETECTION).plugin == "rv"

    strict = make_plugin_manager(autoload=False, strict=True)
    with pytest.raises(PluginError, match=r"registered twice: by plugin 'rv' \(rv-core\) and by plugin 'impostor'"):
        strict.add_plugin(Impostor(), "impostor")


def test_registering_something_that_is_not_a_config_is_an_error():
    reg = Registry()
    with pytest.raises(PluginError, match=r"register a ConfigBuilder or Config subclass"):
        reg.register("evaluators", "BAD", object, plugin="bad")
    with pytest.raises(PluginError, match=r"keys are non-empty strings"):
        reg.register("evaluators", "", object, plugin="bad")
    with pytest.raises(PluginError, match=r"Unknown registry group 'evaluator'"):
        reg.register("evaluator", "X", object, plugin="bad")
