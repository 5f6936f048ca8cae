"""Peak memory of rv's data layer: the segmentation label store, and CHIP as the scene grows.

Every measurement runs in its own child process and reports that child's
peak resident set size, so one measurement's peak never hides in another's.
The peak is ``VmHWM`` from ``/proc/self/status``; ``getrusage(RUSAGE_SELF)
.ru_maxrss`` is printed beside it but is only an upper bound, because Linux
carries the spawning parent's peak across fork + exec into the child's
``ru_maxrss`` (the parent here stays small — it builds nothing itself — so
the two agree to within the parent's ~30 MiB).

0. Baselines: a child that only imports ``rv``; one that also imports the
   data layer's libraries (rasterio/GDAL, shapely, pyproj, rv_geojson).
1. LABEL STORE: ``SemanticSegmentationRasterStore`` writing a 20000×20000
   scene window by window (1024² windows, row by row, as PREDICT writes
   them) with class ids only, and with per-class float32 scores on; target
   peak RSS < 1 GB (1024 MiB).
2. CHIP on a 2048² scene and on an 8192² one (16× the area, 16× the
   buildings), (a) with the same ``chips_per_scene`` of random 256² windows,
   and (b) sliding over the whole scene (64 vs 1,024 chips): the peak RSS of
   the CHIP command (``run_chip`` with one process per CPU sharing the
   scene: the larger of the parent's peak and the largest worker's), and of
   the chipping loop alone in one process (``Task.chip_scene`` +
   ``ChipWriter``, labels rasterized from GeoJSON); target: flat (the large
   scene's peak ≤ 1.25× the small one's).
3. ANALYZE on a 4-band uint16 4096² scene and on an 8192² one (4× the area,
   the small scene's pixels tiled), a full pass: the peak RSS of the command
   (``run_analyze`` on an ``AnalyzeCommandConfig`` with a full-pass
   ``STATS_ANALYZER``, one process per CPU: the larger of the parent's peak
   and the largest forked worker's ``ru_maxrss``), and of the streaming loop
   alone in one process (``StatsAnalyzer(sample_prob=1, num_workers=1)``);
   target: flat (the large scene's peak ≤ 1.25× the small one's), since the
   statistics are streamed window by window.

``--only store,chip,analyze`` runs some of the sections.

Run: ``.venv/bin/python bench/data_layer_memory.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _synthetic as syn  # noqa: E402

HERE = os.path.abspath(__file__)
TARGET_STORE_MIB = 1024
TARGET_CHIP_RATIO = 1.25  # "flat": the 16x scene may cost at most a quarter more


# --------------------------------------------------------------------------
# Children
# --------------------------------------------------------------------------


def child_baseline(with_libs: int) -> dict:
    import rv  # noqa: F401

    if with_libs:
        import pyproj  # noqa: F401
        import rasterio  # noqa: F401
        import rasterio.features  # noqa: F401
        import shapely  # noqa: F401

        import rv.chips  # noqa: F401
        import rv.data.raster_source.geotiff_source  # noqa: F401
        import rv_geojson.geojson_raster_source  # noqa: F401
    return {"peak_mib": syn.peak_rss_mb(), "ru_maxrss_mib": syn.ru_maxrss_mb()}


def child_build(work_dir: str, size: int, buildings: int) -> dict:
    """Build a 3-band uint8 CHIP scene (in a child, so the parent process stays small)."""
    sc = syn.build_scene(work_dir, size, buildings, {"rgb": syn.ImageSpec(size, 3, "uint8")})
    return {"image": sc.images["rgb"], "geojson": sc.geojson, "buildings": sc.num_buildings}


def child_store(size: int, window: int, scores: int, out_dir: str) -> dict:
    """Stream a ``size``² prediction into the label store, one ``window``² window at a time."""
    from rv.core.box import Box
    from rv.data.label_store.semantic_segmentation_raster_store import SemanticSegmentationRasterStore

    cmap = syn.class_map()
    n_classes = len(cmap)
    uri = os.path.join(out_dir, "pred.tif")
    store = SemanticSegmentationRasterStore(
        uri, Box(0, 0, size, size), syn.CRS, syn.transform(), cmap, write_scores=bool(scores)
    )
    # Smooth per-class logits over the scene, a sum of a function of the row and
    # one of the column (three random sinusoids each): regions with curved edges,
    # not constant tiles, at one addition per pixel and class.
    rng = np.random.default_rng(0)
    freqs = rng.uniform(1 / 3000, 1 / 300, (2, n_classes, 3))
    phases = rng.uniform(0, 2 * np.pi, (2, n_classes, 3))

    def waves(coords: np.ndarray, axis: int) -> np.ndarray:
        # (len(coords), n_classes) float32
        arg = coords[:, None, None] * 2 * np.pi * freqs[axis][None] + phases[axis][None]
        return np.sin(arg).sum(axis=-1).astype(np.float32)

    rss_before = syn.peak_rss_mb()
    t0 = time.perf_counter()
    n_windows = 0
    write_seconds = 0.0
    with store.open_writer() as writer:
        for win in Box(0, 0, size, size).get_windows(window, padding="pad"):
            rows = np.arange(win.ymin, win.ymax, dtype=np.float64)
            cols = np.arange(win.xmin, win.xmax, dtype=np.float64)
            logits = waves(rows, 0)[:, None, :] + waves(cols, 1)[None, :, :]  # (H, W, n_classes)
            class_arr = np.asarray(cmap.ids, dtype=np.uint8)[logits.argmax(axis=-1)]
            probs = None
            if scores:
                e = np.exp(logits - logits.max(axis=-1, keepdims=True))
                probs = (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
            tw = time.perf_counter()
            writer.write(win, class_arr, probs)
            write_seconds += time.perf_counter() - tw
            n_windows += 1
        tw = time.perf_counter()
    # Closing flushes GDAL's cache and moves the files into place: part of writing.
    write_seconds += time.perf_counter() - tw
    seconds = time.perf_counter() - t0
    sizes = {os.path.basename(p): os.path.getsize(p) for p in (store.uri, store.scores_uri) if os.path.exists(p)}
    # A spot check that what was written reads back (class ids of one window).
    sample = store.get_label_arr(Box(0, 0, 256, 256))
    return {
        "peak_mib": syn.peak_rss_mb(),
        "ru_maxrss_mib": syn.ru_maxrss_mb(),
        "before_mib": rss_before,
        "seconds": seconds,
        "write_seconds": write_seconds,
        "windows": n_windows,
        "sizes": sizes,
        "sample_classes": sorted(int(v) for v in np.unique(sample)),
    }


def child_chip(image: str, geojson: str, out_dir: str, method: str, chips: int) -> dict:
    """Chip one scene through rv (random windows or sliding over all) and report the peak RSS."""
    import rasterio  # noqa: F401  - imported before the baseline reading below
    import rasterio.features  # noqa: F401
    import shapely  # noqa: F401

    import rv.chips  # noqa: F401
    import rv_geojson.geojson_raster_source  # noqa: F401

    rss_libs = syn.peak_rss_mb()
    scene = syn.rv_segmentation_scene("bench", image, geojson)
    options = {"window_method": method}
    if method == "random_sample":
        options["chips_per_scene"] = chips
    else:
        options["stride"] = 256  # windows side by side: every pixel read once (the default overlaps by half)
    task = syn.segmentation_task(256, **options)
    t0 = time.perf_counter()
    count, _ = syn.chip_scene(scene, task, out_dir)
    seconds = time.perf_counter() - t0
    return {
        "peak_mib": syn.peak_rss_mb(),
        "ru_maxrss_mib": syn.ru_maxrss_mb(),
        "libs_mib": rss_libs,
        "count": count,
        "seconds": seconds,
    }


def child_chip_command(image: str, geojson: str, work_dir: str, method: str, chips: int, workers: int) -> dict:
    """CHIP through the command (``run_chip``, ``workers`` processes sharing the scene): the peak RSS of
    the parent and of the largest worker."""
    import resource

    import rasterio  # noqa: F401
    import rasterio.features  # noqa: F401
    import shapely  # noqa: F401

    import rv.chips  # noqa: F401
    import rv.command.chip
    import rv_geojson.geojson_raster_source  # noqa: F401

    options = {"window_method": method}
    if method == "random_sample":
        options["chips_per_scene"] = chips
    else:
        options["stride"] = 256  # windows side by side: every pixel read once (the default overlaps by half)
    out = os.path.join(work_dir, "chips")
    tmp = tempfile.mkdtemp(prefix="tmp-", dir=work_dir)
    config = syn.chip_command_config(image, geojson, out, 256, **options)
    t0 = time.perf_counter()
    rv.command.chip.run_chip(config, tmp, workers=workers)
    seconds = time.perf_counter() - t0
    with open(os.path.join(out, "chips.json")) as f:
        count = json.load(f)["counts"]["train"]
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)
    # The workers were forked (no exec): each one's ru_maxrss is its own peak, shared pages included.
    workers_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    parent = syn.peak_rss_mb()
    return {
        "peak_mib": max(parent, workers_mib),
        "parent_mib": parent,
        "workers_mib": workers_mib,
        "count": count,
        "seconds": seconds,
    }


def child_build_analyze(work_dir: str, small: int, large: int) -> dict:
    """The ANALYZE scenes: a ``small``² 4-band uint16 GeoTIFF (DEFLATE, 256² tiles) and a ``large``² one
    tiled from its pixels (:func:`_synthetic.write_mosaic_image`), built in a child."""
    os.makedirs(work_dir, exist_ok=True)
    spec = syn.ImageSpec(small, 4, "uint16")
    small_path = syn.write_image(os.path.join(work_dir, f"ms-{small}.tif"), spec)
    large_path = syn.write_mosaic_image(os.path.join(work_dir, f"ms-{large}.tif"), large, small_path)
    return {"small": small_path, "large": large_path}


def child_analyze(image: str, work_dir: str, workers: int) -> dict:
    """A full ANALYZE pass over one scene and its peak RSS. ``workers`` 0: the command (``run_analyze``,
    one process per CPU; the peak is the larger of the parent's and the largest forked worker's);
    1: the streaming loop alone in this process (``StatsAnalyzer(sample_prob=1, num_workers=1)``)."""
    import resource

    import rasterio

    import rv
    from rv.analyzer.stats_analyzer import StatsAnalyzer
    from rv.analyzer.stats_analyzer_config import StatsAnalyzerConfig
    from rv.command.analyze import run_analyze
    from rv.command.command_config import AnalyzeCommandConfig
    from rv.data.raster_source.geotiff_source import GeoTIFFSource

    libs = syn.peak_rss_mb()
    tmp = tempfile.mkdtemp(prefix="tmp-", dir=work_dir)
    t0 = time.perf_counter()
    if workers == 1:
        stats = StatsAnalyzer(sample_prob=1.0, num_workers=1).process([GeoTIFFSource(image, tmp_dir=tmp)]).to_dict()
    else:
        scene = (
            rv.SceneConfig.builder()
            .with_task(syn.segmentation_task_config(256))
            .with_id("bench")
            .with_raster_source(rv.RasterSourceConfig.builder(rv.GEOTIFF_SOURCE).with_uri(image))
            .build()
        )
        out = os.path.join(work_dir, "analyze")
        analyzer = StatsAnalyzerConfig(sample_prob=1.0)
        run_analyze(AnalyzeCommandConfig(key="bench", command_uri=out, analyzers=(analyzer,), scenes=(scene,)), tmp)
        with open(os.path.join(out, "stats.json")) as f:
            stats = json.load(f)
        shutil.rmtree(out, ignore_errors=True)
    seconds = time.perf_counter() - t0
    shutil.rmtree(tmp, ignore_errors=True)
    with rasterio.open(image) as ds:
        mpix = ds.width * ds.height / 1e6
    # Forked without exec: each worker's ru_maxrss is its own peak (pages shared with the parent included).
    workers_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    parent = syn.peak_rss_mb()
    return {
        "peak_mib": max(parent, workers_mib),
        "parent_mib": parent,
        "ru_maxrss_mib": syn.ru_maxrss_mb(),
        "workers_mib": workers_mib,
        "libs_mib": libs,
        "seconds": seconds,
        "mpix": mpix,
        "count": stats["count"],
    }


CHILDREN = {
    "baseline": (child_baseline, (int,)),
    "build": (child_build, (str, int, int)),
    "store": (child_store, (int, int, int, str)),
    "chip": (child_chip, (str, str, str, str, int)),
    "chip_command": (child_chip_command, (str, str, str, str, int, int)),
    "build_analyze": (child_build_analyze, (str, int, int)),
    "analyze": (child_analyze, (str, str, int)),
}


def run_child(what: str, *args) -> dict:
    return syn.run_child(HERE, ["--child", what, *map(str, args)])


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def mib(v: float) -> str:
    return f"{v:,.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store-size", type=int, default=20000, help="label store scene side (default 20000)")
    parser.add_argument("--store-window", type=int, default=1024, help="label store write window (default 1024)")
    parser.add_argument("--small", type=int, default=2048, help="CHIP small scene side (default 2048)")
    parser.add_argument("--large", type=int, default=8192, help="CHIP large scene side (default 8192)")
    parser.add_argument("--buildings", type=int, default=125, help="buildings in the small scene (scaled by area)")
    parser.add_argument("--chips", type=int, default=500, help="chips_per_scene of random_sample (default 500)")
    parser.add_argument("--analyze-small", type=int, default=4096, help="ANALYZE small scene side (default 4096)")
    parser.add_argument(
        "--analyze-large", type=int, default=8192, help="ANALYZE large scene side (default 8192: 4x the area)"
    )
    parser.add_argument("--only", default="store,chip,analyze", help="sections to run (default store,chip,analyze)")
    parser.add_argument("--work-dir", help="where to build scenes (default: a temporary directory, removed)")
    args = parser.parse_args()
    sections = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = sections - {"store", "chip", "analyze"}
    if unknown:
        parser.error(f"--only: unknown section(s) {sorted(unknown)}; choose from store, chip, analyze")

    work = args.work_dir or tempfile.mkdtemp(prefix="rv-bench-memory-")
    rows = []
    try:
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        print(
            f"rv data-layer memory benchmark  ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, load {load})"
        )
        base = run_child("baseline", 0)
        libs = run_child("baseline", 1)
        print(
            f"baseline child: import rv {mib(base['peak_mib'])} (ru_maxrss {mib(base['ru_maxrss_mib'])}); "
            f"+ rasterio/shapely/pyproj/rv_geojson {mib(libs['peak_mib'])} (ru_maxrss {mib(libs['ru_maxrss_mib'])})"
        )
        rows.append(("child importing rv only", mib(base["peak_mib"]), "", "reference", ""))
        rows.append(("  + data-layer libraries", mib(libs["peak_mib"]), "", "reference", ""))

        # 1. Label store.
        for scores in (0, 1) if "store" in sections else ():
            out = tempfile.mkdtemp(prefix="store-", dir=work)
            r = run_child("store", args.store_size, args.store_window, scores, out)
            shutil.rmtree(out, ignore_errors=True)
            what = "class ids + scores (float32 x2)" if scores else "class ids"
            files = ", ".join(f"{k} {v / 2**20:,.0f} MiB" for k, v in r["sizes"].items())
            print(
                f"LABEL STORE {args.store_size}² {what}: {r['windows']} windows of {args.store_window}² in "
                f"{r['seconds']:.0f} s ({r['write_seconds']:.0f} s in the store), peak RSS {mib(r['peak_mib'])} (ru_maxrss {mib(r['ru_maxrss_mib'])}; "
                f"before writing {mib(r['before_mib'])}); "
                f"files: {files}; read-back classes {r['sample_classes']}"
            )
            rows.append(
                (
                    f"label store {args.store_size}², {what}",
                    mib(r["peak_mib"]),
                    "",
                    f"< {TARGET_STORE_MIB} MiB",
                    "PASS" if r["peak_mib"] < TARGET_STORE_MIB else "FAIL",
                )
            )

        # 2. CHIP on a scene and on one 16x larger.
        if "chip" in sections:
            chip_section(args, work, rows)
        # 3. ANALYZE on a scene and on one 4x larger.
        if "analyze" in sections:
            analyze_section(args, work, rows)

        header = ("measurement", "peak RSS", "ratio", "target", "result")
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        print()
        for r in [header, tuple("-" * w for w in widths), *rows]:
            print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip())
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)


def chip_section(args: argparse.Namespace, work: str, rows: list) -> None:
    """CHIP's peak RSS (the command and the loop) on ``--small``² and ``--large``² scenes."""
    scenes = {}
    t0 = time.perf_counter()
    for size in (args.small, args.large):
        n = int(round(args.buildings * (size / args.small) ** 2))
        scenes[size] = run_child("build", os.path.join(work, f"scene-{size}"), size, n)
    print(
        f"built CHIP scenes {args.small}² ({scenes[args.small]['buildings']} buildings) and {args.large}² "
        f"({scenes[args.large]['buildings']}), 3-band uint8, DEFLATE, in {time.perf_counter() - t0:.0f} s"
    )
    area = (args.large / args.small) ** 2
    workers = os.cpu_count() or 1
    for method in ("random_sample", "sliding"):
        res = {}
        for size, sc in scenes.items():
            out = tempfile.mkdtemp(prefix=f"command-{size}-", dir=work)
            res[size] = run_child("chip_command", sc["image"], sc["geojson"], out, method, args.chips, workers)
            shutil.rmtree(out, ignore_errors=True)
        small, large = res[args.small], res[args.large]
        ratio = large["peak_mib"] / small["peak_mib"]
        how = f"{args.chips} random chips each" if method == "random_sample" else "sliding over all"
        print(
            f"CHIP command (run_chip, {workers} processes) {method}: {args.small}² {small['count']} chips in "
            f"{small['seconds']:.1f} s, peak parent {mib(small['parent_mib'])}, largest worker "
            f"{mib(small['workers_mib'])}; {args.large}² {large['count']} chips in {large['seconds']:.1f} s, peak "
            f"parent {mib(large['parent_mib'])}, largest worker {mib(large['workers_mib'])}; ratio {ratio:.2f}"
        )
        rows.append(
            (
                f"CHIP command, {workers} proc., {how}: {args.small}² → {args.large}²",
                f"{mib(small['peak_mib'])} → {mib(large['peak_mib'])}",
                f"{ratio:.2f}x",
                f"flat (≤ {TARGET_CHIP_RATIO}x)",
                "PASS" if ratio <= TARGET_CHIP_RATIO else "FAIL",
            )
        )
    for method in ("random_sample", "sliding"):
        res = {}
        for size, sc in scenes.items():
            out = os.path.join(work, f"chips-{size}-{method}")
            res[size] = run_child("chip", sc["image"], sc["geojson"], out, method, args.chips)
            shutil.rmtree(out, ignore_errors=True)
        small, large = res[args.small], res[args.large]
        ratio = large["peak_mib"] / small["peak_mib"]
        how = f"{args.chips} random chips each" if method == "random_sample" else "sliding over all"
        print(
            f"CHIP {method}: {args.small}² {small['count']} chips in {small['seconds']:.1f} s, peak "
            f"{mib(small['peak_mib'])} (ru_maxrss {mib(small['ru_maxrss_mib'])}, after imports "
            f"{mib(small['libs_mib'])}); {args.large}² ({area:.0f}x area) {large['count']} chips in "
            f"{large['seconds']:.1f} s, peak {mib(large['peak_mib'])} (ru_maxrss {mib(large['ru_maxrss_mib'])}, "
            f"after imports {mib(large['libs_mib'])}); ratio {ratio:.2f}"
        )
        rows.append(
            (
                f"CHIP loop, 1 proc., {how}: {args.small}² → {args.large}²",
                f"{mib(small['peak_mib'])} → {mib(large['peak_mib'])}",
                f"{ratio:.2f}x",
                f"flat (≤ {TARGET_CHIP_RATIO}x)",
                "PASS" if ratio <= TARGET_CHIP_RATIO else "FAIL",
            )
        )


def analyze_section(args: argparse.Namespace, work: str, rows: list) -> None:
    """ANALYZE's peak RSS (the command and the loop alone) on ``--analyze-small``² and ``--analyze-large``²."""
    small_side, large_side = args.analyze_small, args.analyze_large
    t0 = time.perf_counter()
    paths = run_child("build_analyze", os.path.join(work, "analyze-scenes"), small_side, large_side)
    print(
        f"built ANALYZE scenes {small_side}² and {large_side}² ({(large_side / small_side) ** 2:.0f}x the area), "
        f"4-band uint16, DEFLATE, in {time.perf_counter() - t0:.0f} s"
    )
    area = (large_side / small_side) ** 2
    cpus = os.cpu_count() or 1
    for workers, what in ((0, f"ANALYZE command, {cpus} proc."), (1, "ANALYZE loop, 1 proc.")):
        res = {}
        for name in ("small", "large"):
            out = tempfile.mkdtemp(prefix=f"analyze-{name}-", dir=work)
            res[name] = run_child("analyze", paths[name], out, workers)
            shutil.rmtree(out, ignore_errors=True)
        small, large = res["small"], res["large"]
        ratio = large["peak_mib"] / small["peak_mib"]

        def text(r: dict, side: int) -> str:
            return (
                f"{side}² {r['mpix']:.0f} MPix in {r['seconds']:.1f} s ({r['mpix'] / r['seconds']:.1f} MPix/s), "
                f"peak {mib(r['peak_mib'])} (parent {mib(r['parent_mib'])}, ru_maxrss {mib(r['ru_maxrss_mib'])}, "
                f"largest worker {mib(r['workers_mib'])}, after imports {mib(r['libs_mib'])})"
            )

        print(
            f"{what}, full pass (sample_prob=1): {text(small, small_side)}; {text(large, large_side)} "
            f"({area:.0f}x area); ratio {ratio:.2f}"
        )
        rows.append(
            (
                f"{what}, full pass: {small_side}² → {large_side}²",
                f"{mib(small['peak_mib'])} → {mib(large['peak_mib'])}",
                f"{ratio:.2f}x",
                f"flat (≤ {TARGET_CHIP_RATIO}x)",
                "PASS" if ratio <= TARGET_CHIP_RATIO else "FAIL",
            )
        )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        fn, types = CHILDREN[sys.argv[2]]
        print(json.dumps(fn(*(t(a) for t, a in zip(types, sys.argv[3:])))))
    else:
        main()
