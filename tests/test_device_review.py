"""Regression tests from the device-side review (session 5, devqa6): run's cue hardware and clock."""

from __future__ import annotations

from types import SimpleNamespace

import gpiozero.pins.mock
import pytest

from dsp.coach import CueEvent
from firmware_py.clock import FakeClock
from firmware_py.config import load_config
from firmware_py.run import _cue_outputs


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock(1000.0)
    monkeypatch.setattr(gpiozero.pins.mock, "monotonic", fake.monotonic)  # the button's debounce
    return fake


def _press(outputs, clock, held_s):
    pin = outputs.button.pin
    pin.drive_low()
    clock.advance(held_s)
    pin.drive_high()
    clock.advance(0.5)


@pytest.mark.parametrize(("in_force", "first_press"), [("technical", "smooth"), ("smooth", "technical")])
def test_run_button_first_press_selects_the_other_terrain_than_the_coachs(clock, in_force, first_press):
    # docs/cues.md: "in automatic mode it selects the other terrain than the detected one"; run's
    # cue hardware must ask the coach which terrain is in force (a shin sensor detects technical)
    pipeline = SimpleNamespace(coach=SimpleNamespace(terrain=in_force))
    out = _cue_outputs("mock", load_config(None), clock, pipeline)
    try:
        _press(out, clock, 0.2)
        assert out.mode == first_press
        _press(out, clock, 1.5)
        assert out.mode == "auto"
    finally:
        out.close()


def test_run_says_which_cue_was_not_played(clock, capsys):
    out = _cue_outputs("mock", load_config(None), clock, SimpleNamespace(coach=None))
    try:
        with out._cv:  # both wait: the level-3 sensor_lost plays ≈ 4.6 s, the coaching cue goes stale
            out.play(CueEvent(12.0, "sensor_lost", 3, "IMU not answering"))
            out.play(CueEvent(12.5, "quicken_steps", 1, "cadence 150 spm below target 170±5 spm"))
        assert out.wait_idle(20.0)
    finally:
        out.close()
    err = capsys.readouterr().err
    assert "cue quicken_steps (level 1) at 12.5 s not played (stale): cadence 150 spm" in err
    assert "sensor_lost" not in err
