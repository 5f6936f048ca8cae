"""Experiment files: by path or module, ``exp_*`` methods, ``-a`` arguments, ``-m``/``-f`` patterns, ``rv.main()``."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rv.errors import ConfigError
from rv.experiment.experiment_set import load_experiments

LANDCOVER = Path(__file__).resolve().parents[3] / "examples" / "data" / "landcover"

# Experiments whose ids record the arguments they were called with, so the
# tests can see how each -a value was converted.
ARGS_FILE = textwrap.dedent(
    f'''
    from __future__ import annotations

    from typing import Optional

    import rv

    IMAGE = {str(LANDCOVER / "s2_aberystwyth_tile4.tif")!r}


    def make(exp_id, root_uri="out", chip_size=64):
        task = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(["a", "b"]).with_chip_size(chip_size)
        scene = rv.SceneConfig.builder().with_id("s").with_raster_source(IMAGE)
        return (
            rv.ExperimentConfig.builder().with_id(exp_id).with_task(task).with_backend(rv.BackendConfig())
            .with_dataset(rv.DatasetConfig.builder().with_train_scene(scene)).with_root_uri(root_uri)
        )


    class Sweep(rv.ExperimentSet):
        def exp_typed(self, root_uri: str, chip_size: int, rate: float, debug: bool, limit: int | None = None,
                      scale: Optional[float] = None):
            kinds = "-".join(type(v).__name__ for v in (chip_size, rate, debug, limit, scale))
            return make(f"typed-{{chip_size}}-{{rate}}-{{debug}}-{{limit}}-{{scale}}-{{kinds}}", root_uri, chip_size)

        def exp_defaults(self, root_uri, chip_size=64, name="plain"):
            # No annotations: the defaults' types convert.
            return make(f"defaults-{{chip_size}}-{{type(chip_size).__name__}}-{{name}}", root_uri, chip_size)

        def exp_sizes(self, root_uri):
            return [make(f"size-{{s}}", root_uri, s) for s in (64, 128, 256)]

        def exp_builder(self):
            return make("from-builder")  # a builder is built for you

        def other_prefix_one(self):
            return make("other-one")

        def helper(self):
            raise AssertionError("not an exp_ method: never called")
    '''
)


@pytest.fixture
def args_file(tmp_path):
    path = tmp_path / "sweep_experiments.py"
    path.write_text(ARGS_FILE, encoding="utf-8")
    return path


ALL_ARGS = {"root_uri": "out", "chip_size": "96", "rate": "0.5", "debug": "yes"}


def ids(experiments):
    return [e.id for e in experiments]


def test_loading_by_path_calls_every_exp_method(args_file):
    got = ids(load_experiments(path=str(args_file), args=ALL_ARGS))
    assert got == [
        "from-builder", "defaults-96-int-plain", "size-64", "size-128", "size-256",
        "typed-96-0.5-True-None-None-int-float-bool-NoneType-NoneType",
    ]  # fmt: skip


def test_arguments_are_converted_by_annotation_or_default(args_file):
    args = {**ALL_ARGS, "debug": "false", "limit": "10", "scale": "2", "name": "x"}
    got = ids(load_experiments(path=str(args_file), args=args, methods=["typed", "defaults"]))
    assert got == ["defaults-96-int-x", "typed-96-0.5-False-10-2.0-int-float-bool-int-float"]


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("chip_size", "big", "Argument -a chip_size 'big' of Sweep.exp_defaults is not an int"),
        ("rate", "fast", "Argument -a rate 'fast' of Sweep.exp_typed is not a float"),
        ("debug", "maybe", "Argument -a debug 'maybe' of Sweep.exp_typed is not a boolean: use true or false"),
    ],
)
def test_an_argument_that_does_not_convert_is_an_error(args_file, name, value, message):
    with pytest.raises(ConfigError, match=message):
        load_experiments(path=str(args_file), args={**ALL_ARGS, name: value})


def test_a_missing_argument_lists_what_is_needed(args_file):
    with pytest.raises(ConfigError) as e:
        load_experiments(path=str(args_file), args={"root_uri": "out"}, methods=["typed"])
    msg = str(e.value)
    assert f"Sweep.exp_typed in {args_file} needs argument(s) chip_size, rate, debug (given: root_uri)" in msg
    assert "add -a chip_size VALUE -a rate VALUE -a debug VALUE to the command line" in msg


def test_method_and_id_patterns(args_file):
    assert ids(load_experiments(path=str(args_file), args=ALL_ARGS, methods=["size*"])) == ["size-64", "size-128", "size-256"]
    # A pattern may name the whole method too.
    assert ids(load_experiments(path=str(args_file), args=ALL_ARGS, methods=["exp_builder"])) == ["from-builder"]
    assert ids(load_experiments(path=str(args_file), args=ALL_ARGS, filters=["size-1*", "from-*"])) == [
        "from-builder", "size-128",
    ]  # fmt: skip
    assert load_experiments(path=str(args_file), args=ALL_ARGS, filters=["nothing"]) == []


def test_prefix_chooses_other_methods(args_file):
    assert ids(load_experiments(path=str(args_file), prefix="other_prefix_")) == ["other-one"]


def test_loading_by_module_name(args_file, monkeypatch):
    monkeypatch.syspath_prepend(str(args_file.parent))
    monkeypatch.delitem(sys.modules, "sweep_experiments", raising=False)
    got = ids(load_experiments(module="sweep_experiments", args=ALL_ARGS, methods=["sizes"]))
    assert got == ["size-64", "size-128", "size-256"]


def test_path_and_module_errors(args_file, tmp_path):
    with pytest.raises(ConfigError, match=r"exactly one of them"):
        load_experiments(path=str(args_file), module="x")
    with pytest.raises(ConfigError, match=r"exactly one of them"):
        load_experiments()
    with pytest.raises(ConfigError, match=r"no_such\.py does not exist"):
        load_experiments(path=str(tmp_path / "no_such.py"))
    with pytest.raises(ConfigError, match=r"Cannot import the experiment module 'rv_no_such_experiments'"):
        load_experiments(module="rv_no_such_experiments")
    empty = tmp_path / "empty.py"
    empty.write_text("import rv\n")
    with pytest.raises(ConfigError, match=r"empty\.py defines no subclass of rv\.ExperimentSet"):
        load_experiments(path=str(empty))


def test_a_method_returning_something_else_is_named(tmp_path):
    path = tmp_path / "wrong.py"
    path.write_text("import rv\nclass W(rv.ExperimentSet):\n    def exp_wrong(self):\n        return 42\n")
    with pytest.raises(ConfigError, match=r"W\.exp_wrong returned int; exp_ methods return an ExperimentConfig"):
        load_experiments(path=str(path))


def test_duplicate_ids_are_an_error(tmp_path, args_file):
    path = tmp_path / "dupes.py"
    path.write_text(ARGS_FILE + "\n\nclass Again(Sweep):\n    pass\n")
    with pytest.raises(ConfigError, match=r"Experiment id\(s\) .*from-builder.* appear more than once"):
        load_experiments(path=str(path), args=ALL_ARGS)


def test_an_unused_argument_is_warned_about(args_file, capsys):
    load_experiments(path=str(args_file), args={"root_uri": "out", "epochs": "3"}, methods=["sizes"])
    assert "argument(s) epochs not used by any exp_ method" in capsys.readouterr().err


def test_a_file_that_fails_to_import_can_be_fixed_and_reloaded(tmp_path):
    path = tmp_path / "flaky.py"
    path.write_text("raise RuntimeError('typo in the experiment file')\n")
    with pytest.raises(RuntimeError):
        load_experiments(path=str(path))
    assert "rv_experiments_flaky" not in sys.modules
    path.write_text(ARGS_FILE)
    assert ids(load_experiments(path=str(path), methods=["builder"])) == ["from-builder"]


def test_rv_main_runs_an_experiment_file_directly(legacy_fake_backend, experiment_file, tmp_path):
    # `python experiment.py run local -n ...` is `rv run local experiment.py -n ...`. FAKE_BACKEND
    # comes from the legacy plugin file named by PLUGINS_FILES (set by the fixture), as a user's own would.
    assert os.environ["PLUGINS_FILES"].endswith("fake_backend_plugin.py")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, str(experiment_file), "run", "local", "-n", "-a", "root_uri", str(out)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line[:1].isdigit()]
    assert lines[2] == "2: CHIP landcover-chips  (experiments: short, long)"
    assert len(lines) == 11
    assert not out.exists()
