"""The example notebooks (examples/notebooks/*.ipynb) run top to bottom, as a user runs them.

Each is executed with nbclient in a Jupyter kernel of this environment (the
interpreter running pytest, through a kernel spec made for the test), in an
empty temporary working directory: its outputs (``out/``) land there, never
in the repository. A cell that raises fails the test. Then the outputs are
read as a user reads them: each plotting cell shows a picture, the metrics
cell prints the scores, ``rv.run`` ran every command and ``!rv run local``
on the example file found them all done. The committed notebooks carry no
outputs (the repository stays small; this test makes them).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat is a development dependency (requirements-dev.txt)")
nbclient = pytest.importorskip("nbclient", reason="nbclient is a development dependency (requirements-dev.txt)")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = EXAMPLES / "notebooks"

#: the commands rv.run runs in each notebook, in order
COMMANDS = {
    "semantic_segmentation": ["ANALYZE", "CHIP", "TRAIN", "PREDICT", "EVAL", "BUNDLE"],
    "object_detection": ["CHIP", "TRAIN", "PREDICT", "EVAL", "BUNDLE"],
}
#: cells (by tag) that must show a figure
FIGURES = ("scene", "chips", "curves", "predictions", "confusion", "predictor-plot")


def _kernel_env(tmp_path: Path, monkeypatch) -> None:
    """A ``python3`` kernel spec running this interpreter, first on the Jupyter path; a clean rv setup."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "rv (.venv)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))
    monkeypatch.setenv("RV_EXAMPLES", str(EXAMPLES))
    monkeypatch.setenv("RV_CONFIG_DIR", str(tmp_path / "rv-config"))
    for name in list(os.environ):
        if name.startswith("RV_") and name not in ("RV_EXAMPLES", "RV_CONFIG_DIR"):
            monkeypatch.delenv(name)


def _tagged(nb, tag: str):
    cells = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"one cell tagged {tag!r} expected, found {len(cells)}"
    return cells[0]


def _result(cell) -> str:
    """The cell's value as shown (``text/plain`` of its execute_result)."""
    results = [o.data.get("text/plain", "") for o in cell.outputs if o.output_type == "execute_result"]
    assert len(results) == 1, f"no value shown by {cell.source}"
    return results[0]


def _text(cell) -> str:
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif "data" in out:
            parts.append(out.data.get("text/plain", ""))
    return "".join(parts)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_committed_notebook_has_no_outputs(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_notebook_runs_top_to_bottom(name, tmp_path, monkeypatch):
    _kernel_env(tmp_path, monkeypatch)
    work = tmp_path / "work"
    work.mkdir()
    before = sorted(p.name for p in NOTEBOOKS.iterdir())
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(work)}}
    )
    client.execute()  # a cell that raises fails here, naming it

    assert sorted(p.name for p in NOTEBOOKS.iterdir()) == before  # nothing written beside the notebooks
    assert (work / "out").is_dir()
    for tag in FIGURES:
        cell = _tagged(nb, tag)
        pngs = [o for o in cell.outputs if "data" in o and "image/png" in o.data]
        assert len(pngs) == 1, f"cell {tag!r} shows {len(pngs)} figures: {cell.source}"
        assert len(pngs[0].data["image/png"]) > 5_000  # base64 of a real picture, not an empty axes
    ran = _result(_tagged(nb, "run"))  # the commands rv.run ran, in order
    assert [line.strip(" [],'").split()[0] for line in ran.splitlines()] == COMMANDS[name], ran
    cli = _text(_tagged(nb, "cli"))
    assert "nothing to run" in cli, cli  # the example file is the same experiment: every output in place
    metrics = _text(_tagged(nb, "metrics"))
    assert "F1 " in metrics and ("'miou'" in metrics or "'ap50'" in metrics), metrics
    assert not any(o.output_type == "error" for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    # Warnings are said as rv's (`rv: warning: ...`), never in Python's format with a source line.
    raw = [t for c in nb.cells if c.cell_type == "code" for t in [_text(c)] if re.search(r"\.py:\d+: \w*Warning", t)]
    assert not raw, raw
