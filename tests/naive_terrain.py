"""Slow, obvious reference of the terrain classifier that the numba kernel is checked against.

Written for clarity: the whole sample history in Python lists, numpy on each stride's slice,
``numpy.linalg.eigh`` for the pitch axis.  Only the specification is shared with the fast code
(``dsp/_terrain_model.py`` constants and :class:`dsp.terrain.TerrainSettings`); none of its
functions are called.
"""

from __future__ import annotations

import math

import numpy as np

from dsp import _terrain_model as M
from dsp.terrain import TerrainModel, TerrainSettings
from tests.naive import Biquad, lowpass_coefficients


def naive_stride_features(t, a, w, dur, fs, n_load, n_contact, still_rads):
    """Features of one stride from its samples (filtered acceleration ``a``, rotation rate ``w``)."""
    g = a.mean(axis=0)
    g_norm = float(np.linalg.norm(g))
    w_norm = np.linalg.norm(w, axis=1)
    _, vecs = np.linalg.eigh(w.T @ w / len(w))
    axis = vecs[:, -1]
    pitch_angle = np.cumsum(w @ axis) / fs
    swing = max(0.0, float(pitch_angle.max())) - min(0.0, float(pitch_angle.min()))
    da = np.diff(a, axis=0) * fs
    var_a = float(((a - g) ** 2).sum(axis=1).mean())
    ms_freq = float((da**2).sum(axis=1).mean()) / var_a if var_a > 1e-12 else 0.0
    lateral = a @ axis
    w_ms = float((w_norm**2).mean())
    w_offaxis = w - np.outer(w @ axis, axis)  # rotation rate with the pitch component removed
    off_ms = float((w_offaxis**2).sum(axis=1).mean())
    a_contact = a[-min(n_contact, len(a)) :].mean(axis=0)
    # terminal swing: pitch angle from the largest-magnitude pitch rate (the swing peak) to contact
    pitch_rate = w @ axis
    if abs(pitch_rate.max()) >= abs(pitch_rate.min()):
        terminal = float(pitch_angle[-1] - pitch_angle[int(np.argmax(pitch_rate))])
    else:
        terminal = float(pitch_angle[int(np.argmin(pitch_rate))] - pitch_angle[-1])
    cos_angle = float(a_contact @ g) / (np.linalg.norm(a_contact) * g_norm)
    return np.array(
        [
            dur,
            swing,
            float((w_norm < still_rads).mean()),
            g_norm,
            float(np.linalg.norm(a[:n_load], axis=1).max()),
            math.sqrt(ms_freq) / (2.0 * math.pi),
            float(lateral.std()),
            float(np.linalg.norm(da, axis=1).max()),
            float(np.sqrt((w_norm**2).mean())),
            math.degrees(math.acos(min(1.0, max(-1.0, cos_angle)))),
            math.sqrt(off_ms),
            math.sqrt(off_ms / w_ms) if w_ms > 1e-12 else 0.0,
            terminal,
        ]
    )


def naive_softmax(x, model: TerrainModel):
    """Class probabilities of the model input ``x``."""
    z = (x - np.array(model.feature_mean)) / np.array(model.feature_scale)
    logits = np.array(model.weights) @ z + np.array(model.bias)
    e = np.exp(logits - logits.max())
    return e / e.sum()


def naive_class_hmm_matrices(model: TerrainModel, switch_p: float):
    """Transition matrix and class prior of the class HMM (the defaults when the model has none)."""
    if model.transition is not None:
        trans = np.array(model.transition, dtype=float)
    else:  # from smooth to each technical class alike, from a technical class back to smooth
        trans = np.array(
            [
                [1 - switch_p, switch_p / 3, switch_p / 3, switch_p / 3],
                [switch_p, 1 - switch_p, 0.0, 0.0],
                [switch_p, 0.0, 1 - switch_p, 0.0],
                [switch_p, 0.0, 0.0, 1 - switch_p],
            ]
        )
    prior = np.array(model.class_prior if model.class_prior is not None else (0.5, 1 / 6, 1 / 6, 1 / 6))
    return trans, prior


def naive_classify_terrain(t, acc, gyro, contacts, *, sampling_rate_hz, placement, settings=None, model=None):
    """Reference terrain classifier for a whole recording.

    Returns
    -------
    list of dict
        One dict per contact: ``t``, ``p``, ``terrain``, ``valid``, ``features``, ``window``,
        ``baseline``, ``p_class``.
    """
    s = settings or TerrainSettings()
    model = model or TerrainModel.shipped()
    window = M.WINDOW_STRIDES if model.window_strides is None else model.window_strides
    fs = float(sampling_rate_hz)
    applies = (placement in M.PLACEMENTS or s.allow_untested_placement) and gyro is not None
    if gyro is None:
        gyro = np.zeros_like(acc)
    n_load = max(1, round(M.LOAD_WINDOW_S * fs))
    n_contact = max(1, round(M.CONTACT_WINDOW_S * fs))
    min_samples = max(4, round(0.5 * s.min_stride_s * fs))
    coef = lowpass_coefficients(M.FEATURE_CUTOFF_HZ, fs)
    filters = [Biquad(coef) for _ in range(6)]
    hist_t, hist_x = [], []  # every sample: time, and the six filtered channels
    last_good = np.zeros(6)
    last_t = None
    prev_contact = None
    bout = []  # valid stride features since the bout began
    state, n_since, t_since = 0, 0, None
    post_technical = 0.0  # HMM decision layer: probability that the terrain is technical
    post_class = np.array([1.0, 0.0, 0.0, 0.0])  # class HMM: probability of each class
    trans, class_prior = naive_class_hmm_matrices(model, s.switch_p)
    nf = len(M.FEATURE_NAMES)
    # runner baseline: starts at the prior and follows the strides not called stairs
    baseline = np.zeros(nf) if model.baseline_prior is None else np.array(model.baseline_prior, dtype=float)
    n_baseline = 0
    out = []

    def on_contact(tc):
        nonlocal prev_contact, bout, state, n_since, t_since, baseline, n_baseline, post_technical, post_class
        prev = prev_contact
        prev_contact = tc
        if t_since is None:
            t_since = tc
        n_since += 1
        row = {"t": tc, "p": math.nan, "valid": False, "features": np.full(nf, np.nan)}
        row["window"] = np.full(nf, np.nan)
        row["baseline"] = baseline.copy()
        row["p_class"] = np.full(4, np.nan)
        times = np.array(hist_t)
        if prev is not None and s.min_stride_s <= tc - prev <= s.max_stride_s:
            sel = (times > prev) & (times <= tc)
            if sel.sum() >= min_samples:
                x = np.array(hist_x)[sel]
                row["features"] = naive_stride_features(
                    times[sel], x[:, :3], x[:, 3:], tc - prev, fs, n_load, n_contact, M.STILL_RADS
                )
                row["valid"] = True
        if not row["valid"]:
            if prev is None or tc - prev > s.max_stride_s:
                bout = []
        else:
            bout.append(row["features"])
            if len(bout) >= window:
                row["window"] = np.mean(bout[-window:], axis=0)
                if applies:
                    x = row["window"] if model.baseline_prior is None else row["window"] - baseline
                    row["p_class"] = naive_softmax(x, model)
                    row["p"] = 1.0 - row["p_class"][0]
            called_stairs = row["p_class"][2] + row["p_class"][3] >= M.BASELINE_GATE_P  # False when NaN
            if not called_stairs:
                n_baseline += 1
                weight = max(1.0 / (M.BASELINE_PRIOR_STRIDES + n_baseline), 1.0 / M.BASELINE_STRIDES)
                baseline = baseline + weight * (row["features"] - baseline)
        p = row["p"]
        if s.decision == "class_hmm":
            if not math.isnan(p):
                # class probabilities after the last decision -> through the transitions -> Bayes
                # with this window's likelihoods p_class / class_prior (to the power e)
                likelihood = (np.maximum(row["p_class"], 1e-9) / class_prior) ** s.evidence_weight
                post_class = (post_class @ trans) * likelihood
                post_class = post_class / post_class.sum()
                state = 1 if 1 - post_class[0] >= 0.5 else 0
        elif s.decision == "hmm":
            if not math.isnan(p):
                # P(technical) after the last decision -> prior for this stride -> Bayes with this p
                prior = post_technical * (1 - s.switch_p) + (1 - post_technical) * s.switch_p
                p_clipped = min(max(p, 1e-9), 1 - 1e-9)
                log_odds = math.log(prior / (1 - prior)) + s.evidence_weight * math.log(
                    p_clipped / (1 - p_clipped)
                )
                post_technical = 1 / (1 + math.exp(-log_odds))
                state = 1 if post_technical >= 0.5 else 0
        elif not math.isnan(p) and n_since >= s.min_dwell_steps and tc - t_since >= s.min_dwell_s:
            new = state
            if state == 0 and p >= s.enter_p:
                new = 1
            elif state == 1 and p <= s.exit_p:
                new = 0
            if new != state:
                state, n_since, t_since = new, 0, tc
        row["terrain"] = state
        out.append(row)

    contacts = list(contacts)
    j = 0
    for i in range(len(t)):
        while j < len(contacts) and contacts[j] < t[i]:
            on_contact(contacts[j])
            j += 1
        sample = np.concatenate([acc[i], gyro[i]])
        if np.all(np.isfinite(sample)) and np.any(acc[i] != 0.0):
            last_good = sample
        gap = last_t is not None and t[i] - last_t > s.gap_s
        if last_t is None or gap:
            for q in range(6):
                filters[q].settle(last_good[q])
        if gap:
            prev_contact = None
            bout = []
        last_t = t[i]
        hist_t.append(t[i])
        hist_x.append([filters[q](last_good[q]) for q in range(6)])
    for tc in contacts[j:]:
        on_contact(tc)
    return out
