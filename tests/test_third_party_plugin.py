"""A third-party plugin for real: rv-hello's evaluator key in configs and in a real EVAL command.

rv-hello is pip-installed into a throwaway venv (see conftest); everything
that needs it runs there in a subprocess.
"""

import json
import sys
from pathlib import Path

LANDCOVER = Path(__file__).resolve().parents[1] / "examples" / "data" / "landcover"

ROUND_TRIP = """
import json, sys
import rv, rv_hello
from rv.testing import assert_config_round_trip
from rv.serialization import config_to_json

evaluator = rv.EvaluatorConfig.builder(rv_hello.HELLO_EVALUATOR).with_greeting("Jambo").build()
back = assert_config_round_trip(evaluator)
task = rv.TaskConfig.builder(rv.CHIP_CLASSIFICATION).with_classes(["building", "background"]).build()
scene = rv.SceneConfig.builder().with_id("kampala").with_raster_source("kampala.tif").build()
experiment = (
    rv.ExperimentConfig.builder().with_id("hello").with_task(task).with_backend(rv.BackendConfig())
    .with_dataset(rv.DatasetConfig.builder().with_train_scene(scene)).with_root_uri("out")
    .with_evaluator(evaluator).build()
)
doc = json.loads(config_to_json(experiment.evaluators[0]))
print(json.dumps({"greeting": back.greeting, "key": back.key, "type": type(back).__module__, "saved": doc}))
"""

EVAL_COMMAND = """
import sys
import rv, rv_hello
from rv import file_utils
from rv.command.command_config import commands_for_experiment
from rv.serialization import config_to_json

image, labels, root = sys.argv[1:4]
task = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(["forest", "grass", "urban", "water"]).build()
scenes = rv.SceneConfig.builder().with_task(task).with_raster_source(image).with_label_source(labels)
dataset = rv.DatasetConfig.builder().with_train_scene(scenes.with_id("train")).with_validation_scene(
    scenes.with_id("tile4").with_label_store(labels)  # the labels stand in for predictions
)
experiment = (
    rv.ExperimentConfig.builder().with_id("hello").with_task(task).with_backend(rv.BackendConfig())
    .with_dataset(dataset).with_root_uri(root)
    .with_evaluator(rv.EvaluatorConfig.builder(rv_hello.HELLO_EVALUATOR).with_greeting("Habari"))
    .build()
)
(command,) = commands_for_experiment(experiment, ["EVAL"])
file_utils.write_text(command.config_uri, config_to_json(command))
print(command.config_uri)
"""


def test_hello_evaluator_key_round_trips_and_records_its_distribution(run_python, plugin_venv):
    report = json.loads(run_python(plugin_venv, ROUND_TRIP).stdout.splitlines()[-1])
    assert report["greeting"] == "Jambo"
    assert report["key"] == "HELLO_EVALUATOR"
    assert report["type"] == "rv_hello.hello_evaluator_config"
    saved = report["saved"]
    # output_uri and classes come from rv's EvaluatorConfig base, greeting from rv-hello's config
    assert saved["config"] == {"type": "HELLO_EVALUATOR", "output_uri": None, "classes": None, "greeting": "Jambo"}
    assert {"distribution": "rv-hello", "version": "0.1.0"} in saved["plugins"]


def test_hello_evaluator_runs_in_a_real_eval_command(run_python, plugin_venv, tmp_path):
    root = tmp_path / "out"
    image, labels = LANDCOVER / "s2_aberystwyth_tile4.tif", LANDCOVER / "s2_aberystwyth_tile4_labels.tif"
    config_uri = run_python(plugin_venv, ["-c", EVAL_COMMAND, image, labels, root]).stdout.strip()
    assert config_uri == f"{root}/eval/hello/command-config.json"
    doc = json.loads(Path(config_uri).read_text())
    assert {"distribution": "rv-hello", "version": "0.1.0"} in doc["plugins"]

    # The same path every runner uses: `rv run_command <uri>` in a fresh process.
    result = run_python(plugin_venv, ["-m", "rv", "run_command", config_uri])
    report = json.loads((root / "eval" / "hello" / "eval.json").read_text())
    assert report == {
        "evaluator": "HELLO_EVALUATOR",
        "greeting": "Habari",
        "scenes": {"tile4": "Habari, tile4!"},
        "overall": {"scenes": 1.0},
    }
    assert "rv: running EVAL hello" in result.stderr
    stamp = json.loads((root / "eval" / "hello" / "command-stamp.json").read_text())
    assert stamp["outputs"] == [f"{root}/eval/hello/eval.json"]

    # Where rv-hello is not installed, the command says which package it needs.
    missing = run_python(sys.executable, ["-m", "rv", "run_command", config_uri], check=False)
    assert missing.returncode == 1
    assert "needs plugin distribution(s) rv-hello" in missing.stderr
    assert "pip install rv-hello" in missing.stderr
