"""The one pipeline that both the live loop and replay feed: blocks in, step events out.

Today it chains orientation-free step detection, cadence and gait; stride, terrain and
coaching plug in here as they land, so that live and replay keep sharing every line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsp.steps import StepDetector, Steps, StepSettings, canonical_placement

_SIDES = {"l": "L", "left": "L", "r": "R", "right": "R"}


@dataclass(frozen=True)
class StepEvent:
    """One foot contact as the rest of the product sees it.

    Attributes
    ----------
    t_s : float
        Contact time, s, on the input's time base.
    emitted_at_s : float
        Time of the sample that decided it, s.
    side : str or None
        ``"L"`` or ``"R"`` when the signal tells (a foot sensor with a known side), else None.
    cadence_spm : float or None
        Cadence counting both feet, steps/min; None before two contacts are known.
    gait : str
        ``"walk"`` or ``"run"``.
    stride_length_m : float or None
        Length of the stride ending at this contact, m (None until stride estimation lands).
    """

    t_s: float
    emitted_at_s: float
    side: str | None
    cadence_spm: float | None
    gait: str
    stride_length_m: float | None = None


class Pipeline:
    """Streaming pipeline: ``update(block)`` returns the events the block completed.

    Parameters
    ----------
    sampling_rate_hz : float
        Nominal sampling rate, Hz.
    placement : str
        ``lower_back`` (or ``waist``, ``belt``), ``foot`` or ``shank``.
    has_gyro : bool
        Whether blocks carry gyroscope data.
    placement_side : str, optional
        ``left`` or ``right`` for a foot or shank sensor (labels its contacts).
    step_settings : StepSettings, optional
        Step detector constants.
    """

    def __init__(
        self,
        *,
        sampling_rate_hz: float,
        placement: str,
        has_gyro: bool,
        placement_side: str | None = None,
        step_settings: StepSettings | None = None,
    ) -> None:
        self.placement = canonical_placement(placement)
        self.steps = StepDetector(
            sampling_rate_hz=sampling_rate_hz,
            placement=self.placement,
            has_gyro=has_gyro,
            settings=step_settings,
        )
        side = _SIDES.get(str(placement_side).strip().lower()) if placement_side else None
        # Only a sensor on one foot knows the side of its contacts.
        self.side = side if self.steps.steps_feet == "one" else None

    @property
    def steps_feet(self) -> str:
        """``"one"`` when the events are the contacts of the instrumented foot only, else ``"both"``."""
        return self.steps.steps_feet

    def update(
        self, t_s: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray | None = None
    ) -> list[StepEvent]:
        """Feed one block of samples.

        Parameters
        ----------
        t_s : numpy.ndarray
            Sample times, shape ``(n,)``, s.
        acc_mps2 : numpy.ndarray
            Accelerometer, shape ``(n, 3)``, m/s².
        gyro_rads : numpy.ndarray, optional
            Gyroscope, shape ``(n, 3)``, rad/s.

        Returns
        -------
        list of StepEvent
            Contacts completed by this block.
        """
        return self.events(self.steps.update(t_s, acc_mps2, gyro_rads))

    def events(self, steps: Steps) -> list[StepEvent]:
        """Turn raw detector output into :class:`StepEvent` objects."""
        out = []
        for i in range(steps.n_steps):
            cad = float(steps.cadence_spm[i])
            out.append(
                StepEvent(
                    t_s=float(steps.t_s[i]),
                    emitted_at_s=float(steps.emitted_at_s[i]),
                    side=self.side,
                    cadence_spm=cad if np.isfinite(cad) else None,
                    gait="run" if steps.is_run[i] else "walk",
                )
            )
        return out
