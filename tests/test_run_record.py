"""Each warning once per run, in rv's words, also from Python (``rv.run``) and from forked workers.

``rv.run()`` of README's main job (its backend swapped for the torch-free
MAJORITY_CLASS_BASELINE) in this process, as a notebook calls it, with the
input check off and two CHIP workers: the two label warnings are then first
raised inside CHIP's forked workers, one scene each, and must still be said
once on the console and once in the run's record.
"""

from __future__ import annotations

import multiprocessing as mp
import re
import sys
import warnings
from pathlib import Path

import pytest

from rv.run_output import recording_run, say_warning

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
LABEL_WARNINGS = {
    "repaired": re.compile(r"kampala_buildings\.geojson: repaired 1 invalid geometry with shapely\.make_valid"),
    "outside": re.compile(r"kampala_buildings\.geojson: of 206 label features, .* lie outside \(dropped\)"),
}


@pytest.fixture
def main_job(rv_baseline_backend, tmp_path, monkeypatch):
    import rv

    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("RV_PROGRESS", "0")
    monkeypatch.setenv("RV_CHIP_WORKERS", "2")
    from rv import settings

    settings.reset_settings()
    import buildings_segmentation

    exp = buildings_segmentation.BuildingsSegmentation().exp_buildings_segmentation(
        str(tmp_path / "out"), chip_size=512
    )
    backend = rv.BackendConfig.builder(rv_baseline_backend).with_task(exp.task).build()
    yield exp.to_builder().with_backend(backend).build()
    settings.reset_settings()


def test_rv_run_from_python_says_each_warning_once_in_rvs_words(main_job, capfd):
    import rv

    with warnings.catch_warnings():
        warnings.simplefilter("default")  # as in a notebook: not pytest's error or capture filters
        rv.run(main_job, "analyze chip", check_inputs=False)
    out, err = capfd.readouterr()
    console = out + err
    for kind, pattern in LABEL_WARNINGS.items():
        said = [line for line in console.splitlines() if pattern.search(line)]
        assert len(said) == 1, f"the {kind!r} warning was said {len(said)} times:\n{console}"
        assert said[0].startswith("rv: warning: "), said[0]
    assert "UserWarning" not in console and "Warning:" not in console.replace("rv: warning:", "")
    assert not re.search(r"\.py:\d+: ", console), console
    # CHIP's log holds what its workers said.
    log = (Path(main_job.root_uri) / "chip" / main_job.id / "log.txt").read_text()
    for kind, pattern in LABEL_WARNINGS.items():
        assert pattern.search(log), f"CHIP's log lacks the {kind!r} warning:\n{log}"


def _worker_warns(n: int) -> int:
    say_warning(f"labels.geojson: scene {n} has {n * 7} features outside")
    say_warning("scene.tif: no CRS")
    return n


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_warnings_of_forked_workers_are_said_once_and_kept_for_the_summary(capfd):
    with recording_run() as record:
        say_warning("scene.tif: no CRS")  # said here first: the workers must not say it again
        with mp.get_context("fork").Pool(3) as pool:
            assert sorted(pool.map(_worker_warns, range(6))) == list(range(6))
        summary = record.summary_lines()
    err = capfd.readouterr().err
    assert err.count("rv: warning: scene.tif: no CRS") == 1, err
    assert len(re.findall(r"rv: warning: labels\.geojson: scene \d has \d+ features outside", err)) == 1, err
    assert summary[0] == "scene.tif: no CRS"
    assert re.fullmatch(
        r"labels\.geojson: scene \d has \d+ features outside \(and 5 more like it: see the logs\)", summary[1]
    )
    assert len(summary) == 2
    # The record took everything back and left no shared folder behind.
    assert len(record.warnings[next(k for k in record.warnings if "labels" in k)]) == 6
    assert record._shared is None


def test_verbose_run_shows_every_distinct_message_of_the_workers(capfd):
    with recording_run(1):
        with mp.get_context("fork").Pool(2) as pool:
            pool.map(_worker_warns, range(4))
    err = capfd.readouterr().err
    assert len(re.findall(r"rv: warning: labels\.geojson: scene \d", err)) == 4, err
    assert err.count("scene.tif: no CRS") == 1
