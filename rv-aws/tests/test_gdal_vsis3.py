"""rasterio reads a GeoTIFF on S3 in place, through /vsis3/ and rv's GDAL options."""

import uuid

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from rv.file_systems import gdal_path
from rv_aws.s3 import gdal_env_for_s3, rasterio_env_for_s3
from rv_aws.s3_file_system import s3_file_system

TREES_TIF = "trees/neon_osbs_029.tif"


@pytest.fixture
def tif_on_s3(s3_bucket, data_dir):
    uri = f"s3://{s3_bucket}/imagery/neon_osbs_029.tif"
    s3_file_system().put_file(str(data_dir / TREES_TIF), uri)
    return uri


def test_windows_read_from_s3_equal_local_windows(tif_on_s3, data_dir):
    windows = [Window(0, 0, 64, 64), Window(150, 100, 80, 64), Window(336, 336, 64, 64)]
    with rasterio.open(data_dir / TREES_TIF) as local:
        expected = [local.read(window=w) for w in windows]
        local_profile = (local.crs, local.transform, local.width, local.height, local.count, local.nodata)

    with rasterio.Env(**gdal_env_for_s3()):
        with rasterio.open(gdal_path(tif_on_s3)) as remote:
            assert (
                remote.crs,
                remote.transform,
                remote.width,
                remote.height,
                remote.count,
                remote.nodata,
            ) == local_profile
            assert remote.crs.to_epsg() == 32617
            assert remote.nodata == 255
            for window, local_chip in zip(windows, expected):
                chip = remote.read(window=window)
                assert chip.shape == (3, window.height, window.width)
                np.testing.assert_array_equal(chip, local_chip)
            # The windows really are different parts of the image.
            assert not np.array_equal(expected[0], expected[2])


def test_without_rv_options_gdal_cannot_find_the_object(tif_on_s3):
    """The options are what points GDAL at the endpoint."""
    with rasterio.Env(
        AWS_S3_ENDPOINT="127.0.0.1:9", AWS_HTTPS="NO", AWS_VIRTUAL_HOSTING="FALSE", GDAL_HTTP_MAX_RETRY="0"
    ):
        with pytest.raises(rasterio.errors.RasterioIOError):
            rasterio.open(gdal_path(tif_on_s3))


def _profile(tmp_path, name, key_pair):
    path = tmp_path / f"credentials-{name}"
    path.write_text(f"[{name}]\naws_access_key_id = {key_pair[0]}\naws_secret_access_key = {key_pair[1]}\n")
    return path


def test_rasterio_env_signs_with_credentials_only_boto3_finds(tif_on_s3, data_dir, moto_server, monkeypatch, tmp_path):
    """Credentials in a profile file GDAL does not read (as with a Batch job role) still sign."""
    bucket = tif_on_s3.split("/")[2]
    reader = moto_server.create_iam_user(
        f"reader-{uuid.uuid4().hex[:8]}",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        },
    )
    outsider = moto_server.create_iam_user(f"outsider-{uuid.uuid4().hex[:8]}")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    window = Window(150, 100, 80, 64)
    with rasterio.open(data_dir / TREES_TIF) as local:
        expected = local.read(window=window)

    # GDAL must not answer from its cache of an earlier read: every open asks S3.
    no_cache = {"CPL_VSIL_CURL_NON_CACHED": f"/vsis3/{bucket}/"}
    with moto_server.iam_enforced():
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(_profile(tmp_path, "outsider", outsider)))
        monkeypatch.setenv("AWS_PROFILE", "outsider")
        with rasterio_env_for_s3(**no_cache):
            with pytest.raises(rasterio.errors.RasterioIOError):
                rasterio.open(gdal_path(tif_on_s3))

        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(_profile(tmp_path, "reader", reader)))
        monkeypatch.setenv("AWS_PROFILE", "reader")
        with rasterio_env_for_s3(**no_cache), rasterio.open(gdal_path(tif_on_s3)) as remote:
            np.testing.assert_array_equal(remote.read(window=window), expected)


def test_options_for_an_http_endpoint(moto_server):
    options = gdal_env_for_s3()
    host_port = moto_server.endpoint_url.removeprefix("http://")
    assert options["AWS_S3_ENDPOINT"] == host_port
    assert options["AWS_HTTPS"] == "NO"
    assert options["AWS_VIRTUAL_HOSTING"] == "FALSE"
    assert options["AWS_REGION"] == "us-east-1"
    # Credentials are never plain options (rasterio.Env refuses them).
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_NO_SIGN_REQUEST"} & set(options)


def test_options_for_an_https_endpoint(moto_server, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://minio.example.org:9000/")
    monkeypatch.setenv("AWS_CA_BUNDLE", "/etc/ssl/private-ca.pem")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    options = gdal_env_for_s3()
    assert options["AWS_S3_ENDPOINT"] == "minio.example.org:9000"
    assert options["AWS_HTTPS"] == "YES"
    assert options["CURL_CA_BUNDLE"] == "/etc/ssl/private-ca.pem"


def test_options_on_aws_itself(moto_server, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_REQUEST_PAYER", "requester")
    options = gdal_env_for_s3()
    # GDAL's defaults (AWS, HTTPS, virtual hosting) stay in force.
    assert not {"AWS_S3_ENDPOINT", "AWS_HTTPS", "AWS_VIRTUAL_HOSTING"} & set(options)
    assert options["AWS_REQUEST_PAYER"] == "requester"


def test_no_credentials_means_unsigned_requests(moto_server, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    options = gdal_env_for_s3()
    assert options["AWS_NO_SIGN_REQUEST"] == "YES"
