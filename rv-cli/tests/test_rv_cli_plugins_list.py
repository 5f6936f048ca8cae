"""``rv plugins list``: the table, ``--json`` and ``--hook``."""

import json
import re

import pytest

import rv
from rv.plugins import make_plugin_manager, use_plugin_manager

CORE_KEYS = {
    "tasks": [rv.CHIP_CLASSIFICATION, rv.OBJECT_DETECTION, rv.SEMANTIC_SEGMENTATION],
    "raster_sources": [rv.GEOTIFF_SOURCE, rv.IMAGE_SOURCE],
    "raster_transformers": [rv.STATS_TRANSFORMER],
    "label_sources": [rv.SEMANTIC_SEGMENTATION_RASTER],
    "label_stores": [rv.SEMANTIC_SEGMENTATION_RASTER],
    "analyzers": [rv.STATS_ANALYZER],
    "augmentors": [rv.NODATA_AUGMENTOR],
    "evaluators": [rv.CHIP_CLASSIFICATION_EVALUATOR, rv.OBJECT_DETECTION_EVALUATOR, rv.SEMANTIC_SEGMENTATION_EVALUATOR],
    "runners": [rv.INPROCESS, rv.LOCAL],
    "command_implementations": [rv.ANALYZE, rv.BUNDLE, rv.CHIP, rv.EVAL, rv.PREDICT, rv.TRAIN],
}

BROKEN_PLUGIN = "import rv_cli_test_missing_dependency\n"


@pytest.fixture
def with_broken_legacy_plugin(tmp_path, monkeypatch):
    """A fresh active plugin manager that also holds a plugin file failing to import."""
    from rv import settings

    path = tmp_path / "broken_team_plugin.py"
    path.write_text(BROKEN_PLUGIN)
    monkeypatch.setenv("PLUGINS_FILES", str(path))
    settings.reset_settings()
    with use_plugin_manager(make_plugin_manager()) as pm:
        yield pm


def table_rows(text: str) -> dict[str, list[str]]:
    """The table's lines by plugin: a row starts with the plugin's name, continuation lines with blanks."""
    rows: dict[str, list[str]] = {}
    for line in text.splitlines()[3:]:  # title, header, rule
        if re.match(r"^\d+ plugin\(s\) failed to load", line):
            break  # the footer under the table
        if line[:1].strip():
            rows[line.split()[0]] = [line]
        elif rows and line.strip():
            rows[list(rows)[-1]].append(line)
    return rows


def provides_text(lines: list[str], column: int) -> str:
    """The provides column of a row, one line per table line (wrapped lines start with two blanks)."""
    return "\n".join(line[column:].rstrip() for line in lines)


def unwrapped(text: str) -> str:
    return text.replace("\n  ", " ")


def test_table_shows_rv_core_its_version_and_keys(rv_cli):
    result = rv_cli("plugins", "list", columns=120)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].strip() == "rv plugins"
    header = lines[1]
    assert re.match(r"^plugin\s+distribution\s+version\s+status\s+provides\s*$", header)
    column = header.index("provides")
    rows = table_rows(result.stdout)
    core = rows["rv"]
    assert re.match(rf"^rv\s+rv-core\s+{re.escape(rv.__version__)}\s+ok\s+", core[0])
    text = provides_text(core, column)
    for group, keys in CORE_KEYS.items():
        assert f"{group}: {', '.join(keys)}" in unwrapped(text).splitlines(), group
    assert "hooks: default_evaluator, default_label_source, default_label_store, default_raster_source" in unwrapped(text)
    assert re.match(r"^rv_cli\s+rv-cli\s+\S+\s+ok\s+hooks: register_commands", rows["rv_cli"][0])


@pytest.mark.parametrize("columns", [80, 100, 120])
def test_table_fits_the_terminal_and_never_splits_a_key(rv_cli, columns):
    out = rv_cli("plugins", "list", columns=columns).stdout
    lines = out.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= columns
    column = lines[1].index("provides")
    text = provides_text(table_rows(out)["rv"], column)
    words = set(re.findall(r"[A-Za-z_]+", text))
    for keys in CORE_KEYS.values():
        assert set(keys) <= words, f"a key was split at {columns} columns:\n{text}"
    # One group per line: every group starts a line of its own; continuation lines are indented.
    starts = [line.split(":")[0] for line in text.splitlines() if not line.startswith("  ")]
    assert starts == sorted(CORE_KEYS) + ["hooks"]


def test_a_failed_plugin_is_shown_with_its_reason(rv_cli, with_broken_legacy_plugin):
    result = rv_cli("plugins", "list", columns=120)
    assert result.exit_code == 0
    row = table_rows(result.stdout)["broken_team_plugin"]
    assert re.match(r"^broken_team_plugin\s+-\s+-\s+failed\s+error: ModuleNotFoundError: No module named", row[0])
    assert "'rv_cli_test_missing_dependency'" in " ".join(row)
    flat = " ".join(result.stdout.split())
    assert re.search(r"\d+ plugin\(s\) failed to load \([^)]*broken_team_plugin[^)]*\); rv works without them", flat)


def test_json_lists_every_plugin_with_status_hooks_and_keys(rv_cli, with_broken_legacy_plugin):
    result = rv_cli("plugins", "list", "--json")
    assert result.exit_code == 0
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    core = plugins["rv"]
    assert (core["distribution"], core["version"], core["status"], core["error"]) == ("rv-core", rv.__version__, "ok", None)
    assert core["source"] == "entry point 'rv = rv.builtin'"
    for group, keys in CORE_KEYS.items():
        assert core["provides"][group] == keys
    assert "register_tasks" in core["hooks"] and "file_system_for" in core["hooks"]
    broken = plugins["broken_team_plugin"]
    assert broken["status"] == "failed"
    assert broken["error"] == "ModuleNotFoundError: No module named 'rv_cli_test_missing_dependency'"
    assert broken["source"].startswith("legacy file ") and broken["provides"] == {}
    assert "traceback" not in broken


def test_hook_filter(rv_cli):
    result = rv_cli("plugins", "list", "--json", "--hook", "register_commands")
    names = [p["name"] for p in json.loads(result.stdout)]
    assert "rv_cli" in names and "rv" not in names
    names = [p["name"] for p in json.loads(rv_cli("plugins", "list", "--json", "--hook", "register_tasks").stdout)]
    assert "rv" in names and "rv_cli" not in names
    table = rv_cli("plugins", "list", "--hook", "register_runners").stdout
    assert "rv-core" in table and "rv-cli" not in table


def test_unknown_hook_name_suggests_the_closest(rv_cli):
    result = rv_cli("plugins", "list", "--hook", "register_task")
    assert result.exit_code == 1
    assert "rv: error: Unknown hook 'register_task'. Did you mean 'register_tasks'?" in result.stderr


def test_plugins_list_works_with_autoload_disabled(rv_cli, monkeypatch):
    monkeypatch.setenv("RV_DISABLE_PLUGIN_AUTOLOAD", "1")
    plugins = {p["name"]: p for p in json.loads(rv_cli("plugins", "list", "--json").stdout)}
    assert set(plugins) == {"rv", "rv_cli"}
    assert plugins["rv_cli"]["source"] == "rv-cli (always loaded by the rv command)"
