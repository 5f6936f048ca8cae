"""Quality the examples reach at their default budget, against the bars of issue 5 (and 21).

Runs each example experiment exactly as a user would, in a fresh child
process and a fresh output directory::

    python -m rv run local examples/<name>.py -a root_uri <work>/<name>-XXXX

with the environment stripped of ``RV_*`` variables and ``RV_CONFIG_DIR``
pointing at an empty temporary directory (no profile, no ``.env`` of the
person running it). Then it reads the ``eval.json`` that EVAL wrote and
checks it against the bars, each next to the baseline it is measured from,
taken from the ground truth of the very scenes evaluated:

- ``buildings_segmentation`` (the main job): on Kampala B, building F1
  ≥ 0.80, building IoU ≥ 0.68 and mIoU ≥ 0.60, each beside what answering
  "building" everywhere scores: F1 ``2q / (1 + q)``, IoU ``q`` and mIoU
  ``q / 2`` (background IoU 0), with ``q`` the building share of the
  evaluated pixels (eval.json's ``gt_count``; 0.59 for Kampala B: 0.744,
  0.59, 0.30). The same bar as the slow test ``tests/quality``.
- ``trees_object_detection``: AP50 on the held-out right 30 % of the NEON
  scene ≥ 0.25 (there is no trivial detector to compare with; an untuned FCOS
  on resnet18 from scratch reached 0.18 in ~7 minutes).
- ``buildings_chip_classification``: on Kampala B's cells, accuracy ≥ the
  majority-class share + 0.10, and building-cell F1 ≥ the building F1 of
  answering the majority class everywhere + 0.10 (that is
  ``2q / (1 + q)`` with ``q`` the building share when building is the
  majority, else 0). The shares are the per-class ``gt_count`` of eval.json,
  i.e. the evaluated cells' true classes.
- ``landcover_multiband``: pixel accuracy on the held-out bottom 35 % of the
  tile ≥ the majority-class share of its labelled pixels + 0.15. The shares
  come from eval.json's per-class ``gt_count`` and are cross-checked against
  a direct count of the class raster inside the validation AOI.

Timing: the wall time of the whole run and of its TRAIN command (from the
runner's ``[TRAIN ...] starting`` / ``done`` lines), the CPU time of the
whole run (``getrusage(RUSAGE_CHILDREN)``: the child and every command
process it waited for) and of the TRAIN command's process (sampled from
``/proc`` every half second), and how many cores other processes kept busy
meanwhile (``/proc/stat``), because training shares the machine.

This is a benchmark, not a test: it exits 0 whatever it finds and prints
PASS/FAIL per bar. One example at a time (each trains on all the cores it is
given). Run: ``.venv/bin/python bench/example_quality.py`` (``--help``).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _synthetic import machine_busy_seconds  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = REPO / "examples"

#: Budget of issue 5: each example's default trains in about this long on 2 CPU cores.
TRAIN_BUDGET_MIN = 8.0


@dataclass
class Example:
    """One example experiment and the bar its evaluation must reach."""

    name: str
    kind: str  # "buildings", "detection", "chip_classification" or "segmentation"
    bar: float  # absolute AP50 for detection, points above the majority baseline otherwise (buildings: unused)

#: The main job's absolute bars (issue 21): building F1, building IoU, mIoU on Kampala B.
BUILDINGS_BARS = {"building F1": 0.80, "building IoU": 0.68, "mIoU": 0.60}


EXAMPLES = {
    e.name: e
    for e in (
        Example("buildings_segmentation", "buildings", 0.0),
        Example("trees_object_detection", "detection", 0.25),
        Example("buildings_chip_classification", "chip_classification", 0.10),
        Example("landcover_multiband", "segmentation", 0.15),
    )
}


@dataclass
class Row:
    """One line of the result table."""

    example: str
    metric: str
    measured: float | None
    baseline: float | None
    required: float | None

    @property
    def result(self) -> str:
        if self.measured is None or self.required is None:
            return "ERROR"
        return "PASS" if self.measured >= self.required else "FAIL"


@dataclass
class Run:
    """What one example run produced: timings, the eval.json, the result rows and notes."""

    example: Example
    root: str
    returncode: int | None = None
    wall_s: float = 0.0
    cpu_s: float = 0.0
    others_cores: float = float("nan")
    train_wall_s: float | None = None
    train_cpu_s: float | None = None
    command_wall_s: dict[str, float] = field(default_factory=dict)
    eval_json: dict | None = None
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------
# Running an example as a user would
# --------------------------------------------------------------------------


def user_environment(config_dir: str, threads: int | None) -> dict[str, str]:
    """This process's environment without ``RV_*`` variables, with an empty ``RV_CONFIG_DIR``.

    ``threads`` (when given) sets ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``
    for torch; otherwise they are inherited as they are.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("RV_")}
    env["RV_CONFIG_DIR"] = config_dir
    env["PYTHONUNBUFFERED"] = "1"  # the runner's progress lines arrive as they happen
    if threads is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    return env


def _proc_table() -> dict[int, tuple[int, float, str]]:
    """``pid -> (ppid, CPU seconds incl. waited-for children, cmdline)`` of every process (Linux ``/proc``)."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # The command name (field 2) may hold spaces: the fields after it follow the last ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        ppid = int(fields[1])
        utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
        table[int(entry)] = (ppid, (utime + stime + cutime + cstime) / tick, cmdline)
    return table


class CommandCPUSampler(threading.Thread):
    """Samples the CPU time of the rv run's command processes (``rv run_command .../<command>/...``).

    Each command runs in a child process of the runner; its CPU time is only
    reported to the runner, so it is read from ``/proc`` while the process
    lives. The last sample of a process is kept (at most ``interval`` short).
    """

    def __init__(self, root_pid: int, interval: float = 0.5):
        super().__init__(daemon=True)
        self.root_pid = root_pid
        self.interval = interval
        self.cpu_by_pid: dict[int, tuple[str, float]] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                table = _proc_table()
            except OSError:
                table = {}
            descendants = {self.root_pid}
            grew = True
            while grew:
                grew = False
                for pid, (ppid, _, _) in table.items():
                    if ppid in descendants and pid not in descendants:
                        descendants.add(pid)
                        grew = True
            for pid in descendants - {self.root_pid}:
                _, cpu, cmdline = table[pid]
                match = re.search(r"run_command\s+\S*?/(\w+)/[^/\s]+/command-config\.json", cmdline)
                if match:
                    self.cpu_by_pid[pid] = (match.group(1), cpu)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def cpu_of(self, command_dir: str) -> float | None:
        """CPU seconds of the processes of one command (``"train"``, ``"predict"``, ...), or None if unseen."""
        values = [cpu for name, cpu in self.cpu_by_pid.values() if name == command_dir]
        return sum(values) if values else None


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_example(example: Example, work_dir: str, threads: int | None, args: list[tuple[str, str]],
                timeout_min: float) -> Run:
    """Run one example end to end in a child process; fill timings and the eval.json."""
    root = tempfile.mkdtemp(prefix=f"{example.name}-", dir=work_dir)
    run = Run(example, root)
    config_dir = tempfile.mkdtemp(prefix="rv-config-", dir=work_dir)
    cmd = [sys.executable, "-m", "rv", "run", "local", str(EXAMPLES_DIR / f"{example.name}.py"),
           "-a", "root_uri", root]
    for key, value in args:
        cmd += ["-a", key, value]
    log_path = os.path.join(work_dir, f"{os.path.basename(root)}.log")
    print(f"\n== {example.name}: {' '.join(cmd[1:])}", flush=True)
    print(f"   log: {log_path}", flush=True)

    starts: dict[str, float] = {}
    t0, c0, m0 = time.perf_counter(), children_cpu_seconds(), machine_busy_seconds()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=user_environment(config_dir, threads), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        sampler = CommandCPUSampler(proc.pid)
        sampler.start()
        timer = threading.Timer(timeout_min * 60, proc.kill)
        timer.start()
        try:
            for line in proc.stdout:
                now = time.perf_counter() - t0
                log.write(f"[{now:8.1f}s] {line}")
                event = re.match(r"rv: \[(\w+) [^\]]+\] (starting|done)", line)
                if event:
                    command, what = event.groups()
                    if what == "starting":
                        starts[command] = now
                    elif command in starts:
                        run.command_wall_s[command] = now - starts[command]
                    print(f"   {now:7.1f} s  {command} {what}", flush=True)
        finally:
            run.returncode = proc.wait()
            timer.cancel()
            sampler.stop()
    run.wall_s = time.perf_counter() - t0
    run.cpu_s = children_cpu_seconds() - c0
    busy = machine_busy_seconds() - m0
    run.others_cores = max(0.0, (busy - run.cpu_s) / run.wall_s)
    run.train_wall_s = run.command_wall_s.get("TRAIN")
    run.train_cpu_s = sampler.cpu_of("train")
    shutil.rmtree(config_dir, ignore_errors=True)

    if run.returncode != 0:
        run.notes.append(f"rv run exited with {run.returncode}; see {log_path}")
    evals = sorted(glob.glob(os.path.join(root, "eval", "*", "eval.json")))
    if evals:
        with open(evals[0]) as f:
            run.eval_json = json.load(f)
    else:
        run.notes.append(f"no eval.json under {root}/eval/")
    return run


# --------------------------------------------------------------------------
# Metrics and baselines from eval.json
# --------------------------------------------------------------------------


def class_counts(report: dict) -> dict[str, int]:
    """Ground-truth count per class name (cells, pixels or boxes) of an eval.json."""
    return {c["class_name"]: int(c["gt_count"]) for c in report["classes"]}


def accuracy(report: dict) -> float:
    """Correct / labelled: the confusion matrix's diagonal over all ground truth (missed predictions count wrong)."""
    correct = sum(report["confusion_matrix"][i][i] for i in range(len(report["classes"])))
    total = report["overall"]["gt_count"]
    return correct / total if total else 0.0


def majority(counts: dict[str, int]) -> tuple[str, float]:
    """The majority class and its share."""
    total = sum(counts.values())
    name = max(counts, key=counts.get)
    return name, (counts[name] / total if total else 0.0)


def evaluate_buildings(run: Run) -> None:
    report = run.eval_json
    counts = class_counts(report)
    building = next(c for c in report["classes"] if c["class_name"] == "building")
    q = counts["building"] / sum(counts.values())
    # Answering "building" everywhere: F1 2q/(1+q), IoU q; the other class's IoU is 0, so mIoU q/2.
    baselines = {"building F1": 2 * q / (1 + q), "building IoU": q, "mIoU": q / 2}
    measured = {"building F1": float(building["f1"]), "building IoU": float(building["iou"]),
                "mIoU": float(report["overall"]["miou"])}
    for metric, bar in BUILDINGS_BARS.items():
        run.rows.append(Row(run.example.name, f"{metric} (Kampala B)", measured[metric], baselines[metric], bar))
    run.notes.append(
        f"{sum(counts.values())} validation pixels: " + ", ".join(f"{n} {c}" for n, c in counts.items())
        + f" (building {q:.1%}); baseline: 'building' everywhere; building precision {building['precision']:.3f}, "
        f"recall {building['recall']:.3f}"
    )


def evaluate_detection(run: Run) -> None:
    report = run.eval_json
    ap50 = float(report["overall"]["ap50"])
    run.rows.append(Row(run.example.name, "AP50 (held-out 30 %)", ap50, None, run.example.bar))
    o = report["overall"]
    threshold = o.get("score_threshold")
    at = "over all its detections" if threshold is None else f"at score ≥ {threshold}"
    run.notes.append(
        f"{o['gt_count']} trees in the validation AOI, {o['pred_count']} detections (PREDICT's score_thresh); "
        f"precision {o['precision']:.3f}, recall {o['recall']:.3f}, F1 {o['f1']:.3f} {at}; mAP@[.5:.95] "
        f"{o['map']:.3f}"
    )


def evaluate_chip_classification(run: Run) -> None:
    report = run.eval_json
    counts = class_counts(report)
    name, share = majority(counts)
    building = next(c for c in report["classes"] if c["class_name"] == "building")
    q = counts["building"] / sum(counts.values())
    # Answering the majority class everywhere: building F1 2q/(1+q) if that class is building, else 0.
    building_f1_baseline = 2 * q / (1 + q) if name == "building" else 0.0
    bar = run.example.bar
    run.rows.append(Row(run.example.name, "cell accuracy", accuracy(report), share, share + bar))
    run.rows.append(Row(run.example.name, "building-cell F1", float(building["f1"]), building_f1_baseline,
                        building_f1_baseline + bar))
    macro_f1 = sum(c["f1"] for c in report["classes"]) / len(report["classes"])
    run.notes.append(
        f"{sum(counts.values())} validation cells: " + ", ".join(f"{n} {c}" for n, c in counts.items())
        + f" (majority: {name}, {share:.1%}); building precision {building['precision']:.3f}, recall "
        f"{building['recall']:.3f}; macro F1 {macro_f1:.3f} (majority answer: {share / (1 + share):.3f})"
    )


def evaluate_segmentation(run: Run) -> None:
    report = run.eval_json
    counts = class_counts(report)
    name, share = majority(counts)
    run.rows.append(Row(run.example.name, "pixel accuracy", accuracy(report), share, share + run.example.bar))
    raster_counts = landcover_validation_counts()
    o = report["overall"]
    run.notes.append(
        f"{sum(counts.values())} validation pixels: " + ", ".join(f"{n} {c}" for n, c in counts.items())
        + f" (majority: {name}, {share:.1%}); mIoU {o['miou']:.3f}, weighted F1 {o['f1']:.3f}"
    )
    same = "same as" if raster_counts == counts else "DIFFERENT from"
    run.notes.append(f"class raster counted inside the validation AOI: {raster_counts} ({same} eval.json)")


def landcover_validation_counts() -> dict[str, int]:
    """Pixels per class of the landcover class raster whose centre lies in the validation AOI (nodata left out).

    An independent count (rasterio, not rv) of the ground truth the
    majority baseline is taken from.
    """
    import numpy as np
    import rasterio
    import rasterio.features
    import rasterio.warp

    data = EXAMPLES_DIR / "data" / "landcover"
    names = {1: "forest", 2: "grass", 3: "urban", 4: "water"}
    with open(data / "validation_aoi.geojson") as f:
        aoi = json.load(f)
    with rasterio.open(data / "s2_aberystwyth_tile4_labels.tif") as src:
        labels = src.read(1)
        geoms = [rasterio.warp.transform_geom("EPSG:4326", src.crs, feat["geometry"]) for feat in aoi["features"]]
        # all_touched=False burns the pixels whose centre is inside: the evaluator's rule.
        inside = rasterio.features.geometry_mask(geoms, labels.shape, src.transform, invert=True)
        nodata = src.nodata
    keep = inside if nodata is None else inside & (labels != nodata)
    ids, n = np.unique(labels[keep], return_counts=True)
    return {names.get(int(i), str(int(i))): int(c) for i, c in zip(ids, n)}


def evaluate(run: Run) -> None:
    if run.eval_json is None:
        run.rows.append(Row(run.example.name, "(no eval.json)", None, None, None))
        return
    kind = run.example.kind
    if kind == "buildings":
        evaluate_buildings(run)
    elif kind == "detection":
        evaluate_detection(run)
    elif kind == "chip_classification":
        evaluate_chip_classification(run)
    else:
        evaluate_segmentation(run)


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _minutes(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f}"


def print_table(runs: list[Run]) -> None:
    header = ["example", "metric", "measured", "baseline", "required", "result", "train min", "train CPU min",
              "run min", "run CPU min", "others' cores"]
    lines = []
    for run in runs:
        for i, row in enumerate(run.rows):
            first = i == 0
            lines.append([
                row.example if first else "", row.metric, _fmt(row.measured), _fmt(row.baseline),
                ("≥ " + _fmt(row.required)) if row.required is not None else "–", row.result,
                _minutes(run.train_wall_s) if first else "", _minutes(run.train_cpu_s) if first else "",
                _minutes(run.wall_s) if first else "", _minutes(run.cpu_s) if first else "",
                f"{run.others_cores:.1f}" if first else "",
            ])
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for line in lines:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip())
    print()
    print("baseline: the majority class's share of the evaluated ground truth (accuracy), or the building F1 of")
    print("answering that class everywhere (buildings: F1, IoU and mIoU of answering 'building' everywhere);")
    print("detection has none. required: the bar of issues 5 and 21 (buildings and trees: absolute).")
    print("train min: wall time of the TRAIN command; train CPU min: CPU time of its process (all threads);")
    print("run min / run CPU min: the whole `rv run` (ANALYZE/CHIP/TRAIN/PREDICT/EVAL/BUNDLE). others' cores: cores")
    print(f"other processes kept busy meanwhile (of {os.cpu_count()}). Training budget: ≤ ~{TRAIN_BUDGET_MIN:.0f} min "
          "on 2 free cores.")
    for run in runs:
        for note in run.notes:
            print(f"  {run.example.name}: {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=sorted(EXAMPLES), metavar="NAME",
                        help=f"run only this example (repeatable): {', '.join(EXAMPLES)}")
    parser.add_argument("--work-dir", help="where the run directories and logs go (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the run directories (checkpoints, predictions)")
    parser.add_argument("--threads", type=int, help="OMP/MKL threads of the run (default: as in this environment)")
    parser.add_argument("-a", "--arg", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                        help="extra experiment argument (then it is no longer the default budget)")
    parser.add_argument("--timeout", type=float, default=60.0, help="minutes before a run is killed (default 60)")
    opts = parser.parse_args(argv)

    names = opts.only or list(EXAMPLES)
    work_dir = opts.work_dir or tempfile.mkdtemp(prefix="rv-example-quality-")
    os.makedirs(work_dir, exist_ok=True)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"rv example quality benchmark ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, load average "
          f"{load}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset') if opts.threads is None else opts.threads})")
    if opts.arg:
        print(f"NOT the default budget: extra arguments {opts.arg}")

    runs = []
    for name in names:
        try:
            run = run_example(EXAMPLES[name], work_dir, opts.threads, [tuple(a) for a in opts.arg], opts.timeout)
            evaluate(run)
        except Exception as exc:  # a benchmark reports and goes on
            run = Run(EXAMPLES[name], "")
            run.rows.append(Row(name, "(error)", None, None, None))
            run.notes.append(f"{type(exc).__name__}: {exc}")
        runs.append(run)
        if run.root and not opts.keep:
            shutil.rmtree(run.root, ignore_errors=True)
        print_table([run])

    if len(runs) > 1:
        print("\n== all examples")
        print_table(runs)
    print(f"\nLoad average at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    if opts.keep:
        print(f"run directories kept in {work_dir}")
    elif not opts.work_dir:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
