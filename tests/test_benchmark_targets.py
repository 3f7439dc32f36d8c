"""The speed block's targets table: which measurement each target reads, and when it is met (no timings)."""

from benchmarks.__main__ import targets


def test_targets_say_met_or_not():
    res = {
        "throughput": {"core": [{"placement": "foot", "step_core_samples_per_s": 30e6}], "replay": []},
        "memory": {"peak_rss_mb": 150.0, "import_only_peak_rss_mb": 99.0},
        "cue_latency": {"latency": {"p99_ms": 40.0}, "measured": 10},
    }
    rows = {r["target"].split(",")[0]: r["met"] for r in targets(res)}
    assert rows["step detection core"] is True
    assert rows["peak RSS of the live loop"] is False
    assert rows["cue latency p99"] is True


def test_peers_target_compares_like_for_like():
    """mobgap's contact detectors against our step detector, gaitmap's strides against our pipeline."""
    rows = [
        {
            "method": "mg-Ion/whole",
            "placement": "lower_back",
            "speed_ratio": 3.0,
            "speed_ratio_steps_only": 120.0,
            "peer_f1": 0.90,
            "ours_f1": 0.96,
        },
        {
            "method": "gaitmap",
            "placement": "foot",
            "speed_ratio": 130.0,
            "speed_ratio_steps_only": 700.0,
            "peer_f1": 0.88,
            "ours_f1": 0.97,
        },
    ]
    (row,) = [t for t in targets({"peers": {"rows": rows}}) if t["target"].startswith("speed vs")]
    assert row["met"] is True
    assert row["measured"] == "120"
    rows[1]["speed_ratio"] = 90.0  # our whole foot pipeline now too slow
    (row,) = [t for t in targets({"peers": {"rows": rows}}) if t["target"].startswith("speed vs")]
    assert row["met"] is False
    assert row["measured"] == "90"
    rows[1]["speed_ratio"] = 130.0
    rows[0]["ours_f1"] = 0.85  # fast but less accurate than the peer
    (row,) = [t for t in targets({"peers": {"rows": rows}}) if t["target"].startswith("speed vs")]
    assert row["met"] is False
