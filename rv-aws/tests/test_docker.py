"""The Dockerfiles cannot be built here; check what they copy exists and they run `rv`."""

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "rv-aws" / "docker"
#: packages a Batch job never runs, so the image leaves them out
NOT_IN_IMAGE = {
    "rv-slurm": "submits commands to a Slurm cluster; a Batch job runs one command",
    "rv-qgis": "the QGIS plugin runs inside QGIS, not in a job",
}
PACKAGES = sorted(p.name for p in REPO.glob("rv-*") if (p / "pyproject.toml").is_file() and p.name not in NOT_IN_IMAGE)


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_dockerfile_installs_every_package_with_the_constraints(name):
    text = (DOCKER / name).read_text()
    copied = re.findall(r"^COPY (\S+?)/? ", text, flags=re.MULTILINE)
    assert sorted(c for c in copied if c.startswith("rv-")) == PACKAGES
    for source in copied:
        assert (REPO / source).exists(), f"{name} copies {source}, which is not in the repository"
    install = re.search(r"pip install -c constraints.txt (\./rv-\S+(?: \./rv-\S+)*)", text)
    assert install and sorted(p.removeprefix("./") for p in install.group(1).split()) == PACKAGES
    assert 'ENTRYPOINT ["rv"]' in text


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_build_context_keeps_only_what_the_image_needs(name):
    lines = [
        line for line in (DOCKER / f"{name}.dockerignore").read_text().splitlines() if line and not line.startswith("#")
    ]
    assert lines[0] == "*"
    assert sorted(line[1:] for line in lines if line.startswith("!")) == sorted(["constraints.txt", *PACKAGES])


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_the_runner_submits_commands_for_the_images_entrypoint(name):
    """A job's command is the rest of an ``rv`` command line: the image's entrypoint plus it must run."""
    import subprocess
    import sys

    from rv_aws.batch_runner import RUN_COMMAND

    entrypoint = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", (DOCKER / name).read_text(), re.MULTILINE).group(1))
    assert entrypoint == ["rv"]
    # What the container runs, with --help instead of a config URI: a real rv subcommand.
    result = subprocess.run(
        [sys.executable, "-m", "rv", RUN_COMMAND, "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "command-config.json" in result.stdout
