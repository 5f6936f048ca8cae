"""The ``[SLURM]`` settings as a user writes them in the rv profile file (no cluster needed)."""

from __future__ import annotations

import sys

import pytest
from rv_slurm.slurm_settings import SlurmSettings

from rv.errors import ConfigError
from rv.settings import Settings


def _settings(tmp_path, text: str, **environ) -> SlurmSettings:
    (tmp_path / "default").write_text(text, encoding="utf-8")
    return SlurmSettings.from_settings(Settings(environ={"RV_CONFIG_DIR": str(tmp_path), **environ}, cwd=tmp_path))


def test_the_section_gives_each_job_its_options(tmp_path):
    settings = _settings(
        tmp_path,
        """
[SLURM]
partition = cpu
gpu_partition = gpu
account = def-rv
time = 30
gpu_time = 2-00:00:00
mem = 4000M
cpus = 3
gpus = 2
extra_sbatch = ["--constraint=v100", "#SBATCH --mail-type=FAIL"]
setup =
    module load python
    source ~/venv/bin/activate
""",
    )
    assert settings.options_for(gpu=True) == [
        "--partition=gpu",
        "--account=def-rv",
        "--time=2-00:00:00",
        "--mem=4000M",
        "--cpus-per-task=3",
        "--gres=gpu:2",
        "--export=ALL",
        "--constraint=v100",
        "--mail-type=FAIL",
    ]
    assert settings.options_for(gpu=False) == [
        "--partition=cpu",
        "--account=def-rv",
        "--time=30",
        "--mem=4000M",
        "--cpus-per-task=3",
        "--export=ALL",
        "--constraint=v100",
        "--mail-type=FAIL",
    ]
    assert settings.setup.splitlines() == ["module load python", "source ~/venv/bin/activate"]
    assert settings.python_argv() == [sys.executable, "-m", "rv"]
    assert settings.wait is False


def test_defaults_ask_for_one_gpu_for_train_and_predict_and_zero_asks_for_none(tmp_path):
    defaults = _settings(tmp_path, "")
    assert defaults.options_for(gpu=True) == ["--cpus-per-task=1", "--gres=gpu:1", "--export=ALL"]
    assert defaults.options_for(gpu=False) == ["--cpus-per-task=1", "--export=ALL"]
    no_gpu = _settings(tmp_path, "", SLURM_GPUS="0")
    assert no_gpu.options_for(gpu=True) == ["--cpus-per-task=1", "--export=ALL"]


def test_wait_comes_from_the_file_or_rv_slurm_wait_never_from_sruns_slurm_wait(tmp_path):
    assert _settings(tmp_path, "[SLURM]\nwait = true\n").wait is True
    assert _settings(tmp_path, "", RV_SLURM_WAIT="1").wait is True
    assert _settings(tmp_path, "[SLURM]\nwait = true\n", RV_SLURM_WAIT="0").wait is False
    # srun's SLURM_WAIT is a number of seconds, not rv's option.
    assert _settings(tmp_path, "", SLURM_WAIT="30").wait is False


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("gpus = two", ["[SLURM] gpus is 'two'", "whole number of at least 0", "gpus = 1"]),
        ("cpus = 0", ["[SLURM] cpus is '0'", "at least 1"]),
        ("time = 2 hours", ["[SLURM] time is '2 hours'", "HH:MM:SS"]),
        ("mem = lots", ["[SLURM] mem is 'lots'", "16G"]),
        ("extra_sbatch = constraint=v100", ["[SLURM] extra_sbatch is 'constraint=v100'", "--constraint=v100"]),
        ("wait = maybe", ["[SLURM] wait", "'maybe'", "yes/no"]),
    ],
)
def test_a_value_slurm_would_refuse_is_named_with_its_file(tmp_path, line, words):
    with pytest.raises(ConfigError) as raised:
        _settings(tmp_path, f"[SLURM]\n{line}\n")
    message = str(raised.value)
    for word in words:
        assert word in message
    if not line.startswith("wait"):
        assert str(tmp_path / "default") in message
