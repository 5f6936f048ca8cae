"""Third-party plugins installed for real: rv-hello adds a command, rv-broken fails to import.

Both example packages (examples/plugins/) are built and pip-installed into a
throwaway venv that sees this environment (``plugin_venv``); ``rv`` runs
there as ``python -m rv``. The development environment is never changed.
"""

import re
from importlib import metadata

import pytest

pytestmark = pytest.mark.usefixtures("plugin_venv")

BROKEN_WARNING = (
    "rv: warning: plugin 'rv_broken' (rv-broken 0.0.1) failed to load: ModuleNotFoundError: "
    "No module named 'rv_broken_missing_dependency'"
)


def test_the_development_environment_is_left_alone(plugin_venv):
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.distribution("rv-hello")
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.distribution("rv-broken")
    assert plugin_venv.parent.parent.name != ".venv"


def test_help_works_and_shows_the_plugins_command_despite_the_broken_plugin(run_rv, plugin_venv):
    result = run_rv("--help", python=plugin_venv)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\s+hello\s+Say hello \(a command contributed by the rv-hello plugin\)", result.stdout, re.M)
    for command in ("run", "ls", "plugins"):
        assert re.search(rf"^\s+{command}\s", result.stdout, re.M)
    # One warning line names the broken plugin, its distribution and version, and the error.
    warnings = [line for line in result.stderr.splitlines() if "rv_broken" in line]
    assert len(warnings) == 1 and warnings[0].startswith(BROKEN_WARNING)


def test_the_plugins_command_runs(run_rv, plugin_venv):
    result = run_rv("hello", "Kampala", python=plugin_venv)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello, Kampala!\n"
    assert run_rv("hello", "--greeting", "Jambo", "Kampala", python=plugin_venv).stdout == "Jambo, Kampala!\n"
    assert run_rv("hello", python=plugin_venv).stdout == "Hello, world!\n"
    assert "Who to greet." in run_rv("hello", "--help", python=plugin_venv).stdout


def test_plugins_list_shows_the_hello_plugin_and_the_broken_one(run_rv, plugin_venv):
    result = run_rv("plugins", "list", python=plugin_venv, columns=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    hello = next(i for i, line in enumerate(lines) if line.startswith("rv_hello "))
    assert re.match(r"^rv_hello\s+rv-hello\s+0\.1\.0\s+ok\s+evaluators: HELLO_EVALUATOR$", lines[hello].rstrip())
    assert lines[hello + 1].strip() == "hooks: register_commands"
    start = next(i for i, line in enumerate(lines) if line.startswith("rv_broken "))
    row = [lines[start]] + [line for line in lines[start + 1:start + 3] if line.startswith(" ")]
    assert re.match(
        r"^rv_broken\s+rv-broken\s+0\.0\.1\s+failed\s+error: ModuleNotFoundError: No module named "
        r"'rv_broken_missing_dependency'$",
        " ".join(" ".join(row).split()),
    )
    assert "rv_broken" in " ".join(result.stdout.split()[-40:])  # named in the footer too


def test_plugins_list_json_and_hook_filter(run_rv, plugin_venv):
    import json

    plugins = {p["name"]: p for p in json.loads(run_rv("plugins", "list", "--json", python=plugin_venv).stdout)}
    assert plugins["rv_hello"]["provides"] == {"evaluators": ["HELLO_EVALUATOR"]}
    assert plugins["rv_hello"]["source"] == "entry point 'rv_hello = rv_hello.plugin'"
    assert plugins["rv_broken"]["status"] == "failed"
    commands = json.loads(run_rv("plugins", "list", "--json", "--hook", "register_commands", python=plugin_venv).stdout)
    assert {p["name"] for p in commands} >= {"rv_cli", "rv_hello"}
    assert "rv" not in {p["name"] for p in commands}


def test_strict_mode_makes_the_broken_plugin_an_error(run_rv, plugin_venv):
    result = run_rv("--help", python=plugin_venv, env={"RV_STRICT_PLUGINS": "1"})
    assert result.returncode == 1
    assert "rv: error: Plugin 'rv_broken' (rv-broken 0.0.1) failed to load" in result.stderr
    assert "Traceback" not in result.stderr


def test_load_plugins_leaves_the_broken_plugin_out(run_rv, plugin_venv):
    result = run_rv("hello", "Mapper", python=plugin_venv, env={"RV_LOAD_PLUGINS": "rv_hello"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello, Mapper!\n"
    assert "rv_broken" not in result.stderr
    disabled = run_rv("hello", python=plugin_venv, env={"RV_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert disabled.returncode == 2
    assert "No such command 'hello'" in disabled.stderr
