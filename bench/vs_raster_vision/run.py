"""rv beside Raster Vision 0.31.1 on one machine: six rows, both sides interleaved, one table.

One command sets everything up and measures both frameworks on the same
synthetic data, with the same versions of torch, torchvision, numpy and
rasterio:

1. Raster Vision 0.31.1 goes into its own virtual environment (default
   ``bench/vs_raster_vision/.venv``, ignored by git; ``--venv PATH`` to put it
   elsewhere), with torch/torchvision/numpy/rasterio pinned to the versions rv's
   environment has, and ``onnxscript`` besides Raster Vision's declared
   dependencies (its TRAIN exports the model to ONNX at the end and fails
   without it). ``--no-install`` uses the environment as it is.
2. The scenes come from rv's own ``bench/_synthetic.py`` (UTM 16N, 0.5 m,
   256² DEFLATE tiles, building footprints as WGS84 GeoJSON): an 8192² scene
   (RGB uint8 and 4-band uint16), a 4096² RGB scene, and a 2048² training and
   a 2048² validation scene.
3. Each row runs the rv side (this interpreter) and the Raster Vision side
   (``rastervision_side.py`` in the other environment) in fresh processes,
   alternating A B A B; rows that take seconds are the median of
   ``--repeats`` (default 3), the long ones (PREDICT, the pipeline) run once.

The rows: start-up (``rv --help`` vs ``rastervision --help``); ANALYZE,
a full statistics pass over the 8192² uint16 scene; CHIP, 1024 random 256²
chips of the 8192² RGB scene with labels rasterized from the GeoJSON (both
write the chips); PREDICT on the 4096² scene at each side's defaults and at
equal work (256² windows, stride 256, one forward pass each, the default
network of each side); the 2048² + 2048² pipeline for 1 epoch at the defaults
and at equal work (64 chips a scene, batch 8: 8 optimiser steps), both with
the ``inprocess`` runner (each framework's documented quick path), with the
chips and steps each side took and building F1 after it; detection EVAL of
2,000 ground-truth against 2,000 predicted boxes read from GeoJSON, in
process (eval.json written; rv also draws its confusion-matrix PNG).

Not a test, not part of CI; about 45 minutes on 2 cores (``--quick``:
small scenes and budgets, to check the script in ~10 minutes). Exits 0
whatever it finds.

    .venv/bin/python bench/vs_raster_vision/run.py            # --help for options
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata

HERE = os.path.abspath(__file__)
FOLDER = os.path.dirname(HERE)
BENCH = os.path.dirname(FOLDER)
sys.path.insert(0, BENCH)
import _synthetic as syn  # noqa: E402
import cli_startup  # noqa: E402
import data_layer_speed  # noqa: E402
import pipeline_overhead  # noqa: E402

RV_SIDE = os.path.join(FOLDER, "rastervision_side.py")
RASTER_VISION = "rastervision==0.31.1"
#: packages whose versions the Raster Vision environment takes from rv's
SAME_VERSIONS = ("torch", "torchvision", "numpy", "rasterio")
#: Raster Vision's TRAIN exports ONNX at its end: it needs onnxscript, which it does not declare
EXTRA = ("onnxscript",)
DETECTION_CLASSES = {1: "car", 2: "truck", 3: "bus"}


# --------------------------------------------------------------------------
# Setup
# --------------------------------------------------------------------------


def venv_python(venv: str) -> str:
    return os.path.join(venv, "bin", "python")


def setup_raster_vision(venv: str, install: bool) -> str:
    """The Raster Vision environment's interpreter, created and installed when missing."""
    python = venv_python(venv)
    pins = [f"{name}=={metadata.version(name)}" for name in SAME_VERSIONS]
    if install and not os.path.exists(python):
        print(f"creating {venv} (Raster Vision {RASTER_VISION.split('==')[1]}, {' '.join(pins)})", flush=True)
        # The interpreter rv's environment was made from (a venv's python would link to this venv).
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", venv], check=True)
    if install:
        check = subprocess.run([python, "-c", "import rastervision.pytorch_learner, onnxscript"], capture_output=True)
        if check.returncode != 0:
            cmd = [python, "-m", "pip", "install", RASTER_VISION, *pins, *EXTRA]
            print("installing:", " ".join(cmd[3:]), flush=True)
            subprocess.run(cmd, check=True)
    if not os.path.exists(python):
        sys.exit(f"{python} does not exist: run without --no-install, or give --venv the environment's folder.")
    return python


def versions(python: str) -> dict[str, str]:
    code = (
        "import json, importlib.metadata as m; print(json.dumps({n: m.version(n) for n in "
        f"{['rastervision', *SAME_VERSIONS]!r}}}))"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def build_scenes(work: str, quick: bool) -> dict:
    """The synthetic scenes of every row (``_synthetic.build_scene``), reused when ``work`` holds them."""
    big, mid, pipe = (1024, 1024, 512) if quick else (8192, 4096, 2048)
    made = {}
    specs = {
        "big": (
            big,
            2000 * (big / 8192) ** 2,
            {"rgb": syn.ImageSpec(big, 3, "uint8"), "ms": syn.ImageSpec(big, 4, "uint16")},
            0,
        ),
        "predict": (mid, 500 * (mid / 4096) ** 2, {"rgb": syn.ImageSpec(mid, 3, "uint8")}, 5),
        "train": (pipe, 125 * (pipe / 2048) ** 2, {"rgb": syn.ImageSpec(pipe, 3, "uint8")}, 11),
        "valid": (pipe, 125 * (pipe / 2048) ** 2, {"rgb": syn.ImageSpec(pipe, 3, "uint8")}, 12),
    }
    for name, (size, buildings, images, seed) in specs.items():
        folder = os.path.join(work, f"{name}-{size}")
        paths = {k: os.path.join(folder, f"{k}-{size}.tif") for k in images}
        geojson = os.path.join(folder, f"buildings-{size}.geojson")
        if all(os.path.exists(p) for p in [*paths.values(), geojson]):
            made[name] = syn.SyntheticScene(size, paths, geojson, int(buildings))
            continue
        t0 = time.perf_counter()
        made[name] = syn.build_scene(folder, size, max(int(buildings), 4), images, seed=seed)
        print(
            f"scene {name}: {size}² ({made[name].num_buildings} buildings) built in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    return made


def write_detection_geojson(work: str, image: str, size: int, n: int) -> tuple[str, str]:
    """Ground truth and predictions of ``data_layer_speed.detection_boxes`` as WGS84 GeoJSON over ``image``."""
    from pyproj import Transformer

    gt, gt_cls, pred, pred_cls, scores = data_layer_speed.detection_boxes(n, size)
    t = syn.transform()
    to_wgs84 = Transformer.from_crs(syn.CRS, "EPSG:4326", always_xy=True)

    def features(boxes, classes, scores=None):
        out = []
        for i, ((ymin, xmin, ymax, xmax), c) in enumerate(zip(boxes.tolist(), classes.tolist())):
            xs, ys = [xmin, xmax, xmax, xmin, xmin], [ymin, ymin, ymax, ymax, ymin]
            lon, lat = to_wgs84.transform([t.c + x * t.a for x in xs], [t.f + y * t.e for y in ys])
            props = {"class_id": int(c), "class_name": DETECTION_CLASSES[int(c)]}
            if scores is not None:
                props["score"] = float(scores[i])
            out.append(
                {
                    "type": "Feature",
                    "properties": props,
                    "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in zip(lon, lat)]]},
                }
            )
        return {"type": "FeatureCollection", "features": out}

    paths = []
    for name, doc in (("gt", features(gt, gt_cls)), ("pred", features(pred, pred_cls, scores))):
        path = os.path.join(work, f"detection-{name}.geojson")
        with open(path, "w") as f:
            json.dump(doc, f)
        paths.append(path)
    return paths[0], paths[1]


# --------------------------------------------------------------------------
# rv's children (this interpreter; `run.py --child NAME ...`)
# --------------------------------------------------------------------------


def child_predict(image: str, work: str, stride: int, tta: str) -> dict:
    """PREDICT of the 4096² scene, the command as ``rv run_command`` runs it, with a resnet18 FPN of random
    weights (speed does not depend on the weights): stride 0 and tta "" are the defaults."""
    import rv.command.predict  # noqa: F401  (imports are not PREDICT's work)
    import rv_pytorch.backend  # noqa: F401

    train_dir = syn.write_random_segmentation_model(os.path.join(work, "model"), tta=tta or None)
    out = tempfile.mkdtemp(prefix="predict-", dir=work)
    config = syn.predict_command_config(image, train_dir, out, stride=stride or None)
    import rasterio

    with rasterio.open(image) as src:
        pixels = src.width * src.height
    with syn.Meter() as m:
        config.run(tempfile.mkdtemp(prefix="tmp-", dir=work))
    shutil.rmtree(out, ignore_errors=True)
    from rv.task.semantic_segmentation_config import default_predict_stride

    return {**m.report(pixels), "stride": stride or default_predict_stride(256)}


def child_eval(image: str, gt: str, pred: str, work: str) -> dict:
    """Detection EVAL in process: GeoJSON ground truth and predictions read, matched, eval.json (and its PNG)."""
    # Imported before the clock, as Raster Vision's side imports its readers: libraries, not EVAL's work.
    # matplotlib is not: only rv draws a picture, and its import is part of that cost.
    import pyproj  # noqa: F401
    import rasterio  # noqa: F401
    import shapely  # noqa: F401

    import rv
    import rv.evaluation.evaluator  # noqa: F401
    import rv_geojson.object_detection_geojson_source  # noqa: F401
    import rv_geojson.object_detection_geojson_store  # noqa: F401
    from rv.command.command_config import EvalCommandConfig
    from rv.command.eval import run_eval

    classes = {name: (cid, color) for (cid, name), color in zip(DETECTION_CLASSES.items(), ("red", "blue", "green"))}
    task = rv.TaskConfig.builder(rv.OBJECT_DETECTION).with_classes(classes).with_chip_size(256).build()
    out = tempfile.mkdtemp(prefix="eval-", dir=work)
    scene = (
        rv.SceneConfig.builder()
        .with_task(task)
        .with_id("eval")
        .with_raster_source(image)
        .with_label_source(gt)
        .with_label_store(pred)
        .build()
    )
    evaluator = (
        rv.EvaluatorConfig.builder(rv.OBJECT_DETECTION_EVALUATOR)
        .with_task(task)
        .with_output_uri(os.path.join(out, "eval.json"))
        .build()
    )
    config = EvalCommandConfig(key="bench", command_uri=out, task=task, evaluators=(evaluator,), scenes=(scene,))
    with syn.Meter() as m:
        run_eval(config, tempfile.mkdtemp(prefix="tmp-", dir=work))
    with open(os.path.join(out, "eval.json")) as f:
        overall = json.load(f)["overall"]
    return {**m.report(1), "f1": overall.get("f1"), "gt": overall.get("gt_count"), "pred": overall.get("pred_count")}


CHILDREN = {"predict": (child_predict, (str, str, int, str)), "eval": (child_eval, (str, str, str, str))}


# --------------------------------------------------------------------------
# Running both sides
# --------------------------------------------------------------------------


def rv_child(what: str, *args) -> dict:
    return syn.run_child(HERE, ["--child", what, *map(str, args)])


def rv_bench_child(module, what: str, *args) -> dict:
    return module.run_child(what, *args)


def ras_child(python: str, what: str, *args, timeout: float = 7200) -> dict:
    """``rastervision_side.py WHAT ARGS`` in the Raster Vision environment; its last stdout line is JSON."""
    env = dict(os.environ, PYTHONPATH=BENCH)
    proc = subprocess.run(
        [python, RV_SIDE, what, *map(str, args)], capture_output=True, text=True, env=env, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"Raster Vision {what} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def interleave(repeats: int, a, b) -> tuple[list, list]:
    """Run ``a()`` and ``b()`` alternately ``repeats`` times; the results of each, failures as exceptions."""
    ra, rb = [], []
    for _ in range(repeats):
        for fn, out in ((a, ra), (b, rb)):
            try:
                out.append(fn())
            except Exception as e:  # noqa: BLE001  (a failed run is reported in the table, not raised)
                print(f"  run failed: {str(e)[:2000]}", flush=True)
                out.append(e)
    return ra, rb


def median_of(runs: list, key: str) -> float | None:
    good = [r[key] for r in runs if isinstance(r, dict)]
    return statistics.median(good) if good else None


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str, str]] = []

    def add(self, row: str, rv_value, ras_value, unit: str, higher_is_better: bool, note: str = "") -> None:
        load = f"{os.getloadavg()[0]:.1f}"
        if rv_value is None or ras_value is None:
            ratio = "n/a"
        else:
            r = rv_value / ras_value if higher_is_better else ras_value / rv_value
            ratio = f"{r:.1f}x"
        fmt = lambda v: "failed" if v is None else f"{v:,.3g} {unit}" if v < 100 else f"{v:,.0f} {unit}"
        self.rows.append((row, fmt(rv_value), fmt(ras_value), ratio, load, note))
        print(
            f"  -> {row}: rv {fmt(rv_value)}, Raster Vision {fmt(ras_value)}, {ratio} (load {load}) {note}", flush=True
        )

    def print(self) -> None:
        head = ("row", "rv", "Raster Vision", "rv ahead", "load", "notes")
        widths = [max(len(str(r[i])) for r in [head, *self.rows]) for i in range(5)]
        line = lambda r: "  ".join(str(v).ljust(w) for v, w in zip(r[:5], widths)) + ("  " + r[5] if r[5] else "")  # noqa: E731
        print(line(head))
        for r in self.rows:
            print(line(r))


def row_startup(table: Table, python: str, repeats: int) -> None:
    env = dict(os.environ)
    rv_argv = cli_startup.commands(sys.executable)["rv --help"]
    ras_argv = [os.path.join(os.path.dirname(python), "rastervision"), "--help"]
    for argv in (rv_argv, ras_argv):  # the first start after an install compiles bytecode
        cli_startup.time_once(argv, env)
    n = repeats
    a, b = interleave(
        n, lambda: {"s": cli_startup.time_once(rv_argv, env)}, lambda: {"s": cli_startup.time_once(ras_argv, env)}
    )
    table.add(
        "start-up: rv --help / rastervision --help", median_of(a, "s"), median_of(b, "s"), "s", False, f"median of {n}"
    )


def row_analyze(table: Table, python: str, scenes: dict, repeats: int) -> None:
    image = scenes["big"].images["ms"]
    a, b = interleave(
        repeats,
        lambda: rv_bench_child(data_layer_speed, "analyze", image, 300, 0),
        lambda: ras_child(python, "analyze", image),
    )
    size = scenes["big"].size
    table.add(
        f"ANALYZE full pass, {size}² uint16 x4",
        median_of(a, "rate"),
        median_of(b, "rate"),
        "MPix/s",
        True,
        f"median of {repeats}",
    )


def row_chip(table: Table, python: str, scenes: dict, work: str, repeats: int, chips: int) -> None:
    sc = scenes["big"]
    image = sc.images["rgb"]
    cores = os.cpu_count() or 1
    out = os.path.join(work, "ras-chips")
    a, b = interleave(
        repeats,
        lambda: rv_bench_child(data_layer_speed, "chip", image, sc.geojson, work, chips, cores),
        lambda: ras_child(python, "chip", image, sc.geojson, out, chips),
    )
    counts = {r.get("count") for r in a + b if isinstance(r, dict)}
    table.add(
        f"CHIP {chips} x 256², GeoJSON labels, {sc.size}² RGB",
        median_of(a, "rate"),
        median_of(b, "rate"),
        "chips/s",
        True,
        f"median of {repeats}; chips written {sorted(counts)}; rv {cores} processes",
    )


def row_eval(table: Table, python: str, scenes: dict, work: str, repeats: int, boxes: int) -> None:
    sc = scenes["predict"]
    gt, pred = write_detection_geojson(work, sc.images["rgb"], sc.size, boxes)
    a, b = interleave(
        repeats,
        lambda: rv_child("eval", sc.images["rgb"], gt, pred, work),
        lambda: ras_child(python, "eval", sc.images["rgb"], gt, pred, work),
    )
    f1 = [f"{r['f1']:.3f}" for r in (a[:1] + b[:1]) if isinstance(r, dict) and r.get("f1") is not None]
    n = next((f"{r['gt']} x {r['pred']}" for r in a if isinstance(r, dict) and r.get("gt")), f"{boxes} x {boxes}")
    table.add(
        f"EVAL detection {n} boxes, in process",
        median_of(a, "seconds"),
        median_of(b, "seconds"),
        "s",
        False,
        f"median of {repeats}; F1 rv/RV {'/'.join(f1)}",
    )


def row_predict(table: Table, python: str, scenes: dict, work: str, bundle: str | None) -> None:
    """PREDICT of the 4096² scene: rv at its defaults and at equal work, Raster Vision at its defaults
    (which are the equal work: 256² windows, stride 256, one pass) with the bundle its pipeline wrote."""
    sc = scenes["predict"]
    image = sc.images["rgb"]
    kpx = lambda runs: None if median_of(runs, "rate") is None else median_of(runs, "rate") / 1e3  # noqa: E731
    a, b = interleave(
        1,
        lambda: rv_child("predict", image, work, 0, ""),
        lambda: ras_child(python, "predict", bundle, image, work) if bundle else {},
    )
    stride = next((r.get("stride") for r in a if isinstance(r, dict)), "?")
    windows = next((r.get("windows") for r in b if isinstance(r, dict)), "?")
    table.add(
        f"PREDICT {sc.size}², defaults",
        kpx(a),
        kpx(b),
        "kpx/s",
        True,
        f"rv: resnet18 FPN, stride {stride}, no TTA; RV: DeepLabV3 resnet50, {windows} windows of 256²",
    )
    (a2,), _ = interleave(1, lambda: rv_child("predict", image, work, 256, "none"), lambda: None)
    table.add(
        f"PREDICT {sc.size}², equal work",
        kpx([a2]),
        kpx(b),
        "kpx/s",
        True,
        "256² windows, stride 256, one pass each, each side's default network (RV's defaults are this)",
    )


def row_pipeline(table: Table, python: str, scenes: dict, work: str, quick: bool, modes: list[str]) -> str | None:
    """Both pipelines at the defaults and at equal work; returns Raster Vision's model bundle (defaults)."""
    import rv.task.semantic_segmentation_config as ssc

    # --quick checks the script: its "defaults" row takes the equal-work chips, not rv's default 1000.
    default_chips = 16 if quick else ssc.SemanticSegmentationChipOptions().chips_per_scene
    threads = os.cpu_count() or 1
    equal_chips = 16 if quick else 64
    runs = {}
    bundle = None
    pairs = [("defaults", default_chips, "defaults"), ("equal work", equal_chips, "equal")]
    for label, rv_chips, ras_mode in [p for p in pairs if p[2] in modes]:
        ras_args = (
            scenes["train"].images["rgb"],
            scenes["train"].geojson,
            scenes["valid"].images["rgb"],
            scenes["valid"].geojson,
            os.path.join(work, f"ras-{ras_mode}"),
            ras_mode,
            equal_chips,
        )
        a, b = interleave(
            1,
            lambda c=rv_chips: pipeline_overhead.run_pipeline("inprocess", scenes, work, c, threads),
            lambda a=ras_args: ras_child(python, "pipeline", *a),
        )
        runs[label] = (a[0], b[0])
        r, s = a[0], b[0]
        ok_r = isinstance(r, dict) and r.get("code") == 0
        ok_s = isinstance(s, dict)
        if ok_s and s.get("bundle"):
            bundle = bundle or s["bundle"]
        f1 = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
        note = (
            f"rv: inprocess, {r.get('chips') if ok_r else '?'} chips, {r.get('trained', '?') if ok_r else '?'}, "
            f"F1 {f1(r.get('building_f1')) if ok_r else '?'}; RV: inprocess, "
            f"{s.get('chips') if ok_s else '?'} chips, {s.get('steps') if ok_s else '?'} steps, "
            f"F1 {f1(s.get('building_f1')) if ok_s else '?'}"
        )
        size = scenes["train"].size
        table.add(
            f"pipeline {size}²+{size}², 1 epoch, {label}",
            r["wall"] if ok_r else None,
            s["seconds"] if ok_s else None,
            "s",
            False,
            note,
        )
    return bundle


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--venv",
        default=os.path.join(FOLDER, ".venv"),
        help="Raster Vision's environment (default bench/vs_raster_vision/.venv, git-ignored)",
    )
    parser.add_argument("--no-install", action="store_true", help="use --venv as it is (no venv, no pip)")
    parser.add_argument("--quick", action="store_true", help="small scenes and budgets: checks the script")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each short row (median; default 3)")
    parser.add_argument(
        "--only",
        nargs="*",
        choices=("startup", "analyze", "chip", "eval", "pipeline", "predict"),
        help="rows to run (default: all)",
    )
    parser.add_argument(
        "--work-dir",
        help="scenes and outputs (default: a temporary directory, removed); scenes already there are reused",
    )
    parser.add_argument(
        "--pipelines",
        nargs="+",
        choices=("defaults", "equal"),
        default=["defaults", "equal"],
        help="which pipeline rows (default both; PREDICT uses Raster Vision's bundle of the first)",
    )
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        fn, types = CHILDREN[args.child[0]]
        print(json.dumps(fn(*(t(v) for t, v in zip(types, args.child[1:])))))
        return 0

    python = setup_raster_vision(os.path.abspath(args.venv), not args.no_install)
    work = args.work_dir or tempfile.mkdtemp(prefix="rv-vs-raster-vision-")
    os.makedirs(work, exist_ok=True)
    only = set(args.only or ("startup", "analyze", "chip", "eval", "pipeline", "predict"))
    try:
        ours = {n: metadata.version(n) for n in SAME_VERSIONS}
        theirs = versions(python)
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        print(
            f"rv vs Raster Vision {theirs.get('rastervision')}  ({time.strftime('%Y-%m-%d %H:%M %Z')}, "
            f"{os.cpu_count()} CPUs, load average {load}){'  --quick' if args.quick else ''}",
            flush=True,
        )
        print("versions rv / RV: " + ", ".join(f"{n} {ours[n]}/{theirs.get(n)}" for n in SAME_VERSIONS), flush=True)
        scenes = build_scenes(work, args.quick)
        table = Table()
        chips = 128 if args.quick else 1024
        boxes = 2000
        if "startup" in only:
            row_startup(table, python, args.repeats)
        if "analyze" in only:
            row_analyze(table, python, scenes, args.repeats)
        if "chip" in only:
            row_chip(table, python, scenes, work, args.repeats, chips)
        if "eval" in only:
            row_eval(table, python, scenes, work, args.repeats, boxes)
        bundle = None
        if "pipeline" in only:
            bundle = row_pipeline(table, python, scenes, work, args.quick, args.pipelines)
        if "predict" in only:
            if bundle is None:  # PREDICT alone: Raster Vision's model comes from its equal-work pipeline
                bundle = ras_child(
                    python,
                    "pipeline",
                    scenes["train"].images["rgb"],
                    scenes["train"].geojson,
                    scenes["valid"].images["rgb"],
                    scenes["valid"].geojson,
                    os.path.join(work, "ras-bundle"),
                    "equal",
                    16 if args.quick else 64,
                )["bundle"]
            row_predict(table, python, scenes, work, bundle)
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        print(
            f"\nrv vs Raster Vision {theirs.get('rastervision')}, {time.strftime('%Y-%m-%d %H:%M %Z')}, "
            f"{os.cpu_count()} CPUs, load average now {load} ('rv ahead': rv's speed over Raster Vision's)"
        )
        table.print()
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
