"""rv.run_output: a warning's kind, the run's record of warnings, and a command's log.txt."""

from __future__ import annotations

import sys

import pytest

from rv.errors import DataError
from rv.run_output import CommandLog, RunRecord, recording_run, say_warning, warning_key

SCENE_A = (
    "/data/labels.geojson: of 206 label features, 90 lie inside the scene (1024x1536 px) and 98 lie outside "
    "(dropped); first problem at pixel (640.26 751.00)."
)
SCENE_B = (
    "/data/labels.geojson: of 206 label features, 65 lie inside the scene (512x512 px) and 108 lie outside "
    "(dropped); first problem at pixel (3712.26 -1296.99)."
)


def test_a_warnings_kind_ignores_its_numbers_but_not_its_file():
    assert warning_key(SCENE_A) == warning_key(SCENE_B)
    assert warning_key(SCENE_A) != warning_key(SCENE_A.replace("/data/labels.geojson", "/data/labels_2.geojson"))
    assert warning_key("labels_1.geojson: 3 dropped") != warning_key("labels_2.geojson: 3 dropped")
    assert warning_key("labels_1.geojson: 3 dropped") == warning_key("labels_1.geojson: 12 dropped")
    assert warning_key("a different sentence 3") != warning_key("another sentence 3")


def test_the_record_shows_each_kind_once_every_message_with_v_and_none_with_q():
    default, verbose, quiet = RunRecord(0), RunRecord(1), RunRecord(-1)
    lines = [f"rv: warning: {SCENE_A}\n", f"rv: warning: {SCENE_B}\n", f"rv: warning: {SCENE_A}\n", "CHIP scenes: 2\n"]
    assert [default.relay(line) for line in lines] == [True, False, False, True]
    assert [verbose.relay(line) for line in lines] == [True, True, False, True]
    assert [quiet.relay(line) for line in lines] == [False, False, False, False]
    # A command's start line is left to -v (its runner says it starts).
    assert not default.relay("rv: running CHIP a\n") and verbose.relay("rv: running CHIP a\n")
    for record in (default, verbose, quiet):
        assert record.summary_lines() == [f"{SCENE_A} (and 1 more like it: see the logs)"]
    assert default.summary_lines(leave_out={SCENE_A}) == []  # said elsewhere (with an EVAL's scores)


def test_a_commands_log_holds_its_output_and_its_error_and_is_written_when_it_fails(tmp_path, capsys):
    uri = str(tmp_path / "chip" / "a" / "log.txt")
    with pytest.raises(DataError), CommandLog(uri):
        print("rv: running CHIP a")
        print("CHIP scenes: 2", file=sys.stderr)
        raise DataError("The labels of scene a are empty.")
    assert open(uri).read() == "rv: running CHIP a\nCHIP scenes: 2\nrv: error: The labels of scene a are empty.\n"
    out, err = capsys.readouterr()
    assert (out, err) == ("rv: running CHIP a\n", "CHIP scenes: 2\n")  # the console got the output too
    assert sorted(p.name for p in (tmp_path / "chip" / "a").iterdir()) == ["log.txt"]  # no temporary file left

    with pytest.raises(ZeroDivisionError), CommandLog(uri):
        1 / 0  # noqa: B018
    assert "Traceback" in open(uri).read() and "ZeroDivisionError" in open(uri).read()


def test_a_discarded_log_leaves_the_one_there(tmp_path):
    (tmp_path / "eval").mkdir()
    uri = tmp_path / "eval" / "log.txt"
    uri.write_text("the run that did it\n")
    with CommandLog(str(uri)) as log:
        print("finished by another run meanwhile")
        log.discard()
    assert uri.read_text() == "the run that did it\n"
    assert [p.name for p in (tmp_path / "eval").iterdir()] == ["log.txt"]


def test_within_a_run_the_console_says_a_warning_once_and_each_commands_log_has_it(tmp_path, capsys):
    with recording_run(0) as record:
        say_warning(SCENE_A)  # the run's input check
        for command in ("chip", "eval"):
            with CommandLog(str(tmp_path / command / "log.txt")):
                say_warning(SCENE_A)
                say_warning(SCENE_B)
                say_warning(SCENE_B)
    err = capsys.readouterr().err
    assert err == f"rv: warning: {SCENE_A}\n"
    for command in ("chip", "eval"):
        assert (tmp_path / command / "log.txt").read_text() == f"rv: warning: {SCENE_A}\nrv: warning: {SCENE_B}\n"
    assert len(record.warnings) == 1


def test_a_command_on_its_own_says_each_message_once_in_its_output_and_log(tmp_path, capsys):
    with CommandLog(str(tmp_path / "log.txt")):
        for _ in range(3):
            say_warning(SCENE_A)
        say_warning(SCENE_B)
    expected = f"rv: warning: {SCENE_A}\nrv: warning: {SCENE_B}\n"
    assert capsys.readouterr().err == expected
    assert (tmp_path / "log.txt").read_text() == expected


def test_python_warnings_are_said_in_rvs_words_within_a_block(capsys):
    import warnings

    from rv.run_output import python_warnings_as_rvs

    before = warnings.showwarning
    with recording_run(0), python_warnings_as_rvs(), warnings.catch_warnings():
        warnings.simplefilter("always")
        for scene in (SCENE_A, SCENE_B, SCENE_A):
            warnings.warn(scene, UserWarning, stacklevel=1)
    assert warnings.showwarning is before
    assert capsys.readouterr().err == f"rv: warning: {SCENE_A}\n"


def test_a_runner_keeps_the_log_of_a_command_killed_before_it_could(tmp_path):
    from rv.run_output import write_crash_log

    uri = tmp_path / "train" / "a" / "log.txt"
    write_crash_log(str(uri), ["rv: running TRAIN a\n", "epoch 1\n"], -9)
    assert uri.read_text() == (
        "rv: running TRAIN a\nepoch 1\nrv: the command's process was killed by signal 9 (this log was kept by the runner)\n"
    )
