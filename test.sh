#!/usr/bin/env bash
# The test suite, from a fresh clone: makes a virtualenv, installs the project with its
# development extras, and runs pytest (arguments are passed on to pytest).
set -euo pipefail
cd "$(dirname "$0")"
VENV="${CADENCE_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[dev]"
exec "$VENV/bin/python" -m pytest "$@"
