"""rv-hello's own tests: how a plugin author tests a plugin with rv's pytest fixtures.

The fixtures come from ``rv.testing`` through its ``pytest11`` entry point:
installing rv-core is enough, nothing is imported for them.

``rv_plugin_manager``
    a fresh plugin manager, active for one test;
``rv_register_plugin(plugin, name=None)``
    registers a plugin object (here the ``rv_hello.plugin`` module, what the
    ``rv.plugins`` entry point names) into it, failing the test at once on a
    registration error or a misspelt hook name;
``assert_config_round_trip(config)``
    checks that a config survives ``unstructure``/``structure`` and a saved
    ``.json`` file.

Run them with ``pytest examples/plugins/rv-hello/tests``.
"""

import json

import pytest

import rv
import rv_hello
from rv import file_utils
from rv.testing import sample_config
from rv_hello import plugin


@pytest.fixture
def hello_plugin(rv_register_plugin):
    """The active plugin manager with rv-hello registered under its entry point's name."""
    return rv_register_plugin(plugin, "rv_hello")


def test_the_plugin_registers_its_evaluator_key(hello_plugin):
    assert rv_hello.HELLO_EVALUATOR in hello_plugin.rv_registry.keys("evaluators")
    # What `rv plugins list` shows in its "provides" column.
    assert hello_plugin.rv_registry.provided_by("rv_hello") == {"evaluators": ["HELLO_EVALUATOR"]}
    info = {p.name: p for p in hello_plugin.plugin_infos()}["rv_hello"]
    assert info.status == "ok"
    assert info.hooks == ["register_commands", "register_evaluators"]


def test_each_test_starts_without_the_plugin(rv_plugin_manager):
    # A fresh manager per test: the registration of the test above is gone (unless rv-hello is installed).
    from importlib import metadata

    try:
        metadata.distribution("rv-hello")
    except metadata.PackageNotFoundError:
        assert rv_hello.HELLO_EVALUATOR not in rv_plugin_manager.rv_registry.keys("evaluators")
        with pytest.raises(rv.ConfigError, match="HELLO_EVALUATOR"):
            rv.EvaluatorConfig.builder(rv_hello.HELLO_EVALUATOR)


def test_the_config_round_trips(hello_plugin, assert_config_round_trip):
    config = rv.EvaluatorConfig.builder(rv_hello.HELLO_EVALUATOR).with_greeting("Jambo").build()
    assert config.key == rv_hello.HELLO_EVALUATOR
    back = assert_config_round_trip(config)
    assert back.greeting == "Jambo"


def test_every_field_round_trips(hello_plugin, assert_config_round_trip):
    # sample_config sets every field from its type: a field that does not serialize fails here.
    config = sample_config("evaluators", rv_hello.HELLO_EVALUATOR)
    assert config.greeting != "Hello" and config.output_uri is not None
    assert_config_round_trip(config)


def test_build_validates_the_greeting(hello_plugin):
    with pytest.raises(rv.ConfigError, match="greeting is empty"):
        rv.EvaluatorConfig.builder(rv_hello.HELLO_EVALUATOR).with_greeting("  ").build()


def test_the_evaluator_greets_every_scene_and_writes_eval_json(hello_plugin):
    # memory:// keeps the test off the disk; any URI rv.file_utils knows works.
    uri = "memory://rv-hello-tests/eval/eval.json"
    config = (
        rv.EvaluatorConfig.builder(rv_hello.HELLO_EVALUATOR).with_greeting("Habari").with_output_uri(uri).build()
    )

    class Scene:
        def __init__(self, id):
            self.id = id

    try:
        report = config.create(task_config=None).process([Scene("kampala"), Scene("entebbe")])
        written = json.loads(file_utils.read_text(uri))
    finally:
        file_utils.delete("memory://rv-hello-tests", recursive=True)
    assert written == report.to_dict()
    assert written["scenes"] == {"kampala": "Habari, kampala!", "entebbe": "Habari, entebbe!"}
    assert written["overall"] == {"scenes": 2.0}


def test_an_evaluator_without_an_output_uri_says_how_to_fix_it(hello_plugin):
    config = rv.EvaluatorConfig.builder(rv_hello.HELLO_EVALUATOR).build()
    with pytest.raises(rv.ConfigError, match=r"with_output_uri"):
        config.create(task_config=None)


def test_the_hello_command(hello_plugin, capsys):
    # rv's CLI builds its commands from the active plugin manager: the one of this test.
    from rv_cli.main import main

    assert main(["hello", "Kampala"]) == 0
    assert capsys.readouterr().out == "Hello, Kampala!\n"
    assert main(["hello", "--greeting", "Jambo"]) == 0
    assert capsys.readouterr().out == "Jambo, world!\n"
