#!/usr/bin/env bash
# Make (or reuse) .venv with every rv package installed editable, pinned by requirements.lock.
# Safe to run again: a reused .venv whose inputs have not changed is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${RV_VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}
# Network installs: retry and resume interrupted downloads for longer than pip's defaults.
export PIP_RETRIES=${PIP_RETRIES:-10} PIP_RESUME_RETRIES=${PIP_RESUME_RETRIES:-30} PIP_TIMEOUT=${PIP_TIMEOUT:-120}
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV" >&2
    "$PY" -m venv "$VENV"
fi
# Everything that decides what gets installed; if none of it changed, skip pip entirely.
STAMP="$VENV/.rv-setup-stamp"
HASH=$(cat requirements.lock constraints.txt rv-*/pyproject.toml examples/plugins/*/pyproject.toml 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ]; then
    exit 0
fi

retry() {
    local n
    for n in 1 2 3 4; do
        "$@" && return 0
        echo "setup: attempt $n failed; retrying in $((10 * n)) s" >&2
        sleep $((10 * n))
    done
    return 1
}

# The pip a fresh venv brings (23.2) cannot resolve s3fs with fsspec: upgrade it first.
retry "$VENV/bin/python" -m pip install --quiet --upgrade 'pip>=24'
# One command for all five packages (rv-core depends on rv-cli and rv-geojson), with the lock
# file of the full resolved set as constraints so nothing is re-resolved.
retry "$VENV/bin/python" -m pip install --quiet -c requirements.lock -c constraints.txt \
    -e rv-core -e rv-cli -e rv-geojson -e rv-pytorch -e rv-aws -e rv-slurm -e rv-qgis -r requirements-dev.txt
echo "$HASH" > "$STAMP"
