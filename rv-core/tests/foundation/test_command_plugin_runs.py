"""``rv run local`` end to end with command implementations from a test plugin.

A real distribution (``fake_distribution``: a dist-info with an
``rv.plugins`` entry point) replaces rv-core's six built-in command
implementations with small ones that write each command's declared outputs
atomically and print a marker line with start/end timestamps. The runner and
every command run as real subprocesses (``python -m rv run local ...``, which
starts ``python -m rv run_command <uri>`` per command); they find the plugin
through ``PYTHONPATH`` and FAKE_BACKEND through the legacy plugin file that
``legacy_fake_backend`` names in ``PLUGINS_FILES``.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = """
    import os
    import time

    import rv

    MARKER = "cmdplugin-ran"


    def _meet(barrier, key, timeout):
        # Wait until another command is running at the same time (or the timeout); record it.
        # <key>.running exists while this command waits; meeting is seeing two of them, or the
        # .met file of a command that saw this one. Commands run one after the other never meet.
        me = os.path.join(barrier, key + ".running")
        open(me, "w").close()
        deadline = time.time() + timeout
        met = False
        while time.time() < deadline and not met:
            names = os.listdir(barrier)
            met = sum(n.endswith(".running") for n in names) >= 2 or any(
                n.endswith(".met") and n != key + ".met" for n in names)
            if not met:
                time.sleep(0.02)
        if met:
            open(os.path.join(barrier, key + ".met"), "w").close()
        os.remove(me)


    def _run(config, tmp_dir):
        start = time.time()
        fail = os.environ.get("CMDPLUGIN_FAIL", "")
        if fail == config.command_type:
            raise RuntimeError(f"cmdplugin exploded in {config.command_type} {config.key}")
        barrier = os.environ.get("CMDPLUGIN_BARRIER_DIR")
        if barrier and config.command_type in os.environ.get("CMDPLUGIN_BARRIER", "").split(","):
            _meet(barrier, config.key, float(os.environ.get("CMDPLUGIN_BARRIER_TIMEOUT", "60")))
        for uri in config.outputs():
            os.makedirs(os.path.dirname(uri), exist_ok=True)
            tmp = uri + ".tmp-cmdplugin"
            with open(tmp, "w") as f:
                f.write(f"{config.command_type} {config.key}\\n")
            os.replace(tmp, uri)
        end = time.time()
        os.makedirs(config.command_uri, exist_ok=True)
        with open(os.path.join(config.command_uri, "cmdplugin-times.txt"), "w") as f:
            f.write(f"{start} {end}\\n")
        print(f"{MARKER} {config.command_type} {config.key} start={start:.3f} end={end:.3f}", flush=True)


    @rv.hookimpl
    def register_command_implementations(register):
        for command in ("ANALYZE", "CHIP", "TRAIN", "PREDICT", "EVAL", "BUNDLE"):
            register(command, _run)
"""

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][A-Za-z0-9]|\x1b[=>]")


@pytest.fixture
def plugin_env(fake_distribution, legacy_fake_backend, monkeypatch):
    """The command plugin installed and visible (with FAKE_BACKEND) to every subprocess."""
    site = fake_distribution("rv-cmdplugin", "0.1.0", {"rv_cmdplugin": PLUGIN}, {"cmdplugin": "rv_cmdplugin"})
    existing = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", str(site) + (os.pathsep + existing if existing else ""))
    monkeypatch.setenv("COLUMNS", "200")
    for name in ("CMDPLUGIN_FAIL", "CMDPLUGIN_BARRIER", "CMDPLUGIN_BARRIER_DIR", "CMDPLUGIN_BARRIER_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    return site


def rv_run(experiment_file, root_uri, *args, env=None, timeout=60):
    argv = [sys.executable, "-m", "rv", "run", "local", str(experiment_file), *args, "-a", "root_uri", root_uri]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, env=dict(os.environ, **(env or {}))
    )


def _outputs(root_uri):
    """Every output of every command the experiment file plans, from the command configs the run wrote."""
    from rv.command.run_command import load_command
    from rv.plugins import make_plugin_manager, use_plugin_manager

    configs = sorted(Path(root_uri).glob("*/*/command-config.json"))
    with use_plugin_manager(make_plugin_manager()):  # one that has found rv-cmdplugin (on sys.path) too
        return {str(c): load_command(str(c)).outputs() for c in configs}


def test_plugin_implementations_run_every_command_then_nothing_runs(plugin_env, experiment_file, root_uri):
    first = rv_run(experiment_file, root_uri, "-j", "2")
    assert first.returncode == 0, first.stdout + first.stderr
    # The plugin's implementations ran (not rv-core's): their marker for each command type.
    for command in ("ANALYZE", "CHIP", "TRAIN", "PREDICT", "EVAL", "BUNDLE"):
        assert f"cmdplugin-ran {command} " in first.stdout, first.stdout
    # CHIP is shared by both experiments: run once.
    assert first.stdout.count("cmdplugin-ran CHIP landcover-chips") == 1
    assert "rv: [CHIP landcover-chips] done" in first.stderr

    configs = _outputs(root_uri)
    types = sorted({Path(c).parent.parent.name for c in configs})
    assert types == ["analyze", "bundle", "chip", "eval", "predict", "train"]
    for config, outputs in configs.items():
        assert outputs, config
        for uri in outputs:
            assert Path(uri).is_file(), f"{uri} (of {config}) missing"
            assert not Path(uri + ".tmp-cmdplugin").exists()
        assert (Path(config).parent / "command-stamp.json").is_file()

    second = rv_run(experiment_file, root_uri)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing to run" in second.stderr
    assert "cmdplugin-ran" not in second.stdout + second.stderr
    assert "starting" not in second.stderr


@pytest.mark.parametrize("jobs", [2, 1])
def test_independent_commands_overlap_only_with_j2(plugin_env, experiment_file, root_uri, jobs, tmp_path):
    """A barrier, not a race against start-up: with -j 2 both ANALYZE commands are seen running at once;
    with -j 1 neither ever meets the other (each waits 1.5 s alone, then goes on)."""
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = {"CMDPLUGIN_BARRIER": "ANALYZE", "CMDPLUGIN_BARRIER_DIR": str(barrier),
           "CMDPLUGIN_BARRIER_TIMEOUT": "60" if jobs == 2 else "1.5"}
    result = rv_run(experiment_file, root_uri, "analyze", "-j", str(jobs), env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cmdplugin-ran ANALYZE short" in result.stdout and "cmdplugin-ran ANALYZE long" in result.stdout
    met = sorted(p.name for p in barrier.iterdir())
    assert met == (["long.met", "short.met"] if jobs == 2 else []), met


def test_progress_bars_show_each_command_done(plugin_env, experiment_file, root_uri):
    result = rv_run(experiment_file, root_uri, "analyze", "chip", "-j", "2", env={"RV_PROGRESS": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    err = ANSI.sub("", result.stderr)
    for name in ("ANALYZE short", "ANALYZE long", "CHIP landcover-chips"):
        assert re.search(rf"{re.escape(name)}\s+done \(\d+\.\d s\)", err), err
        assert f"[{name}] starting" not in err  # the bars, not the plain lines


def test_a_failing_implementation_stops_the_run(plugin_env, experiment_file, root_uri):
    result = rv_run(experiment_file, root_uri, "-f", "short", env={"CMDPLUGIN_FAIL": "TRAIN"})
    assert result.returncode != 0
    text = " ".join((result.stdout + result.stderr).split())
    assert "TRAIN short (experiment short) failed with exit code" in text, text
    match = re.search(r"Its log is (\S+?);", text)
    assert match, text
    log = Path(match.group(1))
    assert log == Path(root_uri) / "train/short/log.txt" and log.is_file()  # beside the command's outputs
    assert "RuntimeError: cmdplugin exploded in TRAIN short" in log.read_text()
    # Upstream ran; TRAIN left nothing; nothing downstream ran.
    assert "cmdplugin-ran CHIP landcover-chips" in result.stdout
    assert not (Path(root_uri) / "train/short/command-stamp.json").exists()
    for command in ("PREDICT", "EVAL", "BUNDLE"):
        assert f"cmdplugin-ran {command}" not in result.stdout
        assert not (Path(root_uri) / command.lower() / "short" / "command-stamp.json").exists()
    assert "[PREDICT short] starting" not in result.stderr
