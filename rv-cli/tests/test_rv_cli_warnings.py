"""Warnings reach the user as ``rv: warning: <message>``, once, without Python's source-line format."""

import subprocess
import sys
import textwrap


def test_a_warning_raised_in_a_command_is_said_once_in_rvs_words(tmp_path):
    # A tiny plugin-free command path: the rv entry point with a module that warns twice from one line
    # and once from another, as label readers do for every window.
    script = textwrap.dedent(
        """
        import sys, warnings
        from rv_cli.console import install_warning_display
        install_warning_display()
        for _ in range(14):
            warnings.warn("Feature 3 of labels.geojson was repaired", UserWarning)
        warnings.warn("Feature 3 of labels.geojson was repaired", UserWarning)
        warnings.warn("another  kind\\n of problem", RuntimeWarning)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines == ["rv: warning: Feature 3 of labels.geojson was repaired",
                     "rv: warning: another kind of problem"]


def test_the_rv_command_installs_the_warning_display():
    code = ("import warnings, rv_cli.main as m; from rv_cli.console import show_warning; "
            "m.main(['plugins', 'list']); print(warnings.showwarning is show_warning)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "True", result.stdout + result.stderr
