"""Command implementations come from plugins: rv-core registers the six, another plugin may replace one."""

import pytest

from rv.command.command_config import command_implementation
from rv.errors import ConfigError, PluginError
from rv.registry import Registry


def _impl(config, tmp_dir):
    pass


def test_a_plugin_replaces_a_builtin_command_and_two_plugins_still_clash():
    reg = Registry()
    reg.register("command_implementations", "CHIP", "rv.command.chip:run_chip", plugin="rv", distribution="rv-core")
    reg.register("command_implementations", "CHIP", _impl, plugin="fast", distribution="rv-fast")
    assert reg.get_registration("command_implementations", "CHIP").plugin == "fast"
    assert reg.get_registration("command_implementations", "CHIP").replaced.plugin == "rv"
    assert reg.provided_by("fast") == {"command_implementations": ["CHIP"]} and reg.provided_by("rv") == {}
    assert command_implementation("CHIP", reg) is _impl
    with pytest.raises(PluginError, match=r"'CHIP' is registered twice: by plugin 'fast' \(rv-fast\) and by plugin 'other'"):
        reg.register("command_implementations", "CHIP", _impl, plugin="other", distribution="rv-other")
    reg.remove_plugin("fast")  # the built-in comes back
    assert reg.get_registration("command_implementations", "CHIP").plugin == "rv"


def test_an_unknown_command_type_names_the_hook():
    with pytest.raises(ConfigError, match=r"No implementation of command 'SEGMENT' is registered.*register_command_implementations"):
        command_implementation("SEGMENT", Registry())


def test_naming_train_without_chips_names_the_missing_chip_command(fake_backend, experiment_file, root_uri, rv_cli):
    result = rv_cli("run", "local", str(experiment_file), "train", "-a", "root_uri", root_uri)
    assert result.exit_code != 0
    text = " ".join((result.stdout + result.stderr).split())
    assert f"read {root_uri}/chip/landcover-chips/chips.json, which CHIP landcover-chips writes" in text
    assert f"Include it: rv run local {experiment_file} chip train -a root_uri {root_uri}" in text
