"""The older plugin form end to end: a legacy plugin *file* and a legacy *module*, named in ``[PLUGINS]``.

Each registers a config builder and an experiment runner through
``register_plugin(plugin_registry)``. ``rv plugins list`` shows both, with
where they came from (``legacy file PATH``, ``legacy module NAME``), and
``rv run KEY`` runs the experiments with the legacy runner.

The rv configuration is a real INI file named by ``RV_CONFIG``.
"""

import json
import re
import sys
import textwrap

import pytest

from rv import plugins as rv_plugins
from rv import settings
from rv.testing import LEGACY_FAKE_BACKEND

#: appended to LEGACY_FAKE_BACKEND: a runner that records what it was asked to run
RECORDING_RUNNER = '''

import json
import os

from rv.runner.runner import Runner


class {name}(Runner):
    """Records the commands of the plan (type and experiments) in $RV_TEST_RUNNER_LOG."""

    def run(self, plan, options):
        record = {{
            "runner": type(self).__name__,
            "commands": [[pc.config.command_type, pc.experiment_ids] for pc in plan.to_run()],
            "parallelism": options.parallelism,
        }}
        with open(os.environ["RV_TEST_RUNNER_LOG"], "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\\n")
'''

LEGACY_FILE = LEGACY_FAKE_BACKEND.replace(
    "def register_plugin(plugin_registry):\n",
    "def register_plugin(plugin_registry):\n"
    '    plugin_registry.register_experiment_runner("file_recording", FileRecordingRunner)\n',
) + RECORDING_RUNNER.format(name="FileRecordingRunner")

LEGACY_MODULE = """
import attrs

import rv
from rv.analyzer.analyzer_config import AnalyzerConfig, AnalyzerConfigBuilder


@attrs.frozen
class TeamAnalyzerConfig(AnalyzerConfig):
    bins: int = 16


class TeamAnalyzerConfigBuilder(AnalyzerConfigBuilder):
    config_class = TeamAnalyzerConfig


def register_plugin(plugin_registry):
    plugin_registry.register_config_builder(rv.ANALYZER, "TEAM_ANALYZER", TeamAnalyzerConfigBuilder)
    plugin_registry.register_experiment_runner("module_recording", ModuleRecordingRunner)
""" + RECORDING_RUNNER.format(name="ModuleRecordingRunner")

MODULE = "rv_cli_test_team_plugins"


@pytest.fixture
def legacy_config(tmp_path, monkeypatch):
    """RV_CONFIG names an INI file whose [PLUGINS] has one plugin file and one plugin module."""
    plugin_file = tmp_path / "team_file_plugin.py"
    plugin_file.write_text(LEGACY_FILE, encoding="utf-8")
    module_dir = tmp_path / "site"
    module_dir.mkdir()
    (module_dir / f"{MODULE}.py").write_text(LEGACY_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(module_dir))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    ini = tmp_path / "team.ini"
    ini.write_text(
        textwrap.dedent(
            f"""
            [PLUGINS]
            files = ["{plugin_file}"]
            modules = ["{MODULE}"]
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("RV_CONFIG", str(ini))
    log = tmp_path / "runner-log.jsonl"
    monkeypatch.setenv("RV_TEST_RUNNER_LOG", str(log))
    settings.reset_settings()
    rv_plugins.set_plugin_manager(None)  # the rv command discovers plugins afresh, as a new process would
    return {"file": plugin_file, "log": log}


def test_plugins_list_json_shows_both_with_their_source_keys_and_runners(rv_cli, legacy_config):
    result = rv_cli("plugins", "list", "--json")
    assert result.exit_code == 0, result.output
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    team_file = plugins["team_file_plugin"]
    assert team_file["status"] == "ok" and team_file["distribution"] is None
    assert team_file["source"] == f"legacy file {legacy_config['file']}"
    assert team_file["provides"] == {"backends": ["FAKE_BACKEND"], "runners": ["file_recording"]}
    assert team_file["hooks"] == ["register_backends", "register_runners"]  # only what it registered
    module = plugins[MODULE]
    assert module["status"] == "ok" and module["distribution"] is None
    assert module["source"] == f"legacy module {MODULE}"
    assert module["provides"] == {"analyzers": ["TEAM_ANALYZER"], "runners": ["module_recording"]}
    # The hook filter finds them like any plugin.
    runners = json.loads(rv_cli("plugins", "list", "--json", "--hook", "register_runners").stdout)
    assert {"rv", "team_file_plugin", MODULE} <= {p["name"] for p in runners}


def test_plugins_list_table_shows_where_each_came_from(rv_cli, legacy_config):
    result = rv_cli("plugins", "list", columns=200)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    column = lines[1].index("provides")

    def row(name):
        start = next(i for i, line in enumerate(lines) if line.startswith(name + " "))
        rest = []
        for line in lines[start + 1 :]:
            if line[:1].strip() or not line.strip():
                break
            rest.append(line)
        return [lines[start]] + rest

    module = row(MODULE)
    assert re.match(rf"^{MODULE}\s+-\s+-\s+ok\s+analyzers: TEAM_ANALYZER$", module[0].rstrip())
    assert [line[column:].rstrip() for line in module[1:]] == [
        "runners: module_recording",
        f"source: legacy module {MODULE}",
    ]
    team_file = row("team_file_plugin")
    assert [line[column:].rstrip() for line in team_file] == [
        "backends: FAKE_BACKEND", "runners: file_recording", f"source: legacy file {legacy_config['file']}",
    ]  # fmt: skip
    # Entry-point plugins name their distribution instead.
    assert not any("source:" in line for line in row("rv"))


@pytest.mark.parametrize(("runner", "runner_class"), [
    ("module_recording", "ModuleRecordingRunner"), ("file_recording", "FileRecordingRunner"),
])  # fmt: skip
def test_rv_run_uses_the_legacy_runner(rv_cli, legacy_config, experiment_file, tmp_path, runner, runner_class):
    # FAKE_BACKEND (the experiments' backend) comes from the legacy file, the runner from either plugin.
    root = tmp_path / "out"
    result = rv_cli("run", runner, str(experiment_file), "-a", "root_uri", str(root), "-j", "2")
    assert result.exit_code == 0, result.output
    assert f"rv: submitted to {runner} 9 command(s)" in result.stderr
    (record,) = [json.loads(line) for line in legacy_config["log"].read_text().splitlines()]
    assert record["runner"] == runner_class and record["parallelism"] == 2
    assert record["commands"][0] == ["CHIP", ["quick", "thorough"]]
    assert [c for c, _ in record["commands"]].count("TRAIN") == 2
    # rv wrote the experiments as usual, with the legacy backend's key in them.
    saved = json.loads((root / "experiments" / "quick.json").read_text())
    assert "FAKE_BACKEND" in json.dumps(saved)
