"""rv.progress: bars on a terminal, one summary line in logs, nothing with RV_PROGRESS=0."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from rv import progress as rv_progress
from rv.progress import Progress, progress


@pytest.fixture(autouse=True)
def no_progress_setting(monkeypatch, clean_settings):
    monkeypatch.delenv("RV_PROGRESS", raising=False)


def test_not_a_tty_means_no_bars_and_one_summary_line(capfd):
    assert not sys.stderr.isatty()  # pytest captures stderr
    items = list(progress(range(7), description="Chipping scene-1"))
    assert items == list(range(7))
    out, err = capfd.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Chipping scene-1: 7 (")
    assert "\r" not in err and "\x1b" not in err  # no cursor movement, no colour codes


def test_several_tasks_and_nested_loops_still_one_line(capfd):
    with Progress() as p:
        train = p.add_task("Chipping train", total=4)
        valid = p.add_task("Chipping valid", total=2)
        for _ in range(4):
            for _ in progress(range(50), description="windows"):  # nested: no own line
                pass
            p.advance(train)
        p.advance(valid)
    err = capfd.readouterr().err
    assert err.count("\n") == 1
    assert "Chipping train: 4;" in err
    assert "Chipping valid: 1/2" in err
    assert "windows" not in err
    assert rv_progress._active == []


def test_rv_progress_0_is_silent(monkeypatch, capfd):
    monkeypatch.setenv("RV_PROGRESS", "0")
    assert rv_progress.display_mode() == "off"
    assert sum(progress((i for i in range(5)), description="Predicting")) == 10
    with Progress() as p:
        p.advance(p.add_task("Training", total=3), 3)
    assert capfd.readouterr() == ("", "")


def test_leaving_a_loop_early_closes_the_display(capfd):
    for i in progress(range(100), description="Searching"):
        if i == 3:
            break
    assert rv_progress._active == []
    # Items 0-2 were finished when the loop left during item 3.
    assert "Searching: 3/100" in capfd.readouterr().err


def test_bars_on_a_terminal():
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100, color_system=None)
    assert list(progress(["a", "b", "c"], description="Bundling", console=console)) == ["a", "b", "c"]
    text = buffer.getvalue()
    assert "Bundling" in text
    assert "3/3" in text


def test_import_is_cheap():
    code = (
        "import sys, rv.progress; print(sorted(m for m in ('rich', 'fsspec', 'rasterio', 'torch') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def _child_prints_through_the_display(out) -> None:  # runs in the forked process
    import os

    try:
        print("from the child", file=sys.stderr, flush=True)  # the parent's display holds no lock here
        assert rv_progress.display_mode() == "off"  # the parent shows progress; the child draws none
        assert list(progress(range(3), description="child")) == [0, 1, 2]
        out.send("ok")
    except BaseException as e:  # report, never hang
        out.send(repr(e))
    finally:
        os._exit(0)


@pytest.mark.skipif(not hasattr(__import__("os"), "register_at_fork"), reason="fork is POSIX")
def test_a_process_forked_while_bars_are_drawn_does_not_wait_for_the_display():
    """CHIP and ANALYZE fork worker pools while the run's bars are drawn (a terminal, Jupyter). A lock
    of the display held by another thread at that moment must not freeze the child on its first print."""
    import multiprocessing as mp
    import threading
    import time

    from rich.console import Console

    ctx = mp.get_context("fork")
    receive, out = ctx.Pipe(duplex=False)
    console = Console(file=io.StringIO(), force_terminal=True, width=80)
    with Progress(console=console) as p:
        p.add_task("parent", total=3)
        held = threading.Event()

        def hold_the_console_lock():  # as rich's refresh thread does while it draws
            with p._rich.live.console._lock:
                held.set()
                time.sleep(0.5)

        holder = threading.Thread(target=hold_the_console_lock)
        holder.start()
        held.wait()
        child = ctx.Process(target=_child_prints_through_the_display, args=(out,))
        child.start()
        child.join(30)
        stuck = child.is_alive()
        if stuck:
            child.kill()
        holder.join()
    assert not stuck, "the forked child waited for a lock of the parent's display"
    assert receive.poll(5) and receive.recv() == "ok"
