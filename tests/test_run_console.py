"""The console of ``rv run``: each warning once, in rv's words; a summary; ``-q``; a log.txt beside every output.

The run is README's main job, ``examples/buildings_segmentation.py`` (Kampala A
trains, Kampala B validates, one GeoJSON for both), with its backend swapped
for the torch-free MAJORITY_CLASS_BASELINE so that the six commands take
seconds. Its labels give the two warnings users see in the main job: a
self-intersecting footprint repaired, and features outside each scene
dropped. Each is raised for every scene, in the run's input check and again
in CHIP, PREDICT and EVAL, each in a subprocess of its own; the console says
each kind once.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rv.testing import environ_without_rv

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
COMMANDS = ("analyze", "chip", "train", "predict", "eval", "bundle")
KEY = "buildings-segmentation"
#: the two label warnings of the main job, by words every scene's message has
LABEL_WARNINGS = {
    "repaired": re.compile(r"kampala_buildings\.geojson: repaired 1 invalid geometry with shapely\.make_valid"),
    "outside": re.compile(r"kampala_buildings\.geojson: of 206 label features, .* lie outside \(dropped\)"),
}

EXPERIMENT = textwrap.dedent(
    f"""
    import sys

    sys.path.insert(0, {str(EXAMPLES)!r})

    import buildings_segmentation as main_job

    import rv


    class MainJobQuickly(rv.ExperimentSet):
        def exp_main_job(self, root_uri):
            exp = main_job.BuildingsSegmentation().exp_buildings_segmentation(root_uri, chip_size=512)
            backend = rv.BackendConfig.builder("MAJORITY_CLASS_BASELINE").with_task(exp.task).build()
            return exp.to_builder().with_backend(backend).build()
    """
)


def _rv(*args, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rv", *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )


@pytest.fixture(scope="module")
def main_job(tmp_path_factory):
    """The main job's experiment run once by ``rv run local``: (result, root, env, experiment file, tmp)."""
    from rv.testing.baseline import MODULE

    base = tmp_path_factory.mktemp("main-job")
    root, tmp, cwd = base / "out", base / "tmp", base / "cwd"
    tmp.mkdir()
    cwd.mkdir()
    experiment = base / "main_job.py"
    experiment.write_text(EXPERIMENT, encoding="utf-8")
    env = environ_without_rv()
    env.update(PLUGINS_MODULES=MODULE, TMPDIR=str(tmp), RV_PROGRESS="0", HOME=str(base))
    result = _rv("run", "local", experiment, "-a", "root_uri", root, env=env, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return result, root, env, experiment, tmp, cwd


def _console(result) -> str:
    return result.stdout + result.stderr


def test_each_label_warning_is_said_once_in_rvs_words(main_job):
    result = main_job[0]
    lines = _console(result).splitlines()
    run_lines = lines[: next(i for i, line in enumerate(lines) if line.startswith("rv: ran "))]
    for kind, pattern in LABEL_WARNINGS.items():
        said = [line for line in run_lines if pattern.search(line)]
        assert len(said) == 1, f"the {kind!r} warning was said {len(said)} times:\n" + "\n".join(said)
        assert said[0].startswith("rv: warning: "), said[0]
    # Never Python's own warning format: a category, a source file:line, the code line.
    text = _console(result)
    assert "UserWarning" not in text and "GeoJSONWarning" not in text
    assert not re.search(r"\.py:\d+: ", text), text
    assert "read_pixel_features(" not in text and "warnings.warn(" not in text


def test_the_run_ends_with_a_summary(main_job):
    result, root = main_job[0], main_job[1]
    lines = _console(result).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("rv: ran "))
    summary = lines[start:]
    assert summary[0].startswith("rv: ran 6 command(s) in ") and summary[0].endswith(
        f": {KEY}: ANALYZE, CHIP, TRAIN, PREDICT, EVAL, BUNDLE"
    ), summary[0]
    assert f"rv: outputs in {root}/<command>/<key>/, each with its log.txt" in summary
    assert f"rv: picture: {root}/eval/{KEY}/confusion_matrix.png" in summary
    assert f"rv: picture: {root}/predict/{KEY}/kampala_b-overlay.png" in summary
    assert any(line.startswith(f"rv: EVAL {KEY} (experiment {KEY}): ") for line in summary)
    # The warnings again, one line each, after the scores.
    heading = next(i for i, line in enumerate(summary) if "kind(s) of warning in this run" in line)
    again = summary[heading + 1 :]
    for kind, pattern in LABEL_WARNINGS.items():
        assert len([line for line in again if pattern.search(line)]) == 1, f"{kind}:\n" + "\n".join(again)
    # Each scene said it in its own numbers; the others are in the logs.
    assert any(
        pattern.search(line) and "1 more like it" in line for line in again for pattern in LABEL_WARNINGS.values()
    )


def test_every_command_leaves_its_log_beside_its_outputs(main_job):
    result, root, tmp = main_job[0], main_job[1], main_job[4]
    for command in COMMANDS:
        log = root / command / KEY / "log.txt"
        assert log.is_file(), f"no {log}"
        assert f"rv: running {command.upper()} {KEY}" in log.read_text()
    # CHIP's and EVAL's logs hold the label warnings they raised (CHIP's from its worker processes),
    # though the console had said them already.
    for command in ("chip", "eval"):
        text = (root / command / KEY / "log.txt").read_text()
        for kind, pattern in LABEL_WARNINGS.items():
            assert pattern.search(text), f"{command}'s log lacks the {kind!r} warning:\n{text}"
    # Nothing of the run is left in the temporary folder (no rv-logs-*), nor in the working directory.
    assert sorted(p.name for p in tmp.iterdir()) == []
    assert list(main_job[5].iterdir()) == []
    assert "rv-logs" not in _console(result)


def test_quiet_prints_only_errors_and_the_error_names_the_log(main_job):
    _, root, env, experiment, _, cwd = main_job
    # EVAL again: it raises both label warnings, as the input check does.
    quiet = _rv("run", "local", experiment, "eval", "-q", "-r", "-a", "root_uri", root, env=env, cwd=cwd)
    assert quiet.returncode == 0, quiet.stderr
    assert (quiet.stdout, quiet.stderr) == ("", "")

    failing = dict(env, RV_TEST_FAIL_TRAIN="1")
    failed = _rv("-q", "run", "local", experiment, "train", "-r", "-a", "root_uri", root, env=failing, cwd=cwd)
    assert failed.returncode == 1
    assert failed.stdout == ""
    lines = failed.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rv: error: TRAIN"), failed.stderr
    log = root / "train" / KEY / "log.txt"
    assert f"Its log is {log};" in lines[0]
    text = log.read_text()
    assert "rv: running TRAIN" in text and "RuntimeError: training failed on purpose" in text
