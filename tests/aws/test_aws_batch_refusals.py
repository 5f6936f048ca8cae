"""What ``rv run aws_batch`` refuses before it writes a command config or submits a job.

A local root (jobs cannot read this machine's disk), missing ``[AWS_BATCH]``
settings, a legacy plugin file on this machine: each is one clear error,
and nothing is submitted.
"""

from __future__ import annotations


def _args(root, image, labels):
    return ["-a", "root_uri", root, "-a", "image_uri", image, "-a", "labels_uri", labels]


def test_a_local_root_is_refused(aws_batch_environment, scene_on_s3, experiment_file, run_rv, tmp_path, moto_server):
    bucket, image_uri, labels_uri = scene_on_s3
    with moto_server.recording() as recording:
        result = run_rv("run", "aws_batch", experiment_file, "analyze", *_args(tmp_path / "out", image_uri, labels_uri))
    assert result.returncode != 0
    assert "The aws_batch runner cannot run commands whose configs are on this machine" in result.stderr
    assert "Use an s3:// root_uri" in result.stderr
    assert recording.batch_calls("submitjob") == []
    assert not (tmp_path / "out" / "analyze").exists()


def test_missing_settings_are_named(moto_server, scene_on_s3, experiment_file, run_rv):
    bucket, image_uri, labels_uri = scene_on_s3
    result = run_rv("run", "aws_batch", experiment_file, "analyze", *_args(f"s3://{bucket}/out", image_uri, labels_uri))
    assert result.returncode != 0
    message = result.stderr
    assert "The aws_batch runner needs the [AWS_BATCH] option(s) job_queue" in message
    assert "AWS_BATCH_JOB_QUEUE=... AWS_BATCH_JOB_DEFINITION=..." in message
    # No command config was written (rv run writes the experiment's own config before the runner starts).
    assert moto_server.keys(bucket, "out/") in ([], ["out/experiments/landcover.json"])


def test_a_local_legacy_plugin_file_is_refused(
    moto_server, aws_batch_environment, scene_on_s3, experiment_file, run_rv, legacy_plugin_file
):
    bucket, image_uri, labels_uri = scene_on_s3
    with moto_server.recording() as recording:
        result = run_rv(
            "run",
            "aws_batch",
            experiment_file,
            "analyze",
            *_args(f"s3://{bucket}/out", image_uri, labels_uri),
            env={"PLUGINS_FILES": str(legacy_plugin_file)},
        )
    assert result.returncode != 0
    assert f"The legacy plugin file(s) {legacy_plugin_file} (from [PLUGINS] files / PLUGINS_FILES)" in result.stderr
    assert f"aws s3 cp {legacy_plugin_file} s3://" in result.stderr
    assert recording.batch_calls("submitjob") == []
    assert moto_server.keys(bucket, "out/") in ([], ["out/experiments/landcover.json"])
