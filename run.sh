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
# install quietly; show the whole log only if something fails
if ! { "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade pip &&
       "$VENV/bin/python" -m pip install --disable-pip-version-check -e ".[plot]"; } > "$VENV/install.log" 2>&1; then
  cat "$VENV/install.log" >&2
  echo "installing cadence-coach failed: see the log above ($VENV/install.log)" >&2
  exit 1
fi
exec "$VENV/bin/cadence-coach" demo --out "${1:-report}"
