"""Grade state, ``climb`` / ``flat`` / ``descent`` (or ``unknown``), from a barometer or the foot.

Sources, best first:

1. **Barometer and distance.**  Pressure is turned into altitude (standard atmosphere) and
   smoothed by a two-state Kalman filter (altitude, vertical speed) tuned to the sensor's noise;
   the grade is the altitude change over the last ``grade_distance_m`` of horizontal distance,
   the distance coming from the stride estimator as per-stride increments.
2. **Barometer alone.**  The filtered vertical speed against speed thresholds.
3. **Foot sensor.**  The per-stride height change from the stride estimator, summed over the
   strides of the last ``grade_distance_m`` and divided by their horizontal distance (or, when no
   distance is known, over the last strides' duration, as a vertical speed).  A foot grade counts
   only once it stands ``3`` standard errors of the per-stride height noise clear of flat ground.
4. Otherwise ``unknown``.

The state changes only when the grade (or vertical speed) crosses its threshold, leaves it by
more than a hysteresis band to come back, and has lasted ``min_dwell_s``.  A few updates per
second: plain Python and numpy, no kernel.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from dsp.exc import ValidationError

#: Grade states.
CLIMB = "climb"
FLAT = "flat"
DESCENT = "descent"
UNKNOWN = "unknown"

#: Standard-atmosphere constants of the barometric formula.
_ISA_SCALE_M = 44330.77
_ISA_EXPONENT = 0.190263


def pressure_to_altitude_m(
    pressure_pa: float | np.ndarray, sea_level_pa: float = 101325.0
) -> float | np.ndarray:
    """Altitude of a pressure in the standard atmosphere.

    Parameters
    ----------
    pressure_pa : float or numpy.ndarray
        Static pressure, Pa.
    sea_level_pa : float
        Pressure at altitude 0, Pa (only altitude *changes* matter for the grade).

    Returns
    -------
    float or numpy.ndarray
        Altitude, m.
    """
    return _ISA_SCALE_M * (1.0 - np.power(np.asarray(pressure_pa, dtype=float) / sea_level_pa, _ISA_EXPONENT))


@dataclass(frozen=True)
class GradeSettings:
    """Thresholds, filters and memory of the grade estimator.

    Parameters
    ----------
    climb_grade_pct : float
        Grade at or above which the state becomes ``climb``, % (rise over horizontal run × 100).
    descent_grade_pct : float
        Grade at or below which the state becomes ``descent``, % (negative).
    grade_hysteresis_pct : float
        A climb ends below ``climb_grade_pct - grade_hysteresis_pct`` (a descent above
        ``descent_grade_pct + grade_hysteresis_pct``), %.
    climb_vspeed_mps : float
        Without distance: vertical speed at or above which the state is ``climb``, m/s.
    descent_vspeed_mps : float
        Without distance: vertical speed at or below which the state is ``descent``, m/s (negative).
    vspeed_hysteresis_mps : float
        Hysteresis band of the vertical-speed thresholds, m/s.
    min_dwell_s : float
        A state lasts at least this long before it may change, s.
    pressure_noise_pa : float
        Standard deviation of one pressure reading, Pa (BMP280 at standard resolution: ~1.2 Pa).
    vertical_accel_noise_mps2 : float
        How fast the vertical speed may wander (process noise of the filter), m/s².
    grade_distance_m : float
        Horizontal distance over which the grade is measured (barometer and foot), m.
    max_grade_age_s : float
        Distance, altitude and stride points older than this are not used for the grade, s.
    barometer_timeout_s : float
        Without a pressure reading for this long, the barometer is considered absent, s.
    foot_strides : int
        Strides summed for the foot's vertical speed when no distance is known (the grade itself
        is summed over ``grade_distance_m``).
    foot_height_noise_m : float
        Standard error of one stride's height change from a foot sensor, m.  On flat ground the
        stride estimator's height change per stride scatters by 1-4 cm, walking or running
        (``docs/terrain.md``, "Grade").  The foot grade over ``n`` strides is uncertain by
        ``foot_height_noise_m * sqrt(n)`` over their run; a foot grade (or vertical speed) less
        than three such standard errors from 0 is taken as flat, so that the few strides after a
        start do not decide a climb.
    stride_timeout_s : float
        Without a distance, strides older than this are left out of the foot's vertical speed
        (a pause), s.
    sea_level_pa : float
        Reference pressure of the altitude, Pa.
    """

    climb_grade_pct: float = 6.0
    descent_grade_pct: float = -6.0
    grade_hysteresis_pct: float = 2.0
    climb_vspeed_mps: float = 0.15
    descent_vspeed_mps: float = -0.15
    vspeed_hysteresis_mps: float = 0.05
    min_dwell_s: float = 5.0
    pressure_noise_pa: float = 1.2
    vertical_accel_noise_mps2: float = 0.05
    grade_distance_m: float = 20.0
    max_grade_age_s: float = 60.0
    barometer_timeout_s: float = 5.0
    foot_strides: int = 8
    foot_height_noise_m: float = 0.05
    stride_timeout_s: float = 5.0
    sea_level_pa: float = 101325.0

    def __post_init__(self) -> None:
        if not (self.descent_grade_pct < 0.0 < self.climb_grade_pct):
            raise ValidationError(
                f"descent_grade_pct={self.descent_grade_pct:g} must be < 0 < "
                f"climb_grade_pct={self.climb_grade_pct:g}"
            )
        if not (0.0 <= self.grade_hysteresis_pct < min(self.climb_grade_pct, -self.descent_grade_pct)):
            raise ValidationError(
                f"grade_hysteresis_pct={self.grade_hysteresis_pct:g} must be >= 0 and below both thresholds"
            )
        if not (self.descent_vspeed_mps < 0.0 < self.climb_vspeed_mps):
            raise ValidationError(
                f"descent_vspeed_mps={self.descent_vspeed_mps:g} must be < 0 < climb_vspeed_mps="
                f"{self.climb_vspeed_mps:g}"
            )
        if not (0.0 <= self.vspeed_hysteresis_mps < min(self.climb_vspeed_mps, -self.descent_vspeed_mps)):
            raise ValidationError(
                f"vspeed_hysteresis_mps={self.vspeed_hysteresis_mps:g} must be >= 0 and below both thresholds"
            )
        positive = {
            "pressure_noise_pa": self.pressure_noise_pa,
            "vertical_accel_noise_mps2": self.vertical_accel_noise_mps2,
            "grade_distance_m": self.grade_distance_m,
            "max_grade_age_s": self.max_grade_age_s,
            "barometer_timeout_s": self.barometer_timeout_s,
            "stride_timeout_s": self.stride_timeout_s,
            "sea_level_pa": self.sea_level_pa,
        }
        for name, value in positive.items():
            if not value > 0.0:
                raise ValidationError(f"{name}={value:g} must be > 0")
        if not self.foot_height_noise_m >= 0.0:
            raise ValidationError(f"foot_height_noise_m={self.foot_height_noise_m:g} must be >= 0")
        if self.foot_strides < 1 or self.min_dwell_s < 0.0:
            raise ValidationError(
                f"foot_strides={self.foot_strides} must be >= 1 and min_dwell_s={self.min_dwell_s:g} >= 0"
            )


@dataclass(frozen=True)
class GradeState:
    """The grade estimate after an update.

    Attributes
    ----------
    t_s : float
        Time of the latest input, s.
    grade : str
        ``climb``, ``flat``, ``descent`` or ``unknown`` (after hysteresis and dwell).
    grade_pct : float
        Measured grade, %; NaN when no distance is known.
    vertical_speed_mps : float
        Vertical speed, m/s (positive up); NaN without barometer or foot heights.
    altitude_m : float
        Filtered barometric altitude, m; NaN without barometer.
    source : str
        ``barometer+distance``, ``barometer``, ``foot+distance``, ``foot`` or ``none``.
    """

    t_s: float
    grade: str
    grade_pct: float
    vertical_speed_mps: float
    altitude_m: float
    source: str


_new = object.__new__


def _grade_state(
    t_s: float, grade: str, grade_pct: float, vertical_speed_mps: float, altitude_m: float, source: str
) -> GradeState:
    """Build a :class:`GradeState` of these fields: the class call without ``object.__setattr__``.

    A frozen dataclass's ``__init__`` stores each field through ``object.__setattr__``; this fills
    the new instance's ``__dict__``, every field in field order (equal, same repr and pickle, still
    frozen), as ``dsp.pipeline``'s record builders do. One is built per stride and per reading.
    """
    st = _new(GradeState)
    d = st.__dict__
    d["t_s"] = t_s
    d["grade"] = grade
    d["grade_pct"] = grade_pct
    d["vertical_speed_mps"] = vertical_speed_mps
    d["altitude_m"] = altitude_m
    d["source"] = source
    return st


#: Standard errors a foot grade must stand clear of 0 before the thresholds see it (one-sided 99.9 %:
#: the decision is made again at every stride).
_FOOT_Z = 3.0


def _significant(value: float, margin: float) -> float:
    """``value`` if it is at least ``margin`` from 0, else 0 (a NaN or zero margin leaves it alone)."""
    if not margin > 0.0 or abs(value) >= margin:
        return value
    return 0.0


#: Types :meth:`GradeEstimator.update_stride` takes on its one-stride fast path.
_SCALAR = (float, type(None))


def _as_1d(name: str, x: object) -> np.ndarray:
    try:  # None (in a list too) becomes NaN: unknown
        a = np.atleast_1d(np.asarray(x, dtype=float))
    except (TypeError, ValueError):
        raise ValidationError(
            f"{name}={x!r} does not hold numbers; pass floats (NaN where unknown)"
        ) from None
    if a.ndim != 1:
        raise ValidationError(f"{name} must be a scalar or a 1-D array, got shape {a.shape}")
    return a


#: The estimator's settings when none are given (frozen: one instance serves every estimator; building it, and
#: running its checks, was a sizeable part of setting up a pipeline for a short recording).
_DEFAULT_SETTINGS = GradeSettings()


class GradeEstimator:
    """Streaming grade estimator: feed pressure readings and strides as they come.

    Parameters
    ----------
    settings : GradeSettings, optional
        Thresholds, filters and memory.

    Notes
    -----
    Both input streams carry their own timestamps, on the same time base, each non-decreasing.
    Bad pressure readings (NaN, non-positive) are skipped and counted in :attr:`bad_pressure`.
    """

    def __init__(self, settings: GradeSettings | None = None) -> None:
        self.settings = _DEFAULT_SETTINGS if settings is None else settings
        self.reset()

    def reset(self) -> None:
        """Forget everything (filter, distance history, strides, state)."""
        self._x = None  # Kalman state [altitude m, vertical speed m/s]
        self._p = None  # its covariance
        self._t_baro = -math.inf
        self._t_last = -math.inf
        self._t_stride = -math.inf
        self._cum_d = 0.0
        self._track: deque[tuple[float, float, float]] = deque()  # (t, cumulative distance, altitude)
        # (t, distance or NaN, height change or NaN, distance or 0, height finite, both finite)
        self._strides: deque[tuple[float, float, float, float, bool, bool]] = deque()
        self._foot_d = 0.0  # summed finite distances of those strides, m
        self._n_heights = 0  # strides among those with a finite height change
        self._grade = UNKNOWN
        self._t_change = -math.inf
        # the latest estimate's fields; its GradeState is built when asked for (``state``)
        self._last_fields = (math.nan, UNKNOWN, math.nan, math.nan, math.nan, "none")
        self._last: GradeState | None = None
        self._grade_pct = math.nan  # the latest estimate's grade_pct (the pipeline reads it per step)
        #: Pressure readings skipped as invalid.
        self.bad_pressure = 0

    @property
    def state(self) -> GradeState:
        """The estimate after the latest update."""
        st = self._last
        if st is None:
            st = self._last = _grade_state(*self._last_fields)
        return st

    # ---- inputs --------------------------------------------------------------------------
    def update_pressure(self, t_s: float | np.ndarray, pressure_pa: float | np.ndarray) -> GradeState:
        """Feed one or more barometer readings.

        Parameters
        ----------
        t_s : float or numpy.ndarray
            Reading times, s, non-decreasing.
        pressure_pa : float or numpy.ndarray
            Static pressure, Pa.

        Returns
        -------
        GradeState
            The estimate after the last reading.

        Raises
        ------
        ValidationError
            On mismatched shapes or time going backwards.
        """
        t = _as_1d("t_s", t_s)
        p = _as_1d("pressure_pa", pressure_pa)
        if t.shape != p.shape:
            raise ValidationError(f"t_s{t.shape} and pressure_pa{p.shape} must have the same shape")
        self._check_time(t, self._t_baro, "pressure")
        s = self.settings
        for ti, pi in zip(t, p, strict=True):
            if not (math.isfinite(pi) and pi > 0.0):
                self.bad_pressure += 1
                continue
            z = float(pressure_to_altitude_m(pi, s.sea_level_pa))
            # altitude noise from pressure noise: dh/dp of the barometric formula
            dh_dp = (
                _ISA_SCALE_M * _ISA_EXPONENT * (pi / s.sea_level_pa) ** (_ISA_EXPONENT - 1.0) / s.sea_level_pa
            )
            r = (dh_dp * s.pressure_noise_pa) ** 2
            if self._x is None or ti - self._t_baro > s.barometer_timeout_s:
                self._x = np.array([z, 0.0])
                self._p = np.diag([r, 0.25])
            else:
                self._predict(ti - self._t_baro)
                h = np.array([1.0, 0.0])
                innov = z - self._x[0]
                sk = self._p[0, 0] + r
                k = self._p @ h / sk
                self._x = self._x + k * innov
                self._p = self._p - np.outer(k, h @ self._p)
            self._t_baro = ti
            self._decide(ti)
        return self.state

    def update_stride(
        self,
        t_s: float | np.ndarray,
        distance_m: float | np.ndarray | None = None,
        height_change_m: float | np.ndarray | None = None,
    ) -> GradeState:
        """Feed one or more strides from the stride estimator.

        Parameters
        ----------
        t_s : float or numpy.ndarray
            Stride end times (contacts), s, non-decreasing.
        distance_m : float or numpy.ndarray, optional
            Distance covered by each stride, m (NaN where unknown).
        height_change_m : float or numpy.ndarray, optional
            Height gained by the foot over each stride, m (NaN where unknown).

        Returns
        -------
        GradeState
            The estimate after the last stride.

        Raises
        ------
        ValidationError
            On mismatched shapes, negative distances or time going backwards.
        """
        if type(t_s) is float and type(distance_m) in _SCALAR and type(height_change_m) in _SCALAR:
            # one stride as plain floats (the pipeline's case): the same checks, without arrays
            self._one_stride(t_s, distance_m, height_change_m)
            return self.state
        t = _as_1d("t_s", t_s)
        nan = np.full(t.shape, np.nan)
        d = nan if distance_m is None else _as_1d("distance_m", distance_m)
        dh = nan if height_change_m is None else _as_1d("height_change_m", height_change_m)
        if d.shape != t.shape or dh.shape != t.shape:
            raise ValidationError(
                f"t_s{t.shape}, distance_m{d.shape} and height_change_m{dh.shape} must have the same shape"
            )
        if np.any(d < 0.0):
            raise ValidationError("distance_m must be >= 0 (the distance covered by each stride)")
        self._check_time(t, self._t_stride, "stride")
        for ti, di, hi in zip(t, d, dh, strict=True):
            self._add_stride(ti, di, hi)
        return self.state

    def _one_stride(self, t_s: float, distance_m: float | None, height_change_m: float | None) -> None:
        """:meth:`update_stride` of one stride as Python floats (or None), without the state.

        The pipeline's per-stride call: it reads the grade of each step from ``_grade`` and
        ``_grade_pct`` (the state's ``grade`` and ``grade_pct``), so no :class:`GradeState` is built.
        """
        d = math.nan if distance_m is None else distance_m
        if d < 0.0:
            raise ValidationError("distance_m must be >= 0 (the distance covered by each stride)")
        if not math.isfinite(t_s) or t_s < self._t_stride:
            raise ValidationError(
                f"stride times must be finite and non-decreasing (last was {self._t_stride:.3f} s)"
            )
        self._add_stride(t_s, d, math.nan if height_change_m is None else height_change_m)

    # ---- internals -----------------------------------------------------------------------
    def _add_stride(self, ti: float, di: float, hi: float) -> None:
        s = self.settings
        self._t_stride = ti
        strides = self._strides
        isfinite = math.isfinite
        d_ok = isfinite(di)
        h_ok = isfinite(hi)
        strides.append((ti, di, hi, di if d_ok else 0.0, h_ok, d_ok and h_ok))
        if d_ok:
            self._foot_d += di
        if h_ok:
            self._n_heights += 1
        # keep the strides that cover the last grade_distance_m (and at least foot_strides), none
        # older than max_grade_age_s
        while strides:
            t0, _d0, _h0, d0, h0_ok, _both = strides[0]
            old = ti - t0 > s.max_grade_age_s
            covered = len(strides) > s.foot_strides and self._foot_d - d0 >= s.grade_distance_m
            if not (old or covered):
                break
            strides.popleft()
            self._foot_d -= d0
            if h0_ok:
                self._n_heights -= 1
        if d_ok:
            self._cum_d += di
            if self._x is not None:  # else no altitude (what _altitude_at says)
                alt = self._altitude_at(ti)
                if isfinite(alt):
                    self._track.append((ti, self._cum_d, alt))
        self._decide(ti)

    @staticmethod
    def _check_time(t: np.ndarray, last: float, what: str) -> None:
        if t.size and (not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0.0) or t[0] < last):
            raise ValidationError(f"{what} times must be finite and non-decreasing (last was {last:.3f} s)")

    def _predict(self, dt: float) -> None:
        f = np.array([[1.0, dt], [0.0, 1.0]])
        q = self.settings.vertical_accel_noise_mps2**2
        qm = q * np.array([[dt**4 / 4.0, dt**3 / 2.0], [dt**3 / 2.0, dt**2]])
        self._x = f @ self._x
        self._p = f @ self._p @ f.T + qm

    def _baro_fresh(self, t: float) -> bool:
        return self._x is not None and t - self._t_baro <= self.settings.barometer_timeout_s

    def _altitude_at(self, t: float) -> float:
        if not self._baro_fresh(t):
            return math.nan
        return float(self._x[0] + self._x[1] * max(0.0, t - self._t_baro))

    def _baro_grade_pct(self, t: float) -> float:
        s = self.settings
        while self._track and t - self._track[0][0] > s.max_grade_age_s:
            self._track.popleft()
        if len(self._track) < 2:
            return math.nan
        _t1, d1, h1 = self._track[-1]
        # newest point at least grade_distance_m behind
        for _t0, d0, h0 in reversed(self._track):
            if d1 - d0 >= s.grade_distance_m:
                run = math.sqrt(max((d1 - d0) ** 2 - (h1 - h0) ** 2, 1e-9))
                return 100.0 * (h1 - h0) / run
        return math.nan

    def _foot(self, t: float) -> tuple[float, float, float, float]:
        """Grade (%) and vertical speed (m/s) from the recent strides' height changes.

        The grade is the height gained over the last ``grade_distance_m`` of strides (those with
        both a distance and a height; none older than ``max_grade_age_s``) over their run; the
        vertical speed, the height gained over the time spanned by the last ``foot_strides``
        strides within ``stride_timeout_s``.  Also returns the standard errors of both (same
        units), from ``foot_height_noise_m``.
        """
        if not self._n_heights:
            # no stride with a height (a lower-back sensor): nothing below would find a row
            return math.nan, math.nan, math.nan, math.nan
        s = self.settings
        noise = s.foot_height_noise_m
        strides = self._strides
        # vertical speed: the last foot_strides strides, a pause (stride_timeout_s) forgets them
        rows = list(itertools.islice(reversed(strides), s.foot_strides))
        rows = [r for r in reversed(rows) if t - r[0] <= s.stride_timeout_s and r[4]]
        vspeed, vspeed_se = math.nan, math.nan
        if len(rows) >= 2:
            span = rows[-1][0] - rows[0][0]
            if span > 0.0:
                later = rows[1:]
                vspeed = sum([r[2] for r in later]) / span
                vspeed_se = noise * math.sqrt(len(later)) / span
        # grade: the height over the last grade_distance_m, newest stride first
        rise, total, n = 0.0, 0.0, 0
        max_age_s = s.max_grade_age_s
        for ti, di, hi, _d, _h_ok, both in reversed(strides):
            if t - ti > max_age_s:
                break
            if both:
                rise += hi
                total += di
                n += 1
                if total >= s.grade_distance_m:
                    break
        grade, grade_se = math.nan, math.nan
        if n >= 2 and total > 0.0:
            run = math.sqrt(max(total**2 - rise**2, 1e-9))
            grade, grade_se = 100.0 * rise / run, 100.0 * noise * math.sqrt(n) / run
        return grade, vspeed, grade_se, vspeed_se

    def _decide(self, t: float) -> None:
        s = self.settings
        self._t_last = max(self._t_last, t)
        t = self._t_last
        grade_pct, vspeed, alt, source = math.nan, math.nan, math.nan, "none"
        grade_se, vspeed_se = 0.0, 0.0
        if self._baro_fresh(t):
            alt = self._altitude_at(t)
            vspeed = float(self._x[1])
            grade_pct = self._baro_grade_pct(t)
            source = "barometer+distance" if math.isfinite(grade_pct) else "barometer"
        elif self._n_heights:  # else _foot finds nothing: no source
            g, v, grade_se, vspeed_se = self._foot(t)
            if math.isfinite(g):
                grade_pct, vspeed, source = g, v, "foot+distance"
            elif math.isfinite(v):
                vspeed, source = v, "foot"
        if source == "none":
            new = UNKNOWN
        elif math.isfinite(grade_pct):
            value = _significant(grade_pct, _FOOT_Z * grade_se)
            new = self._threshold(value, s.climb_grade_pct, s.descent_grade_pct, s.grade_hysteresis_pct)
        else:
            value = _significant(vspeed, _FOOT_Z * vspeed_se)
            new = self._threshold(value, s.climb_vspeed_mps, s.descent_vspeed_mps, s.vspeed_hysteresis_mps)
        if new != self._grade:
            from_unknown = self._grade == UNKNOWN or new == UNKNOWN
            if from_unknown or t - self._t_change >= s.min_dwell_s:
                self._grade = new
                self._t_change = t
        self._last_fields = (t, self._grade, grade_pct, vspeed, alt, source)
        self._last = None
        self._grade_pct = grade_pct

    def _threshold(self, value: float, up: float, down: float, band: float) -> str:
        cur = self._grade
        if cur == CLIMB:
            if value >= up - band:
                return CLIMB
        elif cur == DESCENT and value <= down + band:
            return DESCENT
        if value >= up:
            return CLIMB
        if value <= down:
            return DESCENT
        return FLAT
