#!/usr/bin/env bash
# The whole test suite: set up (or reuse) .venv, then one pytest over every package.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -m slow` for the slow tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "$#" -eq 0 ]; then
    set -- -m "not slow"
fi
exec .venv/bin/python -m pytest -n 2 -p no:cacheprovider "$@" \
    rv-core/tests rv-cli/tests rv-geojson/tests rv-pytorch/tests rv-aws/tests rv-slurm/tests rv-qgis/tests tests examples
