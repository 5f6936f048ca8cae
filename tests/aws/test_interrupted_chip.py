"""A CHIP interrupted while it uploads its chips to S3 never leaves output that looks finished.

CHIP uploads the chips first and ``chips.json`` last; ``command-stamp.json``
follows when the command returns. Stopped half way, by an exception or by
SIGKILL, the chips uploaded so far are in the bucket but neither file is, so
the next ``rv run`` runs CHIP again.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from rv import file_utils

UPLOADS_BEFORE_STOP = 5


class Interrupted(Exception):
    """Stands for whatever stops a command half way (an error, Ctrl-C, a reclaimed instance)."""


@pytest.fixture
def chip_on_s3(scene_on_s3, experiment_file):
    """The land-cover CHIP's command config written to S3 (its ANALYZE done): ``(bucket, root, plan)``."""
    from rv.command.dag import build_plan
    from rv.command.run_command import run_command
    from rv.experiment.experiment_set import load_experiments
    from rv.runner.runner import write_command_configs

    bucket, image_uri, labels_uri = scene_on_s3
    root = f"s3://{bucket}/out"
    args = {"root_uri": root, "image_uri": image_uri, "labels_uri": labels_uri}
    experiments = load_experiments(path=str(experiment_file), args=args)
    analyze = build_plan(experiments, ["ANALYZE"])
    write_command_configs(analyze)
    run_command(analyze.commands[0].config.config_uri)
    plan = build_plan(experiments, ["CHIP"])
    write_command_configs(plan)
    return bucket, root, experiments


def _assert_unfinished(moto_server, bucket, root, experiments):
    from rv.command.dag import build_plan

    chips = [k for k in moto_server.keys(bucket, "out/chip/landcover/") if k.endswith(".npz")]
    assert len(chips) == UPLOADS_BEFORE_STOP  # stopped in the middle of the upload
    assert not file_utils.exists(f"{root}/chip/landcover/chips.json")
    assert not file_utils.exists(f"{root}/chip/landcover/command-stamp.json")
    (chip,) = build_plan(experiments, ["CHIP"]).commands
    assert (chip.status, chip.reason) == ("run", "no output yet")
    assert moto_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_an_exception_during_the_upload(chip_on_s3, moto_server, monkeypatch):
    from rv.command.run_command import run_command

    bucket, root, experiments = chip_on_s3
    real_upload = file_utils.upload
    uploads = []

    def upload(local_path, uri):
        if len(uploads) == UPLOADS_BEFORE_STOP:
            raise Interrupted
        real_upload(local_path, uri)
        uploads.append(uri)

    monkeypatch.setattr(file_utils, "upload", upload)
    with pytest.raises(Interrupted):
        run_command(f"{root}/chip/landcover/command-config.json")
    assert all(u.endswith(".npz") for u in uploads)
    _assert_unfinished(moto_server, bucket, root, experiments)

    # Run again, uninterrupted, CHIP finishes and says so.
    monkeypatch.setattr(file_utils, "upload", real_upload)
    run_command(f"{root}/chip/landcover/command-config.json")
    assert file_utils.exists(f"{root}/chip/landcover/chips.json")
    assert len([k for k in moto_server.keys(bucket, "out/chip/landcover/") if k.endswith(".npz")]) == 32


def test_sigkill_during_the_upload(chip_on_s3, moto_server):
    """The process dies outright: no exception handler, no clean-up, no ``finally`` runs."""
    bucket, root, experiments = chip_on_s3
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from rv import file_utils
        from rv.command.run_command import run_command

        real_upload = file_utils.upload
        count = [0]

        def upload(local_path, uri):
            if count[0] == {UPLOADS_BEFORE_STOP}:
                os.kill(os.getpid(), signal.SIGKILL)
            real_upload(local_path, uri)
            count[0] += 1

        file_utils.upload = upload
        run_command(sys.argv[1])
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, f"{root}/chip/landcover/command-config.json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    _assert_unfinished(moto_server, bucket, root, experiments)
