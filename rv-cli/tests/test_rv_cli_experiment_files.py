"""Experiment files run as Raster Vision users ran them.

A repository of experiments is a package tree (``examples/__init__.py``,
``examples/utils.py``, ``examples/spacenet/...``) whose files import helpers
from their own package, absolutely and relatively, and are run from the
repository root with ``-e examples.spacenet.semantic_segmentation`` or ``-p
examples/spacenet/semantic_segmentation.py``, or as scripts calling
``rv.main()``. These tests write such a tree in ``tmp_path`` and run the real
``rv`` console script (not ``python -m rv``, which would put the working
directory on ``sys.path`` by itself) in a subprocess with its working
directory set.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

#: the ``rv`` console script of this environment
RV_SCRIPT = Path(sys.executable).with_name("rv")

UTILS = '''
"""Helpers shared by the repository's experiments."""
import rv


def segmentation_experiment(exp_id, root_uri, image, classes, chip_size=64):
    task = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(classes).with_chip_size(chip_size).build()
    scene = rv.SceneConfig.builder().with_task(task).with_id("tile4").with_raster_source(image)
    dataset = rv.DatasetConfig.builder().with_train_scene(scene).with_validation_scene(scene.with_id("tile4-valid"))
    return (
        rv.ExperimentConfig.builder().with_id(exp_id).with_task(task).with_backend(rv.BackendConfig())
        .with_dataset(dataset).with_root_uri(root_uri).build()
    )
'''

DATA = '''
"""The data of the SpaceNet-style experiments (here: rv's landcover sample)."""
IMAGE = {image!r}
CLASSES = {{"forest": (1, "darkgreen"), "grass": (2, "lightgreen"), "urban": (3, "grey"), "water": (4, "blue")}}
'''

EXPERIMENT = '''
import rv

from examples.utils import segmentation_experiment
from .data import CLASSES, IMAGE


class SpaceNetSegmentation(rv.ExperimentSet):
    def exp_main(self, root_uri, chip_size: int = 64):
        return [
            segmentation_experiment(f"spacenet-seg-{{size}}", root_uri, IMAGE, CLASSES, size)
            for size in (chip_size, 2 * chip_size)
        ]


if __name__ == "__main__":
    rv.main()
'''

MODULE = "examples.spacenet.semantic_segmentation"
FILE = "examples/spacenet/semantic_segmentation.py"
IDS = ["spacenet-seg-64", "spacenet-seg-128"]


@pytest.fixture
def repo(tmp_path, data_dir):
    """An experiments repository: ``examples/`` and ``examples/spacenet/`` packages, helpers in both."""
    root = tmp_path / "rv-experiments"
    spacenet = root / "examples" / "spacenet"
    spacenet.mkdir(parents=True)
    (root / "examples" / "__init__.py").write_text("")
    (root / "examples" / "utils.py").write_text(UTILS)
    (spacenet / "__init__.py").write_text("")
    image = str(data_dir / "landcover" / "s2_aberystwyth_tile4.tif")
    (spacenet / "data.py").write_text(DATA.format(image=image))
    (spacenet / "semantic_segmentation.py").write_text(EXPERIMENT.format())
    return root


def rv_in(cwd: Path, *args: str, python: bool = False) -> subprocess.CompletedProcess:
    """Run ``rv ARGS`` (or ``python ARGS`` with ``python=True``) in ``cwd``, with this test's clean environment."""
    assert RV_SCRIPT.is_file(), f"the rv console script is missing: {RV_SCRIPT} (pip install -e rv-cli)"
    command = [sys.executable, *args] if python else [str(RV_SCRIPT), *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=dict(os.environ), timeout=120)


def experiment_ids(result: subprocess.CompletedProcess) -> list[str]:
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_a_module_of_the_repository_loads_with_e_from_its_root(repo):
    assert experiment_ids(rv_in(repo, "ls", "-e", MODULE, "-a", "root_uri", "out")) == IDS
    # Raster Vision's spelling of the option.
    assert experiment_ids(rv_in(repo, "ls", "--experiment_module", MODULE, "-a", "root_uri", "out")) == IDS


def test_a_file_in_a_package_loads_with_p_as_part_of_its_package(repo):
    # From the repository root, as its README says to run it...
    assert experiment_ids(rv_in(repo, "ls", "-p", FILE, "-a", "root_uri", "out")) == IDS
    # ...and from anywhere else: the package root is found by walking up the __init__.py files.
    elsewhere = repo.parent / "cwd"
    assert experiment_ids(rv_in(elsewhere, "ls", str(repo / FILE), "-a", "root_uri", "out", "-a", "chip_size", "32")) == [
        "spacenet-seg-32", "spacenet-seg-64",
    ]


def test_e_from_the_wrong_directory_names_the_module_and_the_directories_searched(repo):
    elsewhere = repo.parent / "cwd"
    result = rv_in(elsewhere, "ls", "-e", MODULE, "-a", "root_uri", "out")
    assert result.returncode == 1
    message = result.stderr
    assert "Traceback" not in message
    assert f"Cannot import the experiment module {MODULE!r}" in message
    assert "No module named 'examples'" in message
    assert str(elsewhere) in message  # the working directory was searched
    assert "run rv from the folder that holds examples/" in message


def test_a_helper_import_that_fails_names_the_missing_module(repo):
    (repo / "examples" / "spacenet" / "broken.py").write_text(
        "import rv\nfrom examples.spacenet_utils import make_chips\n"
    )
    result = rv_in(repo, "ls", "-p", "examples/spacenet/broken.py")
    assert result.returncode == 1
    message = result.stderr
    assert "Traceback" not in message
    assert "there is no module 'examples.spacenet_utils'" in message
    assert str(repo) in message  # the package root, put on sys.path, is among the directories searched


def test_a_relative_import_outside_a_package_says_to_add_an_init_file(repo):
    loose = repo / "scratch"
    loose.mkdir()
    (loose / "helpers.py").write_text("CLASSES = ['a', 'b']\n")
    (loose / "experiment.py").write_text("import rv\nfrom .helpers import CLASSES\n")
    result = rv_in(repo, "ls", "scratch/experiment.py")
    assert result.returncode == 1
    assert "relative import" in result.stderr and "put an __init__.py in its folder" in result.stderr
    # Doing what it says makes the file load (and fail later, for want of experiments, not of imports).
    (loose / "__init__.py").write_text("")
    result = rv_in(repo, "ls", "scratch/experiment.py")
    assert result.returncode == 1 and "defines no subclass of rv.ExperimentSet" in result.stderr


def test_rv_main_in_an_experiment_file_serves_ls_and_run(repo):
    # python -m examples.spacenet.semantic_segmentation ls: the module's own experiment sets (__main__),
    # relative imports included.
    result = rv_in(repo, "-m", MODULE, "ls", "-a", "root_uri", "out", python=True)
    assert experiment_ids(result) == IDS
    # A root option before the command, and run's Raster Vision spelling of -n.
    result = rv_in(repo, "-m", MODULE, "-v", "run", "local", "--dry_run", "-x", "-a", "root_uri", "out", python=True)
    assert result.returncode == 0, result.stderr
    planned = [line for line in result.stdout.splitlines() if line[:1].isdigit()]
    assert planned[0] == "0: CHIP spacenet-seg-64  (experiments: spacenet-seg-64)"
    assert len(planned) == 10  # CHIP, TRAIN, PREDICT, EVAL, BUNDLE for each of the two experiments


def test_rv_main_in_a_plain_script_lists_its_experiments_and_reports_errors(tmp_path, data_dir):
    script = tmp_path / "tile4.py"
    image = str(data_dir / "landcover" / "s2_aberystwyth_tile4.tif")
    script.write_text(
        textwrap.dedent(
            f"""
            import rv

            class Tile4(rv.ExperimentSet):
                def exp_one(self, root_uri):
                    task = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(["a", "b"]).build()
                    scene = rv.SceneConfig.builder().with_task(task).with_id("s").with_raster_source({image!r})
                    return (rv.ExperimentConfig.builder().with_id("tile4-one").with_task(task)
                            .with_backend(rv.BackendConfig()).with_root_uri(root_uri)
                            .with_dataset(rv.DatasetConfig.builder().with_train_scene(scene)).build())

            if __name__ == "__main__":
                rv.main()
            """
        )
    )
    assert experiment_ids(rv_in(tmp_path, str(script), "ls", "-a", "root_uri", "out", python=True)) == ["tile4-one"]
    # A missing -a argument: the error, and a failing exit code for the shell, not a silent 0.
    result = rv_in(tmp_path, str(script), "ls", python=True)
    assert result.returncode == 1
    assert "Tile4.exp_one" in result.stderr and "-a root_uri VALUE" in result.stderr
