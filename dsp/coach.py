"""The coach: baseline, targets per terrain and the cue policy, as a pure streaming object.

The coach decides *that* a cue is due and *why*; ``firmware_py.outputs`` decides how it sounds.
Nothing here reads a clock: time is the ``t_s`` of the steps and device events fed in, so a
recorded run replays to exactly the same cues (see ``docs/cues.md`` for the policy in prose).

Stride length follows :class:`dsp.pipeline.StepEvent`: one **stride** is one gait cycle (two
steps), so speed is ``cadence_spm / 60 * stride_length_m / 2``.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields

from dsp._rolling import RollingMedian
from dsp.exc import ValidationError

__all__ = [
    "CUE_KINDS",
    "DEVICE_EVENT_KINDS",
    "GAITS",
    "GRADES",
    "TERRAINS",
    "TERRAIN_MODES",
    "TOBLER_FLAT_SPEED_MPS",
    "Baseline",
    "Coach",
    "CoachSettings",
    "CueEvent",
    "StepInput",
    "Targets",
    "TerrainTargets",
    "speed_mps",
    "tobler_speed_mps",
]

#: Terrain classes the coach has targets for.
TERRAINS = ("smooth", "technical")
#: Grade classes of a step.
GRADES = ("climb", "flat", "descent", "unknown")
#: Gait classes of a step.
GAITS = ("walk", "run")
#: Terrain modes: automatic (from the terrain classifier) or set by hand (the mode button).
TERRAIN_MODES = ("auto", "smooth", "technical")
#: Every cue kind the coach emits (coaching cues first, then device events).
CUE_KINDS = (
    "quicken_steps",
    "shorten_stride",
    "hike",
    "run",
    "terrain_changed",
    "ready",
    "sensor_lost",
    "recording_stopped",
    "battery_low",
)
#: Cue level of each device event kind (1 = gentle .. 3 = urgent).
DEVICE_EVENT_LEVELS = {"ready": 1, "battery_low": 2, "recording_stopped": 2, "sensor_lost": 3}
#: Device event kinds accepted by :meth:`Coach.on_event`.
DEVICE_EVENT_KINDS = tuple(DEVICE_EVENT_LEVELS)
#: Tobler's hiking function on the flat: 6 exp(-3.5 * 0.05) km/h = 5.04 km/h, in m/s.
TOBLER_FLAT_SPEED_MPS = 6.0 * math.exp(-3.5 * 0.05) / 3.6

#: A repeated device event this much earlier than ``device_repeat_s`` still counts as due, s.
#: Reminders that come on a schedule (the battery is read every 15 s) are stamped with the latest
#: sample's time, which jitters by a drain period; without the slack the fourth reading after a
#: 60 s repeat fell 2 ms short, and the reminder came after 75 s.
DEVICE_REPEAT_SLACK_S = 0.5

# Cue kinds that share one off-target streak: cadence and stride are two views of one running
# form, so alternating between them must not restart the count.
_CHANNEL = {"quicken_steps": "form", "shorten_stride": "form", "hike": "hike", "run": "run"}
# Grades whose running does not teach the smooth-ground baseline.
_SLOPES = ("climb", "descent")
# Longest time step counted towards the smooth-running time of baseline learning, s.
_LEARN_MAX_DT_S = 2.0


def speed_mps(cadence_spm: float | None, stride_length_m: float | None) -> float | None:
    """Return the running or walking speed from cadence and stride length.

    Parameters
    ----------
    cadence_spm : float or None
        Cadence counting both feet, steps/min.
    stride_length_m : float or None
        Stride (two steps) length, m.

    Returns
    -------
    float or None
        Speed, m/s; None when either input is missing.
    """
    if cadence_spm is None or stride_length_m is None:
        return None
    return cadence_spm / 60.0 * stride_length_m / 2.0


def tobler_speed_mps(grade_pct: float, flat_speed_mps: float = TOBLER_FLAT_SPEED_MPS) -> float:
    """Hiking speed on a grade from Tobler's hiking function, scaled to a flat walking speed.

    Parameters
    ----------
    grade_pct : float
        Grade, % (rise over run × 100; positive uphill).
    flat_speed_mps : float
        The walker's speed on the flat, m/s (Tobler's own is 5.04 km/h = 1.40 m/s).

    Returns
    -------
    float
        Walking speed, m/s.

    Notes
    -----
    W = 6 exp(-3.5 |S + 0.05|) km/h with S the slope (dh/dx); Tobler, W. (1993), "Three
    presentations on geographical analysis and modeling", NCGIA Technical Report 93-1, fitted to
    Imhof's hiking data. Here it is used as a shape: W(S) / W(0) × ``flat_speed_mps``.
    """
    s = grade_pct / 100.0
    return flat_speed_mps * math.exp(-3.5 * (abs(s + 0.05) - 0.05))


@dataclass(frozen=True)
class TerrainTargets:
    """Target factors for one terrain, relative to the runner's smooth-ground baseline.

    Parameters
    ----------
    cadence_factor : float
        Target cadence = baseline cadence × this (then clamped, see :class:`CoachSettings`).
    stride_factor : float
        Target stride length = baseline stride length × this.
    """

    cadence_factor: float = 1.0
    stride_factor: float = 1.0


@dataclass(frozen=True)
class CoachSettings:
    """Every constant of the coach; defaults are the ``brief`` profile and ``config/default.toml``.

    Parameters
    ----------
    enabled : bool
        False: no coaching cues at all (device events are still passed through).
    smooth, technical : TerrainTargets
        Target factors per terrain.
    cadence_floor_spm, cadence_ceiling_spm : float
        Bounds of a target cadence whose factor is not 1, steps/min. The ceiling is physiological:
        cadence cannot grow without limit (see ``docs/cues.md``).
    stride_floor_m : float
        Lowest target stride length, m.
    cadence_tolerance_spm : float
        Half-width of the on-target band of cadence, steps/min.
    stride_tolerance_pct : float
        Half-width of the on-target band of stride length, % of the target.
    min_off_target_steps, min_off_target_s : int, float
        A cue needs the runner off target for at least this many steps AND this long, s.
    repeat_s : float
        While still off target, at most one cue per this many seconds, s, up to the cue at
        ``max_level``; less often after it (``repeat_backoff``).
    max_level : int
        Escalation stops at this level (1 = no escalation).
    repeat_backoff : float
        Once a stretch's cue has reached ``max_level``, each further repeat waits this many times
        as long as the one before (≥ 1; 1 = every ``repeat_s``, as before the back-off): a runner
        who does not or cannot follow the cue is not told the same thing every ``repeat_s`` for
        as long as the stretch lasts.
    max_repeat_s : float
        The longest wait between two repeats of the back-off, s (≥ ``repeat_s``).
    settle_steps, settle_s : int, float
        An off-target stretch ends after this many consecutive on-target steps; once it has been
        cued, only after this many AND this long on target, s (from the first of them). Shorter
        blips back into the band do not end it, so a runner hovering at the band's edge stays in
        the one stretch whose repeats back off. ``settle_s`` = 0: the steps alone (the rule before
        ``settle_s``).
    min_cue_gap_s : float
        Least time between any two coaching cues, s.
    metronome_beats : int
        Beats at the target cadence played after a cadence or stride cue; 0 = no metronome.
    terrain_changed_cue : bool
        Emit ``terrain_changed`` when the (confirmed) terrain changes.
    terrain_confirm_steps : int
        Consecutive steps of a new automatic terrain before the coach switches targets.
    gap_reset_s : float
        A pause between steps longer than this restarts every off-target stretch, s.
    device_repeat_s : float
        The same device event is cued at most once per this many seconds, s (less
        ``DEVICE_REPEAT_SLACK_S``: a reminder that comes on its own schedule, such as the battery's
        readings every 15 s, is stamped with the latest sample's time and may fall a few
        milliseconds short of the repeat; it still counts as due).
    baseline_learn_s : float
        Smooth running needed before a learned baseline is set, s.
    baseline_min_steps : int
        Smooth running steps needed before a learned baseline is set.
    baseline_window_steps : int
        Steps in the robust (median) window of the learned baseline.
    baseline_update_steps : float
        Time constant of the slow update of a learned baseline, steps.
    hike_min_grade_pct : float
        A climb at least this steep may call for hiking, %.
    hike_speed_ratio : float
        Suggest hiking when running speed ≤ hiking speed × this.
    hike_no_speed_grade_pct : float
        Without a stride length (no speed), suggest hiking from this grade on, %.
    run_max_grade_pct : float
        After hiking, suggest running again once the grade is below this, %.
    run_speed_ratio : float
        On a steep climb, suggest running when the runner's own running at that grade was at least
        this many times faster than their hiking now.
    run_window_s : float
        Suggest running again only within this time after hiking a steep climb, s.
    run_cue_repeats : bool
        False: ``run`` is a one-shot, said once (at level 1) per hike and not repeated or escalated
        while the runner keeps walking (they have a reason: eating at the aid station, a steep
        rocky descent); it can be said again only after a new hike, that is steep hiking after the
        runner left the climb (a known grade off the climb or below ``run_max_grade_pct``). True:
        it repeats and escalates as every other coaching cue (the rule before the one-shot).
    hiking_speed_flat_mps : float
        The runner's walking speed on the flat, m/s: scales Tobler's model until the session has
        the runner's own hiking.
    hiking_grade_bin_pct : float
        Own hiking/running observations within ± this of a grade describe that grade, %.
    hiking_min_steps : int
        Observations needed before the runner's own hiking (or running) speed is trusted.
    """

    enabled: bool = True
    smooth: TerrainTargets = field(default_factory=TerrainTargets)
    technical: TerrainTargets = field(default_factory=lambda: TerrainTargets(2.0, 0.5))
    cadence_floor_spm: float = 150.0
    cadence_ceiling_spm: float = 230.0
    stride_floor_m: float = 0.5
    cadence_tolerance_spm: float = 5.0
    stride_tolerance_pct: float = 8.0
    min_off_target_steps: int = 12
    min_off_target_s: float = 8.0
    repeat_s: float = 20.0
    max_level: int = 3
    repeat_backoff: float = 2.0
    max_repeat_s: float = 300.0
    settle_steps: int = 4
    settle_s: float = 8.0
    min_cue_gap_s: float = 3.0
    metronome_beats: int = 0
    terrain_changed_cue: bool = True
    terrain_confirm_steps: int = 4
    gap_reset_s: float = 5.0
    device_repeat_s: float = 60.0
    baseline_learn_s: float = 120.0
    baseline_min_steps: int = 100
    baseline_window_steps: int = 400
    baseline_update_steps: float = 600.0
    hike_min_grade_pct: float = 15.0
    hike_speed_ratio: float = 1.0
    hike_no_speed_grade_pct: float = 25.0
    run_max_grade_pct: float = 10.0
    run_speed_ratio: float = 1.2
    run_window_s: float = 120.0
    run_cue_repeats: bool = False
    hiking_speed_flat_mps: float = TOBLER_FLAT_SPEED_MPS
    hiking_grade_bin_pct: float = 3.0
    hiking_min_steps: int = 20

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, TerrainTargets):
                for g in ("cadence_factor", "stride_factor"):
                    x = getattr(v, g)
                    if not (isinstance(x, int | float) and math.isfinite(x) and x > 0):
                        raise ValidationError(f"CoachSettings.{f.name}.{g}={x!r} must be a number > 0")
            elif isinstance(v, bool):
                continue
            elif not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                raise ValidationError(f"CoachSettings.{f.name}={v!r} must be a finite number ≥ 0")
        if not self.cadence_floor_spm < self.cadence_ceiling_spm:
            raise ValidationError(
                f"CoachSettings: cadence_floor_spm={self.cadence_floor_spm:g} must be below "
                f"cadence_ceiling_spm={self.cadence_ceiling_spm:g}"
            )
        for name in ("max_level", "min_off_target_steps", "settle_steps", "terrain_confirm_steps"):
            if getattr(self, name) < 1:
                raise ValidationError(f"CoachSettings.{name}={getattr(self, name)!r} must be ≥ 1")
        if self.repeat_backoff < 1.0:
            raise ValidationError(
                f"CoachSettings.repeat_backoff={self.repeat_backoff!r} must be ≥ 1 (1 = no back-off)"
            )
        if self.max_repeat_s < self.repeat_s:
            raise ValidationError(
                f"CoachSettings: max_repeat_s={self.max_repeat_s:g} must not be below "
                f"repeat_s={self.repeat_s:g}"
            )
        if self.run_max_grade_pct > self.hike_min_grade_pct:
            raise ValidationError(
                f"CoachSettings: run_max_grade_pct={self.run_max_grade_pct:g} must not exceed "
                f"hike_min_grade_pct={self.hike_min_grade_pct:g} (the gap between them is the hysteresis)"
            )

    def for_terrain(self, terrain: str) -> TerrainTargets:
        """Return the target factors of a terrain.

        Parameters
        ----------
        terrain : str
            ``technical``; anything else gets the ``smooth`` factors.

        Returns
        -------
        TerrainTargets
            The factors of that terrain.
        """
        return self.technical if terrain == "technical" else self.smooth


@dataclass(frozen=True)
class Baseline:
    """The runner's smooth-ground running cadence and stride.

    Parameters
    ----------
    cadence_spm : float
        Baseline cadence, steps/min.
    stride_length_m : float or None
        Baseline stride (two steps) length, m; None when no stride estimate is available (the coach
        then coaches cadence only).
    source : str
        ``"runner"`` (fixed, from the runner profile) or ``"learned"`` (from this session).
    n_steps : int
        Steps the learned value rests on (0 for a fixed one).
    """

    cadence_spm: float
    stride_length_m: float | None = None
    source: str = "runner"
    n_steps: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.cadence_spm) and 60.0 <= self.cadence_spm <= 300.0):
            raise ValidationError(
                f"Baseline.cadence_spm={self.cadence_spm!r} must be within 60..300 steps/min"
            )
        if self.stride_length_m is not None and not (
            math.isfinite(self.stride_length_m) and 0.1 <= self.stride_length_m <= 6.0
        ):
            raise ValidationError(
                f"Baseline.stride_length_m={self.stride_length_m!r} must be within 0.1..6 m or None"
            )


@dataclass(frozen=True)
class StepInput:
    """One foot contact as the coach sees it.

    Parameters
    ----------
    t_s : float
        Contact time, s (any time base, non-decreasing).
    cadence_spm : float or None
        Cadence counting both feet, steps/min; None skips coaching on this step.
    stride_length_m : float or None
        Stride (two steps) length, m; None when unknown.
    gait : str
        ``"walk"`` or ``"run"``.
    terrain : str
        ``"smooth"`` or ``"technical"`` (the terrain classifier's output).
    grade : str
        ``"climb"``, ``"flat"``, ``"descent"`` or ``"unknown"``.
    grade_pct : float or None
        Grade, % (positive uphill); None when unknown.
    """

    t_s: float
    cadence_spm: float | None
    stride_length_m: float | None = None
    gait: str = "run"
    terrain: str = "smooth"
    grade: str = "unknown"
    grade_pct: float | None = None

    @classmethod
    def from_step_event(
        cls, event: object, *, terrain: str = "smooth", grade: str = "unknown", grade_pct: float | None = None
    ) -> StepInput:
        """Build from a :class:`dsp.pipeline.StepEvent` plus the terrain and grade of the moment.

        Parameters
        ----------
        event : StepEvent
            Anything with ``t_s``, ``cadence_spm``, ``gait`` and ``stride_length_m``.
        terrain : str
            ``smooth`` or ``technical``, as in the class parameters.
        grade : str
            As in the class parameters.
        grade_pct : float or None
            As in the class parameters, %.

        Returns
        -------
        StepInput
            The coach's view of the step.
        """
        return cls(
            t_s=float(event.t_s),  # type: ignore[attr-defined]
            cadence_spm=event.cadence_spm,  # type: ignore[attr-defined]
            stride_length_m=getattr(event, "stride_length_m", None),
            gait=event.gait,  # type: ignore[attr-defined]
            terrain=terrain,
            grade=grade,
            grade_pct=grade_pct,
        )


@dataclass(frozen=True)
class CueEvent:
    """A cue the coach wants given.

    Attributes
    ----------
    t_s : float
        When the cue became due, s (the time of the step or event that triggered it).
    kind : str
        One of :data:`CUE_KINDS`.
    level : int
        1 (first cue) .. ``max_level`` (escalated: the runner did not react).
    reason : str
        Why, with the numbers, for people (logs, replay reports).
    terrain : str or None
        Terrain in force when the cue was decided.
    target_cadence_spm : float or None
        Target cadence at that moment, steps/min (None when not known yet).
    metronome_beats : int
        Beats to play at the target cadence after the cue's pattern (0: none).
    metronome_interval_s : float or None
        Time between metronome beats, s (60 / target cadence).
    """

    t_s: float
    kind: str
    level: int
    reason: str
    terrain: str | None = None
    target_cadence_spm: float | None = None
    metronome_beats: int = 0
    metronome_interval_s: float | None = None

    def to_dict(self) -> dict[str, object]:
        """Return the cue as a JSON-ready dict (field names as above)."""
        return asdict(self)


@dataclass(frozen=True)
class Targets:
    """Current targets and bands.

    Attributes
    ----------
    terrain : str or None
        Terrain the targets are for (None before the first step).
    cadence_spm : float or None
        Target cadence, steps/min; None while the baseline is being learned.
    cadence_tolerance_spm : float
        Half-width of the cadence band, steps/min.
    stride_length_m : float or None
        Target stride length, m; None when no stride baseline exists.
    stride_tolerance_m : float or None
        Half-width of the stride band, m.
    cadence_clamped : bool
        True when the cadence target hit the floor or the ceiling.
    baseline : Baseline or None
        The baseline the targets derive from.
    """

    terrain: str | None
    cadence_spm: float | None
    cadence_tolerance_spm: float
    stride_length_m: float | None
    stride_tolerance_m: float | None
    cadence_clamped: bool
    baseline: Baseline | None


@dataclass(slots=True)
class _Streak:
    """An off-target stretch on one channel.

    ``wait_s`` is the least time from its last cue to the next: ``repeat_s`` while the cues
    escalate, then × ``repeat_backoff`` after each cue at ``max_level``, up to ``max_repeat_s``.
    ``n_on`` counts the on-target steps since its last off-target one, the first of them at
    ``on_t0_s``.
    """

    channel: str
    t0_s: float
    wait_s: float
    n_off: int = 1
    n_on: int = 0
    on_t0_s: float = math.nan
    n_cues: int = 0
    last_cue_s: float = -math.inf


class _Want:
    """What this step asks for: a cue kind and the sentence that explains it (minus the duration).

    The sentence is ``fmt.format(*args)``, formatted only when a cue is given (:attr:`what`): most
    off-target steps never become a cue, and formatting their numbers was most of their cost.
    """

    __slots__ = ("args", "fmt", "kind")

    def __init__(self, kind: str, fmt: str | Callable[..., str], *args: object) -> None:
        self.kind = kind
        self.fmt = fmt
        self.args = args

    @property
    def what(self) -> str:
        """The sentence, with the numbers."""
        fmt = self.fmt
        if callable(fmt):
            return fmt(*self.args)
        return fmt.format(*self.args) if self.args else fmt


def _cadence_fault(cadence_spm: float, target_spm: float, tolerance_spm: float) -> str:
    """``cadence C spm below target T±tol spm``, with as few decimals as show C below T - tol.

    Whole numbers as a rule; a cadence a fraction of a step/min below the band's edge would read
    as on it ("163 below 168±5"), so it gets the decimals that show the fault (163.3 below 168.4±5).
    """
    for d in range(4):
        if float(f"{cadence_spm:.{d}f}") < float(f"{target_spm:.{d}f}") - tolerance_spm:
            break
    return f"cadence {cadence_spm:.{d}f} spm below target {target_spm:.{d}f}±{tolerance_spm:g} spm"


def _stride_fault(stride_m: float, target_m: float, tolerance_m: float) -> str:
    """``stride S m above target T±tol m``, with as few decimals (2 at least) as show S above T + tol."""
    for d in range(2, 6):
        shown, target, tol = (float(f"{x:.{d}f}") for x in (stride_m, target_m, tolerance_m))
        if shown > target + tol:
            break
    return f"stride {stride_m:.{d}f} m above target {target_m:.{d}f}±{tolerance_m:.{d}f} m"


_new = object.__new__


def _targets(
    terrain: str | None,
    cadence_spm: float | None,
    cadence_tolerance_spm: float,
    stride_length_m: float | None,
    stride_tolerance_m: float | None,
    cadence_clamped: bool,
    baseline: Baseline | None,
) -> Targets:
    """Build a :class:`Targets` of these fields without ``object.__setattr__`` per field.

    Fills the new instance's ``__dict__``, every field in field order: equal to the class call
    (same repr and pickle, still frozen), as ``dsp.pipeline``'s record builders do. A learned
    baseline moves at every step, and so do the targets.
    """
    tg = _new(Targets)
    d = tg.__dict__
    d["terrain"] = terrain
    d["cadence_spm"] = cadence_spm
    d["cadence_tolerance_spm"] = cadence_tolerance_spm
    d["stride_length_m"] = stride_length_m
    d["stride_tolerance_m"] = stride_tolerance_m
    d["cadence_clamped"] = cadence_clamped
    d["baseline"] = baseline
    return tg


def _learned_baseline(cadence_spm: float, stride_length_m: float | None, n_steps: int) -> Baseline:
    """``Baseline(cadence_spm, stride_length_m, "learned", n_steps)``, its checks inline.

    Values that pass :meth:`Baseline.__post_init__`'s checks are stored in the new instance's
    ``__dict__`` directly (equal to the class call); any other goes through the class call, which
    raises the same error as before.
    """
    isfinite = math.isfinite
    if (
        isfinite(cadence_spm)
        and 60.0 <= cadence_spm <= 300.0
        and (stride_length_m is None or (isfinite(stride_length_m) and 0.1 <= stride_length_m <= 6.0))
    ):
        b = _new(Baseline)
        d = b.__dict__
        d["cadence_spm"] = cadence_spm
        d["stride_length_m"] = stride_length_m
        d["source"] = "learned"
        d["n_steps"] = n_steps
        return b
    return Baseline(cadence_spm, stride_length_m, "learned", n_steps)


class Coach:
    """Streaming coach: feed every step, get the cues that are due.

    Parameters
    ----------
    settings : CoachSettings
        Targets and policy (usually from ``firmware_py.config``).
    baseline : Baseline or None
        A fixed baseline from the runner profile, or None to learn it from the first minutes of
        smooth running in this session (no cadence or stride cues until then).

    Attributes
    ----------
    last_targets : Targets or None
        The targets the last step was judged by (those of the terrain in force then).
    last_on_target : bool or None
        The verdict on the last step: False when it was running with a cadence below the target's
        band or a stride above it (what the cadence and stride cues are about), True when running
        within them, None while walking, without targets or with coaching off.

    Notes
    -----
    Deterministic: the same inputs give the same cues; time only comes from the inputs.

    Examples
    --------
    >>> coach = Coach(CoachSettings(), Baseline(cadence_spm=170.0, stride_length_m=2.2))
    >>> coach.update(StepInput(t_s=0.0, cadence_spm=170.0, stride_length_m=2.2, gait="run"))
    []
    """

    def __init__(self, settings: CoachSettings, baseline: Baseline | None = None) -> None:
        self.settings = settings
        self._fixed_baseline = baseline
        self._mode = "auto"
        self._manual = False
        self.reset()

    # ----------------------------------------------------------------------------------- state
    def reset(self) -> None:
        """Forget the session (learned baseline, streaks, observations); keep settings and mode."""
        s = self.settings
        self._baseline: Baseline | None = self._fixed_baseline
        window = max(s.baseline_window_steps, s.baseline_min_steps)
        self._learn_cad = RollingMedian(window)
        self._learn_stride = RollingMedian(window)
        self._learn_s = 0.0
        self._learn_last_t: float | None = None
        self._learn_n = 0
        self._terrain: str | None = None
        self._announced: str | None = None  # the terrain the runner last heard of (or started on)
        self._candidate: str | None = None
        self._candidate_n = 0
        self._last_t: float | None = None
        self._streak: _Streak | None = None
        self.last_on_target: bool | None = None
        self.last_targets: Targets | None = None
        self._last_cue_t = -math.inf
        self._device_last: dict[str, float] = {}
        self._hiked_t: float | None = None
        # the one-shot run cue: said for the current hike; the runner left the climb since it
        self._run_said = False
        self._left_climb = False
        self._hike_obs: deque[tuple[float, float]] = deque(maxlen=2000)
        self._run_obs: deque[tuple[float, float]] = deque(maxlen=2000)
        self._targets_cache: dict[str | None, Targets] = {}
        self._targets_baseline: Baseline | None = None
        self._targets_settings: CoachSettings | None = None

    @property
    def baseline(self) -> Baseline | None:
        """The baseline in force: fixed, learned, or None while learning."""
        return self._baseline

    @property
    def learning(self) -> bool:
        """True while the baseline is still being learned."""
        return self._baseline is None

    @property
    def terrain(self) -> str | None:
        """Terrain in force (confirmed automatic terrain or the manual one); None before any step."""
        return self._terrain

    @property
    def terrain_mode(self) -> str:
        """``"auto"``, ``"smooth"`` or ``"technical"`` (see :meth:`set_terrain_mode`)."""
        return self._mode

    def set_terrain_mode(self, mode: str) -> None:
        """Choose automatic terrain or fix it by hand (the mode button); applies from the next step.

        Parameters
        ----------
        mode : str
            ``"auto"``, ``"smooth"`` or ``"technical"``.

        Raises
        ------
        ValidationError
            For any other value.
        """
        if mode not in TERRAIN_MODES:
            raise ValidationError(f"terrain mode {mode!r} is not one of {', '.join(TERRAIN_MODES)}")
        self._mode = mode
        self._candidate = None
        self._candidate_n = 0

    # --------------------------------------------------------------------------------- targets
    def targets(self, terrain: str | None = None) -> Targets:
        """Targets and bands for ``terrain`` (default: the terrain in force).

        Parameters
        ----------
        terrain : str, optional
            ``"smooth"`` or ``"technical"``.

        Returns
        -------
        Targets
            Cadence and stride targets (None while the baseline is unknown) with their bands.
        """
        terrain = terrain if terrain is not None else self._terrain
        b = self._baseline
        s = self.settings
        # Targets are frozen: cache them per terrain until the baseline (or settings) change.
        if b is not self._targets_baseline or s is not self._targets_settings:
            self._targets_cache.clear()
            self._targets_baseline, self._targets_settings = b, s
        tg = self._targets_cache.get(terrain)
        if tg is None:
            tg = self._targets_cache[terrain] = self._compute_targets(terrain, b, s)
        return tg

    @staticmethod
    def _compute_targets(terrain: str | None, b: Baseline | None, s: CoachSettings) -> Targets:
        if b is None:
            return _targets(terrain, None, s.cadence_tolerance_spm, None, None, False, None)
        tt = s.for_terrain(terrain or "smooth")
        cadence = b.cadence_spm
        clamped = False
        if tt.cadence_factor != 1.0:
            raw = b.cadence_spm * tt.cadence_factor
            cadence = min(max(raw, s.cadence_floor_spm), s.cadence_ceiling_spm)
            clamped = cadence != raw
        stride = None
        stride_tol = None
        if b.stride_length_m is not None:
            # the floor holds on every terrain (the cadence's clamp only where the factor is not 1)
            stride = max(b.stride_length_m * tt.stride_factor, s.stride_floor_m)
            stride_tol = stride * s.stride_tolerance_pct / 100.0
        return _targets(terrain, cadence, s.cadence_tolerance_spm, stride, stride_tol, clamped, b)

    def hiking_speed_mps(self, grade_pct: float) -> tuple[float, str]:
        """Return the runner's hiking speed on ``grade_pct`` and where the number comes from.

        Parameters
        ----------
        grade_pct : float
            Grade, %.

        Returns
        -------
        speed_mps : float
            Hiking speed, m/s.
        source : str
            ``"own hiking at G±B %, last N steps"``, ``"Tobler model × F from own hiking"`` or
            ``"Tobler model"``.
        """
        s = self.settings
        near = self._latest_near(self._hike_obs, grade_pct)
        if len(near) >= s.hiking_min_steps:
            return (
                statistics.median(near),
                f"own hiking at {grade_pct:.0f}±{s.hiking_grade_bin_pct:g} %, last {len(near)} steps",
            )
        model = tobler_speed_mps(grade_pct, s.hiking_speed_flat_mps)
        if len(self._hike_obs) >= s.hiking_min_steps:
            k = statistics.median(v / tobler_speed_mps(g, s.hiking_speed_flat_mps) for g, v in self._hike_obs)
            return model * k, f"Tobler model × {k:.2f} from own hiking"
        return model, "Tobler model"

    # ---------------------------------------------------------------------------------- inputs
    def update(self, step: StepInput) -> list[CueEvent]:
        """Feed one step; return the cues that became due with it (usually none).

        Parameters
        ----------
        step : StepInput
            The new foot contact with the terrain and grade of the moment.

        Returns
        -------
        list of CueEvent
            At most one ``terrain_changed`` and one coaching cue.

        Raises
        ------
        ValidationError
            For an unknown terrain, grade or gait, a non-finite time or a time before the last one.
        """
        self._check(step)
        s = self.settings
        t = step.t_s
        out: list[CueEvent] = []
        if self._last_t is not None and t - self._last_t > s.gap_reset_s:
            self._streak = None
        self._last_t = t

        was_manual = self._manual
        changed = self._track_terrain(step)
        terrain = self._terrain or "smooth"
        if changed is not None:
            self._streak = None
            if (changed[2] or was_manual) and s.enabled and s.terrain_changed_cue:
                # a press of the mode button (or the long press back to automatic) is acknowledged
                # at once: the runner asked, and silence would have them press again
                out.append(self._terrain_cue(t, changed))
                self._announced = terrain
                self._last_cue_t = t
        if terrain != self._announced:
            self._announce_detected(t, terrain, out)

        self._learn(step, terrain)
        self._observe(step)
        gait = step.gait
        tg = self.last_targets = self.targets(terrain)
        self.last_on_target = None
        if not s.enabled or step.cadence_spm is None:
            return out
        off = None  # the running step's fault against the targets, judged once
        if gait == "run" and tg.cadence_spm is not None:
            off = self._off_target(step, tg)
            self.last_on_target = off is None
        want = self._assess(step, off)
        if want is not None or self._streak is not None:
            cue = self._policy(want, t, terrain)
            if cue is not None:
                out.append(cue)
                if cue.kind == "run":
                    self._run_said = True
        return out

    def on_event(self, kind: str, t_s: float, reason: str = "") -> list[CueEvent]:
        """Report a device event; return its cue (none if the same event was cued too recently).

        Parameters
        ----------
        kind : str
            ``"ready"``, ``"sensor_lost"``, ``"recording_stopped"`` or ``"battery_low"``.
        t_s : float
            When it happened, s, on the steps' time base.
        reason : str
            Details for people (e.g. ``"I2C error on bus 1 at 0x68"``).

        Returns
        -------
        list of CueEvent
            Zero or one cue.

        Raises
        ------
        ValidationError
            For an unknown kind or a non-finite time.
        """
        if kind not in DEVICE_EVENT_LEVELS:
            raise ValidationError(f"device event {kind!r} is not one of {', '.join(DEVICE_EVENT_KINDS)}")
        if not math.isfinite(t_s):
            raise ValidationError(f"device event {kind!r} has a non-finite time t_s={t_s!r}")
        # a device event never changes the coaching state: a replay of the device's log, which
        # feeds the same steps but no device events, must decide the same cues (a sensor lost for
        # longer than gap_reset_s restarts every stretch through the pause in the steps anyway)
        last = self._device_last.get(kind)
        if last is not None and 0.0 <= t_s - last < self.settings.device_repeat_s - DEVICE_REPEAT_SLACK_S:
            return []
        self._device_last[kind] = t_s
        text = reason.strip() or kind.replace("_", " ")
        return [CueEvent(t_s, kind, DEVICE_EVENT_LEVELS[kind], text, self._terrain)]

    # -------------------------------------------------------------------------------- internals
    def _check(self, step: StepInput) -> None:
        if not math.isfinite(step.t_s):
            raise ValidationError(f"step t_s={step.t_s!r} is not finite")
        if self._last_t is not None and step.t_s < self._last_t:
            raise ValidationError(
                f"step t_s={step.t_s:.3f} is before the previous step at {self._last_t:.3f} s; "
                "call reset() to start a new session"
            )
        if step.terrain not in TERRAINS:
            raise ValidationError(f"step terrain {step.terrain!r} is not one of {', '.join(TERRAINS)}")
        if step.grade not in GRADES:
            raise ValidationError(f"step grade {step.grade!r} is not one of {', '.join(GRADES)}")
        if step.gait not in GAITS:
            raise ValidationError(f"step gait {step.gait!r} is not one of {', '.join(GAITS)}")
        isfinite = math.isfinite
        cad, stride, gp = step.cadence_spm, step.stride_length_m, step.grade_pct
        if (
            (cad is not None and not isfinite(cad))
            or (stride is not None and not isfinite(stride))
            or (gp is not None and not isfinite(gp))
        ):
            for name in ("cadence_spm", "stride_length_m", "grade_pct"):  # name the first bad one
                v = getattr(step, name)
                if v is not None and not isfinite(v):
                    raise ValidationError(f"step {name}={v!r} is not finite (use None for unknown)")

    def _track_terrain(self, step: StepInput) -> tuple[str, str, bool] | None:
        """Update the terrain in force; return (old, new, manual) when it changed."""
        old = self._terrain
        if self._mode == "auto" and step.terrain == old:  # the usual step: nothing to decide
            self._manual = False
            self._candidate, self._candidate_n = None, 0
            return None
        was_manual, self._manual = self._manual, self._mode != "auto"
        if self._mode != "auto":
            new, manual = self._mode, True
        elif old is None or step.terrain == old or was_manual:
            new, manual = step.terrain, False
            self._candidate, self._candidate_n = None, 0
        else:
            if step.terrain == self._candidate:
                self._candidate_n += 1
            else:
                self._candidate, self._candidate_n = step.terrain, 1
            if self._candidate_n < self.settings.terrain_confirm_steps:
                return None
            new, manual = step.terrain, False
            self._candidate, self._candidate_n = None, 0
        self._terrain = new
        if old is None or old == new:
            return None
        return old, new, manual

    def _announce_detected(self, t: float, terrain: str, out: list[CueEvent]) -> None:
        """Chirp the detected terrain in force when it is not the one the runner last heard of.

        Only when the targets change with it (none are known while the baseline is being learned),
        and, as every coaching cue, at least ``min_cue_gap_s`` after the last one: a change that
        comes sooner is said once the gap allows, and not at all if the terrain flips back first
        (patchy ground chirped every 2 s).
        """
        s = self.settings
        if self._announced is None or self._baseline is None or not (s.enabled and s.terrain_changed_cue):
            self._announced = terrain  # the first step, no targets to change, or no chirps wanted
            return
        if t - self._last_cue_t < s.min_cue_gap_s:
            return
        out.append(self._terrain_cue(t, (self._announced, terrain, False)))
        self._announced = terrain
        self._last_cue_t = t

    def _terrain_cue(self, t: float, change: tuple[str, str, bool]) -> CueEvent:
        old, new, manual = change
        tg = self.targets(new)
        how = "mode button" if manual else "detected"
        if tg.cadence_spm is None:
            what = "baseline still being learned"
        else:
            what = f"target cadence {tg.cadence_spm:.0f}±{tg.cadence_tolerance_spm:g} spm"
            if tg.stride_length_m is not None:
                what += f", stride {tg.stride_length_m:.2f}±{tg.stride_tolerance_m:.2f} m"
        return CueEvent(
            t, "terrain_changed", 1, f"terrain {old} → {new} ({how}): {what}", new, tg.cadence_spm
        )

    def _learn(self, step: StepInput, terrain: str) -> None:
        s = self.settings
        if self._fixed_baseline is not None:
            return
        # Only level running teaches the baseline: uphill the stride shortens, downhill the cadence
        # rises, and neither is the runner's smooth-ground form (an unknown grade cannot be told).
        if step.gait != "run" or terrain != "smooth" or step.cadence_spm is None or step.grade in _SLOPES:
            self._learn_last_t = None
            return
        t = step.t_s
        if self._learn_last_t is not None:
            self._learn_s += min(t - self._learn_last_t, _LEARN_MAX_DT_S)
        self._learn_last_t = t
        self._learn_n += 1
        self._learn_cad.append(step.cadence_spm)
        if step.stride_length_m is not None:
            self._learn_stride.append(step.stride_length_m)
        b = self._baseline
        if b is None:
            if self._learn_s >= s.baseline_learn_s and self._learn_n >= s.baseline_min_steps:
                stride = None
                if len(self._learn_stride) >= max(1, len(self._learn_cad) // 2):
                    stride = self._learn_stride.median()
                self._baseline = Baseline(self._learn_cad.median(), stride, "learned", self._learn_n)
            return
        # Slow update towards the robust median of the recent window.
        a = 1.0 / max(s.baseline_update_steps, 1.0)
        cad = b.cadence_spm + a * (self._learn_cad.median() - b.cadence_spm)
        stride = b.stride_length_m
        if stride is not None:
            stride += a * (self._learn_stride.median() - stride)
        elif len(self._learn_stride) >= s.baseline_min_steps:
            # strides came only after the baseline was learned: one is set as the first baseline
            # is, from the median of many (a first stride read short became the target)
            stride = self._learn_stride.median()
        self._baseline = _learned_baseline(cad, stride, self._learn_n)

    def _observe(self, step: StepInput) -> None:
        s = self.settings
        g = step.grade_pct
        if step.grade != "climb" or (g is not None and g < s.run_max_grade_pct):
            # off the climb (the grade that calls for running): steep hiking after this is a new
            # hike; an unknown grade says nothing, and the hysteresis gap up to hike_min_grade_pct
            # keeps a climb whose grade wavers one hike
            if step.grade != "unknown":
                self._left_climb = True
            if step.grade != "climb":
                return
        v = speed_mps(step.cadence_spm, step.stride_length_m)
        steep = g is None or g >= s.hike_min_grade_pct
        if step.gait == "walk":
            if steep:
                self._hiked_t = step.t_s
                if self._left_climb:  # a new hike: its run cue is still to be said
                    self._run_said = self._left_climb = False
            if v is not None and step.grade_pct is not None:
                self._hike_obs.append((step.grade_pct, v))
        elif v is not None and step.grade_pct is not None:
            self._run_obs.append((step.grade_pct, v))

    def _latest_near(self, obs: deque[tuple[float, float]], grade_pct: float) -> list[float]:
        """Speeds of the latest ``hiking_min_steps`` observations within the grade bin of ``grade_pct``.

        The latest, not the whole session's: a runner slows over a long day, and the fresh running
        (or hiking) of an hour ago would make "hike" and "run" contradict each other on one climb.
        """
        s = self.settings
        n, bin_pct = s.hiking_min_steps, s.hiking_grade_bin_pct
        near: list[float] = []
        for g, v in reversed(obs):
            if abs(g - grade_pct) <= bin_pct:
                near.append(v)
                if len(near) == n:
                    break
        return near

    def _own_running_mps(self, grade_pct: float) -> float | None:
        near = self._latest_near(self._run_obs, grade_pct)
        return statistics.median(near) if len(near) >= self.settings.hiking_min_steps else None

    def _assess(self, step: StepInput, off: _Want | None) -> _Want | None:
        """Return what this step asks for: hiking or running by the grade, else ``off``.

        ``off`` is the running step's fault against the targets (:meth:`_off_target`), judged once
        by :meth:`update`.
        """
        s = self.settings
        g = step.grade_pct
        if step.gait == "run":
            if step.grade == "climb" and g is not None and g >= s.hike_min_grade_pct:
                v = speed_mps(step.cadence_spm, step.stride_length_m)
                if v is None:
                    if g >= s.hike_no_speed_grade_pct:
                        return _Want(
                            "hike",
                            f"{g:.0f} % climb is steeper than {s.hike_no_speed_grade_pct:g} % "
                            "(running speed unknown)",
                        )
                else:
                    vh, src = self.hiking_speed_mps(g)
                    if v <= vh * s.hike_speed_ratio:
                        ratio = "" if s.hike_speed_ratio == 1.0 else f"{s.hike_speed_ratio:g} × "
                        return _Want(
                            "hike",
                            f"running {v:.2f} m/s on a {g:.0f} % climb is no faster than {ratio}hiking "
                            f"{vh:.2f} m/s ({src})",
                        )
            return off
        # Walking: only a hike that has served its purpose calls for running again, once per hike
        # (unless run_cue_repeats): a runner who heard it and keeps walking has a reason.
        if self._hiked_t is None or step.t_s - self._hiked_t > s.run_window_s or step.grade == "unknown":
            return None
        if self._run_said and not s.run_cue_repeats:
            return None
        if step.grade != "climb" or (g is not None and g < s.run_max_grade_pct):
            where = f"{g:.0f} % ({step.grade})" if g is not None else step.grade
            return _Want("run", f"grade eased to {where} after hiking: running pays")
        v = speed_mps(step.cadence_spm, step.stride_length_m)
        if g is None or v is None:
            return None
        vr = self._own_running_mps(g)
        if vr is not None and vr >= v * s.run_speed_ratio:
            return _Want(
                "run",
                f"own running {vr:.2f} m/s on a {g:.0f} % climb beats hiking {v:.2f} m/s "
                f"by more than ×{s.run_speed_ratio:g}",
            )
        return None

    @staticmethod
    def _off_target(step: StepInput, tg: Targets) -> _Want | None:
        """Return the running step's fault against the targets: too slow a cadence, else too long a stride.

        Quicker steps or a shorter stride than the target are never faults: the targets are a
        floor for cadence and a ceiling for stride.
        """
        c = step.cadence_spm
        assert c is not None  # checked by update()
        assert tg.cadence_spm is not None  # checked by the callers
        if c < tg.cadence_spm - tg.cadence_tolerance_spm:
            return _Want("quicken_steps", _cadence_fault, c, tg.cadence_spm, tg.cadence_tolerance_spm)
        st = step.stride_length_m
        stride_tol = tg.stride_tolerance_m
        ts = tg.stride_length_m
        if st is not None and ts is not None and stride_tol is not None and st > ts + stride_tol:
            return _Want("shorten_stride", _stride_fault, st, ts, stride_tol)
        return None

    def _policy(self, want: _Want | None, t: float, terrain: str) -> CueEvent | None:
        s = self.settings
        st = self._streak
        if want is None:
            if st is not None:
                if st.n_on == 0:
                    st.on_t0_s = t
                st.n_on += 1
                # once cued, back on target is held to the standard of off target (rule 1): steps
                # AND time, so that a runner hovering at the band's edge, back in it for a few
                # steps now and then, stays in the one stretch whose repeats back off. Before
                # the first cue the steps alone end it: rule 1 counts off-target steps across
                # blips, and with settle_s it would gather the odd step of a runner who is
                # mostly on target (a cue at 167 against 170±5 in a fatigue drift)
                settle_s = s.settle_s if st.n_cues else 0.0
                if st.n_on >= s.settle_steps and t - st.on_t0_s >= settle_s:
                    self._streak = None
            return None
        channel = _CHANNEL[want.kind]
        if st is None or st.channel != channel:
            st = self._streak = _Streak(channel, t, s.repeat_s)
        else:
            st.n_off += 1
            st.n_on = 0
        duration_s = t - st.t0_s
        if st.n_off < s.min_off_target_steps or duration_s < s.min_off_target_s:
            return None
        if t - st.last_cue_s < st.wait_s or t - self._last_cue_t < s.min_cue_gap_s:
            return None
        st.n_cues += 1
        st.last_cue_s = t
        self._last_cue_t = t
        level = min(st.n_cues, s.max_level)
        if level == s.max_level:
            # escalation is exhausted: the runner heard the strongest cue and did not (or could
            # not) follow it; saying it every repeat_s for the rest of the stretch is a nag
            st.wait_s = min(st.wait_s * s.repeat_backoff, s.max_repeat_s)
        reason = f"{want.what} for {st.n_off} steps / {duration_s:.1f} s on {terrain} ground"
        tg = self.targets(terrain)
        beats, interval = 0, None
        if channel == "form" and s.metronome_beats > 0 and tg.cadence_spm:
            beats, interval = s.metronome_beats, 60.0 / tg.cadence_spm
        return CueEvent(t, want.kind, level, reason, terrain, tg.cadence_spm, beats, interval)
