"""Object-detection prediction benchmark (rv-pytorch): batched NMS on 100,000 boxes, PREDICT windows/s.

Prints the figures, each beside a baseline measured in the same run, and a
PASS/FAIL per target (issue 19). Exits 0 whatever it finds.

1. **Merging on 100,000 boxes.** What PREDICT does with the boxes of every
   window: class-aware NMS, ``rv_pytorch.merging.class_aware_nms``
   (``torchvision.ops.batched_nms``; beyond 8,192 boxes run on groups of
   boxes that cannot suppress each other, a few hundred boxes per kernel
   call), and ``merge_detections`` itself (that NMS, then partial views cut
   by an inner window edge dropped when a kept whole box of their class
   covers them). The boxes are what overlapping windows give: 25,000
   objects (3 classes, 10-60 px) on a 20,000² raster, each seen 4 times
   with a jitter of ~5 % of its side and its own score, one in ten of them
   marked cut. **Baseline: ``torchvision.ops.batched_nms`` on all the boxes
   at once** (and ``torchvision.ops.nms`` ignoring the class), on the same
   boxes in the same run; the boxes kept must be the same. Best of
   ``--repeats``. Target: batched NMS < 1 s.
2. **PREDICT windows/s.** ``predict_scene`` of the PYTORCH_OBJECT_DETECTION
   backend (GeoTIFF reads in the reader thread, normalisation, batches
   through the detector, box offsets, merging, AOI filter, the GeoJSON label
   store writing map coordinates) on a synthetic ``--size``² RGB GeoTIFF
   with the task defaults (stride = chip size / 2, batch 8), **beside the
   bare forward of the same detector** (network + its own per-window
   post-processing) on tensors made in memory beforehand, the same number
   and sizes of batches (best of ``--repeats`` each, interleaved). The
   detector is the RESNET18 detection default (FCOS on resnet18 + FPN 128)
   with random weights, so it is run twice: at the task's score threshold
   (0.5: a random detector keeps almost nothing, so this is the pipeline's
   own cost) and at 0 (every box the detector returns, up to its
   ``max_detections`` a window, goes to merging and to the store: the
   heaviest case). Target (as for segmentation, ``pytorch_predict.py``):
   PREDICT at ≥ 95 % of the bare forward rate.

Run: ``.venv/bin/python bench/detection_predict.py`` (``--help``; ``--quick``
for a smoke run in about a minute). Figures go in ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _synthetic as syn  # noqa: E402

NMS_TARGET_S = 1.0
PREDICT_TARGET_RATIO = 0.95


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# ------------------------------------------------------------------ 1. merging


def synthetic_detections(num_boxes: int, seed: int = 0, size: float = 20000.0, views: int = 4, classes: int = 3):
    """``(boxes, scores, class_ids, cut)`` as overlapping windows report objects (see the module docstring)."""
    import torch

    rng = np.random.default_rng(seed)
    objects = num_boxes // views
    side = rng.uniform(10, 60, (objects, 2))
    top_left = rng.uniform(0, size - 60, (objects, 2))
    base = np.concatenate([top_left, top_left + side], axis=1)
    jitter = rng.normal(0, 0.05, (objects, views, 4)) * np.concatenate([side, side], axis=1)[:, None, :]
    boxes = (base[:, None, :] + jitter).reshape(-1, 4)
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
    class_ids = np.repeat(rng.integers(0, classes, objects), views)
    scores = rng.uniform(0.05, 1.0, len(boxes))
    cut = rng.random(len(boxes)) < 0.1
    order = rng.permutation(len(boxes))
    return (
        torch.from_numpy(boxes[order]).float(),
        torch.from_numpy(scores[order]).float(),
        torch.from_numpy(class_ids[order]).long(),
        torch.from_numpy(cut[order]),
    )


def best_of(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def bench_merging(args, rows: list) -> None:
    import torch
    from torchvision.ops import batched_nms, nms

    from rv_pytorch.merging import class_aware_nms, merge_detections

    boxes, scores, class_ids, cut = synthetic_detections(args.boxes)
    thresh = 0.5
    nms(boxes[:1000], scores[:1000], thresh)  # warm-up: not timed

    t_rv, keep = best_of(lambda: class_aware_nms(boxes, scores, class_ids, thresh), args.repeats)
    t_merge, merged = best_of(lambda: merge_detections(boxes, scores, class_ids, cut, thresh), args.repeats)
    t_batched, reference = best_of(lambda: batched_nms(boxes, scores, class_ids, thresh), args.repeats)
    t_plain, plain = best_of(lambda: nms(boxes, scores, thresh), max(1, args.repeats - 2))
    same = sorted(keep.tolist()) == sorted(reference.tolist())
    print(
        f"MERGING {len(boxes):,} boxes ({len(boxes) // 4:,} objects x 4 views, 3 classes, IoU {thresh}), "
        f"torch {torch.__version__} with {torch.get_num_threads()} thread(s), best of {args.repeats}:"
    )
    print(
        f"  rv class_aware_nms {t_rv * 1e3:.0f} ms -> {len(keep):,} kept (the boxes batched_nms keeps: {same}); "
        f"merge_detections {t_merge * 1e3:.0f} ms -> {len(merged):,} kept (+ cut partial views dropped)"
    )
    print(
        f"  baselines: torchvision batched_nms on all the boxes at once {t_batched * 1e3:.0f} ms -> "
        f"{len(reference):,} kept; nms ignoring classes {t_plain * 1e3:.0f} ms -> {len(plain):,} kept"
    )
    label = "100k" if len(boxes) == 100_000 else f"{len(boxes):,}"
    rows.append(
        (
            f"batched NMS {label} boxes (class_aware_nms)",
            f"{t_rv:.3f} s",
            f"{t_batched:.3f} s b_nms",
            f"{t_rv / t_batched:.2f}x",
            f"< {NMS_TARGET_S:.0f} s, same boxes",
            verdict(t_rv < NMS_TARGET_S and same),
        )
    )
    rows.append(
        (
            "  (merge_detections: + cut views)",
            f"{t_merge:.3f} s",
            f"{t_batched:.3f} s b_nms",
            f"{t_merge / t_batched:.2f}x",
            f"< {NMS_TARGET_S:.0f} s",
            verdict(t_merge < NMS_TARGET_S),
        )
    )
    rows.append(
        (
            "  (torchvision nms, classes ignored)",
            f"{t_plain:.3f} s",
            f"{t_batched:.3f} s b_nms",
            f"{t_plain / t_batched:.2f}x",
            "",
            "",
        )
    )


# ------------------------------------------------------------------ 2. PREDICT


def detection_setup(image: str, work: str, chip: int, batch: int, score_thresh: float):
    """The backend with a random-weight RESNET18-default detector loaded, and the scene to predict."""
    import torch

    import rv
    from rv_pytorch.data import Normalizer
    from rv_pytorch.model_files import MODEL_CONFIG_NAME, MODEL_NAME, ModelSpec, save_weights

    task = (
        rv.TaskConfig.builder(rv.OBJECT_DETECTION)
        .with_classes({"building": (1, "red")})
        .with_chip_size(chip)
        .with_predict_options(score_thresh=score_thresh, merge_thresh=0.5)
        .with_predict_batch_size(batch)
        .build()
    )
    train_dir = os.path.join(work, "train")
    config = (
        rv.BackendConfig.builder(rv.PYTORCH_OBJECT_DETECTION).with_task(task).with_model_defaults(rv.RESNET18).build()
    ).evolve(training_output_uri=train_dir)
    backend = config.create(task, work)
    spec = ModelSpec(
        backend=config.backend_key,
        task=rv.OBJECT_DETECTION,
        encoder=config.encoder,
        classes=[{"id": c.id, "name": c.name, "color": c.color} for c in task.classes],
        num_channels=3,
        dtype="uint8",
        normalizer=Normalizer.for_dtype("uint8", 3).to_dict(),
        chip_size=chip,
        model_options=config.model_options(),
    )
    os.makedirs(train_dir, exist_ok=True)
    spec.save(os.path.join(train_dir, MODEL_CONFIG_NAME))
    torch.manual_seed(0)
    save_weights(backend.create_model(spec).state_dict(), os.path.join(train_dir, MODEL_NAME))
    backend.load_model(train_dir, work)
    store = rv.LabelStoreConfig.builder(rv.OBJECT_DETECTION_GEOJSON).with_uri(os.path.join(work, "boxes.geojson"))
    scene = (
        rv.SceneConfig.builder()
        .with_task(task)
        .with_id("bench")
        .with_raster_source(image)
        .with_label_store(store)
        .build()
        .create(task, work, with_labels=False)
    )
    return task, backend, scene


def bench_predict(args, rows: list, score_thresh: float, image: str, work: str) -> None:
    import torch

    import rv_pytorch.windows as W

    task, backend, scene = detection_setup(image, work, args.chip, args.batch, score_thresh)
    model = backend.model
    chip = args.chip
    stride = task.predict_options.stride or chip // 2
    batch = int(task.predict_batch_size)
    extent = (int(scene.raster_source.extent.height), int(scene.raster_source.extent.width))
    windows = sum(len(row) for row in W.sliding_windows(extent, chip, stride))
    sizes = [batch] * (windows // batch) + ([windows % batch] if windows % batch else [])
    torch.manual_seed(0)
    images = torch.rand(batch, 3, chip, chip)
    model.set_thresholds(score_thresh=score_thresh, nms_thresh=0.5)

    @torch.inference_mode()
    def bare_forward() -> None:
        for n in sizes:
            model(images[:n])

    with torch.inference_mode():
        model(images)  # warm-up: not timed
    forward_times, predict_times, found = [], [], None
    for _ in range(args.repeats):
        with syn.Meter() as m:
            bare_forward()
        forward_times.append(m.report(windows))
        with syn.Meter() as m:
            found = backend.predict_scene(scene, work)
        predict_times.append(m.report(windows))
    fwd = min(forward_times, key=lambda r: r["seconds"])
    pred = min(predict_times, key=lambda r: r["seconds"])
    ratio = pred["rate"] / fwd["rate"]
    print(
        f"PREDICT detection, score_thresh {score_thresh}: {windows} windows of {chip}² (stride {stride}, batch "
        f"{batch}) over {extent[0]}x{extent[1]} px, {config_name(backend)}, torch with "
        f"{torch.get_num_threads()} thread(s); best of {args.repeats}"
    )
    runs_fwd = ", ".join(f"{r['seconds']:.2f}" for r in forward_times)
    runs_pred = ", ".join(f"{r['seconds']:.2f}" for r in predict_times)
    print(
        f"  bare forward {fwd['seconds']:.2f} s = {fwd['rate']:.2f} windows/s (runs {runs_fwd} s); "
        f"predict_scene {pred['seconds']:.2f} s = {pred['rate']:.2f} windows/s (runs {runs_pred} s); "
        f"{len(found)} boxes written; "
        f"others kept {pred['others']:.1f} cores busy"
    )
    rows.append(
        (
            f"PREDICT detection windows/s, score {score_thresh}",
            f"{pred['rate']:.2f} win/s",
            f"{fwd['rate']:.2f} win/s fwd",
            f"{ratio:.0%}",
            f"≥ {PREDICT_TARGET_RATIO:.0%} of fwd",
            verdict(ratio >= PREDICT_TARGET_RATIO),
        )
    )


def config_name(backend) -> str:
    spec = backend.spec
    options = spec.model_options
    return f"{options.get('architecture', 'fcos')} on {spec.encoder} + FPN {options.get('fpn_channels')}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--boxes", type=int, default=100_000, help="boxes to merge (default 100000)")
    parser.add_argument("--size", type=int, default=1024, help="side of the synthetic scene PREDICT reads (px)")
    parser.add_argument("--chip", type=int, default=256, help="window size (px)")
    parser.add_argument("--batch", type=int, default=8, help="windows per batch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: every CPU)")
    parser.add_argument("--parts", default="merging,predict", help="comma-separated: merging, predict")
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--quick", action="store_true", help="smoke run: 512² scene, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.size, args.repeats = 512, 1

    import torch

    torch.set_num_threads(args.threads or os.cpu_count() or 1)
    print(
        f"rv detection prediction benchmark ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, "
        f"load average {', '.join(f'{v:.1f}' for v in os.getloadavg())})"
    )
    rows: list = []
    parts = set(args.parts.split(","))
    if "merging" in parts:
        bench_merging(args, rows)
    if "predict" in parts:
        work = args.work_dir or tempfile.mkdtemp(prefix="rv-bench-det-")
        os.makedirs(work, exist_ok=True)
        image = syn.write_image(os.path.join(work, "scene.tif"), syn.ImageSpec(args.size, 3, "uint8"))
        for score_thresh in (0.5, 0.0):
            bench_predict(args, rows, score_thresh, image, os.path.join(work, f"score-{score_thresh}"))

    header = ("measurement", "rv", "baseline", "ratio", "target", "result")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print()
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip())
    print(f"\nLoad average at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
