#!/usr/bin/env bash
# `scripts/pip.sh PYTHON PIP-ARGS...`: run PYTHON's pip with rv's network settings, retrying the whole command.
# The one place rv's installs (scripts/setup.sh, noxfile.py) get their retries: pip retries and resumes
# interrupted downloads for longer than its defaults (a 16 MB wheel cut off six times in a row once
# failed a CI run), and a failed install is tried again up to four times, reusing pip's cache.
set -uo pipefail
PY=$1
shift
export PIP_RETRIES=${PIP_RETRIES:-10} PIP_RESUME_RETRIES=${PIP_RESUME_RETRIES:-30} PIP_TIMEOUT=${PIP_TIMEOUT:-120}
export PIP_DISABLE_PIP_VERSION_CHECK=1
for n in 1 2 3 4; do
    "$PY" -m pip "$@" && exit 0
    [ "$n" = 4 ] && break
    echo "pip.sh: attempt $n failed; retrying in $((10 * n)) s" >&2
    sleep $((10 * n))
done
exit 1
