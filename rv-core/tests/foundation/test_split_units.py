"""How ``--splits`` shares the work out, and how an array task finds its part (rv.command.split)."""

from __future__ import annotations

import pytest

from rv.command.split import array_spec, chip_units, resolve_array_uri, share, whole_command_uri
from rv.errors import ConfigError


def test_parts_are_contiguous_and_cover_everything_once():
    for count in (0, 1, 5, 16):
        for parts in (1, 2, 3, 7):
            shares = [list(share(count, p, parts)) for p in range(parts)]
            assert sum(shares, []) == list(range(count))
            assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_chip_parts_take_whole_scenes_or_cut_each_scene_into_shards():
    assert chip_units(5, 2) == [[(0, 0, 1), (1, 0, 1)], [(2, 0, 1), (3, 0, 1), (4, 0, 1)]]
    # One scene, three parts: its windows in three shards, one per part.
    assert chip_units(1, 3) == [[(0, 0, 3)], [(0, 1, 3)], [(0, 2, 3)]]
    # Two scenes, three parts: each scene in two halves, every part has work.
    assert chip_units(2, 3) == [[(0, 0, 2)], [(0, 1, 2)], [(1, 0, 2), (1, 1, 2)]]


def test_an_array_task_reads_its_index_from_the_scheduler():
    uri = "s3://b/out/chip/x/splits/{index}/command-config.json"
    env = {"SLURM_ARRAY_TASK_ID": "2"}
    assert (
        resolve_array_uri(uri, "SLURM_ARRAY_TASK_ID", environ=env) == "s3://b/out/chip/x/splits/2/command-config.json"
    )
    # AWS Batch numbers the children 0..n-1: --array-parts maps them to the parts left to run.
    env = {"AWS_BATCH_JOB_ARRAY_INDEX": "1"}
    assert resolve_array_uri(uri, "AWS_BATCH_JOB_ARRAY_INDEX", "0,2", environ=env).endswith(
        "/splits/2/command-config.json"
    )
    assert whole_command_uri("s3://b/out/chip/x/splits/2") == "s3://b/out/chip/x"


def test_an_array_task_without_its_index_says_how_to_run_it():
    uri = "/out/chip/x/splits/{index}/command-config.json"
    with pytest.raises(ConfigError, match=r"SLURM_ARRAY_TASK_ID is unset.*set SLURM_ARRAY_TASK_ID=<part>"):
        resolve_array_uri(uri, "SLURM_ARRAY_TASK_ID", environ={})
    with pytest.raises(ConfigError, match=r"has no \{index\}"):
        resolve_array_uri(
            "/out/chip/x/command-config.json", "SLURM_ARRAY_TASK_ID", environ={"SLURM_ARRAY_TASK_ID": "0"}
        )


def test_slurm_array_values():
    assert array_spec([0, 1, 2, 3]) == "0-3"
    assert array_spec([1, 3]) == "1,3"
