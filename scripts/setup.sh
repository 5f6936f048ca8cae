#!/usr/bin/env bash
# Make (or reuse) .venv with every rv package installed editable, pinned by requirements.lock.
# Safe to run again: a reused .venv whose inputs have not changed is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${RV_VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV" >&2
    "$PY" -m venv "$VENV"
fi
# Everything that decides what gets installed; if none of it changed, skip pip entirely.
STAMP="$VENV/.rv-setup-stamp"
HASH=$(cat requirements.lock constraints.txt requirements-dev.txt rv-*/pyproject.toml examples/plugins/*/pyproject.toml 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ]; then
    exit 0
fi

# Network installs go through scripts/pip.sh: pip's retries and resumes, and the command retried.
# The pip a fresh venv brings (23.2) cannot resolve s3fs with fsspec: upgrade it first.
bash scripts/pip.sh "$VENV/bin/python" install --quiet --upgrade 'pip>=24'
# One command for every package (rv-app is the meta-distribution of rv-core, rv-cli and rv-geojson,
# which the first-party plugins depend on), with the lock file of the full resolved set as
# constraints so nothing is re-resolved.
bash scripts/pip.sh "$VENV/bin/python" install --quiet -c requirements.lock -c constraints.txt \
    -e rv-core -e rv-cli -e rv-geojson -e rv-app -e rv-pytorch -e rv-aws -e rv-slurm -e rv-qgis -r requirements-dev.txt
echo "$HASH" > "$STAMP"
