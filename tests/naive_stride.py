"""Slow, obvious reference implementations of the stride estimators (``dsp/_stride_kernels.py``).

Written for clarity, not speed: whole-history Python lists instead of rings, rotation matrices
instead of quaternions, and the pairing of contacts with strides done once at the end over the
complete lists (the kernels do it incrementally, which must not change the answer).  Only the
*specification* (:class:`dsp.stride.StrideSettings`) is shared with the fast code; none of its
functions are called.
"""

from __future__ import annotations

import math

import numpy as np

from dsp.stride import StrideSettings


# ------------------------------------------------------------------------------------------
# small helpers
# ------------------------------------------------------------------------------------------
def per_sample_gain(time_constant_s: float, fs: float) -> float:
    """Fraction of an error removed per sample by a first-order filter of this time constant."""
    return 1.0 - math.exp(-1.0 / (fs * time_constant_s)) if time_constant_s > 0 else 1.0


def rodrigues(axis, angle) -> np.ndarray:
    """Rotation matrix of ``angle`` (rad) about the unit vector ``axis``."""
    x, y, z = axis
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + math.sin(angle) * k + (1.0 - math.cos(angle)) * (k @ k)


def orthonormalise(r: np.ndarray) -> np.ndarray:
    """Nearest rotation matrix (polar decomposition through the SVD)."""
    u, _, vt = np.linalg.svd(r)
    return u @ vt


def attitude_from_gravity(a) -> np.ndarray:
    """Body-to-navigation rotation with zero heading that maps the measured 'up' ``a`` onto +z."""
    a = np.asarray(a, float)
    n = np.linalg.norm(a)
    if n < 1e-9:
        return np.eye(3)
    u = a / n
    if 1.0 + u[2] < 1e-9:
        return rodrigues((1.0, 0.0, 0.0), math.pi)
    axis = np.cross(u, (0.0, 0.0, 1.0))
    s = np.linalg.norm(axis)
    if s < 1e-15:
        return np.eye(3)
    return rodrigues(axis / s, math.atan2(s, u[2]))


def gyro_step(r: np.ndarray, w, dt: float) -> np.ndarray:
    """Attitude after turning at the body rate ``w`` (rad/s) for ``dt`` (s)."""
    w = np.asarray(w, float)
    n = np.linalg.norm(w)
    if n * dt == 0.0:
        return r
    return orthonormalise(r @ rodrigues(w / n, n * dt))


def tilt_step(r: np.ndarray, a, gain: float) -> np.ndarray:
    """Turn the attitude (about a horizontal axis) so the measured 'up' moves ``gain`` towards +z."""
    u = r @ np.asarray(a, float)
    n = np.linalg.norm(u)
    if n < 1e-9:
        return r
    u = u / n
    axis = np.cross(u, (0.0, 0.0, 1.0))
    s = np.linalg.norm(axis)
    if s < 1e-12:
        return r
    return orthonormalise(rodrigues(axis / s, gain * math.atan2(s, u[2])) @ r)


def tilt_angle(r: np.ndarray, a) -> float:
    """Angle between the measured 'up' (rotated to the navigation frame) and +z, rad."""
    u = r @ np.asarray(a, float)
    return math.atan2(math.hypot(u[0], u[1]), u[2])


def repaired(acc, gyro):
    """Samples with NaN (or an all-zero accelerometer) replaced by the last good one."""
    acc_out, gyro_out = [], []
    last_a = [0.0, 0.0, 0.0]
    last_w = [0.0, 0.0, 0.0]
    for i in range(len(acc)):
        a = [float(v) for v in acc[i]]
        if any(v != v for v in a) or sum(abs(v) for v in a) == 0.0:
            a = last_a
        last_a = a
        acc_out.append(a)
        if gyro is not None:
            w = [float(v) for v in gyro[i]]
            if any(v != v for v in w):
                w = last_w
            last_w = w
            gyro_out.append(w)
    return acc_out, (gyro_out if gyro is not None else None)


def out_row(t, stride, step, dz, speed, ready, run, has_contact):
    """One output row (same column order as the kernels)."""
    return [t, stride, step, dz, speed, ready, run, 1.0 if has_contact else 0.0]


# ------------------------------------------------------------------------------------------
# foot
# ------------------------------------------------------------------------------------------
def new_motion() -> dict:
    """The navigation state of a motion about to start: not moving, every integral at zero."""
    return {"moving": False, "s1": np.zeros(3), "s2": 0.0, "tau": 0.0, "trap": 0.0, "trap_tau": 0.0}


def naive_foot_landings(t, acc, gyro, *, sampling_rate_hz, settings=None):
    """Every landing (end of a stride) found by the strapdown navigation with zero-velocity updates.

    Returns
    -------
    list of dict
        ``t_land``, ``length``, ``dz``, ``dt``, ``ready`` per landing, in time order.
    """
    s = settings or StrideSettings()
    fs = float(sampling_rate_hz)
    w = max(3, round(s.stance_window_s * fs))
    if w % 2 == 0:
        w += 1
    half = w // 2
    delay = max(half, round(s.stance_lookahead_s * fs))
    lookback = max(1, round(s.stance_lookback_s * fs))
    tilt_gain = per_sample_gain(s.tilt_time_constant_s, fs)
    g_gain = per_sample_gain(s.gravity_time_constant_s, fs)
    max_tilt = math.radians(s.anchor_max_tilt_deg)
    acc, gyro = repaired(acc, gyro)
    n = len(t)
    energy = [math.inf] * n
    landings = []
    g = 9.81
    seg = 0
    nav = None
    for k in range(n):
        if k > 0 and t[k] - t[k - 1] > s.gap_s:
            seg = k
            nav = None
        if nav is None:
            nav = {"init": False, "v": np.zeros(3), "p": np.zeros(3), "have_land": False, "p_land": None}
            nav.update(new_motion(), t_land=None)
        # stance statistic (SHOE) of the window centred on c, uses the gravity known now
        c = k - half
        if c - half >= seg:
            win_a = np.array(acc[c - half : c + half + 1])
            win_w = np.array(gyro[c - half : c + half + 1])
            mean = win_a.sum(axis=0)
            up = g * mean / max(np.linalg.norm(mean), 1e-9)
            dev = sum(float(np.sum((win_a[i] - up) ** 2)) for i in range(w))
            rot = sum(float(np.sum(win_w[i] ** 2)) for i in range(w))
            energy[c] = (dev / s.accel_noise_mps2**2 + rot / s.gyro_noise_rads**2) / w
        j = k - delay
        if j < seg + half:
            continue
        # ---- navigate sample j
        e = energy[j]
        still = e < s.still_threshold
        anchor = False
        if not still and e < s.anchor_threshold:
            before = energy[max(j - lookback, seg + half) : j]
            after = energy[j + 1 : j + delay - half + 1]
            anchor = all(x > e for x in before) and all(x >= e for x in after)
        if not nav["init"]:
            nav["R"] = attitude_from_gravity(acc[j])
            nav["init"] = True
            nav["tilt_left"] = 1.0  # share of the tilt error no sample at rest has measured
            continue
        dt = t[j] - t[j - 1]
        nav["R"] = gyro_step(nav["R"], gyro[j], dt)
        mean = np.mean(np.array(acc[j - half : j + half + 1]), axis=0)
        # the rolling sensor's own acceleration, mean of d(w x r)/dt over the window (r = h up),
        # is not gravity: take it out of the window-mean specific force
        tw = t[j + half] - t[j - half]
        norm = float(np.linalg.norm(mean))
        if s.sensor_height_m > 0.0 and tw > 0.0 and norm > 0.0:
            alpha = (np.array(gyro[j + half]) - np.array(gyro[j - half])) / tw
            mean = mean - np.cross(alpha, s.sensor_height_m * mean / norm)
        if anchor and tilt_angle(nav["R"], mean) > max_tilt:
            anchor = False
        zupt = still or anchor
        a_nav = nav["R"] @ np.array(acc[j]) - np.array([0.0, 0.0, g])
        if nav["moving"] or not zupt:
            v0 = nav["v"].copy()
            nav["v"] = v0 + a_nav * dt
            nav["s1"] = nav["s1"] + 0.5 * (v0 + nav["v"]) * dt
            nav["s2"] += 0.5 * (2.0 * nav["tau"] + dt) * dt
            nav["tau"] += dt
            nav["moving"] = True
            # the trapezoid rule's local error over this interval, dt³/12 · a'' with a'' ≈ Δ²a / dt²
            d2 = np.array(acc[j + 1]) - 2.0 * np.array(acc[j]) + np.array(acc[j - 1])
            trap = (dt / 12.0) ** 2 * float(d2 @ d2)
            nav["trap"] += trap
            nav["trap_tau"] += trap * nav["tau"]
        if not zupt:
            continue
        gain = tilt_gain if still else s.anchor_tilt_gain
        nav["R"] = tilt_step(nav["R"], mean, gain)
        tilt_left = nav["tilt_left"]  # as the motion ending here started
        nav["tilt_left"] = tilt_left * (1.0 - gain) + (0.0 if still else gain)
        if still:
            g += g_gain * (float(np.linalg.norm(mean)) - g)
        # the stance foot rolls on the ground: the sensor, at height h above the ground point,
        # moves at w x (0, 0, h) in the navigation frame (horizontal), not at zero
        roll_v = np.cross(nav["R"] @ np.array(gyro[j]), (0.0, 0.0, s.sensor_height_m))
        if nav["moving"]:
            tau = nav["tau"]
            # the velocity is known (the rolling one) at both ends: its error e here is split into
            # the trapezoid's errors (steps where they arose, at most their variance) and a drift
            # growing linearly over the motion (the rest), each displacing by e times its lever
            e = nav["v"] - roll_v
            drift = max(float(e @ e) - nav["trap"], 0.0)
            if drift + nav["trap"] > 0.0:
                lever = (drift * tau / 2.0 + nav["trap"] * tau - nav["trap_tau"]) / (drift + nav["trap"])
            else:
                lever = tau / 2.0
            d = nav["s1"] - e * lever
            # a tilt u of the apparent 'up', held over the motion, drifts the horizontal velocity by
            # g·u·T (the drift share of e) and reads the horizontal displacement as a height -u·d
            share = drift / (drift + nav["trap"]) if drift + nav["trap"] > 0.0 else 1.0
            u = tilt_left * share * e[:2] / (g * tau)
            nav["p"] = nav["p"] + d + np.array([0.0, 0.0, float(u @ d[:2])])
            if tau >= s.min_swing_s:
                if nav["have_land"] and tau <= s.max_swing_s:
                    d = nav["p"] - nav["p_land"]
                    landings.append(
                        {
                            "t_land": t[j],
                            "length": math.hypot(d[0], d[1]),
                            "dz": d[2],
                            "dt": t[j] - nav["t_land"],
                            "ready": t[k],
                        }
                    )
                nav["have_land"], nav["t_land"], nav["p_land"] = True, t[j], nav["p"].copy()
            nav.update(new_motion())
        else:
            nav["p"] = nav["p"] + 0.5 * (nav["v"] + roll_v) * dt  # still in stance: rolling
            if not nav["have_land"]:
                nav["have_land"], nav["t_land"], nav["p_land"] = True, -1e9, nav["p"].copy()
        nav["v"] = roll_v  # the next motion starts at the rolling velocity
    return landings


def naive_foot_strides(t, acc, gyro, contacts_t, contacts_is_run=None, *, sampling_rate_hz, settings=None):
    """Reference foot stride estimator; rows ``[t, stride, step, dz, speed, ready, run, has_contact]``.

    Pairs every contact with the first unused landing in ``[c - before, c + after]``; landings
    that no contact can claim are reported alone when long enough.
    """
    s = settings or StrideSettings()
    landings = naive_foot_landings(t, acc, gyro, sampling_rate_hz=sampling_rate_hz, settings=s)
    delay = max(
        max(3, round(s.stance_window_s * sampling_rate_hz)) // 2,
        round(s.stance_lookahead_s * sampling_rate_hz),
    )
    lag = s.landing_lag_s
    rows = []

    def speed(rec):
        return rec["length"] / rec["dt"] if rec["dt"] <= s.max_stride_time_s else math.nan

    def alone(rec):
        if rec["length"] >= s.min_stride_without_contact_m:
            rows.append(
                out_row(
                    rec["t_land"] - lag,
                    rec["length"],
                    math.nan,
                    rec["dz"],
                    speed(rec),
                    rec["ready"],
                    math.nan,
                    False,
                )
            )

    r = 0
    for i, c in enumerate(contacts_t):
        run = math.nan if contacts_is_run is None else (1.0 if contacts_is_run[i] else 0.0)
        lo, hi = c - s.landing_before_contact_s, c + s.landing_after_contact_s
        while r < len(landings) and landings[r]["t_land"] < lo:
            alone(landings[r])
            r += 1
        if r < len(landings) and landings[r]["t_land"] <= hi:
            rec = landings[r]
            rows.append(out_row(c, rec["length"], math.nan, rec["dz"], speed(rec), rec["ready"], run, True))
            lag += 0.2 * (rec["t_land"] - c - lag)
            r += 1
        else:
            rows.append(
                out_row(c, math.nan, math.nan, math.nan, math.nan, hi + delay / sampling_rate_hz, run, True)
            )
    for rec in landings[r:]:
        alone(rec)
    return rows


# ------------------------------------------------------------------------------------------
# lower back
# ------------------------------------------------------------------------------------------
class Biquad:
    """Transposed direct form II low-pass, started at rest on its first input."""

    def __init__(self, cutoff_hz: float, fs: float) -> None:
        fc = min(cutoff_hz, 0.45 * fs)
        k = math.tan(math.pi * fc / fs)
        q = 1.0 / math.sqrt(2.0)
        norm = 1.0 / (1.0 + k / q + k * k)
        self.b0 = k * k * norm
        self.b1, self.b2 = 2.0 * self.b0, self.b0
        self.a1, self.a2 = 2.0 * (k * k - 1.0) * norm, (1.0 - k / q + k * k) * norm
        self.z1 = self.z2 = 0.0

    def settle(self, x: float) -> None:
        self.z1 = x * (1.0 - self.b0)
        self.z2 = x * (self.b2 - self.a2)

    def __call__(self, x: float) -> float:
        y = self.b0 * x + self.z1
        self.z1 = self.b1 * x - self.a1 * y + self.z2
        self.z2 = self.b2 * x - self.a2 * y
        return y


def naive_vertical_acceleration(t, acc, gyro, *, sampling_rate_hz, settings=None):
    """Vertical acceleration per sample (any offset; the step integration removes its mean).

    Returns
    -------
    tuple
        The vertical acceleration, the heading (integral of the yaw rate about the vertical since
        the segment began, rad; 0 without a gyroscope) and the index where each sample's segment
        starts.
    """
    s = settings or StrideSettings()
    fs = float(sampling_rate_hz)
    acc, gyro = repaired(acc, gyro)
    gain = per_sample_gain(s.trunk_tilt_time_constant_s, fs)
    av, psi, seg_start = [], [], []
    seg = 0
    heading = 0.0
    for k in range(len(t)):
        fresh = k == 0 or t[k] - t[k - 1] > s.gap_s
        if fresh:
            seg = k
            heading = 0.0
            r = attitude_from_gravity(acc[k])
            lps = [Biquad(s.gravity_cutoff_hz, fs) for _ in range(3)]
            for f, x in zip(lps, acc[k], strict=True):
                f.settle(x)
        a = np.array(acc[k])
        if gyro is not None:
            r = gyro_step(r, gyro[k], 0.0 if fresh else t[k] - t[k - 1])
            r = tilt_step(r, a, gain)
            av.append(float((r @ a)[2]))
            heading += float((r @ np.asarray(gyro[k]))[2]) * (0.0 if fresh else t[k] - t[k - 1])
        else:
            grav = np.array([f(x) for f, x in zip(lps, a, strict=True)])
            gn = max(float(np.linalg.norm(grav)), 1e-9)
            av.append(float(a @ grav) / gn)
        psi.append(heading)
        seg_start.append(seg)
    return av, psi, seg_start


def naive_excursion(t, av, c0, c1):
    """Range of the twice-integrated, zero-mean, de-trended vertical acceleration over [c0, c1]."""
    idx = [q for q in range(len(t)) if c0 <= t[q] <= c1]
    if len(idx) < 5:
        return math.nan
    tt = np.array([t[q] for q in idx])
    a = np.array([av[q] for q in idx])
    dt = np.diff(tt)
    span = tt[-1] - tt[0]
    a = a - np.sum(0.5 * (a[1:] + a[:-1]) * dt) / span
    v = np.concatenate([[0.0], np.cumsum(0.5 * (a[1:] + a[:-1]) * dt)])
    p = np.concatenate([[0.0], np.cumsum(0.5 * (v[1:] + v[:-1]) * dt)])
    p = p - p[-1] * (tt - tt[0]) / span
    return float(p.max() - p.min())


def naive_trunk_strides(
    t, acc, gyro, contacts_t, contacts_is_run=None, *, sampling_rate_hz, runner_height_m=None, settings=None
):
    """Reference lower-back estimator; rows ``[t, stride, step, dz, speed, ready, run, has_contact]``."""
    s = settings or StrideSettings()
    height = s.default_height_m if runner_height_m is None else runner_height_m
    leg = s.leg_length_ratio * height
    av, psi, seg_start = naive_vertical_acceleration(
        t, acc, gyro, sampling_rate_hz=sampling_rate_hz, settings=s
    )
    rows = []
    prev, prev2, prev_step = -1e9, -1e9, math.nan
    psi_prev, psi_prev2 = math.nan, math.nan
    for i, c in enumerate(contacts_t):
        run = -1.0 if contacts_is_run is None else (1.0 if contacts_is_run[i] else 0.0)
        step = math.nan
        # the segment (gap-free stretch) that the sample just after c belongs to
        after = [q for q in range(len(t)) if t[q] >= c]
        seg_t0 = t[seg_start[after[0]]] if after else t[seg_start[-1]]
        if after and s.min_step_s <= c - prev <= s.max_step_s and prev >= seg_t0:
            h = naive_excursion(t, av, prev, c)
            if h == h:  # the gait is the caller's (the step detector's); unknown: both factors are equal
                hh = min(h, leg)
                k = s.pendulum_k_run * s.scale_run if run == 1.0 else s.pendulum_k_walk * s.scale_walk
                step = k * 2.0 * math.sqrt(2.0 * leg * hh - hh * hh)
        # heading of the last sample at or before c; half the heading change over the stride is the
        # turn per step (none after a step without a length)
        before = [q for q in range(len(t)) if t[q] <= c]
        psi_c = psi[before[-1]] if before else math.nan
        turn = 0.0
        if prev_step == prev_step and psi_c == psi_c and psi_prev2 == psi_prev2:
            turn = min(0.5 * abs(psi_c - psi_prev2), math.pi)
        if turn > 0.0:
            step *= math.sin(turn / 2) / (turn / 2)  # chord of the step's arc
        stride = (step + prev_step) * math.cos(turn / 2)  # resultant of two chords `turn` apart
        speed = stride / (c - prev2) if c - prev2 <= s.max_stride_time_s else math.nan
        ready = t[after[0]] if after else c
        rows.append(out_row(c, stride, step, math.nan, speed, ready, run if run >= 0 else math.nan, True))
        prev2, prev, prev_step = prev, c, step
        psi_prev2, psi_prev = psi_prev, psi_c
    # a bout's first contact (none within max_step_s before it) has no step: when the next step is
    # measured, the first is as long as the second, with the factor K of its own gait (for the
    # distance); the second contact's stride stays unknown
    k_of = {True: s.pendulum_k_run * s.scale_run, False: s.pendulum_k_walk * s.scale_walk}
    for i in range(len(rows) - 1):
        first, second = rows[i], rows[i + 1]
        starts_bout = i == 0 or first[0] - rows[i - 1][0] > s.max_step_s
        if starts_bout and math.isnan(first[2]) and not math.isnan(second[2]):
            run2 = second[6] == 1.0
            run1 = run2 if math.isnan(first[6]) else first[6] == 1.0
            step1 = second[2] / k_of[run2] * k_of[run1]
            run_first = second[6] if math.isnan(first[6]) else first[6]
            rows[i] = out_row(first[0], first[1], step1, first[3], first[4], second[5], run_first, True)
    return rows
