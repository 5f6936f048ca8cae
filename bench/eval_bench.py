"""EVAL: detection evaluation time beside a plain-Python loop, and segmentation EVAL's peak RSS as the scene grows.

1. DETECTION: ``evaluate_object_detection`` + the ``eval.json`` dict for
   2,000 ground-truth boxes (3 classes) against 2,000 predictions (the boxes
   of ``data_layer_speed.py``: 90 % of the truth jittered, 5 % with the wrong
   class, plus false positives), median of ``--repeats``. Baseline, measured
   in the same run: a plain Python loop doing *less* — matching at IoU 0.5
   only (rv also matches at the nine thresholds 0.55…0.95 for mAP and builds
   the confusion matrix): per class, predictions by descending score, each
   scanning every ground-truth box of its class for the unmatched one of
   highest IoU, then precision/recall/F1 and the 101-point AP50. The loop's
   F1 and AP50 are checked equal to rv's, so both did the same matching.
   Target: rv ≤ 0.2 s (Raster Vision 0.31: 1.6 s).
2. SEGMENTATION: the ``SemanticSegmentationEvaluator`` (what EVAL runs) on
   one scene of ``--small``² (default 5000) and of ``--large``² (default
   20000, 16× the area) px: ground truth a uint8 class raster (3 classes,
   512² tiles, DEFLATE) through ``SemanticSegmentationRasterSource``,
   predictions the same raster with blocks of errors through
   ``SemanticSegmentationRasterStore``, the image (read for its nodata mask,
   as EVAL reads it) the ground-truth file. Written to
   a temporary directory under /tmp (``--work-dir``). Each evaluation runs
   in a fresh child that reports its peak RSS (``VmHWM``; ``getrusage``'s
   ``ru_maxrss`` beside it). Target: flat, the large scene's peak ≤ 1.25×
   the small one's (memory bounded by the 1024² window, not the scene).

Run: ``.venv/bin/python bench/eval_bench.py`` (``--help``; ``--only detection`` or ``--only segmentation``).
Not a test: exits 0 whatever it finds and prints PASS/FAIL per target.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _synthetic as syn  # noqa: E402
from data_layer_speed import detection_boxes  # noqa: E402

HERE = os.path.abspath(__file__)
TARGET_EVAL_S = 0.2
TARGET_RSS_RATIO = 1.25
RV031_EVAL = "1.6 s"
TILE = 512


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# --------------------------------------------------------------------------
# 1. Detection
# --------------------------------------------------------------------------


def plain_loop_detection(gt, gt_cls, pred, pred_cls, scores, class_ids, iou_thresh=0.5) -> dict:
    """Precision, recall, F1 (ground-truth weighted) and AP50 by plain Python loops over lists of boxes."""
    gt_l = [tuple(map(float, b)) for b in gt]
    pred_l = [tuple(map(float, b)) for b in pred]
    gt_c = [int(c) for c in gt_cls]
    pred_c = [int(c) for c in pred_cls]
    score_l = [float(s) for s in scores]

    def iou(a, b):
        ih = min(a[2], b[2]) - max(a[0], b[0])
        iw = min(a[3], b[3]) - max(a[1], b[1])
        if ih <= 0 or iw <= 0:
            return 0.0
        inter = ih * iw
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union if union > 0 else 0.0

    rows = []
    for c in class_ids:
        gts = [i for i in range(len(gt_l)) if gt_c[i] == c]
        preds = sorted((i for i in range(len(pred_l)) if pred_c[i] == c), key=lambda i: -score_l[i])
        taken = set()
        is_tp = []
        for p in preds:
            best, best_iou = -1, iou_thresh
            for g in gts:
                if g in taken:
                    continue
                v = iou(pred_l[p], gt_l[g])
                if v >= best_iou and (best < 0 or v > best_iou):
                    best, best_iou = g, v
            if best >= 0:
                taken.add(best)
            is_tp.append(best >= 0)
        tp = sum(is_tp)
        precision = tp / len(preds) if preds else 0.0
        recall = tp / len(gts) if gts else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        # COCO 101-point AP: precision envelope sampled at recall 0, 0.01, ..., 1
        precisions, recalls, hits = [], [], 0
        for k, hit in enumerate(is_tp, 1):
            hits += hit
            precisions.append(hits / k)
            recalls.append(hits / len(gts) if gts else 0.0)
        for k in range(len(precisions) - 2, -1, -1):
            precisions[k] = max(precisions[k], precisions[k + 1])
        samples = []
        for r in (i / 100 for i in range(101)):
            j = next((k for k, rec in enumerate(recalls) if rec >= r - 1e-12), None)
            samples.append(precisions[j] if j is not None else 0.0)
        rows.append((len(gts), precision, recall, f1, sum(samples) / len(samples)))
    total = sum(r[0] for r in rows)
    with_gt = [r for r in rows if r[0] > 0]
    return {
        "precision": sum(r[0] * r[1] for r in rows) / total,
        "recall": sum(r[0] * r[2] for r in rows) / total,
        "f1": sum(r[0] * r[3] for r in rows) / total,
        "map50": sum(r[4] for r in with_gt) / len(with_gt),
    }


def bench_detection(n_gt: int, size: int, repeats: int) -> dict:
    from rv.core.class_map import ClassItem, ClassMap
    from rv.evaluation.classification_metrics import EvaluationReport
    from rv.evaluation.object_detection_evaluation import evaluate_object_detection
    from rv.labels.object_detection_labels import ObjectDetectionLabels

    gt, gt_cls, pred, pred_cls, scores = detection_boxes(n_gt, size)
    class_map = ClassMap([ClassItem(1, "car"), ClassItem(2, "truck"), ClassItem(3, "bus")])
    gt_labels = ObjectDetectionLabels(gt, gt_cls)
    pred_labels = ObjectDetectionLabels(pred, pred_cls, scores)
    rv_times, loop_times = [], []
    report = loop = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        evaluation = evaluate_object_detection(gt_labels, pred_labels, class_map)
        report = EvaluationReport({"scene": evaluation}).to_dict()
        rv_times.append(time.perf_counter() - t0)
    for _ in range(max(1, min(repeats, 3))):  # the loop is slow: 3 runs at most
        t0 = time.perf_counter()
        loop = plain_loop_detection(gt, gt_cls, pred, pred_cls, scores, [1, 2, 3])
        loop_times.append(time.perf_counter() - t0)
    overall = report["overall"]
    return {
        "n_gt": len(gt), "n_pred": len(pred),
        "rv_median": statistics.median(rv_times), "rv_best": min(rv_times),
        "loop_median": statistics.median(loop_times), "loop_best": min(loop_times),
        "rv_f1": overall["f1"], "rv_map50": overall["map50"], "rv_map": overall["map"],
        "loop_f1": loop["f1"], "loop_map50": loop["map50"],
    }


# --------------------------------------------------------------------------
# 2. Segmentation (children)
# --------------------------------------------------------------------------


def _classes(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """uint8 class ids 0/1/2 of a smooth, blocky pattern (fields and roofs), deterministic in position."""
    a = ((rows // 37) * 7 + (cols // 53) * 3) % 11
    return np.where(a < 6, 0, np.where(a < 9, 1, 2)).astype(np.uint8)


def child_write(size: int, work_dir: str) -> dict:
    """Write ``gt_<size>.tif`` and ``pred_<size>.tif`` one row of tiles at a time."""
    import rasterio

    t0 = time.perf_counter()
    profile = {
        "driver": "GTiff", "dtype": "uint8", "count": 1, "width": size, "height": size, "crs": syn.CRS,
        "transform": syn.transform(), "tiled": True, "blockxsize": TILE, "blockysize": TILE,
        "compress": "deflate",
    }
    gt_path = os.path.join(work_dir, f"gt_{size}.tif")
    pred_path = os.path.join(work_dir, f"pred_{size}.tif")
    cols = np.arange(size)
    with rasterio.open(gt_path, "w", **profile) as gt, rasterio.open(pred_path, "w", **(profile | {"nodata": 255})) as pr:
        for row0 in range(0, size, TILE):
            h = min(TILE, size - row0)
            rows = np.arange(row0, row0 + h)[:, None]
            arr = _classes(rows, cols[None, :])
            window = rasterio.windows.Window(0, row0, size, h)
            gt.write(arr, 1, window=window)
            wrong = ((rows // 101 + cols[None, :] // 97) % 13) == 0  # blocks of errors
            pr.write(np.where(wrong, (arr + 1) % 3, arr).astype(np.uint8), 1, window=window)
    return {"seconds": time.perf_counter() - t0, "gt": gt_path, "pred": pred_path}


def child_evaluate(size: int, work_dir: str) -> dict:
    """Run the segmentation evaluator over one scene; report the time and this process's peak RSS."""
    from rv.core.class_map import ClassMap
    from rv.data.label_source.semantic_segmentation_raster_source import SemanticSegmentationRasterSource
    from rv.data.label_store.semantic_segmentation_raster_store import SemanticSegmentationRasterStore
    from rv.data.raster_source.geotiff_source import GeoTIFFSource
    from rv.data.scene import Scene
    from rv.evaluation.evaluator import SemanticSegmentationEvaluator

    after_imports = syn.peak_rss_mb()
    class_map = ClassMap.from_spec({"background": 0, "building": 1, "road": 2}, background_class_id=0)
    gt_path = os.path.join(work_dir, f"gt_{size}.tif")
    pred_path = os.path.join(work_dir, f"pred_{size}.tif")
    image = GeoTIFFSource(gt_path)  # read window by window for the nodata mask, as EVAL reads the image
    label_source = SemanticSegmentationRasterSource(GeoTIFFSource(gt_path), class_map)
    store = SemanticSegmentationRasterStore.from_raster_source(pred_path, image, class_map)
    scene = Scene(f"scene_{size}", image, label_source, store)
    out = os.path.join(work_dir, f"eval_{size}", "eval.json")
    t0 = time.perf_counter()
    report = SemanticSegmentationEvaluator(class_map, out, plot=True).process([scene])
    seconds = time.perf_counter() - t0
    overall = report.to_dict()["overall"]
    return {
        "seconds": seconds, "peak_mb": syn.peak_rss_mb(), "ru_maxrss_mb": syn.ru_maxrss_mb(),
        "after_imports_mb": after_imports, "miou": overall["miou"], "gt_count": overall["gt_count"],
    }


def run_child(what: str, *args) -> dict:
    return syn.run_child(HERE, ["--child", what, *map(str, args)], timeout=3600)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="detection,segmentation", help="sections: detection, segmentation")
    parser.add_argument("--boxes", type=int, default=2000, help="ground-truth (and predicted) boxes")
    parser.add_argument("--repeats", type=int, default=5, help="runs of rv's detection evaluation (median)")
    parser.add_argument("--small", type=int, default=5000, help="side of the small segmentation scene")
    parser.add_argument("--large", type=int, default=20000, help="side of the large segmentation scene")
    parser.add_argument("--work-dir", default=None, help="where the rasters go (default: a new dir in /tmp)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, size, work_dir = args.child[0], int(args.child[1]), args.child[2]
        result = child_write(size, work_dir) if what == "write" else child_evaluate(size, work_dir)
        print(json.dumps(result))
        return

    sections = {s.strip() for s in args.only.split(",")}
    print(f"rv EVAL benchmark  ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, "
          f"load average {', '.join(f'{v:.1f}' for v in os.getloadavg())})")
    table = []
    if "detection" in sections:
        d = bench_detection(args.boxes, 8192, args.repeats)
        same = abs(d["rv_f1"] - d["loop_f1"]) < 1e-9 and abs(d["rv_map50"] - d["loop_map50"]) < 1e-9
        print(
            f"EVAL detection: {d['n_gt']} gt x {d['n_pred']} predicted boxes, 3 classes. rv (IoU 0.5 and the "
            f"9 thresholds of mAP, confusion matrix, eval.json dict): median {d['rv_median'] * 1000:.1f} ms "
            f"(best {d['rv_best'] * 1000:.1f}); plain Python loop (IoU 0.5 only, P/R/F1 + AP50): median "
            f"{d['loop_median']:.2f} s (best {d['loop_best']:.2f}); F1 rv {d['rv_f1']:.4f} / loop "
            f"{d['loop_f1']:.4f}, AP50 rv {d['rv_map50']:.4f} / loop {d['loop_map50']:.4f} "
            f"({'same matching' if same else 'MISMATCH'}); rv mAP@[.5:.95] {d['rv_map']:.4f}"
        )
        table.append((f"EVAL detection {d['n_gt']}x{d['n_pred']}", f"{d['rv_median']:.3f} s",
                      f"{d['loop_median']:.2f} s loop", f"{d['loop_median'] / d['rv_median']:.0f}x faster",
                      f"≤ {TARGET_EVAL_S} s", RV031_EVAL, verdict(d["rv_median"] <= TARGET_EVAL_S and same)))
    if "segmentation" in sections:
        work_dir = args.work_dir or tempfile.mkdtemp(prefix="rv-bench-eval-", dir="/tmp")
        os.makedirs(work_dir, exist_ok=True)
        try:
            results = {}
            for size in (args.small, args.large):
                w = run_child("write", size, work_dir)
                r = run_child("evaluate", size, work_dir)
                results[size] = r
                print(
                    f"EVAL segmentation {size}²: rasters written in {w['seconds']:.0f} s; evaluated "
                    f"{size * size / 1e6:.0f} MPix in {r['seconds']:.1f} s ({size * size / 1e6 / r['seconds']:.0f} "
                    f"MPix/s), peak RSS {r['peak_mb']:.0f} MiB (ru_maxrss {r['ru_maxrss_mb']:.0f} MiB, after "
                    f"imports {r['after_imports_mb']:.0f} MiB); mIoU {r['miou']:.3f} over {r['gt_count']} px"
                )
            small, large = results[args.small], results[args.large]
            ratio = large["peak_mb"] / small["peak_mb"]
            area = (args.large / args.small) ** 2
            table.append((f"peak RSS segmentation EVAL {args.small}² → {args.large}²",
                          f"{small['peak_mb']:.0f} MiB → {large['peak_mb']:.0f} MiB", f"{area:.0f}x area",
                          f"{ratio:.2f}x", f"flat (≤ {TARGET_RSS_RATIO}x)", "", verdict(ratio <= TARGET_RSS_RATIO)))
        finally:
            if args.work_dir is None:
                shutil.rmtree(work_dir, ignore_errors=True)

    header = ("measurement", "rv", "baseline", "ratio", "target", "RV 0.31", "result")
    widths = [max(len(str(row[i])) for row in [header, *table]) for i in range(len(header))]
    print()
    for row in [header, tuple("-" * w for w in widths), *table]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())


if __name__ == "__main__":
    main()
