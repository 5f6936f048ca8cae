"""Print an experiment's metrics and where its outputs and pictures are.

Usage: python examples/summarize.py ROOT_URI
"""

from __future__ import annotations

import glob
import json
import os
import sys


def main(root: str) -> int:
    evals = sorted(glob.glob(os.path.join(root, "eval", "*", "eval.json")))
    if not evals:
        print(f"no eval.json under {root}/eval/", file=sys.stderr)
        return 1
    for path in evals:
        with open(path) as f:
            report = json.load(f)
        print(f"\n== {path}")
        overall = report["overall"]
        keys = [k for k in ("precision", "recall", "f1", "iou", "miou", "ap50", "map", "accuracy") if k in overall]
        print("overall: " + ", ".join(f"{k} {overall[k]:.3f}" for k in keys))
        for c in report["classes"]:
            extra = f", iou {c['iou']:.3f}" if "iou" in c else ""
            extra += f", ap50 {c['ap50']:.3f}" if "ap50" in c else ""
            print(f"  {c['class_name']:>12}: precision {c['precision']:.3f}, recall {c['recall']:.3f}, f1 {c['f1']:.3f}{extra}")
    print("\n== outputs")
    for label, pattern in [
        ("confusion matrix", "eval/*/confusion_matrix.png"),
        ("predictions", "predict/*/*.tif"),
        ("predicted polygons", "predict/*/*.geojson"),
        ("prediction overlays", "predict/*/*-overlay.png"),
        ("training curves", "train/*/training_curves.png"),
        ("training batch", "train/*/debug-chips.png"),
        ("training log", "train/*/log.csv"),
        ("debug chips", "chip/*/debug/*/*.png"),
        ("model bundle", "bundle/*/model-bundle.zip"),
        ("rv predict output", "rv-predict/*"),
    ]:
        found = sorted(glob.glob(os.path.join(root, pattern)))
        if found:
            more = f" (+{len(found) - 3} more)" if len(found) > 3 else ""
            print(f"{label:>20}: {', '.join(found[:3])}{more}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "out/buildings"))
