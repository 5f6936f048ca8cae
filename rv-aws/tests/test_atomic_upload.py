"""An interrupted write to S3 leaves no object that looks like finished output.

rv has one atomic writer for every file system, :class:`rv.file_utils.AtomicWriter`:
a local temporary file, uploaded with one ``put_file`` when the ``with`` block
ends without an exception. These tests run it against a moto S3 server.
"""

import json

import pytest
import s3fs

from rv import file_utils
from rv.plugins import make_plugin_manager, use_plugin_manager
from rv_aws.s3 import S3Settings
from rv_aws.s3_file_system import s3_file_system

MIB = 2**20


class Interrupted(Exception):
    """Stands for whatever stops a command half way (an error, Ctrl-C, a timeout)."""


@pytest.fixture(autouse=True)
def discovered_plugins():
    """rv-aws found through its entry point, as ``rv`` finds it."""
    with use_plugin_manager(make_plugin_manager(load_only=["rv_aws"], legacy=False)) as pm:
        yield pm


def _multipart_uploads(moto_server, bucket):
    return moto_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def test_plain_s3fs_publishes_a_truncated_object(s3_bucket):
    """Why rv writes through its own writer: fsspec closes, and so uploads, on an exception."""
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **S3Settings.from_environment().s3fs_options())
    uri = f"s3://{s3_bucket}/eval.json"
    with pytest.raises(Interrupted):
        with fs.open(uri, "wb") as f:
            f.write(b'{"overall": ')
            raise Interrupted
    assert fs.cat(uri) == b'{"overall": '


def test_complete_write_publishes_the_object(s3_bucket):
    uri = f"s3://{s3_bucket}/eval/eval.json"
    with file_utils.open_file(uri, "w") as f:
        json.dump({"overall": {"f1": 0.81}}, f)
    assert json.loads(s3_file_system().cat(uri)) == {"overall": {"f1": 0.81}}


@pytest.mark.parametrize("mode", ["wb", "w"])
def test_interrupted_write_leaves_no_object(s3_bucket, mode):
    uri = f"s3://{s3_bucket}/eval/eval.json"
    data = '{"overall": ' if mode == "w" else b'{"overall": '
    with pytest.raises(Interrupted):
        with file_utils.open_file(uri, mode) as f:
            f.write(data)
            raise Interrupted
    assert not file_utils.exists(uri)
    assert s3_file_system().find(f"s3://{s3_bucket}") == []


def test_large_write_is_one_multipart_upload_that_completes(s3_bucket, moto_server):
    """Past s3fs's part size the upload is multipart; nothing is in flight afterwards."""
    uri = f"s3://{s3_bucket}/train/model.pth"
    payload = bytes(range(256)) * (6 * MIB // 256) + b"tail"
    with file_utils.open_file(uri, "wb") as f:
        f.write(payload)
    assert file_utils.read_bytes(uri) == payload
    assert _multipart_uploads(moto_server, s3_bucket) == []


def test_interrupted_overwrite_keeps_the_previous_object(s3_bucket):
    uri = f"s3://{s3_bucket}/stats.json"
    file_utils.write_bytes(uri, b'{"means": [1, 2, 3]}')
    with pytest.raises(Interrupted):
        with file_utils.open_file(uri, "wb") as f:
            f.write(b'{"means": [')
            raise Interrupted
    assert file_utils.read_bytes(uri) == b'{"means": [1, 2, 3]}'


def test_directory_output_is_unfinished_until_its_manifest_is_written(s3_bucket):
    """The convention for many-file output: the manifest is written last."""
    root = f"s3://{s3_bucket}/chip"
    with pytest.raises(Interrupted):
        for n in range(3):
            with file_utils.open_file(f"{root}/train/scene-{n}.npz", "wb") as f:
                f.write(b"chip")
                if n == 2:
                    raise Interrupted
        file_utils.write_text(f"{root}/chips.json", json.dumps({"counts": {"train": 3}}))  # never reached
    assert file_utils.list_paths(root, recursive=True) == [f"{root}/train/scene-0.npz", f"{root}/train/scene-1.npz"]
    assert not file_utils.exists(f"{root}/chips.json")
