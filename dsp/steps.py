"""Foot-contact detection: a streaming object and a batch function over the same kernel.

Examples
--------
>>> import numpy as np
>>> from dsp import StepDetector, detect_steps
>>> det = StepDetector(sampling_rate_hz=100.0, placement="lower_back", has_gyro=False)
>>> t = np.arange(1000) / 100.0
>>> acc = np.zeros((1000, 3)); acc[:, 2] = 9.81
>>> det.update(t, acc).n_steps
0
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from dsp import _step_kernels as K
from dsp._common import check_block, concatenate_results, validate_flag, validate_rate
from dsp._filters import butter2_lowpass
from dsp.exc import ValidationError

#: The gyroscope block the kernel gets without a gyroscope (zero-length: nothing reads or writes it).
_NO_GYRO = np.zeros((0, 3))

#: Placements whose sensor without a gyroscope runs the limb detector (the contacts of its own
#: foot, one per stride, from |a|: the foot rests flat in stance, then pushes off). A shank
#: without one runs its own detector (mode 3, also one contact per stride: the shank does not rest
#: in stance, it rotates over the ankle; its heel strike is the jolt that ends a fall): on
#: bach_shank_walkrun the limb detector scored walk 0.770, run 0.649, and the trunk detector, which
#: it replaced (both feet, "steps_feet" both), 0.792, 0.980 (docs/robustness.md, fix 6).
_LIMB_ACC_PLACEMENTS = ("foot",)

#: Placement names understood by the detector, with their aliases.
PLACEMENTS: dict[str, str] = {
    "lower_back": "lower_back",
    "waist": "lower_back",
    "belt": "lower_back",
    "foot": "foot",
    "shank": "shank",
}


def canonical_placement(placement: str) -> str:
    """Return ``lower_back``, ``foot`` or ``shank`` for a placement name or alias.

    Parameters
    ----------
    placement : str
        A name from :data:`PLACEMENTS` (case-insensitive).

    Returns
    -------
    str
        The canonical name.

    Raises
    ------
    ValidationError
        For an unknown name; the message lists the allowed ones.
    """
    key = str(placement).strip().lower()
    if key not in PLACEMENTS:
        raise ValidationError(f"placement {placement!r} is not supported; use one of {sorted(PLACEMENTS)}")
    return PLACEMENTS[key]


@dataclass(frozen=True)
class StepSettings:
    """Tunable constants of the step detector (physics, not per-recording fits).

    Parameters
    ----------
    gravity_cutoff_hz : float
        Low-pass that separates gravity from motion, Hz.
    step_cutoff_hz : float
        Low-pass of the trunk step signal, Hz (one hump per step up to 240 steps/min).
    swing_cutoff_hz : float
        Low-pass of the foot's pitch rate, Hz.
    lookahead_s : float
        How long after a hump the trunk detector waits to confirm it, s.
    back_fraction : float
        A hump must be the highest over this fraction of the current step period before it, 1.
    refine_s : float
        The contact is where the step signal's climb to the hump is half done, and at most this
        long before the hump, s (``lookahead_s + refine_s`` bounds the latency).
    climb_fraction : float
        The contact is where the step signal's climb from its trough to the hump is this
        fraction done, 1 (heel strike comes mid-climb at the trunk).
    flight_climb_fraction : float
        The same after a flight phase (running: the climb starts at touch-down), 1.
    floor_mps2 : float
        Smallest hump that can be a step, m/s².
    relative_threshold : float
        Smallest hump as a fraction of the running hump amplitude, 1.
    rhythm_relative_threshold : float
        Smallest hump, as a fraction of the running hump amplitude, where the rhythm expects
        the next step (see ``rhythm_window``), 1.
    rhythm_floor_mps2 : float
        Smallest hump where the rhythm expects the next step, m/s².
    rhythm_window : tuple of float
        The rhythm expects the next step from ``rhythm_window[0]`` to ``rhythm_window[1]``
        step periods after the last one (contact to contact: at the lower back the window is
        tested at a hump's contact time, not at its peak), 1.
    refractory_fraction : float
        No second contact within this fraction of the current period, 1.
    min_step_interval_s : float
        Shortest step interval (240 steps/min is 0.25 s), s.
    min_stride_interval_s : float
        Shortest stride of one foot (foot and shank sensors), s.
    default_step_period_s : float
        Step period assumed before any step is seen, s.
    max_period_s : float
        Longest step period the trunk detector looks back over, s.
    run_cadence_spm : float
        Foot sensors (with or without a gyroscope): a stride at or above this cadence says
        ``run``, steps/min (fast walking reaches 125-135 steps/min, a slow uphill jog 140-150;
        see ``docs/gait.md``).
    cadence_steps : int
        The detector's period comes from this many recent steps (2-8; a foot sensor uses half as
        many strides), and so does the cadence of a sensor that reports both feet (in whole
        strides: an odd count at a bout's start is cut by its oldest step).
    cadence_strides : int
        The cadence of a foot (or shank) sensor with a gyroscope comes from this many recent
        strides of its foot (1-8). Three is the fewest in which the band around their median can
        leave out one missed or extra contact; a foot's stride times are precise (a few % from
        stride to stride, against about 6-12 % for the trunk's steps), so it needs fewer
        intervals than the trunk for the same noise, and follows a change of pace sooner.
    flight_mps2 : float
        Trunk: a trough of the step signal below ``-flight_mps2`` before a hump is a flight phase,
        and the contact is timed with ``flight_climb_fraction``, m/s².
    run_flight_mps2 : float
        Trunk: a step whose step signal fell below ``-run_flight_mps2`` since the last contact had
        a flight phase (the trunk near free fall, -9.8 m/s²) and says ``run``; walking, whose legs
        always hold the trunk up, stays above about -6 m/s² (``docs/gait.md``), m/s².
    gait_switch_steps : int
        The reported gait changes only after this many contacts in a row say the other gait
        (one odd step does not flip it; a foot sensor's contacts are strides), 1.
    gap_s : float
        A gap in time longer than this restarts the detector, s.
    axis_memory_s : float
        Time constant of the gyroscope statistics that give the foot's pitch axis, s.
    lobe_hysteresis_rads : float
        The pitch rate must pass zero by this much to end a rotation lobe, rad/s.
    lobe_memory : float
        Per-lobe decay of the remembered swing rotation, 1.
    min_swing_rad : float
        Smallest swing rotation that can end in a contact, rad.
    swing_relative : float
        Smallest swing rotation as a fraction of the recent swing peak, 1.
    rhythm_swing_relative : float
        ``swing_relative`` where the rhythm expects the next contact (see ``rhythm_window``), 1.
    rhythm_min_swing_rad : float
        ``min_swing_rad`` where the rhythm expects the next contact, rad.
    stance_rads : float
        The foot is at rest while |ω| stays below this, rad/s.
    stance_min_s : float
        Rest that counts as a stance, s.
    push_off_rads : float
        Pitch rate that marks the push-off after a stance (its sign names the swing's), rad/s.
    lobe_settle_s : float
        A rotation lobe also ends when the pitch rate has stayed within the hysteresis of zero
        this long (a foot that lands softly), s; bounds the foot detector's latency.
    impact_window_s : float
        The heel-strike impact after a lobe's end is the largest |a| within this time of it
        (from the zero crossing on: the lobe's last sample may carry the push-off's burst), s;
        of two lobes that meet at a zero crossing, the one followed by the larger impact votes
        for the swing's sign.  A foot contact is decided at least this long after it.
    still_mps2 : float
        Trunk: the trunk is still (standing) while the step signal stays within this of zero, m/s².
    still_s : float
        Trunk: stillness at least this long is standing, s.
    initiation_s : float
        Trunk: the first hump of a bout whose contact comes within this time of the end of standing
        is the push-off of gait initiation (the first swing leg leaving the ground), not a contact, s.
    limb_lookahead_s : float
        Foot without a gyroscope: an impact must be the largest |a| over this time after it; it
        is decided once this time's worth of samples or this time has passed, whichever comes
        first (where samples were dropped, the time), s.
    limb_peak_fraction : float
        Foot without a gyroscope: an impact must also be the largest |a| over this fraction of
        the stride period before it, 1.
    limb_floor_mps2 : float
        Foot without a gyroscope: smallest impact, |a| above g, m/s².
    limb_rest_mps2 : float
        Foot without a gyroscope: the foot is at rest while |a| stays within this of g and its
        acceleration vector moves less than this over ``limb_rest_lag_s``, m/s².
    limb_rest_lag_s : float
        Foot without a gyroscope: the lag of that test (a swinging foot turns: the vector moves), s.
    limb_rest_min_s : float
        Foot without a gyroscope: rest at least this long is the foot flat in stance, s.
    limb_swing_s : float
        Foot without a gyroscope: an impact within this time after the foot left its last rest is
        the push-off, not a landing (a swing of the leg lasts longer), s.
    limb_end_fraction : float
        Foot without a gyroscope: the contact is where the burst of |a| that holds the impact
        ends, its last sample at least this fraction of the way from g up to the peak (the peak
        itself for a brief impact; the landing at the end of a broad swing hump), 1.
    limb_refractory_fraction : float
        Foot without a gyroscope: no contact within this fraction of the stride period after the
        last one (one landing per stride; a stride does not shorten that much from one to the
        next), unless ``limb_override`` says otherwise, 1.
    limb_override : float
        Foot without a gyroscope: a contact within the refractory time is taken all the same when
        its impact (|a| above g) is over this many times the last contact's: that one was then a
        swing's or a push-off's hump, not a landing (without this, it would hide every heel
        strike after it, half a stride later), 1. The shank detector applies it to its landing
        score (and drops the overridden contact's interval), and takes no contact that scores
        under ``1 / limb_override`` of the last one in the same bout (a push-off or the terminal
        swing scores far less than a landing; landings score alike).
    shank_jolt_lag_s : float
        Shank without a gyroscope (which also uses ``limb_lookahead_s`` as its latency bound,
        ``limb_refractory_fraction`` and ``limb_override``): the jolt of a landing is the change of
        the acceleration vector over this lag (a swing changes it smoothly, an impact abruptly), s.
    shank_fall_s : float
        Shank without a gyroscope: the fall that a landing ends is the lowest |a| over this time
        before the jolt's lag (below g at the end of single support or of the flight); the jolt is
        weighted by ``1 + (g - lowest) / g``, s.
    shank_jolt_floor_mps2 : float
        Shank without a gyroscope: smallest jolt of a landing, m/s².
    shank_peak_fraction : float
        Shank without a gyroscope: a landing scores highest over this fraction of the stride period
        before it (which holds the push-off and the swing, not the last landing), 1.
    shank_run_mps2 : float
        Shank without a gyroscope: a stride whose mean ||a| - g| reaches this says ``run`` (a short
        stance, a hard landing and a fast swing; a walk spends most of its stride near g; the
        gait changes after ``gait_switch_steps`` such strides in a row), m/s².
    """

    gravity_cutoff_hz: float = 0.5
    step_cutoff_hz: float = 5.0
    swing_cutoff_hz: float = 12.0
    lookahead_s: float = 0.05
    back_fraction: float = 0.45
    refine_s: float = 0.1
    climb_fraction: float = 0.5
    flight_climb_fraction: float = 0.25
    floor_mps2: float = 0.5
    relative_threshold: float = 0.35
    rhythm_relative_threshold: float = 0.1
    rhythm_floor_mps2: float = 0.5
    rhythm_window: tuple[float, float] = (0.75, 1.5)
    refractory_fraction: float = 0.4
    min_step_interval_s: float = 0.22
    min_stride_interval_s: float = 0.45
    default_step_period_s: float = 0.5
    max_period_s: float = 1.1
    run_cadence_spm: float = 140.0
    cadence_steps: int = 8
    cadence_strides: int = 3
    flight_mps2: float = 4.0
    run_flight_mps2: float = 8.0
    gait_switch_steps: int = 2
    gap_s: float = 0.5
    axis_memory_s: float = 3.0
    lobe_hysteresis_rads: float = 0.3
    lobe_memory: float = 0.9
    min_swing_rad: float = 0.35
    swing_relative: float = 0.4
    rhythm_swing_relative: float = 0.2
    rhythm_min_swing_rad: float = 0.2
    stance_rads: float = 1.0
    stance_min_s: float = 0.05
    push_off_rads: float = 1.0
    lobe_settle_s: float = 0.1
    impact_window_s: float = 0.08
    still_mps2: float = 0.3
    still_s: float = 1.0
    initiation_s: float = 0.5
    limb_lookahead_s: float = 0.14
    limb_peak_fraction: float = 0.3
    limb_floor_mps2: float = 5.0
    limb_rest_mps2: float = 3.0
    limb_rest_lag_s: float = 0.1
    limb_rest_min_s: float = 0.05
    limb_swing_s: float = 0.3
    limb_end_fraction: float = 0.5
    limb_refractory_fraction: float = 0.6
    limb_override: float = 2.0
    shank_jolt_lag_s: float = 0.02
    shank_fall_s: float = 0.06
    shank_jolt_floor_mps2: float = 8.0
    shank_peak_fraction: float = 0.7
    shank_run_mps2: float = 6.0


@dataclass
class Steps:
    """Detected foot contacts, as parallel arrays.

    Attributes
    ----------
    t_s : numpy.ndarray
        Contact times, s, on the input's time base.
    emitted_at_s : numpy.ndarray
        Time of the sample whose arrival decided each contact, s (``emitted_at_s - t_s`` is the latency).
    cadence_spm : numpy.ndarray
        Cadence at each contact, steps/min, counting both feet, from the most recent intervals of
        the current bout only (``cadence_steps`` steps in whole strides, or ``cadence_strides``
        strides of a foot sensor); NaN at the first contact of a bout (after a pause longer than
        a step period can be, or a gap in time).
    is_run : numpy.ndarray
        True where the gait is running, False walking.
    amplitude_mps2 : numpy.ndarray
        Strength of the signal that triggered each contact, m/s².
    """

    t_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    emitted_at_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cadence_spm: np.ndarray = field(default_factory=lambda: np.zeros(0))
    is_run: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    amplitude_mps2: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n_steps(self) -> int:
        """Number of contacts."""
        return int(self.t_s.shape[0])

    @classmethod
    def _from_rows(cls, rows: np.ndarray) -> Steps:
        if not rows.shape[0]:
            return cls()  # most blocks: nothing found (fresh empty arrays, no slicing)
        cols = rows.T.copy()  # one copy; each field is a contiguous row of it
        return cls(
            t_s=cols[K.O_T],
            emitted_at_s=cols[K.O_T_EMIT],
            cadence_spm=cols[K.O_CADENCE],
            is_run=cols[K.O_RUN] > 0.5,
            amplitude_mps2=cols[K.O_AMP],
        )

    @classmethod
    def concatenate(cls, parts: list[Steps]) -> Steps:
        """Join the results of consecutive blocks.

        Parameters
        ----------
        parts : list of Steps
            Results in time order.

        Returns
        -------
        Steps
            One result holding every contact.
        """
        return concatenate_results(cls, parts)


@dataclass(frozen=True)
class DetectorFlags:
    """What the detector absorbed so far (read-only counters).

    Attributes
    ----------
    repaired_samples : int
        Samples with NaN, infinite or all-zero acceleration, or NaN or infinite angular
        rate, replaced by the last good one (a sample bad on both sensors counts twice).
    gaps : int
        Gaps that restarted the detector: a jump of time forward or back, or a stretch of
        at least 0.25 s of dead data (repaired samples or a frozen sensor).
    samples : int
        Samples processed.
    frozen_samples : int
        Samples that repeat the previous reading exactly on every axis, in runs of at least
        50 ms (a live sensor always shows some noise: the sensor or its bus is stuck).
    saturated_samples : int
        Samples with an axis at the sensor's full-scale range (clipped), when the detector
        was told the ranges.  Kept as they are: the contact is still there, its peak is not.
    """

    repaired_samples: int
    gaps: int
    samples: int
    frozen_samples: int = 0
    saturated_samples: int = 0


def _clip_level(range_value: float | None, name: str) -> float:
    """Level at which a sample counts as clipped at a full-scale range (0.0: range unknown)."""
    if range_value is None:
        return 0.0
    r = float(range_value)
    if not (math.isfinite(r) and r > 0.0):
        raise ValidationError(
            f"{name}={range_value!r} must be a positive full-scale range (or None when unknown)"
        )
    return 0.995 * r


class _Setup(NamedTuple):
    """What a new detector of one configuration starts from (copied, never handed out)."""

    steps_feet: str
    params: np.ndarray
    coefs: np.ndarray
    state0: np.ndarray
    ring_shape: tuple[int, int]
    min_gap_samples: int


#: The detector's constants when none are given (frozen: one instance serves every detector).
_DEFAULT_SETTINGS = StepSettings()
#: Set-ups by (settings, rate, placement, has_gyro, clip levels), made by the first detector of each:
#: on a recording of a few seconds, designing the same filters and parameter vector again was a
#: sizeable part of the detection time.
_SETUPS: dict[tuple, _Setup] = {}
#: Forget every set-up beyond this many (a caller that tries many settings must not grow it forever).
_MAX_SETUPS = 64


def _design(
    s: StepSettings, fs: float, placement: str, has_gyro: bool, clip_a: float, clip_g: float
) -> _Setup:
    """Design a detector's parameter vector, filters, initial state and buffer sizes.

    Parameters
    ----------
    s : StepSettings
        Detector constants.
    fs : float
        Sampling rate, Hz.
    placement : str
        Canonical placement.
    has_gyro : bool
        Whether the blocks carry gyroscope data.
    clip_a, clip_g : float
        Saturation levels of the accelerometer (m/s²) and gyroscope (rad/s); 0 when unknown.

    Returns
    -------
    _Setup
        What every detector of this configuration starts from.
    """
    if not 2 <= s.cadence_steps <= K.N_INTERVALS:
        raise ValidationError(
            f"cadence_steps={s.cadence_steps} is outside 2-{K.N_INTERVALS}; choose a value in that range"
        )
    if s.gait_switch_steps < 1:
        raise ValidationError(f"gait_switch_steps={s.gait_switch_steps} must be at least 1")
    if not 1 <= s.cadence_strides <= K.N_INTERVALS:
        raise ValidationError(
            f"cadence_strides={s.cadence_strides} is outside 1-{K.N_INTERVALS}; choose one in that range"
        )
    foot_mode = placement in ("foot", "shank") and has_gyro
    limb_mode = placement in _LIMB_ACC_PLACEMENTS and not has_gyro
    shank_mode = placement == "shank" and not has_gyro
    # Foot and shank sensors, with a gyroscope or without, report the contacts of their own foot,
    # one per stride; the lower back reports both feet.
    one_leg = foot_mode or limb_mode or shank_mode
    steps_feet = "one" if one_leg else "both"
    p = np.zeros(K.N_PARAMS)
    p[K.P_FS] = fs
    p[K.P_MODE] = 1.0 if foot_mode else (2.0 if limb_mode else (3.0 if shank_mode else 0.0))
    p[K.P_LOOK_S] = s.lookahead_s
    p[K.P_BACK_FRAC] = s.back_fraction
    p[K.P_REFINE_S] = s.refine_s
    p[K.P_FLOOR] = s.floor_mps2
    p[K.P_REL] = s.relative_threshold
    p[K.P_REFR_FRAC] = s.refractory_fraction
    p[K.P_MIN_INTERVAL_S] = s.min_stride_interval_s if one_leg else s.min_step_interval_s
    p[K.P_DEFAULT_PERIOD_S] = 2.0 * s.default_step_period_s if one_leg else s.default_step_period_s
    p[K.P_MAX_PERIOD_S] = 2.0 * s.max_period_s if one_leg else s.max_period_s
    p[K.P_RUN_CADENCE] = s.run_cadence_spm
    p[K.P_FLIGHT] = s.flight_mps2
    p[K.P_RUN_FLIGHT] = s.run_flight_mps2
    p[K.P_GAIT_SWITCH_N] = float(s.gait_switch_steps)
    p[K.P_GAP_S] = max(s.gap_s, 2.0 * s.max_period_s) if one_leg else s.gap_s
    p[K.P_FEET_FACTOR] = 2.0 if one_leg else 1.0
    # cadence over the same number of steps either way: 8 steps = 4 strides of one foot
    p[K.P_N_USE] = float(s.cadence_steps // 2 if one_leg else s.cadence_steps)
    # the cadence field: a foot's precise strides need fewer intervals than the trunk's steps
    p[K.P_CADENCE_N] = float(s.cadence_strides if one_leg else s.cadence_steps)
    p[K.P_AXIS_DECAY] = math.exp(-1.0 / (fs * s.axis_memory_s))
    p[K.P_HYST_RADS] = s.lobe_hysteresis_rads
    p[K.P_LOBE_DECAY] = s.lobe_memory
    p[K.P_MIN_SWING_RAD] = s.min_swing_rad
    p[K.P_SWING_REL] = s.swing_relative
    p[K.P_STANCE_RADS] = s.stance_rads
    p[K.P_STANCE_N] = max(1.0, round(s.stance_min_s * fs))
    p[K.P_PUSH_RADS] = s.push_off_rads
    p[K.P_LOBE_SETTLE_S] = s.lobe_settle_s
    p[K.P_IMPACT_S] = s.impact_window_s
    p[K.P_REL_RHYTHM] = s.rhythm_relative_threshold
    p[K.P_FLOOR_RHYTHM] = s.rhythm_floor_mps2
    p[K.P_RHYTHM_LO] = s.rhythm_window[0]
    p[K.P_RHYTHM_HI] = s.rhythm_window[1]
    p[K.P_SWING_REL_RHYTHM] = s.rhythm_swing_relative
    p[K.P_CLIMB_FRAC] = s.climb_fraction
    p[K.P_CLIMB_FRAC_FLIGHT] = s.flight_climb_fraction
    p[K.P_STILL_MPS2] = s.still_mps2
    p[K.P_STILL_S] = s.still_s
    p[K.P_INITIATION_S] = s.initiation_s
    p[K.P_MIN_SWING_RHYTHM] = s.rhythm_min_swing_rad
    p[K.P_LIMB_LOOK_S] = s.limb_lookahead_s
    p[K.P_LIMB_PEAK_FRAC] = s.limb_peak_fraction
    p[K.P_LIMB_FLOOR] = s.limb_floor_mps2
    p[K.P_LIMB_REST_MPS2] = s.limb_rest_mps2
    p[K.P_LIMB_REST_LAG_S] = s.limb_rest_lag_s
    p[K.P_LIMB_REST_S] = s.limb_rest_min_s
    p[K.P_LIMB_SWING_S] = s.limb_swing_s
    p[K.P_LIMB_END_FRAC] = s.limb_end_fraction
    p[K.P_LIMB_REFR_FRAC] = s.limb_refractory_fraction
    p[K.P_LIMB_OVERRIDE] = s.limb_override
    p[K.P_SHANK_LAG_S] = s.shank_jolt_lag_s
    p[K.P_SHANK_FALL_S] = s.shank_fall_s
    p[K.P_SHANK_FLOOR] = s.shank_jolt_floor_mps2
    p[K.P_SHANK_PEAK_FRAC] = s.shank_peak_fraction
    p[K.P_SHANK_RUN] = s.shank_run_mps2
    # a sample reading at least 99.5 % of the range is clipped (the top code is 32767/32768 of it)
    p[K.P_ACC_CLIP] = clip_a
    p[K.P_GYRO_CLIP] = clip_g
    coefs = np.vstack(
        [
            butter2_lowpass(s.gravity_cutoff_hz, fs),
            butter2_lowpass(s.step_cutoff_hz, fs),
            butter2_lowpass(s.swing_cutoff_hz, fs),
        ]
    )
    # trunk: the look-back of a hump; foot: |a| since a lobe's end (settle, then impact window)
    ring_s = max(
        s.back_fraction * s.max_period_s + s.lookahead_s + s.refine_s, s.lobe_settle_s + s.impact_window_s
    )
    if limb_mode:  # limb: an impact's look-ahead and look-back, and the rest test's lag
        ring_s = max(
            ring_s,
            s.limb_lookahead_s + s.limb_peak_fraction * 2.0 * s.max_period_s,
            s.limb_rest_lag_s,
        )
    if shank_mode:  # shank: a landing's look-ahead, its look-back, the jolt's lag and the fall window
        ring_s = max(
            ring_s,
            s.limb_lookahead_s
            + s.shank_peak_fraction * 2.0 * s.max_period_s
            + s.shank_jolt_lag_s
            + s.shank_fall_s,
        )
    # columns: time, then the step signal (trunk) or |a| (foot); limb: |a| and the vector; shank:
    # |a|, the vector, the landing score and the jolt
    ring_shape = (int(ring_s * fs) + 8, 5 if limb_mode else (7 if shank_mode else 2))
    min_gap_samples = max(1, int(min(s.min_step_interval_s, s.min_stride_interval_s) * fs))
    return _Setup(steps_feet, p, coefs, _initial_state(p), ring_shape, min_gap_samples)


def _initial_state(params: np.ndarray) -> np.ndarray:
    """Return the detector state before the first sample, for the parameter vector ``params``."""
    state = np.zeros(K.N_STATE)
    state[K.S_LAST_STEP_T] = -1e9
    state[K.S_AXIS : K.S_AXIS + 3] = 1.0 / math.sqrt(3.0)
    state[K.S_PERIOD] = params[K.P_DEFAULT_PERIOD_S]
    for slot in (K.S_QUIET_T, K.S_STILL_END, K.S_PUSH_T):  # as _step_kernels._reset_standing
        state[slot] = -1e9
    state[K.S_LIMB_REST_END] = state[K.S_LIMB_REST_END2] = -1e9
    return state


class StepDetector:
    """Streaming foot-contact detector: feed blocks of any size, get new contacts back.

    Parameters
    ----------
    sampling_rate_hz : float
        Nominal sampling rate, Hz (40–1000).
    placement : str
        ``lower_back`` (aliases ``waist``, ``belt``), ``foot`` or ``shank``.
    has_gyro : bool
        Whether the blocks will carry gyroscope data.
    settings : StepSettings, optional
        Detector constants; the defaults suit every placement.
    acc_range_mps2, gyro_range_rads : float, optional
        Full-scale ranges of the sensor (e.g. 4 g = 39.2 m/s²; 500 °/s = 8.73 rad/s), when
        known: samples at the range are counted as saturated (``flags.saturated_samples``).

    Notes
    -----
    Foot and shank sensors, with a gyroscope or without, report one contact per stride (the
    contacts of the instrumented foot) and a cadence that counts both feet; the lower back
    reports every contact of either foot.  A trunk contact is decided at most
    ``lookahead_s + refine_s`` after it happened; a foot contact once the pitch rate has crossed
    zero by ``lobe_hysteresis_rads`` (or faded out for ``lobe_settle_s``) and ``impact_window_s``
    has passed; a foot or shank contact without a gyroscope at most ``limb_lookahead_s`` after
    its impact.  The first call compiles
    the kernel (or loads it from the numba cache).
    """

    def __init__(
        self,
        *,
        sampling_rate_hz: float,
        placement: str,
        has_gyro: bool,
        settings: StepSettings | None = None,
        acc_range_mps2: float | None = None,
        gyro_range_rads: float | None = None,
    ) -> None:
        self.sampling_rate_hz = validate_rate(sampling_rate_hz)
        self.placement = canonical_placement(placement)
        self.has_gyro = validate_flag("has_gyro", has_gyro)
        self.settings = _DEFAULT_SETTINGS if settings is None else settings
        s = self.settings
        fs = self.sampling_rate_hz
        clip_a = _clip_level(acc_range_mps2, "acc_range_mps2")
        clip_g = _clip_level(gyro_range_rads, "gyro_range_rads")
        # the first detector of a configuration designs its set-up, later ones copy it (the
        # default settings by identity: hashing a 38-field dataclass costs more than the lookup)
        key = (None if s is _DEFAULT_SETTINGS else s, fs, self.placement, self.has_gyro, clip_a, clip_g)
        try:
            setup = _SETUPS.get(key)
        except TypeError:  # settings holding a list (rhythm_window=[...]) are no key: design afresh
            key = setup = None
        if setup is None:
            setup = _design(s, fs, self.placement, self.has_gyro, clip_a, clip_g)
            if key is not None:
                if len(_SETUPS) >= _MAX_SETUPS:
                    _SETUPS.clear()
                _SETUPS[key] = setup
        self.steps_feet = setup.steps_feet
        self._params = setup.params.copy()
        self._coefs = setup.coefs.copy()
        self._ring = np.zeros(setup.ring_shape)
        self._min_gap_samples = setup.min_gap_samples
        self._state = setup.state0.copy()
        self._intervals = np.zeros(K.N_INTERVALS)

    def reset(self) -> None:
        """Forget everything seen so far (filters, step timing, counters)."""
        self._state = _initial_state(self._params)
        self._ring[:] = 0.0
        self._intervals = np.zeros(K.N_INTERVALS)

    @property
    def flags(self) -> DetectorFlags:
        """Counters of repaired, frozen and saturated samples, gaps and samples processed."""
        st = self._state
        return DetectorFlags(
            repaired_samples=int(st[K.S_REPAIRED]),
            gaps=int(st[K.S_N_GAPS]),
            samples=int(st[K.S_N]),
            frozen_samples=int(st[K.S_FROZEN]),
            saturated_samples=int(st[K.S_SATURATED]),
        )

    @property
    def last_cadence_spm(self) -> float:
        """Cadence at the most recent contact, steps/min (NaN at the first contact of a bout)."""
        return float(self._state[K.S_LAST_CAD]) if self._state[K.S_N_STEPS] > 0 else float("nan")

    def update(self, t_s: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray | None = None) -> Steps:
        """Process one block and return the contacts it completed.

        Parameters
        ----------
        t_s : numpy.ndarray
            Sample times, shape ``(n,)``, s, finite and increasing (continuing the previous
            block); a jump back or forward in time restarts the detector (``flags.gaps``).
        acc_mps2 : numpy.ndarray
            Accelerometer, shape ``(n, 3)``, m/s², gravity included; NaN, infinite or all-zero
            samples are repaired (``flags.repaired_samples``).
        gyro_rads : numpy.ndarray, optional
            Gyroscope, shape ``(n, 3)``, rad/s; required when the detector was built with
            ``has_gyro=True``.

        Returns
        -------
        Steps
            Contacts decided within this block (possibly none; none for a zero-length block).

        Raises
        ------
        ValidationError
            On wrong shapes, arrays that do not hold real numbers, NaN or infinite times, or a
            gyroscope block missing when one was promised.
        """
        return Steps._from_rows(self._block_rows(*self._check_block(t_s, acc_mps2, gyro_rads)))

    # -- the raw path (dsp.pipeline reads the kernel's rows without building Steps per block) --------
    def _check_block(
        self, t_s: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return a block as the kernel takes it (contiguous float64; gyro ``(0, 3)`` without one).

        Raises
        ------
        ValidationError
            As :meth:`update`.
        """
        t, acc, gyro = check_block(t_s, acc_mps2, gyro_rads, self.has_gyro, "detector")
        return t, acc, _NO_GYRO if gyro is None else gyro

    def _block_rows(self, t: np.ndarray, acc: np.ndarray, gyro: np.ndarray) -> np.ndarray:
        """Run the kernel over a block from :meth:`_check_block`.

        Returns
        -------
        numpy.ndarray
            The contacts decided in the block, one row each (columns ``_step_kernels.O_*``).
        """
        out = np.empty((t.shape[0] // self._min_gap_samples + 2, K.N_OUT))
        k = K._detect_block(
            t,
            acc,
            gyro,
            self.has_gyro,
            self._params,
            self._coefs,
            self._state,
            self._ring,
            self._intervals,
            out,
        )
        return out[:k]


def detect_steps(
    t_s: np.ndarray,
    acc_mps2: np.ndarray,
    gyro_rads: np.ndarray | None = None,
    *,
    sampling_rate_hz: float,
    placement: str,
    settings: StepSettings | None = None,
) -> Steps:
    """Detect every foot contact of a whole recording (the batch form of :class:`StepDetector`).

    Parameters
    ----------
    t_s : numpy.ndarray
        Sample times, shape ``(n,)``, s.
    acc_mps2 : numpy.ndarray
        Accelerometer, shape ``(n, 3)``, m/s².
    gyro_rads : numpy.ndarray, optional
        Gyroscope, shape ``(n, 3)``, rad/s.
    sampling_rate_hz : float
        Nominal sampling rate, Hz.
    placement : str
        ``lower_back``, ``foot`` or ``shank`` (or an alias).
    settings : StepSettings, optional
        Detector constants.

    Returns
    -------
    Steps
        Every contact; identical to feeding the same samples to a :class:`StepDetector` in blocks.

    Raises
    ------
    ValidationError
        As :class:`StepDetector` and :meth:`StepDetector.update`.
    """
    det = StepDetector(
        sampling_rate_hz=sampling_rate_hz,
        placement=placement,
        has_gyro=gyro_rads is not None,
        settings=settings,
    )
    return det.update(t_s, acc_mps2, gyro_rads)


def cadence_of_contacts(
    t_s: np.ndarray,
    *,
    placement: str,
    has_gyro: bool = True,
    settings: StepSettings | None = None,
) -> np.ndarray:
    """Return the ``cadence_spm`` the detector gives contacts found at these times.

    The detector's own per-step cadence estimate (the same kernel), run on given contact times
    instead of detected ones: e.g. on a recording's true contacts, to separate what the
    estimate itself does (its lag, its band) from what missed and extra contacts do.

    Parameters
    ----------
    t_s : numpy.ndarray
        Contact times in increasing order, s: both feet at the lower back, the instrumented foot
        only for a foot or shank sensor.
    placement : str
        ``lower_back``, ``foot`` or ``shank`` (or an alias).
    has_gyro : bool
        Whether the sensor has a gyroscope (either way a foot or shank sensor reports one foot).
    settings : StepSettings, optional
        Detector constants (``cadence_steps``, ``cadence_strides``, ``max_period_s``).

    Returns
    -------
    numpy.ndarray
        Cadence at each contact, steps/min (both feet), NaN at the first contact of a bout.

    Raises
    ------
    ValidationError
        When the times are not finite and increasing.
    """
    t = np.ascontiguousarray(t_s, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0.0):
        raise ValidationError("contact times must be finite and increasing")
    det = StepDetector(sampling_rate_hz=100.0, placement=placement, has_gyro=has_gyro, settings=settings)
    out = np.empty((t.size, K.N_OUT))
    n = 0
    for ti in t:
        n = K._record_step(ti, ti, 0.0, det._params, det._state, det._intervals, out, n)
    return out[:n, K.O_CADENCE].copy()
