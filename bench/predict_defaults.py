"""PREDICT's defaults on ONE trained model: quality and speed of the old defaults against the new ones.

rv's segmentation PREDICT used to run test-time flips (4 forward passes a
window) over windows half a chip apart, averaging the overlaps with equal
weights. The defaults are now one forward pass a window and windows that
overlap by an eighth of a chip, blended with weights that ramp down towards
each window's inner edges (``rv_pytorch.stitching.BlendWeights``). This script
shows what that costs and gains, on the same weights:

1. **Quality**: trains ``examples/buildings_segmentation.py`` (ANALYZE, CHIP,
   TRAIN through ``rv run local``, ``--num-epochs`` of the example's budget;
   or ``--model`` names an existing train directory of that example), then
   predicts the validation scene Kampala B with each setting below in this
   process and prints building F1, building IoU and mIoU against its ground
   truth (the metrics of EVAL's ``eval.json``).
2. **Speed**: the same model over a synthetic ``--size``² RGB scene
   (``_synthetic.py``), pixels/s of each setting, median of ``--repeats``,
   with the load average; then, from the time per window and forward pass,
   an estimate for a 4096² scene (its window count at each stride) beside
   Raster Vision 0.31's 110.6 kpx/s at its defaults there (issue 30, quoted,
   not measured here).

Not a test: it exits 0 and prints the figures (the verdict: the new defaults
within 0.01 of the old on every metric, and ≥ 5x Raster Vision's px/s).

    .venv/bin/python bench/predict_defaults.py --work-dir /tmp/predict-defaults
    .venv/bin/python bench/predict_defaults.py --model out/buildings/train/buildings-segmentation
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import _synthetic as syn  # noqa: E402

EXAMPLE = ROOT / "examples" / "buildings_segmentation.py"
EXPERIMENT_ID = "buildings-segmentation"
BUILDING, BACKGROUND = 1, 2
#: Raster Vision 0.31's PREDICT at its defaults on a 4096² scene (issue 30; quoted)
RV_KPX_S = 110.6
#: rv at the old defaults on the same 4096² scene and machine as RV_KPX_S (issue 30; quoted)
RV_OLD_DEFAULTS_KPX_S = 86.7


def load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def settings(chip: int) -> list[tuple[str, int, str, int | None]]:
    """(name, stride, tta, edge_ramp) of every setting compared; edge_ramp None = the overlap."""
    from rv.task.semantic_segmentation_config import default_predict_stride
    from rv_pytorch.model_defaults import builtin_model_defaults

    tta = builtin_model_defaults()["RESNET18"]["PYTORCH_SEMANTIC_SEGMENTATION"].get("tta", "none")
    new = default_predict_stride(chip)
    return [
        (f"old defaults: tta flips, stride {chip // 2}, equal weights", chip // 2, "flips", 0),
        (f"tta flips, stride {chip // 2}, ramp {chip // 2}", chip // 2, "flips", None),
        (f"tta none, stride {chip // 2}, equal weights", chip // 2, "none", 0),
        (f"tta none, stride {chip} (no overlap)", chip, "none", None),
        (f"tta none, stride {chip - chip // 4}, ramp {chip // 4}", chip - chip // 4, "none", None),
        (f"NEW defaults: tta {tta}, stride {new}, ramp {chip - new}", new, tta, None),
        (f"tta flips (opt-in), stride {new}, ramp {chip - new}", new, "flips", None),
    ]


def train(work: str, num_epochs: int) -> str:
    """ANALYZE, CHIP, TRAIN of the buildings example with ``rv run local``; its train directory."""
    cmd = [
        sys.executable,
        "-m",
        "rv",
        "run",
        "local",
        str(EXAMPLE),
        "ANALYZE",
        "CHIP",
        "TRAIN",
        "-a",
        "root_uri",
        work,
        "-a",
        "num_epochs",
        str(num_epochs),
    ]
    print("training:", " ".join(cmd[2:]), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    print(f"trained in {time.perf_counter() - t0:.0f} s (load average {load()})", flush=True)
    return os.path.join(work, "train", EXPERIMENT_ID)


def experiment(root: str):
    """The example's experiment config, resolved (stats URIs filled) under ``root``."""
    from rv.experiment.experiment_set import load_experiments

    (exp,) = load_experiments(path=str(EXAMPLE), args={"root_uri": root})
    return exp.resolved()


def reader(source):
    """``read_window`` of a raster source, as the backend gives PREDICT (windows are pixel tuples)."""
    from rv.core.box import Box

    return lambda window: source.get_chip_with_mask(Box(*window))


def predict_array(backend, read_window, extent, stride: int, tta: str, edge_ramp: int | None) -> np.ndarray:
    """The class ids PREDICT gives over ``extent`` with these options (the backend's model and normaliser)."""
    from rv_pytorch.predict import predict_segmentation

    out = np.full(extent, 255, np.uint8)

    def write(window, class_arr, scores):
        out[window[0] : window[2], window[1] : window[3]] = class_arr

    predict_segmentation(
        backend.model,
        read_window,
        extent,
        write,
        stride=stride,
        tta=tta,
        edge_ramp=edge_ramp,
        chip_size=backend._chip_size,
        normalizer=backend.normalizer,
        batch_size=backend._predict_batch_size,
        class_ids=backend.spec.class_ids,
        device="cpu",
    )
    return out


def metrics(gt: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Building F1 and IoU, and the mean IoU of building and background, over labelled pixels (EVAL's)."""
    labelled = gt != 255
    iou = {}
    f1 = {}
    for c in (BUILDING, BACKGROUND):
        g, p = (gt == c) & labelled, (pred == c) & labelled
        tp = float((g & p).sum())
        f1[c] = 2 * tp / max(float(g.sum() + p.sum()), 1.0)
        iou[c] = tp / max(float(g.sum() + p.sum()) - tp, 1.0)
    return {"f1": f1[BUILDING], "iou": iou[BUILDING], "miou": (iou[BUILDING] + iou[BACKGROUND]) / 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work-dir", help="where the example runs and the scene go (default: a temporary directory)")
    parser.add_argument("--model", help="train directory of the buildings example to use instead of training")
    parser.add_argument("--num-epochs", type=int, default=10, help="training epochs (default 10, the example's)")
    parser.add_argument("--size", type=int, default=2048, help="side of the synthetic speed scene (default 2048)")
    parser.add_argument("--repeats", type=int, default=1, help="speed runs per setting, median (default 1)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: all)")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from rv.core.box import Box
    from rv.data.raster_source.geotiff_source import GeoTIFFSource

    work = args.work_dir or tempfile.mkdtemp(prefix="rv-bench-predict-defaults-")
    os.makedirs(work, exist_ok=True)
    print(
        f"rv PREDICT defaults  ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, torch threads "
        f"{torch.get_num_threads()}, load average {load()})",
        flush=True,
    )
    model_dir = args.model or train(os.path.join(work, "example"), args.num_epochs)
    root = str(Path(model_dir).resolve().parent.parent)
    exp = experiment(root)
    tmp = tempfile.mkdtemp(prefix="tmp-", dir=work)
    backend = exp.backend.create(exp.task, tmp)
    backend.load_model(model_dir, tmp)
    backend.model.eval()
    chip = backend._chip_size

    # 1. Quality on Kampala B.
    scene = exp.dataset.validation_scenes[0].create(exp.task, tmp, with_labels=True)
    ext = scene.raster_source.extent
    extent = (int(ext.height), int(ext.width))
    gt = scene.label_source.get_label_arr(Box(0, 0, extent[0], extent[1]))
    quality = []
    for name, stride, tta, ramp in settings(chip):
        pred = predict_array(backend, reader(scene.raster_source), extent, stride, tta, ramp)
        quality.append((name, metrics(gt, pred), int((pred == 255).sum())))
    print(f"\nQUALITY on {scene.id} ({extent[0]}x{extent[1]} px), model {model_dir}, chip {chip}:")
    base = quality[0][1]
    print(f"  {'setting':<58} {'F1':>6} {'IoU':>6} {'mIoU':>6}   {'ΔF1':>6} {'ΔIoU':>6} {'ΔmIoU':>6}  unpredicted px")
    for name, m, missing in quality:
        print(
            f"  {name:<58} {m['f1']:6.3f} {m['iou']:6.3f} {m['miou']:6.3f}   "
            f"{m['f1'] - base['f1']:+6.3f} {m['iou'] - base['iou']:+6.3f} {m['miou'] - base['miou']:+6.3f}  {missing}"
        )

    # 2. Speed on a synthetic scene.
    scene_dir = os.path.join(work, f"scene-{args.size}")
    image = os.path.join(scene_dir, f"rgb-{args.size}.tif")
    if not os.path.exists(image):
        syn.build_scene(
            scene_dir,
            args.size,
            max(args.size * args.size // 33_000, 1),
            images={"rgb": syn.ImageSpec(args.size, 3, "uint8")},
        )
    source = GeoTIFFSource(image, tmp_dir=tmp)
    speed_extent = (int(source.extent.height), int(source.extent.width))
    pixels = speed_extent[0] * speed_extent[1]
    print(
        f"\nSPEED over a synthetic {args.size}² RGB uint8 scene (same model, batch {backend._predict_batch_size}):",
        flush=True,
    )
    from rv_pytorch.predict import TTA_TRANSFORMS
    from rv_pytorch.windows import sliding_windows

    def windows(side: int, stride: int) -> int:
        return sum(len(row) for row in sliding_windows((side, side), chip, stride))

    # Warm-up (oneDNN primitives, the allocator, page cache), not timed: the first setting would pay it.
    predict_array(backend, reader(source), speed_extent, chip, "none", None)
    speed = []
    for name, stride, tta, ramp in settings(chip):
        runs = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            predict_array(backend, reader(source), speed_extent, stride, tta, ramp)
            runs.append(time.perf_counter() - t0)
        seconds = statistics.median(runs)
        passes = len(TTA_TRANSFORMS[tta])
        # Raster Vision's figure is for a 4096² scene: the same time per window and pass, 4096²'s windows.
        per_pass = seconds / (windows(args.size, stride) * passes)
        at_4096 = 4096 * 4096 / (windows(4096, stride) * passes * per_pass) / 1000
        speed.append((name, at_4096))
        print(
            f"  {name:<58} {seconds:7.1f} s  {pixels / seconds / 1000:7.1f} kpx/s  "
            f"({windows(args.size, stride)} windows x {passes} pass(es), {per_pass * 1000:.0f} ms each; 4096²: "
            f"{windows(4096, stride)} windows, est. {at_4096:.0f} kpx/s = {at_4096 / RV_KPX_S:.2f}x RV 0.31)  "
            f"(load average {load()})",
            flush=True,
        )

    new_q = next(m for n, m, _ in quality if n.startswith("NEW"))
    new_s = next(s for n, s in speed if n.startswith("NEW"))
    worst = max(abs(new_q[k] - base[k]) for k in base)
    print(
        f"\nnew defaults vs old on {scene.id}: largest metric change {worst:.3f} (target ≤ 0.010): "
        f"{'PASS' if worst <= 0.01 else 'FAIL'}"
    )
    scaled = RV_OLD_DEFAULTS_KPX_S * new_s / speed[0][1]
    print(
        f"scaled from issue 30's rv at the old defaults ({RV_OLD_DEFAULTS_KPX_S} kpx/s, measured beside Raster "
        f"Vision's {RV_KPX_S}) by this run's new/old ratio: {scaled:.0f} kpx/s = {scaled / RV_KPX_S:.1f}x Raster "
        f"Vision (target ≥ 5x): {'PASS' if scaled >= 5 * RV_KPX_S else 'FAIL'} (robust to a loaded machine)"
    )
    print(
        f"4096² estimate: new defaults {new_s:.0f} kpx/s vs old {speed[0][1]:.0f} kpx/s ({new_s / speed[0][1]:.1f}x); "
        f"vs Raster Vision 0.31's {RV_KPX_S} kpx/s (quoted): {new_s / RV_KPX_S:.1f}x (target ≥ 5x): "
        f"{'PASS' if new_s >= 5 * RV_KPX_S else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
