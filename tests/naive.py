"""Slow, obvious reference implementations that the numba kernels are checked against.

Written for clarity, not speed: plain Python lists, whole-history look-backs instead of
ring buffers, one step at a time. Only the detector's *specification* (StepSettings) is
shared with the fast code; none of its functions are called.
"""

from __future__ import annotations

import math

import numpy as np

from dsp.steps import StepSettings


def lowpass_coefficients(cutoff_hz: float, fs: float) -> tuple[float, float, float, float, float]:
    """2nd-order Butterworth low-pass via the bilinear transform (RBJ cookbook form, Q = 1/√2)."""
    fc = min(cutoff_hz, 0.45 * fs)
    w0 = 2.0 * math.pi * fc / fs
    # RBJ: K = tan(w0/2); with Q = 1/sqrt(2)
    k = math.tan(w0 / 2.0)
    q = 1.0 / math.sqrt(2.0)
    norm = 1.0 / (1.0 + k / q + k * k)
    b0 = k * k * norm
    return b0, 2.0 * b0, b0, 2.0 * (k * k - 1.0) * norm, (1.0 - k / q + k * k) * norm


class Biquad:
    """Transposed direct form II, one sample at a time."""

    def __init__(self, coef):
        self.b0, self.b1, self.b2, self.a1, self.a2 = coef
        self.z1 = 0.0
        self.z2 = 0.0

    def settle(self, x):
        self.z1 = x * (1.0 - self.b0)
        self.z2 = x * (self.b2 - self.a2)

    def __call__(self, x):
        y = self.b0 * x + self.z1
        self.z1 = self.b1 * x - self.a1 * y + self.z2
        self.z2 = self.b2 * x - self.a2 * y
        return y


def robust_median_interval(intervals, default):
    """Mean of the last intervals that lie within 0.6-1.6 × their median."""
    if not intervals:
        return default
    med = float(np.median(intervals))
    kept = sorted(v for v in intervals if 0.6 * med <= v <= 1.6 * med)
    if not kept:
        return med
    total = 0.0
    for v in kept:
        total += v
    return total / len(kept)


def end_of_standing(hist_t, hist_a, start, k, s):
    """When the last stillness of at least ``still_s`` among samples ``start..k`` ended, s (-1e9: none).

    Still: ``|step signal| < still_mps2``; a still stretch runs from its first still sample to the
    first sample that is not, and ends there.
    """
    end = -1e9
    run_start = None
    for q in range(start, k + 1):
        if abs(hist_a[q]) < s.still_mps2:
            if run_start is None:
                run_start = hist_t[q]
        else:
            if run_start is not None and hist_t[q] - run_start >= s.still_s:
                end = hist_t[q]
            run_start = None
    return end


def naive_detect_steps(t, acc, gyro, *, sampling_rate_hz, placement, settings=None):
    """Reference step detector; returns a list of (t_contact, t_emitted, cadence_spm, is_run).

    Same specification as :class:`dsp.StepDetector` (see ``dsp/_step_kernels.py``), but
    every look-back scans the full history of the current segment.
    """
    s = settings or StepSettings()
    fs = float(sampling_rate_hz)
    foot = placement in ("foot", "shank") and gyro is not None
    limb = placement == "foot" and gyro is None  # a foot without gyroscope: its own contacts from |a|
    shank = placement == "shank" and gyro is None  # a shank without gyroscope: landings that end a fall
    one_leg = foot or limb or shank
    feet = 2.0 if one_leg else 1.0
    min_interval = s.min_stride_interval_s if one_leg else s.min_step_interval_s
    default_period = 2.0 * s.default_step_period_s if one_leg else s.default_step_period_s
    max_period = 2.0 * s.max_period_s if one_leg else s.max_period_s
    gap = max(s.gap_s, 2.0 * s.max_period_s) if one_leg else s.gap_s
    look = max(1, int(s.lookahead_s * fs + 0.5))
    ring_s = max(
        s.back_fraction * s.max_period_s + s.lookahead_s + s.refine_s, s.lobe_settle_s + s.impact_window_s
    )
    if limb:
        ring_s = max(
            ring_s, s.limb_lookahead_s + s.limb_peak_fraction * 2.0 * s.max_period_s, s.limb_rest_lag_s
        )
    if shank:
        ring_s = max(
            ring_s,
            s.limb_lookahead_s
            + s.shank_peak_fraction * 2.0 * s.max_period_s
            + s.shank_jolt_lag_s
            + s.shank_fall_s,
        )
    ring_len = int(ring_s * fs) + 8

    grav = [Biquad(lowpass_coefficients(s.gravity_cutoff_hz, fs)) for _ in range(3)]
    lp_step = Biquad(lowpass_coefficients(s.step_cutoff_hz, fs))
    lp_swing = Biquad(lowpass_coefficients(s.swing_cutoff_hz, fs))  # foot pitch rate

    steps = []
    hist_t, hist_a = [], []
    intervals: list[float] = []
    last_step = -1e9
    amp = 0.0
    min_s = 0.0
    last_min_s = 0.0
    axis_decay = math.exp(-1.0 / (fs * s.axis_memory_s))
    stance_n = max(1.0, round(s.stance_min_s * fs))
    cov = [0.0] * 6
    pitch_axis = [1.0 / math.sqrt(3.0)] * 3
    lobe, lobe_rot, lobe_t, lobe_active_t = 0, 0.0, 0.0, 0.0
    lobe_peak = {1: 0.0, -1: 0.0}
    still, after_stance, sign_score = 0, False, 0.0
    good_a = [0.0, 0.0, 0.0]
    good_g = [0.0, 0.0, 0.0]
    started = False
    last_t = 0.0
    seg_start = 0  # index of the first sample after the last gap
    push_t = -1e9  # trunk: the last hump taken as the push-off of gait initiation
    prev_raw = [0.0] * 6
    dead_run = 0

    n_use = s.cadence_steps // 2 if one_leg else s.cadence_steps  # same number of steps either way
    n_cad = s.cadence_strides if one_leg else s.cadence_steps  # the cadence field's intervals
    bout_intervals: list[float] = []  # this bout's intervals, for the cadence field
    gait = {"run": False, "contrary": 0}  # the gait reported, and contacts in a row that say the other

    def record(t_ic, t_emit):
        nonlocal last_step
        if last_step > -1e8 and t_ic - last_step <= max_period:
            intervals.append(t_ic - last_step)
            del intervals[:-n_use]
            bout_intervals.append(t_ic - last_step)
        elif last_step > -1e8:  # a pause: the cadence of the new bout uses only its own intervals
            bout_intervals.clear()
        # the bout's last n_cad intervals; steps of both feet in whole strides (an even count)
        take = min(n_cad, len(bout_intervals))
        if not one_leg and take >= 2 and take % 2 == 1:
            take -= 1
        bout = bout_intervals[len(bout_intervals) - take :] if take else []
        cad = 60.0 * feet / robust_median_interval(bout, 1.0) if bout else float("nan")
        # the gait: this contact's evidence (trunk: the step signal near free fall since the last
        # contact; a shank without gyroscope: its stride's mean ||a| - g|; a foot: its cadence, none
        # while unknown), adopted after gait_switch_steps in a row
        if not one_leg:
            evidence = last_min_s < -s.run_flight_mps2
        elif shank:
            evidence = shank_run
        else:
            evidence = None if cad != cad else cad >= s.run_cadence_spm
        if evidence is not None:
            if evidence != gait["run"]:
                gait["contrary"] += 1
                if gait["contrary"] >= s.gait_switch_steps:
                    gait["run"], gait["contrary"] = evidence, 0
            else:
                gait["contrary"] = 0
        steps.append((t_ic, t_emit, cad, gait["run"]))
        last_step = t_ic

    def limb_decide(c, k, ti):
        # a foot without gyroscope: is sample c a contact, decided at sample k (time ti)?
        nonlocal last_impact
        vc, tc = hist_an[c], hist_t[c]
        if vc - 9.80665 < s.limb_floor_mps2:  # an impact at least limb_floor_mps2 above g
            return
        period = robust_median_interval(intervals, default_period)
        # one contact per stride, unless this impact is over limb_override times the last one's
        refractory = max(min_interval, s.limb_refractory_fraction * period)
        if tc - last_step < refractory and vc - 9.80665 <= s.limb_override * last_impact:
            return
        # the push-off: the foot left its last rest (of the last two that ended by the
        # candidate, else none known) less than a swing before it
        ended = [e for e in rest_ends[-2:] if e <= tc]
        if ended and tc - ended[-1] < s.limb_swing_s:
            return
        # the largest |a| over the look-ahead, and over limb_peak_fraction of the stride before
        back = min(int(s.limb_peak_fraction * period * fs + 0.5), ring_len - (k - c) - 2)
        lo = max(c - back, seg_start)
        if any(v > vc for v in hist_an[c + 1 : k + 1]) or any(v >= vc for v in hist_an[lo:c]):
            return
        # the contact: the last sample of the burst that holds the peak, before |a| first falls
        # below g + limb_end_fraction of the peak's height above g (within the look-ahead)
        end_level = 9.80665 + s.limb_end_fraction * (vc - 9.80665)
        q_end = c
        while q_end < k and hist_an[q_end + 1] >= end_level:
            q_end += 1
        last_impact = vc - 9.80665
        record(hist_t[q_end], ti)

    def shank_decide(c, k, ti):
        # a shank without gyroscope: is sample c a landing, decided at sample k (time ti)?
        nonlocal last_score, shank_act, shank_act_n, shank_run, last_step
        if hist_jolt[c] < s.shank_jolt_floor_mps2:  # a jolt at least shank_jolt_floor_mps2
            return
        vc, tc = hist_score[c], hist_t[c]
        if any(v > vc for v in hist_score[c + 1 : k + 1]):  # the largest score over the look-ahead
            return
        period = robust_median_interval(intervals, default_period)
        since = tc - last_step
        # one contact per stride, unless this one scores over limb_override times the last one
        overriding = since < max(min_interval, s.limb_refractory_fraction * period)
        if overriding and not vc > s.limb_override * last_score:
            return
        if last_step > -1e8 and since <= max_period:
            # nor one that scores under 1 / limb_override of the last contact, in the same bout
            if vc * s.limb_override < last_score:
                return
        elif vc <= hist_jolt[c] and c - int(s.shank_peak_fraction * period * fs + 0.5) < seg_start:
            # a bout's first contact ends a fall (its score above its jolt), unless the whole
            # look-back lies in this segment
            return
        # before the bout's first interval: the look-back reaches no further than the last contact
        span = min(period, since) if not bout_intervals else period
        back = min(int(s.shank_peak_fraction * span * fs + 0.5), ring_len - (k - c) - 2)
        lo = max(c - back, seg_start)
        if any(v >= vc for v in hist_score[lo:c]):
            return
        # the contact: the first largest |a| over the jolt's lag that ends at the candidate
        window = hist_an[c - shank_lag : c + 1]
        q = c - shank_lag + window.index(max(window))
        # the stride's gait: its mean ||a| - g| since the last contact (up to this decision)
        act = shank_act / shank_act_n if shank_act_n > 0 else 0.0
        shank_run = act >= s.shank_run_mps2
        shank_act, shank_act_n = 0.0, 0
        if overriding:  # the last contact was no landing: its interval is not kept
            last_step = -1e9
        last_score = vc
        record(hist_t[q], ti)

    hist_an: list[float] = []  # foot (with or without gyroscope): |a| of every sample
    hist_acc: list[list[float]] = []  # limb: the acceleration vector of every sample
    quiet_n = 0  # limb: consecutive quiet samples
    rest_ends: list[float] = []  # limb: when each rest of this segment ended (its first moving sample)
    last_impact = 0.0  # limb: the last contact's impact, |a| above g
    next_c = 0  # limb and shank: the next sample to decide (a candidate contact)
    hist_score: list[float] = []  # shank: the landing score of every sample
    hist_jolt: list[float] = []  # shank: the jolt of every sample
    shank_lag = max(1, int(s.shank_jolt_lag_s * fs + 0.5))
    shank_fall = max(1, int(s.shank_fall_s * fs + 0.5))
    shank_act, shank_act_n = 0.0, 0  # shank: sum of ||a| - g| since the last contact, and its samples
    shank_run = False  # shank: the gait of the stride that the contact being recorded ends
    last_score = 0.0  # shank: the last contact's landing score
    pending = None  # foot: (sign, end time, rotation, "yes"/"no"/"impact", began at a crossing)
    lobe_consec = False
    prev_imp, prev_rot = 0.0, 0.0

    def decide(ti, k):
        # the heel strike's impact follows the swing's end: of two lobes that meet at a zero
        # crossing, the one followed by the larger |a| peak votes for the swing's sign
        nonlocal pending, sign_score, prev_imp, prev_rot
        ended, t_x, rot, cand, consec = pending
        window = [hist_an[q] for q in range(seg_start, k + 1) if t_x < hist_t[q] <= t_x + s.impact_window_s]
        imp = max(window, default=0.0)
        if consec and max(rot, prev_rot) >= s.min_swing_rad:
            sign_score = 0.8 * sign_score + (0.2 * ended if imp > prev_imp else -0.2 * ended)
        if sign_score != 0.0:
            swing_sign = 1 if sign_score > 0.0 else -1
        else:  # no evidence yet: the larger rotation is the swing
            swing_sign = 1 if lobe_peak[1] >= lobe_peak[-1] else -1
        confirmed = consec and imp > prev_imp
        if (cand == "yes" or (cand == "impact" and confirmed)) and ended == swing_sign:
            record(t_x, ti)
        prev_imp, prev_rot = imp, rot
        pending = None

    for k in range(len(t)):
        ti = float(t[k])
        raw_a = [float(v) for v in acc[k]]
        raw_w = [float(v) for v in gyro[k]] if gyro is not None else [0.0, 0.0, 0.0]
        acc_bad = any(not abs(v) < 1e9 for v in raw_a) or sum(abs(v) for v in raw_a) == 0.0
        gyro_bad = gyro is not None and any(not abs(v) < 1e9 for v in raw_w)
        # frozen: every axis exactly as on the sample before; clipped: one axis held at a large value
        same = not acc_bad and raw_a + raw_w == prev_raw
        prev_raw = raw_a + raw_w
        a = list(good_a) if acc_bad else raw_a
        good_a = list(a)
        w3 = list(good_g) if gyro_bad else raw_w
        good_g = list(w3)
        dead = acc_bad or gyro_bad or same
        gyro_dead = gyro is not None and (gyro_bad or same)
        restart = started and not dead and dead_run >= 0.25 * fs
        dead_run = dead_run + 1 if dead else 0
        if restart or (started and (ti - last_t > gap or ti < last_t)):
            started = False
            last_step = -1e9
            intervals.clear()
            bout_intervals.clear()
            lobe = 0
            pending = None
            seg_start = k
            push_t = -1e9
            min_s = 0.0  # the flight evidence starts again; the gait (gait["run"]) carries over
            quiet_n = 0
            rest_ends = []
        last_t = ti
        if not started:
            for axis in range(3):
                grav[axis].settle(a[axis])
            lp_step.settle(0.0)
            lp_swing.settle(0.0)
            started = True
        g = [grav[axis](a[axis]) for axis in range(3)]
        gn = max(math.sqrt(g[0] * g[0] + g[1] * g[1] + g[2] * g[2]), 1e-9)
        av = (a[0] * g[0] + a[1] * g[1] + a[2] * g[2]) / gn - gn
        hist_t.append(ti)
        if shank:
            # |a|, the jolt (the change of the acceleration vector over the lag) and the landing
            # score: the jolt times 1 + (g - m) / g (at least 0), m the lowest |a| over the fall
            # window before the lag
            an = math.sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2])
            hist_an.append(an)
            hist_acc.append(list(a))
            if k == seg_start:
                shank_act, shank_act_n = 0.0, 0
            shank_act += abs(an - 9.80665)
            shank_act_n += 1
            first = seg_start + shank_lag + shank_fall
            jolt = score = 0.0
            if k >= first:
                d = [a[axis] - hist_acc[k - shank_lag][axis] for axis in range(3)]
                jolt = math.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
                low = min(hist_an[k - shank_lag - shank_fall : k - shank_lag + 1])
                score = jolt * max(0.0, 2.0 - low / 9.80665)
            hist_score.append(score)
            hist_jolt.append(jolt)
            # the candidates: each sample once the look-ahead (limb_lookahead_s less the lag) has
            # passed after it, counted in samples or in time, whichever comes first
            look_s = s.limb_lookahead_s - s.shank_jolt_lag_s
            look = max(1, int(look_s * fs + 0.5))
            next_c = max(next_c, first)
            while next_c < k and (k - next_c >= look or ti - hist_t[next_c] >= look_s):
                shank_decide(next_c, k, ti)
                next_c += 1
            continue
        if limb:
            # at rest: |a| within limb_rest_mps2 of g, and the acceleration vector moved less than
            # that over limb_rest_lag_s (a swinging foot turns); a rest of limb_rest_min_s or more
            # ends at the first sample that is not quiet
            an = math.sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2])
            hist_an.append(an)
            hist_acc.append(list(a))
            lag = max(1, int(s.limb_rest_lag_s * fs + 0.5))
            quiet = False
            if k - lag >= seg_start and abs(an - 9.80665) < s.limb_rest_mps2:
                moved = [a[axis] - hist_acc[k - lag][axis] for axis in range(3)]
                quiet = moved[0] ** 2 + moved[1] ** 2 + moved[2] ** 2 < s.limb_rest_mps2**2
            if quiet:
                quiet_n += 1
            else:
                if quiet_n >= max(1, int(s.limb_rest_min_s * fs + 0.5)):
                    rest_ends.append(ti)
                quiet_n = 0
            # the candidates: each sample once limb_lookahead_s has passed after it, counted in
            # samples or in time, whichever comes first
            look = max(1, int(s.limb_lookahead_s * fs + 0.5))
            next_c = max(next_c, seg_start + 1)
            while next_c < k and (k - next_c >= look or ti - hist_t[next_c] >= s.limb_lookahead_s):
                limb_decide(next_c, k, ti)
                next_c += 1
            continue
        if foot:
            hist_an.append(math.sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]))
            # pitch axis: the dominant eigenvector of the running second moment of the gyro's
            # horizontal part (the rate minus its component along the low-passed gravity)
            along_g = (w3[0] * g[0] + w3[1] * g[1] + w3[2] * g[2]) / (gn * gn)
            w_h = [w3[axis] - along_g * g[axis] for axis in range(3)]
            for i, (u, v) in enumerate(((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))):
                if not gyro_dead:  # a held or frozen rate says nothing about the axis
                    cov[i] = axis_decay * cov[i] + (1.0 - axis_decay) * w_h[u] * w_h[v]
            mom = [[cov[0], cov[1], cov[2]], [cov[1], cov[3], cov[4]], [cov[2], cov[4], cov[5]]]
            nxt = [
                mom[r][0] * pitch_axis[0] + mom[r][1] * pitch_axis[1] + mom[r][2] * pitch_axis[2]
                for r in range(3)
            ]
            norm = math.sqrt(nxt[0] * nxt[0] + nxt[1] * nxt[1] + nxt[2] * nxt[2])
            if norm > 1e-12:
                pitch_axis = [x / norm for x in nxt]
            pr = lp_swing(w3[0] * pitch_axis[0] + w3[1] * pitch_axis[1] + w3[2] * pitch_axis[2])
            # stance, then push-off: its sign is opposite to the swing's
            if w3[0] * w3[0] + w3[1] * w3[1] + w3[2] * w3[2] < s.stance_rads * s.stance_rads:
                still += 1
                if still >= stance_n:
                    after_stance = True
            else:
                still = 0
            if after_stance and abs(pr) > s.push_off_rads:
                after_stance = False
                sign_score = 0.8 * sign_score + (-0.2 if pr > 0.0 else 0.2)
            if pending is not None and ti >= pending[1] + s.impact_window_s:
                decide(ti, k)
            if lobe == 0:
                if abs(pr) > s.lobe_hysteresis_rads:
                    lobe, lobe_rot, lobe_t, lobe_active_t = (1 if pr > 0 else -1), abs(pr) / fs, ti, ti
                    lobe_consec = False
                continue
            if pr * lobe > s.lobe_hysteresis_rads:  # still turning on the lobe's side
                lobe_active_t = ti
            if pr * lobe > 0.0:
                lobe_rot += pr * lobe / fs
                lobe_t = ti
            # the lobe goes on until the rate crosses zero by the hysteresis, or stays within the
            # hysteresis (on either side) for lobe_settle_s
            faded = ti - lobe_active_t >= s.lobe_settle_s
            crossed = pr * lobe <= -s.lobe_hysteresis_rads
            if not crossed and not faded:
                continue
            if pending is not None:  # the lobe before was short: decide it on what was seen
                decide(ti, k)
            peak_same = lobe_peak[lobe]
            lobe_peak[lobe] = max(lobe_rot, s.lobe_memory * peak_same)
            # it ended at its last sample on its side of zero (crossed) or its last sample beyond
            # the hysteresis (faded out: the rotation stopped there)
            ended, rot, t_x, consec = lobe, lobe_rot, (lobe_t if crossed else lobe_active_t), lobe_consec
            if crossed:
                lobe, lobe_rot, lobe_t, lobe_active_t = -lobe, abs(pr) / fs, ti, ti
                lobe_consec = True  # the next lobe begins where this one crossed zero
            else:  # settled near zero: wait for the next lobe
                lobe = 0
            period = robust_median_interval(intervals, default_period)
            lo_rhythm, hi_rhythm = s.rhythm_window
            if intervals and lo_rhythm * period <= t_x - last_step <= hi_rhythm * period:
                min_rot, rel = s.rhythm_min_swing_rad, s.rhythm_swing_relative  # the rhythm expects it
            else:
                min_rot, rel = s.min_swing_rad, s.swing_relative
            # "yes", "no", or "impact": a contact only if its impact also says swing (then it may be
            # as small as where the rhythm expects a contact)
            cand = "no"
            if rot >= min_rot and t_x - last_step >= max(min_interval, s.refractory_fraction * period):
                if rot >= rel * peak_same:
                    cand = "yes"
                elif rot >= s.rhythm_swing_relative * peak_same:
                    cand = "impact"
            # whether it was a swing is decided once the impact window after its end has passed
            pending = (ended, t_x, rot, cand, consec)
            if ti >= t_x + s.impact_window_s:
                decide(ti, k)
            continue
        sv = lp_step(av)
        hist_a.append(sv)
        min_s = min(min_s, sv)
        c = k - look
        if c < seg_start + 1:
            continue
        vc, tc = hist_a[c], hist_t[c]
        period = robust_median_interval(intervals, default_period)
        if tc - last_step < max(min_interval, s.refractory_fraction * period):
            continue
        back = min(int(s.back_fraction * period * fs + 0.5), ring_len - look - 2)
        lo = max(c - back, seg_start)
        if not (all(v < vc for v in hist_a[lo:c]) and all(v <= vc for v in hist_a[c + 1 : k + 1])):
            continue
        # contact: the step signal's climb from its trough (over the same look-back) to the hump
        # passes this fraction of the way up (smaller after a flight phase)
        trough = lo + int(np.argmin(hist_a[lo : c + 1]))
        frac = s.flight_climb_fraction if hist_a[trough] < -s.flight_mps2 else s.climb_fraction
        level = hist_a[trough] + frac * (vc - hist_a[trough])
        best = next(q for q in range(trough, c + 1) if hist_a[q] >= level)
        best = max(best, c - int(s.refine_s * fs + 0.5), seg_start + 1)
        t_ic = hist_t[best]
        if t_ic - last_step < min_interval:
            continue
        # a weaker hump is enough where the rhythm of contacts expects the next one: the rhythm is
        # tested at this hump's contact time
        lo_rhythm, hi_rhythm = s.rhythm_window
        in_rhythm = bool(intervals) and lo_rhythm * period <= t_ic - last_step <= hi_rhythm * period
        if in_rhythm:
            floor, rel = s.rhythm_floor_mps2, s.rhythm_relative_threshold
        else:
            floor, rel = s.floor_mps2, s.relative_threshold
        if vc < floor or vc < rel * amp:
            continue
        # standing: the step signal within still_mps2 of zero for at least still_s; a bout's first hump
        # whose contact comes within initiation_s of the end of standing is the push-off of gait
        # initiation, not a contact
        first_of_bout = t_ic - last_step > max_period and t_ic - push_t > max_period
        if first_of_bout and t_ic - end_of_standing(hist_t, hist_a, seg_start, k, s) <= s.initiation_s:
            push_t = t_ic
            continue
        last_min_s = min_s
        min_s = 0.0
        record(t_ic, ti)
        amp = vc if amp == 0.0 else 0.85 * amp + 0.15 * min(vc, 3.0 * amp)
    return steps
