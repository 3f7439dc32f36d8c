"""Configuration: defaults, layering, profiles, and one-line errors naming file, key, value, allowed."""

from __future__ import annotations

import re
import shutil
from dataclasses import fields
from pathlib import Path

import pytest

from dsp.coach import Baseline, CoachSettings
from firmware_py.config import (
    CHIPS,
    Config,
    ConfigError,
    builtin_config_dir,
    coach_settings,
    config_from_snapshot,
    list_profiles,
    load_config,
    runner_baseline,
    step_settings,
)
from firmware_py.exc import ConfigNotFoundError

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# ---------------------------------------------------------------------------------------- defaults
def test_defaults_load_and_match_the_dataclass_defaults():
    cfg = load_config()
    expected = Config().to_dict()
    got = cfg.to_dict()
    # Resolved at load time: accel range from placement; provenance.
    assert got["device"].pop("accel_range_g") == 8
    expected["device"].pop("accel_range_g")
    for d in (got, expected):
        d.pop("profile_path")
        d.pop("sources")
    assert got == expected
    assert cfg.sources == (
        str(REPO / "config" / "default.toml"),
        str(REPO / "config" / "profiles" / "brief.toml"),
    )


def test_every_key_is_documented_in_default_toml():
    text = (REPO / "config" / "default.toml").read_text(encoding="utf-8")
    cfg = Config()
    sections = {
        "device": cfg.device,
        "recording": cfg.recording,
        "coach": cfg.coach,
        "targets": cfg.targets,
        "targets.smooth": cfg.targets.smooth,
        "targets.technical": cfg.targets.technical,
        "runner": cfg.runner,
        "stride": cfg.stride,
        "pins": cfg.pins,
    }
    blocks = dict(re.findall(r"^\[([\w.]+)\]\n(.*?)(?=^\[|\Z)", text, flags=re.M | re.S))
    for sec, obj in sections.items():
        for f in fields(obj):
            if "spec" not in f.metadata:
                continue
            assert re.search(rf"^(# )?{f.name} = ", blocks[sec], flags=re.M), f"{sec}.{f.name} undocumented"


def test_chip_names_match_the_drivers():
    from firmware_py.imu.detect import IMU_DRIVERS

    assert set(CHIPS) == set(IMU_DRIVERS)


def test_accel_range_follows_placement_unless_set(tmp_path):
    assert load_config(write(tmp_path, '[device]\nplacement = "foot"\n')).device.accel_range_g == 16
    assert load_config(write(tmp_path, '[device]\nplacement = "waist"\n')).device.placement == "lower_back"
    cfg = load_config(write(tmp_path, '[device]\nplacement = "shank"\naccel_range_g = 4\naddress = 0x6B\n'))
    assert (cfg.device.accel_range_g, cfg.device.address) == (4, 0x6B)


@pytest.mark.parametrize(
    ("alias", "placement"), [("shoe", "foot"), ("shin", "shank"), ("belt", "lower_back")]
)
def test_config_accepts_the_placement_names_of_the_command_line(tmp_path, alias, placement):
    # `--placement shoe` worked while `placement = "shoe"` in the config was "not allowed"
    from firmware_py.logs.recording import PLACEMENT_ALIASES

    assert PLACEMENT_ALIASES[alias] == placement
    cfg = load_config(write(tmp_path, f'[device]\nplacement = "{alias}"\n'))
    assert cfg.device.placement == placement


def test_none_disables_an_output(tmp_path):
    cfg = load_config(write(tmp_path, '[pins]\nvibration = "none"\nbuzzer = "None"\nled_kind = "rgb"\n'))
    assert cfg.pins.vibration is None
    assert cfg.pins.buzzer is None
    assert cfg.pins.rgb == (5, 6, 13)


# ---------------------------------------------------------------------------------------- profiles
def test_profiles_load():
    assert list_profiles() == ["brief", "gentle"]
    brief = load_config(profile="brief").targets
    assert (brief.technical.cadence_factor, brief.technical.stride_factor) == (2.0, 0.5)
    assert (brief.smooth.cadence_factor, brief.smooth.stride_factor) == (1.0, 1.0)
    assert brief.cadence_ceiling_spm == 230.0
    assert brief.cadence_floor_spm < brief.cadence_ceiling_spm
    gentle = load_config(profile="gentle")
    for tt in (gentle.targets.smooth, gentle.targets.technical):
        assert 1.05 <= tt.cadence_factor <= 1.10
        assert 0.80 <= tt.stride_factor <= 0.90
    assert gentle.coach.profile == "gentle"
    assert gentle.profile_path.endswith("gentle.toml")
    assert gentle.coach.metronome_beats > 0


def test_runner_example_loads():
    cfg = load_config(REPO / "config" / "runner.example.toml")
    assert cfg.device.placement == "foot"
    assert cfg.pins.vibration is None
    assert runner_baseline(cfg) == Baseline(168.0, 2.3, "runner", 0)
    s = coach_settings(cfg)
    assert isinstance(s, CoachSettings)
    assert s.cadence_ceiling_spm == 220.0  # the user's file wins over the profile
    assert s.hiking_speed_flat_mps == 1.7
    assert s.metronome_beats == 4


def test_layers_user_over_profile_over_defaults_and_overrides_last(tmp_path):
    p = write(
        tmp_path, '[coach]\nprofile = "gentle"\nrepeat_s = 30\n[targets.technical]\ncadence_factor = 1.3\n'
    )
    cfg = load_config(p)
    assert cfg.coach.repeat_s == 30.0  # user file over the gentle profile's 45
    assert cfg.targets.technical.cadence_factor == 1.3  # user file
    assert cfg.targets.technical.stride_factor == 0.8  # gentle profile
    assert cfg.coach.min_off_target_s == 15.0  # gentle profile over the default
    cfg = load_config(p, overrides={"coach.repeat_s": 40, "device.bus": "fake"})
    assert (cfg.coach.repeat_s, cfg.device.bus) == (40.0, "fake")
    assert cfg.sources[-1] == "<overrides>"
    assert load_config(p, profile="brief").targets.technical.stride_factor == 0.5


def test_profile_from_a_folder_beside_the_user_file_or_a_path(tmp_path):
    (tmp_path / "profiles").mkdir()
    write(tmp_path / "profiles", "[targets.technical]\ncadence_factor = 1.5\n", "mine.toml")
    cfg = load_config(write(tmp_path, '[coach]\nprofile = "mine"\n'))
    assert cfg.targets.technical.cadence_factor == 1.5
    cfg = load_config(write(tmp_path, '[coach]\nprofile = "profiles/mine.toml"\n'))
    assert cfg.targets.technical.cadence_factor == 1.5


def test_coach_settings_carry_targets_and_policy():
    cfg = load_config(overrides={"coach.min_off_target_steps": 7, "targets.cadence_tolerance_spm": 3})
    s = coach_settings(cfg)
    assert s.min_off_target_steps == 7
    assert s.cadence_tolerance_spm == 3.0
    assert s.technical.cadence_factor == 2.0
    assert runner_baseline(cfg) is None  # "learn"


def test_the_back_off_of_repeats_reaches_the_coach():
    s = coach_settings(load_config(overrides={"coach.repeat_backoff": 1.5, "coach.max_repeat_s": 120}))
    assert (s.repeat_backoff, s.max_repeat_s) == (1.5, 120.0)
    d = coach_settings(load_config())
    assert (d.repeat_backoff, d.max_repeat_s) == (2.0, 300.0)
    # gentle repeats every 45 s and backs off after its last level as brief does
    g = coach_settings(load_config(profile="gentle"))
    assert (g.repeat_s, g.max_level, g.repeat_backoff, g.max_repeat_s) == (45.0, 2, 2.0, 300.0)


def test_a_log_from_before_the_back_off_replays_as_its_device_cued():
    # a snapshot without coach.repeat_backoff was written when a cue repeated every repeat_s for
    # the whole stretch (and a repeat_s above today's max_repeat_s was allowed)
    old = config_from_snapshot({"coach": {"repeat_s": 600.0, "max_level": 3}}, "old.cclog")
    assert (old.coach.repeat_s, old.coach.repeat_backoff) == (600.0, 1.0)
    assert old.coach.max_repeat_s >= old.coach.repeat_s
    new = config_from_snapshot(Config().to_dict(), "new.cclog")
    assert (new.coach.repeat_backoff, new.coach.max_repeat_s) == (2.0, 300.0)
    mine = config_from_snapshot({"coach": {"repeat_backoff": 1.5, "max_repeat_s": 100.0}}, "new.cclog")
    assert (mine.coach.repeat_backoff, mine.coach.max_repeat_s) == (1.5, 100.0)


def test_the_time_to_settle_reaches_the_coach():
    # back on target needs as long as going off did: settle_s = min_off_target_s, in each profile
    assert coach_settings(load_config()).settle_s == 8.0 == coach_settings(load_config()).min_off_target_s
    gentle = coach_settings(load_config(profile="gentle"))
    assert gentle.settle_s == 15.0 == gentle.min_off_target_s
    assert coach_settings(load_config(overrides={"coach.settle_s": 0})).settle_s == 0.0


def test_a_log_from_before_settle_s_replays_as_its_device_cued():
    # a snapshot without coach.settle_s was written when settle_steps on-target steps alone
    # ended a stretch; one that has it keeps its own
    old = config_from_snapshot({"coach": {"settle_steps": 4, "repeat_backoff": 2.0}}, "old.cclog")
    assert (old.coach.settle_steps, old.coach.settle_s, old.coach.repeat_backoff) == (4, 0.0, 2.0)
    assert config_from_snapshot(Config().to_dict(), "new.cclog").coach.settle_s == 8.0
    assert config_from_snapshot({"coach": {"settle_s": 3.0}}, "new.cclog").coach.settle_s == 3.0


def test_the_run_cue_is_a_one_shot_by_default_and_older_logs_replay_it_repeated():
    # run_cue_repeats = false is today's rule; a snapshot without the key was written when "run"
    # after a hike repeated and escalated, and replays so; one that has it keeps its own
    assert coach_settings(load_config()).run_cue_repeats is False
    assert coach_settings(load_config(overrides={"coach.run_cue_repeats": True})).run_cue_repeats is True
    old = config_from_snapshot({"coach": {"settle_s": 8.0, "repeat_backoff": 2.0}}, "old.cclog")
    assert coach_settings(old).run_cue_repeats is True
    assert (old.coach.settle_s, old.coach.repeat_backoff) == (8.0, 2.0)
    assert config_from_snapshot(Config().to_dict(), "new.cclog").coach.run_cue_repeats is False
    mine = config_from_snapshot({"coach": {"run_cue_repeats": False}}, "new.cclog")
    assert mine.coach.run_cue_repeats is False


def test_builtin_dir_of_an_installed_wheel(tmp_path):
    pkg = tmp_path / "site-packages" / "firmware_py"
    shutil.copytree(REPO / "config", pkg / "data" / "config")
    assert builtin_config_dir(pkg) == pkg / "data" / "config"
    assert builtin_config_dir(REPO / "firmware_py") == REPO / "config"
    with pytest.raises(ConfigNotFoundError, match="built-in default config not found"):
        builtin_config_dir(tmp_path / "empty" / "firmware_py")


# ------------------------------------------------------------------------------------------ errors
ERRORS = [
    # (file text, key, value as shown, problem, allowed)
    (
        '[coach]\nrepeat_s = "20"\n',
        "coach.repeat_s",
        '"20"',
        "wrong type (string)",
        "a number from 1 to 3600 (s)",
    ),
    ("[coach]\nrepeat_s = -3\n", "coach.repeat_s", "-3", "out of range", "a number from 1 to 3600 (s)"),
    (
        "[runner]\nrun_cadence_spm = 200\n",
        "runner.run_cadence_spm",
        "200",
        "out of range",
        "a number from 120 to 180 (steps/min)",
    ),
    ("[coach]\nmax_level = 2.5\n", "coach.max_level", "2.5", "wrong type (float)", "an integer from 1 to 3"),
    ("[coach]\nenabled = 1\n", "coach.enabled", "1", "wrong type (integer)", "true or false"),
    (
        "[coach]\nrepet_s = 20\n",
        "coach.repet_s",
        "20",
        "unknown key (did you mean coach.repeat_s?)",
        "the keys of [coach]: profile,",
    ),
    (
        "[coach]\nbuzzer = 17\n",
        "coach.buzzer",
        "17",
        "unknown key (did you mean pins.buzzer?)",
        "the keys of [coach]",
    ),
    (
        "[coahc]\nrepeat_s = 3\n",
        "coahc",
        "a table {…}",
        "unknown section (did you mean coach?)",
        "the sections device,",
    ),
    (
        'profile = "gentle"\n',
        "profile",
        '"gentle"',
        "a key outside any section (did you mean coach.profile?)",
        "the sections",
    ),
    (
        '[coach]\nprofile = "gentl"\n',
        "coach.profile",
        '"gentl"',
        "no such profile (did you mean gentle?)",
        "brief, gentle",
    ),
    ('[device]\nplacement = "hip"\n', "device.placement", '"hip"', "not allowed", '"lower_back", "waist"'),
    ("[device]\naccel_range_g = 3\n", "device.accel_range_g", "3", "not allowed", '2, 4, 8, 16 or "none"'),
    ('[device]\nbus = "i2c1"\n', "device.bus", '"i2c1"', "not a bus", '"smbus:N"'),
    ("[device]\naddress = 0x80\n", "device.address", "128", "out of range", "0x08 to 0x77"),
    ("[pins]\nbuzzer = 3\n", "pins.buzzer", "3", "not a usable GPIO", "except 2 and 3 (I2C)"),
    ("[pins]\nrgb = [5, 6]\n", "pins.rgb", "[5, 6]", "not three pins", "three BCM GPIO numbers"),
    (
        "[pins]\nled = 17\n",
        "pins.led",
        "17",
        "GPIO17 is already used by pins.buzzer",
        "a GPIO no other output uses",
    ),
    (  # the user's key is blamed, not the default it clashes with (which comes later)
        "[pins]\nbuzzer = 18\n",
        "pins.buzzer",
        "18",
        "GPIO18 is already used by pins.vibration (set in",
        "a GPIO no other output uses",
    ),
    (
        "[targets]\ncadence_floor_spm = 220\ncadence_ceiling_spm = 200\n",
        "targets.cadence_floor_spm",
        "220.0",
        "not below targets.cadence_ceiling_spm = 200",
        "a floor below the ceiling",
    ),
    (
        '[coach]\nbaseline = "runner"\n',
        "coach.baseline",
        '"runner"',
        "needs runner.baseline_cadence_spm",
        '"learn", or set runner.baseline_cadence_spm',
    ),
    (
        "[targets]\ncadence_ceiling_spm = 400\n",
        "targets.cadence_ceiling_spm",
        "400",
        "out of range",
        "150 to 260",
    ),
    (
        "[coach]\nrun_max_grade_pct = 20\n",
        "coach.run_max_grade_pct",
        "20.0",
        "above",
        "≤ coach.hike_min_grade_pct",
    ),
    (
        "[coach]\nrepeat_backoff = 0.5\n",
        "coach.repeat_backoff",
        "0.5",
        "out of range",
        "a number from 1 to 10",
    ),
    (
        '[coach]\nrun_cue_repeats = "no"\n',
        "coach.run_cue_repeats",
        '"no"',
        "wrong type (string)",
        "true or false",
    ),
    (
        "[coach]\nsettle_s = -1\n",
        "coach.settle_s",
        "-1",
        "out of range",
        "a number from 0 to 600 (s)",
    ),
    (
        "[coach]\nmax_repeat_s = 10\n",
        "coach.max_repeat_s",
        "10.0",
        "below coach.repeat_s = 20 (set in",
        "a number ≥ coach.repeat_s",
    ),
    (  # the user's repeat_s is blamed, not the default ceiling of the back-off it meets
        "[coach]\nrepeat_s = 600\n",
        "coach.repeat_s",
        "600.0",
        "above coach.max_repeat_s = 300 (set in",
        "raise coach.max_repeat_s to at least 600",
    ),
]


@pytest.mark.parametrize(("text", "key", "shown", "problem", "allowed"), ERRORS, ids=[e[1] for e in ERRORS])
def test_errors_are_one_line_naming_file_key_value_and_allowed(tmp_path, text, key, shown, problem, allowed):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{p}: {key} = {shown}: {problem}"), msg
    assert "; allowed: " in msg
    assert allowed in msg.split("; allowed: ", 1)[1], msg
    assert info.value.file == str(p)
    assert info.value.key == key


def test_error_in_a_profile_names_the_profile(tmp_path):
    (tmp_path / "profiles").mkdir()
    bad = write(tmp_path / "profiles", '[device]\nbus = "fake"\n', "bad.toml")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, '[coach]\nprofile = "bad"\n'))
    assert str(info.value).startswith(
        f"{bad}: device = a table {{…}}: not allowed in a profile; allowed: profile"
    )
    worse = write(tmp_path / "profiles", '[coach]\nprofile = "brief"\n', "worse.toml")
    with pytest.raises(ConfigError, match=re.escape(f'{worse}: coach.profile = "brief": a profile cannot')):
        load_config(profile="worse", overrides=None, path=write(tmp_path, ""))


def test_missing_file(tmp_path):
    p = tmp_path / "nope.toml"
    with pytest.raises(ConfigNotFoundError) as info:
        load_config(p)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{p}: config file not found; allowed: the path of an existing TOML file")
    assert isinstance(info.value, FileNotFoundError)
    assert isinstance(info.value, ValueError)


def test_an_unreadable_config_says_to_use_sudo(tmp_path, monkeypatch, capsys):
    # the device's config is root:cadence 0640: `cadence-coach detect --config` as the login user
    # cannot read it (tested through a patched read: the suite may run as root, who reads anything)
    p = write(tmp_path, "[device]\n")
    real = Path.read_bytes

    def refuse(self):
        if self == p:
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    msg = str(info.value)
    assert msg.startswith(f"{p}: cannot read the config file (Permission denied)")
    assert "sudo" in msg
    assert "\n" not in msg


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("[coach]\nrepeat_s = \n", ", line 2, column 12: broken TOML: Invalid value"),
        ("[device\n", ", line 1, column 8: broken TOML: Expected ']' at the end of a table declaration"),
        ('[coach]\nprofile = "brief\n', ", line 2, column 17: broken TOML: Illegal character"),
        (
            "[coach]\nrepeat_s = 1\nrepeat_s = 2\n",
            ", line 3, column 13: broken TOML: Cannot overwrite a value",
        ),
    ],
)
def test_broken_toml_names_line_and_column(tmp_path, text, where):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{p}{where}"), msg
    assert msg.endswith("; allowed: TOML 1.0 syntax (https://toml.io)")


def test_not_utf8(tmp_path):
    p = tmp_path / "latin1.toml"
    p.write_bytes("[runner]\n# Läufer\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 12\); allowed: a UTF-8 TOML file"):
        load_config(p)


def test_bad_overrides_name_the_overrides():
    with pytest.raises(ConfigError, match=r"^<overrides>: coach\.repeat_s = 0: out of range; allowed"):
        load_config(overrides={"coach.repeat_s": 0})
    with pytest.raises(ConfigError, match=r"^<overrides>: repeat_s = 1: not a dotted key"):
        load_config(overrides={"repeat_s": 1})
    with pytest.raises(ConfigError, match=r"^<overrides>: coach\.profile = \"nope\": no such profile"):
        load_config(overrides={"coach.profile": "nope"})


def test_a_missing_profile_argument_is_named_as_the_command_line_option():
    # `cadence-coach replay --profile nosuch` named "<overrides>", which the user never typed.
    with pytest.raises(ConfigError, match=r"^--profile: coach\.profile = \"nope\": no such profile"):
        load_config(profile="nope")


# ---------------------------------------------------------------------------- [stride] foot height
def test_foot_sensor_height_reaches_the_stride_estimator(tmp_path):
    from firmware_py.config import make_pipeline

    cfg = load_config(write(tmp_path, "[stride]\nfoot_sensor_height_m = 0.11\n"))
    assert cfg.stride.foot_sensor_height_m == 0.11
    pipe = make_pipeline(cfg, sampling_rate_hz=100.0, placement="foot", has_gyro=True)
    assert pipe.stride.settings.sensor_height_m == 0.11
    # the default is the mounting height of hardware/mounting.md, not the estimator's own fallback
    default = make_pipeline(load_config(), sampling_rate_hz=100.0, placement="foot", has_gyro=True)
    assert default.stride.settings.sensor_height_m == 0.07


@pytest.mark.parametrize("value", ["0.5", "-0.01", '"high"'])
def test_foot_sensor_height_out_of_range_names_the_key(tmp_path, value):
    path = write(tmp_path, f"[stride]\nfoot_sensor_height_m = {value}\n")
    with pytest.raises(ConfigError, match=r"foot_sensor_height_m"):
        load_config(path)


def test_the_runners_running_cadence_reaches_the_foot_detector():
    """``[runner] run_cadence_spm`` (a foot's gait threshold) reaches the pipeline that replay and
    run build."""
    import dataclasses

    from dsp import StepSettings
    from firmware_py.replay import replay_recording
    from tests.conftest import load_fixture

    assert step_settings(load_config()) == StepSettings()
    cfg = load_config(overrides={"runner.run_cadence_spm": 170})
    assert step_settings(cfg) == dataclasses.replace(StepSettings(), run_cadence_spm=170.0)
    rec = load_fixture("pyshoe_vicon/2017-11-27-11-24-07.csv")  # a run at about 150-175 steps/min
    runs = []
    for c in (load_config(), cfg):
        events = replay_recording(rec, config=c).events
        runs.append(sum(e.gait == "run" for e in events))
    assert runs[1] < runs[0] // 2, runs
