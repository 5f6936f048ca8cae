"""Missing credentials, a missing bucket and access denied: ``rv run`` stops with a clear error first.

For both runners, through the ``rv`` command: the exit code is not 0, the
error is one paragraph naming the problem and the fix, no command started,
no job was submitted, and nothing but rv's write probe (removed again) was
put in the bucket.
"""

from __future__ import annotations

import uuid

import pytest


def _args(root, image, labels):
    return ["-a", "root_uri", root, "-a", "image_uri", image, "-a", "labels_uri", labels]


def _read_only_policy(bucket):
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }


def _error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("rv: error: ")]
    assert len(lines) == 1, stderr
    return lines[0].removeprefix("rv: error: ")


def _assert_nothing_ran(result, recording, moto_server, bucket):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    for started in ("starting", "rv: running", "rv: submitted"):
        assert started not in result.stderr + result.stdout
    assert recording.batch_calls("submitjob") == []
    assert moto_server.keys(bucket) == [
        "scenes/s2_aberystwyth_tile4.tif",
        "scenes/s2_aberystwyth_tile4_labels.tif",
    ]


@pytest.mark.parametrize("runner", ["local", "aws_batch"])
def test_missing_credentials(runner, moto_server, aws_batch_environment, scene_on_s3, experiment_file, run_rv):
    bucket, image_uri, labels_uri = scene_on_s3
    with moto_server.recording() as recording:
        result = run_rv(
            "run",
            runner,
            experiment_file,
            *_args(f"s3://{bucket}/out", image_uri, labels_uri),
            env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""},
        )
    _assert_nothing_ran(result, recording, moto_server, bucket)
    message = _error_line(result.stderr)
    assert message.startswith(f"No AWS credentials were found, so rv cannot use s3://{bucket}/")
    for hint in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "aws configure", "job role"):
        assert hint in message


@pytest.mark.parametrize("runner", ["local", "aws_batch"])
def test_missing_bucket(runner, moto_server, aws_batch_environment, scene_on_s3, experiment_file, run_rv):
    bucket, image_uri, labels_uri = scene_on_s3
    missing = f"rv-missing-{uuid.uuid4().hex[:8]}"
    with moto_server.recording() as recording:
        result = run_rv("run", runner, experiment_file, *_args(f"s3://{missing}/out", image_uri, labels_uri))
    _assert_nothing_ran(result, recording, moto_server, bucket)
    message = _error_line(result.stderr)
    assert message.startswith(f"The S3 bucket '{missing}' (from s3://{missing}/out")
    assert f"does not exist at the endpoint {moto_server.endpoint_url}" in message
    assert f"aws s3 mb s3://{missing} --region us-east-1" in message


@pytest.mark.parametrize("runner", ["local", "aws_batch"])
def test_access_denied(runner, moto_server, aws_batch_environment, scene_on_s3, experiment_file, run_rv):
    bucket, image_uri, labels_uri = scene_on_s3
    user = f"reader-{uuid.uuid4().hex[:8]}"
    key, secret = moto_server.create_iam_user(user, _read_only_policy(bucket))
    with moto_server.recording() as recording, moto_server.iam_enforced():
        result = run_rv(
            "run",
            runner,
            experiment_file,
            *_args(f"s3://{bucket}/out", image_uri, labels_uri),
            env={"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret},
        )
    _assert_nothing_ran(result, recording, moto_server, bucket)
    message = _error_line(result.stderr)
    assert f"s3://{bucket}/out" in message
    assert f"was denied for arn:aws:iam::123456789012:user/{user}" in message
    assert f"s3:PutObject on arn:aws:s3:::{bucket}/out" in message
