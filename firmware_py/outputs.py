"""Cue hardware: buzzer, vibration motor, status LED and mode button, through gpiozero.

The coach (``dsp.coach``) decides that a cue is due; this module decides how it sounds, feels
and looks. Every pattern is data, in :data:`PATTERNS`; :func:`cue_segments` turns a cue into a
time line of segments that both the pins (:class:`CueOutputs`) and the WAV preview
(``firmware_py.cues_wav``) play, so a developer hears exactly what the runner would.

Wiring: hardware/wiring.md (buzzer GPIO17, vibration motor GPIO18 through a transistor, LED
GPIO27 or RGB LED GPIO5/6/13, mode button GPIO23 to GND). Pins come from ``[pins]`` in the
config, the pin factory is injected, and nothing touches a pin at import time.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from dsp.coach import CUE_KINDS, DEVICE_EVENT_KINDS, CueEvent
from firmware_py.clock import Clock, SystemClock
from firmware_py.config import PinsConfig
from firmware_py.exc import CadenceError, DeviceClosedError

__all__ = [
    "LEVELS",
    "MAX_CUE_DELAY_S",
    "METRONOME_BEAT",
    "MODE_DISPLAY",
    "OUTPUTS",
    "PATTERNS",
    "CueOutputs",
    "Segment",
    "cue_duration_s",
    "cue_segments",
    "schedule",
]

#: One pulse of a pattern: (on_s, off_s, value). ``value`` is a tone in Hz for the buzzer (an
#: active buzzer ignores the pitch and keeps the rhythm), an intensity 0..1 for the vibration
#: motor, and an (r, g, b) colour 0..1 for the LED (a single LED is on for any colour).
Pulse = tuple[float, float, Any]

#: The outputs a pattern can drive.
OUTPUTS = ("buzzer", "vibration", "led")

_RED = (1.0, 0.0, 0.0)
_AMBER = (1.0, 0.4, 0.0)
_GREEN = (0.0, 1.0, 0.0)

#: Every cue pattern: kind -> output -> pulses (on_s, off_s, value). Few, distinct, unmistakable:
#: each kind has its own rhythm even on an active buzzer, and its own pitch on a passive one.
#: The LED only flashes the device events (the runner is not looking at it while running).
PATTERNS: dict[str, dict[str, tuple[Pulse, ...]]] = {
    # Three short high beeps: "quick, quick, quick".
    "quicken_steps": {
        "buzzer": ((0.08, 0.08, 2000.0),) * 3,
        "vibration": ((0.08, 0.08, 0.7),) * 3,
    },
    # Two long low buzzes: "long... long" (steps too long).
    "shorten_stride": {
        "buzzer": ((0.35, 0.12, 440.0),) * 2,
        "vibration": ((0.35, 0.12, 0.9),) * 2,
    },
    # One long vibration with a low tone: "slow down, hike".
    "hike": {
        "buzzer": ((0.6, 0.0, 330.0),),
        "vibration": ((1.0, 0.0, 1.0),),
    },
    # Two rising tones: "up and go".
    "run": {
        "buzzer": ((0.15, 0.05, 880.0), (0.25, 0.0, 1760.0)),
        "vibration": ((0.15, 0.05, 0.6), (0.25, 0.0, 0.9)),
    },
    # One chirp (a quick rising blip): new targets.
    "terrain_changed": {
        "buzzer": ((0.03, 0.0, 2000.0), (0.03, 0.0, 2800.0)),
        "vibration": ((0.06, 0.0, 0.6),),
    },
    # Rising triple, longer and higher each time (C6 E6 G6): the coach is listening.
    "ready": {
        "buzzer": ((0.06, 0.06, 1047.0), (0.10, 0.06, 1319.0), (0.16, 0.0, 1568.0)),
        "vibration": ((0.06, 0.06, 0.6), (0.10, 0.06, 0.7), (0.16, 0.0, 0.9)),
        "led": ((0.6, 0.0, _GREEN),),
    },
    # Repeated low pulses: the sensor stopped answering.
    "sensor_lost": {
        "buzzer": ((0.15, 0.15, 262.0),) * 4,
        "vibration": ((0.15, 0.15, 1.0),) * 4,
        "led": ((0.15, 0.15, _RED),) * 4,
    },
    # Long - long: the recording stopped (disk full, write error).
    "recording_stopped": {
        "buzzer": ((0.8, 0.4, 523.0),) * 2,
        "vibration": ((0.8, 0.4, 0.8),) * 2,
        "led": ((0.8, 0.4, _RED),) * 2,
    },
    # Slow triple, no vibration (it would drain the battery further).
    "battery_low": {
        "buzzer": ((0.3, 0.6, 659.0),) * 3,
        "led": ((0.3, 0.6, _AMBER),) * 3,
    },
}

#: One metronome beat per output: (on_s, value). Beats follow the pattern of a cadence or stride cue.
METRONOME_BEAT: dict[str, tuple[float, Any]] = {"buzzer": (0.04, 1800.0), "vibration": (0.04, 0.6)}
#: Pause between a cue's pattern and its first metronome beat, s.
METRONOME_LEAD_S = 0.3

#: Escalation: level -> (times the pattern is played, intensity factor of vibration and LED).
#: Vibration values stay ≥ 0.6 × 0.8 ≈ 0.5: a coin motor may not start at a lower duty.
LEVELS: dict[int, tuple[int, float]] = {1: (1, 0.8), 2: (2, 0.9), 3: (3, 1.0)}
#: Pause between repeats of an escalated pattern, s.
REPEAT_GAP_S = 0.5
#: A coaching cue that cannot start within this time after it became due is dropped (it is stale),
#: s. Device cues (``ready``, ``sensor_lost``, ``recording_stopped``, ``battery_low``) are never
#: dropped as stale: each is said once (at most every ``device_repeat_s``) and tells the runner
#: something they must hear, late or not.
MAX_CUE_DELAY_S = 3.0

#: How the LED shows the terrain mode: mode -> (single LED: "off" / "blink" / "on", RGB colour).
MODE_DISPLAY: dict[str, tuple[str, tuple[float, float, float]]] = {
    "auto": ("off", (0.0, 0.15, 0.0)),
    "smooth": ("blink", (0.0, 0.0, 1.0)),
    "technical": ("on", _AMBER),
}
#: On and off time of the single LED's "blink" mode display, s.
MODE_BLINK_S = (0.2, 1.8)

#: Tone range of a passive buzzer (gpiozero TonalBuzzer, mid tone A5, two octaves), Hz.
_TONE_MID = "A5"
_TONE_OCTAVES = 2


@dataclass(frozen=True)
class Segment:
    """One stretch of one output being on.

    Attributes
    ----------
    output : str
        ``"buzzer"``, ``"vibration"`` or ``"led"``.
    start_s : float
        Start, s, from the start of the cue (or on the run's time line, from :func:`schedule`).
    duration_s : float
        How long it stays on, s.
    value : Any
        Tone in Hz, intensity 0..1 or (r, g, b), as in :data:`PATTERNS` (intensities scaled by level).
    """

    output: str
    start_s: float
    duration_s: float
    value: Any

    @property
    def end_s(self) -> float:
        """End of the segment, s."""
        return self.start_s + self.duration_s


def _scale(output: str, value: Any, k: float) -> Any:
    if output == "vibration":
        return min(1.0, value * k)
    if output == "led":
        return tuple(min(1.0, c * k) for c in value)
    return value


def cue_segments(cue: CueEvent) -> list[Segment]:
    """Return the time line of a cue: its pattern, repeated by level, then its metronome beats.

    Parameters
    ----------
    cue : CueEvent
        The cue (kind, level, metronome).

    Returns
    -------
    list of Segment
        Segments from the cue's start (0 s), sorted by start then output.

    Raises
    ------
    ValueError
        For a cue kind without a pattern.
    """
    if cue.kind not in PATTERNS:
        raise ValueError(f"no cue pattern for kind {cue.kind!r}; allowed: {', '.join(CUE_KINDS)}")
    repeats, k = LEVELS[max(1, min(cue.level, max(LEVELS)))]
    pattern = PATTERNS[cue.kind]
    length_s = max(sum(on + off for on, off, _ in pulses) for pulses in pattern.values())
    out: list[Segment] = []
    for r in range(repeats):
        t0 = r * (length_s + REPEAT_GAP_S)
        for output, pulses in pattern.items():
            t = t0
            for on_s, off_s, value in pulses:
                out.append(Segment(output, t, on_s, _scale(output, value, k)))
                t += on_s + off_s
    if cue.metronome_beats > 0 and cue.metronome_interval_s:
        t0 = repeats * length_s + (repeats - 1) * REPEAT_GAP_S + METRONOME_LEAD_S
        for i in range(cue.metronome_beats):
            for output, (on_s, value) in METRONOME_BEAT.items():
                on_s = min(on_s, 0.5 * cue.metronome_interval_s)
                out.append(Segment(output, t0 + i * cue.metronome_interval_s, on_s, _scale(output, value, k)))
    out.sort(key=lambda s: (s.start_s, OUTPUTS.index(s.output)))
    return out


def cue_duration_s(cue: CueEvent) -> float:
    """Return how long a cue plays, s (the end of its last segment)."""
    return max(s.end_s for s in cue_segments(cue))


def schedule(cues: Iterable[CueEvent]) -> list[tuple[CueEvent, float]]:
    """Place cues on the time line the way the device plays them: one after the other.

    A cue starts when it is due (``t_s``) or when the previous one ends, whichever is later; a
    coaching cue that would start more than :data:`MAX_CUE_DELAY_S` late is dropped, as
    :class:`CueOutputs` does (a device cue is played however late).

    Parameters
    ----------
    cues : iterable of CueEvent
        Cues in the order they were emitted.

    Returns
    -------
    list of (CueEvent, float)
        The cues played and their start times, s.
    """
    out = []
    free_s = float("-inf")
    for cue in cues:
        start = max(cue.t_s, free_s)
        if start - cue.t_s > MAX_CUE_DELAY_S and cue.kind not in DEVICE_EVENT_KINDS:
            continue
        out.append((cue, start))
        free_s = start + cue_duration_s(cue)
    return out


def _actions(segments: Sequence[Segment]) -> list[tuple[float, str, Any]]:
    """Turn segments into (time, output, value) switch actions; None switches an output off."""
    by_output: dict[str, list[Segment]] = {}
    for s in segments:
        by_output.setdefault(s.output, []).append(s)
    acts: list[tuple[float, int, str, Any]] = []
    for output, segs in by_output.items():
        segs.sort(key=lambda s: s.start_s)
        for i, s in enumerate(segs):
            acts.append((s.start_s, 1, output, s.value))
            nxt = segs[i + 1] if i + 1 < len(segs) else None
            if nxt is None or nxt.start_s > s.end_s + 1e-9:
                acts.append((s.end_s, 0, output, None))
    acts.sort(key=lambda a: (a[0], a[1], OUTPUTS.index(a[2])))
    return [(t, output, value) for t, _, output, value in acts]


class CueOutputs:
    """The cue hardware: plays cues in the background and runs the mode button.

    Wiring: see hardware/wiring.md. Every device is optional; ``None`` pins in ``pins`` are skipped.

    Parameters
    ----------
    pins : PinsConfig, optional
        Pins and kinds of the buzzer, LED, vibration motor and button (``[pins]``; defaults to the
        fixed wiring).
    pin_factory : gpiozero.Factory, optional
        gpiozero pin factory (e.g. ``MockFactory()`` in tests); None uses gpiozero's default
        (``GPIOZERO_PIN_FACTORY``; ``lgpio`` on the device).
    clock : Clock, optional
        Time for playback and for timing button presses (default :class:`SystemClock`).
    on_mode_change : callable, optional
        Called with ``"auto"``, ``"smooth"`` or ``"technical"`` when the button changes the mode.
        It runs on gpiozero's callback thread; the coach is not thread-safe, so a live loop should
        rather compare :attr:`mode` with ``coach.terrain_mode`` before each step and call
        ``coach.set_terrain_mode`` from its own thread.
    current_terrain : callable, optional
        Returns the terrain in force; in automatic mode a short press switches to the other one.
        Without it, the first short press selects ``"technical"``.
    max_pending : int
        Cues waiting behind the one playing; when full the oldest waiting coaching cue is dropped
        (a device cue only when every waiting cue is one).
    on_drop : callable, optional
        Called as ``on_drop(cue, why)`` for every cue that is not played (``why``: ``"stale"`` or
        ``"queue full"``) or not played to its end (``"pin error: ..."``, a GPIO that failed), from
        the thread that dropped it; so that no cue is lost silently.

    Attributes
    ----------
    buzzer, led, vibration, button
        The gpiozero devices, or None when not fitted.
    log : collections.deque
        The last 2000 switch actions as ``(time_s, output, value)`` (value None = off).
    dropped : int
        Cues dropped because they were stale or the queue was full.
    dropped_cues : collections.deque
        The last 200 of them as ``(cue, why)``.
    last_error : Exception or None
        The last error raised while playing a cue (playback carries on with the next cue).

    Notes
    -----
    Button: a press shorter than ``pins.button_long_press_s`` toggles smooth/technical (manual
    terrain); a longer one returns to automatic. The decision is taken on release.
    """

    def __init__(
        self,
        pins: PinsConfig | None = None,
        *,
        pin_factory: Any = None,
        clock: Clock | None = None,
        on_mode_change: Callable[[str], None] | None = None,
        current_terrain: Callable[[], str | None] | None = None,
        max_pending: int = 4,
        on_drop: Callable[[CueEvent, str], None] | None = None,
    ) -> None:
        self.pins = pins if pins is not None else PinsConfig()
        self._clock = clock if clock is not None else SystemClock()
        self._on_mode_change = on_mode_change
        self._current_terrain = current_terrain
        self.max_pending = max(1, int(max_pending))
        self.buzzer: Any = None
        self.led: Any = None
        self.vibration: Any = None
        self.button: Any = None
        self.log: deque[tuple[float, str, Any]] = deque(maxlen=2000)
        self.dropped = 0
        self.dropped_cues: deque[tuple[CueEvent, str]] = deque(maxlen=200)
        self._on_drop = on_drop
        self.last_error: Exception | None = None
        self._mode = "auto"
        self._press_t: float | None = None
        self._closed = False
        self._cv = threading.Condition()
        self._led_lock = threading.RLock()
        self._led_in_cue = False
        self._pending: deque[tuple[CueEvent, float]] = deque()
        self._busy = False
        self._stop = False
        self._thread: threading.Thread | None = None
        try:
            self._build(pin_factory)
            self._show_mode()
            self._thread = threading.Thread(target=self._run, name="cue-outputs", daemon=True)
            self._thread.start()
        except BaseException:
            self.close()
            raise

    def _build(self, pin_factory: Any) -> None:
        # Imported here so that importing this module never needs gpiozero's pin back-ends.
        from gpiozero import LED, PWMLED, RGBLED, Button, Buzzer, PWMOutputDevice, TonalBuzzer
        from gpiozero.tones import Tone

        p = self.pins
        if p.buzzer is not None:
            if p.buzzer_kind == "passive":
                self.buzzer = TonalBuzzer(
                    p.buzzer, mid_tone=Tone(_TONE_MID), octaves=_TONE_OCTAVES, pin_factory=pin_factory
                )
            else:
                self.buzzer = Buzzer(p.buzzer, pin_factory=pin_factory)
        if p.led_kind == "rgb" and p.rgb is not None:
            r, g, b = p.rgb
            self.led = RGBLED(r, g, b, active_high=p.led_active_high, pin_factory=pin_factory)
        elif p.led is not None and p.led_kind == "pwm":
            self.led = PWMLED(p.led, active_high=p.led_active_high, pin_factory=pin_factory)
        elif p.led is not None and p.led_kind == "led":
            self.led = LED(p.led, active_high=p.led_active_high, pin_factory=pin_factory)
        if p.vibration is not None:
            self.vibration = PWMOutputDevice(p.vibration, pin_factory=pin_factory)
        if p.button is not None:
            self.button = Button(
                p.button,
                pull_up=True,
                bounce_time=p.button_bounce_s or None,
                hold_time=p.button_long_press_s,
                pin_factory=pin_factory,
            )
            self.button.when_pressed = self._pressed
            self.button.when_released = self._released

    # ---------------------------------------------------------------------------------- cues
    def play(self, cue: CueEvent) -> None:
        """Queue a cue and return at once; a background thread plays it.

        Parameters
        ----------
        cue : CueEvent
            The cue to render.

        Raises
        ------
        DeviceClosedError
            After :meth:`close`.
        ValueError
            For a cue kind without a pattern.
        """
        self._check_open()
        if cue.kind not in PATTERNS:
            raise ValueError(f"no cue pattern for kind {cue.kind!r}; allowed: {', '.join(PATTERNS)}")
        dropped = None
        with self._cv:
            if len(self._pending) >= self.max_pending:
                # the oldest waiting coaching cue goes first: a device cue (sensor lost, recording
                # stopped, battery low) is said once and must not be pushed out by coaching
                coaching = [i for i, (c, _) in enumerate(self._pending) if c.kind not in DEVICE_EVENT_KINDS]
                if coaching:
                    dropped = self._pending[coaching[0]][0]
                    del self._pending[coaching[0]]
                elif cue.kind not in DEVICE_EVENT_KINDS:
                    dropped = cue  # only device cues wait: this coaching cue gives way
                else:
                    dropped = self._pending.popleft()[0]
                self._count_drop(dropped, "queue full")
            if dropped is not cue:
                self._pending.append((cue, self._clock.monotonic()))
                self._cv.notify_all()
        if dropped is not None:
            self._report_drop(dropped, "queue full")

    def _count_drop(self, cue: CueEvent, why: str) -> None:
        self.dropped += 1
        self.dropped_cues.append((cue, why))

    def _report_drop(self, cue: CueEvent, why: str) -> None:
        if self._on_drop is not None:
            try:
                self._on_drop(cue, why)
            except Exception as exc:  # a failing report must not stop playback
                self.last_error = exc

    def wait_idle(self, timeout_s: float | None = None) -> bool:
        """Wait until every queued cue has been played; return False on timeout (real seconds)."""
        with self._cv:
            return self._cv.wait_for(lambda: not self._pending and not self._busy, timeout_s)

    def _run(self) -> None:
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._pending or self._stop)
                if self._stop:
                    return
                cue, queued_s = self._pending.popleft()
                self._busy = True
            try:
                late_s = self._clock.monotonic() - queued_s
                if late_s > MAX_CUE_DELAY_S and cue.kind not in DEVICE_EVENT_KINDS:
                    with self._cv:
                        self._count_drop(cue, "stale")
                    self._report_drop(cue, "stale")
                else:
                    self._render(cue)
            except Exception as exc:  # a pin error must not silence every later cue
                self.last_error = exc
                self._report_drop(cue, f"pin error: {exc}")  # nor this one, silently
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()

    def _render(self, cue: CueEvent) -> None:
        actions = _actions([s for s in cue_segments(cue) if self._device(s.output) is not None])
        uses_led = any(output == "led" for _, output, _ in actions)
        if uses_led:
            with self._led_lock:
                self._led_in_cue = True
                self._led_off()
        t0 = self._clock.monotonic()
        try:
            for t_s, output, value in actions:
                while not self._stop:
                    wait_s = t0 + t_s - self._clock.monotonic()
                    if wait_s <= 0:
                        break
                    self._clock.sleep(min(wait_s, 0.05))
                if self._stop:
                    return
                self._apply(output, value)
        finally:
            self._all_off()
            if uses_led:
                with self._led_lock:
                    self._led_in_cue = False
                    if not self._stop:
                        self._show_mode()

    def _device(self, output: str) -> Any:
        return {"buzzer": self.buzzer, "vibration": self.vibration, "led": self.led}[output]

    def _apply(self, output: str, value: Any) -> None:
        self.log.append((self._clock.monotonic(), output, value))
        dev = self._device(output)
        if output == "buzzer":
            if self.pins.buzzer_kind == "passive":
                if value is None:
                    dev.stop()
                else:
                    lo, hi = dev.min_tone.frequency, dev.max_tone.frequency
                    dev.play(min(max(float(value), lo), hi))
            elif value is None:
                dev.off()
            else:
                dev.on()
        elif output == "vibration":
            dev.value = 0.0 if value is None else float(value)
        else:
            self._led_set(value)

    def _all_off(self) -> None:
        for output in ("buzzer", "vibration"):
            dev = self._device(output)
            if dev is not None and not dev.closed:
                if self.pins.buzzer_kind == "passive" and output == "buzzer":
                    dev.stop()
                else:
                    dev.off()

    # ----------------------------------------------------------------------------------- LED
    def _led_set(self, colour: tuple[float, float, float] | None) -> None:
        led = self.led
        if led is None or led.closed:
            return
        if colour is None:
            led.off()
        elif self.pins.led_kind == "rgb":
            led.color = colour
        elif self.pins.led_kind == "pwm":
            led.value = max(colour)
        elif max(colour) > 0:
            led.on()
        else:
            led.off()

    def _led_off(self) -> None:
        if self.led is not None and not self.led.closed:
            self.led.off()

    def _show_mode(self) -> None:
        """Show the terrain mode on the LED (unless a cue is using it)."""
        with self._led_lock:
            if self.led is None or self.led.closed or self._led_in_cue:
                return
            style, colour = MODE_DISPLAY[self._mode]
            if self.pins.led_kind == "rgb":
                self.led.color = colour
            elif style == "blink":
                on_s, off_s = MODE_BLINK_S
                self.led.blink(on_time=on_s, off_time=off_s, background=True)
            elif style == "on":
                self.led.on()
            else:
                self.led.off()

    # -------------------------------------------------------------------------------- button
    @property
    def mode(self) -> str:
        """Terrain mode: ``"auto"``, ``"smooth"`` or ``"technical"``."""
        return self._mode

    def set_mode(self, mode: str) -> None:
        """Set the terrain mode, show it on the LED and report it to ``on_mode_change``.

        Parameters
        ----------
        mode : str
            ``"auto"``, ``"smooth"`` or ``"technical"``.

        Raises
        ------
        ValueError
            For any other value.
        """
        if mode not in MODE_DISPLAY:
            raise ValueError(f"terrain mode {mode!r}; allowed: {', '.join(MODE_DISPLAY)}")
        changed = mode != self._mode
        self._mode = mode
        self._show_mode()
        if changed and self._on_mode_change is not None:
            self._on_mode_change(mode)

    def _pressed(self) -> None:
        self._press_t = self._clock.monotonic()

    def _released(self) -> None:
        if self._press_t is None:
            return
        held_s = self._clock.monotonic() - self._press_t
        self._press_t = None
        if held_s >= self.pins.button_long_press_s:
            self.set_mode("auto")
            return
        if self._mode == "auto":
            current = self._current_terrain() if self._current_terrain is not None else None
            self.set_mode("smooth" if current == "technical" else "technical")
        else:
            self.set_mode("smooth" if self._mode == "technical" else "technical")

    # ------------------------------------------------------------------------------ lifetime
    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise DeviceClosedError("CueOutputs used after close()")

    def close(self) -> None:
        """Stop playback, switch everything off and release the pins; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        with self._cv:
            self._stop = True
            self._pending.clear()
            self._cv.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)
        for dev in (self.button, self.buzzer, self.vibration, self.led):
            if dev is not None:
                # A half-built or already failed device must not stop the others from closing.
                with contextlib.suppress(Exception):
                    dev.close()
        if thread is not None and thread.is_alive():
            raise CadenceError("cue playback thread did not stop within 2 s")

    def __enter__(self) -> CueOutputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        fitted = [n for n in ("buzzer", "led", "vibration", "button") if getattr(self, n) is not None]
        state = "closed" if self._closed else f"mode={self._mode}"
        return f"<CueOutputs {', '.join(fitted) or 'no devices'} {state}>"
