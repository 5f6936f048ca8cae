"""The ``rv`` command: help, ``ls``, ``run -n`` with its options, root options and error messages."""

import re

import pytest

from rv.plugins import make_plugin_manager, use_plugin_manager


@pytest.fixture
def with_fake_backend(fake_backend_file):
    """A fresh active plugin manager that has FAKE_BACKEND (from the legacy plugin file)."""
    with use_plugin_manager(make_plugin_manager()) as pm:
        yield pm


def test_help_lists_the_builtin_commands_and_root_options(rv_cli):
    result = rv_cli("--help")
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith("Usage: rv [OPTIONS] COMMAND [ARGS]...")
    for command in ("run", "ls", "predict", "run_command", "plugins"):
        assert re.search(rf"^\s+{command}\s", out, re.M), command
    assert "run-command" not in out  # the alias works but is not listed twice
    for option in ("-p, --profile", "-v, --verbose", "--tmpdir"):
        assert option in out
    assert rv_cli("-h").stdout == out
    bare = rv_cli()  # no arguments: the help, as a usage error
    assert bare.exit_code == 2
    assert "Usage: rv [OPTIONS] COMMAND [ARGS]..." in bare.output and "plugins" in bare.output


def test_run_help_shows_the_seeds_options(rv_cli):
    out = rv_cli("run", "--help").stdout
    for option in ("-e, --experiment-module", "-p, --path", "-n, --dry-run", "-x, --skip-file-check",
                   "-a, --arg", "--prefix", "-m, --method", "-f, --filter", "-r, --rerun", "--tempdir",
                   "-j, --jobs", "-v, --verbose"):  # fmt: skip
        assert option in out, option
    assert "KEY VALUE" in out


def test_ls_lists_experiment_ids(rv_cli, with_fake_backend, experiment_file):
    result = rv_cli("ls", str(experiment_file), "-a", "root_uri", "out")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["quick", "thorough"]
    assert rv_cli("ls", "-p", str(experiment_file), "-a", "root_uri", "out", "-f", "thor*").stdout == "thorough\n"


def test_run_dry_run_prints_commands_with_depends_on(rv_cli, with_fake_backend, experiment_file, tmp_path):
    root = str(tmp_path / "out")
    result = rv_cli("run", "local", str(experiment_file), "-n", "-a", "root_uri", root)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "0: CHIP tile4  (experiments: quick, thorough)",
        "1: TRAIN quick  (experiments: quick)",
        "   DEPENDS ON: 0: CHIP tile4",
        "2: TRAIN thorough  (experiments: thorough)",
        "   DEPENDS ON: 0: CHIP tile4",
        "3: PREDICT quick  (experiments: quick)",
        "   DEPENDS ON: 1: TRAIN quick",
        "4: PREDICT thorough  (experiments: thorough)",
        "   DEPENDS ON: 2: TRAIN thorough",
        "5: EVAL quick  (experiments: quick)",
        "   DEPENDS ON: 3: PREDICT quick",
        "6: EVAL thorough  (experiments: thorough)",
        "   DEPENDS ON: 4: PREDICT thorough",
        "7: BUNDLE quick  (experiments: quick)",
        "   DEPENDS ON: 1: TRAIN quick",
        "8: BUNDLE thorough  (experiments: thorough)",
        "   DEPENDS ON: 2: TRAIN thorough",
    ]
    assert not (tmp_path / "out").exists()


def test_run_by_module_with_method_and_filter_patterns(rv_cli, with_fake_backend, experiment_file, monkeypatch):
    monkeypatch.syspath_prepend(str(experiment_file.parent))
    result = rv_cli("run", "local", "-e", experiment_file.stem, "-n", "-a", "root_uri", "out",
                    "-m", "segment*", "-f", "quick", "train")  # fmt: skip
    # TRAIN alone reads chips that CHIP (not named) writes: the error names CHIP and the line to type; -x skips it.
    assert result.exit_code == 1
    err = " ".join(result.stderr.split())
    assert "TRAIN quick read out/chip/tile4/chips.json, which CHIP tile4 writes" in err
    assert "rv run local -e tile4_experiments chip train -a root_uri out" in err
    result = rv_cli("run", "local", "-e", experiment_file.stem, "-n", "-x", "-a", "root_uri", "out",
                    "-m", "segment*", "-f", "quick", "train")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["0: TRAIN quick  (experiments: quick)"]


def test_verbose_dry_run(rv_cli, with_fake_backend, experiment_file, tmp_path):
    root = str(tmp_path / "out")
    one = rv_cli("run", "local", str(experiment_file), "-n", "-v", "-a", "root_uri", root, "CHIP").stdout
    assert one.splitlines()[:3] == ["0: CHIP tile4  (experiments: quick, thorough)", "   key: tile4", "   inputs:"]
    assert "s2_aberystwyth_tile4_labels.tif" in one
    assert f"     - {root}/chip/tile4/chips.json" in one
    assert "   runs because: no output yet" in one
    two = rv_cli("-vv", "run", "local", str(experiment_file), "-n", "-x", "-a", "root_uri", root, "TRAIN").stdout
    assert '"type": "FAKE_BACKEND"' in two and '"epochs": 10' in two
    assert f'"training_data_uri": "{root}/chip/tile4"' in two
    # Long URIs are never wrapped, whatever the terminal width.
    narrow = rv_cli("run", "local", str(experiment_file), "-n", "-v", "-a", "root_uri", root, columns=40).stdout
    assert f"     - {root}/chip/tile4/chips.json" in narrow


def test_root_verbosity_does_not_leak_into_the_next_command(rv_cli, with_fake_backend, experiment_file):
    assert "inputs:" in rv_cli("-v", "run", "local", str(experiment_file), "-n", "-a", "root_uri", "out").stdout
    assert "inputs:" not in rv_cli("run", "local", str(experiment_file), "-n", "-a", "root_uri", "out").stdout


def test_unknown_runner_names_the_known_runners(rv_cli, with_fake_backend, experiment_file):
    result = rv_cli("run", "kubernetes", str(experiment_file), "-n", "-a", "root_uri", "out")
    assert result.exit_code == 1
    assert "rv: error: Unknown runner key 'kubernetes'." in result.stderr
    known = re.search(r"Known runner keys: ([^.]*)\.", result.stderr).group(1).split(", ")
    assert "local" in known  # and whatever runners other installed plugins add


def test_a_first_party_runner_of_a_missing_package_names_it(rv_cli, fake_backend_file, experiment_file, monkeypatch):
    from rv import plugins

    monkeypatch.setenv("RV_LOAD_PLUGINS", "rv_cli")  # as if rv-aws were not installed
    plugins.set_plugin_manager(None)
    result = rv_cli("run", "aws_batch", str(experiment_file), "-n", "-a", "root_uri", "out")
    assert result.exit_code == 1
    assert "Unknown runner key 'aws_batch': it is provided by the rv-aws package" in result.stderr
    assert "pip install rv-aws" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (("run", "local", "-n"), "Name the experiments: rv run local experiment.py"),
        (("run", "local", "EXP", "-n", "-a", "root_uri"), "-a takes two values, KEY VALUE"),
        (("run", "local", "EXP", "-n"), "needs argument(s) root_uri"),
        (("run", "local", "EXP", "-n", "-a", "root_uri", "a", "-a", "root_uri", "b"), "-a root_uri is given twice"),
        (("run", "local", "EXP", "-n", "-a", "root_uri", "a", "-a", "chip_size", "big"), "is not an int"),
        (("run", "local", "EXP", "-n", "-a", "root_uri", "a", "-f", "nothing*"), "No experiments matched"),
        (("run", "local", "EXP", "-n", "-a", "root_uri", "a", "evaluate"), "'evaluate' is neither a command"),
    ],
)
def test_usage_mistakes_are_one_line_errors(rv_cli, with_fake_backend, experiment_file, args, message):
    args = tuple(str(experiment_file) if a == "EXP" else a for a in args)
    result = rv_cli(*args)
    assert result.exit_code == 1
    assert result.stderr.startswith("rv: error: ")
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_click_usage_errors_are_reported_not_raised(rv_cli):
    result = rv_cli("no-such-command")
    assert result.exit_code == 2
    assert "No such command 'no-such-command'" in result.stderr


PROFILE_PLUGIN = """
import attrs
import rv
from rv.analyzer.analyzer_config import AnalyzerConfig


@attrs.frozen
class TeamAnalyzerConfig(AnalyzerConfig):
    pass


def register_plugin(plugin_registry):
    plugin_registry.register_config_builder(rv.ANALYZER, "TEAM_ANALYZER", TeamAnalyzerConfig)
"""


def test_profile_option_loads_that_profiles_plugins(rv_cli, tmp_path, monkeypatch):
    # `rv -p NAME` reads $RV_CONFIG_DIR/NAME *before* plugins load, so that its [PLUGINS] count.
    import json

    plugin = tmp_path / "team_plugin.py"
    plugin.write_text(PROFILE_PLUGIN)
    (tmp_path / "rv-config" / "team").write_text(f"[PLUGINS]\nfiles = {plugin}\n")
    monkeypatch.setenv("RV_PROFILE", "default")  # restored after the test, whatever -p sets

    def plugin_names(*root):
        from rv import plugins

        plugins.set_plugin_manager(None)  # each invocation discovers plugins afresh, as a new process would
        result = rv_cli(*root, "plugins", "list", "--json")
        assert result.exit_code == 0, result.output
        return {p["name"]: p for p in json.loads(result.stdout)}

    assert "team_plugin" not in plugin_names()
    team = plugin_names("-p", "team")["team_plugin"]
    assert team["status"] == "ok" and team["provides"] == {"analyzers": ["TEAM_ANALYZER"]}
    assert "team_plugin" in plugin_names("--profile=team")
    from rv import plugins

    plugins.set_plugin_manager(None)
    missing = rv_cli("--profile", "nobody", "plugins", "list")
    assert missing.exit_code == 1
    assert "rv: error: Configuration profile 'nobody' not found" in missing.stderr
    assert str(tmp_path / "rv-config" / "nobody") in missing.stderr


def test_disabled_autoload_keeps_the_builtin_commands(rv_cli, monkeypatch):
    monkeypatch.setenv("RV_DISABLE_PLUGIN_AUTOLOAD", "1")
    out = rv_cli("--help").stdout
    for command in ("run", "ls", "plugins"):
        assert re.search(rf"^\s+{command}\s", out, re.M), command


def test_run_command_has_a_dashed_alias(rv_cli, tmp_path):
    for name in ("run_command", "run-command"):
        result = rv_cli(name, str(tmp_path / "missing" / "command-config.json"))
        assert result.exit_code == 1
        assert "rv: error:" in result.stderr and "command-config.json" in result.stderr
