"""The rv configuration as the ``rv`` command sees it: ``--tmpdir``, and which source names the plugins.

Precedence is environment > ``.env`` in the working directory > the profile
file (``$RV_CONFIG_DIR/<profile>``); here it decides which legacy plugin
module ``rv plugins list`` shows.
"""

import json
import os
import sys

import pytest

from rv import plugins as rv_plugins
from rv import settings

PLUGIN = '''
import attrs
from rv.analyzer.analyzer_config import AnalyzerConfig, AnalyzerConfigBuilder


@attrs.frozen
class {name}Config(AnalyzerConfig):
    pass


class {name}Builder(AnalyzerConfigBuilder):
    config_class = {name}Config


def register_plugin(plugin_registry):
    plugin_registry.register_config_builder("analyzers", "{key}", {name}Builder)
'''

SOURCES = ("profile", "dotenv", "environment")


@pytest.fixture
def three_modules(tmp_path, monkeypatch):
    """Importable legacy plugin modules rv_cli_test_from_<source>, each registering one analyzer key."""
    site = tmp_path / "site"
    site.mkdir()
    for source in SOURCES:
        module = f"rv_cli_test_from_{source}"
        (site / f"{module}.py").write_text(
            PLUGIN.format(name=source.capitalize(), key=f"{source.upper()}_ANALYZER"), encoding="utf-8"
        )
        monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.syspath_prepend(str(site))


def listed(rv_cli) -> dict:
    rv_plugins.set_plugin_manager(None)  # discover afresh, as a new `rv` process would
    settings.reset_settings()
    result = rv_cli("plugins", "list", "--json")
    assert result.exit_code == 0, result.output
    return {p["name"]: p for p in json.loads(result.stdout) if p["name"].startswith("rv_cli_test_from_")}


def test_environment_beats_dotenv_beats_profile_in_naming_plugins(rv_cli, three_modules, tmp_path, monkeypatch):
    (tmp_path / "rv-config" / "default").write_text("[PLUGINS]\nmodules = rv_cli_test_from_profile\n")
    assert list(listed(rv_cli)) == ["rv_cli_test_from_profile"]

    (tmp_path / "cwd" / ".env").write_text("PLUGINS_MODULES=rv_cli_test_from_dotenv\n")
    plugins = listed(rv_cli)
    assert list(plugins) == ["rv_cli_test_from_dotenv"]
    assert plugins["rv_cli_test_from_dotenv"]["source"] == "legacy module rv_cli_test_from_dotenv"
    assert plugins["rv_cli_test_from_dotenv"]["provides"] == {"analyzers": ["DOTENV_ANALYZER"]}

    monkeypatch.setenv("PLUGINS_MODULES", '["rv_cli_test_from_environment"]')
    assert list(listed(rv_cli)) == ["rv_cli_test_from_environment"]


def test_rv_config_names_the_file_and_p_a_profile(rv_cli, three_modules, tmp_path, monkeypatch):
    (tmp_path / "rv-config" / "field").write_text("[PLUGINS]\nmodules = rv_cli_test_from_profile\n")
    monkeypatch.setenv("RV_PROFILE", "default")  # restored after the test, whatever -p sets
    rv_plugins.set_plugin_manager(None)
    settings.reset_settings()
    result = rv_cli("-p", "field", "plugins", "list", "--json")
    assert result.exit_code == 0, result.output
    assert "rv_cli_test_from_profile" in {p["name"] for p in json.loads(result.stdout)}

    ini = tmp_path / "ci.ini"
    ini.write_text("[PLUGINS]\nmodules = rv_cli_test_from_environment, rv_cli_test_from_dotenv\n")
    monkeypatch.setenv("RV_CONFIG", str(ini))
    assert sorted(listed(rv_cli)) == ["rv_cli_test_from_dotenv", "rv_cli_test_from_environment"]


def test_tmpdir_option_sets_rvs_temporary_directory(rv_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "from-env"))  # restored after the test
    assert settings.tmp_dir() == str(tmp_path / "from-env")
    scratch = tmp_path / "scratch" / "rv"
    result = rv_cli("--tmpdir", str(scratch), "plugins", "list", "--json")
    assert result.exit_code == 0, result.output
    assert settings.tmp_dir() == str(scratch) and scratch.is_dir()
    # In the environment too, so that the commands a runner starts in subprocesses use it.
    assert os.environ["TMPDIR"] == str(scratch)
