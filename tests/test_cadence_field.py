"""The per-step cadence field (``cadence_spm``): whole strides at the trunk, few strides at the foot.

Synthetic walks with known contact times, from standing; expected cadences worked out by hand
from those times (not from the code under test), and the kernel checked against the naive
reference on the same signals.
"""

from __future__ import annotations

import numpy as np
import pytest

from dsp import StepSettings, ValidationError, detect_steps
from dsp.steps import cadence_of_contacts
from tests.naive import naive_detect_steps

G = 9.80665


def _trunk_walk(contacts, fs, seconds, rng):
    """Vertical trunk acceleration of walking steps at the given contact times.

    Each step: a heel-strike transient at the contact and a loading peak 0.12 s later (the
    walking model of ``tests/test_steps.py``), sensor z vertical, standing before the first,
    which the push-off of gait initiation precedes by 0.45 s (a hump without a contact).
    """
    t = np.arange(int(seconds * fs)) / fs
    av = np.zeros_like(t)
    x = t - (contacts[0] - 0.45)
    inside = (x >= 0) & (x < 0.2)
    av[inside] += 3.0 * np.sin(np.pi * x[inside] / 0.2)
    for c in contacts:
        x = t - c
        av += 12.0 * np.exp(-0.5 * (x / 0.012) ** 2) * (x > -0.03)
        av += 6.0 * np.exp(-0.5 * ((x - 0.12) / 0.06) ** 2)
    av -= av[t > contacts[0] - 0.5].mean() * (t > contacts[0] - 0.5)
    acc = np.zeros((t.size, 3))
    acc[:, 2] = G + av + rng.normal(0, 0.05, t.size)
    return t, acc


def _foot_walk(rests_s, fs, rng):
    """A foot sensor walking strides with the given rests (push-off, swing, foot-flat, rest).

    Lobes as in ``tests/test_steps.py``: push-off 0.15 s, swing 0.4 s (the contact is its end),
    foot-flat 0.15 s, then the rest; a stride lasts 0.7 s plus its rest.  Starts with 1 s standing.
    Returns t, acc, gyro and the contact times.
    """

    def lobe(n, peak):
        x = (np.arange(n) + 0.5) / n
        return peak * np.sin(np.pi * x) ** (1.0 / 3.0)

    n_o, n_sw = round(0.15 * fs), round(0.4 * fs)
    parts = [np.zeros(int(fs))]
    contacts = []
    pos = parts[0].size
    for rest in rests_s:
        stride = [lobe(n_o, 4.0), lobe(n_sw, -6.0), lobe(n_o, 4.0), np.zeros(round(rest * fs))]
        contacts.append((pos + n_o + n_sw) / fs)
        parts += stride
        pos += sum(p.size for p in stride)
    parts.append(np.zeros(int(2.0 * fs)))
    p = np.concatenate(parts)
    t = np.arange(p.size) / fs
    gyro = np.zeros((p.size, 3))
    gyro[:, 0] = p
    gyro += rng.normal(0, 0.02, gyro.shape)
    acc = np.zeros((p.size, 3))
    acc[:, 2] = G
    for c in contacts:
        acc[:, 2] += 25.0 * np.exp(-0.5 * ((t - c - 0.015) / 0.01) ** 2)
    acc += rng.normal(0, 0.1, acc.shape)
    return t, acc, gyro, np.array(contacts)


def test_trunk_cadence_counts_whole_strides_when_left_and_right_steps_differ(rng):
    """Left steps of 0.45 s, right steps of 0.65 s: 120 / 1.1 = 109.1 steps/min from the third contact.

    With an odd number of steps the mean leans to the side counted twice: at the fourth contact
    of the bout three steps (0.45, 0.65, 0.45) would read 116.1, the two most recent read 109.1.
    """
    fs = 200.0
    d = np.tile([0.45, 0.65], 12)
    contacts = 2.0 + np.concatenate([[0.0], np.cumsum(d)])
    t, acc = _trunk_walk(contacts, fs, contacts[-1] + 2.0, rng)
    steps = detect_steps(t, acc, sampling_rate_hz=fs, placement="lower_back")
    assert steps.n_steps == contacts.size
    np.testing.assert_allclose(steps.t_s, contacts, atol=0.05)
    assert np.isnan(steps.cadence_spm[0])  # the bout's first contact has no interval
    # its second has one step, the second of a stride: 60 / 0.45
    assert steps.cadence_spm[1] == pytest.approx(60.0 / 0.45, abs=2.0)
    np.testing.assert_allclose(steps.cadence_spm[2:], 120.0 / 1.1, atol=1.0)
    slow = naive_detect_steps(t, acc, None, sampling_rate_hz=fs, placement="lower_back")
    np.testing.assert_allclose(steps.cadence_spm, [s[2] for s in slow], rtol=0, atol=1e-9, equal_nan=True)


@pytest.mark.parametrize("fs", [100.0, 200.0])
def test_foot_cadence_follows_a_quicker_pace_within_three_strides(fs, rng):
    """Strides of 1.15 s (104.3 steps/min), then of 0.85 s (141.2 steps/min).

    At the contact that ends the third quick stride the three most recent strides are all quick:
    141.2. Over four strides (one slow: 1.15, 0.85, 0.85, 0.85, all within the band around
    their median) it would read 120 / 0.925 = 129.7.
    """
    rests = [0.45] * 8 + [0.15] * 8
    t, acc, gyro, contacts = _foot_walk(rests, fs, rng)
    steps = detect_steps(t, acc, gyro, sampling_rate_hz=fs, placement="foot")
    assert steps.n_steps == contacts.size
    np.testing.assert_allclose(steps.t_s, contacts, atol=0.03 + 1.0 / fs)
    cad = steps.cadence_spm
    assert np.isnan(cad[0])
    tol = 60.0 / fs * 2.0  # contacts on whole samples: a stride is off by up to 1/fs
    np.testing.assert_allclose(cad[3:9], 120.0 / 1.15, atol=tol)  # three (or more) slow strides known
    # a stride ends with the next one's swing: contact 9 ends the first quick stride, 11 the third
    np.testing.assert_allclose(cad[11:], 120.0 / 0.85, atol=tol)
    assert cad[11] - cad[10] > 5.0  # contact 10 still has a slow stride among its three
    lagging = detect_steps(
        t, acc, gyro, sampling_rate_hz=fs, placement="foot", settings=StepSettings(cadence_strides=4)
    )
    assert lagging.cadence_spm[11] == pytest.approx(120.0 / 0.925, abs=tol)
    slow = naive_detect_steps(t, acc, gyro, sampling_rate_hz=fs, placement="foot")
    np.testing.assert_allclose(cad, [s[2] for s in slow], rtol=0, atol=1e-9, equal_nan=True)
    slow4 = naive_detect_steps(
        t, acc, gyro, sampling_rate_hz=fs, placement="foot", settings=StepSettings(cadence_strides=4)
    )
    np.testing.assert_allclose(lagging.cadence_spm, [s[2] for s in slow4], rtol=0, atol=1e-9, equal_nan=True)


def test_the_detector_period_does_not_depend_on_the_cadence_field(rng):
    """``cadence_strides`` changes the field only: the same contacts for 1 to 8 strides."""
    t, acc, gyro, _ = _foot_walk([0.45] * 6 + [0.2] * 6 + [0.6] * 6, 100.0, rng)
    ref = detect_steps(t, acc, gyro, sampling_rate_hz=100.0, placement="foot")
    for n in (1, 2, 5, 8):
        got = detect_steps(
            t, acc, gyro, sampling_rate_hz=100.0, placement="foot", settings=StepSettings(cadence_strides=n)
        )
        np.testing.assert_array_equal(got.t_s, ref.t_s)
        np.testing.assert_array_equal(got.emitted_at_s, ref.emitted_at_s)


@pytest.mark.parametrize("n", [0, 9])
def test_cadence_strides_outside_the_ring_is_refused(n):
    with pytest.raises(ValidationError, match="cadence_strides"):
        detect_steps(
            np.arange(10) / 100.0,
            np.tile([0.0, 0.0, G], (10, 1)),
            np.zeros((10, 3)),
            sampling_rate_hz=100.0,
            placement="foot",
            settings=StepSettings(cadence_strides=n),
        )


def test_cadence_of_given_contacts_is_worked_out_from_their_intervals(rng):
    """Trunk: 0.45/0.65 s steps give NaN, 60/0.45, then 120/1.1; a pause starts a new bout."""
    d = [0.45, 0.65] * 3
    t = np.concatenate([[0.0], np.cumsum(d)])
    t = np.concatenate([t, t[-1] + 3.0 + np.array([0.0, 0.5, 1.0])])  # 3 s pause, then 0.5 s steps
    cad = cadence_of_contacts(t, placement="lower_back")
    assert np.isnan(cad[0])
    assert np.isnan(cad[7])  # the first contact after the pause
    assert cad[1] == pytest.approx(60.0 / 0.45)
    np.testing.assert_allclose(cad[2:7], 120.0 / 1.1)
    np.testing.assert_allclose(cad[8:], 120.0)
    # foot: strides of one foot, cadence counts both feet: the three most recent strides
    foot = cadence_of_contacts(np.cumsum([0.0, 1.2, 1.2, 1.2, 1.0, 1.0, 1.0]), placement="foot")
    np.testing.assert_allclose(foot[1:], [100.0, 100.0, 100.0, 120.0 / 1.1333333333333333, 112.5, 120.0])
    # a foot or shank sensor without a gyroscope reports its own foot too (limb and shank modes)
    for placement in ("foot", "shank"):
        np.testing.assert_array_equal(
            cadence_of_contacts(
                np.cumsum([0.0, 1.2, 1.2, 1.2, 1.0, 1.0, 1.0]), placement=placement, has_gyro=False
            ),
            foot,
        )
    # the same values the streaming detector gives its own contacts
    contacts = 2.0 + np.concatenate([[0.0], np.cumsum(np.tile([0.45, 0.65], 10))])
    tt, acc = _trunk_walk(contacts, 200.0, contacts[-1] + 2.0, rng)
    steps = detect_steps(tt, acc, sampling_rate_hz=200.0, placement="lower_back")
    np.testing.assert_array_equal(cadence_of_contacts(steps.t_s, placement="lower_back"), steps.cadence_spm)
    with pytest.raises(ValidationError, match="increasing"):
        cadence_of_contacts(np.array([1.0, 1.0]), placement="foot")
