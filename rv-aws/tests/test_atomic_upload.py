"""An interrupted write to S3 leaves no object that looks like finished output."""

import json

import pytest
import s3fs

from rv_aws.s3 import S3Settings
from rv_aws.s3_file_system import s3_file_system

MIB = 2**20


class Interrupted(Exception):
    """Stands for whatever stops a command half way (an error, Ctrl-C, a timeout)."""


def _multipart_uploads(moto_server, bucket):
    return moto_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def test_plain_s3fs_publishes_a_truncated_object(s3_bucket):
    """Why rv needs its own file system: fsspec closes, and so uploads, on an exception."""
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **S3Settings.from_environment().s3fs_options())
    uri = f"s3://{s3_bucket}/eval.json"
    with pytest.raises(Interrupted):
        with fs.open(uri, "wb") as f:
            f.write(b'{"overall": ')
            raise Interrupted
    assert fs.cat(uri) == b'{"overall": '


def test_complete_write_publishes_the_object(s3_bucket):
    fs = s3_file_system()
    uri = f"s3://{s3_bucket}/eval/eval.json"
    with fs.open(uri, "w") as f:
        json.dump({"overall": {"f1": 0.81}}, f)
    assert json.loads(fs.cat(uri)) == {"overall": {"f1": 0.81}}


@pytest.mark.parametrize("mode", ["wb", "w"])
def test_interrupted_small_write_leaves_no_object(s3_bucket, mode):
    fs = s3_file_system()
    uri = f"s3://{s3_bucket}/eval/eval.json"
    data = '{"overall": ' if mode == "w" else b'{"overall": '
    with pytest.raises(Interrupted):
        with fs.open(uri, mode) as f:
            f.write(data)
            raise Interrupted
    assert not fs.exists(uri)
    assert fs.find(f"s3://{s3_bucket}") == []


def test_interrupted_multipart_write_leaves_no_object_and_no_upload(s3_bucket, moto_server):
    """Past one block, parts are on S3 already: the upload is aborted, not completed."""
    fs = s3_file_system()
    uri = f"s3://{s3_bucket}/train/model.pth"
    with pytest.raises(Interrupted):
        with fs.open(uri, "wb", block_size=5 * MIB) as f:
            f.write(b"\x01" * (6 * MIB))  # over one block: a part is uploaded
            assert len(f.parts) == 1
            assert _multipart_uploads(moto_server, s3_bucket)  # in flight, invisible
            assert not fs.exists(uri)
            raise Interrupted
    assert not fs.exists(uri)
    assert _multipart_uploads(moto_server, s3_bucket) == []


def test_complete_multipart_write_publishes_every_byte(s3_bucket, moto_server):
    fs = s3_file_system()
    uri = f"s3://{s3_bucket}/train/model.pth"
    payload = bytes(range(256)) * (6 * MIB // 256) + b"tail"
    with fs.open(uri, "wb", block_size=5 * MIB) as f:
        f.write(payload)
    assert fs.size(uri) == len(payload)
    assert fs.cat(uri) == payload
    assert _multipart_uploads(moto_server, s3_bucket) == []


def test_interrupted_overwrite_keeps_the_previous_object(s3_bucket):
    fs = s3_file_system()
    uri = f"s3://{s3_bucket}/stats.json"
    fs.pipe_file(uri, b'{"means": [1, 2, 3]}')
    with pytest.raises(Interrupted):
        with fs.open(uri, "wb") as f:
            f.write(b'{"means": [')
            raise Interrupted
    assert fs.cat(uri) == b'{"means": [1, 2, 3]}'


def test_interrupted_file_inside_a_transaction_does_not_spoil_the_others(s3_bucket):
    fs = s3_file_system()
    root = f"s3://{s3_bucket}/predict"
    with fs.transaction:
        with fs.open(f"{root}/scene-a.json", "wb") as f:
            f.write(b"[]")
        with pytest.raises(Interrupted):
            with fs.open(f"{root}/scene-b.json", "wb") as f:
                f.write(b"[")
                raise Interrupted
        assert not fs.exists(f"{root}/scene-a.json")  # deferred until the transaction ends
    assert fs.cat(f"{root}/scene-a.json") == b"[]"
    assert not fs.exists(f"{root}/scene-b.json")


def test_directory_output_is_unfinished_until_its_manifest_is_written(s3_bucket):
    """The convention for many-file output: the manifest is written last."""
    fs = s3_file_system()
    root = f"s3://{s3_bucket}/chip"
    with pytest.raises(Interrupted):
        for n in range(3):
            with fs.open(f"{root}/train/scene-{n}.npz", "wb") as f:
                f.write(b"chip")
                if n == 2:
                    raise Interrupted
        with fs.open(f"{root}/chips.json", "w") as f:  # never reached
            json.dump({"counts": {"train": 3}}, f)
    assert sorted(fs.find(root)) == [f"{s3_bucket}/chip/train/scene-0.npz", f"{s3_bucket}/chip/train/scene-1.npz"]
    assert not fs.exists(f"{root}/chips.json")
