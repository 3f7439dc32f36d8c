"""Numba kernels of the streaming terrain classifier.

One kernel, :func:`_terrain_block`, consumes samples one at a time and the contacts of the
step detector as they arrive.  Every sample is low-passed and kept in a short ring
(``ring``); when the stream has passed a contact, the samples of the stride that just ended
(previous contact, exclusive, to this contact, inclusive) are read back from the ring, turned
into per-stride features, averaged with the previous valid strides (``hist``), standardised
and classified.  All memory lives in arrays owned by the caller (``state``, ``ring``,
``hist``), and a contact only ever reads samples up to its own time, so feeding a recording
in one block or in blocks of any size runs the same arithmetic in the same order.

The kernels are private and pure: no globals but the integer slot numbers below
(compile-time constants), no dicts, no I/O, no exceptions.  The typed wrapper is
``dsp.terrain``; the slow reference the tests compare against is ``tests/naive_terrain.py``.

Per-stride features (``F_*``; all rotation-invariant, so the sensor may be mounted any way):

* ``stride_s``: contact-to-contact time, s;
* ``swing_rad``: peak-to-peak of the rotation angle about the stride's dominant rotation axis
  (the shank's pitch axis, dominant eigenvector of the gyro second moment), rad;
* ``still_fraction``: share of the stride with ``|ω|`` below a threshold (stance), 1;
* ``mean_acc_mps2``: magnitude of the stride-mean acceleration, m/s² (9.81 for a sensor that
  does not rotate; smaller the more the shank's tilt sweeps during the stride);
* ``load_peak_mps2``: largest ``|a|`` in the loading window after the previous contact, m/s²;
* ``acc_rms_freq_hz``: rms frequency of the acceleration, ``sqrt(E|da/dt|² / E|a - ā|²) / 2π``:
  roughness (high-frequency content) normalised by the stride's own energy, Hz;
* ``lateral_rms_mps2``: standard deviation of the acceleration along the pitch axis
  (medio-lateral for a shank), m/s²;
* ``jerk_peak_mps3``: largest ``|da/dt|`` of the stride, m/s³;
* ``gyro_rms_rads``: rms of ``|ω|``, rad/s;
* ``contact_angle_deg``: angle between the acceleration at contact and the stride-mean
  acceleration (the shank's tilt at contact relative to its average), degrees;
* ``offaxis_rms_rads``: rms of the rotation rate about the axes perpendicular to the pitch axis
  (the shank's roll and yaw: ``sqrt(E|ω|² - E(ω·e)²)``), rad/s;
* ``offaxis_fraction``: ``offaxis_rms_rads / gyro_rms_rads``, 1;
* ``terminal_swing_rad``: rotation about the pitch axis from the stride's peak pitch rate (the
  peak of the swing; the axis is signed so that this peak is the largest absolute rate) to the
  contact: how far the shank still swings forward while it slows down before the foot lands, rad.

Runner baseline: the classifier does not look at these features as they are, but relative to
the runner's own recent walking.  A per-feature exponential mean (``state[S_BASE:]``) starts at
the model's population prior, weighted as ``P_BASE_PRIOR_N`` strides, and then follows the
valid strides with a weight ``max(1 / (prior_n + k), 1 / P_BASE_TAU)`` for the ``k``-th update.
A stride updates it only when the classifier does not call it stairs (``p_stairs_up +
p_stairs_down < P_BASE_GATE``, or no decision yet), so the baseline tracks level walking.  The
model's input is the window mean of the features minus the baseline as it was before this
stride.  Everything is per contact, in order, so chunking still cannot change a result.

Decision layer (``P_DECISION``): a hysteresis on ``p_technical`` with a minimum dwell (0), a
causal forward-filtered two-state HMM (1, :func:`_hmm_step`): the probability that the terrain is
technical is carried from one decision to the next through a switch probability, then updated
with the decision's log-odds; the state is the more probable of the two; or the same filter over
the model's four classes (2, :func:`_class_hmm_step`), with a transition matrix learnt from the
training labels (each class keeps its own typical bout length) and the class probabilities read
as likelihoods; the state is technical when the three technical classes together are the more
probable.
"""

from __future__ import annotations

import numpy as np

from dsp._config import kernel

# ---- feature columns -----------------------------------------------------------------------
F_STRIDE_S = 0
F_SWING_RAD = 1
F_STILL_FRACTION = 2
F_MEAN_ACC = 3
F_LOAD_PEAK = 4
F_ACC_RMS_FREQ = 5
F_LATERAL_RMS = 6
F_JERK_PEAK = 7
F_GYRO_RMS = 8
F_CONTACT_ANGLE = 9
F_OFFAXIS_RMS = 10
F_OFFAXIS_FRACTION = 11
F_TERMINAL_SWING = 12
N_FEATURES = 13

# ---- parameter slots (params vector, built by dsp.terrain.TerrainClassifier) --------------
P_FS = 0
P_HAS_MODEL = 1  # 1: the model applies to this placement/sensor; 0: features only, p = NaN
P_ENTER_P = 2
P_EXIT_P = 3
P_DWELL_STEPS = 4
P_DWELL_S = 5
P_MIN_STRIDE_S = 6
P_MAX_STRIDE_S = 7
P_GAP_S = 8
P_N_LOAD = 9  # samples in the loading window after a contact
P_N_CONTACT = 10  # samples that give the acceleration at contact
P_STILL_RADS = 11
P_WINDOW = 12  # strides averaged before classifying
P_MIN_SAMPLES = 13  # fewest samples a stride may have
P_BASELINE = 14  # 1: the model reads features relative to the runner baseline; 0: as they are
P_BASE_PRIOR_N = 15  # weight of the baseline's prior, in strides
P_BASE_TAU = 16  # time constant of the baseline, strides
P_BASE_GATE = 17  # strides with p_stairs at or above this do not update the baseline
P_DECISION = 18  # 0: hysteresis with a minimum dwell; 1: two-state HMM; 2: HMM over the classes
P_SWITCH_P = 19  # HMM: probability that the terrain changes from one decided stride to the next
P_EVIDENCE = 20  # both HMMs: weight of each decision's log-likelihoods (1: taken as calibrated)
P_TRANS = 21  # class HMM: transition matrix between the classes, row-major (N_CLASSES² slots)
P_CLASS_PRIOR = 37  # class HMM: class shares the model was fitted with (N_CLASSES slots)
N_PARAMS = 41

# ---- state slots ---------------------------------------------------------------------------
S_N = 0  # samples seen
S_INIT = 1  # filters initialised
S_FZ1 = 2  # low-pass z1, 6 channels (acc xyz, gyro xyz)
S_FZ2 = 8  # low-pass z2, 6 channels
S_LAST_T = 14  # time of the previous sample, s
S_PREV_C = 15  # time of the previous contact, s (-1e9: none)
S_N_HIST = 16  # valid strides in hist
S_HIST_POS = 17  # next slot of hist
S_TERRAIN = 18  # 0 smooth, 1 technical
S_DWELL_N = 19  # contacts since the last change of state
S_DWELL_T = 20  # time of the last change of state (or of the first contact), s
S_N_CONTACTS = 21  # contacts processed
S_LATE = 22  # contacts whose stride was no longer in the ring
S_REPAIRED = 23  # samples repaired
S_GOOD = 24  # last good sample (6 slots)
S_AXIS = 30  # last pitch axis (3 slots)
S_N_GAPS = 33  # gaps in time
S_LAST_C = 34  # time of the last contact received (for ordering), s
S_BASE_N = 35  # strides taken into the baseline
S_BASE = 36  # runner baseline of each feature (N_FEATURES slots)
S_POST = S_BASE + N_FEATURES  # HMM: filtered probability that the terrain is technical
S_CPOST = S_POST + 1  # class HMM: filtered probability of each class (N_CLASSES slots)
N_STATE = S_CPOST + 4  # 4 = N_CLASSES (defined with the output columns below)

# ---- output columns ------------------------------------------------------------------------
O_T = 0  # contact time, s
O_P = 1  # p_technical (NaN when no decision)
O_TERRAIN = 2  # 0 / 1 after hysteresis and dwell
O_VALID = 3  # 1 when this stride's features are valid
O_PCLASS = 4  # class probabilities (N_CLASSES columns)
N_CLASSES = 4
O_FEAT = O_PCLASS + N_CLASSES  # per-stride features (N_FEATURES columns)
O_WFEAT = O_FEAT + N_FEATURES  # window-mean features (N_FEATURES columns)
O_BASE = O_WFEAT + N_FEATURES  # runner baseline before this stride (N_FEATURES columns)
N_OUT = O_BASE + N_FEATURES

# ring columns
R_T = 0
R_A = 1  # 3 columns
R_G = 4  # 3 columns
N_RING = 7


@kernel
def _biquad(x, coef, z, i1, i2):
    """One sample of a transposed direct-form-II biquad (delays at ``z[i1]``, ``z[i2]``).

    Parameters
    ----------
    x : float
        Input sample.
    coef : numpy.ndarray
        ``[b0, b1, b2, a1, a2]``.
    z : numpy.ndarray
        State vector holding the delays.
    i1, i2 : int
        Slots of the delays in ``z``.

    Returns
    -------
    float
        Output sample.
    """
    y = coef[0] * x + z[i1]
    z[i1] = coef[1] * x - coef[3] * y + z[i2]
    z[i2] = coef[2] * x - coef[4] * y
    return y


@kernel
def _dominant_axis(c, start):
    """Find the unit dominant eigenvector of a symmetric 3×3 matrix by power iteration.

    Parameters
    ----------
    c : numpy.ndarray
        ``[xx, xy, xz, yy, yz, zz]`` of the matrix.
    start : numpy.ndarray
        Starting vector (3,), e.g. the previous stride's axis; overwritten with the result.

    Returns
    -------
    bool
        False when the matrix is (numerically) zero; ``start`` is then left unchanged.
    """
    ex = start[0]
    ey = start[1]
    ez = start[2]
    n0 = np.sqrt(ex * ex + ey * ey + ez * ez)
    if not n0 > 1e-12:
        ex = 0.5773502691896258
        ey = 0.5773502691896258
        ez = 0.5773502691896258
    for _ in range(60):
        vx = c[0] * ex + c[1] * ey + c[2] * ez
        vy = c[1] * ex + c[3] * ey + c[4] * ez
        vz = c[2] * ex + c[4] * ey + c[5] * ez
        vn = np.sqrt(vx * vx + vy * vy + vz * vz)
        if not vn > 1e-12:
            return False
        ex = vx / vn
        ey = vy / vn
        ez = vz / vn
    # a fixed sign (largest component positive) so the axis does not flip between strides
    big = ex
    if abs(ey) > abs(big):
        big = ey
    if abs(ez) > abs(big):
        big = ez
    if big < 0.0:
        ex = -ex
        ey = -ey
        ez = -ez
    start[0] = ex
    start[1] = ey
    start[2] = ez
    return True


@kernel
def _stride_features(ring, lo, hi, dur, params, axis, feat):
    """Features of the stride whose samples are ring rows ``lo..hi`` (absolute indices).

    Parameters
    ----------
    ring : numpy.ndarray
        Sample ring, shape ``(m, 7)``: time, filtered acceleration (m/s²), filtered gyro (rad/s).
    lo, hi : int
        First and last absolute sample index of the stride (``hi - lo + 1`` samples).
    dur : float
        Contact-to-contact time, s.
    params : numpy.ndarray
        Parameter vector (slots ``P_*``).
    axis : numpy.ndarray
        Pitch axis of the previous stride (3,), the power iteration's start; updated.
    feat : numpy.ndarray
        Output, ``(N_FEATURES,)``.
    """
    m = ring.shape[0]
    fs = params[P_FS]
    n = hi - lo + 1
    sax = 0.0
    say = 0.0
    saz = 0.0
    c = np.zeros(6)
    sw2 = 0.0
    n_still = 0
    still2 = params[P_STILL_RADS] * params[P_STILL_RADS]
    for q in range(lo, hi + 1):
        r = q % m
        ax = ring[r, R_A]
        ay = ring[r, R_A + 1]
        az = ring[r, R_A + 2]
        gx = ring[r, R_G]
        gy = ring[r, R_G + 1]
        gz = ring[r, R_G + 2]
        sax += ax
        say += ay
        saz += az
        c[0] += gx * gx
        c[1] += gx * gy
        c[2] += gx * gz
        c[3] += gy * gy
        c[4] += gy * gz
        c[5] += gz * gz
        w2 = gx * gx + gy * gy + gz * gz
        sw2 += w2
        if w2 < still2:
            n_still += 1
    mx = sax / n
    my = say / n
    mz = saz / n
    mn = np.sqrt(mx * mx + my * my + mz * mz)
    for j in range(6):
        c[j] /= n
    _dominant_axis(c, axis)
    ex = axis[0]
    ey = axis[1]
    ez = axis[2]
    # second pass: deviations, rotation angle, lateral acceleration, derivatives
    var_a = 0.0
    d2 = 0.0
    jerk = 0.0
    ang = 0.0
    ang_min = 0.0
    ang_max = 0.0
    s_lat = 0.0
    s_lat2 = 0.0
    load = 0.0
    n_load = int(params[P_N_LOAD])
    w_max = -1e300  # largest and smallest pitch rate, and the angle where each first occurs
    w_min = 1e300
    ang_at_max = 0.0
    ang_at_min = 0.0
    px = 0.0
    py = 0.0
    pz = 0.0
    for q in range(lo, hi + 1):
        r = q % m
        ax = ring[r, R_A]
        ay = ring[r, R_A + 1]
        az = ring[r, R_A + 2]
        dx = ax - mx
        dy = ay - my
        dz = az - mz
        var_a += dx * dx + dy * dy + dz * dz
        if q > lo:
            jx = (ax - px) * fs
            jy = (ay - py) * fs
            jz = (az - pz) * fs
            j2 = jx * jx + jy * jy + jz * jz
            d2 += j2
            jn = np.sqrt(j2)
            if jn > jerk:
                jerk = jn
        px = ax
        py = ay
        pz = az
        if q - lo < n_load:
            an = np.sqrt(ax * ax + ay * ay + az * az)
            if an > load:
                load = an
        wp = ring[r, R_G] * ex + ring[r, R_G + 1] * ey + ring[r, R_G + 2] * ez
        ang += wp / fs
        if wp > w_max:
            w_max = wp
            ang_at_max = ang
        if wp < w_min:
            w_min = wp
            ang_at_min = ang
        if ang < ang_min:
            ang_min = ang
        if ang > ang_max:
            ang_max = ang
        lat = ax * ex + ay * ey + az * ez
        s_lat += lat
        s_lat2 += lat * lat
    var_a /= n
    d2 /= n - 1
    lat_mean = s_lat / n
    lat_var = s_lat2 / n - lat_mean * lat_mean
    if lat_var < 0.0:
        lat_var = 0.0
    # acceleration at contact: mean of the last samples of the stride
    n_c = int(params[P_N_CONTACT])
    if n_c > n:
        n_c = n
    cx = 0.0
    cy = 0.0
    cz = 0.0
    for q in range(hi - n_c + 1, hi + 1):
        r = q % m
        cx += ring[r, R_A]
        cy += ring[r, R_A + 1]
        cz += ring[r, R_A + 2]
    cn = np.sqrt(cx * cx + cy * cy + cz * cz)
    cosang = 1.0
    if cn > 1e-12 and mn > 1e-12:
        cosang = (cx * mx + cy * my + cz * mz) / (cn * mn)
    cosang = min(1.0, max(-1.0, cosang))
    feat[F_STRIDE_S] = dur
    feat[F_SWING_RAD] = ang_max - ang_min
    feat[F_STILL_FRACTION] = n_still / n
    feat[F_MEAN_ACC] = mn
    feat[F_LOAD_PEAK] = load
    feat[F_ACC_RMS_FREQ] = np.sqrt(d2 / var_a) / (2.0 * np.pi) if var_a > 1e-12 else 0.0
    feat[F_LATERAL_RMS] = np.sqrt(lat_var)
    feat[F_JERK_PEAK] = jerk
    feat[F_GYRO_RMS] = np.sqrt(sw2 / n)
    feat[F_CONTACT_ANGLE] = np.degrees(np.arccos(cosang))
    # rotation about the axes perpendicular to the pitch axis (roll and yaw of the shank)
    w2_pitch = (
        c[0] * ex * ex
        + c[3] * ey * ey
        + c[5] * ez * ez
        + 2.0 * (c[1] * ex * ey + c[2] * ex * ez + c[4] * ey * ez)
    )
    off2 = sw2 / n - w2_pitch
    if off2 < 0.0:
        off2 = 0.0
    feat[F_OFFAXIS_RMS] = np.sqrt(off2)
    feat[F_OFFAXIS_FRACTION] = np.sqrt(off2 / (sw2 / n)) if sw2 > 1e-12 else 0.0
    # the swing peak is the pitch rate of largest magnitude; its sign sets the axis direction
    if abs(w_max) >= abs(w_min):
        feat[F_TERMINAL_SWING] = ang - ang_at_max
    else:
        feat[F_TERMINAL_SWING] = ang_at_min - ang


@kernel
def _classify(wfeat, mu, scale, weights, bias, pclass):
    """Multinomial logistic regression: class probabilities of one window of features.

    Parameters
    ----------
    wfeat : numpy.ndarray
        Window-mean features, ``(N_FEATURES,)``.
    mu, scale : numpy.ndarray
        Feature standardisation, ``(N_FEATURES,)``.
    weights : numpy.ndarray
        ``(N_CLASSES, N_FEATURES)``.
    bias : numpy.ndarray
        ``(N_CLASSES,)``.
    pclass : numpy.ndarray
        Output probabilities, ``(N_CLASSES,)`` (class 0 is smooth ground).
    """
    k = weights.shape[0]
    zmax = -1e300
    for c in range(k):
        z = bias[c]
        for j in range(weights.shape[1]):
            z += weights[c, j] * (wfeat[j] - mu[j]) / scale[j]
        pclass[c] = z
        if z > zmax:
            zmax = z
    tot = 0.0
    for c in range(k):
        pclass[c] = np.exp(pclass[c] - zmax)
        tot += pclass[c]
    for c in range(k):
        pclass[c] /= tot


@kernel
def _hmm_step(post, p, switch_p, evidence):
    """One forward step of the two-state (smooth, technical) HMM over the per-stride decisions.

    Parameters
    ----------
    post : float
        Probability that the terrain was technical after the previous decision, 0–1.
    p : float
        ``p_technical`` of this decision, 0–1 (clipped to ``[1e-9, 1 - 1e-9]``).  The model is
        fitted with balanced class weights, so it is read as a likelihood ratio against even odds.
    switch_p : float
        Probability that the terrain changes between two decisions, in ``(0, 0.5)``.
    evidence : float
        Weight of the decision's log-odds, > 0.

    Returns
    -------
    float
        The new probability that the terrain is technical.
    """
    pc = min(max(p, 1e-9), 1.0 - 1e-9)
    prior = (1.0 - switch_p) * post + switch_p * (1.0 - post)
    z = np.log(prior / (1.0 - prior)) + evidence * np.log(pc / (1.0 - pc))
    return 1.0 / (1.0 + np.exp(-z))


@kernel
def _class_hmm_step(post, pclass, trans, prior, evidence):
    """One forward step of the HMM over the model's classes (smooth, grass, stairs up, stairs down).

    Parameters
    ----------
    post : numpy.ndarray
        Probability of each class after the previous decision, ``(N_CLASSES,)``; updated in place.
    pclass : numpy.ndarray
        Class probabilities of this decision, ``(N_CLASSES,)`` (each clipped to at least 1e-9).
        The model is fitted with class weights ``prior``, so ``pclass / prior`` is read as the
        likelihood of the window under each class (up to a common factor).
    trans : numpy.ndarray
        Transition matrix, row-major ``(N_CLASSES * N_CLASSES,)``: ``trans[i * k + j]`` is the
        probability that class ``i`` is followed by class ``j`` at the next decision (rows sum to 1).
    prior : numpy.ndarray
        Class shares the model was fitted with, ``(N_CLASSES,)``, > 0.
    evidence : float
        Weight of each decision's log-likelihoods, > 0 (1: ``pclass`` taken as calibrated).

    Returns
    -------
    float
        The new probability that the terrain is technical (any class but smooth).
    """
    k = post.shape[0]
    lp = np.empty(k)
    zmax = -np.inf
    for j in range(k):
        pred = 0.0
        for i in range(k):
            pred += post[i] * trans[i * k + j]
        pj = max(pclass[j], 1e-9)
        lp[j] = np.log(pred) + evidence * np.log(pj / prior[j])
        if lp[j] > zmax:
            zmax = lp[j]
    tot = 0.0
    for j in range(k):
        lp[j] = np.exp(lp[j] - zmax)
        tot += lp[j]
    for j in range(k):
        post[j] = lp[j] / tot
    return 1.0 - post[0]


@kernel
def _on_contact(tc, params, model_mu, model_scale, model_w, model_b, state, ring, hist, out, n_out):
    """Process one contact: stride features, window, baseline, classifier, hysteresis; write one row.

    Returns
    -------
    int
        The new number of rows in ``out``.
    """
    m = ring.shape[0]
    k = int(state[S_N])  # samples pushed so far; the newest is k - 1
    row = out[n_out]
    for j in range(N_OUT):
        row[j] = np.nan
    row[O_T] = tc
    row[O_VALID] = 0.0
    prev = state[S_PREV_C]
    state[S_PREV_C] = tc
    state[S_N_CONTACTS] += 1.0
    if state[S_N_CONTACTS] == 1.0:
        state[S_DWELL_T] = tc
    state[S_DWELL_N] += 1.0
    valid = False
    dur = tc - prev
    if prev > -1e8 and params[P_MIN_STRIDE_S] <= dur <= params[P_MAX_STRIDE_S]:
        # find the newest sample at or before tc and the oldest after prev
        oldest = k - m
        if oldest < 0:
            oldest = 0
        hi = k - 1
        while hi >= oldest and ring[hi % m, R_T] > tc:
            hi -= 1
        lo = hi
        while lo - 1 >= oldest and ring[(lo - 1) % m, R_T] > prev:
            lo -= 1
        # the stride is complete in the ring when the sample before it is still there (or the
        # stream began inside it)
        covered = (lo - 1 >= oldest and ring[(lo - 1) % m, R_T] <= prev) or (lo == 0 and k > 0)
        if hi < oldest or not covered:
            state[S_LATE] += 1.0
        elif hi - lo + 1 >= params[P_MIN_SAMPLES]:
            feat = row[O_FEAT : O_FEAT + N_FEATURES]
            _stride_features(ring, lo, hi, dur, params, state[S_AXIS : S_AXIS + 3], feat)
            valid = True
    if not valid and (prev <= -1e8 or dur > params[P_MAX_STRIDE_S]):
        state[S_N_HIST] = 0.0  # a pause (or the start) begins a new bout
    for j in range(N_FEATURES):
        row[O_BASE + j] = state[S_BASE + j]
    if valid:
        row[O_VALID] = 1.0
        w = int(params[P_WINDOW])
        pos = int(state[S_HIST_POS])
        for j in range(N_FEATURES):
            hist[pos, j] = row[O_FEAT + j]
        state[S_HIST_POS] = (pos + 1) % w
        state[S_N_HIST] = min(state[S_N_HIST] + 1.0, float(w))
        if int(state[S_N_HIST]) == w:
            for j in range(N_FEATURES):
                s = 0.0
                for q in range(w):
                    s += hist[q, j]
                row[O_WFEAT + j] = s / w
            if params[P_HAS_MODEL] == 1.0:
                x = np.empty(N_FEATURES)
                for j in range(N_FEATURES):
                    x[j] = row[O_WFEAT + j]
                    if params[P_BASELINE] == 1.0:
                        x[j] -= state[S_BASE + j]
                _classify(x, model_mu, model_scale, model_w, model_b, row[O_PCLASS : O_PCLASS + N_CLASSES])
                row[O_P] = 1.0 - row[O_PCLASS]
        # the runner baseline learns from every valid stride that is not called stairs
        p_stairs = row[O_PCLASS + 2] + row[O_PCLASS + 3]
        if not (p_stairs >= params[P_BASE_GATE]):
            state[S_BASE_N] += 1.0
            a = max(1.0 / (params[P_BASE_PRIOR_N] + state[S_BASE_N]), 1.0 / params[P_BASE_TAU])
            for j in range(N_FEATURES):
                state[S_BASE + j] += a * (row[O_FEAT + j] - state[S_BASE + j])
    p = row[O_P]
    if params[P_DECISION] == 2.0:
        # forward-filtered HMM over the four classes, with the model's learnt transitions: grass
        # lasts for tens of strides, a flight of stairs for a few; the state is technical when
        # the three technical classes together are the more probable
        if p == p:
            state[S_POST] = _class_hmm_step(
                state[S_CPOST : S_CPOST + N_CLASSES],
                row[O_PCLASS : O_PCLASS + N_CLASSES],
                params[P_TRANS : P_TRANS + N_CLASSES * N_CLASSES],
                params[P_CLASS_PRIOR : P_CLASS_PRIOR + N_CLASSES],
                params[P_EVIDENCE],
            )
            state[S_TERRAIN] = 1.0 if state[S_POST] >= 0.5 else 0.0
        row[O_TERRAIN] = state[S_TERRAIN]
        return n_out + 1
    if params[P_DECISION] == 1.0:
        # forward-filtered two-state HMM: predict with the switch probability, then weigh in
        # this decision's log-odds; the state is the more probable terrain
        if p == p:
            state[S_POST] = _hmm_step(state[S_POST], p, params[P_SWITCH_P], params[P_EVIDENCE])
            state[S_TERRAIN] = 1.0 if state[S_POST] >= 0.5 else 0.0
        row[O_TERRAIN] = state[S_TERRAIN]
        return n_out + 1
    # hysteresis with a minimum dwell (in contacts and in seconds)
    terr = state[S_TERRAIN]
    if p == p and state[S_DWELL_N] >= params[P_DWELL_STEPS] and tc - state[S_DWELL_T] >= params[P_DWELL_S]:
        if terr == 0.0 and p >= params[P_ENTER_P]:
            terr = 1.0
        elif terr == 1.0 and p <= params[P_EXIT_P]:
            terr = 0.0
        if terr != state[S_TERRAIN]:
            state[S_TERRAIN] = terr
            state[S_DWELL_N] = 0.0
            state[S_DWELL_T] = tc
    row[O_TERRAIN] = state[S_TERRAIN]
    return n_out + 1


@kernel
def _terrain_block(
    t, acc, gyro, contacts, params, coef, model_mu, model_scale, model_w, model_b, state, ring, hist, out
):
    """Run the terrain classifier over one block of samples and the contacts decided in it.

    Parameters
    ----------
    t : numpy.ndarray
        Sample times, shape ``(n,)``, s, increasing.
    acc : numpy.ndarray
        Accelerometer, shape ``(n, 3)``, m/s², gravity included, any orientation.
    gyro : numpy.ndarray
        Gyroscope, shape ``(n, 3)``, rad/s.
    contacts : numpy.ndarray
        Contact times, shape ``(c,)``, s, increasing, none later than ``t[-1]``.
    params : numpy.ndarray
        Parameter vector (slots ``P_*``).
    coef : numpy.ndarray
        Biquad coefficients of the feature low-pass, ``(5,)``.
    model_mu, model_scale, model_w, model_b : numpy.ndarray
        The classifier (see :func:`_classify`).
    state : numpy.ndarray
        Classifier state (slots ``S_*``), updated in place.
    ring : numpy.ndarray
        Sample ring, ``(m, 7)``.
    hist : numpy.ndarray
        Features of the last valid strides, ``(window, N_FEATURES)``.
    out : numpy.ndarray
        Output rows (columns ``O_*``), at least ``c`` of them.

    Returns
    -------
    int
        Number of rows written to ``out``.
    """
    n = t.shape[0]
    nc = contacts.shape[0]
    m = ring.shape[0]
    j = 0
    n_out = 0
    for i in range(n):
        ti = t[i]
        # every contact before this sample sees exactly the samples up to its own time
        while j < nc and contacts[j] < ti:
            n_out = _on_contact(
                contacts[j], params, model_mu, model_scale, model_w, model_b, state, ring, hist, out, n_out
            )
            j += 1
        ok = True
        for q in range(3):
            if not (np.isfinite(acc[i, q]) and np.isfinite(gyro[i, q])):
                ok = False
        if ok and abs(acc[i, 0]) + abs(acc[i, 1]) + abs(acc[i, 2]) == 0.0:
            ok = False
        if ok:
            for q in range(3):
                state[S_GOOD + q] = acc[i, q]
                state[S_GOOD + 3 + q] = gyro[i, q]
        else:
            state[S_REPAIRED] += 1.0
        # a gap in time restarts the filters and forgets the stride in progress
        if state[S_INIT] == 1.0 and ti - state[S_LAST_T] > params[P_GAP_S]:
            state[S_INIT] = 0.0
            state[S_PREV_C] = -1e9
            state[S_N_HIST] = 0.0
            state[S_N_GAPS] += 1.0
        state[S_LAST_T] = ti
        if state[S_INIT] == 0.0:
            for q in range(6):
                x = state[S_GOOD + q]
                state[S_FZ1 + q] = x * (1.0 - coef[0])
                state[S_FZ2 + q] = x * (coef[2] - coef[4])
            state[S_INIT] = 1.0
        k = int(state[S_N])
        r = k % m
        ring[r, R_T] = ti
        for q in range(6):
            ring[r, R_A + q] = _biquad(state[S_GOOD + q], coef, state, S_FZ1 + q, S_FZ2 + q)
        state[S_N] = k + 1.0
    while j < nc:
        n_out = _on_contact(
            contacts[j], params, model_mu, model_scale, model_w, model_b, state, ring, hist, out, n_out
        )
        j += 1
    return n_out
