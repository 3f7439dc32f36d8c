"""Exceptions raised by the signal-processing API."""

from __future__ import annotations


class DspError(Exception):
    """Root of the errors raised by ``dsp``."""


class ValidationError(DspError, ValueError):
    """An argument to a ``dsp`` function is out of range or has the wrong shape."""


class PlacementWarning(UserWarning):
    """The sensor's placement and hardware leave part of the output unavailable or degraded."""
