"""Split commands: CHIP and PREDICT wall time with ``--splits 1`` and ``--splits 2`` on the local runner.

The experiment (:class:`SplitBench` below) segments ``--scenes`` synthetic
RGB scenes of ``--size``² (GeoJSON building footprints in WGS84, rasterized
per window by rv-geojson): half of them training scenes, the other half
validation scenes, chipped with sliding windows. The backend is
MAJORITY_CLASS_BASELINE (:mod:`rv.testing.baseline`, torch-free: PREDICT
reads every scene and writes its prediction raster) or, with ``--backend
pytorch``, PYTORCH_SEMANTIC_SEGMENTATION with the RESNET18 defaults trained
for one epoch (PREDICT then runs the network over every window).

ANALYZE and TRAIN run once. Then CHIP and PREDICT are each rerun (``rv run
local EXP chip -r``) unsplit and with ``--splits 2 -j 2``, interleaved
(``--repeats`` pairs), each a ``rv run`` subprocess as a user runs it; the
figure is the wall time of that subprocess (planning included, the same in
both). Every part runs as one process: ``[RV] chip_workers`` is 1 for both
(``--chip-workers`` to change), as on a cluster whose array tasks get one
CPU each; the unsplit CHIP would otherwise already fork one process per
CPU. The ratio split/unsplit is printed with the load average, since the
machine may be shared; the outputs of the two runs are compared (they must
be the same). Not a test: it exits 0 whatever it finds.

Run: ``.venv/bin/python bench/splits.py`` (``--help``; ``--quick``: 4 scenes
of 512²).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _synthetic as syn  # noqa: E402

import rv  # noqa: E402  (light: configs only; the experiment below needs rv.ExperimentSet)

HERE = os.path.abspath(__file__)
COMMANDS = ("chip", "predict")


class SplitBench(rv.ExperimentSet):
    """Half the scenes for training, half for validation; sliding-window chips."""

    def exp_split_bench(self, root_uri, scenes_dir, scenes: int, backend="MAJORITY_CLASS_BASELINE"):
        task = (
            rv.TaskConfig.builder(rv.SEMANTIC_SEGMENTATION)
            .with_classes({"background": (syn.BACKGROUND_ID, "lightgray"), "building": (syn.BUILDING_ID, "red")})
            .with_background_class_id(syn.BACKGROUND_ID)
            .with_chip_size(256)
            .with_chip_options(window_method="sliding", stride=256)
            .build()
        )
        builder = rv.BackendConfig.builder(backend).with_task(task)
        if backend != "MAJORITY_CLASS_BASELINE":
            builder = builder.with_model_defaults(rv.RESNET18).with_num_epochs(1)
        dataset = rv.DatasetConfig.builder()
        for i in range(int(scenes)):
            folder = os.path.join(scenes_dir, f"scene-{i}")
            image = next(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".tif"))
            labels = next(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".geojson"))
            label_source = rv.LabelSourceConfig.builder(rv.SEMANTIC_SEGMENTATION_RASTER).with_raster_source(
                rv.RasterSourceConfig.builder(rv.GEOJSON_SOURCE).with_uri(labels)
            )
            raster = rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE).with_uri(image)
            scene = (
                rv.SceneConfig.builder().with_task(task).with_id(f"scene-{i}").with_raster_source(raster)
                .with_label_source(label_source).build()
            )  # fmt: skip
            dataset = dataset.with_train_scene(scene) if i % 2 == 0 else dataset.with_validation_scene(scene)
        return (
            rv.ExperimentConfig.builder()
            .with_id("split-bench")
            .with_task(task)
            .with_backend(builder.build())
            .with_dataset(dataset.build())
            .with_root_uri(root_uri)
            .build()
        )


def rv_run(root: str, args: argparse.Namespace, *extra: str) -> tuple[float, str]:
    """``rv run local`` of the experiment: its wall time and its output (raises on failure)."""
    backend = "MAJORITY_CLASS_BASELINE" if args.backend == "baseline" else rv.PYTORCH_SEMANTIC_SEGMENTATION
    argv = [sys.executable, "-m", "rv", "run", "local", HERE, *extra, "-a", "root_uri", root,
            "-a", "scenes_dir", args.scenes_dir, "-a", "scenes", str(args.scenes), "-a", "backend", backend]  # fmt: skip
    env = dict(os.environ, RV_PROGRESS="0", RV_CHIP_WORKERS=str(args.chip_workers))
    env["PLUGINS_MODULES"] = "rv.testing.baseline"
    t0 = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if result.returncode != 0:
        raise SystemExit(f"`{' '.join(argv)}` failed:\n{result.stderr[-3000:]}")
    return wall, result.stderr


def same_outputs(a: str, b: str) -> bool:
    """Whether the chips and predictions under two roots are byte for byte the same."""
    for sub in ("chip/split-bench", "predict/split-bench"):
        left, right = os.path.join(a, sub), os.path.join(b, sub)
        for folder, _, files in os.walk(left):
            for name in files:
                if not name.endswith((".npz", ".tif", "chips.json")):
                    continue
                other = os.path.join(right, os.path.relpath(os.path.join(folder, name), left))
                if not os.path.exists(other) or not filecmp.cmp(os.path.join(folder, name), other, shallow=False):
                    return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="4 scenes of 512² (a minute or two)")
    parser.add_argument("--scenes", type=int, default=8, help="scenes, half training, half validation (default 8)")
    parser.add_argument("--size", type=int, default=1024, help="side of every scene (default 1024)")
    parser.add_argument("--backend", choices=("baseline", "pytorch"), default="baseline")
    parser.add_argument("--chip-workers", type=int, default=1, help="[RV] chip_workers of every CHIP (default 1)")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved pairs unsplit/split (default 1)")
    parser.add_argument("--work-dir", help="where scenes and outputs go (default: a temporary directory, removed)")
    args = parser.parse_args()
    if args.quick:
        args.scenes, args.size = 4, 512
    with syn.work_dir(args.work_dir, "rv-bench-splits-") as work:
        args.scenes_dir = os.path.join(work, "scenes")
        load = syn.load_average()
        print(f"rv split commands: --splits 1 vs 2 on the local runner ({time.strftime('%Y-%m-%d %H:%M')}, "
              f"{os.cpu_count()} CPUs, load average {load}); {args.scenes} scenes of {args.size}², backend "
              f"{args.backend}, chip_workers {args.chip_workers}", flush=True)  # fmt: skip
        buildings = max(1, int(round(125 * (args.size / 2048) ** 2)))
        for i in range(args.scenes):
            syn.build_scene(os.path.join(args.scenes_dir, f"scene-{i}"), args.size, buildings,
                            {"rgb": syn.ImageSpec(args.size, 3, "uint8")}, seed=100 + i)  # fmt: skip
        roots = {1: os.path.join(work, "unsplit"), 2: os.path.join(work, "split")}
        for root in roots.values():
            rv_run(root, args, "analyze", "chip", "train")  # TRAIN once per root, before the timed runs
        walls: dict[tuple[str, int], list[float]] = {(c, s): [] for c in COMMANDS for s in roots}
        for _ in range(args.repeats):
            for command in COMMANDS:
                for splits, root in roots.items():
                    extra = ["--splits", str(splits), "-j", str(splits)] if splits > 1 else []
                    wall, _ = rv_run(root, args, command, "-r", *extra)
                    walls[(command, splits)].append(wall)
                    print(f"  {command.upper():>7} --splits {splits}: {wall:.1f} s", flush=True)
        load = syn.load_average()
        print(f"\nbest of {args.repeats} (wall time of `rv run local EXP COMMAND -r`, planning included):")
        for command in COMMANDS:
            one, two = min(walls[(command, 1)]), min(walls[(command, 2)])
            print(f"{command.upper():>7}: --splits 1 {one:.1f} s, --splits 2 -j 2 {two:.1f} s: split/unsplit "
                  f"{two / one:.2f} ({one / two:.2f}x faster)")  # fmt: skip
        print(
            f"outputs of the split and the unsplit runs are the same: {same_outputs(roots[1], roots[2])}; "
            f"load average now {load}"
        )


if __name__ == "__main__":
    main()
