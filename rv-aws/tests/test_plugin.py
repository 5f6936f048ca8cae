"""The plugin as rv sees it: hooks, registration, and a light import."""

import subprocess
import sys

import pluggy
import pytest

from rv import hookspecs
from rv.errors import FileSystemError
from rv_aws import plugin
from rv_aws.s3_file_system import RvS3FileSystem


@pytest.fixture
def plugin_manager():
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(plugin, name="rv_aws")
    return pm


def test_file_system_for_s3_uri_is_rvs_s3_file_system(plugin_manager, moto_server):
    for mode in ("r", "w"):
        fs = plugin_manager.hook.file_system_for(uri="s3://bucket/scene.tif", mode=mode)
        assert isinstance(fs, RvS3FileSystem)
        assert fs.client_kwargs == {"region_name": "us-east-1"}


@pytest.mark.parametrize(
    "uri", ["/data/scene.tif", "file:///data/scene.tif", "https://example.com/a.tif", "memory://a"]
)
def test_file_system_for_other_uris_is_none(plugin_manager, uri):
    assert plugin_manager.hook.file_system_for(uri=uri, mode="r") is None


def test_entry_point_is_discovered_by_rv():
    from rv.plugins import make_plugin_manager

    pm = make_plugin_manager(load_only=["rv_aws"], legacy=False)
    assert pm.rv_plugins["rv_aws"].status == "ok"
    assert pm.rv_plugins["rv_aws"].distribution == "rv-aws"
    assert "file_system_for" in {caller.name for caller in pm.get_hookcallers(pm.get_plugin("rv_aws"))}


def test_plugin_import_does_not_import_boto_or_s3fs():
    code = (
        "import sys, rv_aws, rv_aws.plugin\n"
        "heavy = [m for m in ('boto3', 'botocore', 's3fs', 'aiobotocore', 'rasterio', 'rv_aws.batch_runner')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        # The runner module itself loads boto3 only when it submits.
        "import rv_aws.batch_runner\n"
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_gdal_env_for_s3_uris_only(plugin_manager, moto_server):
    import rasterio

    env = plugin_manager.hook.gdal_env_for(uri="s3://bucket/scene.tif")
    assert isinstance(env, rasterio.Env)
    with env:
        options = rasterio.env.getenv()
        assert options["AWS_S3_ENDPOINT"] == moto_server.endpoint_url.removeprefix("http://")
        assert options["AWS_VIRTUAL_HOSTING"] == "FALSE"
    for uri in ("/data/scene.tif", "https://example.com/a.tif", "gs://bucket/a.tif"):
        assert plugin_manager.hook.gdal_env_for(uri=uri) is None


def test_check_access_checks_s3_uris_only(plugin_manager, moto_server, s3_bucket):
    plugin_manager.hook.check_access(uris=["/local/out", "https://example.com/x", f"s3://{s3_bucket}/out"], mode="w")
    with pytest.raises(FileSystemError, match="The S3 bucket 'rv-no-such-bucket-9' .* does not exist"):
        plugin_manager.hook.check_access(uris=["/local/x.tif", "s3://rv-no-such-bucket-9/x.tif"], mode="r")
    plugin_manager.hook.check_access(uris=["/local/x.tif"], mode="r")  # nothing asked of S3


def test_register_runners_registers_aws_batch_by_import_path(plugin_manager):
    registered = {}
    plugin_manager.hook.register_runners(register=lambda key, value: registered.setdefault(key, value))
    assert registered == {"aws_batch": "rv_aws.batch_runner:AwsBatchRunner"}

    import importlib

    from rv.runner.runner import Runner

    module, _, name = registered["aws_batch"].partition(":")
    runner_class = getattr(importlib.import_module(module), name)
    assert issubclass(runner_class, Runner)
    runner_class()  # rv run instantiates it with no arguments
