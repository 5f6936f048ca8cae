"""The documentation site (``mkdocs.yml``, ``docs/``): it builds, and its reference is complete and current.

- ``mkdocs build --strict`` succeeds (a broken link, anchor or nav entry is a
  warning, and strict mode makes it an error; a test breaks a copy of the site
  each of those ways to prove it);
- the generated, committed reference pages (``docs/reference/``) are what
  ``docs/gen_reference.py`` writes from the code now; when they are not, the
  failure names the command that regenerates them;
- every hookspec of ``rv.hookspecs`` is in the hooks reference and in the
  plugin author guide (``docs/plugins.md``); every key the first-party plugins
  register, and every key constant of ``rv.keys``, is in the config-keys
  reference; every command ``rv --help`` lists (and their subcommands) is in
  the CLI reference;
- a third-party plugin's keys appear in the generated reference without hand
  edits (``--all-installed``, with the example plugin rv-hello installed),
  while the committed pages stay first-party only.

Needs mkdocs-material (requirements-dev.txt). A few seconds in all.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rv.testing import environ_without_rv

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"
GEN = DOCS / "gen_reference.py"
REGENERATE = ".venv/bin/python docs/gen_reference.py"


def _gen_module():
    spec = importlib.util.spec_from_file_location("rv_docs_gen_reference", GEN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _gen_module()


def _env(tmp_path):
    env = environ_without_rv()
    config_dir = tmp_path / "rv-config"
    config_dir.mkdir(exist_ok=True)
    env.update(RV_CONFIG_DIR=str(config_dir), NO_MKDOCS_2_WARNING="1", PYTHONUNBUFFERED="1")
    return env


def _need_mkdocs():
    missing = [m for m in ("mkdocs", "material") if importlib.util.find_spec(m) is None]
    if missing:
        message = (f"{', '.join(missing)} not installed: `.venv/bin/python -m pip install -c requirements.lock "
                   "-c constraints.txt -r requirements-dev.txt`")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _mkdocs_build(config_file, site_dir, env):
    """``mkdocs build --strict`` from the repository root (pages include ./CHANGELOG.md and files of examples/)."""
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config_file),
                           "--site-dir", str(site_dir)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _read(path):
    return path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------
# The site builds, and a broken site does not
# --------------------------------------------------------------------------


def test_site_builds_in_strict_mode_with_no_warnings(tmp_path):
    _need_mkdocs()
    site = tmp_path / "site"
    result = _mkdocs_build(ROOT / "mkdocs.yml", site, _env(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"`mkdocs build --strict` failed:\n{output[-5000:]}"
    warnings = [line for line in output.splitlines() if re.match(r"\s*(WARNING|ERROR)\b", line)]
    assert not warnings, "\n".join(warnings)
    for page in ("index.html", "quickstart/index.html", "plugins/index.html", "aws/index.html",
                 "reference/config-keys/index.html", "reference/cli/index.html", "reference/hooks/index.html"):
        assert (site / page).is_file(), page


BREAKAGES = {
    "link to a missing page": ("concepts.md", "\n\nSee [nowhere](no-such-page.md).\n", "no-such-page.md"),
    "link to a missing anchor": ("concepts.md", "\n\nSee [nowhere](configuration.md#no-such-anchor).\n",
                                 "no-such-anchor"),
    "nav entry for a missing page": ("mkdocs.yml", "", "no-such-nav-page.md"),
    "page left out of the nav": ("orphan.md", "# Orphan\n", "orphan.md"),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_a_broken_site_fails_the_strict_build(tmp_path, breakage):
    _need_mkdocs()
    site_src = tmp_path / "src"
    site_src.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", site_src / "mkdocs.yml")
    shutil.copytree(DOCS, site_src / "docs", ignore=shutil.ignore_patterns("__pycache__"))
    target, text, named = BREAKAGES[breakage]
    if target == "mkdocs.yml":
        config = _read(site_src / "mkdocs.yml")
        assert "  - Changelog: changelog.md\n" in config
        config = config.replace("  - Changelog: changelog.md\n",
                                "  - Changelog: changelog.md\n  - Missing: no-such-nav-page.md\n")
        (site_src / "mkdocs.yml").write_text(config, encoding="utf-8")
    else:
        page = site_src / "docs" / target
        page.write_text((_read(page) if page.exists() else "") + text, encoding="utf-8")
    result = _mkdocs_build(site_src / "mkdocs.yml", tmp_path / "site", _env(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"the strict build passed despite a {breakage}:\n{output[-3000:]}"
    assert named in output, output[-3000:]


# --------------------------------------------------------------------------
# The generated reference: committed, current and complete
# --------------------------------------------------------------------------


def test_committed_reference_pages_are_up_to_date(tmp_path):
    result = subprocess.run([sys.executable, str(GEN), "--check"], cwd=ROOT, env=_env(tmp_path),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (
        f"docs/reference/ is out of date with the code. Regenerate it with `{REGENERATE}` and commit "
        f"docs/reference/*.md.\n{result.stderr[-6000:]}"
    )


def _hookspec_names():
    from rv import hookspecs

    marker = f"{hookspecs.PROJECT_NAME}_spec"
    return [name for name, obj in vars(hookspecs).items() if callable(obj) and hasattr(obj, marker)]


def test_every_hookspec_is_in_the_hooks_reference_and_the_author_guide():
    names = _hookspec_names()
    assert "register_tasks" in names and "file_system_for" in names, names
    hooks_page = _read(REFERENCE / "hooks.md")
    guide = _read(DOCS / "plugins.md")
    not_in_reference = [n for n in names if not re.search(rf"^### {n} \{{#", hooks_page, re.M)]
    not_in_guide = [n for n in names if not re.search(rf"`{n}\b", guide)]
    assert not not_in_reference, (f"hookspecs missing from docs/reference/hooks.md: {not_in_reference}; "
                                  f"regenerate it with `{REGENERATE}`")
    assert not not_in_guide, (f"hookspecs the plugin author guide (docs/plugins.md) does not mention: "
                              f"{not_in_guide}; say there what each is for (see 'What you can register')")


@pytest.fixture(scope="module")
def first_party_registry():
    from rv.plugins import make_plugin_manager

    pm = make_plugin_manager(autoload=True, load_only=list(gen.FIRST_PARTY_PLUGINS), strict=False, legacy=False)
    assert not pm.failures, [(p.name, p.error) for p in pm.failures]
    return pm.rv_registry


def test_every_registered_key_is_in_the_config_keys_reference(first_party_registry):
    from rv.registry import CONFIG_GROUPS, GROUP_HOOKS

    page = _read(REFERENCE / "config-keys.md")
    missing = []
    for group in GROUP_HOOKS:
        for key in first_party_registry.keys(group):
            if group in CONFIG_GROUPS or group in ("runners", "model_defaults"):
                heading_id = gen.anchor("model-defaults" if group == "model_defaults" else group, key)
                found = re.search(rf"^### {re.escape(key)} \{{#{heading_id}\}}", page, re.M)
            else:  # command implementations and any later group: at least in a table row
                found = re.search(rf"^\| `{re.escape(key)}`", page, re.M)
            if not found:
                missing.append(f"{group}: {key}")
    assert first_party_registry.keys("tasks"), "no tasks registered: the plugins did not load"
    assert not missing, f"registered keys missing from docs/reference/config-keys.md: {missing}; run `{REGENERATE}`"


def test_every_key_constant_of_rv_keys_is_registered_and_documented(first_party_registry):
    from rv import keys
    from rv.registry import GROUP_HOOKS

    constants = {name: value for name, value in vars(keys).items()
                 if name.isupper() and isinstance(value, str)}
    registered = {key for group in GROUP_HOOKS for key in first_party_registry.keys(group)}
    unregistered = sorted(n for n, v in constants.items() if v not in registered)
    assert not unregistered, f"rv.keys constants no first-party plugin registers: {unregistered}"
    page = _read(REFERENCE / "config-keys.md")
    undocumented = sorted(
        n for n, v in constants.items()
        if not re.search(rf"`rv\.{n}`|`{re.escape(v)}`|^### {re.escape(v)} \{{#", page, re.M)
    )
    assert not undocumented, f"rv.keys constants missing from docs/reference/config-keys.md: {undocumented}"


def _commands_in_help(text):
    """The command names of a click help text's ``Commands:`` section."""
    if "\nCommands:\n" not in text:
        return []
    section = text.split("\nCommands:\n", 1)[1]
    names = []
    for line in section.splitlines():
        if not line.strip():
            break
        match = re.match(r"^  (\S+)", line)
        if match:
            names.append(match.group(1))
    return names


def test_every_command_of_rv_help_is_in_the_cli_reference(tmp_path):
    env = _env(tmp_path)
    env["COLUMNS"] = "200"

    def help_of(*path):
        result = subprocess.run([sys.executable, "-m", "rv", *path, "--help"], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    page = _read(REFERENCE / "cli.md")
    top = _commands_in_help(help_of())
    assert {"run", "predict", "plugins"} <= set(top), top
    missing = []
    todo = [(name,) for name in top]
    while todo:
        path = todo.pop(0)
        heading = "rv " + " ".join(path)
        if not re.search(rf"^#+ {re.escape(heading)} \{{#", page, re.M):
            missing.append(heading)
        todo += [(*path, sub) for sub in _commands_in_help(help_of(*path))]
    assert not missing, f"commands of `rv --help` missing from docs/reference/cli.md: {missing}; run `{REGENERATE}`"


def test_a_third_party_plugins_keys_appear_in_the_generated_reference(plugin_venv, run_python, tmp_path):
    """rv-hello installed: ``--all-installed`` documents its key and command; the default stays first-party."""
    everything, first_party = tmp_path / "all", tmp_path / "first-party"
    run_python(plugin_venv, [GEN, "--all-installed", "--out", everything])
    run_python(plugin_venv, [GEN, "--out", first_party])
    keys_all = _read(everything / "config-keys.md")
    assert re.search(r"^### HELLO_EVALUATOR \{#", keys_all, re.M), "rv-hello's key is not in the generated page"
    assert "**rv-hello**" in keys_all
    assert re.search(r"^## rv hello \{#", _read(everything / "cli.md"), re.M)
    for name in gen.GENERATED:
        assert "rv-hello" not in _read(first_party / name), name
        assert "rv_hello" not in _read(first_party / name), name
