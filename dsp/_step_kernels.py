"""Numba kernels of the streaming step detector.

One kernel, :func:`_detect_block`, consumes samples one at a time and keeps every
piece of memory it needs in three arrays owned by the caller (``state``, ``ring`` and
``intervals``).  Feeding a recording in one block or in blocks of any size therefore
runs exactly the same arithmetic in the same order: chunking cannot change a result.

The kernels are private and pure: no globals but the integer slot numbers below
(compile-time constants), no dicts, no I/O, no exceptions.  The typed wrapper is
``dsp.steps``; the slow reference that the tests compare against is
``tests/naive.py``.

Signals (all rotation-invariant, so the sensor may be mounted any way round):

* gravity ``g``: each accelerometer axis low-passed at ~0.5 Hz;
* vertical acceleration ``a_v = a · ĝ - |g|``;
* step signal ``s``: ``a_v`` low-passed at ~5 Hz (one hump per step at the trunk).  Heel
  strike decelerates the falling trunk: ``s`` climbs from its trough of late single support
  to the loading hump, and the contact is timed where that climb is half done.  A weaker hump
  counts where the rhythm expects the next step; the rhythm is one of contacts, so it is tested at
  the hump's contact time, not at its peak (a slow last step peaks long after its contact).
  A walk that starts from standing (``s`` within ``still_mps2`` of zero for ``still_s``) begins
  with the push-off of the first swing leg, a hump without a contact: a bout's first hump whose
  contact comes within ``initiation_s`` of the end of standing is not a step (the first heel
  strike needs the push-off and a whole swing first);
* limb mode (a foot without gyroscope): |a| and the acceleration vector only.  The foot rests
  (the acceleration vector stays within ``P_LIMB_REST_MPS2`` of itself over ``P_LIMB_REST_LAG_S``
  and |a| within as much of g) for a while in every walking stance, and briefly in a running one.
  The contact is the heel strike's impact: a peak of |a| that is the largest over the look-ahead
  and over a fraction of the stride before it, unless the foot left a rest less than a swing
  (``P_LIMB_SWING_S``) before it: that is the push-off's burst, not a landing.  One per stride
  (``P_LIMB_REFR_FRAC`` of the period), unless the impact dwarfs the last contact's
  (``P_LIMB_OVERRIDE``: that one was a swing's or push-off's hump).  It is timed where the burst
  holding the peak falls below ``P_LIMB_END_FRAC`` of its height: the peak of a brief impact, the
  end of a broad swing hump that swallowed a band-limited heel strike (the foot has landed);
* shank mode (a shank without gyroscope): |a| and the acceleration vector only. The shank does
  not rest in stance (it rotates over the ankle), so the push-off is told from the heel strike by
  what comes before it: a landing ends a fall (|a| below g at the end of single support or of
  the flight) with a jolt (the vector changes abruptly), a push-off rises out of a loaded stance.
  The landing score (the jolt over ``P_SHANK_LAG_S``, weighted by the fall) must be the largest
  over the look-ahead and over ``P_SHANK_PEAK_FRAC`` of the stride before it; one per stride,
  with the limb detector's refractory time and override (see :func:`_shank_sample`);
* foot mode: pitch rate ``p``: the gyroscope projected on its dominant axis (the foot's
  pitch axis, found by power iteration on the running second moment of the rate's horizontal
  part, i.e. without its component along gravity, the yaw of turns) and low-passed at
  ~12 Hz.  A stride is a sequence of rotation lobes (push-off, swing, foot-flat), and the
  contact is the instant the swing lobe ends (``p`` crosses zero, or fades out within the
  hysteresis).  The swing's sign is voted on by push-off (the first rotation after a rest
  turns against the swing) and by the heel-strike impact (of two lobes meeting at a zero
  crossing, the one followed by the larger peak of |a| is the swing), so each lobe end waits
  ``impact_window_s`` before it is decided.
"""

from __future__ import annotations

import numpy as np

from dsp._config import kernel

# ---- parameter slots (params vector, built by dsp.steps.StepDetector) ----------------------
P_FS = 0
P_MODE = 1  # 0: trunk (lower back); 1: foot/shank with gyro; 2: foot without gyro; 3: shank without gyro
P_LOOK_S = 2
P_BACK_FRAC = 3
P_REFINE_S = 4
P_FLOOR = 5
P_REL = 6
P_REFR_FRAC = 7
P_MIN_INTERVAL_S = 8
P_DEFAULT_PERIOD_S = 9
P_MAX_PERIOD_S = 10
P_RUN_CADENCE = 11  # foot sensors: a stride at or above this cadence says run, steps/min
P_FLIGHT = 12  # trunk: a trough below -this before a hump is a flight phase (the contact's timing), m/s²
P_GAP_S = 13
P_FEET_FACTOR = 14
P_AXIS_DECAY = 15  # foot: per-sample decay of the gyro second moment
P_HYST_RADS = 16  # foot: pitch-rate hysteresis around zero, rad/s
P_LOBE_DECAY = 17  # foot: per-lobe decay of the lobe-rotation peaks
P_MIN_SWING_RAD = 18  # foot: smallest swing rotation, rad
P_SWING_REL = 19  # foot: swing rotation relative to the recent swing peak
P_STANCE_RADS = 20  # foot: |w| below this is the foot at rest, rad/s
P_STANCE_N = 21  # foot: samples at rest that make a stance
P_PUSH_RADS = 22  # foot: pitch rate that marks push-off after a stance, rad/s
P_N_USE = 23  # how many of the stored intervals the period and cadence use
P_LOBE_SETTLE_S = 24  # foot: a lobe also ends after the rate stays near zero this long, s
P_REL_RHYTHM = 25  # trunk: relative threshold for a hump that comes when the rhythm expects one
P_FLOOR_RHYTHM = 26  # trunk: floor for such a hump, m/s²
P_RHYTHM_LO = 27  # trunk: the rhythm expects a step from this fraction of the period after the last ...
P_RHYTHM_HI = 28  # trunk: ... to this fraction
P_SWING_REL_RHYTHM = 29  # foot: swing rotation relative to the recent peak where the rhythm expects a contact
P_MIN_SWING_RHYTHM = 30  # foot: smallest swing rotation there, rad
P_CLIMB_FRAC = 31  # trunk: the contact is where the climb to the hump is this fraction done ...
P_CLIMB_FRAC_FLIGHT = 32  # trunk: ... or this fraction when the climb starts from a flight phase
P_ACC_CLIP = 33  # |acc| on an axis at or above this is clipped at the range, m/s² (0: range unknown)
P_GYRO_CLIP = 34  # same for the gyroscope, rad/s (0: range unknown)
# slots 35..44: trunk detector; 45..54: foot detector
P_STILL_MPS2 = 35  # trunk: the trunk is still while |s| stays below this, m/s²
P_STILL_S = 36  # trunk: stillness this long is standing
P_INITIATION_S = 37  # trunk: a bout's first hump this soon after standing is the push-off of gait start, s
P_IMPACT_S = 45  # foot: the impact after a lobe's end is the largest |a| within this time of it, s
P_CADENCE_N = 55  # intervals of this bout the cadence field uses (steps, or a foot sensor's strides)
# slots 56..62: limb detector (mode 2: a foot without gyroscope)
P_LIMB_LOOK_S = 56  # limb: an impact must be the largest |a| over this look-ahead, s (bounds the latency)
P_LIMB_PEAK_FRAC = 57  # limb: ... and over this fraction of the stride period before it
P_LIMB_FLOOR = 58  # limb: smallest impact, |a| above g, m/s²
P_LIMB_REST_MPS2 = 59  # limb: at rest, |a| is within this of g and a moved less than this over the lag, m/s²
P_LIMB_REST_LAG_S = 60  # limb: the lag over which a resting foot's acceleration vector barely moves, s
P_LIMB_REST_S = 61  # limb: quiet this long is a rest (the foot flat in stance), s
P_LIMB_SWING_S = 62  # limb: a contact comes at least this long after the foot left its last rest, s
P_LIMB_END_FRAC = 63  # limb: the contact ends the burst of |a| above g + this fraction of the peak's height
P_LIMB_REFR_FRAC = 64  # limb: no contact within this fraction of the stride period after the last ...
P_LIMB_OVERRIDE = 65  # limb: ... unless its impact is over this many times the last contact's
# slots 66..70: shank detector (mode 3: a shank without gyroscope; it also reads P_LIMB_LOOK_S,
# P_LIMB_REFR_FRAC and P_LIMB_OVERRIDE)
P_SHANK_LAG_S = 66  # shank: the jolt is the change of the acceleration vector over this lag, s
P_SHANK_FALL_S = 67  # shank: the fall before a jolt: the lowest |a| over this time before the lag, s
P_SHANK_FLOOR = 68  # shank: smallest jolt of a landing, m/s²
P_SHANK_PEAK_FRAC = 69  # shank: a landing scores highest over this fraction of the stride period before it
P_SHANK_RUN = 70  # shank: a stride whose mean ||a| - g| reaches this says run, m/s²
# (slot 71 is free)
P_RUN_FLIGHT = 72  # trunk: a step whose step signal fell below -this since the last contact says run, m/s²
P_GAIT_SWITCH_N = 73  # the gait changes after this many contacts in a row say the other gait
N_PARAMS = 74

# ---- state slots ---------------------------------------------------------------------------
S_N = 0  # samples seen
S_INIT = 1  # filters initialised
S_GZ1 = 2  # gravity biquad z1 (3 slots)
S_GZ2 = 5  # gravity biquad z2 (3 slots)
S_SZ1 = 8  # step-signal biquad
S_SZ2 = 9
S_N_BOUT = 10  # stored intervals since the last pause (the cadence uses only these)
S_FREE_11 = 11  # unused
S_FREE_12 = 12  # unused
S_LAST_T = 13  # time of the previous sample, s
S_LAST_STEP_T = 14  # time of the previous contact, s
S_AMP = 15  # trunk: running hump amplitude, m/s²
S_N_INT = 16  # stored intervals
S_INT_POS = 17  # next interval slot
S_WZ1 = 18  # foot: pitch-rate biquad
S_WZ2 = 19
S_MIN_S = 20  # trunk: lowest step signal since the last step (flight phases), m/s²
S_LAST_MIN_S = 21  # trunk: same, for the step before
S_REPAIRED = 22  # samples repaired
S_GOOD_A = 23  # last good accelerometer sample (3 slots)
S_GOOD_G = 26  # last good gyroscope sample (3 slots)
S_N_STEPS = 29  # contacts so far
S_VALID_FROM = 30  # first sample index after the last reset (gap)
S_N_GAPS = 31  # gaps seen
S_LAST_CAD = 32  # cadence at the last contact
S_LOBE_SIGN = 33  # foot: sign of the current pitch-rate lobe (0 before the first)
S_LOBE_INT = 34  # foot: rotation of the current lobe so far, rad
S_LOBE_T = 35  # foot: last time the pitch rate was on the lobe's side of zero, s
S_LOBE_POS = 36  # foot: decaying peak rotation of positive lobes, rad
S_LOBE_NEG = 37  # foot: same for negative lobes, rad
S_COV = 38  # foot: running second moment of the gyro (6 slots: xx xy xz yy yz zz)
S_AXIS = 44  # foot: pitch axis estimate (3 slots)
S_STILL_N = 47  # foot: consecutive samples with the foot at rest
S_AFTER_STANCE = 48  # foot: 1 after a stance, until push-off shows its sign
S_SIGN_SCORE = 49  # foot: votes for the swing's sign (+: positive lobes are swings)
S_PERIOD = 50  # robust step (or stride) period from the stored intervals, s
S_RAW = 51  # previous raw sample, acc then gyro (6 slots), to spot a frozen sensor and clipping
S_SAME_RUN = 57  # consecutive samples identical to the one before (all axes)
S_FROZEN = 58  # samples counted as a frozen sensor
S_SATURATED = 59  # samples with an axis at the full-scale range (clipped)
S_DEAD_RUN = 60  # consecutive dead samples (repaired or frozen), to restart after a long stretch
# slots 61..70: trunk detector; 71..80: foot detector
S_QUIET_T = 61  # trunk: start of the current still stretch (|s| below still_mps2), s (-1e9: moving)
S_STILL_END = 62  # trunk: end of the last stillness of at least still_s (standing), s
S_PUSH_T = 63  # trunk: the last hump taken as the push-off of gait initiation, s
S_LOBE_T_ACT = 71  # foot: last time the pitch rate was beyond the hysteresis on the lobe's side, s
S_LOBE_CONSEC = 72  # foot: 1 if the current lobe began where the one before crossed zero into it
S_PEND_SIGN = 73  # foot: sign of the ended lobe whose impact window is still open (0: none)
S_PEND_T = 74  # foot: its end time, s
S_PEND_CAND = 75  # foot: 1 if its rotation and timing allow a contact, 2 if only with its impact's support
S_PEND_ROT = 76  # foot: its rotation, rad
S_PEND_CONSEC = 77  # foot: its S_LOBE_CONSEC
S_PREV_IMP = 78  # foot: impact after the end of the lobe decided last, m/s²
S_PREV_ROT = 79  # foot: rotation of that lobe, rad
# slots 81..83: limb detector
S_LIMB_QUIET_N = 81  # limb: consecutive quiet samples
S_LIMB_REST_END = 82  # limb: when the last rest ended (its first moving sample), s (-1e9: none)
S_LIMB_REST_END2 = 83  # limb: when the rest before it ended, s
S_LIMB_LAST_IMP = 84  # limb: impact of the last contact, |a| above g (shank: its landing score), m/s²
S_LIMB_NEXT = 85  # limb and shank: index of the next sample to decide (a candidate contact)
# slots 86..88: shank detector (89-91 free)
S_SHANK_ACT = 86  # shank: sum of ||a| - g| since the last contact, m/s²
S_SHANK_ACT_N = 87  # shank: samples in that sum
S_SHANK_RUN = 88  # shank: 1 when the stride that ended at the contact being recorded says run
S_GAIT = 92  # the gait reported: 1.0 run, 0.0 walk
S_GAIT_N = 93  # contacts in a row whose evidence says the other gait
N_STATE = 94

#: A sensor repeating exactly the same reading on every axis for this long is frozen, s
#: (a live MEMS sensor always shows a few LSB of noise; held-value upsampling repeats once or twice).
FROZEN_S = 0.05
#: Dead data (NaN, inf, all-zero or frozen) for this long is a gap: the detector restarts after it, s.
DEAD_GAP_S = 0.25

N_INTERVALS = 8

#: Standard gravity, m/s²: a resting foot's |a| (the limb detector's rest test and impact floor).
G_MPS2 = 9.80665

# ---- output columns ------------------------------------------------------------------------
O_T = 0  # contact time, s
O_T_EMIT = 1  # time of the sample at which the step was decided, s
O_CADENCE = 2  # steps/min (both feet), NaN until the bout has an interval
O_RUN = 3  # 1.0 run, 0.0 walk
O_AMP = 4  # peak value that triggered the step (m/s²)
N_OUT = 5


@kernel
def _biquad(x, c, z1, z2):
    """One sample of a transposed direct-form-II biquad whose delays the caller keeps.

    Scalars only: the caller keeps the delays (in locals through a block, where a delay stored to
    and loaded from the state array on each sample would lengthen the loop's dependency chain).

    Parameters
    ----------
    x : float
        Input sample.
    c : tuple of float
        ``(b0, b1, b2, a1, a2)``.
    z1, z2 : float
        The two delays.

    Returns
    -------
    tuple of float
        Output sample and the new ``z1``, ``z2``.
    """
    y = c[0] * x + z1
    return y, c[1] * x - c[3] * y + z2, c[2] * x - c[4] * y


@kernel
def _ordered(a, b):
    """Return ``(a, b)`` in ascending order (one compare-exchange of a sorting network; scalars only)."""
    return (a, b) if a <= b else (b, a)


@kernel
def _sorted8(x0, x1, x2, x3, x4, x5, x6, x7):
    """Return eight floats in ascending order (no NaN): Batcher's network of 19 compare-exchanges.

    Scalars in, a tuple out: no memory, no allocation, and no branch that depends on the data (LLVM
    makes each compare-exchange a pair of selects), where an insertion sort mispredicts about
    every other comparison. ``tests/test_steps.py`` checks it on every 0/1 input (which proves a
    comparator network) and on random floats.
    """
    x0, x1 = _ordered(x0, x1)
    x2, x3 = _ordered(x2, x3)
    x4, x5 = _ordered(x4, x5)
    x6, x7 = _ordered(x6, x7)
    x0, x2 = _ordered(x0, x2)
    x1, x3 = _ordered(x1, x3)
    x4, x6 = _ordered(x4, x6)
    x5, x7 = _ordered(x5, x7)
    x1, x2 = _ordered(x1, x2)
    x5, x6 = _ordered(x5, x6)
    x0, x4 = _ordered(x0, x4)
    x3, x7 = _ordered(x3, x7)
    x1, x5 = _ordered(x1, x5)
    x2, x6 = _ordered(x2, x6)
    x1, x4 = _ordered(x1, x4)
    x3, x6 = _ordered(x3, x6)
    x2, x4 = _ordered(x2, x4)
    x3, x5 = _ordered(x3, x5)
    x3, x4 = _ordered(x3, x4)
    return x0, x1, x2, x3, x4, x5, x6, x7


@kernel
def _record_step(t_ic, t_emit, amp, params, state, intervals, out, n_out):
    """Store one detected contact and update the period and cadence estimates.

    Called once per contact; it allocates nothing (the intervals in use are sorted in locals by a
    sorting network).

    Returns
    -------
    int
        The new number of rows in ``out``.
    """
    last = state[S_LAST_STEP_T]
    if last > -1e8:
        dt = t_ic - last
        if dt <= params[P_MAX_PERIOD_S]:
            pos = int(state[S_INT_POS])
            intervals[pos] = dt
            state[S_INT_POS] = (pos + 1) % intervals.shape[0]
            state[S_N_INT] = min(state[S_N_INT] + 1.0, float(intervals.shape[0]))
            state[S_N_BOUT] = min(state[S_N_BOUT] + 1.0, float(intervals.shape[0]))
        else:  # a pause: the cadence of the new bout starts afresh (the period keeps the old rhythm)
            state[S_N_BOUT] = 0.0
    # the period: the most recent `n_use` intervals (a foot sensor's are strides: half as many,
    # same time span); the cadence: this bout's most recent `P_CADENCE_N` intervals only (NaN at
    # the first contact of a bout), steps of both feet in whole strides (an even count), as a left
    # and a right step need not last the same. Both read the newest intervals first, read once.
    n_use = min(int(state[S_N_INT]), int(params[P_N_USE]))
    n_cad = min(int(state[S_N_BOUT]), int(state[S_N_INT]), int(params[P_CADENCE_N]))
    if params[P_FEET_FACTOR] == 1.0 and n_cad >= 2:
        n_cad -= n_cad % 2
    # robust mean of the newest `n` intervals, for n = n_use (the period) then n_cad (the cadence):
    # the mean of those within 0.6-1.6 × their median. The band leaves out pauses, missed steps
    # (about 2 ×) and extra steps (about 0.5 ×), and the mean averages out the quantisation of
    # intervals to whole samples that a plain median keeps (±2 steps/min at 100 Hz and 160
    # steps/min). They are sorted by a fixed network of compare-exchanges on scalars (no memory,
    # no allocation, no data-dependent branch), the slots not in use held at +inf, and summed in
    # ascending order; intervals are finite and positive, so any sort gives the same values.
    pos = int(state[S_INT_POS])
    default = params[P_DEFAULT_PERIOD_S]
    cadence = np.nan
    robust = default
    for which in range(2):
        n_take = n_use if which == 0 else n_cad
        if which == 1 and n_take < 1:
            break
        if which == 1 and n_take == n_use:  # the period's intervals (trunk, mid-bout): the same mean
            cadence = 60.0 * params[P_FEET_FACTOR] / robust
            break
        robust = default
        if n_take > 0:
            # ring slot p holds the interval of age (pos - 1 - p) mod N_INTERVALS (0: the newest)
            x0 = intervals[0] if (pos + N_INTERVALS - 1) % N_INTERVALS < n_take else np.inf
            x1 = intervals[1] if (pos + N_INTERVALS - 2) % N_INTERVALS < n_take else np.inf
            x2 = intervals[2] if (pos + N_INTERVALS - 3) % N_INTERVALS < n_take else np.inf
            x3 = intervals[3] if (pos + N_INTERVALS - 4) % N_INTERVALS < n_take else np.inf
            x4 = intervals[4] if (pos + N_INTERVALS - 5) % N_INTERVALS < n_take else np.inf
            x5 = intervals[5] if (pos + N_INTERVALS - 6) % N_INTERVALS < n_take else np.inf
            x6 = intervals[6] if (pos + N_INTERVALS - 7) % N_INTERVALS < n_take else np.inf
            x7 = intervals[7] if (pos + N_INTERVALS - 8) % N_INTERVALS < n_take else np.inf
            srt = _sorted8(x0, x1, x2, x3, x4, x5, x6, x7)
            if n_take % 2 == 1:
                med = srt[(n_take - 1) // 2]
            else:
                med = 0.5 * (srt[n_take // 2 - 1] + srt[n_take // 2])
            total = 0.0
            cnt = 0
            for q in range(n_take):
                v = srt[q]
                if 0.6 * med <= v <= 1.6 * med:
                    total += v
                    cnt += 1
            # two very different intervals: nothing near their median
            robust = med if cnt == 0 else total / cnt
        if which == 0:
            state[S_PERIOD] = robust
        else:
            cadence = 60.0 * params[P_FEET_FACTOR] / robust
    # the gait: each contact's evidence (the trunk: a flight phase, the step signal near free fall
    # since the last contact; a shank without gyroscope: its stride's mean ||a| - g|; a foot
    # sensor: the cadence, NaN at a bout's first contact: none), and the gait changes only after
    # P_GAIT_SWITCH_N contacts in a row say the other one
    evidence = -1.0
    if params[P_MODE] == 0.0:
        evidence = 1.0 if state[S_LAST_MIN_S] < -params[P_RUN_FLIGHT] else 0.0
    elif params[P_MODE] == 3.0:
        evidence = state[S_SHANK_RUN]
    elif cadence == cadence:
        evidence = 1.0 if cadence >= params[P_RUN_CADENCE] else 0.0
    if evidence >= 0.0:
        if evidence != state[S_GAIT]:
            state[S_GAIT_N] += 1.0
            if state[S_GAIT_N] >= params[P_GAIT_SWITCH_N]:
                state[S_GAIT] = evidence
                state[S_GAIT_N] = 0.0
        else:
            state[S_GAIT_N] = 0.0
    run = state[S_GAIT]
    out[n_out, O_T] = t_ic
    out[n_out, O_T_EMIT] = t_emit
    out[n_out, O_CADENCE] = cadence
    out[n_out, O_RUN] = run
    out[n_out, O_AMP] = amp
    state[S_LAST_STEP_T] = t_ic
    state[S_N_STEPS] += 1.0
    state[S_LAST_CAD] = cadence
    return n_out + 1


@kernel
def _in_rhythm(since, period, n_int, lo, hi):
    """Whether a contact ``since`` s after the last one is where the step rhythm expects the next.

    Scalars only: a helper that takes arrays pays numba's reference counting of them per call.

    Parameters
    ----------
    since : float
        Time from the last contact, s.
    period : float
        Current step (or stride) period, s.
    n_int : float
        Stored intervals (``state[S_N_INT]``).
    lo, hi : float
        The rhythm's window, in periods after the last contact (``P_RHYTHM_LO``, ``P_RHYTHM_HI``).

    Returns
    -------
    bool
        True once an interval is known and ``since`` lies within ``[lo, hi]`` periods.
    """
    return n_int >= 1.0 and lo * period <= since <= hi * period


@kernel
def _reset_timing(state, params, k):
    """Forget step timing after a gap in time; filters restart on the next sample."""
    state[S_INIT] = 0.0
    state[S_LAST_STEP_T] = -1e9
    state[S_N_INT] = 0.0
    state[S_N_BOUT] = 0.0
    state[S_INT_POS] = 0.0
    state[S_PERIOD] = params[P_DEFAULT_PERIOD_S]
    state[S_LOBE_SIGN] = 0.0
    state[S_VALID_FROM] = float(k)
    state[S_N_GAPS] += 1.0
    # the trunk's flight evidence is "since the last contact": a trough from before the gap is not
    # the next contact's (the gait itself, S_GAIT, carries over: a runner is still running)
    state[S_MIN_S] = 0.0
    # and so is the shank's stride activity (its mean ||a| - g| since the last contact)
    state[S_SHANK_ACT] = 0.0
    state[S_SHANK_ACT_N] = 0.0
    _reset_standing(state)


@kernel
def _reset_standing(state):
    """Forget the trunk's standing and gait-initiation times (a new segment starts moving)."""
    state[S_QUIET_T] = -1e9
    state[S_STILL_END] = -1e9
    state[S_PUSH_T] = -1e9


@kernel
def _decide_lobe(ti, k, slot, valid_from, params, state, ring, intervals, out, n_out):
    """Decide whether the pending foot lobe (``S_PEND_*``) ended in a contact.

    The heel strike's impact follows the end of the swing lobe, not the end of push-off or
    foot-flat: of two lobes that meet at a zero crossing, the one whose end is followed by the
    larger peak of |a| (over ``impact_window_s``, kept in ``ring[:, 1]``) votes for the swing's
    sign, alongside the push-off votes.  A lobe whose rotation is only large enough for where the
    rhythm expects a contact (``S_PEND_CAND`` 2) counts when its own impact names it the swing.
    Called once per lobe; ``slot`` is the ring row of sample ``k`` (the look-back steps it down).

    Returns
    -------
    int
        The new number of rows in ``out``.
    """
    sign = state[S_PEND_SIGN]
    t_x = state[S_PEND_T]
    rot = state[S_PEND_ROT]
    m = ring.shape[0]
    t_end = t_x + params[P_IMPACT_S]
    imp = 0.0
    q = k
    r = slot
    while q >= valid_from and q > k - m:
        tq = ring[r, 0]
        if tq <= t_x:  # from the crossing on: the push-off's own burst ends at its last sample
            break
        if tq <= t_end and ring[r, 1] > imp:
            imp = ring[r, 1]
        q -= 1
        r -= 1
        if r < 0:
            r = m - 1
    confirmed = state[S_PEND_CONSEC] == 1.0 and imp > state[S_PREV_IMP]
    if state[S_PEND_CONSEC] == 1.0 and max(rot, state[S_PREV_ROT]) >= params[P_MIN_SWING_RAD]:
        vote = 0.2 * sign if imp > state[S_PREV_IMP] else -0.2 * sign
        state[S_SIGN_SCORE] = 0.8 * state[S_SIGN_SCORE] + vote
    if state[S_SIGN_SCORE] != 0.0:
        swing_sign = 1.0 if state[S_SIGN_SCORE] > 0.0 else -1.0
    else:  # no evidence yet: the larger rotation is the swing
        swing_sign = 1.0 if state[S_LOBE_POS] >= state[S_LOBE_NEG] else -1.0
    cand = state[S_PEND_CAND]
    if (cand == 1.0 or (cand == 2.0 and confirmed)) and sign == swing_sign:
        n_out = _record_step(t_x, ti, rot, params, state, intervals, out, n_out)
    state[S_PREV_IMP] = imp
    state[S_PREV_ROT] = rot
    state[S_PEND_SIGN] = 0.0
    return n_out


# Helpers of the ring shared by the trunk, limb and shank modes. Called per sample or per candidate,
# they cost nothing measurable (session 10, 60 min at 100 and 200 Hz, 7-9 runs alternating with the
# copies they replaced, in one process: every mode within 2 %, inside the run-to-run spread).
@kernel
def _ring_row(slot, n, m):
    """Return the ring row of the sample ``n`` samples before the one in row ``slot`` (``n < m``).

    A subtraction that wraps: no integer division per sample.
    """
    r = slot - n
    if r < 0:
        r += m
    return r


@kernel
def _store_acc(ring, slot, ax, ay, az):
    """Store a sample's |a| and acceleration vector in ring row ``slot`` (columns 1-4); return |a|.

    The limb and shank modes' ring (the vector for the distances over a lag, |a| for the rest test,
    the fall and the impact).
    """
    an = np.sqrt(ax * ax + ay * ay + az * az)
    ring[slot, 1] = an
    ring[slot, 2] = ax
    ring[slot, 3] = ay
    ring[slot, 4] = az
    return an


@kernel
def _moved_sq(ring, r, ax, ay, az):
    """Return the squared distance from the acceleration vector stored in ring row ``r`` to ``a``, (m/s²)²."""
    dx = ax - ring[r, 2]
    dy = ay - ring[r, 3]
    dz = az - ring[r, 4]
    return dx * dx + dy * dy + dz * dz


@kernel
def _look_back_start(c, k, m, valid_from, span_s, fs):
    """Return the first sample of a candidate's look-back (trunk, limb and shank modes).

    ``span_s`` in samples, rounded, but never reaching past the ring (whose rows back to ``k - m``
    are still held; two spare) nor before the segment (``valid_from``).

    Parameters
    ----------
    c, k : int
        The candidate's sample index and the newest sample's.
    m : int
        Rows of the ring.
    valid_from : int
        First sample of the segment (after the last reset).
    span_s : float
        The look-back, s.
    fs : float
        Sampling rate, Hz.

    Returns
    -------
    int
        The index of the look-back's first sample (``c`` itself: an empty look-back).
    """
    back = int(span_s * fs + 0.5)
    if back > m - (k - c) - 2:
        back = m - (k - c) - 2
    lo = c - back
    if lo < valid_from:
        lo = valid_from
    return lo


@kernel
def _tops_ahead(ring, col, cs, n, v):
    """Whether none of the ``n`` samples after ring row ``cs`` exceeds ``v`` in column ``col``.

    The look-ahead of a candidate peak (trunk, limb and shank modes). The ring row steps with the
    sample and wraps: no integer division per sample.

    Returns
    -------
    bool
        True when every later sample is at most ``v``.
    """
    m = ring.shape[0]
    r = cs
    for _q in range(n):
        r += 1
        if r == m:
            r = 0
        if ring[r, col] > v:
            return False
    return True


@kernel
def _tops_back(ring, col, cs, n, v):
    """Whether none of the ``n`` samples before ring row ``cs`` reaches ``v`` in column ``col``.

    The look-back of a candidate peak (limb and shank modes; the trunk's also finds the trough).

    Returns
    -------
    bool
        True when every earlier sample is below ``v``.
    """
    m = ring.shape[0]
    r = cs
    for _q in range(n):
        r -= 1
        if r < 0:
            r = m - 1
        if ring[r, col] >= v:
            return False
    return True


@kernel
def _limb_sample(
    ti, k, slot, valid_from, ax, ay, az, lag, n_rest, look, params, state, ring, intervals, out, n_out
):
    """One sample of the limb detector (mode 2: a foot sensor without gyroscope).

    Stores the sample in the ring (time, |a|, the acceleration vector), follows the foot's rests
    and decides the samples whose look-ahead has passed (``look`` samples or ``P_LIMB_LOOK_S``,
    whichever comes first): a contact is a peak of |a| at least ``P_LIMB_FLOOR`` above g, larger
    than every sample of the look-ahead and not lower than any over ``P_LIMB_PEAK_FRAC`` of the
    stride period before it, at least
    ``P_LIMB_REFR_FRAC`` of the stride period after the last contact (or sooner, with an impact
    over ``P_LIMB_OVERRIDE`` times the last contact's: that one was no landing), and not within
    ``P_LIMB_SWING_S`` of the end of the foot's last rest (that burst is the push-off: a swing
    of the leg takes longer than that before the foot lands again).  The contact is timed at the
    last sample of the burst that holds the peak, before |a| first falls below g plus
    ``P_LIMB_END_FRAC`` of the peak's height (never before the peak, so it is decided at most the
    look-ahead after it).  Orientation-free: |a| and distances between acceleration vectors only.
    ``slot`` is the ring row of sample ``k``; ``lag``, ``n_rest`` and ``look`` are
    ``P_LIMB_REST_LAG_S``, ``P_LIMB_REST_S`` and ``P_LIMB_LOOK_S`` in samples (at least 1), set
    once per block by :func:`_detect_block`.

    Returns
    -------
    int
        The new number of rows in ``out``.
    """
    m = ring.shape[0]
    an = _store_acc(ring, slot, ax, ay, az)
    if k == valid_from:  # a restart forgets the rests
        state[S_LIMB_QUIET_N] = 0.0
        state[S_LIMB_REST_END] = -1e9
        state[S_LIMB_REST_END2] = -1e9
    # at rest: |a| near g, and the vector has barely moved over the lag (a swinging foot turns)
    quiet = False
    q_mps2 = params[P_LIMB_REST_MPS2]
    if k - lag >= valid_from and abs(an - G_MPS2) < q_mps2:
        quiet = _moved_sq(ring, _ring_row(slot, lag, m), ax, ay, az) < q_mps2 * q_mps2
    if quiet:
        state[S_LIMB_QUIET_N] += 1.0
    else:
        if state[S_LIMB_QUIET_N] >= n_rest:  # a rest ended here
            state[S_LIMB_REST_END2] = state[S_LIMB_REST_END]
            state[S_LIMB_REST_END] = ti
        state[S_LIMB_QUIET_N] = 0.0
    # the candidates: each sample is decided once the look-ahead after it has passed, counted in
    # samples (`look`) or in time (P_LIMB_LOOK_S), whichever comes first: with honest time stamps
    # the count comes first or with the time, and where the recording dropped samples the decision
    # waits no longer than the look-ahead's time (bar the gap itself)
    nxt = int(state[S_LIMB_NEXT])
    if nxt < valid_from + 1:
        nxt = valid_from + 1
    fs = params[P_FS]
    while nxt < k:
        c = nxt
        cs = _ring_row(slot, k - c, m)
        if k - c < look and ti - ring[cs, 0] < params[P_LIMB_LOOK_S]:
            break
        nxt += 1
        vc = ring[cs, 1]
        if vc - G_MPS2 < params[P_LIMB_FLOOR]:
            continue
        tc = ring[cs, 0]
        period = state[S_PERIOD]
        # one contact per stride: none within the refractory time of the last, unless this impact
        # dwarfs the last contact's (then that was no landing but a swing's or a push-off's hump:
        # without this, such a contact would hide the next heel strike, and the next, locked half a
        # stride off)
        refractory = max(params[P_MIN_INTERVAL_S], params[P_LIMB_REFR_FRAC] * period)
        dwarfs = vc - G_MPS2 > params[P_LIMB_OVERRIDE] * state[S_LIMB_LAST_IMP]
        if tc - state[S_LAST_STEP_T] < refractory and not dwarfs:
            continue
        # the push-off: the foot left its last rest (the last one that ended by the candidate) too
        # recently
        rest_end = state[S_LIMB_REST_END]
        if rest_end > tc:
            rest_end = state[S_LIMB_REST_END2]
        if -1e8 < rest_end <= tc and tc - rest_end < params[P_LIMB_SWING_S]:
            continue
        # a peak: larger than every sample of the look-ahead, not lower than any over the look-back
        if not _tops_ahead(ring, 1, cs, k - c, vc):
            continue
        lo = _look_back_start(c, k, m, valid_from, params[P_LIMB_PEAK_FRAC] * period, fs)
        if not _tops_back(ring, 1, cs, c - lo, vc):
            continue
        # the contact: where the burst that holds the peak ends (its last sample at least
        # P_LIMB_END_FRAC of the way from g up to the peak, before |a| first falls below that). An
        # impact is brief: that is the peak itself, or a sample or two later. A broad hump is the
        # swing's deceleration, which ends as the foot lands: below ~100 Hz the anti-aliasing
        # filter flattens a running heel strike under that hump, whose end still times the
        # landing. (Never before the peak: the contact is decided at most the look-ahead after it.)
        end = G_MPS2 + params[P_LIMB_END_FRAC] * (vc - G_MPS2)
        r = cs
        r_end = cs
        for _q in range(c + 1, k + 1):
            r += 1
            if r == m:
                r = 0
            if ring[r, 1] < end:
                break
            r_end = r
        state[S_LIMB_LAST_IMP] = vc - G_MPS2
        n_out = _record_step(ring[r_end, 0], ti, vc - G_MPS2, params, state, intervals, out, n_out)
    state[S_LIMB_NEXT] = float(nxt)
    return n_out


@kernel
def _shank_sample(
    ti, k, slot, valid_from, ax, ay, az, lag, n_fall, look, params, state, ring, intervals, out, n_out
):
    """One sample of the shank detector (mode 3: a shank sensor without gyroscope).

    A heel strike ends a fall and jolts the shank: the centre of mass falls at the end of single
    support (walking) or in the flight (running), so |a| drops below g just before the contact,
    and the impact then changes the acceleration vector abruptly. Each sample gets a landing
    score: the jolt ``|a(k) - a(k - lag)|`` (the change of the vector over ``P_SHANK_LAG_S``: a
    swing changes it smoothly, an impact abruptly) times ``1 + (g - m) / g`` (at least 0), ``m``
    the lowest |a| over ``P_SHANK_FALL_S`` before the lag: doubled after a free fall, unchanged
    after |a| = g, lowered where |a| stayed above g (the push-off rises out of a loaded stance).

    A contact is a sample whose jolt is at least ``P_SHANK_FLOOR`` and whose score is larger than
    every later one over the look-ahead and not lower than any over ``P_SHANK_PEAK_FRAC`` of the
    stride period before it (the push-off, the swing and the last contact's ringing lie in that
    span; the last contact does not). Not within ``P_LIMB_REFR_FRAC`` of the stride period after
    the last contact unless it scores over ``P_LIMB_OVERRIDE`` times the last one (which was no
    landing: its interval is not kept), and in the same bout never under ``1 / P_LIMB_OVERRIDE``
    of it (the push-off and the terminal swing score far less than a landing; landings score
    alike). A bout's first contact ends a fall (a score above its jolt) unless its whole
    look-back lies in the segment; until the bout has an interval, the look-back reaches no
    further than the last contact (the period is not known yet). The contact is timed at the
    largest |a| over the lag that ends at the candidate (the impact's peak).

    The gait of the stride that a contact ends is running when its mean ``||a| - g|`` (from the
    last contact to this decision) reaches ``P_SHANK_RUN``: a short stance, a hard landing and a
    fast swing, where a walk spends most of its stride near g. Orientation-free: |a| and
    distances between acceleration vectors only. ``slot`` is the ring row of sample ``k``;
    ``lag``, ``n_fall`` and ``look`` are ``P_SHANK_LAG_S``, ``P_SHANK_FALL_S`` and the look-ahead
    ``P_LIMB_LOOK_S - P_SHANK_LAG_S`` (a contact is decided at most ``P_LIMB_LOOK_S`` after it)
    in samples (at least 1), set once per block by :func:`_detect_block`.

    Returns
    -------
    int
        The new number of rows in ``out``.
    """
    m = ring.shape[0]
    an = _store_acc(ring, slot, ax, ay, az)
    state[S_SHANK_ACT] += abs(an - G_MPS2)
    state[S_SHANK_ACT_N] += 1.0
    # the landing score of sample k (0 until the lag and the fall window lie in this segment)
    jolt = 0.0
    score = 0.0
    first = valid_from + lag + n_fall  # the first sample with a score
    if k >= first:
        rl = _ring_row(slot, lag, m)
        jolt = np.sqrt(_moved_sq(ring, rl, ax, ay, az))
        low = ring[rl, 1]
        r = rl
        for _q in range(n_fall):
            r -= 1
            if r < 0:
                r = m - 1
            if ring[r, 1] < low:
                low = ring[r, 1]
        weight = 2.0 - low / G_MPS2
        if weight < 0.0:
            weight = 0.0
        score = jolt * weight
    ring[slot, 5] = score
    ring[slot, 6] = jolt
    # the candidates: each sample is decided once the look-ahead after it has passed, counted in
    # samples or in time, whichever comes first (the limb detector's loop, from the first sample
    # with a score; the tests on a candidate are this mode's own but for the shared _tops_ahead,
    # _look_back_start and _tops_back)
    nxt = int(state[S_LIMB_NEXT])
    if nxt < first:
        nxt = first
    fs = params[P_FS]
    look_s = params[P_LIMB_LOOK_S] - params[P_SHANK_LAG_S]
    while nxt < k:
        c = nxt
        cs = _ring_row(slot, k - c, m)
        if k - c < look and ti - ring[cs, 0] < look_s:
            break
        nxt += 1
        if ring[cs, 6] < params[P_SHANK_FLOOR]:
            continue
        vc = ring[cs, 5]
        # larger than every later score of the look-ahead
        if not _tops_ahead(ring, 5, cs, k - c, vc):
            continue
        tc = ring[cs, 0]
        last = state[S_LAST_STEP_T]
        since = tc - last
        period = state[S_PERIOD]
        # one contact per stride, unless this one dwarfs the last (then that was no landing)
        overriding = since < max(params[P_MIN_INTERVAL_S], params[P_LIMB_REFR_FRAC] * period)
        if overriding and not vc > params[P_LIMB_OVERRIDE] * state[S_LIMB_LAST_IMP]:
            continue
        if last > -1e8 and since <= params[P_MAX_PERIOD_S]:
            # nor a contact that scores under 1 / P_LIMB_OVERRIDE of the last one, in the same bout
            # (a push-off or the terminal swing scores far less than a landing, landings alike)
            if vc * params[P_LIMB_OVERRIDE] < state[S_LIMB_LAST_IMP]:
                continue
        elif vc <= ring[cs, 6] and c - int(params[P_SHANK_PEAK_FRAC] * period * fs + 0.5) < valid_from:
            # a bout's first contact ends a fall (|a| below g before it: a score above its jolt),
            # unless its whole look-back lies in this segment: at the start of a recording (or
            # after a gap) the push-off seen first would be the largest score so far
            continue
        # before the bout's first interval the period is not known: the look-back reaches no
        # further than the last contact
        span = period
        if state[S_N_BOUT] < 1.0 and since < span:
            span = since
        lo = _look_back_start(c, k, m, valid_from, params[P_SHANK_PEAK_FRAC] * span, fs)
        if not _tops_back(ring, 5, cs, c - lo, vc):
            continue
        # the contact: the impact's peak, the largest |a| over the lag that ends at the candidate
        r = _ring_row(cs, lag, m)
        r_best = r
        for _q in range(lag):
            r += 1
            if r == m:
                r = 0
            if ring[r, 1] > ring[r_best, 1]:
                r_best = r
        n_act = state[S_SHANK_ACT_N]
        act = state[S_SHANK_ACT] / n_act if n_act > 0.0 else 0.0
        state[S_SHANK_RUN] = 1.0 if act >= params[P_SHANK_RUN] else 0.0
        state[S_SHANK_ACT] = 0.0
        state[S_SHANK_ACT_N] = 0.0
        if overriding:  # the last contact was no landing: its interval is not kept
            state[S_LAST_STEP_T] = -1e9
        state[S_LIMB_LAST_IMP] = vc
        n_out = _record_step(ring[r_best, 0], ti, vc, params, state, intervals, out, n_out)
    state[S_LIMB_NEXT] = float(nxt)
    return n_out


@kernel
def _detect_block(t, acc, gyro, has_gyro, params, coefs, state, ring, intervals, out):
    """Run the step detector over one block of samples.

    Parameters
    ----------
    t : numpy.ndarray
        Sample times, shape ``(n,)``, s, increasing.
    acc : numpy.ndarray
        Accelerometer, shape ``(n, 3)``, m/s², gravity included, any orientation.
    gyro : numpy.ndarray
        Gyroscope, shape ``(n, 3)``, rad/s (ignored when ``has_gyro`` is False).
    has_gyro : bool
        Whether ``gyro`` carries data.
    params : numpy.ndarray
        Parameter vector (slots ``P_*``).
    coefs : numpy.ndarray
        Biquad coefficients, shape ``(3, 5)``: gravity, step signal, pitch rate.
    state : numpy.ndarray
        Detector state (slots ``S_*``), updated in place.
    ring : numpy.ndarray
        Ring buffer, shape ``(m, 2)``: time, then the step signal (trunk) or |a| (foot); limb
        mode ``(m, 5)``: time, |a|, the acceleration vector.
    intervals : numpy.ndarray
        Ring of the last ``N_INTERVALS`` step (or stride) intervals, s.
    out : numpy.ndarray
        Output rows (columns ``O_*``); must have room for every step in the block.

    Returns
    -------
    int
        Number of rows written to ``out``.
    """
    n = t.shape[0]
    m = ring.shape[0]
    fs = params[P_FS]
    foot = params[P_MODE] == 1.0 and has_gyro
    limb = params[P_MODE] == 2.0
    shank = params[P_MODE] == 3.0
    # the limb detector's lags in samples (at least 1), once a block rather than once a sample
    limb_lag = max(1, int(params[P_LIMB_REST_LAG_S] * fs + 0.5))
    limb_rest_n = max(1, int(params[P_LIMB_REST_S] * fs + 0.5))
    limb_look = max(1, int(params[P_LIMB_LOOK_S] * fs + 0.5))
    # the shank detector's jolt lag, fall window and look-ahead in samples (at least 1)
    shank_lag = max(1, int(params[P_SHANK_LAG_S] * fs + 0.5))
    shank_fall = max(1, int(params[P_SHANK_FALL_S] * fs + 0.5))
    shank_look = max(1, int((params[P_LIMB_LOOK_S] - params[P_SHANK_LAG_S]) * fs + 0.5))
    look = int(params[P_LOOK_S] * fs + 0.5)
    if look < 1:
        look = 1
    n_out = 0
    # biquad coefficients (gravity, step signal, pitch rate) in locals during the block, and the
    # delays of the gravity and step-signal filters (stored back at its end); the pitch rate's stay
    # in the state (in locals too, the foot loop measured slower)
    cg = (coefs[0, 0], coefs[0, 1], coefs[0, 2], coefs[0, 3], coefs[0, 4])
    cs = (coefs[1, 0], coefs[1, 1], coefs[1, 2], coefs[1, 3], coefs[1, 4])
    cw = (coefs[2, 0], coefs[2, 1], coefs[2, 2], coefs[2, 3], coefs[2, 4])
    gx1 = state[S_GZ1]
    gy1 = state[S_GZ1 + 1]
    gz1 = state[S_GZ1 + 2]
    gx2 = state[S_GZ2]
    gy2 = state[S_GZ2 + 1]
    gz2 = state[S_GZ2 + 2]
    sz1 = state[S_SZ1]
    sz2 = state[S_SZ2]
    # the quality checks' memory lives in locals during the block (stored back at its end)
    rax = state[S_RAW]
    ray = state[S_RAW + 1]
    raz = state[S_RAW + 2]
    rgx = state[S_RAW + 3]
    rgy = state[S_RAW + 4]
    rgz = state[S_RAW + 5]
    same_run = state[S_SAME_RUN]
    dead_run = state[S_DEAD_RUN]
    n_frozen = max(2.0, float(int(FROZEN_S * fs + 0.5)))
    # trunk: the looser of the in-rhythm and out-of-rhythm hump thresholds (a first filter)
    floor_lo = min(params[P_FLOOR], params[P_FLOOR_RHYTHM])
    rel_lo = min(params[P_REL], params[P_REL_RHYTHM])
    n_dead = DEAD_GAP_S * fs
    rhythm_lo = params[P_RHYTHM_LO]
    rhythm_hi = params[P_RHYTHM_HI]
    # the sample count and its ring slot live in locals too (stored back at the block's end); the
    # slot steps and wraps instead of an integer division per sample
    k = int(state[S_N]) - 1
    slot = k % m
    for i in range(n):
        k += 1
        slot += 1
        if slot == m:
            slot = 0
        ti = t[i]
        ax = acc[i, 0]
        ay = acc[i, 1]
        az = acc[i, 2]
        # -- bad samples: hold the last good value (counted, never fatal)
        # NaN and ±inf fail every comparison below; an all-zero vector is a dead sensor
        acc_bad = (
            not (abs(ax) < 1e9 and abs(ay) < 1e9 and abs(az) < 1e9) or abs(ax) + abs(ay) + abs(az) == 0.0
        )
        gx = 0.0
        gy = 0.0
        gz = 0.0
        if has_gyro:
            gx = gyro[i, 0]
            gy = gyro[i, 1]
            gz = gyro[i, 2]
        gyro_bad = has_gyro and not (abs(gx) < 1e9 and abs(gy) < 1e9 and abs(gz) < 1e9)
        # a frozen sensor repeats its reading exactly; a clipped axis sits at a large value
        same = not acc_bad and ax == rax and ay == ray and az == raz and gx == rgx and gy == rgy and gz == rgz
        if same:
            same_run += 1.0
            if same_run == n_frozen:
                state[S_FROZEN] += n_frozen
            elif same_run > n_frozen:
                state[S_FROZEN] += 1.0
        else:
            same_run = 0.0
        # clipped: an axis at the full-scale range (the range is known to the device, not always to a CSV)
        clip_a = params[P_ACC_CLIP]
        clip_g = params[P_GYRO_CLIP]
        acc_clipped = clip_a > 0.0 and not acc_bad and max(abs(ax), abs(ay), abs(az)) >= clip_a
        gyro_clipped = clip_g > 0.0 and not gyro_bad and max(abs(gx), abs(gy), abs(gz)) >= clip_g
        if acc_clipped or gyro_clipped:
            state[S_SATURATED] += 1.0
        rax = ax
        ray = ay
        raz = az
        rgx = gx
        rgy = gy
        rgz = gz
        if acc_bad:
            state[S_REPAIRED] += 1.0
            ax = state[S_GOOD_A]
            ay = state[S_GOOD_A + 1]
            az = state[S_GOOD_A + 2]
        else:
            state[S_GOOD_A] = ax
            state[S_GOOD_A + 1] = ay
            state[S_GOOD_A + 2] = az
        if gyro_bad:
            state[S_REPAIRED] += 1.0
            gx = state[S_GOOD_G]
            gy = state[S_GOOD_G + 1]
            gz = state[S_GOOD_G + 2]
        elif has_gyro:
            state[S_GOOD_G] = gx
            state[S_GOOD_G + 1] = gy
            state[S_GOOD_G + 2] = gz
        dead = acc_bad or gyro_bad or same
        g_bad = gyro_bad or (has_gyro and same)
        # -- a long stretch of dead data is a gap: restart after it rather than trust held values
        if dead:
            dead_run += 1.0
        else:
            if state[S_INIT] == 1.0 and dead_run >= n_dead:
                _reset_timing(state, params, k)
            dead_run = 0.0
        # -- a gap in time, or time going back, restarts the detector (never stitched across)
        if state[S_INIT] == 1.0 and (ti - state[S_LAST_T] > params[P_GAP_S] or ti < state[S_LAST_T]):
            _reset_timing(state, params, k)
        state[S_LAST_T] = ti
        if state[S_INIT] == 0.0:
            # settle each unity-DC-gain biquad so that a constant input passes unchanged
            gx1 = ax * (1.0 - cg[0])
            gx2 = ax * (cg[2] - cg[4])
            gy1 = ay * (1.0 - cg[0])
            gy2 = ay * (cg[2] - cg[4])
            gz1 = az * (1.0 - cg[0])
            gz2 = az * (cg[2] - cg[4])
            sz1 = 0.0 * (1.0 - cs[0])
            sz2 = 0.0 * (cs[2] - cs[4])
            state[S_WZ1] = 0.0 * (1.0 - cw[0])
            state[S_WZ2] = 0.0 * (cw[2] - cw[4])
            state[S_INIT] = 1.0
        grx, gx1, gx2 = _biquad(ax, cg, gx1, gx2)
        gry, gy1, gy2 = _biquad(ay, cg, gy1, gy2)
        grz, gz1, gz2 = _biquad(az, cg, gz1, gz2)
        gn = np.sqrt(grx * grx + gry * gry + grz * grz)
        if gn < 1e-9:
            gn = 1e-9
        av = (ax * grx + ay * gry + az * grz) / gn - gn
        ring[slot, 0] = ti
        valid_from = int(state[S_VALID_FROM])
        if foot:
            # pitch axis: dominant eigenvector of the gyro's running second moment (power iteration),
            # of the rate without its component about gravity: the pitch axis is horizontal, and the
            # yaw of turns (about the vertical) would tilt it
            cd = params[P_AXIS_DECAY]
            if g_bad:  # a held or frozen rate says nothing about the pitch axis
                cd = 1.0
            yaw = (gx * grx + gy * gry + gz * grz) / (gn * gn)
            hx = gx - yaw * grx
            hy = gy - yaw * gry
            hz = gz - yaw * grz
            state[S_COV + 0] = cd * state[S_COV + 0] + (1.0 - cd) * hx * hx
            state[S_COV + 1] = cd * state[S_COV + 1] + (1.0 - cd) * hx * hy
            state[S_COV + 2] = cd * state[S_COV + 2] + (1.0 - cd) * hx * hz
            state[S_COV + 3] = cd * state[S_COV + 3] + (1.0 - cd) * hy * hy
            state[S_COV + 4] = cd * state[S_COV + 4] + (1.0 - cd) * hy * hz
            state[S_COV + 5] = cd * state[S_COV + 5] + (1.0 - cd) * hz * hz
            ex = state[S_AXIS]
            ey = state[S_AXIS + 1]
            ez = state[S_AXIS + 2]
            vx = state[S_COV + 0] * ex + state[S_COV + 1] * ey + state[S_COV + 2] * ez
            vy = state[S_COV + 1] * ex + state[S_COV + 3] * ey + state[S_COV + 4] * ez
            vz = state[S_COV + 2] * ex + state[S_COV + 4] * ey + state[S_COV + 5] * ez
            vn = np.sqrt(vx * vx + vy * vy + vz * vz)
            if vn > 1e-12:
                state[S_AXIS] = vx / vn
                state[S_AXIS + 1] = vy / vn
                state[S_AXIS + 2] = vz / vn
            pr, state[S_WZ1], state[S_WZ2] = _biquad(
                gx * state[S_AXIS] + gy * state[S_AXIS + 1] + gz * state[S_AXIS + 2],
                cw,
                state[S_WZ1],
                state[S_WZ2],
            )
            # |a|, for the impact that follows a lobe's end; a lobe end waits for its impact window
            ring[slot, 1] = np.sqrt(ax * ax + ay * ay + az * az)
            if k == valid_from:  # a restart forgets the lobe that was waiting
                state[S_PEND_SIGN] = 0.0
            # stance, then push-off: the first rotation after the foot rests is push-off, whose sign
            # is opposite to the swing's (the foot plantarflexes to push off, dorsiflexes in swing)
            if gx * gx + gy * gy + gz * gz < params[P_STANCE_RADS] * params[P_STANCE_RADS]:
                state[S_STILL_N] += 1.0
                if state[S_STILL_N] >= params[P_STANCE_N]:
                    state[S_AFTER_STANCE] = 1.0
            else:
                state[S_STILL_N] = 0.0
            if state[S_AFTER_STANCE] == 1.0 and abs(pr) > params[P_PUSH_RADS]:
                state[S_AFTER_STANCE] = 0.0
                state[S_SIGN_SCORE] = 0.8 * state[S_SIGN_SCORE] + (-0.2 if pr > 0.0 else 0.2)
            if state[S_PEND_SIGN] != 0.0 and ti >= state[S_PEND_T] + params[P_IMPACT_S]:
                n_out = _decide_lobe(ti, k, slot, valid_from, params, state, ring, intervals, out, n_out)
            # lobes of the pitch rate: the contact is the end of a swing lobe
            lobe = state[S_LOBE_SIGN]
            dt = 1.0 / fs
            if lobe == 0.0:
                if abs(pr) > params[P_HYST_RADS]:
                    state[S_LOBE_CONSEC] = 0.0
                    state[S_LOBE_SIGN] = 1.0 if pr > 0.0 else -1.0
                    state[S_LOBE_INT] = abs(pr) * dt
                    state[S_LOBE_T] = ti
                    state[S_LOBE_T_ACT] = ti
                continue
            if pr * lobe > 0.0:
                state[S_LOBE_INT] += pr * lobe * dt
                state[S_LOBE_T] = ti
                if pr * lobe > params[P_HYST_RADS]:
                    state[S_LOBE_T_ACT] = ti
                if ti - state[S_LOBE_T_ACT] < params[P_LOBE_SETTLE_S]:
                    continue
            elif pr * lobe > -params[P_HYST_RADS] and ti - state[S_LOBE_T_ACT] < params[P_LOBE_SETTLE_S]:
                continue  # near zero: the lobe may still go on
            # the lobe ended: the rate crossed zero, or stayed within the hysteresis for lobe_settle_s
            crossed = pr * lobe <= -params[P_HYST_RADS]
            # the lobe of sign `lobe` ended at its last sample on its side of zero (crossed), or at its
            # last sample beyond the hysteresis (faded out: the rotation stopped there)
            integral = state[S_LOBE_INT]
            t_x = state[S_LOBE_T] if crossed else state[S_LOBE_T_ACT]
            if state[S_PEND_SIGN] != 0.0:  # the lobe before was short: decide it on what was seen
                n_out = _decide_lobe(ti, k, slot, valid_from, params, state, ring, intervals, out, n_out)
            slot_pos = S_LOBE_POS if lobe > 0.0 else S_LOBE_NEG
            peak_same = state[slot_pos]
            state[slot_pos] = max(integral, params[P_LOBE_DECAY] * peak_same)
            consec = state[S_LOBE_CONSEC]
            if crossed:
                state[S_LOBE_CONSEC] = 1.0
                state[S_LOBE_SIGN] = -lobe
                state[S_LOBE_INT] = abs(pr) * dt
                state[S_LOBE_T] = ti
                state[S_LOBE_T_ACT] = ti
            else:  # settled near zero: wait for the next lobe to show its sign
                state[S_LOBE_SIGN] = 0.0
            period = state[S_PERIOD]
            since = t_x - state[S_LAST_STEP_T]
            # a swing that ends where the rhythm expects a contact may be smaller (turns, last steps)
            if _in_rhythm(since, period, state[S_N_INT], rhythm_lo, rhythm_hi):
                min_rot = params[P_MIN_SWING_RHYTHM]
                rel = params[P_SWING_REL_RHYTHM]
            else:
                min_rot = params[P_MIN_SWING_RAD]
                rel = params[P_SWING_REL]
            # 1: a contact if the sign is the swing's; 2: only if its own impact also says swing (a
            # swing confirmed by the heel strike may be as small as where the rhythm expects one)
            cand = 0.0
            if integral >= min_rot and since >= max(params[P_MIN_INTERVAL_S], params[P_REFR_FRAC] * period):
                if integral >= rel * peak_same:
                    cand = 1.0
                elif integral >= params[P_SWING_REL_RHYTHM] * peak_same:
                    cand = 2.0
            # the sign is decided once the impact window after the lobe's end has passed
            state[S_PEND_SIGN] = lobe
            state[S_PEND_T] = t_x
            state[S_PEND_CAND] = cand
            state[S_PEND_ROT] = integral
            state[S_PEND_CONSEC] = consec
            if ti >= t_x + params[P_IMPACT_S]:
                n_out = _decide_lobe(ti, k, slot, valid_from, params, state, ring, intervals, out, n_out)
            continue
        if limb:
            # ---- limb mode (a foot without gyroscope): the impact of a landing, not of a push-off
            n_out = _limb_sample(
                ti,
                k,
                slot,
                valid_from,
                ax,
                ay,
                az,
                limb_lag,
                limb_rest_n,
                limb_look,
                params,
                state,
                ring,
                intervals,
                out,
                n_out,
            )
            continue
        if shank:
            # ---- shank mode (a shank without gyroscope): the jolt of a landing that ends a fall
            n_out = _shank_sample(
                ti,
                k,
                slot,
                valid_from,
                ax,
                ay,
                az,
                shank_lag,
                shank_fall,
                shank_look,
                params,
                state,
                ring,
                intervals,
                out,
                n_out,
            )
            continue
        # ---- trunk mode: one hump of the step signal per step, timed on its rising flank
        s, sz1, sz2 = _biquad(av, cs, sz1, sz2)
        ring[slot, 1] = s
        if s < state[S_MIN_S]:
            state[S_MIN_S] = s
        # standing: the step signal stays within still_mps2 of zero for still_s
        if abs(s) < params[P_STILL_MPS2]:
            if state[S_QUIET_T] < -1e8:
                state[S_QUIET_T] = ti
        else:
            if state[S_QUIET_T] > -1e8 and ti - state[S_QUIET_T] >= params[P_STILL_S]:
                state[S_STILL_END] = ti
            state[S_QUIET_T] = -1e9
        c = k - look
        if c < valid_from + 1:
            continue
        cs_slot = _ring_row(slot, look, m)  # c % m (look < m)
        vc = ring[cs_slot, 1]
        tc = ring[cs_slot, 0]
        period = state[S_PERIOD]
        # a hump where the rhythm expects the next step may be weaker (turns, the last step of a bout):
        # the looser of the two thresholds here, the one that applies once the contact time is known
        if vc < floor_lo or vc < rel_lo * state[S_AMP]:
            continue
        if tc - state[S_LAST_STEP_T] < max(params[P_MIN_INTERVAL_S], params[P_REFR_FRAC] * period):
            continue
        lo = _look_back_start(c, k, m, valid_from, params[P_BACK_FRAC] * period, fs)
        # a peak: higher than every later sample of the look-ahead, not lower than any earlier one
        # of the look-back; nearest neighbours first (on a flank the first comparison decides:
        # the sample before, then the one after, so that a falling flank does not run through the
        # whole look-ahead first)
        # (the ring slot of sample q steps with q and wraps: no integer division per sample)
        if lo < c:
            r = cs_slot - 1
            if r < 0:
                r = m - 1
            if ring[r, 1] >= vc:
                continue
        if not _tops_ahead(ring, 1, cs_slot, look, vc):
            continue
        # the look-back also finds the trough before the hump (over the same samples) for the
        # contact time below: its earliest lowest sample (`<=`, as the scan runs back in time; a
        # peak's look-back holds only values below the hump, so the hump itself is never the trough
        # unless the look-back is empty); one pass for both, so not _tops_back's test alone
        is_peak = True
        r = cs_slot
        q_tr = c
        r_tr = cs_slot
        v_tr = vc
        for q in range(c - 1, lo - 1, -1):
            r -= 1
            if r < 0:
                r = m - 1
            v = ring[r, 1]
            if v >= vc:
                is_peak = False
                break
            if v <= v_tr:
                v_tr = v
                q_tr = q
                r_tr = r
        if not is_peak:
            continue
        # contact time: where the step signal, climbing from its trough before the hump (over the
        # same look-back), first passes halfway up to the hump; at most refine_s before the hump
        frac = params[P_CLIMB_FRAC_FLIGHT] if v_tr < -params[P_FLIGHT] else params[P_CLIMB_FRAC]
        half = v_tr + frac * (vc - v_tr)
        best_q = c
        r = r_tr
        for q in range(q_tr, c + 1):
            if ring[r, 1] >= half:
                best_q = q
                break
            r += 1
            if r == m:
                r = 0
        q0 = c - int(params[P_REFINE_S] * fs + 0.5)
        if q0 < valid_from + 1:
            q0 = valid_from + 1
        if best_q < q0:
            best_q = q0
        t_ic = ring[best_q % m, 0]
        if t_ic - state[S_LAST_STEP_T] < params[P_MIN_INTERVAL_S]:
            continue
        # the rhythm is one of contacts: the hump's own contact, not its peak, is where the rhythm is tested
        if _in_rhythm(t_ic - state[S_LAST_STEP_T], period, state[S_N_INT], rhythm_lo, rhythm_hi):
            if vc < params[P_FLOOR_RHYTHM] or vc < params[P_REL_RHYTHM] * state[S_AMP]:
                continue
        elif vc < params[P_FLOOR] or vc < params[P_REL] * state[S_AMP]:
            continue
        # a walk that starts from standing begins with the push-off of the first swing leg: a hump
        # without a contact, soon after the stillness ends; the first heel strike follows one swing later
        if (
            t_ic - state[S_LAST_STEP_T] > params[P_MAX_PERIOD_S]
            and t_ic - state[S_PUSH_T] > params[P_MAX_PERIOD_S]
            and t_ic - state[S_STILL_END] <= params[P_INITIATION_S]
        ):
            state[S_PUSH_T] = t_ic
            continue
        state[S_LAST_MIN_S] = state[S_MIN_S]
        state[S_MIN_S] = 0.0
        n_out = _record_step(t_ic, ti, vc, params, state, intervals, out, n_out)
        a_old = state[S_AMP]
        state[S_AMP] = vc if a_old == 0.0 else 0.85 * a_old + 0.15 * min(vc, 3.0 * a_old)
    state[S_RAW] = rax
    state[S_RAW + 1] = ray
    state[S_RAW + 2] = raz
    state[S_RAW + 3] = rgx
    state[S_RAW + 4] = rgy
    state[S_RAW + 5] = rgz
    state[S_SAME_RUN] = same_run
    state[S_DEAD_RUN] = dead_run
    state[S_GZ1] = gx1
    state[S_GZ1 + 1] = gy1
    state[S_GZ1 + 2] = gz1
    state[S_GZ2] = gx2
    state[S_GZ2 + 1] = gy2
    state[S_GZ2 + 2] = gz2
    state[S_SZ1] = sz1
    state[S_SZ2] = sz2
    state[S_N] = k + 1.0
    return n_out
