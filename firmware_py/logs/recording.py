"""The in-memory form of a recorded IMU log, shared by every reader and writer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Placement names accepted everywhere, with their aliases.
PLACEMENT_ALIASES: dict[str, str] = {
    "lower_back": "lower_back",
    "waist": "lower_back",
    "belt": "lower_back",
    "foot": "foot",
    "shoe": "foot",
    "shank": "shank",
    "shin": "shank",
}


def normalise_placement(name: str | None) -> str | None:
    """Map a placement name or alias to ``lower_back``, ``foot`` or ``shank``.

    Parameters
    ----------
    name : str or None
        Placement as written by a user or a sidecar (case-insensitive).

    Returns
    -------
    str or None
        The canonical placement, or None when ``name`` is None.

    Raises
    ------
    ValueError
        When the name is not a known placement; the message lists the allowed ones.
    """
    if name is None:
        return None
    key = str(name).strip().lower()
    if key not in PLACEMENT_ALIASES:
        allowed = ", ".join(sorted(PLACEMENT_ALIASES))
        raise ValueError(f"unknown placement {name!r}; allowed: {allowed}")
    return PLACEMENT_ALIASES[key]


@dataclass
class Recording:
    """An IMU recording in SI units, on its own time base.

    Attributes
    ----------
    path : str
        Where it was read from ("" when built in memory).
    t_s : numpy.ndarray
        Sample times, shape ``(n,)``, seconds, strictly increasing.
    acc_mps2 : numpy.ndarray
        Accelerometer, shape ``(n, 3)``, m/s², gravity included, sensor frame.
    gyro_rads : numpy.ndarray or None
        Gyroscope, shape ``(n, 3)``, rad/s, sensor frame; None when the sensor has none.
    sampling_rate_hz : float
        Nominal output rate, Hz.
    placement : str or None
        ``lower_back``, ``foot`` or ``shank``.
    placement_side : str or None
        ``left`` or ``right`` when known.
    meta : dict
        Everything else the source says (sidecar JSON, or the native log header).
    gaps : list of tuple of float
        ``(t_before_s, t_after_s)`` for every gap in time found while reading.
    """

    path: str
    t_s: np.ndarray
    acc_mps2: np.ndarray
    gyro_rads: np.ndarray | None
    sampling_rate_hz: float
    placement: str | None = None
    placement_side: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    gaps: list[tuple[float, float]] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        """Number of samples."""
        return int(self.t_s.shape[0])

    @property
    def has_gyro(self) -> bool:
        """True when the recording carries gyroscope data."""
        return self.gyro_rads is not None

    @property
    def duration_s(self) -> float:
        """Time from the first to the last sample, seconds."""
        return float(self.t_s[-1] - self.t_s[0]) if self.n_samples else 0.0
