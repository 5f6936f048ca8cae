"""Pipeline overhead: the same small pipeline with ``rv run local`` and with ``rv run inprocess``.

The experiment (``_pipeline_experiment.py``, ``experiment_id`` pipeline-overhead)
is the end-to-end pipeline of ``pytorch_predict.py`` at equal work with Raster
Vision's default run: a 2048² training scene and a 2048² validation scene
(synthetic RGB, GeoJSON building footprints in WGS84), the stats analyzer and
transformer, SEMANTIC_SEGMENTATION with the task defaults but ``chips_per_scene``
(default 64: one epoch is 8 optimiser steps of the default batch of 8, the
8 steps Raster Vision trains at its defaults), PYTORCH_SEMANTIC_SEGMENTATION
with the RESNET18 model defaults and ``num_epochs=1``: ANALYZE → CHIP →
TRAIN → PREDICT → EVAL → BUNDLE.

Each run is ``rv run RUNNER`` in a subprocess, as a user runs it, on a fresh
root: ``local`` (a subprocess per command: six Python starts, five torch
imports, PREDICT rebuilding the network TRAIN just wrote) and ``inprocess``
(one process: one import, PREDICT takes TRAIN's network). Pairs run
interleaved (local, inprocess, local, ...; ``--repeats``); the best of each
is compared, and the ratio is printed with the load average and the cores
other processes kept busy, since the machine may be shared. Not a test: it
exits 0 whatever it finds.

Run: ``.venv/bin/python bench/pipeline_overhead.py`` (``--help``; ``--quick``:
512² scenes, 16 chips a scene, a few minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _pipeline_experiment  # noqa: E402
import _synthetic as syn  # noqa: E402

RUNNERS = ("local", "inprocess")
COMMAND_LINE = re.compile(r"^rv: \[(\w+) ([^\]]+)\] (starting|done)")


def build_scenes(work: str, size: int, buildings: int) -> dict[str, syn.SyntheticScene]:
    scenes = {}
    for name, seed in (("train", 11), ("valid", 12)):
        t0 = time.perf_counter()
        scenes[name] = syn.build_scene(
            os.path.join(work, f"{name}-{size}"), size, buildings, {"rgb": syn.ImageSpec(size, 3, "uint8")}, seed=seed
        )
        print(
            f"{name} scene {size}² ({scenes[name].num_buildings} buildings) built in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    return scenes


def run_pipeline(runner: str, scenes: dict, work: str, chips: int, threads: int) -> dict:
    """``rv run RUNNER`` of the experiment on a fresh root: wall, CPU, per-command seconds, what it did."""
    root = tempfile.mkdtemp(prefix=f"{runner}-", dir=work)
    tmp = os.path.join(root, "tmp")
    os.makedirs(tmp)
    argv = [sys.executable, "-m", "rv", "run", runner, _pipeline_experiment.PATH, "--tempdir", tmp,
            "-a", "root_uri", os.path.join(root, "out"), "-a", "experiment_id", "pipeline-overhead",
            "-a", "train_image", scenes["train"].images["rgb"], "-a", "train_labels", scenes["train"].geojson,
            "-a", "valid_image", scenes["valid"].images["rgb"], "-a", "valid_labels", scenes["valid"].geojson,
            "-a", "chips_per_scene", str(chips), "-a", "num_epochs", "1"]  # fmt: skip
    env = dict(os.environ, PYTHONUNBUFFERED="1", RV_PROGRESS="0")
    # Every command's torch gets the same threads under both runners.
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    log_path = os.path.join(work, f"{os.path.basename(root)}.log")
    starts: dict[str, float] = {}
    durations: dict[str, float] = {}
    trained = ""
    load_before = os.getloadavg()[0]
    with syn.Meter() as m, open(log_path, "w") as log:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        for line in proc.stdout:
            log.write(line)
            found = COMMAND_LINE.match(line)
            if found:
                name = found.group(1)
                if found.group(3) == "starting":
                    starts[name] = time.perf_counter()
                elif name in starts:
                    durations[name] = time.perf_counter() - starts[name]
            if line.startswith("rv: trained "):
                trained = line[len("rv: trained ") :].split("; model in")[0].strip()
        code = proc.wait()
    result = {
        "runner": runner,
        "code": code,
        "log": log_path,
        "wall": m.wall,
        "cpu": m.cpu,
        "others": m.report(1)["others"],
        "load": (load_before, os.getloadavg()[0]),
        "commands": durations,
        "trained": trained,
    }
    if code == 0:
        with open(os.path.join(root, "out", "chip", "pipeline-overhead", "chips.json")) as f:
            result["chips"] = json.load(f)["counts"]
        with open(os.path.join(root, "out", "eval", "pipeline-overhead", "eval.json")) as f:
            building = [c for c in json.load(f).get("classes", []) if c.get("class_name") == "building"]
        result["building_f1"] = building[0].get("f1") if building else None
    shutil.rmtree(root, ignore_errors=True)
    return result


def describe(r: dict) -> str:
    if r["code"] != 0:
        with open(r["log"]) as f:
            tail = "".join(f.readlines()[-20:])
        return f"{r['runner']}: FAILED (exit {r['code']}); the end of its output:\n{tail}"
    per = ", ".join(f"{name} {s:.1f} s" for name, s in r["commands"].items())
    f1 = r.get("building_f1")
    return (
        f"{r['runner']:>9}: {r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU (all processes); load average "
        f"{r['load'][0]:.1f} → {r['load'][1]:.1f}, others kept {r['others']:.1f} cores busy; chips "
        f"{r.get('chips')}; trained {r['trained'] or '?'}; building F1 "
        f"{'n/a' if f1 is None else f'{f1:.3f}'} (after a few steps: not a quality figure)\n"
        f"           per command: {per}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="512² scenes, 16 chips a scene (a few minutes)")
    parser.add_argument("--size", type=int, default=2048, help="side of both scenes (default 2048)")
    parser.add_argument(
        "--chips", type=int, default=64, help="chips_per_scene (default 64: 8 steps of batch 8 in the one epoch)"
    )
    parser.add_argument("--buildings", type=int, default=125, help="buildings per 2048² of scene (default 125)")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved pairs local/inprocess (default 1)")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="torch threads of every command (default: every CPU)"
    )
    parser.add_argument("--work-dir", help="where scenes and logs go (default: a temporary directory, removed)")
    args = parser.parse_args()
    if args.quick:
        args.size, args.chips = 512, 16
    with syn.work_dir(args.work_dir, "rv-bench-pipeline-") as work:
        load = syn.load_average()
        print(
            f"rv pipeline overhead: local vs inprocess  ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} "
            f"CPUs, torch threads {args.threads}, load average {load}){'  --quick' if args.quick else ''}",
            flush=True,
        )
        buildings = int(round(args.buildings * (args.size / 2048) ** 2))
        scenes = build_scenes(work, args.size, buildings)
        results: dict[str, list[dict]] = {r: [] for r in RUNNERS}
        for _ in range(args.repeats):
            for runner in RUNNERS:
                r = run_pipeline(runner, scenes, work, args.chips, args.threads)
                print(describe(r), flush=True)
                results[runner].append(r)
        best = {
            k: min((r for r in v if r["code"] == 0), key=lambda r: r["wall"], default=None) for k, v in results.items()
        }
        load = syn.load_average()
        if best["local"] and best["inprocess"]:
            local, inproc = best["local"], best["inprocess"]
            print(
                f"\n{args.size}² + {args.size}², 1 epoch, {args.chips} chips a scene, RESNET18 defaults "
                f"(best of {args.repeats}): local {local['wall']:.1f} s, inprocess {inproc['wall']:.1f} s: "
                f"inprocess takes {inproc['wall'] / local['wall']:.2f}x local's wall time "
                f"({local['wall'] / inproc['wall']:.2f}x faster, {local['wall'] - inproc['wall']:.1f} s saved); "
                f"CPU {local['cpu']:.1f} vs {inproc['cpu']:.1f} s ({local['cpu'] / max(inproc['cpu'], 1e-9):.2f}x); "
                f"load average now {load}"
            )
            # TRAIN's own work dominates and varies most on a shared machine; the other five
            # commands are mostly what a process per command costs (start, imports, model build).
            rest = {k: sum(s for name, s in v["commands"].items() if name != "TRAIN") for k, v in best.items()}
            print(
                f"the five commands besides TRAIN: local {rest['local']:.1f} s, inprocess "
                f"{rest['inprocess']:.1f} s ({rest['local'] / max(rest['inprocess'], 1e-9):.1f}x); TRAIN: local "
                f"{local['commands'].get('TRAIN', 0):.1f} s, inprocess {inproc['commands'].get('TRAIN', 0):.1f} s"
            )
        else:
            print(f"\na run failed; see the logs in {work}")


if __name__ == "__main__":
    main()
