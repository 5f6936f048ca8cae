"""The command graph through the real ``rv run local -n`` command line.

The experiment file (see conftest) holds two segmentation experiments on the
real landcover tile that share one CHIP key and differ in their (fake)
backend's epochs. A dry run must list CHIP once; outputs written by an
identical config are skipped; a changed chip size replans CHIP and
everything downstream; ``-r`` forces all.
"""

import json
import re
from pathlib import Path

import pytest

from rv import file_utils
from rv.command.dag import SKIP, build_plan, write_stamp
from rv.errors import ConfigError
from rv.experiment.experiment_set import load_experiments

LINE = re.compile(r"^(\d+): (\w+) (\S+)  \(experiments: ([^)]*)\)(?:  \[skipped: (.*)\])?$")


def parse_plan(output: str) -> list[dict]:
    """The dry-run listing as dicts: index, command, key, experiments, skipped reason, depends_on names."""
    commands = []
    for line in output.splitlines():
        m = LINE.match(line)
        if m:
            commands.append(
                {
                    "index": int(m.group(1)),
                    "command": m.group(2),
                    "key": m.group(3),
                    "experiments": m.group(4).split(", "),
                    "skipped": m.group(5),
                    "depends_on": [],
                    "name": f"{m.group(2)} {m.group(3)}",
                }
            )
        elif line.startswith("   DEPENDS ON: "):
            deps = line[len("   DEPENDS ON: "):].split(", ")
            commands[-1]["depends_on"] = [d.split(": ", 1)[1] for d in deps]
    return commands


def by_name(plan: list[dict]) -> dict[str, dict]:
    return {c["name"]: c for c in plan}


def dry_run(rv_cli, experiment_file, root_uri, *extra):
    result = rv_cli("run", "local", str(experiment_file), "-n", "-a", "root_uri", root_uri, *extra)
    assert result.exit_code == 0, result.output
    return result


def mark_finished(experiments, commands=None):
    """Write every planned command's outputs and its stamp, as a finished run leaves them."""
    plan = build_plan(experiments, commands, check_inputs=False)
    for pc in plan.commands:
        for uri in pc.config.outputs():
            file_utils.write_text(uri, "{}")
        write_stamp(pc.config)
    return plan


def test_two_experiments_sharing_a_chip_key_list_chip_once(fake_backend, rv_cli, experiment_file, root_uri):
    plan = parse_plan(dry_run(rv_cli, experiment_file, root_uri).stdout)
    names = [c["name"] for c in plan]

    chips = [c for c in plan if c["command"] == "CHIP"]
    assert len(chips) == 1
    assert chips[0]["key"] == "landcover-chips"
    assert chips[0]["experiments"] == ["short", "long"]
    # Everything else is per experiment: two of each.
    for command in ("ANALYZE", "TRAIN", "PREDICT", "EVAL", "BUNDLE"):
        assert sorted(c["key"] for c in plan if c["command"] == command) == ["long", "short"], names
    assert len(plan) == 11

    cmds = by_name(plan)
    # The stats transformer is not used, so CHIP reads only the imagery and labels: no dependency.
    assert cmds["CHIP landcover-chips"]["depends_on"] == []
    assert cmds["TRAIN short"]["depends_on"] == ["CHIP landcover-chips"]
    assert cmds["TRAIN long"]["depends_on"] == ["CHIP landcover-chips"]
    assert cmds["PREDICT long"]["depends_on"] == ["TRAIN long"]
    assert cmds["EVAL short"]["depends_on"] == ["PREDICT short"]
    assert cmds["BUNDLE short"]["depends_on"] == ["TRAIN short"]
    # Topological order: every dependency is listed before its dependent.
    position = {c["name"]: c["index"] for c in plan}
    for c in plan:
        assert all(position[d] < c["index"] for d in c["depends_on"]), c
    assert not any(c["skipped"] for c in plan)


def test_dry_run_writes_nothing(fake_backend, rv_cli, experiment_file, root_uri):
    dry_run(rv_cli, experiment_file, root_uri)
    assert not Path(root_uri).exists()


def test_finished_chip_is_skipped_then_replanned_after_a_config_change(
    fake_backend, rv_cli, experiment_file, root_uri
):
    experiments = load_experiments(path=str(experiment_file), args={"root_uri": root_uri})
    mark_finished(experiments, ["ANALYZE", "CHIP"])

    plan = by_name(parse_plan(dry_run(rv_cli, experiment_file, root_uri).stdout))
    assert plan["CHIP landcover-chips"]["skipped"] == "outputs exist from an identical config"
    assert plan["ANALYZE short"]["skipped"] and plan["ANALYZE long"]["skipped"]
    for name in ("TRAIN short", "TRAIN long", "PREDICT short", "EVAL long", "BUNDLE short"):
        assert plan[name]["skipped"] is None, name
    # A skipped command still appears, and its dependents still name it.
    assert plan["TRAIN short"]["depends_on"] == ["CHIP landcover-chips"]

    # -v says why a command runs.
    verbose = dry_run(rv_cli, experiment_file, root_uri, "-v").stdout
    assert "runs because: no output yet" in verbose

    # Changing the chip size changes CHIP's config: it is planned again.
    changed = dry_run(rv_cli, experiment_file, root_uri, "-a", "chip_size", "96", "-v")
    plan = by_name(parse_plan(changed.stdout))
    assert plan["CHIP landcover-chips"]["skipped"] is None
    assert "runs because: config changed since its outputs were written" in changed.stdout
    # ANALYZE does not depend on the chip size: still skipped.
    assert plan["ANALYZE short"]["skipped"] and plan["ANALYZE long"]["skipped"]


def test_changed_chip_size_replans_everything_downstream(fake_backend, rv_cli, experiment_file, root_uri):
    experiments = load_experiments(path=str(experiment_file), args={"root_uri": root_uri})
    mark_finished(experiments)

    plan = parse_plan(dry_run(rv_cli, experiment_file, root_uri).stdout)
    assert len(plan) == 11 and all(c["skipped"] for c in plan)

    plan = by_name(parse_plan(dry_run(rv_cli, experiment_file, root_uri, "-a", "chip_size", "96").stdout))
    rerun = sorted(name for name, c in plan.items() if not c["skipped"])
    assert rerun == [
        "BUNDLE long", "BUNDLE short", "CHIP landcover-chips", "EVAL long", "EVAL short",
        "PREDICT long", "PREDICT short", "TRAIN long", "TRAIN short",
    ]  # fmt: skip
    assert plan["ANALYZE short"]["skipped"] and plan["ANALYZE long"]["skipped"]


def test_rerun_brings_finished_commands_back(fake_backend, rv_cli, experiment_file, root_uri):
    experiments = load_experiments(path=str(experiment_file), args={"root_uri": root_uri})
    mark_finished(experiments)

    plan = parse_plan(dry_run(rv_cli, experiment_file, root_uri, "-r").stdout)
    assert len(plan) == 11
    assert not any(c["skipped"] for c in plan)


def test_a_missing_output_reruns_its_command_even_with_a_stamp(fake_backend, experiment_file, root_uri):
    experiments = load_experiments(path=str(experiment_file), args={"root_uri": root_uri})
    finished = mark_finished(experiments)
    chip = next(pc.config for pc in finished.commands if pc.config.command_type == "CHIP")
    Path(chip.outputs()[0]).unlink()  # an interrupted rerun, or a user cleaning up

    plan = {pc.name: pc for pc in build_plan(experiments).commands}
    assert plan["CHIP landcover-chips"].status == "run"
    assert plan["CHIP landcover-chips"].reason == "an output is missing"
    assert plan["TRAIN long"].reason == "upstream CHIP landcover-chips runs"
    assert plan["ANALYZE long"].status == SKIP


def test_a_run_stopped_after_an_upstream_command_reran_does_not_keep_stale_downstream_outputs(
    fake_backend, experiment_file, root_uri
):
    experiments = load_experiments(path=str(experiment_file), args={"root_uri": root_uri})
    finished = mark_finished(experiments)
    assert all(pc.status == SKIP for pc in build_plan(experiments).commands)
    # A later run remade the chips (say, after a scene was added to the training set) and was
    # killed before TRAIN ran: TRAIN's config is unchanged, but its model comes from the old chips.
    chip = next(pc.config for pc in finished.commands if pc.config.command_type == "CHIP")
    write_stamp(chip)

    plan = {pc.name: pc for pc in build_plan(experiments).commands}
    assert plan["CHIP landcover-chips"].status == SKIP
    assert plan["TRAIN long"].status == "run"
    assert plan["TRAIN long"].reason == "upstream CHIP landcover-chips finished after its outputs were written"
    assert plan["PREDICT long"].reason == "upstream TRAIN long runs"
    assert plan["ANALYZE long"].status == SKIP


def test_stamp_records_the_config_hash_and_outputs(fake_backend, experiment_file, root_uri):
    experiments = load_experiments(path=str(experiment_file), args={"root_uri": root_uri})
    chip = next(pc.config for pc in build_plan(experiments, ["CHIP"]).commands)
    write_stamp(chip)
    stamp = json.loads(Path(chip.stamp_uri).read_text())
    assert isinstance(stamp.pop("finished_at"), float)
    assert stamp == {
        "command": "CHIP",
        "key": "landcover-chips",
        "hash": chip.config_hash(),
        "outputs": [f"{root_uri}/chip/landcover-chips/chips.json"],
    }
    # The experiment that produced a shared command is not part of its identity.
    other = next(pc.config for pc in build_plan(experiments[1:], ["CHIP"]).commands)
    assert other.experiment_id != chip.experiment_id
    assert other.config_hash() == chip.config_hash()


def test_verbose_levels_show_key_fields_then_full_json(fake_backend, rv_cli, experiment_file, root_uri):
    plain = dry_run(rv_cli, experiment_file, root_uri).stdout
    assert "inputs:" not in plain

    one = dry_run(rv_cli, experiment_file, root_uri, "-v").stdout
    chip_block = one.split("CHIP landcover-chips", 1)[1].split("\n2: ", 1)[0]
    assert f"     - {root_uri}/chip/landcover-chips/chips.json" in chip_block
    assert "s2_aberystwyth_tile4_labels.tif" in chip_block
    assert '"type": "SEMANTIC_SEGMENTATION"' not in one

    # -vv on the root command, or on `run`: the full JSON of each command.
    for argv in (("-vv", "run", "local"), ("run", "local", "-vv")):
        result = rv_cli(*argv, str(experiment_file), "-n", "-a", "root_uri", root_uri)
        assert result.exit_code == 0, result.output
        assert '"type": "SEMANTIC_SEGMENTATION"' in result.stdout
        assert '"type": "FAKE_BACKEND"' in result.stdout
        assert '"epochs": 5' in result.stdout


def test_commands_can_be_chosen_on_the_command_line(fake_backend, rv_cli, experiment_file, root_uri):
    result = dry_run(rv_cli, experiment_file, root_uri, "chip", "TRAIN")
    plan = parse_plan(result.stdout)
    assert [c["name"] for c in plan] == ["CHIP landcover-chips", "TRAIN short", "TRAIN long"]

    bad = rv_cli("run", "local", str(experiment_file), "-n", "-a", "root_uri", root_uri, "TRAINN")
    assert bad.exit_code == 1
    assert "'TRAINN' is neither a command" in bad.stderr


def test_shared_key_with_different_configs_is_an_error(fake_backend, experiment_file, root_uri):
    experiments = load_experiments(path=str(experiment_file), args={"root_uri": root_uri})
    short, long_ = experiments
    bigger_chips = long_.evolve(task=long_.task.evolve(chip_size=128))
    with pytest.raises(ConfigError) as e:
        build_plan([short, bigger_chips])
    msg = str(e.value)
    assert "share the CHIP key 'landcover-chips' but configure it differently" in msg
    assert "short" in msg and "long" in msg
    assert "with_chip_key(...)" in msg


def test_missing_input_is_an_error_unless_x(fake_backend, rv_cli, experiment_file, root_uri, tmp_path):
    missing = str(tmp_path / "no-such-scene.tif")
    result = rv_cli("run", "local", str(experiment_file), "-n", "-a", "root_uri", root_uri, "-a", "image", missing)
    assert result.exit_code == 1
    err = result.stderr
    assert "Ensuring input files exist" in err
    assert missing in err
    assert "read by ANALYZE short" in err and "CHIP landcover-chips" in err
    assert "pass -x to skip this check" in err
    assert result.stdout == ""  # nothing planned, nothing printed

    skipped = rv_cli("run", "local", str(experiment_file), "-n", "-x", "-a", "root_uri", root_uri, "-a", "image", missing)
    assert skipped.exit_code == 0, skipped.output
    assert len(parse_plan(skipped.stdout)) == 11


def test_a_cycle_is_an_error_before_anything_runs(fake_backend, rv_cli, tmp_path, root_uri):
    # Each experiment trains on the other's predictions: A's CHIP reads B's PREDICT output and back.
    path = tmp_path / "cycle.py"
    path.write_text(
        "import rv\n"
        f"LABELS = {str(Path(__file__).resolve().parents[3] / 'examples/data/landcover/s2_aberystwyth_tile4_labels.tif')!r}\n"
        "class Cycle(rv.ExperimentSet):\n"
        "    def one(self, exp_id, other, root_uri):\n"
        "        task = rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION).with_classes(['a', 'b']).build()\n"
        "        scene = (rv.SceneConfig.builder().with_task(task)\n"
        "                 .with_raster_source(f'{root_uri}/predict/{other}/valid.tif').with_label_source(LABELS))\n"
        "        dataset = (rv.DatasetConfig.builder().with_train_scene(scene.with_id('train'))\n"
        "                   .with_validation_scene(scene.with_id('valid')))\n"
        "        return (rv.ExperimentConfig.builder().with_id(exp_id).with_task(task).with_dataset(dataset)\n"
        "                .with_backend(rv.BackendConfig.builder('FAKE_BACKEND')).with_root_uri(root_uri).build())\n"
        "    def exp_both(self, root_uri):\n"
        "        return [self.one('a', 'b', root_uri), self.one('b', 'a', root_uri)]\n"
    )
    result = rv_cli("run", "local", str(path), "-n", "-x", "-a", "root_uri", root_uri)
    assert result.exit_code == 1
    assert "The commands form a cycle" in result.stderr
    for name in ("CHIP a", "TRAIN a", "PREDICT a", "CHIP b", "TRAIN b", "PREDICT b"):
        assert name in result.stderr
    assert result.stdout == ""
    assert not Path(root_uri).exists()


def test_unknown_runner_names_the_known_ones(fake_backend, rv_cli, experiment_file, root_uri):
    result = rv_cli("run", "locla", str(experiment_file), "-n", "-a", "root_uri", root_uri)
    assert result.exit_code == 1
    assert "Unknown runner key 'locla'" in result.stderr
    assert "Did you mean 'local'?" in result.stderr
    known = re.search(r"Known runner keys: ([^.]*)\.", result.stderr).group(1).split(", ")
    assert "local" in known  # and whatever runners other installed plugins add


def test_missing_experiment_argument_lists_what_is_needed(fake_backend, rv_cli, experiment_file):
    result = rv_cli("run", "local", str(experiment_file), "-n")
    assert result.exit_code == 1
    assert "LandCover.exp_two_trainings" in result.stderr
    assert "needs argument(s) root_uri" in result.stderr
    assert "-a root_uri VALUE" in result.stderr


def test_the_hash_of_a_built_command_equals_that_of_its_reload_from_json(fake_backend, experiment_file, root_uri):
    """A float field given an int in Python (``sample_prob=1``) reloads from command-config.json
    as ``1.0``; both must hash alike, or every second run would redo the command."""
    import attrs

    from rv.analyzer.stats_analyzer_config import StatsAnalyzerConfig
    from rv.serialization import config_from_json, config_to_json

    experiments = load_experiments(path=str(experiment_file), args={"root_uri": root_uri})
    chip = next(pc.config for pc in build_plan(experiments, ["CHIP"]).commands)
    analyze = attrs.evolve(next(pc.config for pc in build_plan(experiments, ["ANALYZE"]).commands),
                           analyzers=[StatsAnalyzerConfig(sample_prob=1)])
    assert type(analyze.analyzers[0].sample_prob) is int  # as a user's experiment may give it
    for command in (chip, analyze):
        reloaded = config_from_json(config_to_json(command))
        assert command.config_hash() == reloaded.config_hash()
    assert type(reloaded.analyzers[0].sample_prob) is float


def test_a_dry_run_runs_the_input_check_and_names_the_bad_scene(fake_backend, rv_cli, experiment_file, root_uri,
                                                                tmp_path):
    not_a_raster = tmp_path / "scene.tif"
    not_a_raster.write_text("this is not a GeoTIFF")
    result = rv_cli("run", "local", str(experiment_file), "-n", "-a", "root_uri", root_uri,
                    "-a", "image", str(not_a_raster))
    assert result.exit_code != 0
    assert "Input check failed for scene 'tile4-train' of CHIP landcover-chips" in result.output
    assert str(not_a_raster) in result.output and "Traceback" not in result.output
    # -x skips the check: the plan is printed.
    skipped = rv_cli("run", "local", str(experiment_file), "-n", "-x", "-a", "root_uri", root_uri,
                     "-a", "image", str(not_a_raster))
    assert skipped.exit_code == 0, skipped.output
