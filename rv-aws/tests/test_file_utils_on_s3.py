"""rv's file utilities on s3:// with rv-aws found through its entry point."""

import json
import uuid

import pytest
import rasterio

from rv import file_utils
from rv.errors import FileSystemError
from rv.plugins import make_plugin_manager, set_plugin_manager
from rv_aws.s3 import S3AccessDeniedError
from rv_aws.s3_file_system import RvS3FileSystem

TREES_TIF = "trees/neon_osbs_029.tif"


@pytest.fixture
def discovered_plugins():
    """A plugin manager that found rv_aws through its entry point, as ``rv`` does."""
    pm = make_plugin_manager(load_only=["rv_aws"], legacy=False)
    set_plugin_manager(pm)
    yield pm
    set_plugin_manager(None)


def test_write_read_list_through_file_utils(discovered_plugins, s3_bucket):
    root = f"s3://{s3_bucket}/experiment"
    assert isinstance(file_utils._file_system_for(root, "w"), RvS3FileSystem)

    file_utils.write_text(f"{root}/analyze/stats.json", json.dumps({"means": [12.5, 40.1, 33.0]}))
    with file_utils.open_file(f"{root}/eval/eval.json", "w") as f:
        json.dump({"overall": {"f1": 0.5}}, f)

    assert file_utils.exists(f"{root}/analyze/stats.json")
    assert not file_utils.exists(f"{root}/train/model.pth")
    assert json.loads(file_utils.read_text(f"{root}/analyze/stats.json")) == {"means": [12.5, 40.1, 33.0]}
    assert file_utils.list_paths(root, ext="json", recursive=True) == [
        f"{root}/analyze/stats.json",
        f"{root}/eval/eval.json",
    ]


def test_interrupted_open_file_write_leaves_no_object(discovered_plugins, s3_bucket):
    uri = f"s3://{s3_bucket}/eval/eval.json"
    with pytest.raises(KeyboardInterrupt):
        with file_utils.open_file(uri, "w") as f:
            f.write('{"overall": ')
            raise KeyboardInterrupt
    assert not file_utils.exists(uri)


def test_upload_then_download_a_geotiff(discovered_plugins, s3_bucket, data_dir, tmp_path):
    uri = f"s3://{s3_bucket}/imagery/neon_osbs_029.tif"
    file_utils.upload(data_dir / TREES_TIF, uri)
    local = file_utils.download_if_needed(uri, tmp_path)
    with rasterio.open(local) as src, rasterio.open(data_dir / TREES_TIF) as original:
        assert (src.width, src.height, src.crs) == (400, 400, original.crs)
        assert (src.read(1) == original.read(1)).all()


# -- what a person must fix, explained ------------------------------------------


def test_a_missing_key_is_still_a_missing_file(discovered_plugins, s3_bucket):
    uri = f"s3://{s3_bucket}/analyze/stats.json"
    assert not file_utils.exists(uri)
    with pytest.raises(FileNotFoundError, match="it does not exist"):
        file_utils.read_text(uri)


def test_a_missing_bucket_is_named_with_the_fix(discovered_plugins, moto_server):
    uri = "s3://rv-no-such-bucket-7/out/experiments/exp.json"
    with pytest.raises(FileSystemError) as info:
        file_utils.write_text(uri, "{}")
    assert str(info.value) == (
        f"The S3 bucket 'rv-no-such-bucket-7' (from {uri}) does not exist at the endpoint "
        f"{moto_server.endpoint_url}. Create it with `aws s3 mb s3://rv-no-such-bucket-7 --region us-east-1`, "
        "or fix the bucket name in the URI (bucket names are global and case-sensitive)."
    )
    with pytest.raises(FileSystemError, match="bucket 'rv-no-such-bucket-7'"):
        file_utils.exists("s3://rv-no-such-bucket-7/scenes/a.tif")


def test_missing_credentials_are_named_with_the_fix(discovered_plugins, s3_bucket, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    uri = f"s3://{s3_bucket}/scenes/a.tif"
    with pytest.raises(FileSystemError) as info:
        file_utils.exists(uri)
    assert str(info.value).startswith(f"No AWS credentials were found, so rv cannot use {uri}.")
    assert not isinstance(info.value, FileNotFoundError)


def test_access_denied_names_the_iam_action(discovered_plugins, s3_bucket, moto_server, monkeypatch):
    read_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{s3_bucket}", f"arn:aws:s3:::{s3_bucket}/*"],
            }
        ],
    }
    key, secret = moto_server.create_iam_user(f"reader-{uuid.uuid4().hex[:8]}", read_only)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    uri = f"s3://{s3_bucket}/out/eval/eval.json"
    with moto_server.iam_enforced():
        assert not file_utils.exists(uri)  # reading is allowed
        with pytest.raises(S3AccessDeniedError) as info:
            file_utils.write_text(uri, "{}")
    message = str(info.value)
    assert message.startswith(f"Access to {uri} was denied for arn:aws:iam::123456789012:user/reader-")
    assert (
        f"(put_object): rv needs the IAM action s3:PutObject on arn:aws:s3:::{s3_bucket}/out/eval/eval.json" in message
    )
    assert isinstance(info.value, PermissionError)
    assert not file_utils.exists(uri)


def test_create_exclusive_is_a_conditional_put_on_s3(discovered_plugins, s3_bucket):
    """Locks on S3: of two creations of one key, the second sees the first (If-None-Match: *)."""
    uri = f"s3://{s3_bucket}/experiment/chip/a/command-lock.json"
    assert file_utils.create_exclusive(uri, "first")
    assert not file_utils.create_exclusive(uri, "second")
    assert file_utils.read_text(uri) == "first"
    file_utils.delete(uri)
    assert file_utils.create_exclusive(uri, "third")
