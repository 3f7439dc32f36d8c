#!/usr/bin/env bash
# The test suite, from a fresh clone: makes a virtualenv, installs the project with its
# development extras, and runs pytest (arguments are passed on to pytest).
set -euo pipefail
cd "$(dirname "$0")"
VENV="${CADENCE_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
# install quietly; show the whole log only if something fails
if ! { "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade pip &&
       "$VENV/bin/python" -m pip install --disable-pip-version-check -e ".[dev]"; } > "$VENV/install.log" 2>&1; then
  cat "$VENV/install.log" >&2
  echo "installing cadence-coach failed: see the log above ($VENV/install.log)" >&2
  exit 1
fi
exec "$VENV/bin/python" -m pytest "$@"
