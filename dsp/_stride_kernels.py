"""Numba kernels of the streaming stride estimators (foot and lower back).

Like ``dsp/_step_kernels.py``: each kernel consumes samples one at a time and keeps every
piece of memory in arrays owned by the caller, so feeding a recording in one block or in
blocks of any size runs the same arithmetic in the same order.  Contacts (from the step
detector) are queued by the caller; a contact's result is a pure function of the samples
and of the contact times, never of when the contact arrived, so chunking cannot change it.

The kernels are private and pure: no globals but the integer slot numbers below, no dicts,
no I/O, no exceptions.  The typed wrapper is ``dsp.stride``; the slow references that the
tests compare against are in ``tests/naive_stride.py``.  The methods are described in
``docs/stride.md``.
"""

from __future__ import annotations

import numpy as np

from dsp._config import kernel

# =============================================================================================
# Foot: strapdown integration with zero-velocity updates
# =============================================================================================

# ---- parameter slots ------------------------------------------------------------------------
FP_FS = 0  # sampling rate, Hz
FP_W = 1  # stance-statistic window, samples (odd)
FP_DELAY = 2  # samples between arrival and navigation (look-ahead of the stance test)
FP_LOOKBACK = 3  # samples the stance anchor must be the minimum over, before it
FP_INV_VAR_A = 4  # 1 / sigma_a², (m/s²)^-2
FP_INV_VAR_W = 5  # 1 / sigma_w², (rad/s)^-2
FP_GAMMA_STILL = 6  # statistic below this: the foot is at rest, 1
FP_GAMMA_ANCHOR = 7  # largest statistic of a stance anchor (running), 1
FP_MIN_SWING_S = 8  # shortest motion between stances that makes a stride, s
FP_TILT_GAIN = 9  # fraction of the tilt error removed per stance sample, 1
FP_G_GAIN = 10  # gravity-magnitude learning rate per still sample, 1
FP_GAP_S = 11  # a gap in time longer than this restarts the navigation, s
FP_MATCH_BEFORE_S = 12  # a landing may precede its contact by this much, s
FP_MATCH_AFTER_S = 13  # a landing may follow its contact by this much, s
FP_MAX_STRIDE_S = 14  # longest stride time that gives a speed, s
FP_MAX_SWING_S = 15  # longest motion between stances that still gives a stride, s
FP_ANCHOR_TILT_GAIN = 16  # fraction of the tilt error removed at a stance anchor, 1
FP_ANCHOR_MAX_TILT_RAD = 17  # an anchor disagreeing more with the attitude is refused, rad
FP_CONTACT_LATENCY_S = 18  # contacts arrive at most this long after they happen, s
FP_LAG_GAIN = 19  # learning rate of the landing-after-contact lag, 1
FP_MIN_ALONE_M = 20  # shortest stride reported without a contact, m
FP_SENSOR_HEIGHT_M = 21  # height of the sensor above the ground point the stance foot rolls on, m
N_FOOT_PARAMS = 22

# ---- state slots ----------------------------------------------------------------------------
FS_N = 0  # samples received
FS_VALID_FROM = 1  # first sample index of the current segment (after a gap)
FS_LAST_T = 2  # time of the last sample received, s
FS_INIT = 3  # navigation initialised in this segment
FS_Q = 4  # attitude quaternion body -> navigation (w, x, y, z), 4 slots
FS_V = 8  # velocity in the navigation frame since the last stance, m/s, 3 slots
FS_S1 = 11  # integral of velocity since the last stance, m, 3 slots
FS_S2 = 14  # integral of (t - t_stance) since the last stance, s², scalar
FS_TAU = 15  # time since the last stance sample, s
FS_MOVING = 16  # 1 while moving (samples since the last stance)
FS_P = 17  # position at the current stance, m, 3 slots
FS_PLAND = 20  # position at the previous landing, m, 3 slots
FS_TLAND = 23  # time of the previous landing, s
FS_HAVE_LAND = 24  # a landing is known in this segment
FS_G = 25  # gravity magnitude, m/s²
FS_GOOD_A = 26  # last good accelerometer sample, 3 slots
FS_GOOD_W = 29  # last good gyroscope sample, 3 slots
FS_N_REC = 32  # records written so far
FS_REPAIRED = 33  # samples repaired
FS_N_GAPS = 34  # gaps seen
FS_N_ZUPT = 35  # stance samples so far
FS_T_NOW = 36  # time of the newest sample, s
FS_T_NAV = 37  # time of the newest navigated sample, s
FS_REC_DONE = 38  # records settled (claimed by a contact or emitted alone)
FS_LAND_LAG = 39  # typical delay from contact to landing record, s
FS_TRAP = 40  # sum over the motion of the trapezoid rule's velocity error variance, (m/s)²
FS_TRAP_TAU = 41  # the same, each sample weighted by its time since the last stance, (m/s)²·s
FS_TILT_LEFT = 42  # share of the attitude's tilt error that no sample at rest has measured since, 1
N_FOOT_STATE = 43

# ---- ring columns (raw samples, the stance statistic and its window sums) -------------------
FR_T = 0
FR_A = 1  # 3 columns
FR_W = 4  # 3 columns
FR_E = 7  # stance statistic of the window centred on this sample
FR_W2 = 8  # |w|² of this sample, (rad/s)²: each sample's term of the statistic's gyroscope sum
FR_SUM_A = 9  # sum of the specific force over the window centred on this sample, m/s², 3 columns
N_FOOT_RING = 12

# ---- record columns (one per landing that ends a stride) ------------------------------------
RC_TLAND = 0  # time of the first stance sample, s
RC_LEN = 1  # horizontal displacement since the previous landing, m
RC_DZ = 2  # height change since the previous landing, m (+ up)
RC_DT = 3  # time since the previous landing, s
RC_TREADY = 4  # time of the newest sample when the record was written, s
N_REC_COLS = 5
N_RECORDS = 16

# ---- output columns (shared by both estimators) --------------------------------------------
O_T = 0  # contact time, s
O_STRIDE = 1  # stride length, m
O_STEP = 2  # step length, m (NaN for a foot)
O_DZ = 3  # height change over the stride, m
O_SPEED = 4  # speed, m/s
O_READY = 5  # time of the newest sample when the result was known, s
O_RUN = 6  # 1 running, 0 walking, NaN unknown
O_HAS_CONTACT = 7  # 1 for a contact's row, 0 for a stride whose contact was not detected
N_OUT = 8

# ---- pending-contact columns ----------------------------------------------------------------
C_T = 0  # contact time, s
C_RUN = 1  # 1 running, 0 walking, -1 unknown
N_CONTACT_COLS = 2


@kernel
def _quat_mul(a0, a1, a2, a3, b0, b1, b2, b3):
    """Hamilton product ``a ⊗ b`` of two quaternions given as scalars (w, x, y, z)."""
    return (
        a0 * b0 - a1 * b1 - a2 * b2 - a3 * b3,
        a0 * b1 + a1 * b0 + a2 * b3 - a3 * b2,
        a0 * b2 - a1 * b3 + a2 * b0 + a3 * b1,
        a0 * b3 + a1 * b2 - a2 * b1 + a3 * b0,
    )


@kernel
def _rotate(q, i, x, y, z):
    """Rotate the body vector ``(x, y, z)`` into the navigation frame by ``q[i:i+4]``."""
    w = q[i]
    qx = q[i + 1]
    qy = q[i + 2]
    qz = q[i + 3]
    # v' = v + 2 w (u × v) + 2 u × (u × v), u = (qx, qy, qz)
    cx = qy * z - qz * y
    cy = qz * x - qx * z
    cz = qx * y - qy * x
    dx = qy * cz - qz * cy
    dy = qz * cx - qx * cz
    dz = qx * cy - qy * cx
    return x + 2.0 * (w * cx + dx), y + 2.0 * (w * cy + dy), z + 2.0 * (w * cz + dz)


@kernel
def _normalise_q(q, i):
    """Scale ``q[i:i+4]`` to unit norm."""
    n = np.sqrt(q[i] * q[i] + q[i + 1] * q[i + 1] + q[i + 2] * q[i + 2] + q[i + 3] * q[i + 3])
    if n > 0.0:
        for k in range(4):
            q[i + k] /= n


@kernel
def _q_from_gravity(q, i, ax, ay, az):
    """Attitude with zero heading whose 'up' is the measured specific force ``(ax, ay, az)``.

    The shortest rotation taking the body vector â to the navigation z axis.
    """
    n = np.sqrt(ax * ax + ay * ay + az * az)
    if n < 1e-9:
        q[i] = 1.0
        q[i + 1] = 0.0
        q[i + 2] = 0.0
        q[i + 3] = 0.0
        return
    ux = ax / n
    uy = ay / n
    uz = az / n
    # axis = â × z = (uy, -ux, 0); cos = uz
    w = 1.0 + uz
    if w < 1e-9:  # upside down: half turn about x
        q[i] = 0.0
        q[i + 1] = 1.0
        q[i + 2] = 0.0
        q[i + 3] = 0.0
        return
    q[i] = w
    q[i + 1] = uy
    q[i + 2] = -ux
    q[i + 3] = 0.0
    _normalise_q(q, i)


@kernel
def _tilt_correct(q, i, ax, ay, az, gain):
    """Turn the attitude so that the specific force ``a`` (body) moves ``gain`` of the way to 'up'.

    The correction is a rotation in the navigation frame about ``u × z`` (``u`` the measured
    'up'), so the heading is left alone.
    """
    ux, uy, uz = _rotate(q, i, ax, ay, az)
    n = np.sqrt(ux * ux + uy * uy + uz * uz)
    if n < 1e-9:
        return
    ux /= n
    uy /= n
    uz /= n
    ex = uy  # u × z = (uy, -ux, 0)
    ey = -ux
    s = np.sqrt(ex * ex + ey * ey)
    if s < 1e-12:
        return
    angle = gain * np.arctan2(s, uz)
    h = 0.5 * angle
    sh = np.sin(h) / s
    w, x, y, z = _quat_mul(np.cos(h), ex * sh, ey * sh, 0.0, q[i], q[i + 1], q[i + 2], q[i + 3])
    q[i] = w
    q[i + 1] = x
    q[i + 2] = y
    q[i + 3] = z
    _normalise_q(q, i)


@kernel
def _integrate_gyro(q, i, wx, wy, wz, dt):
    """Propagate ``q[i:i+4]`` by the body angular rate ``w`` over ``dt`` (exact for constant ``w``)."""
    n = np.sqrt(wx * wx + wy * wy + wz * wz)
    h = 0.5 * n * dt
    if n > 1e-12:
        s = np.sin(h) / n
        w, x, y, z = _quat_mul(q[i], q[i + 1], q[i + 2], q[i + 3], np.cos(h), wx * s, wy * s, wz * s)
    else:
        w, x, y, z = _quat_mul(
            q[i], q[i + 1], q[i + 2], q[i + 3], 1.0, 0.5 * wx * dt, 0.5 * wy * dt, 0.5 * wz * dt
        )
    q[i] = w
    q[i + 1] = x
    q[i + 2] = y
    q[i + 3] = z
    _normalise_q(q, i)


@kernel
def _foot_reset_motion(state):
    """Start a new motion: not moving, and its integrals (S1, S2, TAU, TRAP, TRAP_TAU) at zero."""
    state[FS_MOVING] = 0.0
    for a in range(3):
        state[FS_S1 + a] = 0.0
    state[FS_S2] = 0.0
    state[FS_TAU] = 0.0
    state[FS_TRAP] = 0.0
    state[FS_TRAP_TAU] = 0.0


@kernel
def _foot_reset_segment(state, k):
    """Start a new segment at sample index ``k`` (first sample, or after a gap in time)."""
    state[FS_VALID_FROM] = float(k)
    state[FS_INIT] = 0.0
    state[FS_HAVE_LAND] = 0.0
    for a in range(3):
        state[FS_V + a] = 0.0
        state[FS_P + a] = 0.0
    _foot_reset_motion(state)


@kernel
def _emit_record(records, r, t_contact, run, has_contact, params, out, n_out):
    """Write the output row of landing record ``r`` for a contact at ``t_contact``."""
    slot = r % records.shape[0]
    length = records[slot, RC_LEN]
    dt = records[slot, RC_DT]
    out[n_out, O_T] = t_contact
    out[n_out, O_STRIDE] = length
    out[n_out, O_STEP] = np.nan
    out[n_out, O_DZ] = records[slot, RC_DZ]
    out[n_out, O_SPEED] = length / dt if dt <= params[FP_MAX_STRIDE_S] else np.nan
    out[n_out, O_READY] = records[slot, RC_TREADY]
    out[n_out, O_RUN] = run if run >= 0.0 else np.nan
    out[n_out, O_HAS_CONTACT] = has_contact
    return n_out + 1


@kernel
def _foot_resolve(contacts, n_contacts, head, records, params, state, out, n_out, final):
    """Pair queued contacts with landing records, oldest first, while the answer is decided.

    Records are settled in time order.  A contact at ``c`` takes the first unsettled record if
    that landing lies in ``[c - match_before, c + match_after]``; a record that lands before
    ``c - match_before`` can no longer be claimed and is emitted on its own (a stride whose
    contact the step detector missed, ``O_HAS_CONTACT = 0``).  A contact with no landing in its
    window gets NaN.  Without a queued contact, a record is settled once no contact that could
    claim it can still arrive (contacts come at most ``contact_latency`` after they happen).
    Strides shorter than ``min_alone`` are not reported without a contact (shuffles, turns).

    Returns
    -------
    tuple of int
        New queue head and number of output rows.
    """
    nr = records.shape[0]
    before = params[FP_MATCH_BEFORE_S]
    while True:
        n_rec = int(state[FS_N_REC])
        done = int(state[FS_REC_DONE])
        if done < n_rec - nr:  # overwritten before being settled (cannot happen with bounded latency)
            done = n_rec - nr
            state[FS_REC_DONE] = done
        if head < n_contacts:
            c = contacts[head, C_T]
            run = contacts[head, C_RUN]
            lo = c - before
            hi = c + params[FP_MATCH_AFTER_S]
            if done < n_rec:
                tl = records[done % nr, RC_TLAND]
                if tl < lo:
                    if records[done % nr, RC_LEN] >= params[FP_MIN_ALONE_M]:
                        n_out = _emit_record(
                            records, done, tl - state[FS_LAND_LAG], -1.0, 0.0, params, out, n_out
                        )
                    state[FS_REC_DONE] = done + 1.0
                    continue
                if tl <= hi:
                    n_out = _emit_record(records, done, c, run, 1.0, params, out, n_out)
                    state[FS_REC_DONE] = done + 1.0
                    state[FS_LAND_LAG] += params[FP_LAG_GAIN] * (tl - c - state[FS_LAND_LAG])
                    head += 1
                    continue
            elif not (final or state[FS_T_NAV] > hi):
                break  # its landing may still come
            # no landing in the window
            out[n_out, O_T] = c
            out[n_out, O_STRIDE] = np.nan
            out[n_out, O_STEP] = np.nan
            out[n_out, O_DZ] = np.nan
            out[n_out, O_SPEED] = np.nan
            out[n_out, O_READY] = hi + params[FP_DELAY] / params[FP_FS]
            out[n_out, O_RUN] = run if run >= 0.0 else np.nan
            out[n_out, O_HAS_CONTACT] = 1.0
            n_out += 1
            head += 1
            continue
        if done < n_rec:
            tl = records[done % nr, RC_TLAND]
            if final or tl + before < state[FS_T_NOW] - params[FP_CONTACT_LATENCY_S]:
                if records[done % nr, RC_LEN] >= params[FP_MIN_ALONE_M]:
                    n_out = _emit_record(
                        records, done, tl - state[FS_LAND_LAG], -1.0, 0.0, params, out, n_out
                    )
                state[FS_REC_DONE] = done + 1.0
                continue
        break
    return head, n_out


@kernel
def _foot_is_anchor(ring, slot, ej, n_back, n_ahead):
    """Whether ring row ``slot`` (statistic ``ej``) is the quietest sample of its neighbourhood.

    No quieter-or-equal statistic in the ``n_back`` rows before it, and no strictly quieter one in
    the ``n_ahead`` rows after it.  The look-back is scanned nearest first (a neighbour usually
    refuses), and the rows are stepped without an integer division per sample.
    """
    m = ring.shape[0]
    s = slot
    for _ in range(n_back):
        s = s - 1 if s > 0 else m - 1
        if ring[s, FR_E] <= ej:
            return False
    s = slot
    for _ in range(n_ahead):
        s = s + 1 if s < m - 1 else 0
        if ring[s, FR_E] < ej:
            return False
    return True


@kernel
def _foot_end_motion(slot, tilt_left, vlx, vly, params, state, ring, records):
    """Close the motion that ends at the stance sample in ring row ``slot``; write its landing.

    Its velocity is known at both ends (the rolling velocity ``(vlx, vly, 0)`` here), so its
    velocity error ``e`` here is known.  ``e²`` is split into the trapezoid's errors (steps at
    their samples, at most their variance) and a drift that grew linearly over the motion (the
    rest); the position error is then ``e`` times the variance-weighted time from where each part
    arose to now.  ``tilt_left`` is the share of the attitude's tilt that no sample at rest had
    measured when the motion started.  Called once per motion, not per sample.
    """
    tau = state[FS_TAU]
    ex = state[FS_V] - vlx
    ey = state[FS_V + 1] - vly
    ez = state[FS_V + 2]
    trap = state[FS_TRAP]
    drift = ex * ex + ey * ey + ez * ez - trap
    if drift < 0.0:
        drift = 0.0
    if drift + trap > 0.0:
        lever = (drift * state[FS_S2] / tau + trap * tau - state[FS_TRAP_TAU]) / (drift + trap)
    else:
        lever = state[FS_S2] / tau
    dpx = state[FS_S1] - ex * lever
    dpy = state[FS_S1 + 1] - ey * lever
    # a tilt error (the apparent 'up' leaning by u) held through the motion leaks gravity into
    # a horizontal drift g·u·T, the drift share of (ex, ey), which the de-drift removes from
    # the horizontal; it also reads the horizontal displacement d as a height change -u·d,
    # which nothing removes (the vertical error of a running stride). Only the tilt no sample
    # at rest measured is taken from it: after a stance at rest the error is impact, not tilt
    share = drift / (drift + trap) if drift + trap > 0.0 else 1.0
    dz_tilt = tilt_left * share * (ex * dpx + ey * dpy) / (state[FS_G] * tau)
    state[FS_P] += dpx
    state[FS_P + 1] += dpy
    state[FS_P + 2] += state[FS_S1 + 2] - ez * lever + dz_tilt
    if tau >= params[FP_MIN_SWING_S]:
        t_land = ring[slot, FR_T]
        if state[FS_HAVE_LAND] == 1.0 and tau <= params[FP_MAX_SWING_S]:
            dx = state[FS_P] - state[FS_PLAND]
            dy = state[FS_P + 1] - state[FS_PLAND + 1]
            dz = state[FS_P + 2] - state[FS_PLAND + 2]
            nr = records.shape[0]
            r = int(state[FS_N_REC]) % nr
            records[r, RC_TLAND] = t_land
            records[r, RC_LEN] = np.sqrt(dx * dx + dy * dy)
            records[r, RC_DZ] = dz
            records[r, RC_DT] = t_land - state[FS_TLAND]
            records[r, RC_TREADY] = state[FS_T_NOW]
            state[FS_N_REC] += 1.0
        state[FS_HAVE_LAND] = 1.0
        state[FS_TLAND] = t_land
        for a in range(3):
            state[FS_PLAND + a] = state[FS_P + a]
    _foot_reset_motion(state)


@kernel
def _foot_block(t, acc, gyro, contacts, params, state, ring, records, out, final):
    """Run the foot stride estimator over one block of samples.

    Parameters
    ----------
    t : numpy.ndarray
        Sample times, shape ``(n,)``, s, increasing.
    acc : numpy.ndarray
        Accelerometer, shape ``(n, 3)``, m/s², gravity included, any orientation.
    gyro : numpy.ndarray
        Gyroscope, shape ``(n, 3)``, rad/s.
    contacts : numpy.ndarray
        Queued contacts, shape ``(k, 2)`` (columns ``C_*``), in time order: the unresolved ones of
        earlier blocks followed by this block's.
    params : numpy.ndarray
        Parameter vector (slots ``FP_*``).
    state : numpy.ndarray
        Estimator state (slots ``FS_*``), updated in place.
    ring : numpy.ndarray
        Raw-sample ring, shape ``(m, N_FOOT_RING)`` (columns ``FR_*``).
    records : numpy.ndarray
        Ring of the last landings, shape ``(N_RECORDS, 5)`` (columns ``RC_*``).
    out : numpy.ndarray
        Output rows (columns ``O_*``); room for ``k`` rows.
    final : bool
        True when no more samples will come (resolve every queued contact).

    Returns
    -------
    tuple of int
        Number of queued contacts resolved (from the head), and of rows written to ``out``.

    Notes
    -----
    The navigation of a sample is written out in the loop rather than in a helper that takes the
    arrays: numba's reference-count pruning left such a helper (``_foot_nav_step``, before) an
    atomic increment and decrement of each of its four arrays per call, about a quarter of the
    kernel's time (docs/performance.md, "Foot stride kernel").  The helpers called per sample
    are small enough to be pruned (or inlined); ``_foot_end_motion`` runs once per motion.
    """
    n = t.shape[0]
    m = ring.shape[0]
    n_contacts = contacts.shape[0]
    head = 0
    n_out = 0
    w = int(params[FP_W])
    half = w // 2
    delay = int(params[FP_DELAY])
    lookback = int(params[FP_LOOKBACK])
    inv_a = params[FP_INV_VAR_A]
    inv_w = params[FP_INV_VAR_W]
    gamma_still = params[FP_GAMMA_STILL]
    gamma_anchor = params[FP_GAMMA_ANCHOR]
    tilt_gain = params[FP_TILT_GAIN]
    anchor_tilt_gain = params[FP_ANCHOR_TILT_GAIN]
    max_tilt = params[FP_ANCHOR_MAX_TILT_RAD]
    g_gain = params[FP_G_GAIN]
    h = params[FP_SENSOR_HEIGHT_M]
    after = params[FP_MATCH_AFTER_S]
    gap_s = params[FP_GAP_S]
    head, n_out = _foot_resolve(contacts, n_contacts, head, records, params, state, out, n_out, False)
    # the sample count, its ring row and the segment's first sample live in locals through the block
    k0 = int(state[FS_N])
    slot = (k0 + m - 1) % m  # ring row of the sample before the block's first
    valid_from = int(state[FS_VALID_FROM])
    for i in range(n):
        k = k0 + i
        slot = slot + 1 if slot < m - 1 else 0  # k % m, without an integer division per sample
        ti = t[i]
        ax = acc[i, 0]
        ay = acc[i, 1]
        az = acc[i, 2]
        if not (ax == ax and ay == ay and az == az) or abs(ax) + abs(ay) + abs(az) == 0.0:
            state[FS_REPAIRED] += 1.0
            ax = state[FS_GOOD_A]
            ay = state[FS_GOOD_A + 1]
            az = state[FS_GOOD_A + 2]
        else:
            state[FS_GOOD_A] = ax
            state[FS_GOOD_A + 1] = ay
            state[FS_GOOD_A + 2] = az
        gx = gyro[i, 0]
        gy = gyro[i, 1]
        gz = gyro[i, 2]
        if not (gx == gx and gy == gy and gz == gz):
            gx = state[FS_GOOD_W]
            gy = state[FS_GOOD_W + 1]
            gz = state[FS_GOOD_W + 2]
        else:
            state[FS_GOOD_W] = gx
            state[FS_GOOD_W + 1] = gy
            state[FS_GOOD_W + 2] = gz
        if k == 0 or ti - state[FS_LAST_T] > gap_s:
            if k > 0:
                state[FS_N_GAPS] += 1.0
            _foot_reset_segment(state, k)
            valid_from = k
        state[FS_LAST_T] = ti
        state[FS_T_NOW] = ti
        ring[slot, FR_T] = ti
        ring[slot, FR_A] = ax
        ring[slot, FR_A + 1] = ay
        ring[slot, FR_A + 2] = az
        ring[slot, FR_W] = gx
        ring[slot, FR_W + 1] = gy
        ring[slot, FR_W + 2] = gz
        ring[slot, FR_W2] = gx**2 + gy**2 + gz**2
        ring[slot, FR_E] = 1e300
        # ---- stance statistic of the window centred on c = k - half (SHOE, Skog et al. 2010)
        c = k - half
        sc = slot - half if slot >= half else slot - half + m  # c % m
        if c - half >= valid_from:
            mx = 0.0
            my = 0.0
            mz = 0.0
            ww = 0.0
            s0 = sc - half if sc >= half else sc - half + m  # the loops step slots without a division
            s = s0
            for _ in range(w):
                mx += ring[s, FR_A]
                my += ring[s, FR_A + 1]
                mz += ring[s, FR_A + 2]
                ww += ring[s, FR_W2]
                s = s + 1 if s < m - 1 else 0
            # kept for the navigation of sample c, whose window mean is this sum over w
            ring[sc, FR_SUM_A] = mx
            ring[sc, FR_SUM_A + 1] = my
            ring[sc, FR_SUM_A + 2] = mz
            mn = np.sqrt(mx * mx + my * my + mz * mz)
            if mn < 1e-9:
                mn = 1e-9
            g = state[FS_G]
            ux = g * mx / mn
            uy = g * my / mn
            uz = g * mz / mn
            aa = 0.0
            s = s0
            for _ in range(w):
                aa += (
                    (ring[s, FR_A] - ux) ** 2 + (ring[s, FR_A + 1] - uy) ** 2 + (ring[s, FR_A + 2] - uz) ** 2
                )
                s = s + 1 if s < m - 1 else 0
            ring[sc, FR_E] = (aa * inv_a + ww * inv_w) / w
        # ---- navigate sample j, `delay` behind (its stance test needs the look-ahead), ring row sj
        j = k - delay
        if j < valid_from + half:
            continue
        sj = slot - delay if slot >= delay else slot - delay + m  # j % m
        prev = sj - 1 if sj > 0 else m - 1
        # actual sample interval: timestamp jitter telescopes out of the integrals, dropped samples count
        dt = ring[sj, FR_T] - ring[prev, FR_T]
        state[FS_T_NAV] = ring[sj, FR_T]
        fx = ring[sj, FR_A]
        fy = ring[sj, FR_A + 1]
        fz = ring[sj, FR_A + 2]
        wx = ring[sj, FR_W]
        wy = ring[sj, FR_W + 1]
        wz = ring[sj, FR_W + 2]
        if state[FS_INIT] == 0.0:
            # first sample of the segment: attitude from gravity, at rest until the first stance
            _q_from_gravity(state, FS_Q, fx, fy, fz)
            state[FS_INIT] = 1.0
            state[FS_MOVING] = 0.0
            state[FS_TILT_LEFT] = 1.0  # one sample's gravity: not a measurement at rest
        else:
            # ---- stance test: at rest, or the quietest sample of its neighbourhood (running)
            ej = ring[sj, FR_E]
            still = ej < gamma_still
            anchor = False
            if not still and ej < gamma_anchor:
                lo = j - lookback
                if lo < valid_from + half:
                    lo = valid_from + half
                anchor = _foot_is_anchor(ring, sj, ej, j - lo, delay - half)
            _integrate_gyro(state, FS_Q, wx, wy, wz, dt)
            # window-mean specific force: 'up' when the foot is at rest
            mx = 0.0
            my = 0.0
            mz = 0.0
            if still or anchor:
                # the sum over the window centred on j, made with its stance statistic
                cnt = 2.0 * half + 1.0
                mx = ring[sj, FR_SUM_A] / cnt
                my = ring[sj, FR_SUM_A + 1] / cnt
                mz = ring[sj, FR_SUM_A + 2] / cnt
                s_lo = sj - half if sj >= half else sj - half + m
                # the rolling sensor is not at rest: it moves at w x r (r = h up, from the ground
                # point), so its window-mean specific force holds, besides gravity, the mean of
                # d(w x r)/dt = (w_last - w_first)/T_w x r. Left in, that tangential acceleration (a
                # few m/s² at a running stance) tilts the attitude at every anchor, and the tilt
                # turns the stride into a climb. The centripetal w x (w x r) (h w², < 0.1 m/s²) is
                # left out
                s_hi = sj + half if sj + half < m else sj + half - m
                tw = ring[s_hi, FR_T] - ring[s_lo, FR_T]
                gn = np.sqrt(mx * mx + my * my + mz * mz)
                if h > 0.0 and tw > 0.0 and gn > 0.0:
                    dwx = (ring[s_hi, FR_W] - ring[s_lo, FR_W]) / tw
                    dwy = (ring[s_hi, FR_W + 1] - ring[s_lo, FR_W + 1]) / tw
                    dwz = (ring[s_hi, FR_W + 2] - ring[s_lo, FR_W + 2]) / tw
                    rx = h * mx / gn
                    ry = h * my / gn
                    rz = h * mz / gn
                    mx -= dwy * rz - dwz * ry
                    my -= dwz * rx - dwx * rz
                    mz -= dwx * ry - dwy * rx
            if anchor:
                # gate: an anchor must agree with the attitude carried through the swing
                ux, uy, uz = _rotate(state, FS_Q, mx, my, mz)
                if np.arctan2(np.sqrt(ux * ux + uy * uy), uz) > max_tilt:
                    anchor = False
            # ---- strapdown: specific force to the navigation frame, gravity removed
            nx, ny, nz = _rotate(state, FS_Q, fx, fy, fz)
            nz -= state[FS_G]
            if state[FS_MOVING] == 1.0 or not (still or anchor):
                tau0 = state[FS_TAU]
                tau1 = tau0 + dt
                for a in range(3):
                    v0 = state[FS_V + a]
                    acc_n = nx if a == 0 else (ny if a == 1 else nz)
                    v1 = v0 + acc_n * dt
                    state[FS_V + a] = v1
                    state[FS_S1 + a] += 0.5 * (v0 + v1) * dt
                state[FS_S2] += 0.5 * (tau0 + tau1) * dt
                state[FS_TAU] = tau1
                state[FS_MOVING] = 1.0
                # how wrong the trapezoid can be over this interval: its local error dt³/12 · a'',
                # with a'' the second difference over dt², i.e. dt · |Δ²a| / 12 (m/s). Small on a
                # smooth signal; a sharp impact that the sampling cuts to one or two samples leaves
                # a velocity step there, which the swing's drift does not explain
                nxt = sj + 1 if sj < m - 1 else 0
                d2x = ring[nxt, FR_A] - 2.0 * fx + ring[prev, FR_A]
                d2y = ring[nxt, FR_A + 1] - 2.0 * fy + ring[prev, FR_A + 1]
                d2z = ring[nxt, FR_A + 2] - 2.0 * fz + ring[prev, FR_A + 2]
                trap = (dt / 12.0) ** 2 * (d2x * d2x + d2y * d2y + d2z * d2z)
                state[FS_TRAP] += trap
                state[FS_TRAP_TAU] += trap * tau1
            if still or anchor:
                # ---- stance (zero-velocity update)
                # the tilt error the motion ending here started with, that no sample at rest had measured
                tilt_left = state[FS_TILT_LEFT]
                gain = tilt_gain if still else anchor_tilt_gain
                _tilt_correct(state, FS_Q, mx, my, mz, gain)
                # a sample at rest measures gravity; an anchor's window mean holds the foot's own
                # acceleration (sole shear, deceleration): what it sets is not a measurement of the tilt
                state[FS_TILT_LEFT] = tilt_left * (1.0 - gain) + (0.0 if still else gain)
                if still:
                    gn = np.sqrt(mx * mx + my * my + mz * mz)
                    state[FS_G] += g_gain * (gn - state[FS_G])
                state[FS_N_ZUPT] += 1.0
                # the stance foot rolls on the ground (heel, then ball): the sensor, at height h
                # above the ground point, moves at w x (h z): horizontal, h times the tilt rate, not zero
                wnx, wny, _wnz = _rotate(state, FS_Q, wx, wy, wz)
                vlx = h * wny
                vly = -h * wnx
                if state[FS_MOVING] == 1.0:
                    _foot_end_motion(sj, tilt_left, vlx, vly, params, state, ring, records)
                else:
                    # stance continues: the sensor rolls with the foot (trapezoid of the rolling velocity)
                    state[FS_P] += 0.5 * (state[FS_V] + vlx) * dt
                    state[FS_P + 1] += 0.5 * (state[FS_V + 1] + vly) * dt
                    if state[FS_HAVE_LAND] == 0.0:
                        # at rest before the first stride of the segment: this is where it starts
                        state[FS_HAVE_LAND] = 1.0
                        state[FS_TLAND] = -1e9
                        for a in range(3):
                            state[FS_PLAND + a] = state[FS_P + a]
                # the motion that follows starts at the rolling velocity
                state[FS_V] = vlx
                state[FS_V + 1] = vly
                state[FS_V + 2] = 0.0
        # most samples settle nothing: call the resolver only when it has something to decide (an
        # unsettled record, or a queued contact whose window has closed); otherwise it returns at once
        if state[FS_REC_DONE] < state[FS_N_REC] or (
            head < n_contacts and state[FS_T_NAV] > contacts[head, C_T] + after
        ):
            head, n_out = _foot_resolve(contacts, n_contacts, head, records, params, state, out, n_out, False)
    state[FS_N] = float(k0 + n)
    if final:
        head, n_out = _foot_resolve(contacts, n_contacts, head, records, params, state, out, n_out, True)
    return head, n_out


# =============================================================================================
# Lower back: vertical excursion per step, inverted pendulum (walk) and spring-mass (run)
# =============================================================================================

# ---- parameter slots ------------------------------------------------------------------------
TP_FS = 0  # sampling rate, Hz
TP_HAS_GYRO = 1  # 1 when the blocks carry a gyroscope
TP_TILT_GAIN = 2  # complementary filter: fraction of the tilt error removed per sample, 1
TP_MAX_STEP_S = 3  # longest step that gets a length, s
TP_MIN_STEP_S = 4  # shortest step that gets a length, s
TP_LEG_M = 5  # pendulum length (sensor height), m
TP_K_WALK = 6  # walking scale, 1
TP_K_RUN = 7  # running scale, 1
TP_GAP_S = 8  # a gap in time longer than this restarts the estimator, s
TP_MAX_STRIDE_S = 9  # longest stride time that gives a speed, s
N_TRUNK_PARAMS = 10

# ---- state slots ----------------------------------------------------------------------------
TS_N = 0  # samples received
TS_INIT = 1  # orientation / gravity filter initialised
TS_Q = 2  # attitude quaternion (4 slots), gyro mode
TS_GZ1 = 6  # gravity low-pass biquad z1 (3 slots), accelerometer-only mode
TS_GZ2 = 9  # ... z2 (3 slots)
TS_LAST_T = 12  # time of the previous sample, s
TS_T_NOW = 13  # time of the newest sample, s
TS_PREV_C = 14  # previous contact time, s
TS_PREV2_C = 15  # contact before that, s
TS_PREV_STEP = 16  # step length ending at the previous contact, m (NaN unknown)
TS_GOOD_A = 17  # last good accelerometer sample (3 slots)
TS_GOOD_W = 20  # last good gyroscope sample (3 slots)
TS_REPAIRED = 23  # samples repaired
TS_N_GAPS = 24  # gaps seen
TS_SEG_T0 = 25  # time of the first sample of the current segment, s
TS_PSI = 26  # heading: integral of the yaw rate about the vertical since the segment began, rad
TS_PREV_PSI = 27  # heading at the previous contact, rad
TS_PREV2_PSI = 28  # heading at the contact before that, rad
N_TRUNK_STATE = 29

# ---- ring columns ---------------------------------------------------------------------------
TR_T = 0
TR_AV = 1  # vertical specific force (gravity included: removed with the per-step mean), m/s²
TR_PSI = 2  # heading, rad (0 without a gyroscope)
N_TRUNK_RING = 3


@kernel
def _vertical_excursion(ring, n_ring, c0, c1):
    """Peak-to-peak vertical displacement of the sensor between two contacts.

    The vertical acceleration over ``[c0, c1]`` is made zero-mean (the step starts and ends at
    the same vertical velocity), integrated twice with the trapezoidal rule, and its linear
    trend removed (it starts and ends at the same height, up to a slope); the excursion is the
    range of what is left.

    Parameters
    ----------
    ring : numpy.ndarray
        Ring of samples (columns ``TR_*``).
    n_ring : int
        Samples written so far (the newest is at ``(n_ring - 1) % len(ring)``).
    c0, c1 : float
        Contact times bounding the step, s.

    Returns
    -------
    float
        Excursion, m; NaN when the ring does not cover the step.
    """
    m = ring.shape[0]
    first = n_ring - m
    if first < 0:
        first = 0
    # first sample at or after c0, last at or before c1 (r0, r1: their ring rows). The ring row of
    # sample q is q % m; the loops step it and wrap instead of dividing per sample.
    i0 = -1
    i1 = -1
    r0 = 0
    r1 = 0
    r = (n_ring - 1) % m
    for _q in range(n_ring - 1, first - 1, -1):
        tq = ring[r, TR_T]
        if i1 < 0 and tq <= c1:
            i1 = _q
            r1 = r
        if tq >= c0:
            i0 = _q
            r0 = r
        else:
            break
        r -= 1
        if r < 0:
            r = m - 1
    if i0 < 0 or i1 < 0 or i1 - i0 < 4 or ring[first % m, TR_T] > c0:
        return np.nan
    t0 = ring[r0, TR_T]
    span = ring[r1, TR_T] - t0
    mean = 0.0
    rp = r0  # row of the sample before
    for _q in range(i0 + 1, i1 + 1):
        r = rp + 1
        if r == m:
            r = 0
        dt = ring[r, TR_T] - ring[rp, TR_T]
        mean += 0.5 * (ring[r, TR_AV] + ring[rp, TR_AV]) * dt
        rp = r
    mean /= span
    # double integration of the zero-mean acceleration; p at the end gives the trend
    v = 0.0
    p = 0.0
    rp = r0
    for _q in range(i0 + 1, i1 + 1):
        r = rp + 1
        if r == m:
            r = 0
        dt = ring[r, TR_T] - ring[rp, TR_T]
        v1 = v + 0.5 * (ring[r, TR_AV] + ring[rp, TR_AV] - 2.0 * mean) * dt
        p += 0.5 * (v + v1) * dt
        v = v1
        rp = r
    slope = p / span
    v = 0.0
    p = 0.0
    lo = 0.0
    hi = 0.0
    rp = r0
    for _q in range(i0 + 1, i1 + 1):
        r = rp + 1
        if r == m:
            r = 0
        dt = ring[r, TR_T] - ring[rp, TR_T]
        v1 = v + 0.5 * (ring[r, TR_AV] + ring[rp, TR_AV] - 2.0 * mean) * dt
        p += 0.5 * (v + v1) * dt
        v = v1
        d = p - slope * (ring[r, TR_T] - t0)
        if d < lo:
            lo = d
        if d > hi:
            hi = d
        rp = r
    return hi - lo


@kernel
def _trunk_step_length(h, run, params):
    """Step length (m) from the vertical excursion ``h`` (m) of the sensor over the step.

    The chord of an inverted pendulum of length ``l`` that rises by ``h``, ``2·sqrt(2 l h - h²)``
    (Zijlstra & Hof 2003), scaled by ``K_walk`` or ``K_run`` (see ``docs/stride.md``).
    """
    leg = params[TP_LEG_M]
    hh = h
    if hh > leg:
        hh = leg
    chord = 2.0 * np.sqrt(2.0 * leg * hh - hh * hh)
    if run:
        return params[TP_K_RUN] * chord
    return params[TP_K_WALK] * chord


@kernel
def _heading_at(ring, n_ring, c):
    """Heading (rad) of the last ring sample at or before ``c``; NaN when the ring has none."""
    m = ring.shape[0]
    first = n_ring - m
    if first < 0:
        first = 0
    r = (n_ring - 1) % m  # ring row of the newest sample, stepped down
    for _q in range(n_ring - 1, first - 1, -1):
        if ring[r, TR_T] <= c:
            return ring[r, TR_PSI]
        r -= 1
        if r < 0:
            r = m - 1
    return np.nan


@kernel
def _turn_half_angle(psi_now, psi_prev2, prev_step):
    """Heading change per step over the stride that ends now, rad, in ``[0, π]``.

    Half the heading change over the last two steps: the pelvis swings its heading back and forth
    with each step, and that oscillation cancels over a stride.  Zero when the previous step has
    no length (first step of a bout: its heading change would include turning on the spot).
    """
    if prev_step != prev_step or psi_now != psi_now or psi_prev2 != psi_prev2:
        return 0.0
    d = 0.5 * abs(psi_now - psi_prev2)
    if d > np.pi:
        d = np.pi
    return d


@kernel
def _first_time_at_or_after(ring, n_ring, c):
    """Time of the first ring sample at or after ``c`` (``c`` itself when there is none yet)."""
    m = ring.shape[0]
    first = n_ring - m
    if first < 0:
        first = 0
    best = c
    r = (n_ring - 1) % m  # ring row of the newest sample, stepped down
    for _q in range(n_ring - 1, first - 1, -1):
        tq = ring[r, TR_T]
        if tq < c:
            break
        best = tq
        r -= 1
        if r < 0:
            r = m - 1
    return best


@kernel
def _trunk_resolve(contacts, n_contacts, head, ring, params, state, out, n_out, final):
    """Answer queued contacts, oldest first, once the samples up to each contact are in.

    Returns
    -------
    tuple of int
        New queue head and number of output rows.
    """
    n_ring = int(state[TS_N])
    while head < n_contacts:
        c = contacts[head, C_T]
        if not final and state[TS_T_NOW] < c:
            break
        prev = state[TS_PREV_C]
        step_s = c - prev
        run = contacts[head, C_RUN]
        step = np.nan
        if (
            params[TP_MIN_STEP_S] <= step_s <= params[TP_MAX_STEP_S]
            and prev >= state[TS_SEG_T0]
            and state[TS_T_NOW] >= c
        ):
            h = _vertical_excursion(ring, n_ring, prev, c)
            if h == h:
                # the gait is the step detector's (unknown, -1, only where both factors are equal:
                # the wrapper refuses contacts without it otherwise)
                step = _trunk_step_length(h, run == 1.0, params)
        # turning: the pendulum gives the path of the step; on an arc its chord is shorter, and
        # the stride is the resultant of two step chords that differ in heading by the turn per step
        psi = _heading_at(ring, n_ring, c)
        turn = _turn_half_angle(psi, state[TS_PREV2_PSI], state[TS_PREV_STEP])
        if turn > 0.0:
            step *= np.sin(0.5 * turn) / (0.5 * turn)
        stride = (step + state[TS_PREV_STEP]) * np.cos(0.5 * turn)
        stride_s = c - state[TS_PREV2_C]
        out[n_out, O_T] = c
        out[n_out, O_STEP] = step
        out[n_out, O_STRIDE] = stride
        out[n_out, O_DZ] = np.nan
        out[n_out, O_SPEED] = stride / stride_s if stride_s <= params[TP_MAX_STRIDE_S] else np.nan
        out[n_out, O_READY] = _first_time_at_or_after(ring, n_ring, c)
        out[n_out, O_RUN] = run if run >= 0.0 else np.nan
        out[n_out, O_HAS_CONTACT] = 1.0
        n_out += 1
        head += 1
        state[TS_PREV2_C] = prev
        state[TS_PREV_C] = c
        state[TS_PREV_STEP] = step
        state[TS_PREV2_PSI] = state[TS_PREV_PSI]
        state[TS_PREV_PSI] = psi
    return head, n_out


@kernel
def _trunk_block(t, acc, gyro, has_gyro, contacts, params, coef, state, ring, out, final):
    """Run the lower-back stride estimator over one block of samples.

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
    contacts : numpy.ndarray
        Queued contacts, shape ``(k, 2)`` (columns ``C_*``), in time order.
    params : numpy.ndarray
        Parameter vector (slots ``TP_*``).
    coef : numpy.ndarray
        Gravity low-pass biquad ``[b0, b1, b2, a1, a2]`` (accelerometer-only mode).
    state : numpy.ndarray
        Estimator state (slots ``TS_*``), updated in place.
    ring : numpy.ndarray
        Sample ring, shape ``(m, 2)`` (columns ``TR_*``).
    out : numpy.ndarray
        Output rows (columns ``O_*``); room for ``k`` rows.
    final : bool
        True when no more samples will come.

    Returns
    -------
    tuple of int
        Number of queued contacts answered (from the head), and of rows written to ``out``.
    """
    n = t.shape[0]
    m = ring.shape[0]
    n_contacts = contacts.shape[0]
    head = 0
    n_out = 0
    head, n_out = _trunk_resolve(contacts, n_contacts, head, ring, params, state, out, n_out, False)
    # the sample count and its ring row live in locals through the block (the row steps and wraps:
    # no integer division per sample); state[TS_N] is kept current for _trunk_resolve
    k = int(state[TS_N]) - 1
    slot = k % m
    # the gravity low-pass's delays (accelerometer-only mode) live in locals through the block too:
    # they are the loop's dependency chain, which a store to and a load from the state lengthens
    c0 = coef[0]
    c1 = coef[1]
    c2 = coef[2]
    c3 = coef[3]
    c4 = coef[4]
    zx1 = state[TS_GZ1]
    zy1 = state[TS_GZ1 + 1]
    zz1 = state[TS_GZ1 + 2]
    zx2 = state[TS_GZ2]
    zy2 = state[TS_GZ2 + 1]
    zz2 = state[TS_GZ2 + 2]
    for i in range(n):
        k += 1
        slot += 1
        if slot == m:
            slot = 0
        ti = t[i]
        ax = acc[i, 0]
        ay = acc[i, 1]
        az = acc[i, 2]
        if not (ax == ax and ay == ay and az == az) or abs(ax) + abs(ay) + abs(az) == 0.0:
            state[TS_REPAIRED] += 1.0
            ax = state[TS_GOOD_A]
            ay = state[TS_GOOD_A + 1]
            az = state[TS_GOOD_A + 2]
        else:
            state[TS_GOOD_A] = ax
            state[TS_GOOD_A + 1] = ay
            state[TS_GOOD_A + 2] = az
        gx = 0.0
        gy = 0.0
        gz = 0.0
        if has_gyro:
            gx = gyro[i, 0]
            gy = gyro[i, 1]
            gz = gyro[i, 2]
            if not (gx == gx and gy == gy and gz == gz):
                gx = state[TS_GOOD_W]
                gy = state[TS_GOOD_W + 1]
                gz = state[TS_GOOD_W + 2]
            else:
                state[TS_GOOD_W] = gx
                state[TS_GOOD_W + 1] = gy
                state[TS_GOOD_W + 2] = gz
        if state[TS_INIT] == 1.0 and ti - state[TS_LAST_T] > params[TP_GAP_S]:
            state[TS_INIT] = 0.0
            state[TS_N_GAPS] += 1.0
        if state[TS_INIT] == 0.0:
            state[TS_SEG_T0] = ti
            state[TS_PSI] = 0.0
            _q_from_gravity(state, TS_Q, ax, ay, az)
            zx1 = ax * (1.0 - c0)
            zx2 = ax * (c2 - c4)
            zy1 = ay * (1.0 - c0)
            zy2 = ay * (c2 - c4)
            zz1 = az * (1.0 - c0)
            zz2 = az * (c2 - c4)
            state[TS_INIT] = 1.0
            dt = 0.0
        else:
            dt = ti - state[TS_LAST_T]
        state[TS_LAST_T] = ti
        state[TS_T_NOW] = ti
        if has_gyro:
            # complementary filter: gyro-propagated attitude, pulled towards the accelerometer
            _integrate_gyro(state, TS_Q, gx, gy, gz, dt)
            _tilt_correct(state, TS_Q, ax, ay, az, params[TP_TILT_GAIN])
            _, _, av = _rotate(state, TS_Q, ax, ay, az)
            _, _, yaw_rate = _rotate(state, TS_Q, gx, gy, gz)  # about the vertical, rad/s
            state[TS_PSI] += yaw_rate * dt
        else:
            # gravity = low-passed accelerometer; vertical = projection on it
            # (transposed direct-form-II biquads, one per axis)
            gxx = c0 * ax + zx1
            zx1 = c1 * ax - c3 * gxx + zx2
            zx2 = c2 * ax - c4 * gxx
            gyy = c0 * ay + zy1
            zy1 = c1 * ay - c3 * gyy + zy2
            zy2 = c2 * ay - c4 * gyy
            gzz = c0 * az + zz1
            zz1 = c1 * az - c3 * gzz + zz2
            zz2 = c2 * az - c4 * gzz
            grav = np.sqrt(gxx * gxx + gyy * gyy + gzz * gzz)
            if grav < 1e-9:
                grav = 1e-9
            av = (ax * gxx + ay * gyy + az * gzz) / grav
        ring[slot, TR_T] = ti
        ring[slot, TR_AV] = av  # specific force along the vertical: gravity goes with the per-step mean
        ring[slot, TR_PSI] = state[TS_PSI]
        state[TS_N] = k + 1.0
        if head < n_contacts and not state[TS_T_NOW] < contacts[head, C_T]:  # else it would return at once
            head, n_out = _trunk_resolve(contacts, n_contacts, head, ring, params, state, out, n_out, False)
    state[TS_GZ1] = zx1
    state[TS_GZ1 + 1] = zy1
    state[TS_GZ1 + 2] = zz1
    state[TS_GZ2] = zx2
    state[TS_GZ2 + 1] = zy2
    state[TS_GZ2 + 2] = zz2
    if final:
        head, n_out = _trunk_resolve(contacts, n_contacts, head, ring, params, state, out, n_out, True)
    return head, n_out
