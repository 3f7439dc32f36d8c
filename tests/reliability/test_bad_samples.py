"""Bad samples fed to the step core: NaN and inf, saturated axes, all-zero vectors, a frozen sensor,
timestamps that jump forward or back, a dropped gyroscope.

For each, 3 s of a clean recording (a shoe-worn run with gyro, a waist-worn jog) are damaged at
mid-recording. The core must flag the damage (count the samples it repaired, or count a gap for a
time jump) and find the clean recording's contacts outside the damaged stretch (3 s allowed to
settle after it; within 20 ms; at least 90 % of them, few extra).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.reliability import campaigns as C

CASES = [
    (kind, where)
    for where in ("foot", "lower back")
    for kind in C.BAD_KINDS
    if not (kind == "dropped gyro (NaN)" and where == "lower back")
]


def _param(kind, where):
    return pytest.param(kind, where, id=f"{where}-{kind}")


def _outcome(recordings, kind, where, frac=0.5):
    rec, placement, clean = recordings[where]
    case = C.bad_case(rec, kind, frac)
    if kind not in ("time jumps forward", "time jumps back"):
        assert case.n_damaged > 2.5 * rec.sampling_rate_hz
    return case, C.evaluate_bad_case(rec, placement, case, clean)


@pytest.mark.parametrize(("kind", "where"), [_param(k, w) for k, w in CASES])
def test_steps_outside_the_damaged_stretch_are_kept(recordings, kind, where):
    _case, out = _outcome(recordings, kind, where)
    assert out.expected > 20
    assert C.detection_ok(out), f"recall {out.recall:.2f}, {out.extra} extra of {out.expected}"


@pytest.mark.parametrize(("kind", "where"), [_param(k, w) for k, w in CASES])
def test_the_damage_is_flagged(recordings, kind, where):
    case, out = _outcome(recordings, kind, where)
    assert C.expected_flagged(case, out.flags), out.flags


def test_the_damage_is_really_there(recordings):
    """The damaged copies differ from the clean recordings where (and only where) they should."""
    rec, _placement, _clean = recordings["foot"]
    sat = C.bad_case(rec, "saturated axes", 0.5)
    assert (np.abs(sat.acc[sat.i0 : sat.i1]) >= C.ACC_RANGE_MPS2 - 1e-9).any()
    assert C.clipped_in_damage(sat) > 0
    assert np.array_equal(sat.acc[: sat.i0], rec.acc_mps2[: sat.i0])
    frozen = C.bad_case(rec, "frozen sensor", 0.5)
    assert (frozen.acc[frozen.i0 : frozen.i1] == rec.acc_mps2[frozen.i0]).all()
    back = C.bad_case(rec, "time jumps back", 0.5)
    assert back.t[back.i0] < back.t[back.i0 - 1]
    assert (np.diff(back.t[back.i0 :]) > 0).all()


def test_nan_and_zero_samples_are_counted_exactly(recordings):
    for kind in ("NaN acc", "all-zero acc"):
        case, out = _outcome(recordings, kind, "lower back")
        assert out.flags.repaired_samples == case.n_damaged


def test_the_bad_samples_campaign_counts_every_kind():
    rows = C.bad_samples_campaign((0.5,))
    assert [r.fault for r in rows] == [f"bad samples: {k}" for k in C.BAD_KINDS]
    assert sum(r.trials for r in rows) == len(CASES)
    assert all(r.crashes == 0 for r in rows)
