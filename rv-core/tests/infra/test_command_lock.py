"""The lock a command holds on its outputs while it runs (rv.command.lock)."""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from rv import file_utils
from rv.command.lock import LOCK_NAME, CommandLock

# A child process: take the lock, write "start"/"end" lines around a pause, release.
HOLDER = textwrap.dedent(
    """
    import sys, time
    from rv.command.lock import CommandLock

    command_dir, log, tag, pause = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    with CommandLock(command_dir, "CHIP test", poll=0.05) as lock:
        with open(log, "a") as f:
            f.write(f"start {tag} waited={lock.waited}\\n")
        time.sleep(pause)
        with open(log, "a") as f:
            f.write(f"end {tag}\\n")
    """
)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_two_processes_holding_one_lock_never_overlap(tmp_path):
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    log = tmp_path / "log.txt"
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "chip"), str(log), tag, "1.0"],
                              stderr=subprocess.PIPE, text=True) for tag in ("a", "b")]
    errs = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    lines = log.read_text().splitlines()
    # Each start is followed by its own end: the second waited for the first.
    assert [line.split()[0] for line in lines] == ["start", "end", "start", "end"]
    assert lines[0].split()[1] == lines[1].split()[1] and lines[2].split()[1] == lines[3].split()[1]
    assert lines[2].endswith("waited=True")
    assert any("waiting for it to finish" in e for e in errs)
    assert not (tmp_path / "chip" / LOCK_NAME).exists(), "the lock outlived its holders"


def test_a_lock_left_by_a_killed_process_of_this_host_is_taken_over_at_once(tmp_path, capfd):
    command_dir = tmp_path / "train"
    command_dir.mkdir()
    pid = _dead_pid()
    (command_dir / LOCK_NAME).write_text(json.dumps(
        {"command": "TRAIN x", "token": "old", "pid": pid, "host": socket.gethostname(),
         "started_at": time.time(), "heartbeat_at": time.time()}))
    start = time.monotonic()
    with CommandLock(str(command_dir), "TRAIN x", stale_after=60) as lock:
        assert json.loads((command_dir / LOCK_NAME).read_text())["token"] == lock.token
    assert time.monotonic() - start < 5
    err = capfd.readouterr().err
    assert f"process {pid} on this host" in err and "taking over" in err


def test_a_lock_whose_heartbeat_stops_is_taken_over_after_stale_after(tmp_path, capfd):
    command_dir = tmp_path / "predict"
    command_dir.mkdir()
    # Held by a process of another machine: only the heartbeat tells whether it still runs.
    (command_dir / LOCK_NAME).write_text(json.dumps(
        {"command": "PREDICT x", "token": "old", "pid": 12345, "host": "batch-node-7",
         "started_at": 0, "heartbeat_at": 0}))
    start = time.monotonic()
    with CommandLock(str(command_dir), "PREDICT x", stale_after=1.0, poll=0.05) as lock:
        assert lock.waited
    waited = time.monotonic() - start
    assert 1.0 <= waited < 10
    err = capfd.readouterr().err
    assert "process 12345 on batch-node-7 has not renewed it" in err


def test_a_live_holder_renews_its_lock_so_a_waiter_does_not_take_it(tmp_path):
    script = tmp_path / "holder.py"
    script.write_text(HOLDER.replace('"CHIP test", poll=0.05', '"CHIP test", poll=0.05, heartbeat=0.2'))
    log = tmp_path / "log.txt"
    holder = subprocess.Popen([sys.executable, str(script), str(tmp_path / "chip"), str(log), "a", "3.0"])
    try:
        deadline = time.monotonic() + 30
        while not log.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        # stale_after (1 s) is shorter than the holder's work (3 s), but it beats every 0.2 s.
        with CommandLock(str(tmp_path / "chip"), "CHIP test", stale_after=1.0, poll=0.05):
            assert log.read_text().splitlines()[-1] == "end a"
    finally:
        holder.wait(timeout=60)


def test_create_exclusive_gives_the_uri_to_one_caller(tmp_path):
    uri = str(tmp_path / "x" / "lock.json")
    assert file_utils.create_exclusive(uri, "first")
    assert not file_utils.create_exclusive(uri, "second")
    assert file_utils.read_text(uri) == "first"


@pytest.mark.parametrize("scheme", ["memory"])
def test_create_exclusive_on_an_fsspec_file_system(scheme):
    uri = f"{scheme}://rv-lock-test/{os.getpid()}/lock.json"
    assert file_utils.create_exclusive(uri, "first")
    assert not file_utils.create_exclusive(uri, "second")
    assert file_utils.read_text(uri) == "first"
    file_utils.delete(uri)
