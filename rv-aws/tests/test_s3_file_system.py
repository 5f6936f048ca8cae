"""rv's S3 file system against a moto server: upload, download, exists, list, settings."""

import hashlib

import pytest

from rv_aws.s3 import S3Settings
from rv_aws.s3_file_system import RvS3FileSystem, s3_file_system

TREES_TIF = "trees/neon_osbs_029.tif"


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_upload_download_round_trip_of_a_geotiff(s3_bucket, data_dir, tmp_path):
    local = data_dir / TREES_TIF
    uri = f"s3://{s3_bucket}/scenes/neon_osbs_029.tif"
    fs = s3_file_system()

    fs.put_file(str(local), uri)
    assert fs.exists(uri)
    assert fs.size(uri) == local.stat().st_size

    copy = tmp_path / "copy.tif"
    s3_file_system().get_file(uri, str(copy))
    assert _sha256(copy) == _sha256(local)


def test_exists_and_list(s3_bucket):
    fs = s3_file_system()
    root = f"s3://{s3_bucket}/chips"
    for name in ("train/a-0.npz", "train/a-1.npz", "valid/b-0.npz", "chips.json"):
        with fs.open(f"{root}/{name}", "wb") as f:
            f.write(name.encode())

    assert fs.exists(f"{root}/chips.json")
    assert fs.exists(f"{root}/train")  # a prefix counts as a directory
    assert not fs.exists(f"{root}/test")
    assert not fs.exists(f"{root}/train/a-2.npz")
    assert sorted(fs.ls(f"{root}/train", detail=False)) == [
        f"{s3_bucket}/chips/train/a-0.npz",
        f"{s3_bucket}/chips/train/a-1.npz",
    ]
    assert len(fs.find(root)) == 4
    assert fs.cat(f"{root}/valid/b-0.npz") == b"valid/b-0.npz"


def test_listings_are_not_cached(s3_bucket, moto_server):
    """Outputs written by another process (a Batch job) show up at once."""
    fs = s3_file_system()
    prefix = f"s3://{s3_bucket}/train"
    fs.pipe_file(f"{prefix}/log.csv", b"epoch,loss\n")
    assert fs.ls(prefix, detail=False) == [f"{s3_bucket}/train/log.csv"]
    assert not fs.exists(f"{prefix}/model.pth")

    moto_server.client().put_object(Bucket=s3_bucket, Key="train/model.pth", Body=b"weights")
    assert fs.exists(f"{prefix}/model.pth")
    assert sorted(fs.ls(prefix, detail=False)) == [f"{s3_bucket}/train/log.csv", f"{s3_bucket}/train/model.pth"]


def test_file_system_follows_the_environment(moto_server, monkeypatch):
    fs = s3_file_system()
    assert isinstance(fs, RvS3FileSystem)
    assert s3_file_system() is fs  # fsspec's instance cache while settings hold
    assert fs.endpoint_url == moto_server.endpoint_url

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "other-key")
    other = s3_file_system()
    assert other is not fs
    assert other.key == "other-key"


def test_settings_from_environment():
    env = {
        "AWS_ENDPOINT_URL": "http://generic:9000",
        "AWS_ENDPOINT_URL_S3": "http://minio.local:9000",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-central-1",
        "AWS_PROFILE": "research",
    }
    settings = S3Settings.from_environment(env)
    assert settings.endpoint_url == "http://minio.local:9000"  # the S3-specific one wins
    assert settings.region == "eu-central-1"
    # No key pair in the environment: the profile supplies credentials.
    assert settings.s3fs_options() == {
        "endpoint_url": "http://minio.local:9000",
        "client_kwargs": {"region_name": "eu-central-1"},
        "profile": "research",
    }

    with_keys = S3Settings.from_environment(
        {"AWS_PROFILE": "research", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_SESSION_TOKEN": "T"}
    )
    # Keys in the environment beat the profile, as in botocore.
    assert with_keys.s3fs_options() == {"key": "AK", "secret": "SK", "token": "T"}


@pytest.mark.parametrize(
    "env",
    [{"AWS_REQUEST_PAYER": "requester"}, {"AWS_S3_REQUESTER_PAYS": "yes"}],
)
def test_requester_pays(env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("RV_CONFIG_DIR", str(tmp_path))
    settings = S3Settings.from_environment(env)
    assert settings.requester_pays
    assert settings.s3fs_options()["requester_pays"] is True


def test_requester_pays_from_the_rv_profile_file(tmp_path, monkeypatch):
    (tmp_path / "default").write_text("[AWS_S3]\nrequester_pays = true\n")
    monkeypatch.chdir(tmp_path)
    settings = S3Settings.from_environment({"RV_CONFIG_DIR": str(tmp_path)})
    assert settings.requester_pays
