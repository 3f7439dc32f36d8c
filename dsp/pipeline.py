"""The one pipeline that both the live loop and replay feed: blocks in, events out.

Per block: foot contacts (``dsp.steps``) -> stride length and speed (``dsp.stride``) ->
terrain (``dsp.terrain``, or by hand with the mode button) and grade (``dsp.grade``, from a
barometer or the foot's height change per stride) -> the coach (``dsp.coach``), which decides
*that* a cue is due and why. The live loop plays the cues on the pins; replay writes them to
the report. Both call exactly this code.
"""

from __future__ import annotations

import heapq
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from dsp import _step_kernels as KS
from dsp import _stride_kernels as KR
from dsp import _terrain_kernels as KT
from dsp.coach import Coach, CueEvent, StepInput
from dsp.exc import PlacementWarning, ValidationError
from dsp.grade import GradeEstimator, GradeSettings
from dsp.steps import StepDetector, StepSettings, canonical_placement
from dsp.stride import StrideSettings, _block_arrays, _contact_rows_of, make_stride_estimator
from dsp.terrain import TerrainClassifier, TerrainSettings

_SIDES = {"l": "L", "left": "L", "r": "R", "right": "R"}
_NO_CONTACTS = np.zeros(0)


def _contact_time(st: StrideUpdate) -> float:
    return st.t_contact_s


def _opt(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


# -- per-step records without the frozen dataclasses' __init__ ---------------------------------------
# A frozen dataclass's __init__ stores each field through object.__setattr__ (plain assignment is
# refused), ~0.1 us a field: building the StepEvent (14 fields), StepInput (7) and StrideUpdate (6) of
# every step that way was about a quarter of a lower-back replay's Python. These builders fill the
# new instance's __dict__ directly, every field, in field order: the same object as the class call
# (equal, same repr and pickle; still frozen). Only for classes without __post_init__ or slots;
# tests/test_pipeline.py holds each against the class call and its list of fields.
_new = object.__new__


def _step_event(
    t_s: float,
    emitted_at_s: float,
    side: str | None,
    cadence_spm: float | None,
    gait: str,
    terrain: str,
    grade: str,
    target_cadence_spm: float | None,
    target_stride_length_m: float | None,
    on_target: bool | None,
) -> StepEvent:
    """Build a :class:`StepEvent` of these fields, its stride fields None (see ``with_stride``)."""
    ev = _new(StepEvent)
    d = ev.__dict__
    d["t_s"] = t_s
    d["emitted_at_s"] = emitted_at_s
    d["side"] = side
    d["cadence_spm"] = cadence_spm
    d["gait"] = gait
    d["stride_length_m"] = None
    d["step_length_m"] = None
    d["speed_mps"] = None
    d["height_change_m"] = None
    d["terrain"] = terrain
    d["grade"] = grade
    d["target_cadence_spm"] = target_cadence_spm
    d["target_stride_length_m"] = target_stride_length_m
    d["on_target"] = on_target
    return ev


def _stride_update(
    t_contact_s: float,
    stride_length_m: float | None,
    step_length_m: float | None,
    speed_mps: float | None,
    height_change_m: float | None,
    ready_at_s: float,
) -> StrideUpdate:
    """Build a :class:`StrideUpdate` of these fields."""
    st = _new(StrideUpdate)
    d = st.__dict__
    d["t_contact_s"] = t_contact_s
    d["stride_length_m"] = stride_length_m
    d["step_length_m"] = step_length_m
    d["speed_mps"] = speed_mps
    d["height_change_m"] = height_change_m
    d["ready_at_s"] = ready_at_s
    return st


def _step_input(
    t_s: float,
    cadence_spm: float | None,
    stride_length_m: float | None,
    gait: str,
    terrain: str,
    grade: str,
    grade_pct: float | None,
) -> StepInput:
    """Build a :class:`dsp.coach.StepInput` of these fields."""
    si = _new(StepInput)
    d = si.__dict__
    d["t_s"] = t_s
    d["cadence_spm"] = cadence_spm
    d["stride_length_m"] = stride_length_m
    d["gait"] = gait
    d["terrain"] = terrain
    d["grade"] = grade
    d["grade_pct"] = grade_pct
    return si


@dataclass(frozen=True)
class StepEvent:
    """One foot contact as the rest of the product sees it.

    Attributes
    ----------
    t_s : float
        Contact time, s, on the input's time base.
    emitted_at_s : float
        Time of the sample that decided it, s.
    side : str or None
        ``"L"`` or ``"R"`` when the signal tells (a foot sensor with a known side), else None.
    cadence_spm : float or None
        Cadence counting both feet, steps/min; None before two contacts are known.
    gait : str
        ``"walk"`` or ``"run"``.
    stride_length_m : float or None
        Length of the stride (two steps) that ends at this contact, m; None until known.
    step_length_m : float or None
        Length of the step that ends here, m (lower back only).
    speed_mps : float or None
        Speed over that stride, m/s.
    height_change_m : float or None
        Height gained over that stride, m (foot sensor only).
    terrain : str
        ``"smooth"`` or ``"technical"`` at this contact.
    grade : str
        ``"climb"``, ``"flat"``, ``"descent"`` or ``"unknown"``.
    target_cadence_spm : float or None
        The coach's cadence target here, steps/min (None while it learns the baseline).
    target_stride_length_m : float or None
        The coach's stride target here, m.
    on_target : bool or None
        The coach's verdict on this running step: False when its cadence is below the target's
        band or its stride above it (what the coach cues), else True; None while walking, without
        targets or with coaching off.
    """

    t_s: float
    emitted_at_s: float
    side: str | None
    cadence_spm: float | None
    gait: str
    stride_length_m: float | None = None
    step_length_m: float | None = None
    speed_mps: float | None = None
    height_change_m: float | None = None
    terrain: str = "smooth"
    grade: str = "unknown"
    target_cadence_spm: float | None = None
    target_stride_length_m: float | None = None
    on_target: bool | None = None

    def with_stride(self, stride: StrideUpdate) -> StepEvent:
        """Return this contact with the stride fields of ``stride``.

        Parameters
        ----------
        stride : StrideUpdate
            The stride that ends at this contact.

        Returns
        -------
        StepEvent
            A copy with ``stride_length_m``, ``step_length_m``, ``speed_mps`` and
            ``height_change_m`` from ``stride``: ``dataclasses.replace(self, ...)``, ~6x faster
            (the copy's fields are set in its ``__dict__``, in field order, not one
            ``object.__setattr__`` each).
        """
        ev = _new(StepEvent)
        d = ev.__dict__
        d.update(self.__dict__)
        d["stride_length_m"] = stride.stride_length_m
        d["step_length_m"] = stride.step_length_m
        d["speed_mps"] = stride.speed_mps
        d["height_change_m"] = stride.height_change_m
        return ev


@dataclass(frozen=True)
class StrideUpdate:
    """A stride whose length became known (possibly blocks after its contact).

    Attributes
    ----------
    t_contact_s : float
        The contact that ends the stride, s (matches a :class:`StepEvent`'s ``t_s``).
    stride_length_m, step_length_m, speed_mps, height_change_m : float or None
        As in :class:`StepEvent`.
    ready_at_s : float
        Time of the sample that completed the estimate, s.
    """

    t_contact_s: float
    stride_length_m: float | None
    step_length_m: float | None
    speed_mps: float | None
    height_change_m: float | None
    ready_at_s: float = math.nan


@dataclass
class PipelineUpdate:
    """What one block produced.

    Attributes
    ----------
    steps : list of StepEvent
        New contacts (their stride fields are filled from ``strides``, which may come later).
    strides : list of StrideUpdate
        Strides that became known in this block.
    cues : list of dsp.coach.CueEvent
        Cues the coach decided on.
    missed_strides : list of StrideUpdate
        Strides of a foot sensor whose contact the step detector missed (``t_contact_s`` is the
        stride estimator's own contact time): no step carries them, and neither the coach nor the
        grade hears of them, but the distance covered counts them.
    """

    steps: list[StepEvent] = field(default_factory=list)
    strides: list[StrideUpdate] = field(default_factory=list)
    cues: list[CueEvent] = field(default_factory=list)
    missed_strides: list[StrideUpdate] = field(default_factory=list)


class Pipeline:
    """Streaming pipeline: :meth:`process` (or :meth:`update`) per block, :meth:`finish` at the end.

    Parameters
    ----------
    sampling_rate_hz : float
        Nominal sampling rate, Hz.
    placement : str
        ``lower_back`` (or ``waist``, ``belt``), ``foot`` or ``shank``.
    has_gyro : bool
        Whether blocks carry gyroscope data.
    placement_side : str, optional
        ``left`` or ``right`` (``L``, ``R``) for a foot or shank sensor (labels its contacts).
        Any other text (a sidecar's "not documented") means the side is unknown: contacts get
        ``side`` None.
    step_settings : StepSettings, optional
        Step detector constants.
    stride_settings : StrideSettings, optional
        Stride estimator constants (per-runner scales from calibration go here).
    runner_height_m : float, optional
        Runner's height, m (the lower-back stride model needs it; a typical adult's otherwise).
    coach : dsp.coach.Coach, optional
        The coach; without one, no cues and no targets.
    terrain_settings : TerrainSettings, optional
        Terrain classifier constants.
    grade_settings : GradeSettings, optional
        Grade estimator constants.
    acc_range_mps2, gyro_range_rads : float, optional
        The sensor's full-scale ranges, when known: clipped samples are counted
        (``steps.flags.saturated_samples``).

    Warns
    -----
    dsp.exc.PlacementWarning
        For a foot sensor without a gyroscope (its contacts from the accelerometer alone, less
        accurate; no stride).

    Notes
    -----
    The terrain classifier was fitted and evaluated on shin data only; for other placements it
    stays at ``smooth`` unless ``TerrainSettings(allow_untested_placement=True)`` (the mode button
    sets the terrain by hand on any placement).
    """

    def __init__(
        self,
        *,
        sampling_rate_hz: float,
        placement: str,
        has_gyro: bool,
        placement_side: str | None = None,
        step_settings: StepSettings | None = None,
        stride_settings: StrideSettings | None = None,
        runner_height_m: float | None = None,
        coach: Coach | None = None,
        terrain_settings: TerrainSettings | None = None,
        grade_settings: GradeSettings | None = None,
        acc_range_mps2: float | None = None,
        gyro_range_rads: float | None = None,
    ) -> None:
        self.placement = canonical_placement(placement)
        if self.placement == "foot" and not has_gyro:
            warnings.warn(
                "foot sensor without a gyroscope: the foot's rotation cannot be tracked, so its "
                "contacts are found from the accelerometer alone (heel-strike impacts, less "
                "accurate than with a gyroscope, mostly on walks with turns and short steps) and "
                "no stride length, speed or distance is given; fit a gyroscope for those",
                PlacementWarning,
                stacklevel=2,
            )
        # what the detector, the stride estimator and the terrain classifier are built from (again
        # by drop_gyro, for a gyroscope found dead before the first block)
        self._parts_args = {
            "sampling_rate_hz": sampling_rate_hz,
            "placement_side": placement_side,
            "step_settings": step_settings,
            "stride_settings": stride_settings,
            "runner_height_m": runner_height_m,
            "terrain_settings": terrain_settings,
            "acc_range_mps2": acc_range_mps2,
            "gyro_range_rads": gyro_range_rads,
        }
        self._build_parts(has_gyro)
        self.coach = coach
        self.grade = GradeEstimator(grade_settings)
        self.terrain_mode = "auto"  # "auto", or a manual "smooth"/"technical" from the button
        self._finished = False  # finish() ends the input: a later block would be mis-joined
        self._last_stride_m: float | None = None
        self._missed: list[StrideUpdate] = []
        # heaps by the time each input became known: strides (ready_at_s) and barometer readings
        self._for_grade: list[tuple[float, int, StrideUpdate]] = []
        self._pressure: list[tuple[float, float]] = []
        self._n_queued = 0

    def _build_parts(self, has_gyro: bool) -> None:
        """Build the step detector, the stride estimator and the terrain classifier afresh."""
        a = self._parts_args
        self.steps = StepDetector(
            sampling_rate_hz=a["sampling_rate_hz"],
            placement=self.placement,
            has_gyro=has_gyro,
            settings=a["step_settings"],
            acc_range_mps2=a["acc_range_mps2"],
            gyro_range_rads=a["gyro_range_rads"],
        )
        side = _SIDES.get(str(a["placement_side"]).strip().lower()) if a["placement_side"] else None
        # Only a sensor on one foot knows the side of its contacts.
        self.side = side if self.steps.steps_feet == "one" else None
        self.stride = None
        if self.placement == "lower_back" or (self.placement == "foot" and has_gyro):
            self.stride = make_stride_estimator(
                sampling_rate_hz=a["sampling_rate_hz"],
                placement=self.placement,
                has_gyro=has_gyro,
                runner_height_m=a["runner_height_m"],
                settings=a["stride_settings"],
            )
        self.terrain = TerrainClassifier(
            sampling_rate_hz=a["sampling_rate_hz"],
            placement=self.placement,
            has_gyro=has_gyro,
            settings=a["terrain_settings"],
        )

    def drop_gyro(self) -> None:
        """Go on without the gyroscope: what a pipeline built with ``has_gyro=False`` does.

        For a gyroscope found dead (off or broken) before any sample was fed: a foot sensor then
        finds its contacts from the accelerometer alone (limb mode) and gives no stride; so does a
        shank sensor (shank mode, one contact per stride); the lower back keeps its detector and
        estimates its strides without the turn rate. The coach, the grade and the terrain mode
        stay as they are. Unlike the constructor, it does not warn: the caller says why.

        Raises
        ------
        ValidationError
            When a block was fed already (the parts' state cannot change mode mid-stream).
        """
        if self.steps.flags.samples or self._finished:
            raise ValidationError(
                "drop_gyro() after samples were fed: decide before the first block (or build the "
                "pipeline with has_gyro=False)"
            )
        if self.steps.has_gyro:
            self._build_parts(False)

    @property
    def steps_feet(self) -> str:
        """``"one"`` when the events are the contacts of the instrumented foot only, else ``"both"``."""
        return self.steps.steps_feet

    def set_terrain_mode(self, mode: str) -> None:
        """Set the terrain by hand (``smooth``, ``technical``) or give it back (``auto``).

        Parameters
        ----------
        mode : str
            ``"auto"``, ``"smooth"`` or ``"technical"``.

        Raises
        ------
        ValidationError
            For any other value (a ``ValueError``).
        """
        if mode not in ("auto", "smooth", "technical"):
            raise ValidationError(
                f"terrain mode {mode!r} is not supported; use one of auto, smooth, technical"
            )
        self.terrain_mode = mode
        if self.coach is not None:
            self.coach.set_terrain_mode(mode)

    def update(
        self, t_s: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray | None = None
    ) -> list[StepEvent]:
        """Feed one block and return only the new contacts (see :meth:`process` for the rest).

        Parameters
        ----------
        t_s : numpy.ndarray
            Sample times, shape ``(n,)``, s.
        acc_mps2 : numpy.ndarray
            Accelerometer, shape ``(n, 3)``, m/s².
        gyro_rads : numpy.ndarray, optional
            Gyroscope, shape ``(n, 3)``, rad/s; required when built with ``has_gyro=True``.

        Returns
        -------
        list of StepEvent
            The contacts decided in this block.

        Raises
        ------
        ValidationError
            As :meth:`process`.
        """
        return self.process(t_s, acc_mps2, gyro_rads).steps

    def process(
        self, t_s: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray | None = None
    ) -> PipelineUpdate:
        """Feed one block of samples.

        Parameters
        ----------
        t_s : numpy.ndarray
            Sample times, shape ``(n,)``, s.
        acc_mps2 : numpy.ndarray
            Accelerometer, shape ``(n, 3)``, m/s².
        gyro_rads : numpy.ndarray, optional
            Gyroscope, shape ``(n, 3)``, rad/s; required when built with ``has_gyro=True``.

        Returns
        -------
        PipelineUpdate
            New contacts, strides that became known, and cues (all empty for a zero-length block).

        Raises
        ------
        ValidationError
            When an array does not hold real numbers, the shapes do not match, the gyroscope
            block is missing although one was promised, or :meth:`finish` was called already.
        """
        if self._finished:
            raise ValidationError(
                "process() after finish(): the pipeline's input has ended; make a new Pipeline "
                "(make_pipeline) for a new recording"
            )
        # Each block is checked once, and the kernels' output rows are read directly (no result
        # objects per block): the same values as through the public update() of each part.
        t, acc, gyro = self.steps._check_block(t_s, acc_mps2, gyro_rads)
        if gyro_rads is not None and not self.steps.has_gyro and self.stride is not None:
            _block_arrays(t, acc, gyro_rads, need_gyro=False)  # the stride estimator checks it too
        rows = self.steps._block_rows(t, acc, gyro)
        if rows.shape[0]:
            cols = rows.T.tolist()  # plain Python floats once (the same values as float() of each)
            contacts_t = cols[KS.O_T]
            contacts_run = cols[KS.O_RUN]
        else:
            cols = None
            contacts_t = contacts_run = []
        strides: list[StrideUpdate] = []
        if self.stride is not None:
            srows = self.stride._update_rows(
                t, acc, gyro, _contact_rows_of(contacts_t, contacts_run) if cols is not None else None
            )
            if srows.shape[0]:
                strides = self._stride_rows(srows)
                # the grade hears of a stride only from the moment its estimate was ready
                for st in strides:
                    if st.stride_length_m is not None:
                        heapq.heappush(self._for_grade, (st.ready_at_s, self._n_queued, st))
                        self._n_queued += 1
        if self.terrain.model_applies:
            contacts = rows[:, KS.O_T].copy() if cols is not None else _NO_CONTACTS
            trows = self.terrain._update_rows(t, acc, gyro if self.steps.has_gyro else None, contacts)
            terrain_list = trows[:, KT.O_TERRAIN].tolist()
        else:  # the shipped model does not apply here: the state stays smooth, nothing to compute
            terrain_list = [0.0] * len(contacts_t)
        update = PipelineUpdate(strides=strides)
        if cols is not None:  # one terrain state per contact
            self._finish_block(update, cols, terrain_list)
        if self._missed:
            update.missed_strides, self._missed = self._missed, []
        return update

    def add_pressure(self, t_s: float, pressure_pa: float) -> None:
        """Queue a barometer reading (a few per second) for the grade.

        The grade takes it in before the first contact decided after ``t_s``, so replaying
        the readings stored in a log gives the grade the device had live.

        Parameters
        ----------
        t_s : float
            Time of the reading on the samples' time base, s.
        pressure_pa : float
            Pressure, Pa (a NaN or non-positive reading is counted in ``grade.bad_pressure`` and
            skipped).

        Raises
        ------
        ValidationError
            When ``t_s`` or ``pressure_pa`` is not a number.
        """
        try:
            reading = (float(t_s), float(pressure_pa))
        except (TypeError, ValueError):
            raise ValidationError(
                f"add_pressure(t_s={t_s!r}, pressure_pa={pressure_pa!r}): both must be numbers (s, Pa)"
            ) from None
        heapq.heappush(self._pressure, reading)

    def finish(self) -> PipelineUpdate:
        """End of the input: the strides still waiting for their next stance.

        Returns
        -------
        PipelineUpdate
            The strides answered now (unknown ones without a length) and the strides missed since
            the last block; empty on a second call. Afterwards :meth:`process` refuses more
            samples: a new recording needs a new pipeline.
        """
        self._finished = True
        if self.stride is None:
            return PipelineUpdate()
        rows = self.stride._flush_rows()
        update = PipelineUpdate(strides=self._stride_rows(rows) if rows.shape[0] else [])
        update.missed_strides, self._missed = self._missed, []
        return update

    # -- internals ----------------------------------------------------------------------------------
    def _stride_rows(self, out: np.ndarray) -> list[StrideUpdate]:
        """Stride updates from the stride kernel's rows (columns ``_stride_kernels.O_*``)."""
        cols = out.T.tolist()  # plain Python floats once (the same values as float() of each element)
        has = cols[KR.O_HAS_CONTACT]
        t = cols[KR.O_T]
        stride = cols[KR.O_STRIDE]
        step = cols[KR.O_STEP]
        speed = cols[KR.O_SPEED]
        dz = cols[KR.O_DZ]
        ready = cols[KR.O_READY]
        rows = []
        isfinite = math.isfinite
        for i in range(len(t)):
            # _opt() of each field, inline (the values are already Python floats)
            sl, sp, v, h = stride[i], step[i], speed[i], dz[i]
            row = _stride_update(
                t[i],
                sl if isfinite(sl) else None,
                sp if isfinite(sp) else None,
                v if isfinite(v) else None,
                h if isfinite(h) else None,
                ready[i],
            )
            if has[i] > 0.5:
                rows.append(row)
            elif row.stride_length_m is not None:
                # the step detector missed its contact: no step to attach it to, but it was walked
                self._missed.append(row)
        return rows

    def _strides_until(self, t_s: float) -> None:
        """Take in every barometer reading before ``t_s`` and every stride ready by ``t_s``.

        The grade hears of them and the coach sees the stride as the latest one; in time order,
        so any chunking gives the same result.
        """
        while self._pressure and self._pressure[0][0] < t_s:
            t_p, p_pa = heapq.heappop(self._pressure)
            self.grade.update_pressure(t_p, p_pa)
        for_grade = self._for_grade
        if not for_grade or for_grade[0][0] > t_s:
            return
        due = []
        while for_grade and for_grade[0][0] <= t_s:
            due.append(heapq.heappop(for_grade)[2])
        if len(due) > 1:
            due.sort(key=_contact_time)  # the grade takes strides in time order
        self._last_stride_m = due[-1].stride_length_m
        one_stride = self.grade._one_stride  # update_stride() of one stride, without its GradeState
        for st in due:  # one at a time: the same as one call with the arrays, without them
            dz = st.height_change_m
            one_stride(st.t_contact_s, st.stride_length_m, math.nan if dz is None else dz)

    def _finish_block(self, out: PipelineUpdate, cols: list[list[float]], terrain_list: list[float]) -> None:
        """Build each new contact's event from what was known when it was decided, and coach it.

        ``cols`` are the step kernel's output columns (``_step_kernels.O_*``) as lists, and
        ``terrain_list`` the terrain state (0.0 smooth, 1.0 technical) at each contact.
        Strides (and so the grade and the coach's latest stride) count only from the moment their
        estimate was ready, so any chunking of the input gives the same events and cues. The
        stride fields of the events are filled later, by :func:`firmware_py.replay.join_strides`.
        """
        t_list = cols[KS.O_T]
        emitted_list = cols[KS.O_T_EMIT]
        cad_list = cols[KS.O_CADENCE]
        run_list = cols[KS.O_RUN]
        n = len(t_list)
        coach = self.coach
        grade = self.grade
        side = self.side
        mode = self.terrain_mode
        pressure = self._pressure
        for_grade = self._for_grade
        steps = out.steps
        cues = out.cues
        isfinite = math.isfinite
        for i in range(n):
            cad = cad_list[i]
            cadence = cad if isfinite(cad) else None
            emitted = emitted_list[i]
            if (pressure and pressure[0][0] < emitted) or (for_grade and for_grade[0][0] <= emitted):
                self._strides_until(emitted)
            ground = mode if mode != "auto" else ("technical" if terrain_list[i] == 1 else "smooth")
            gait = "run" if run_list[i] > 0.5 else "walk"
            t = t_list[i]
            grade_now = grade._grade  # grade.state.grade, without building the state
            if coach is None:
                steps.append(
                    _step_event(t, emitted, side, cadence, gait, ground, grade_now, None, None, None)
                )
                continue
            stride = self._last_stride_m  # the latest stride known when this step was decided
            gp = grade._grade_pct  # grade.state.grade_pct
            new_cues = coach.update(
                _step_input(
                    t,
                    cadence,
                    stride,
                    gait,
                    ground,
                    grade_now,
                    float(gp) if gp is not None and isfinite(gp) else None,
                )
            )
            if new_cues:
                cues.extend(new_cues)
            tg = coach.last_targets  # what the coach judged this step by (the terrain in force)
            steps.append(
                _step_event(
                    t,
                    emitted,
                    side,
                    cadence,
                    gait,
                    ground,
                    grade_now,
                    tg.cadence_spm,
                    tg.stride_length_m,
                    coach.last_on_target,
                )
            )
