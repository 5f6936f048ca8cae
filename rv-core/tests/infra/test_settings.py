"""rv.settings: environment > .env > profile file, RV_CONFIG, plugin sections, tmp dir."""

from __future__ import annotations

import os
import tempfile
import textwrap
from pathlib import Path

import pytest

from rv import settings as rv_settings
from rv.errors import ConfigError
from rv.settings import Settings, get_settings, parse_dotenv, parse_list, reset_settings


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def test_environment_beats_dotenv_beats_profile(clean_settings, monkeypatch):
    write(
        clean_settings / "default",
        """
        [RV]
        model_defaults_uri = s3://profile/defaults.json
        only_in_profile = from-profile
        """,
    )
    write(Path.cwd() / ".env", "RV_MODEL_DEFAULTS_URI=s3://dotenv/defaults.json\n")
    monkeypatch.setenv("RV_MODEL_DEFAULTS_URI", "s3://env/defaults.json")

    settings = get_settings()
    assert settings.get("RV", "model_defaults_uri") == "s3://env/defaults.json"
    assert settings.origin("RV", "model_defaults_uri") == "environment (RV_MODEL_DEFAULTS_URI)"
    assert settings.get("RV", "only_in_profile") == "from-profile"
    assert settings.get("rv", "MODEL_DEFAULTS_URI") == "s3://env/defaults.json"  # case-insensitive

    # The environment is read at each lookup: unsetting it falls back to .env.
    monkeypatch.delenv("RV_MODEL_DEFAULTS_URI")
    assert settings.get("RV", "model_defaults_uri") == "s3://dotenv/defaults.json"
    assert ".env" in settings.origin("RV", "model_defaults_uri")

    # Files are read once; reset_settings() picks up a removed .env.
    (Path.cwd() / ".env").unlink()
    assert get_settings().get("RV", "model_defaults_uri") == "s3://dotenv/defaults.json"
    reset_settings()
    settings = get_settings()
    assert settings.get("RV", "model_defaults_uri") == "s3://profile/defaults.json"
    assert settings.origin("RV", "model_defaults_uri") == f"{clean_settings / 'default'} [RV]"
    assert settings.get("RV", "absent") is None
    assert settings.get("RV", "absent", "fallback") == "fallback"


def test_profiles_and_rv_config(clean_settings, monkeypatch, tmp_path):
    write(clean_settings / "default", "[RV]\nmodel_defaults_uri = default-profile\n")
    write(clean_settings / "gpu", "[RV]\nmodel_defaults_uri = gpu-profile\n")

    assert get_settings().get("RV", "model_defaults_uri") == "default-profile"
    assert get_settings("gpu").get("RV", "model_defaults_uri") == "gpu-profile"
    monkeypatch.setenv("RV_PROFILE", "gpu")
    reset_settings()
    assert get_settings().profile == "gpu"
    assert get_settings().get("RV", "model_defaults_uri") == "gpu-profile"

    # RV_CONFIG names a file that overrides the profile file without hiding it (as Raster Vision
    # documents): its values win, the profile's other values still apply.
    write(
        clean_settings / "gpu",
        """
        [RV]
        model_defaults_uri = gpu-profile

        [AWS_BATCH]
        job_queue = gpu-queue
        attempts = 3
        """,
    )
    override = write(tmp_path / "ci.ini", "[AWS_BATCH]\njob_queue = ci-queue\n\n[CI]\nrunner = local\n")
    monkeypatch.setenv("RV_CONFIG", str(override))
    reset_settings()
    settings = get_settings()
    assert settings.config_paths == [override, clean_settings / "gpu"]
    assert settings.config_path == override
    assert settings.get("AWS_BATCH", "job_queue") == "ci-queue"
    assert settings.origin("AWS_BATCH", "job_queue") == f"{override} [AWS_BATCH]"
    assert settings.get("AWS_BATCH", "attempts") == "3"
    assert settings.get("RV", "model_defaults_uri") == "gpu-profile"
    assert settings.origin("RV", "model_defaults_uri") == f"{clean_settings / 'gpu'} [RV]"
    assert settings.section("AWS_BATCH") == {"job_queue": "ci-queue", "attempts": "3"}
    assert settings.sections() == ["AWS_BATCH", "CI", "RV"]
    # The environment still beats both files.
    monkeypatch.setenv("AWS_BATCH_JOB_QUEUE", "env-queue")
    assert settings.get("AWS_BATCH", "job_queue") == "env-queue"
    monkeypatch.delenv("AWS_BATCH_JOB_QUEUE")
    monkeypatch.delenv("RV_PROFILE")
    assert Settings().config_paths == [override, clean_settings / "default"]
    assert Settings().get("RV", "model_defaults_uri") == "default-profile"

    monkeypatch.setenv("RV_CONFIG", str(tmp_path / "missing.ini"))
    with pytest.raises(ConfigError, match="missing.ini"):
        Settings()

    monkeypatch.delenv("RV_CONFIG")
    with pytest.raises(ConfigError, match="'nightly' not found") as info:
        Settings("nightly")
    assert str(clean_settings / "nightly") in str(info.value)
    # The default profile may be absent: then only env and .env count (and RV_CONFIG, when set).
    (clean_settings / "default").unlink()
    assert Settings("default").config_path is None
    monkeypatch.setenv("RV_CONFIG", str(override))
    assert Settings("default").config_paths == [override]
    assert Settings("default").get("RV", "model_defaults_uri") is None


def test_plugin_sections_and_lists(clean_settings, monkeypatch):
    write(
        clean_settings / "default",
        """
        [PLUGINS]
        files = ["/opt/plugins/my_plugin.py", "s3://bucket/other.py"]
        modules = my_package.rv_plugin, other.plugin

        [AWS_BATCH]
        job_queue = queue-from-file
        job_definition = def-from-file
        """,
    )
    write(Path.cwd() / ".env", "AWS_BATCH_JOB_DEFINITION=def-from-dotenv\n")
    monkeypatch.setenv("AWS_BATCH_CPU_JOB_QUEUE", "cpu-queue-from-env")
    monkeypatch.setenv("PLUGINS_MODULES", "[env_only.plugin]")

    settings = get_settings()
    assert settings.get_list("PLUGINS", "files") == ["/opt/plugins/my_plugin.py", "s3://bucket/other.py"]
    assert settings.get_list("PLUGINS", "modules") == ["env_only.plugin"]
    monkeypatch.delenv("PLUGINS_MODULES")
    assert settings.get_list("PLUGINS", "modules") == ["my_package.rv_plugin", "other.plugin"]
    assert settings.get_list("PLUGINS", "absent") == []

    assert settings.section("AWS_BATCH") == {
        "job_queue": "queue-from-file",
        "job_definition": "def-from-dotenv",
        "cpu_job_queue": "cpu-queue-from-env",
    }
    assert settings.section("NOT_THERE") == {}
    assert "AWS_BATCH" in settings.sections()
    # The variables that locate files are not options of [RV].
    assert "config_dir" not in settings.section("RV")


def test_bools_and_bad_files(clean_settings, monkeypatch):
    monkeypatch.setenv("RV_PROGRESS", "off")
    assert get_settings().get_bool("RV", "progress", default=True) is False
    monkeypatch.setenv("RV_PROGRESS", "maybe")
    with pytest.raises(ConfigError, match="RV_PROGRESS"):
        get_settings().get_bool("RV", "progress")

    write(clean_settings / "default", "model_defaults_uri = no section header\n")
    reset_settings()
    with pytest.raises(ConfigError, match="default"):
        get_settings()


def test_dotenv_parser():
    values = parse_dotenv(
        textwrap.dedent(
            """
            # comment
            export RV_PROFILE=gpu
            PLAIN = value with spaces  # trailing comment
            URL=https://host/path#fragment
            SINGLE='keep # and \\n literally'
            DOUBLE="line1\\nline2 \\"quoted\\""
            EMPTY=
            """
        )
    )
    assert values == {
        "RV_PROFILE": "gpu",
        "PLAIN": "value with spaces",
        "URL": "https://host/path#fragment",
        "SINGLE": "keep # and \\n literally",
        "DOUBLE": 'line1\nline2 "quoted"',
        "EMPTY": "",
    }
    with pytest.raises(ConfigError, match="Line 2 of my.env"):
        parse_dotenv("A=1\nthis is not an assignment\n", "my.env")
    with pytest.raises(ConfigError, match="never closed"):
        parse_dotenv('A="open\n')


def test_parse_list_forms():
    assert parse_list('["a", "b"]') == ["a", "b"]
    assert parse_list("[a, b]") == ["a", "b"]
    assert parse_list("a, b,\n c") == ["a", "b", "c"]
    assert parse_list("") == [] and parse_list("[]") == []


def test_tmp_dir(clean_settings, monkeypatch, tmp_path):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "from-env"))
    assert rv_settings.tmp_dir() == str(tmp_path / "from-env")
    assert os.path.isdir(tmp_path / "from-env")

    rv_settings.set_tmp_dir(tmp_path / "from-cli")
    try:
        assert rv_settings.tmp_dir() == str(tmp_path / "from-cli")
        with tempfile.NamedTemporaryFile() as f:  # libraries' temporary files go there too
            assert f.name.startswith(str(tmp_path / "from-cli"))
    finally:
        rv_settings.set_tmp_dir(None)
    assert rv_settings.tmp_dir() == str(tmp_path / "from-env")
