"""check_s3_access: the problems a user meets before a run, each with its fix."""

import uuid

import pytest

from rv.errors import FileSystemError
from rv_aws.s3 import WRITE_CHECK_PREFIX, check_s3_access
from rv_aws.s3_file_system import s3_file_system


def _policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(actions, *resources):
    return {"Effect": "Allow", "Action": actions, "Resource": list(resources)}


@pytest.fixture
def bucket_with_scene(s3_bucket):
    s3_file_system().pipe_file(f"s3://{s3_bucket}/imagery/scene.tif", b"II*\x00")
    return s3_bucket


@pytest.fixture
def use_user(moto_server, monkeypatch):
    """Make an IAM user with a policy and switch the environment to its keys."""

    def make(policy=None):
        key_id, secret = moto_server.create_iam_user(f"rv-user-{uuid.uuid4().hex[:8]}", policy)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)

    return make


def test_allowed_read_and_write_pass_and_leave_nothing_behind(bucket_with_scene):
    bucket = bucket_with_scene
    check_s3_access(
        [f"s3://{bucket}/imagery/scene.tif", f"s3://{bucket}/imagery/", f"s3://{bucket}/labels/missing.geojson"], "r"
    )
    check_s3_access([f"s3://{bucket}/experiments/out"], "w")
    assert s3_file_system().find(f"s3://{bucket}") == [f"{bucket}/imagery/scene.tif"]


def test_other_uris_are_ignored():
    # No moto server and no credentials needed: nothing is asked of S3.
    check_s3_access(["/data/scene.tif", "https://example.com/a.tif", "memory://x"], "w")


def test_missing_credentials(bucket_with_scene, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    uri = f"s3://{bucket_with_scene}/imagery/scene.tif"
    with pytest.raises(FileSystemError) as info:
        check_s3_access([uri], "r")
    message = str(info.value)
    assert message.startswith(f"No AWS credentials were found, so rv cannot use {uri}.")
    for hint in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "aws configure", "job role"):
        assert hint in message
    assert "\n" not in message  # one paragraph


def test_missing_profile(moto_server, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_PROFILE", "research")
    with pytest.raises(
        FileSystemError, match=r"AWS_PROFILE names the AWS profile 'research'.*aws configure --profile research"
    ):
        check_s3_access(["s3://any-bucket/x"], "r")


def test_missing_bucket(moto_server):
    with pytest.raises(FileSystemError) as info:
        check_s3_access(["s3://rv-no-such-bucket/experiments/out"], "w")
    message = str(info.value)
    assert message.startswith(
        "The S3 bucket 'rv-no-such-bucket' (from s3://rv-no-such-bucket/experiments/out) does not exist"
    )
    assert "aws s3 mb s3://rv-no-such-bucket --region us-east-1" in message


def test_every_problem_is_reported_once_per_bucket(bucket_with_scene):
    with pytest.raises(FileSystemError) as info:
        check_s3_access(
            [
                "s3://rv-missing-a/x.tif",
                "s3://rv-missing-a/y.tif",
                "s3://rv-missing-b/z.tif",
                f"s3://{bucket_with_scene}/imagery/scene.tif",
            ]
        )
    paragraphs = str(info.value).split("\n\n")
    assert len(paragraphs) == 2
    assert "'rv-missing-a'" in paragraphs[0] and "'rv-missing-b'" in paragraphs[1]


def test_rejected_credentials(bucket_with_scene, moto_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000")
    with moto_server.iam_enforced():
        with pytest.raises(FileSystemError) as info:
            check_s3_access([f"s3://{bucket_with_scene}/imagery/scene.tif"], "r")
    message = str(info.value)
    assert "rejected the credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY" in message
    assert "InvalidAccessKeyId" in message


def test_access_denied_to_list_the_bucket(bucket_with_scene, moto_server, use_user):
    use_user(policy=None)  # a user without any permission
    uri = f"s3://{bucket_with_scene}/imagery/scene.tif"
    with moto_server.iam_enforced():
        with pytest.raises(FileSystemError) as info:
            check_s3_access([uri], "r")
    message = str(info.value)
    assert message.startswith(f"Access to {uri} was denied for arn:aws:iam::123456789012:user/rv-user-")
    assert f"s3:ListBucket on arn:aws:s3:::{bucket_with_scene}" in message


def test_access_denied_to_read_an_object(bucket_with_scene, moto_server, use_user):
    bucket = bucket_with_scene
    use_user(_policy(_allow(["s3:ListBucket"], f"arn:aws:s3:::{bucket}")))
    uri = f"s3://{bucket}/imagery/scene.tif"
    with moto_server.iam_enforced():
        check_s3_access([f"s3://{bucket}/imagery/"], "r")  # listing is allowed
        with pytest.raises(FileSystemError) as info:
            check_s3_access([uri], "r")
    message = str(info.value)
    assert message.startswith(f"Reading {uri} was denied for arn:aws:iam::")
    assert f"s3:GetObject on arn:aws:s3:::{bucket}/imagery/scene.tif" in message


def test_access_denied_to_write(bucket_with_scene, moto_server, use_user):
    bucket = bucket_with_scene
    use_user(
        _policy(
            _allow(["s3:ListBucket"], f"arn:aws:s3:::{bucket}"),
            _allow(["s3:GetObject"], f"arn:aws:s3:::{bucket}/*"),
            _allow(["s3:PutObject", "s3:DeleteObject"], f"arn:aws:s3:::{bucket}/scratch/*"),
        )
    )
    with moto_server.iam_enforced():
        check_s3_access([f"s3://{bucket}/imagery/scene.tif"], "r")
        check_s3_access([f"s3://{bucket}/scratch/run-1"], "w")
        with pytest.raises(FileSystemError) as info:
            check_s3_access([f"s3://{bucket}/experiments/out"], "w")
    message = str(info.value)
    assert message.startswith(f"Writing to s3://{bucket}/experiments/out was denied for arn:aws:iam::")
    assert f"s3:PutObject on arn:aws:s3:::{bucket}/experiments/out/*" in message
    leftovers = [p for p in s3_file_system().find(f"s3://{bucket}") if WRITE_CHECK_PREFIX in p]
    assert leftovers == []
