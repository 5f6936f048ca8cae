"""An experiment file that Python cannot parse: one paragraph naming the file, the line and the problem.

Through the real ``rv run`` (a subprocess, as a user types it) and through
:func:`rv.experiment.experiment_set.load_experiments` (what ``rv.run`` users
call from Python), for a plain file, a file inside a package (``-p``) whose
helper module is the broken one, and a module given with ``-e``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rv.errors import ConfigError
from rv.testing import environ_without_rv

BROKEN = textwrap.dedent(
    """
    import rv


    class Broken(rv.ExperimentSet):
        def exp_main(self, root_uri):
            task = (rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
                    .with_chip_size(256)
            return task
    """
)


def _rv(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = environ_without_rv()
    env["RV_CONFIG_DIR"] = str(cwd)
    return subprocess.run(
        [sys.executable, "-m", "rv", *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def _assert_one_paragraph(stderr: str, file: Path, line: int) -> None:
    assert "Traceback" not in stderr, stderr
    lines = [x for x in stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("rv: error: "), stderr
    text = lines[0]
    assert str(file) in text and f"line {line}" in text, text
    assert "syntax error" in text and "python -m py_compile" in text, text


def test_rv_run_names_the_file_line_and_problem(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text(BROKEN, encoding="utf-8")
    result = _rv("run", "local", path, "-a", "root_uri", tmp_path / "out", cwd=tmp_path)
    assert result.returncode != 0
    # Python reports the unclosed bracket at the line that opens it (7 of the file).
    _assert_one_paragraph(result.stderr, path, 7)
    assert "was never closed" in result.stderr or "invalid syntax" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def test_a_broken_helper_of_a_package_file_is_named(tmp_path):
    package = tmp_path / "myexp"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "helpers.py").write_text("def chip_size():\n    return 256 +\n", encoding="utf-8")
    main = package / "segmentation.py"
    main.write_text(
        "import rv\n\nfrom .helpers import chip_size\n\n\nclass Exp(rv.ExperimentSet):\n    pass\n", encoding="utf-8"
    )
    result = _rv("run", "local", "-p", main, "-n", cwd=tmp_path)
    assert result.returncode != 0
    _assert_one_paragraph(result.stderr, package / "helpers.py", 2)
    assert f"Importing experiment file {main}" in result.stderr

    by_module = _rv("run", "local", "-e", "myexp.segmentation", "-n", cwd=tmp_path)
    assert by_module.returncode != 0
    _assert_one_paragraph(by_module.stderr, package / "helpers.py", 2)


def test_load_experiments_from_python_raises_a_config_error(tmp_path):
    from rv.experiment.experiment_set import load_experiments

    path = tmp_path / "indented.py"
    path.write_text("import rv\n\n  x = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_experiments(str(path), args={"root_uri": str(tmp_path)})
    text = str(info.value)
    assert f"{path} has an indentation error at line 3" in text, text
    assert "unexpected indent" in text
