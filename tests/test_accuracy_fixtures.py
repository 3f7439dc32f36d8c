"""Accuracy on the bundled real recordings, through the same replay path users run.

The thresholds are what the detector measured on these fixtures when they were set, minus a
margin; the README table (``python -m benchmarks.accuracy``) has the full numbers.
"""

from __future__ import annotations

import pytest

from benchmarks.scoring import score_folder
from firmware_py.replay import replay_tree
from tests.conftest import FIXTURES

# group -> (min F1, max median |cadence error| from the cadence_spm field, spm)
THRESHOLDS = {
    "gaitmap_example / foot / walk": (0.95, 3.0),
    "gdind_footprints / foot / walk": (0.93, 3.0),
    "gdind_footprints / foot / walk_fast": (0.93, 5.0),
    "pyshoe_vicon / foot / run": (0.95, 3.0),
    "pyshoe_vicon / foot / walk": (0.93, 3.0),
    "harlab_treadmill_jog / lower_back / run": (0.95, 2.0),
    # short indoor walks: the causal cadence still carries the first, uneven steps of each bout
    "mobgap_example / lower_back / walk": (0.75, 9.0),
}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("pred")
    done = replay_tree([FIXTURES], out, jobs=1, progress=False)
    assert len(done) == len(list(FIXTURES.glob("*/*.csv")))
    return score_folder(FIXTURES, out)


def test_every_group_meets_its_threshold(report):
    rows = {g.label: g.stats for g in report.groups}
    assert set(rows) == set(THRESHOLDS)
    for label, (min_f1, max_cad) in THRESHOLDS.items():
        st = rows[label]
        f1 = 2 * st.tp / (2 * st.tp + st.fp + st.fn)
        assert f1 >= min_f1, f"{label}: F1 {f1:.3f} < {min_f1}"
        assert st.cadence_field_abs_err_median_spm <= max_cad, label


def test_foot_contacts_are_within_the_tolerance_of_initial_contact(report):
    """Initial-contact datasets: the median timing offset stays well inside ±100 ms."""
    rows = {g.label: g.stats for g in report.groups}
    for label in ("gaitmap_example / foot / walk", "pyshoe_vicon / foot / run", "pyshoe_vicon / foot / walk"):
        assert abs(rows[label].dt_median_ms) <= 60.0, label
