"""The live loop: bus -> driver -> recorder and pipeline -> (coach -> cues).

One pass every ``block_interval_s`` (default 25 ms) of the injected clock drains the IMU's
FIFO, appends the raw samples to the log and feeds the SI samples to the same
:class:`dsp.Pipeline` that replay uses. Sensor faults never end the loop: a failed drain
is retried, the chip is set up again, the bus is reopened after a long fault, and the gap
is written to the log. ``stop`` (SIGTERM, SIGINT) ends it cleanly: the log is flushed and
closed. A battery monitor (:class:`firmware_py.battery.BatteryWatch`), read every ``poll_s``
(never per block), cues ``battery_low`` and, when the battery is critical, ends the run the same
clean way with ``recording_stopped`` (reason "battery critical").
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from dsp.coach import DEVICE_EVENT_KINDS, CueEvent
from dsp.pipeline import Pipeline, PipelineUpdate, StepEvent
from firmware_py.clock import Clock
from firmware_py.exc import CadenceError, ImuFaultError
from firmware_py.imu.base import STANDARD_GRAVITY_MPS2, FifoBatch, ImuDriver
from firmware_py.recorder import Recorder

#: Failed battery readings in a row after which the loop says that the battery is not being read.
BATTERY_MISSES_SAID = 4

#: Largest relative difference between |a| at rest and standard gravity that is not announced (2 %).
#: Local gravity varies by only 0.5 % over the Earth (9.78 m/s² at the equator to 9.83 m/s² at the
#: poles, a little less on a summit), so a reading beyond 2 % is the accelerometer's gain (or
#: offset), and strapdown navigation (foot) and the trunk's pendulum model (lower back) scale
#: stride and distance by about as much: 2 % is the distance budget of issue #4.
REST_GRAVITY_TOLERANCE = 0.02


class DeviceEvents(Protocol):
    """What the loop tells the cue hardware and any observer (every method optional)."""

    def on_steps(self, events: list[StepEvent]) -> None:
        """Receive new foot contacts."""

    def on_cues(self, cues: list[CueEvent]) -> None:
        """Receive cues to play (the coach's decisions, device cues included)."""

    def on_device(self, kind: str, t_s: float, reason: str) -> None:
        """Receive a device event.

        Kinds: ``ready``, ``sensor_lost``, ``sensor_back``, ``recording_stopped``, ``battery_low``,
        ``battery_ok``, ``battery_critical``, ``gyro_constant`` (the gyroscope's counts did not
        move during the start-up window: off or broken; the run goes on without it),
        ``rest_gravity_off`` (|a| standing still in the start-up window is more than
        :data:`REST_GRAVITY_TOLERANCE` away from 9.81 m/s²), ``barometer_lost`` (it failed 20
        readings in a row and is no longer read), ``battery_unread`` and ``battery_read`` (the
        battery failed :data:`BATTERY_MISSES_SAID` readings in a row; it answers again).
        """


@dataclass(frozen=True)
class LoopSettings:
    """Timing of the live loop.

    Parameters
    ----------
    block_interval_s : float
        Time between two FIFO drains, s (20-100 ms). A sample that decides a step waits up to this
        long in the FIFO before the pipeline sees it: 25 ms keeps the cue latency's 99th
        percentile well under 50 ms, for twice the per-block overhead of 50 ms (see
        ``docs/performance.md``, cue latency).
    bias_window_s : float
        Samples gathered at start to estimate the gyroscope bias while the runner stands, s.
    still_gyro_rads : float
        Largest gyroscope magnitude that counts as standing still, rad/s.
    still_acc_std_mps2 : float
        Largest standard deviation of |a| that counts as standing still, m/s².
    retry_interval_s : float
        Wait between attempts to reach a faulty sensor, s.
    sensor_lost_after_s : float
        A fault lasting this long is announced (``sensor_lost``), s.
    reopen_bus_after_s : float
        A fault lasting this long reopens the I2C bus too, s.
    barometer_interval_s : float
        Time between two barometer readings, s (when one is fitted).
    retries_before_reset : int
        Failed drains retried at once before the chip is set up again (transient bus errors).
    retry_wait_s : float
        Wait before such a retry, s.
    """

    block_interval_s: float = 0.025
    bias_window_s: float = 2.0
    still_gyro_rads: float = 0.2
    still_acc_std_mps2: float = 0.3
    retry_interval_s: float = 0.25
    sensor_lost_after_s: float = 1.0
    reopen_bus_after_s: float = 10.0
    barometer_interval_s: float = 0.25
    retries_before_reset: int = 3
    retry_wait_s: float = 0.002


@dataclass
class LoopReport:
    """What a live run did.

    Attributes
    ----------
    events : list of StepEvent
        Every contact, in time order (kept only when the loop was asked to keep them).
    updates : list of dsp.pipeline.PipelineUpdate
        Every block's output (kept likewise), for the run's JSON report.
    n_steps : int
        Contacts detected.
    cues : list of dsp.coach.CueEvent
        Every cue played (also written to the log with its reason); kept only when the loop was
        asked to keep its events, like ``gaps``.
    cue_counts : dict
        Cues played per kind, in the order each kind first came (kept or not).
    samples : int
        Samples read from the sensor.
    gaps : list of tuple
        ``(t_before_s, t_after_s, reason)`` for every stretch of samples lost (kept only when the
        loop was asked to keep its events: on the device the log has them, and hours of a flaky
        connector must not grow the memory).
    n_gaps : int
        Stretches of samples lost, kept or not.
    faults : int
        Failed FIFO drains (each retried).
    restarts : int
        Times the chip was set up again.
    gyro_bias_rads : numpy.ndarray
        Gyroscope bias removed from every sample, rad/s (zeros when the runner did not stand still).
    gyro_dropped : bool
        The gyroscope was found dead at start-up (``gyro_constant``) and the pipeline ran
        without it.
    rest_gravity_mps2 : float or None
        Mean |a| over the start-up window when the runner stood still, m/s² (None otherwise).
    first_t_s, last_t_s : float
        Times of the first and last samples, s.
    stopped_reason : str or None
        Why the recorder stopped, if it did.
    battery_critical : str or None
        Why the run ended for a critical battery (the reading), if it did.
    battery_errors : int
        Battery readings that failed (absorbed).
    """

    events: list[StepEvent] = field(default_factory=list)
    updates: list[PipelineUpdate] = field(default_factory=list)
    n_steps: int = 0
    cues: list[CueEvent] = field(default_factory=list)
    cue_counts: dict[str, int] = field(default_factory=dict)
    samples: int = 0
    gaps: list[tuple[float, float, str]] = field(default_factory=list)
    n_gaps: int = 0
    faults: int = 0
    restarts: int = 0
    gyro_bias_rads: np.ndarray = field(default_factory=lambda: np.zeros(3))
    gyro_dropped: bool = False
    rest_gravity_mps2: float | None = None
    first_t_s: float = float("nan")
    last_t_s: float = float("nan")
    stopped_reason: str | None = None
    battery_critical: str | None = None
    battery_errors: int = 0


def gyro_bias_if_still(
    acc_mps2: np.ndarray, gyro_rads: np.ndarray, settings: LoopSettings
) -> np.ndarray | None:
    """Mean gyroscope reading when the samples show a sensor at rest, else None.

    Parameters
    ----------
    acc_mps2, gyro_rads : numpy.ndarray
        Samples, shape ``(n, 3)``, m/s² and rad/s.
    settings : LoopSettings
        Stillness thresholds.

    Returns
    -------
    numpy.ndarray or None
        Bias, rad/s, shape ``(3,)``.
    """
    if len(acc_mps2) < 10:
        return None
    bias = gyro_rads.mean(axis=0)
    moving = np.abs(gyro_rads - bias).max() > settings.still_gyro_rads
    shaking = np.linalg.norm(acc_mps2, axis=1).std() > settings.still_acc_std_mps2
    return None if (moving or shaking) else bias


def rest_gravity_if_still(
    acc_mps2: np.ndarray, gyro_rads: np.ndarray, settings: LoopSettings
) -> float | None:
    """Mean |a| when the samples show a sensor at rest (the test of :func:`gyro_bias_if_still`), else None.

    The mean of the magnitudes, not the magnitude of the mean: a slow turn of the sensor (still
    by the gyroscope's test) does not shorten it. The noise of a real accelerometer (a few
    hundredths of a m/s²) raises it by its variance over 2 g: less than 0.01 %.

    Parameters
    ----------
    acc_mps2, gyro_rads : numpy.ndarray
        Samples, shape ``(n, 3)``, m/s² and rad/s.
    settings : LoopSettings
        Stillness thresholds.

    Returns
    -------
    float or None
        |a| at rest, m/s².
    """
    if gyro_bias_if_still(acc_mps2, gyro_rads, settings) is None:
        return None
    return _mean_magnitude(acc_mps2)


def _mean_magnitude(acc_mps2: np.ndarray) -> float:
    """Mean |a| of the samples, m/s² (the figure of :func:`rest_gravity_if_still`)."""
    return float(np.linalg.norm(acc_mps2, axis=1).mean())


def rest_gravity_warning(rest_gravity_mps2: float | None) -> str | None:
    """Say what a resting |a| more than :data:`REST_GRAVITY_TOLERANCE` from gravity means (else None).

    Parameters
    ----------
    rest_gravity_mps2 : float or None
        |a| measured standing still, m/s².

    Returns
    -------
    str or None
        The reading, what it does to stride and distance, and the fix.
    """
    if rest_gravity_mps2 is None or not math.isfinite(rest_gravity_mps2):
        return None
    off = rest_gravity_mps2 / STANDARD_GRAVITY_MPS2 - 1.0
    if abs(off) <= REST_GRAVITY_TOLERANCE:
        return None
    return (
        f"the accelerometer read |a| = {rest_gravity_mps2:.2f} m/s² standing still, "
        f"{100.0 * abs(off):.1f} % {'above' if off > 0 else 'below'} gravity (9.81 m/s²; it varies by "
        f"0.5 % over the Earth): its gain or offset is off, and stride length and distance may read "
        f"about {100.0 * abs(off):.0f} % {'long' if off > 0 else 'short'} (cadence is not affected; "
        "nothing is corrected); fix: re-calibrate the sensor's accelerometer or use another unit "
        "(at the lower back, `cadence-coach calibrate` absorbs it into its stride scale)"
    )


def _gyro_constant(batches: list[FifoBatch]) -> bool:
    """Tell whether the gyroscope's raw counts never changed while the accelerometer's did."""
    raw = np.concatenate([b.raw for b in batches])
    if raw.shape[0] < 10 or raw.shape[1] < 6:
        return False
    span = raw.max(axis=0).astype(np.int32) - raw.min(axis=0)
    return bool(np.all(span[3:6] == 0) and np.any(span[0:3] > 0))


class LiveLoop:
    """Run the device: read, record, detect, coach.

    Parameters
    ----------
    open_driver : callable
        ``open_driver() -> ImuDriver``: builds the driver on the current bus and runs its setup.
    reopen_bus : callable, optional
        Closes and reopens the I2C bus (called after a long fault); the next ``open_driver``
        uses the new bus.
    pipeline : dsp.Pipeline
        The signal-processing pipeline (the same one replay uses).
    recorder : Recorder or None
        Where raw samples go.
    clock : Clock
        Time source (a fake clock runs the loop as fast as possible).
    settings : LoopSettings, optional
        Timing.
    listener : DeviceEvents, optional
        Receives contacts, cues and device events (the cue hardware).
    keep_events : bool
        Keep every contact and block output in memory for a report at the end (a long run on
        the device does not: its log holds everything, and memory stays flat).
    barometer : object, optional
        A barometer driver with ``read_pressure_pa()`` (BMP280/BMP388), read every
        ``barometer_interval_s``; its readings go to the grade and into the log.
    battery : firmware_py.battery.BatteryWatch, optional
        Polled every ``battery.poll_s``: ``battery_low`` device events (cued), and a clean stop
        of the run when the battery is critical. Its readings go into the log.
    device_cues : dsp.coach.Coach, optional
        Decides the device's own cues (``ready``, ``sensor_lost``, ``recording_stopped``,
        ``battery_low``, each at most every ``device_repeat_s``) when the pipeline has no coach
        (``[coach] enabled = false``: no coaching, but the runner must still hear that the sensor
        is lost or the battery low). Default: the pipeline's coach.
    time_origin_s : float
        The time on ``clock`` that is 0 on the run's time base, s: every sample, gap, event and
        cue is timed ``clock`` time minus this (the start of the run, when the recorder read the
        wall clock for its header), not the host's time since boot. The driver keeps its own
        clock's times; the loop shifts what it hands on, so the log and the pipeline see the
        same numbers and a replay of the log equals the live run.
    """

    def __init__(
        self,
        *,
        open_driver: Callable[[], ImuDriver],
        pipeline: Pipeline,
        recorder: Recorder | None,
        clock: Clock,
        settings: LoopSettings | None = None,
        reopen_bus: Callable[[], None] | None = None,
        listener: Any = None,
        keep_events: bool = True,
        barometer: Any = None,
        battery: Any = None,
        time_origin_s: float = 0.0,
        device_cues: Any = None,
    ) -> None:
        self._open_driver = open_driver
        self.device_cues = device_cues
        self.time_origin_s = float(time_origin_s)
        self._reopen_bus = reopen_bus
        self.pipeline = pipeline
        self.recorder = recorder
        self.clock = clock
        self.settings = settings or LoopSettings()
        self.listener = listener
        self.keep_events = keep_events
        self.barometer = barometer
        self._baro_next = -math.inf
        self._baro_faults = 0
        self.battery = battery
        self._battery_stop: str | None = None
        self._battery_misses = 0
        self._retries = 0
        self.report = LoopReport()
        self._driver: ImuDriver | None = None
        self._bias: np.ndarray | None = None
        self._pending: list[FifoBatch] = []
        self._pending_s = 0.0
        self._recording_announced = False
        self._open_gap: tuple[float, str, float] | None = None  # (t_before_s, reason, t_next_s)

    # -- events -------------------------------------------------------------------------------
    def _notify(self, method: str, *args: Any) -> None:
        if self.listener is not None and hasattr(self.listener, method):
            getattr(self.listener, method)(*args)

    def _cues(self, cues: list[CueEvent]) -> None:
        if not cues:
            return
        for c in cues:
            self.report.cue_counts[c.kind] = self.report.cue_counts.get(c.kind, 0) + 1
        if self.keep_events:
            self.report.cues.extend(cues)
        if self.recorder is not None:
            for c in cues:
                self.recorder.event(
                    c.t_s, {"kind": "cue", "cue": c.kind, "level": c.level, "reason": c.reason}
                )
        self._notify("on_cues", cues)

    def _device(
        self,
        kind: str,
        t_s: float,
        reason: str,
        *,
        only_if_cued: bool = False,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Log and announce a device event and cue it (the coach rate-limits device cues).

        With ``only_if_cued`` (a reminder of a state already announced) nothing is logged or
        announced unless the coach cues it now: the coach alone decides how often it repeats.
        ``data`` adds fields to the logged event (e.g. the value measured).
        """
        coach = self.device_cues if self.device_cues is not None else self.pipeline.coach
        cues = coach.on_event(kind, t_s, reason) if coach is not None and kind in DEVICE_EVENT_KINDS else []
        if only_if_cued and not cues:
            return
        if self.recorder is not None:
            self.recorder.event(t_s, {"kind": kind, "reason": reason, **(data or {})})
        self._notify("on_device", kind, t_s, reason)
        self._cues(cues)

    def _check_recorder(self, t_s: float) -> None:
        rec = self.recorder
        if rec is not None and rec.stopped_reason and not self._recording_announced:
            self._recording_announced = True
            self.report.stopped_reason = rec.stopped_reason
            self._device("recording_stopped", t_s, rec.stopped_reason)

    # -- samples ------------------------------------------------------------------------------
    def _process(self, batch: FifoBatch) -> None:
        """Correct the gyroscope bias and feed the pipeline (after the bias window)."""
        if self._bias is None:
            self._pending.append(batch)
            self._pending_s += batch.n_samples / max(batch.sampling_rate_hz, 1.0)
            if self._pending_s < self.settings.bias_window_s:
                return
            acc = np.concatenate([b.acc_mps2 for b in self._pending])
            gyro = np.concatenate([b.gyro_rads for b in self._pending])
            bias = gyro_bias_if_still(acc, gyro, self.settings)
            self._bias = np.zeros(3) if bias is None else bias
            self.report.gyro_bias_rads = self._bias
            t0 = float(self._pending[0].t_s[0])
            # |a| at rest: the same stillness test as the bias, so the bias's answer (not tested again)
            rest_g = self.report.rest_gravity_mps2 = None if bias is None else _mean_magnitude(acc)
            if self.recorder is not None:
                # |a| at rest with it (null when the runner moved): the replay's summary reports it
                self.recorder.event(
                    t0,
                    {
                        "kind": "gyro_bias",
                        "gyro_bias_rads": [float(v) for v in self._bias],
                        "rest_gravity_mps2": rest_g,
                    },
                )
            note = "gyro bias measured while still" if bias is not None else "runner moving: no gyro bias"
            t_ready = float(self._pending[-1].t_s[-1])
            if self.pipeline.steps.has_gyro and _gyro_constant(self._pending):
                # a real gyroscope always has a few counts of noise: this one is off or broken (on
                # a fake bus, the recording has none). Go on without it, as a sensor without one:
                # nothing was fed yet, and the log says so, so that a replay decides the same
                self._drop_gyro(t0, t_ready)
            warning = rest_gravity_warning(rest_g)
            if warning is not None:
                self._device("rest_gravity_off", t_ready, warning, data={"rest_gravity_mps2": rest_g})
            self._device("ready", t_ready, note)
            pending, self._pending = self._pending, []
            for b in pending:
                self._feed(b)
            return
        self._feed(batch)

    def _drop_gyro(self, t0: float, t_ready: float) -> None:
        """Go on without a dead gyroscope: say what still works, what is lost and the fix; log it."""
        counts = [int(v) for v in self._pending[0].raw[0, 3:6]]
        self.pipeline.drop_gyro()
        self.report.gyro_dropped = True
        if self.recorder is not None:
            # the decision, for the replay (the raw gyroscope counts stay in the log)
            self.recorder.event(t0, {"kind": "gyro_dropped", "reason": "gyro_constant"})
        where = self.pipeline.placement
        if where == "lower_back":  # steps from the accelerometer alone
            goes_on = (
                "the lower-back detector does not need it: steps, cadence, stride and distance go on "
                "from the accelerometer; lost: the turn correction of the stride (a stride in a turn "
                "counts its arc); fix: replace the sensor for the turn rate"
            )
        elif where == "foot":
            goes_on = (
                "the run goes on without it: cadence coaching from the accelerometer alone (heel "
                "strikes, one contact per stride, less accurate on walks with turns and short steps); "
                "lost: stride length, speed and distance; fix: replace the sensor"
            )
        else:
            goes_on = (
                "the run goes on without it: cadence coaching from the accelerometer alone (the "
                "heel strikes of this leg, one contact per stride); lost: the terrain classifier "
                "(smooth unless set with the button); fix: replace the sensor"
            )
        self._device(
            "gyro_constant",
            t_ready,
            f"the gyroscope read the same counts {counts} on all three axes for "
            f"{self._pending_s:.1f} s while the accelerometer moved: it is off or broken "
            f"(on a fake bus: the recording has no gyroscope); {goes_on}",
        )

    def _feed(self, batch: FifoBatch) -> None:
        gyro = batch.gyro_rads - self._bias if self.pipeline.steps.has_gyro else None
        mode = self.pipeline.terrain_mode
        self._absorb(self.pipeline.process(batch.t_s, batch.acc_mps2, gyro))
        if self.pipeline.terrain_mode != mode and self.recorder is not None:
            # the mode button set the terrain by hand (the listener applied it after this batch's
            # steps): log it at the batch's last sample, so that a replay that sets the same mode
            # after the same sample decides the same targets and cues as the device did
            self.recorder.event(
                float(batch.t_s[-1]), {"kind": "terrain_mode", "mode": self.pipeline.terrain_mode}
            )

    def _absorb(self, update: PipelineUpdate) -> None:
        if self.keep_events and (update.steps or update.strides or update.cues or update.missed_strides):
            self.report.updates.append(update)
            self.report.events.extend(update.steps)
        self.report.n_steps += len(update.steps)
        if update.steps:
            self._notify("on_steps", update.steps)
        self._cues(update.cues)

    def _gap(self, before: float, after: float, reason: str) -> None:
        self.report.n_gaps += 1
        if self.keep_events:
            self.report.gaps.append((float(before), float(after), reason))
        if self.recorder is not None:
            self.recorder.gap(before, after, reason)

    def _to_run_time(self, batch: FifoBatch) -> FifoBatch:
        """Return the batch with its times (samples, gap) on the run's time base (0 at the start)."""
        t0 = self.time_origin_s
        if t0 == 0.0:
            return batch
        gap = batch.gap
        if gap is not None:
            gap = dataclasses.replace(gap, t_last_s=gap.t_last_s - t0, t_next_s=gap.t_next_s - t0)
        return dataclasses.replace(batch, t_s=batch.t_s - t0, gap=gap)

    def _handle(self, batch: FifoBatch) -> None:
        rep = self.report
        batch = self._to_run_time(batch)
        if batch.gap is not None and self._open_gap is None:
            # written when the first sample after it arrives: the driver's estimate of that
            # sample's time (gap.t_next_s) may differ from the time it then gives it, and a gap
            # must end at the first good sample (a batch that reports a gap may hold none)
            gap = batch.gap
            before = gap.t_last_s if np.isfinite(gap.t_last_s) else rep.last_t_s
            self._open_gap = (float(before), gap.reason, float(gap.t_next_s))
        if batch.n_samples == 0:
            return
        first = float(batch.t_s[0])
        if self._open_gap is not None:
            before, reason, _ = self._open_gap
            self._open_gap = None
            if np.isfinite(before) and first > before:  # nothing to mark before the first sample
                self._gap(before, first, reason)
        elif rep.samples and first - rep.last_t_s > 3.0 / max(batch.sampling_rate_hz, 1.0):
            # a jump in time that the driver did not report (e.g. a rebuilt driver): never stitch
            self._gap(rep.last_t_s, first, "restart")
        if rep.samples == 0:
            rep.first_t_s = float(batch.t_s[0])
        rep.samples += batch.n_samples
        rep.last_t_s = float(batch.t_s[-1])
        if self.recorder is not None:
            self.recorder.write(batch.t_s, batch.raw)
            self._check_recorder(rep.last_t_s)
        self._process(batch)

    def _read_barometer(self) -> None:
        """Read the barometer every ``barometer_interval_s``; a failing barometer is dropped."""
        if self.barometer is None or not np.isfinite(self.report.last_t_s):
            return
        now = self.clock.monotonic()
        if now < self._baro_next:
            return
        self._baro_next = now + self.settings.barometer_interval_s
        try:
            p_pa = float(self.barometer.read_pressure_pa())
        except (OSError, CadenceError) as exc:
            self._baro_faults += 1
            if self._baro_faults >= 20:  # keep coaching without the grade from pressure
                self.barometer = None
                self._device(
                    "barometer_lost",
                    self.report.last_t_s,
                    f"the barometer failed 20 readings in a row ({exc}); the run goes on without it: "
                    "grade from the foot's height change, or unknown at the lower back",
                )
            return
        self._baro_faults = 0
        t = self.report.last_t_s  # on the samples' time base: the newest sample so far
        self.pipeline.add_pressure(t, p_pa)
        if self.recorder is not None:
            self.recorder.event(t, {"kind": "pressure", "pressure_pa": p_pa})

    def _read_battery(self) -> None:
        """Poll the battery when due (every ``poll_s``); act on what it decides."""
        watch = self.battery
        if watch is None or not np.isfinite(self.report.last_t_s) or not watch.due(self.clock.monotonic()):
            return
        t = self.report.last_t_s  # on the samples' time base, like the barometer
        readings, errors = watch.readings, watch.errors
        events = watch.poll(self.clock.monotonic())
        self.report.battery_errors = watch.errors
        if watch.errors > errors:
            # failures are absorbed, but while they last neither battery_low nor the critical stop
            # can work: say so once a streak is long enough, and again when readings come back
            self._battery_misses += 1
            if self._battery_misses == BATTERY_MISSES_SAID:
                name = getattr(watch.monitor, "name", "the battery")
                self._device(
                    "battery_unread",
                    t,
                    f"{name} failed {BATTERY_MISSES_SAID} readings in a row ({watch.last_error}): "
                    "battery_low and the critical stop wait until it answers again; check the HAT",
                )
        if watch.readings > readings:
            if self._battery_misses >= BATTERY_MISSES_SAID:
                self._device(
                    "battery_read", t, f"battery read again after {self._battery_misses} failed readings"
                )
            self._battery_misses = 0
            self._record_battery(watch.last)
        for ev in events:
            # a reminder that the battery is still low is the coach's to cue (or not), like every
            # repeated device event: said and logged only when it is cued
            self._device(ev.kind, t, ev.reason, only_if_cued=ev.reminder)
            if ev.kind == "battery_critical":
                self._battery_stop = ev.reason

    def _record_battery(self, reading: Any) -> None:
        if self.recorder is not None and reading is not None:
            self.recorder.event(
                self.report.last_t_s,
                {
                    "kind": "battery",
                    "source": reading.source,
                    "percent": reading.percent,
                    "voltage_v": reading.voltage_v,
                    "under_voltage": reading.under_voltage,
                    "external_power": reading.external_power,
                },
            )

    # -- faults -------------------------------------------------------------------------------
    def _recover(self, stop: threading.Event, fault: BaseException, deadline: float = math.inf) -> bool:
        """Keep trying to reach the sensor; True once it answers again, False if stopped or out of time."""
        rep = self.report
        start = self.clock.monotonic()
        announced = False
        reopened = False
        last_t = rep.last_t_s if np.isfinite(rep.last_t_s) else 0.0

        def now_t() -> float:
            # when it happens on the run's time base (no sample to time it by meanwhile), never
            # before the last sample
            return max(last_t, self.clock.monotonic() - self.time_origin_s)

        while not stop.is_set() and self.clock.monotonic() < deadline:
            waited = self.clock.monotonic() - start
            if not announced and waited >= self.settings.sensor_lost_after_s:
                announced = True
                self._device("sensor_lost", now_t(), f"IMU not answering for {waited:.1f} s: {fault}")
            if not reopened and self._reopen_bus is not None and waited >= self.settings.reopen_bus_after_s:
                reopened = True
                try:
                    self._reopen_bus()
                except (OSError, CadenceError) as exc:
                    fault = exc
            try:
                if self._driver is not None and not reopened:
                    self._driver.setup()  # the same driver knows its timeline: it reports the gap
                else:
                    with contextlib.suppress(OSError, CadenceError):
                        if self._driver is not None:
                            self._driver.close()
                    self._driver = self._open_driver()
                rep.restarts += 1
                if announced:
                    self._device("sensor_back", now_t(), f"IMU answering again after {waited:.1f} s")
                return True
            except (OSError, CadenceError) as exc:
                fault = exc
                self._read_battery()  # the battery drains on while the sensor is away
                if self._battery_stop is not None:
                    return False
                self.clock.sleep(self.settings.retry_interval_s)
        return False

    # -- main ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event, *, duration_s: float | None = None) -> LoopReport:
        """Run until ``stop`` is set (or ``duration_s`` of clock time has passed).

        Parameters
        ----------
        stop : threading.Event
            Set it (e.g. from a signal handler) to end the loop cleanly.
        duration_s : float, optional
            Stop after this much time on the injected clock, s.

        Returns
        -------
        LoopReport
            What happened.
        """
        s = self.settings
        t_start = self.clock.monotonic()
        self._driver = self._open_driver()
        next_tick = self.clock.monotonic()
        try:
            while not stop.is_set() and self._battery_stop is None:
                if duration_s is not None and self.clock.monotonic() - t_start >= duration_s:
                    break
                try:
                    batch = self._driver.read_fifo()
                    self._retries = 0
                except ImuFaultError as fault:
                    self.report.faults += 1
                    if self._retries < s.retries_before_reset:
                        # a transient bus error (EREMOTEIO, EIO): try the drain again at once; the
                        # chip keeps its FIFO, so nothing is lost
                        self._retries += 1
                        self.clock.sleep(s.retry_wait_s)
                        continue
                    self._retries = 0
                    deadline = t_start + duration_s if duration_s is not None else math.inf
                    if not self._recover(stop, fault, deadline):
                        break
                    next_tick = self.clock.monotonic()
                    continue
                self._handle(batch)
                self._read_barometer()
                self._read_battery()
                next_tick += s.block_interval_s
                wait = next_tick - self.clock.monotonic()
                if wait > 0:
                    self.clock.sleep(wait)
                else:
                    next_tick = self.clock.monotonic()  # fell behind: do not try to catch up in a burst
            if self._driver is not None and not self._driver.closed:
                # a last drain, so that what the chip measured before the stop is recorded too
                with contextlib.suppress(ImuFaultError):
                    self._handle(self._driver.read_fifo())
            if self._open_gap is not None:  # samples were lost and none came after: mark it too
                before, reason, t_next = self._open_gap
                self._open_gap = None
                if np.isfinite(before) and t_next > before:
                    self._gap(before, t_next, reason)
            if self._bias is None and self._pending:  # a run shorter than the bias window
                self._bias = np.zeros(3)
                pending, self._pending = self._pending, []
                for b in pending:
                    self._feed(b)
            self._absorb(self.pipeline.finish())
            if self._battery_stop is not None:
                # an explicit, clean stop: say why in the log, then the log is flushed and closed
                self.report.battery_critical = self._battery_stop
                self.report.stopped_reason = "battery critical"
                self._recording_announced = True
                t_end = self.report.last_t_s if np.isfinite(self.report.last_t_s) else 0.0
                self._device("recording_stopped", t_end, f"battery critical: {self._battery_stop}")
        finally:
            if self._driver is not None:
                with contextlib.suppress(OSError, CadenceError):
                    self._driver.close()
            if self.recorder is not None:
                self.recorder.close()
                self._check_recorder(self.report.last_t_s)
        return self.report
