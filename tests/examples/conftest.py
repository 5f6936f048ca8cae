"""Fixtures of the example tests: each ``examples/*.py`` run once, for real, as a user runs it.

``run_example(name)`` runs ``python -m rv run local examples/<name>.py -a
root_uri <tmp> -a num_epochs 1 -a num_steps 2`` in a subprocess (with the
installed packages' entry points, no rv settings from the developer's shell,
a temporary RV_CONFIG_DIR, one torch thread, an empty working directory),
then runs the very same command a second time, which must find every output
in place and run nothing. Both runs are cached for the session, so every
test of an example shares one training run.

No ``from __future__ import annotations``: conftest modules of several
folders share a module name.
"""

import hashlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from rv.testing import environ_without_rv

REPO = Path(__file__).resolve().parents[2]  # tests/examples -> the repository
EXAMPLES = REPO / "examples"
EXAMPLE_DATA = EXAMPLES / "data"
# Tiny budgets: one epoch capped at two optimiser steps, so TRAIN takes seconds.
BUDGET = {"num_epochs": "1", "num_steps": "2"}
TIMEOUT = 600


def pytest_collection_modifyitems(items):
    here = Path(__file__).resolve().parent
    for item in items:
        if item.path.parent == here:
            item.add_marker(pytest.mark.filterwarnings("ignore::UserWarning"))


def snapshot(root):
    """``{relative path: (size, mtime_ns)}`` of every file under ``root``.

    ``experiments/<id>.json`` (the experiment as run, rewritten by every
    ``rv run``) is recorded by content instead: rewriting it unchanged is fine.
    """
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            rel = path.relative_to(root)
            if rel.parts[0] == "experiments":
                out[str(rel)] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                st = path.stat()
                out[str(rel)] = (st.st_size, st.st_mtime_ns)
    return out


@dataclass
class ExampleRun:
    """One example run twice: ``first`` trains and writes everything, ``rerun`` must run nothing."""

    name: str
    root: Path  # the root_uri given to the example
    cwd: Path  # the (empty) working directory of both runs
    argv: list
    first: subprocess.CompletedProcess
    first_seconds: float
    rerun: subprocess.CompletedProcess
    rerun_seconds: float
    files_before_rerun: dict
    files_after_rerun: dict

    @property
    def log(self):
        return self.first.stdout + self.first.stderr


@pytest.fixture(scope="session")
def examples_environ(tmp_path_factory):
    """Environment of the subprocesses: no RV_ settings from the shell, a fresh config dir, one torch thread."""
    config_dir = tmp_path_factory.mktemp("rv-config")
    env = environ_without_rv()
    env.update(RV_CONFIG_DIR=str(config_dir), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


@pytest.fixture(scope="session")
def run_subprocess(examples_environ):
    """``run_subprocess(argv, cwd)``: run ``argv`` in the examples' environment; fail with its output on error."""

    def _run(argv, cwd, check=True):
        argv = [str(a) for a in argv]
        result = subprocess.run(argv, capture_output=True, text=True, env=examples_environ, cwd=cwd, timeout=TIMEOUT)
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
            )
        return result

    return _run


@pytest.fixture(scope="session")
def run_example(run_subprocess, tmp_path_factory):
    """``run_example(name) -> ExampleRun``: ``rv run local examples/<name>.py`` at tiny budgets, then again."""
    cache = {}

    def _run(name):
        if name not in cache:
            root = tmp_path_factory.mktemp(f"{name}-out")
            cwd = tmp_path_factory.mktemp(f"{name}-cwd")
            argv = [sys.executable, "-m", "rv", "run", "local", EXAMPLES / f"{name}.py", "-a", "root_uri", root]
            for key, value in BUDGET.items():
                argv += ["-a", key, value]
            start = time.perf_counter()
            first = run_subprocess(argv, cwd)
            first_seconds = time.perf_counter() - start
            before = snapshot(root)
            start = time.perf_counter()
            rerun = run_subprocess(argv, cwd)
            rerun_seconds = time.perf_counter() - start
            cache[name] = ExampleRun(
                name, root, cwd, argv, first, first_seconds, rerun, rerun_seconds, before, snapshot(root)
            )
        return cache[name]

    return _run
