"""Device runtime of cadence-coach: buses, IMU drivers, logs, recorder, live loop, CLI."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cadence-coach")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+dev"

__all__ = ["__version__"]
