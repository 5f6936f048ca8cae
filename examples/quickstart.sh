#!/usr/bin/env bash
# rv's main job, from a fresh clone with only python3:
#   1. make .venv and install the five packages from this checkout,
#   2. run examples/buildings_segmentation.py end to end (ANALYZE -> BUNDLE),
#   3. predict with the bundle on the validation image through `rv predict`,
#   4. print the metrics and where the outputs and pictures are.
# Usage: bash examples/quickstart.sh [OUTPUT_DIR]   (default: out/buildings)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-out/buildings}"

echo "== setting up .venv (reused when nothing changed)"
bash scripts/setup.sh

echo "== rv run local examples/buildings_segmentation.py -a root_uri $OUT"
.venv/bin/rv run local examples/buildings_segmentation.py -a root_uri "$OUT"

BUNDLE="$(ls "$OUT"/bundle/*/model-bundle.zip | head -n 1)"
echo "== rv predict $BUNDLE examples/data/buildings/kampala_oam_b.tif $OUT/rv-predict/kampala_oam_b.tif"
.venv/bin/rv predict "$BUNDLE" examples/data/buildings/kampala_oam_b.tif "$OUT/rv-predict/kampala_oam_b.tif"

.venv/bin/python examples/summarize.py "$OUT"
