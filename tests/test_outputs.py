"""Cue hardware on gpiozero mock pins: pattern timing on the pins, button presses, lifetime.

Most tests run on a :class:`FakeClock` that also drives the mock pins' timestamps, so pin state
sequences are asserted to the microsecond and a 5 s pattern plays in no time. One test runs on
the real clock to show that ``play`` does not block.
"""

from __future__ import annotations

import itertools
import time

import gpiozero.pins.mock
import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from dsp.coach import CUE_KINDS, CueEvent
from firmware_py.clock import FakeClock
from firmware_py.config import PinsConfig
from firmware_py.exc import DeviceClosedError
from firmware_py.outputs import (
    LEVELS,
    MAX_CUE_DELAY_S,
    METRONOME_LEAD_S,
    PATTERNS,
    REPEAT_GAP_S,
    CueOutputs,
    _actions,
    cue_duration_s,
    cue_segments,
    schedule,
)

BUZZER, LED_PIN, VIBRATION, BUTTON = 17, 27, 18, 23


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock(1000.0)
    # The mock pins time-stamp their states with this clock too.
    monkeypatch.setattr(gpiozero.pins.mock, "monotonic", fake.monotonic)
    return fake


@pytest.fixture
def factory():
    f = MockFactory(pin_class=MockPWMPin)
    yield f
    f.reset()


def cue(kind, level=1, **kw):
    return CueEvent(0.0, kind, level, f"test {kind}", **kw)


def played(outputs, *cues):
    for c in cues:
        outputs.play(c)
    assert outputs.wait_idle(5.0)


def pin_states(pin):
    """(duration since previous change, state) after the initial entry, states as floats."""
    return [(round(s.timestamp, 6), float(s.state)) for s in pin.states[1:]]


# ----------------------------------------------------------------------------------------- table
def test_every_cue_kind_has_a_pattern_and_sane_values():
    assert set(PATTERNS) == set(CUE_KINDS)
    for kind, outputs in PATTERNS.items():
        assert "buzzer" in outputs, kind
        assert 1 <= len(outputs["buzzer"]) <= 5, kind  # few pulses: unmistakable
        for output, pulses in outputs.items():
            for on_s, off_s, value in pulses:
                assert 0.02 <= on_s <= 1.0, kind
                assert 0 <= off_s <= 1.0, kind
                if output == "buzzer":
                    assert 220 <= value <= 3520, kind  # the passive buzzer's range
                elif output == "vibration":
                    assert 0.6 <= value <= 1.0, kind
                else:
                    assert len(value) == 3, kind
                    assert max(value) > 0, kind


def test_patterns_are_distinct_even_on_an_active_buzzer():
    def rhythm(kind):
        """Times at which an on/off buzzer switches (a change of tone is not heard)."""
        acts = _actions([s for s in cue_segments(cue(kind)) if s.output == "buzzer"])
        out, on = [], False
        for t, _, v in acts:
            if (v is not None) != on:
                on = not on
                out.append(round(t, 3))
        return tuple(out)

    rhythms = {kind: rhythm(kind) for kind in PATTERNS}
    assert len(set(rhythms.values())) == len(PATTERNS), rhythms
    tones = {kind: tuple(v for _, _, v in PATTERNS[kind]["buzzer"]) for kind in PATTERNS}
    assert len(set(tones.values())) == len(PATTERNS)


def test_levels_repeat_the_pattern_and_metronome_follows():
    one = cue_segments(cue("quicken_steps", 1))
    three = cue_segments(cue("quicken_steps", 3))
    assert len([s for s in three if s.output == "buzzer"]) == 3 * len(
        [s for s in one if s.output == "buzzer"]
    )
    pattern_s = 3 * (0.08 + 0.08)
    starts = [s.start_s for s in three if s.output == "buzzer"]
    assert starts[3] == pytest.approx(pattern_s + REPEAT_GAP_S)
    vib = [s.value for s in three if s.output == "vibration"]
    assert vib[0] == pytest.approx(0.7 * LEVELS[3][1])
    m = cue_segments(cue("quicken_steps", 1, metronome_beats=4, metronome_interval_s=0.25))
    beats = [s.start_s for s in m if s.output == "buzzer"][3:]
    assert beats == pytest.approx([pattern_s + METRONOME_LEAD_S + 0.25 * i for i in range(4)])
    with pytest.raises(ValueError, match="no cue pattern for kind 'dance'"):
        cue_segments(cue("dance"))


def test_schedule_plays_one_after_another_and_drops_stale_cues():
    a = CueEvent(10.0, "sensor_lost", 3, "a")  # ≈ 4.6 s long
    b = CueEvent(10.5, "quicken_steps", 1, "b")  # would start 4 s late: stale
    c = CueEvent(12.0, "terrain_changed", 1, "c")  # starts 2.6 s late: kept
    d = CueEvent(30.0, "run", 1, "d")
    out = schedule([a, b, c, d])
    assert [x.reason for x, _ in out] == ["a", "c", "d"]
    assert out[1][1] == pytest.approx(10.0 + cue_duration_s(a))
    assert out[1][1] - c.t_s <= MAX_CUE_DELAY_S
    assert out[2][1] == 30.0


# ---------------------------------------------------------------------------------------- pins
def test_quicken_steps_on_the_pins(clock, factory):
    with CueOutputs(PinsConfig(), pin_factory=factory, clock=clock) as out:
        played(out, cue("quicken_steps"))
    buzz = factory.pin(BUZZER)
    # Three 80 ms beeps, 80 ms apart.
    buzz.assert_states_and_times([(0.0, 0), (0.0, 1), (0.08, 0), (0.08, 1), (0.08, 0), (0.08, 1), (0.08, 0)])
    assert pin_states(buzz) == [(0.0, 1.0), (0.08, 0.0), (0.08, 1.0), (0.08, 0.0), (0.08, 1.0), (0.08, 0.0)]
    k = LEVELS[1][1]
    expected = [(0.0, 0.7 * k), (0.08, 0.0), (0.08, 0.7 * k), (0.08, 0.0), (0.08, 0.7 * k), (0.08, 0.0)]
    got = pin_states(factory.pin(VIBRATION))
    assert len(got) == len(expected)
    for (dt, v), (dt_e, v_e) in zip(got, expected, strict=True):
        assert dt == pytest.approx(dt_e)
        assert v == pytest.approx(v_e)


def test_shorten_stride_hike_and_escalation_on_the_pins(clock, factory):
    with CueOutputs(PinsConfig(), pin_factory=factory, clock=clock) as out:
        played(out, cue("shorten_stride", 2))
        buzz = factory.pin(BUZZER)
        # Two long buzzes, played twice at level 2.
        assert pin_states(buzz) == [
            (0.0, 1.0),
            (0.35, 0.0),
            (0.12, 1.0),
            (0.35, 0.0),
            (0.12 + REPEAT_GAP_S, 1.0),
            (0.35, 0.0),
            (0.12, 1.0),
            (0.35, 0.0),
        ]
        buzz.clear_states()
        vib = factory.pin(VIBRATION)
        vib.clear_states()
        played(out, cue("hike"))
        assert pin_states(buzz) == [(0.0, 1.0), (0.6, 0.0)]
        assert pin_states(vib) == [(0.0, pytest.approx(LEVELS[1][1])), (1.0, 0.0)]


def test_passive_buzzer_plays_the_tones(clock, factory):
    pins = PinsConfig(buzzer_kind="passive")
    with CueOutputs(pins, pin_factory=factory, clock=clock) as out:
        played(out, cue("run"))
        tones = [(round(t - 1000.0, 3), v) for t, o, v in out.log if o == "buzzer"]
        assert tones == [(0.0, 880.0), (0.15, None), (0.2, 1760.0), (0.45, None)]
        assert out.buzzer.tone is None  # silent again
        assert factory.pin(BUZZER).frequency is None


def test_metronome_beats_at_the_target_cadence(clock, factory):
    with CueOutputs(PinsConfig(), pin_factory=factory, clock=clock) as out:
        played(out, cue("quicken_steps", metronome_beats=5, metronome_interval_s=60.0 / 200.0))
        ons = [t - 1000.0 for t, o, v in out.log if o == "buzzer" and v is not None]
    assert len(ons) == 3 + 5
    beats = ons[3:]
    assert beats[0] == pytest.approx(0.48 + METRONOME_LEAD_S)
    assert [b - a for a, b in itertools.pairwise(beats)] == pytest.approx([0.3] * 4)


@pytest.mark.parametrize("led_kind", ["led", "pwm", "rgb"])
def test_every_kind_plays_on_every_led_kind(clock, factory, led_kind):
    pins = PinsConfig(led_kind=led_kind, buzzer_kind="passive")
    with CueOutputs(pins, pin_factory=factory, clock=clock) as out:
        for k in PATTERNS:
            played(out, cue(k, level=3))
        assert out.dropped == 0
        assert {o for _, o, _ in out.log} == {"buzzer", "vibration", "led"}
        assert out.vibration.value == 0
    red = factory.pin(5 if led_kind == "rgb" else LED_PIN)
    assert any(s.state for s in red.states)  # sensor_lost / recording_stopped flashed it


def test_play_does_not_block_real_time(factory):
    with CueOutputs(PinsConfig(), pin_factory=factory) as out:
        t0 = time.monotonic()
        out.play(cue("terrain_changed"))  # 60 ms
        assert time.monotonic() - t0 < 0.03
        assert out.wait_idle(2.0)
    factory.pin(BUZZER).assert_states_and_times([(0.0, 0), (0.0, 1), (0.06, 0)])


def test_queue_overflow_drops_the_oldest_waiting_cue(clock, factory):
    with CueOutputs(PinsConfig(), pin_factory=factory, clock=clock, max_pending=2) as out:
        with out._cv:  # hold the player so that all four wait in the queue
            for k in ("hike", "run", "ready", "quicken_steps"):
                out.play(cue(k))
        assert out.wait_idle(5.0)
        assert out.dropped == 2
        kinds = [v for _, o, v in out.log if o == "buzzer" and v is not None]
        assert kinds == [1047.0, 1319.0, 1568.0, 2000.0, 2000.0, 2000.0]  # ready, then quicken_steps


def test_stale_cues_are_dropped_like_the_schedule(clock, factory):
    with CueOutputs(PinsConfig(), pin_factory=factory, clock=clock) as out:
        with out._cv:
            out.play(cue("sensor_lost", 3))  # plays ≈ 4.6 s
            out.play(cue("quicken_steps"))  # then 4.6 s old: stale
        assert out.wait_idle(5.0)
        assert out.dropped == 1


def test_missing_outputs_are_skipped(clock, factory):
    pins = PinsConfig(buzzer=None, led=None, vibration=None, button=None)
    with CueOutputs(pins, pin_factory=factory, clock=clock) as out:
        played(out, cue("quicken_steps"), cue("sensor_lost"))
        assert list(out.log) == []
        assert repr(out).startswith("<CueOutputs no devices")


# -------------------------------------------------------------------------------------- button
def press(factory, clock, held_s):
    pin = factory.pin(BUTTON)
    pin.drive_low()
    clock.advance(held_s)
    pin.drive_high()


def test_button_short_press_toggles_and_long_press_returns_to_auto(clock, factory):
    modes = []
    with CueOutputs(PinsConfig(), pin_factory=factory, clock=clock, on_mode_change=modes.append) as out:
        led = factory.pin(LED_PIN)
        assert out.mode == "auto"
        assert not led.state  # auto: LED off
        press(factory, clock, 0.2)
        assert out.mode == "technical"
        assert led.state  # technical: LED on
        press(factory, clock, 0.3)
        assert out.mode == "smooth"
        assert out.led.is_lit  # smooth: slow blink, starting lit
        press(factory, clock, 0.99)
        assert out.mode == "technical"
        press(factory, clock, 1.0)  # ≥ 1 s: long press
        assert out.mode == "auto"
        assert not led.state
        press(factory, clock, 3.0)
        assert out.mode == "auto"  # a long press in auto stays in auto, no new report
    assert modes == ["technical", "smooth", "technical", "auto"]


def test_button_in_auto_switches_to_the_other_terrain_and_long_press_is_configurable(clock, factory):
    pins = PinsConfig(button_long_press_s=2.0)
    with CueOutputs(pins, pin_factory=factory, clock=clock, current_terrain=lambda: "technical") as out:
        press(factory, clock, 1.5)  # short for a 2 s threshold
        assert out.mode == "smooth"
        press(factory, clock, 2.5)
        assert out.mode == "auto"


def test_rgb_led_shows_the_mode_in_colour(clock, factory):
    with CueOutputs(PinsConfig(led_kind="rgb"), pin_factory=factory, clock=clock) as out:
        out.set_mode("technical")
        assert out.led.color == pytest.approx((1.0, 0.4, 0.0))
        played(out, cue("battery_low"))  # flashes amber, then the mode shows again
        assert out.led.color == pytest.approx((1.0, 0.4, 0.0))
        out.set_mode("smooth")
        assert out.led.color == pytest.approx((0.0, 0.0, 1.0))
        with pytest.raises(ValueError, match="auto, smooth, technical"):
            out.set_mode("rocky")


# ------------------------------------------------------------------------------------ lifetime
def test_close_is_idempotent_and_releases_the_pins(clock, factory):
    out = CueOutputs(PinsConfig(), pin_factory=factory, clock=clock)
    out.play(cue("recording_stopped"))
    out.close()
    out.close()
    assert out.closed
    assert all(d.closed for d in (out.buzzer, out.vibration, out.led, out.button))
    with pytest.raises(DeviceClosedError):
        out.play(cue("run"))
    # The pins are free again.
    with CueOutputs(PinsConfig(), pin_factory=factory, clock=clock) as again:
        assert again.buzzer is not None


def test_a_failing_device_does_not_leave_pins_reserved(clock, factory):
    with pytest.raises(Exception, match="pin"):
        CueOutputs(PinsConfig(led=BUZZER, buzzer=BUZZER), pin_factory=factory, clock=clock)
    with CueOutputs(PinsConfig(), pin_factory=factory, clock=clock) as out:
        assert out.buzzer is not None


def test_a_pin_error_does_not_silence_later_cues(clock, factory, monkeypatch):
    with CueOutputs(PinsConfig(), pin_factory=factory, clock=clock) as out:
        real_on = out.buzzer.on
        monkeypatch.setattr(out.buzzer, "on", lambda: (_ for _ in ()).throw(OSError("GPIO busy")))
        played(out, cue("run"))
        assert isinstance(out.last_error, OSError)
        assert out.vibration.value == 0  # switched off after the failure
        monkeypatch.setattr(out.buzzer, "on", real_on)
        played(out, cue("terrain_changed"))
        assert [v for _, o, v in out.log if o == "buzzer"][-3:] == [2000.0, 2800.0, None]


# ------------------------------------------------------------- device review: no cue lost silently
def test_a_device_cue_is_never_dropped_as_stale(clock, factory):
    # disk full while a level-3 sensor_lost plays (≈ 4.6 s): recording_stopped is said only once,
    # so it must still play, however late; a coaching cue behind it stays droppable
    drops = []
    with CueOutputs(
        PinsConfig(), pin_factory=factory, clock=clock, on_drop=lambda c, why: drops.append((c.kind, why))
    ) as out:
        with out._cv:
            out.play(cue("sensor_lost", 3))
            out.play(cue("recording_stopped", 2))
            out.play(cue("quicken_steps"))
        assert out.wait_idle(20.0)
        tones = [v for _, o, v in out.log if o == "buzzer" and v is not None]
        assert tones.count(523.0) == 4  # recording_stopped, level 2: 2 x 2 pulses
        assert 2000.0 not in tones  # the stale coaching cue was not played ...
        assert drops == [("quicken_steps", "stale")]  # ... and said so
        assert [(c.kind, why) for c, why in out.dropped_cues] == drops
    played_kinds = [
        c.kind
        for c, _ in schedule(
            [
                CueEvent(10.0, "sensor_lost", 3, "a"),
                CueEvent(10.5, "recording_stopped", 2, "b"),
                CueEvent(10.6, "quicken_steps", 1, "c"),
            ]
        )
    ]
    assert played_kinds == ["sensor_lost", "recording_stopped"]  # the WAV preview follows the same rule


def test_a_full_queue_drops_coaching_cues_before_device_cues(clock, factory):
    drops = []
    with CueOutputs(
        PinsConfig(),
        pin_factory=factory,
        clock=clock,
        max_pending=2,
        on_drop=lambda c, why: drops.append((c.kind, why)),
    ) as out:
        with out._cv:  # hold the player so that every cue waits
            for k in ("battery_low", "quicken_steps", "shorten_stride", "hike"):
                out.play(cue(k))
        assert out.wait_idle(20.0)
    assert drops == [("quicken_steps", "queue full"), ("shorten_stride", "queue full")]
    assert out.dropped == 2
