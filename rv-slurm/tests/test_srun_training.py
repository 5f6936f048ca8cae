"""A multi-process TRAIN as a Slurm job: ``srun`` starts the processes, rv trains with DDP on them.

A small building segmentation (rv-pytorch, CPU) with ``num_processes 2`` runs
ANALYZE → CHIP → TRAIN through ``rv run slurm`` on the one-node test cluster:
the TRAIN job asks for two tasks and runs them under ``srun``; process 0
alone writes the train directory, the log and the stamp.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("rv_pytorch")

ROOT = Path(__file__).resolve().parents[2]
BUILDINGS = ROOT / "examples" / "data" / "buildings"

EXPERIMENT = f"""
import rv

BUILDINGS = {str(BUILDINGS)!r}


class Buildings(rv.ExperimentSet):
    def exp_buildings(self, root_uri, num_processes: int = 2):
        task = (
            rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
            .with_classes({{"background": (0, "black"), "building": (1, "red")}})
            .with_background_class_id(0)
            .with_chip_size(64)
            .with_chip_options(chips_per_scene=8)
            .build()
        )
        backend = (
            rv.BackendConfig.builder(rv.PYTORCH_SEMANTIC_SEGMENTATION)
            .with_task(task)
            .with_batch_size(4)
            .with_num_steps(2)
            .with_train_options(do_monitoring=False, num_processes=int(num_processes))
            .with_config({{"encoder": "resnet10t", "decoder_channels": 32, "device": "cpu"}})
            .build()
        )
        labels = rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_raster_source(
            rv.RasterSourceConfig.builder(rv.GEOJSON_SOURCE)
            .with_uri(f"{{BUILDINGS}}/kampala_buildings.geojson")
            .with_default_class_id(1)
        )
        scenes = rv.SceneConfig.builder().with_task(task).with_label_source(labels)
        train = scenes.with_id("a").with_raster_source(f"{{BUILDINGS}}/kampala_oam_a.tif")
        valid = scenes.with_id("b").with_raster_source(f"{{BUILDINGS}}/kampala_oam_b.tif")
        return (
            rv.ExperimentConfig.builder()
            .with_id("buildings")
            .with_task(task)
            .with_backend(backend)
            .with_dataset(rv.DatasetConfig.builder().with_train_scenes([train]).with_validation_scenes([valid]))
            .with_root_uri(root_uri)
            .build()
        )
"""


@pytest.mark.slow
def test_a_two_process_train_job_runs_under_srun_with_one_writer(run_rv, slurm_cluster, tmp_path, monkeypatch):
    (tmp_path / "rv-config" / "default").write_text("[SLURM]\ngpus = 0\npoll_seconds = 0.5\nwait = true\n")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    experiment = tmp_path / "buildings.py"
    experiment.write_text(EXPERIMENT, encoding="utf-8")
    root = tmp_path / "out"

    dry = run_rv(
        "run", "slurm", experiment, "-a", "root_uri", root, "analyze", "chip", "train", "-n", env=slurm_cluster.env
    )
    assert dry.returncode == 0, dry.stderr
    train_script = dry.stdout[dry.stdout.index("--job-name=buildings-train") :]
    assert "#SBATCH --ntasks-per-node=2" in train_script
    assert "exec srun --kill-on-bad-exit=1 bash -c" in train_script

    result = run_rv(
        "run", "slurm", experiment, "-a", "root_uri", root, "analyze", "chip", "train", env=slurm_cluster.env
    )
    train_dir = root / "train" / "buildings"
    logs = sorted(train_dir.glob("slurm-*.log"))
    assert result.returncode == 0, result.stderr + "".join(p.read_text() for p in logs)
    log = logs[-1].read_text()
    assert "training 2 step(s)" in log and len(re.findall(r"rv: trained 1 epoch\(s\), 2 step\(s\)", log)) == 1
    assert {"model.safetensors", "model-config.json", "last.pth", "log.csv", "command-stamp.json"} <= {
        p.name for p in train_dir.iterdir()
    }
    assert not [p for p in train_dir.rglob(".*") if p.is_file()]  # no temporary file left
    import torch

    assert torch.load(train_dir / "last.pth", weights_only=True)["num_processes"] == 2
