#!/usr/bin/env bash
# The main job. On a Pi with the sensor attached the device runs as a systemd service
# (hardware/README.md); on any other machine this replays the bundled real recordings
# through the same pipeline and writes the report to ./report/.
set -euo pipefail
cd "$(dirname "$0")"
VENV="${CADENCE_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[plot]"
exec "$VENV/bin/cadence-coach" demo --out "${1:-report}"
