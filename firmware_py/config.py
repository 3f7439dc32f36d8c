"""Configuration: TOML files -> frozen dataclasses, with one-line errors.

Layers, later ones win::

    built-in config/default.toml  <  profile ([coach] profile)  <  the user's file  <  overrides

Every key is declared once, below, with its type and allowed values; ``config/default.toml``
documents each for people (a test keeps the two in step). Every problem raises
:class:`~firmware_py.exc.ConfigError` with a single line naming the file, the dotted key, the
value found and what is allowed, e.g.::

    /etc/cadence-coach/config.toml: coach.repeat_s = -3: out of range; allowed: a number from 1 to 3600 (s)
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dsp.coach import Baseline, CoachSettings, TerrainTargets
from firmware_py.exc import ConfigError, ConfigNotFoundError

if TYPE_CHECKING:
    from dsp.pipeline import Pipeline
    from dsp.steps import StepSettings
    from dsp.stride import StrideSettings

__all__ = [
    "CHIPS",
    "BatteryConfig",
    "CoachConfig",
    "Config",
    "DeviceConfig",
    "PinsConfig",
    "RecordingConfig",
    "RunnerConfig",
    "StrideConfig",
    "TargetsConfig",
    "TerrainTargetsConfig",
    "builtin_config_dir",
    "coach_settings",
    "list_profiles",
    "load_config",
    "runner_baseline",
    "step_settings",
]

#: IMU chip names accepted in ``device.chip`` (besides ``auto``); kept equal to
#: ``firmware_py.imu.detect.IMU_DRIVERS`` by a test.
CHIPS = ("mpu6050", "mpu6500", "mpu9250", "lsm6ds3", "lsm6dsl", "lsm6dso", "lsm6dsox", "icm42688")
#: Placement aliases accepted in ``device.placement``: those of the command line's ``--placement``
#: and of the sidecars (``firmware_py.logs.recording.PLACEMENT_ALIASES``, kept equal by a test).
_PLACEMENTS = {
    "lower_back": "lower_back",
    "waist": "lower_back",
    "belt": "lower_back",
    "foot": "foot",
    "shoe": "foot",
    "shank": "shank",
    "shin": "shank",
}
#: BCM GPIOs that must never be used for cue hardware: the I2C bus (hardware/wiring.md).
_I2C_GPIOS = (2, 3)
#: Sections a profile may set.
_PROFILE_SECTIONS = ("coach", "targets")
#: Name shown as the "file" of errors in programmatic overrides.
OVERRIDES = "<overrides>"
#: Name shown as the "file" of errors in the ``profile`` argument (the command line's ``--profile``).
PROFILE_ARGUMENT = "--profile"


# ----------------------------------------------------------------------------------- key schema
@dataclass(frozen=True)
class _Spec:
    """How one key is checked: its kind, range or choices, unit, and whether "none" is allowed."""

    kind: str  # float | int | bool | str | choice | pin | pins3 | address | bus
    lo: float | None = None
    hi: float | None = None
    choices: tuple[Any, ...] = ()
    unit: str = ""
    nullable: bool = False

    def allowed(self) -> str:
        """Describe the allowed values in words."""
        unit = f" ({self.unit})" if self.unit else ""
        none = ' or "none"' if self.nullable else ""
        if self.kind in ("float", "int"):
            what = "a number" if self.kind == "float" else "an integer"
            return f"{what} from {self.lo:g} to {self.hi:g}{unit}{none}"
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(_fmt(c) for c in self.choices) + none
        if self.kind == "pin":
            return f"a BCM GPIO number from 0 to 27 except 2 and 3 (I2C){none}"
        if self.kind == "pins3":
            return "a list of three BCM GPIO numbers [red, green, blue], none of them 2 or 3 (I2C)"
        if self.kind == "address":
            return f"an I2C address from 0x08 to 0x77, e.g. 0x68{none}"
        if self.kind == "bus":
            return '"smbus:N" (N = bus number, e.g. "smbus:1"), "fake", "fake:RECORDING" or "fake?OPTIONS"'
        return f"a non-empty string{none}"


def _k(default: Any, kind: str, lo: float | None = None, hi: float | None = None, **kw: Any) -> Any:
    """Declare a config key: a dataclass field with its default and its :class:`_Spec`."""
    return field(default=default, metadata={"spec": _Spec(kind, lo, hi, **kw)})


@dataclass(frozen=True)
class DeviceConfig:
    """``[device]``: the bus, the IMU and where it is worn (see ``config/default.toml``).

    ``accel_range_g`` is always set after loading: when the file leaves it unset it is 16 for a
    foot or shank sensor and 8 at the lower back.
    """

    bus: str = _k("smbus:1", "bus")
    chip: str = _k("auto", "choice", choices=("auto", *CHIPS))
    address: int | None = _k(None, "address", nullable=True)
    sampling_rate_hz: float = _k(200.0, "float", 50, 1000, unit="Hz")
    accel_range_g: int | None = _k(None, "choice", choices=(2, 4, 8, 16), nullable=True)
    gyro_range_dps: int = _k(2000, "choice", choices=(250, 500, 1000, 2000))
    placement: str = _k("lower_back", "choice", choices=tuple(_PLACEMENTS))
    placement_side: str | None = _k(None, "choice", choices=("left", "right"), nullable=True)


@dataclass(frozen=True)
class RecordingConfig:
    """``[recording]``: where and how raw samples are recorded."""

    enabled: bool = _k(True, "bool")
    data_dir: str = _k("/var/lib/cadence-coach/logs", "str")
    fsync_interval_s: float = _k(1.0, "float", 0.1, 60, unit="s")
    min_free_mb: int = _k(200, "int", 0, 100000, unit="MB")


@dataclass(frozen=True)
class CoachConfig:
    """``[coach]``: profile, baseline and cue policy (meaning of each key: ``dsp.coach.CoachSettings``)."""

    profile: str = _k("brief", "str")
    enabled: bool = _k(True, "bool")
    baseline: str = _k("learn", "choice", choices=("learn", "runner"))
    baseline_learn_s: float = _k(120.0, "float", 10, 1800, unit="s")
    baseline_min_steps: int = _k(100, "int", 10, 10000, unit="steps")
    baseline_window_steps: int = _k(400, "int", 10, 10000, unit="steps")
    baseline_update_steps: float = _k(600.0, "float", 1, 100000, unit="steps")
    min_off_target_steps: int = _k(12, "int", 1, 1000, unit="steps")
    min_off_target_s: float = _k(8.0, "float", 0, 600, unit="s")
    repeat_s: float = _k(20.0, "float", 1, 3600, unit="s")
    max_level: int = _k(3, "int", 1, 3)
    repeat_backoff: float = _k(2.0, "float", 1, 10)
    max_repeat_s: float = _k(300.0, "float", 1, 3600, unit="s")
    settle_steps: int = _k(4, "int", 1, 100, unit="steps")
    settle_s: float = _k(8.0, "float", 0, 600, unit="s")
    min_cue_gap_s: float = _k(3.0, "float", 0, 600, unit="s")
    metronome_beats: int = _k(0, "int", 0, 32, unit="beats")
    terrain_changed_cue: bool = _k(True, "bool")
    terrain_confirm_steps: int = _k(4, "int", 1, 100, unit="steps")
    gap_reset_s: float = _k(5.0, "float", 0.5, 600, unit="s")
    device_repeat_s: float = _k(60.0, "float", 0, 3600, unit="s")
    hike_min_grade_pct: float = _k(15.0, "float", 1, 100, unit="%")
    hike_speed_ratio: float = _k(1.0, "float", 0.5, 2.0)
    hike_no_speed_grade_pct: float = _k(25.0, "float", 1, 100, unit="%")
    run_max_grade_pct: float = _k(10.0, "float", 0, 100, unit="%")
    run_speed_ratio: float = _k(1.2, "float", 1.0, 3.0)
    run_window_s: float = _k(120.0, "float", 10, 3600, unit="s")
    run_cue_repeats: bool = _k(False, "bool")
    hiking_grade_bin_pct: float = _k(3.0, "float", 0.5, 20, unit="%")
    hiking_min_steps: int = _k(20, "int", 1, 10000, unit="steps")


@dataclass(frozen=True)
class TerrainTargetsConfig:
    """``[targets.smooth]`` / ``[targets.technical]``: factors on the baseline."""

    cadence_factor: float = _k(1.0, "float", 0.5, 3.0)
    stride_factor: float = _k(1.0, "float", 0.2, 2.0)


@dataclass(frozen=True)
class TargetsConfig:
    """``[targets]``: bounds and bands of the targets, and the factors per terrain."""

    cadence_floor_spm: float = _k(150.0, "float", 100, 220, unit="steps/min")
    cadence_ceiling_spm: float = _k(230.0, "float", 150, 260, unit="steps/min")
    stride_floor_m: float = _k(0.5, "float", 0.2, 3.0, unit="m")
    cadence_tolerance_spm: float = _k(5.0, "float", 1, 30, unit="steps/min")
    stride_tolerance_pct: float = _k(8.0, "float", 1, 50, unit="%")
    smooth: TerrainTargetsConfig = field(default_factory=TerrainTargetsConfig)
    technical: TerrainTargetsConfig = field(default_factory=lambda: TerrainTargetsConfig(2.0, 0.5))


@dataclass(frozen=True)
class RunnerConfig:
    """``[runner]``: the runner (all optional)."""

    height_m: float | None = _k(None, "float", 1.0, 2.5, unit="m", nullable=True)
    baseline_cadence_spm: float | None = _k(None, "float", 120, 240, unit="steps/min", nullable=True)
    baseline_stride_length_m: float | None = _k(None, "float", 0.5, 4.0, unit="m", nullable=True)
    hiking_speed_flat_mps: float | None = _k(None, "float", 0.5, 3.0, unit="m/s", nullable=True)
    # foot sensors: the cadence that tells running (``dsp.steps.StepSettings``; unset: its
    # default, docs/gait.md); fast walking reaches 125-135 steps/min, a slow jog 140-150
    run_cadence_spm: float | None = _k(None, "float", 120, 180, unit="steps/min", nullable=True)


@dataclass(frozen=True)
class StrideConfig:
    """``[stride]``: calibration factors of the stride-length estimate, and the foot sensor's height."""

    scale_walk: float = _k(1.0, "float", 0.5, 2.0)
    scale_run: float = _k(1.0, "float", 0.5, 2.0)
    foot_sensor_height_m: float = _k(0.07, "float", 0.0, 0.2, unit="m")


@dataclass(frozen=True)
class BatteryConfig:
    """``[battery]``: where the battery is read and when to warn and stop (``firmware_py.battery``)."""

    source: str = _k("auto", "choice", choices=("auto", "pisugar3", "hwmon", "none"))
    address: int = _k(0x57, "address")
    low_percent: float = _k(15.0, "float", 1, 90, unit="%")
    critical_percent: float = _k(5.0, "float", 0, 50, unit="%")
    poll_s: float = _k(15.0, "float", 1, 600, unit="s")


@dataclass(frozen=True)
class PinsConfig:
    """``[pins]``: BCM GPIO numbers of the cue hardware; None = not fitted (hardware/wiring.md)."""

    buzzer: int | None = _k(17, "pin", nullable=True)
    buzzer_kind: str = _k("active", "choice", choices=("active", "passive"))
    led: int | None = _k(27, "pin", nullable=True)
    led_kind: str = _k("led", "choice", choices=("led", "pwm", "rgb"))
    rgb: tuple[int, int, int] | None = _k((5, 6, 13), "pins3", nullable=True)
    led_active_high: bool = _k(True, "bool")
    vibration: int | None = _k(18, "pin", nullable=True)
    button: int | None = _k(23, "pin", nullable=True)
    button_long_press_s: float = _k(1.0, "float", 0.3, 10, unit="s")
    button_bounce_s: float = _k(0.02, "float", 0, 0.5, unit="s")


@dataclass(frozen=True)
class Config:
    """The whole configuration.

    Attributes
    ----------
    device, recording, coach, targets, runner, stride, pins, battery
        One frozen dataclass per section.
    profile_path : str or None
        The profile file that was applied.
    sources : tuple of str
        Every file (and ``<overrides>``) that contributed, lowest layer first.
    """

    device: DeviceConfig = field(default_factory=DeviceConfig)
    recording: RecordingConfig = field(default_factory=RecordingConfig)
    coach: CoachConfig = field(default_factory=CoachConfig)
    targets: TargetsConfig = field(default_factory=TargetsConfig)
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    stride: StrideConfig = field(default_factory=StrideConfig)
    pins: PinsConfig = field(default_factory=PinsConfig)
    battery: BatteryConfig = field(default_factory=BatteryConfig)
    profile_path: str | None = None
    sources: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the effective configuration as plain data (sections -> keys -> values)."""
        return {f.name: _to_plain(getattr(self, f.name)) for f in fields(self)}


#: Section name -> dataclass; ``targets.smooth`` and ``targets.technical`` are sub-tables.
_SECTIONS: dict[str, type] = {
    "device": DeviceConfig,
    "recording": RecordingConfig,
    "coach": CoachConfig,
    "targets": TargetsConfig,
    "runner": RunnerConfig,
    "stride": StrideConfig,
    "pins": PinsConfig,
    "battery": BatteryConfig,
}
_SUBTABLES: dict[str, type] = {
    "targets.smooth": TerrainTargetsConfig,
    "targets.technical": TerrainTargetsConfig,
}


def _to_plain(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        return {f.name: _to_plain(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, tuple):
        return list(obj)
    return obj


def _specs(cls: type) -> dict[str, _Spec]:
    return {f.name: f.metadata["spec"] for f in fields(cls) if "spec" in f.metadata}


#: ``[coach]`` keys added since device logs first recorded their configuration, each with the
#: settings that give the rule in force before it: a log whose snapshot lacks the key replays with
#: them, as its device cued (:func:`config_from_snapshot`).
_COACH_KEYS_ADDED: dict[str, dict[str, Any]] = {
    # the back-off of repeated cues: a repeat every repeat_s for as long as the stretch lasted
    # (and that device's repeat_s may exceed today's default max_repeat_s)
    "repeat_backoff": {
        "coach.repeat_backoff": 1.0,
        "coach.max_repeat_s": _specs(CoachConfig)["max_repeat_s"].hi,
    },
    # settle_steps on-target steps alone ended a stretch
    "settle_s": {"coach.settle_s": 0.0},
    # "run" after a hike repeated and escalated as every cue
    "run_cue_repeats": {"coach.run_cue_repeats": True},
}


def _all_keys() -> list[str]:
    keys = [f"{s}.{k}" for s, cls in _SECTIONS.items() for k in _specs(cls)]
    keys += [f"{s}.{k}" for s, cls in _SUBTABLES.items() for k in _specs(cls)]
    return keys


# ------------------------------------------------------------------------------------ messages
def _fmt(value: Any) -> str:
    """Show a value as it would be written in TOML."""
    if isinstance(value, dict):
        return "a table {…}"
    if isinstance(value, tuple):
        value = list(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "table"
    return type(value).__name__


def _raise_kind(
    message: str, file: str, key: str | None, value: Any, allowed: str, cls: type[ConfigError] = ConfigError
) -> ConfigError:
    """Build a one-line error carrying ``file``, ``key``, ``value`` and ``allowed`` as attributes."""
    exc = cls(" ".join(message.split()))
    exc.file, exc.key, exc.value, exc.allowed = file, key, value, allowed  # type: ignore[attr-defined]
    return exc


def _error(file: str, key: str, value: Any, problem: str, allowed: str) -> ConfigError:
    """``FILE: KEY = VALUE: PROBLEM; allowed: ALLOWED`` as a ConfigError."""
    return _raise_kind(
        f"{file}: {key} = {_fmt(value)}: {problem}; allowed: {allowed}", file, key, value, allowed
    )


def _suggest(name: str, candidates: list[str], cutoff: float = 0.6) -> str:
    near = difflib.get_close_matches(name, candidates, n=1, cutoff=cutoff)
    return f"(did you mean {near[0]}?)" if near else ""


def _suggest_anywhere(name: str) -> str:
    """Suggest a dotted key from any section whose last part looks like ``name``."""
    by_last = {}
    for k in _all_keys():
        by_last.setdefault(k.rsplit(".", 1)[1], k)
    if name in by_last:
        return f"(did you mean {by_last[name]}?)"
    near = difflib.get_close_matches(name, list(by_last), n=1, cutoff=0.8)
    return f"(did you mean {by_last[near[0]]}?)" if near else ""


# ---------------------------------------------------------------------------------- validation
def _check_value(file: str, key: str, spec: _Spec, value: Any) -> Any:
    """Validate one value; return it normalised (None for "none", float for numbers, tuple for rgb)."""
    allowed = spec.allowed()
    if isinstance(value, str) and value.strip().lower() == "none" and spec.nullable:
        return None
    kind = spec.kind
    wrong = f"wrong type ({_type_name(value)})"
    if kind in ("float", "int"):
        ok_type = isinstance(value, int) and not isinstance(value, bool)
        if kind == "float":
            ok_type = ok_type or isinstance(value, float)
        if not ok_type:
            raise _error(file, key, value, wrong, allowed)
        if not math.isfinite(value) or not (spec.lo <= value <= spec.hi):  # type: ignore[operator]
            raise _error(file, key, value, "out of range", allowed)
        return float(value) if kind == "float" else int(value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise _error(file, key, value, wrong, allowed)
        return value
    if kind == "choice":
        if isinstance(value, bool) or value not in spec.choices:
            problem = "not allowed" if type(value) in {type(c) for c in spec.choices} else wrong
            raise _error(file, key, value, problem, allowed)
        return spec.choices[spec.choices.index(value)]
    if kind == "pin":
        if not isinstance(value, int) or isinstance(value, bool):
            raise _error(file, key, value, wrong, allowed)
        if not 0 <= value <= 27 or value in _I2C_GPIOS:
            raise _error(file, key, value, "not a usable GPIO", allowed)
        return value
    if kind == "pins3":
        if not isinstance(value, list) or len(value) != 3:
            raise _error(
                file, key, value, wrong if not isinstance(value, list) else "not three pins", allowed
            )
        for p in value:
            if not isinstance(p, int) or isinstance(p, bool) or not 0 <= p <= 27 or p in _I2C_GPIOS:
                raise _error(file, key, value, f"{_fmt(p)} is not a usable GPIO", allowed)
        return tuple(value)
    if kind == "address":
        if not isinstance(value, int) or isinstance(value, bool):
            raise _error(file, key, value, wrong, allowed)
        if not 0x08 <= value <= 0x77:
            raise _error(file, key, value, "out of range", allowed)
        return value
    if not isinstance(value, str):
        raise _error(file, key, value, wrong, allowed)
    if not value.strip():
        raise _error(file, key, value, "empty", allowed)
    if kind == "bus" and not re.fullmatch(r"smbus:\d+|fake|fake[:?].+", value.strip()):
        raise _error(file, key, value, "not a bus", allowed)
    return value.strip() if kind == "bus" else value


def _check_layer(
    file: str, raw: Mapping[str, Any], *, sections: tuple[str, ...] | None = None
) -> dict[str, dict[str, Any]]:
    """Validate one parsed layer; return ``{"section" or "targets.smooth": {key: value}}``."""
    out: dict[str, dict[str, Any]] = {}
    names = list(_SECTIONS)
    for sec, table in raw.items():
        if sec not in _SECTIONS:
            hint = _suggest(sec, names) or _suggest_anywhere(sec)
            what = "unknown section" if isinstance(table, dict) else "a key outside any section"
            raise _error(file, sec, table, f"{what} {hint}".strip(), "the sections " + ", ".join(names))
        if sections is not None and sec not in sections:
            raise _error(
                file, sec, table, "not allowed in a profile", "profile sections " + ", ".join(sections)
            )
        if not isinstance(table, dict):
            raise _error(file, sec, table, f"wrong type ({_type_name(table)})", f"a table [{sec}]")
        _check_table(file, sec, table, _SECTIONS[sec], out)
    return out


def _check_table(
    file: str, sec: str, table: dict[str, Any], cls: type, out: dict[str, dict[str, Any]]
) -> None:
    specs = _specs(cls)
    subs = [k.split(".", 1)[1] for k in _SUBTABLES if k.startswith(sec + ".")]
    dst = out.setdefault(sec, {})
    for key, value in table.items():
        dotted = f"{sec}.{key}"
        if key in subs:
            if not isinstance(value, dict):
                raise _error(file, dotted, value, f"wrong type ({_type_name(value)})", f"a table [{dotted}]")
            _check_table(file, dotted, value, _SUBTABLES[dotted], out)
            continue
        if key not in specs:
            local = [f"{sec}.{k}" for k in (*specs, *subs)]
            exact = [k for k in _all_keys() if k.rsplit(".", 1)[1] == key]
            hint = (
                f"(did you mean {exact[0]}?)" if exact else _suggest(dotted, local) or _suggest_anywhere(key)
            )
            raise _error(
                file,
                dotted,
                value,
                f"unknown key {hint}".strip(),
                f"the keys of [{sec}]: " + ", ".join(k.rsplit(".", 1)[1] for k in local),
            )
        dst[key] = _check_value(file, dotted, specs[key], value)


# ---------------------------------------------------------------------------------------- files
def builtin_config_dir(package_dir: Path | None = None) -> Path:
    """Return the directory holding the built-in ``default.toml`` and ``profiles/``.

    Parameters
    ----------
    package_dir : pathlib.Path, optional
        The ``firmware_py`` package directory (default: this module's); a parameter for tests.

    Returns
    -------
    pathlib.Path
        ``<checkout>/config`` when running from a source checkout (it has ``pyproject.toml``),
        else ``firmware_py/data/config`` (an installed wheel ships a copy there as package data).

    Raises
    ------
    ConfigNotFoundError
        When neither holds ``default.toml``.
    """
    here = Path(package_dir) if package_dir is not None else Path(__file__).resolve().parent
    checkout = here.parent / "config"
    packaged = here / "data" / "config"
    candidates = []
    if (here.parent / "pyproject.toml").is_file():
        candidates.append(checkout)
    candidates.append(packaged)
    for cand in candidates:
        if (cand / "default.toml").is_file():
            return cand
    looked = " and ".join(str(c / "default.toml") for c in candidates)
    allowed = "a source checkout with config/ or an installed cadence-coach wheel (reinstall it)"
    raise _raise_kind(
        f"{looked}: built-in default config not found; allowed: {allowed}",
        str(candidates[-1] / "default.toml"),
        None,
        None,
        allowed,
        ConfigNotFoundError,
    )


def list_profiles(*dirs: Path) -> list[str]:
    """Names of the profiles (``*.toml``) in ``dirs`` (default: the built-in ``profiles/``), sorted."""
    dirs = dirs or (builtin_config_dir() / "profiles",)
    return sorted({p.stem for d in dirs if d.is_dir() for p in d.glob("*.toml")})


def _read_toml(path: Path, *, key: str | None = None, value: Any = None) -> dict[str, Any]:
    """Parse a TOML file; every failure is a one-line ConfigError naming the file."""
    file = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        allowed = "the path of an existing TOML file (start from config/runner.example.toml)"
        what = f" ({key} = {_fmt(value)})" if key else ""
        raise _raise_kind(
            f"{file}: config file not found{what}; allowed: {allowed}",
            file,
            key,
            value,
            allowed,
            ConfigNotFoundError,
        ) from None
    except OSError as e:
        allowed = "a readable TOML file"
        if isinstance(e, PermissionError):
            # the device's /etc/cadence-coach/config.toml is root:cadence 0640 (hardware/setup-pi.sh)
            allowed += " (fix: run with sudo, or give a copy you can read)"
        raise _raise_kind(
            f"{file}: cannot read the config file ({e.strerror}); allowed: {allowed}",
            file,
            key,
            value,
            allowed,
        ) from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        allowed = "a UTF-8 TOML file"
        raise _raise_kind(
            f"{file}: not UTF-8 text (byte {e.start}); allowed: {allowed}", file, key, value, allowed
        ) from None
    except tomllib.TOMLDecodeError as e:
        text = " ".join(str(e).split())
        m = re.search(r"\(at line (\d+), column (\d+)\)", text)
        where = f", line {m.group(1)}, column {m.group(2)}" if m else ""
        if "(at end of document)" in text:
            where = ", at the end of the file"
        text = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", text)
        allowed = "TOML 1.0 syntax (https://toml.io)"
        exc = _raise_kind(
            f"{file}{where}: broken TOML: {text}; allowed: {allowed}", file, key, value, allowed
        )
        exc.line = int(m.group(1)) if m else None  # type: ignore[attr-defined]
        exc.column = int(m.group(2)) if m else None  # type: ignore[attr-defined]
        raise exc from None


def _nest_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for dotted, value in overrides.items():
        parts = str(dotted).split(".")
        if len(parts) < 2 or not all(parts):
            raise _error(OVERRIDES, str(dotted), value, "not a dotted key", "section.key, e.g. coach.profile")
        node = nested
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise _error(
                    OVERRIDES, str(dotted), value, "conflicts with another override", "one value per key"
                )
        node[parts[-1]] = value
    return nested


def _resolve_profile(name: str, file: str, user_dir: Path | None, builtin: Path) -> Path:
    dirs = ([user_dir / "profiles"] if user_dir is not None else []) + [builtin / "profiles"]
    if name.endswith(".toml") or "/" in name or "\\" in name:
        p = Path(name).expanduser()
        if not p.is_absolute():
            p = (user_dir or Path.cwd()) / p
        if not p.is_file():
            raise _error(file, "coach.profile", name, "profile file not found", f"an existing file ({p})")
        return p
    for d in dirs:
        p = d / f"{name}.toml"
        if p.is_file():
            return p
    names = list_profiles(*dirs)
    hint = _suggest(name, names)
    raise _error(
        file,
        "coach.profile",
        name,
        f"no such profile {hint}".strip(),
        ", ".join(names) + " (in " + ", ".join(str(d) for d in dirs) + ") or a path to a .toml file",
    )


def load_config(
    path: str | Path | None = None,
    *,
    profile: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Load the configuration.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        The user's TOML file (e.g. ``/etc/cadence-coach/config.toml``); None for defaults only.
    profile : str, optional
        Profile name or path; overrides ``coach.profile`` from every file.
    overrides : mapping, optional
        Dotted keys to values, applied last (e.g. ``{"device.bus": "fake"}`` from the command line).

    Returns
    -------
    Config
        Frozen dataclasses, validated.

    Raises
    ------
    ConfigNotFoundError
        When ``path`` (or the built-in defaults) does not exist.
    ConfigError
        For broken TOML, an unknown section or key, a wrong type, a value out of range, an unknown
        profile or inconsistent values; the one-line message names the file, the key, the value
        found and what is allowed.
    """
    builtin = builtin_config_dir()
    default_file = builtin / "default.toml"
    layers: list[tuple[str, dict[str, dict[str, Any]]]] = [
        (str(default_file), _check_layer(str(default_file), _read_toml(default_file)))
    ]
    user_layer: tuple[str, dict[str, dict[str, Any]]] | None = None
    user_dir = None
    if path is not None:
        p = Path(path).expanduser()
        user_layer = (str(p), _check_layer(str(p), _read_toml(p)))
        user_dir = p.resolve().parent
    over_layer = None
    if overrides:
        over_layer = (OVERRIDES, _check_layer(OVERRIDES, _nest_overrides(overrides)))

    # Which profile: the argument, else the highest layer that names one.
    name, name_file = layers[0][1]["coach"]["profile"], layers[0][0]
    for lay in (user_layer, over_layer):
        if lay is not None and "profile" in lay[1].get("coach", {}):
            name, name_file = lay[1]["coach"]["profile"], lay[0]
    if profile is not None:
        name = _check_value(PROFILE_ARGUMENT, "coach.profile", _specs(CoachConfig)["profile"], profile)
        name_file = PROFILE_ARGUMENT
    prof_path = _resolve_profile(name, name_file, user_dir, builtin)
    prof_raw = _read_toml(prof_path)
    for sec in prof_raw:
        if sec == "coach" and isinstance(prof_raw[sec], dict) and "profile" in prof_raw[sec]:
            raise _error(
                str(prof_path),
                "coach.profile",
                prof_raw[sec]["profile"],
                "a profile cannot choose a profile",
                "any [coach] key but profile, and [targets] keys",
            )
    layers.append((str(prof_path), _check_layer(str(prof_path), prof_raw, sections=_PROFILE_SECTIONS)))
    for lay in (user_layer, over_layer):
        if lay is not None:
            layers.append(lay)

    merged: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    for file, lay in layers:
        for sec, table in lay.items():
            merged.setdefault(sec, {}).update(table)
            for key in table:
                origin[f"{sec}.{key}"] = file
    if profile is not None:
        merged["coach"]["profile"] = name
        origin["coach.profile"] = PROFILE_ARGUMENT

    cfg = _build(merged, str(prof_path), tuple(f for f, _ in layers))
    _cross_check(cfg, origin, str(default_file))
    return cfg


def config_from_snapshot(snapshot: Mapping[str, Any], source: str) -> Config:
    """Rebuild the configuration a device ran with from the snapshot its log keeps.

    A ``.cclog`` header stores the effective configuration (:meth:`Config.to_dict`) of the run
    that wrote it, profile targets included, so that a replay coaches as the device did. Its
    values are applied over the built-in defaults and checked as usual; the profile it named is
    not looked up again (its values are already in the snapshot, and its file may exist only on
    the device). A snapshot without ``coach.repeat_backoff`` was written before the back-off of
    repeated cues existed: it replays with ``repeat_backoff = 1`` (a repeat every ``repeat_s``),
    as that device cued. Likewise a snapshot without ``coach.settle_s`` was written when
    ``settle_steps`` on-target steps alone ended an off-target stretch: it replays with
    ``settle_s = 0``. A snapshot without ``coach.run_cue_repeats`` was written when ``run`` after a
    hike repeated and escalated like every cue: it replays with ``run_cue_repeats = true``.

    Parameters
    ----------
    snapshot : mapping
        Sections -> keys -> values, as :meth:`Config.to_dict` wrote them.
    source : str
        Where it comes from, for error messages (the log's path).

    Returns
    -------
    Config
        The configuration of that run.

    Raises
    ------
    ConfigError
        When a value is not valid for this version (e.g. a key that no longer exists); the
        message names the log and the key.
    """
    overrides: dict[str, Any] = {}

    def walk(prefix: str, table: Mapping[str, Any]) -> None:
        for key, value in table.items():
            dotted = f"{prefix}.{key}"
            if isinstance(value, Mapping):
                walk(dotted, value)
            elif value is not None and dotted != "coach.profile":
                overrides[dotted] = value

    for section in _SECTIONS:
        table = snapshot.get(section)
        if isinstance(table, Mapping):
            walk(section, table)
    coach = snapshot.get("coach")
    if isinstance(coach, Mapping):
        for key, before in _COACH_KEYS_ADDED.items():
            if key not in coach:
                for dotted, value in before.items():
                    overrides.setdefault(dotted, value)
    try:
        cfg = load_config(overrides=overrides)
    except ConfigError as e:
        raise ConfigError(f"{source}: the configuration recorded in its header: {e}") from None
    name = (snapshot.get("coach") or {}).get("profile")
    if isinstance(name, str) and name:  # the profile's name, for reports (its values are in)
        cfg = replace(cfg, coach=replace(cfg.coach, profile=name), profile_path=snapshot.get("profile_path"))
    return cfg


def _build(merged: dict[str, dict[str, Any]], prof_path: str, sources: tuple[str, ...]) -> Config:
    def make(cls: type, sec: str) -> Any:
        values = dict(merged.get(sec, {}))
        for sub, sub_cls in _SUBTABLES.items():
            if sub.startswith(sec + "."):
                base = getattr(cls(), sub.split(".", 1)[1])
                kw = {f.name: getattr(base, f.name) for f in fields(sub_cls)}
                kw.update(merged.get(sub, {}))
                values[sub.split(".", 1)[1]] = sub_cls(**kw)
        return cls(**values)

    dev = make(DeviceConfig, "device")
    placement = _PLACEMENTS[dev.placement]
    accel = dev.accel_range_g if dev.accel_range_g is not None else (8 if placement == "lower_back" else 16)
    dev = replace(dev, placement=placement, accel_range_g=accel)
    pins = make(PinsConfig, "pins")
    return Config(
        device=dev,
        recording=make(RecordingConfig, "recording"),
        coach=make(CoachConfig, "coach"),
        targets=make(TargetsConfig, "targets"),
        runner=make(RunnerConfig, "runner"),
        stride=make(StrideConfig, "stride"),
        pins=pins,
        battery=make(BatteryConfig, "battery"),
        profile_path=prof_path,
        sources=sources,
    )


def _cross_check(cfg: Config, origin: dict[str, str], default_file: str) -> None:
    """Check the rules that involve two keys; the error names the file that set the first one."""

    def err(key: str, value: Any, problem: str, allowed: str) -> ConfigError:
        return _error(origin.get(key, default_file), key, value, problem, allowed)

    t = cfg.targets
    if not t.cadence_floor_spm < t.cadence_ceiling_spm:
        where = origin.get("targets.cadence_ceiling_spm", default_file)
        raise err(
            "targets.cadence_floor_spm",
            t.cadence_floor_spm,
            f"not below targets.cadence_ceiling_spm = {t.cadence_ceiling_spm:g} (set in {where})",
            "a floor below the ceiling",
        )
    c = cfg.coach
    if c.run_max_grade_pct > c.hike_min_grade_pct:
        raise err(
            "coach.run_max_grade_pct",
            c.run_max_grade_pct,
            f"above coach.hike_min_grade_pct = {c.hike_min_grade_pct:g}",
            "a number ≤ coach.hike_min_grade_pct (the gap is the hysteresis)",
        )
    if c.max_repeat_s < c.repeat_s:
        # blame the key the user set, not the default it meets (a repeat_s of 600 s meets the
        # default ceiling of the back-off, 300 s)
        max_in = origin.get("coach.max_repeat_s", default_file)
        if origin.get("coach.repeat_s", default_file) != default_file and max_in == default_file:
            raise err(
                "coach.repeat_s",
                c.repeat_s,
                f"above coach.max_repeat_s = {c.max_repeat_s:g} (set in {max_in})",
                f"a number ≤ coach.max_repeat_s, or raise coach.max_repeat_s to at least {c.repeat_s:g}",
            )
        raise err(
            "coach.max_repeat_s",
            c.max_repeat_s,
            f"below coach.repeat_s = {c.repeat_s:g} (set in {origin.get('coach.repeat_s', default_file)})",
            "a number ≥ coach.repeat_s (the back-off only lengthens the wait between repeats)",
        )
    if c.baseline == "runner" and cfg.runner.baseline_cadence_spm is None:
        raise err(
            "coach.baseline",
            c.baseline,
            "needs runner.baseline_cadence_spm, which is not set",
            '"learn", or set runner.baseline_cadence_spm (and runner.baseline_stride_length_m)',
        )
    b = cfg.battery
    if not b.critical_percent < b.low_percent:
        raise err(
            "battery.critical_percent",
            b.critical_percent,
            f"not below battery.low_percent = {b.low_percent:g}",
            "a number below battery.low_percent (warn first, stop later)",
        )
    p = cfg.pins
    used: dict[int, str] = {}
    wanted = [("pins.buzzer", p.buzzer), ("pins.vibration", p.vibration), ("pins.button", p.button)]
    if p.led_kind == "rgb":
        if p.rgb is None:
            raise err("pins.rgb", None, 'not set but pins.led_kind = "rgb"', "three pins [red, green, blue]")
        wanted += [(f"pins.rgb[{i}]", pin) for i, pin in enumerate(p.rgb)]
    else:
        wanted.append(("pins.led", p.led))

    def set_in(k: str) -> str:
        return origin.get(k.split("[")[0], default_file)

    for key, pin in wanted:
        if pin is None:
            continue
        if pin in used:
            this, other = key, used[pin]
            if set_in(this) == default_file and set_in(other) != default_file:
                this, other = other, this  # blame the key the user set, not the default it meets
            raise err(
                this.split("[")[0],
                pin,
                f"GPIO{pin} is already used by {other} (set in {set_in(other)})",
                "a GPIO no other output uses",
            )
        used[pin] = key


# -------------------------------------------------------------------------------- to the coach
def coach_settings(cfg: Config) -> CoachSettings:
    """Build the coach's settings from a loaded configuration.

    Parameters
    ----------
    cfg : Config
        A configuration from :func:`load_config`.

    Returns
    -------
    dsp.coach.CoachSettings
        Targets from ``[targets]``, policy from ``[coach]``, hiking speed from ``[runner]``.
    """
    c, t = cfg.coach, cfg.targets
    kw: dict[str, Any] = {
        f.name: getattr(c, f.name)
        for f in fields(CoachConfig)
        if f.name not in ("profile", "baseline") and f.name in CoachSettings.__dataclass_fields__
    }
    kw.update(
        smooth=TerrainTargets(t.smooth.cadence_factor, t.smooth.stride_factor),
        technical=TerrainTargets(t.technical.cadence_factor, t.technical.stride_factor),
        cadence_floor_spm=t.cadence_floor_spm,
        cadence_ceiling_spm=t.cadence_ceiling_spm,
        stride_floor_m=t.stride_floor_m,
        cadence_tolerance_spm=t.cadence_tolerance_spm,
        stride_tolerance_pct=t.stride_tolerance_pct,
    )
    if cfg.runner.hiking_speed_flat_mps is not None:
        kw["hiking_speed_flat_mps"] = cfg.runner.hiking_speed_flat_mps
    return CoachSettings(**kw)


def runner_baseline(cfg: Config) -> Baseline | None:
    """Return the fixed baseline of ``[runner]`` if ``coach.baseline = "runner"``, else None (learn it)."""
    r = cfg.runner
    if cfg.coach.baseline != "runner" or r.baseline_cadence_spm is None:
        return None
    return Baseline(r.baseline_cadence_spm, r.baseline_stride_length_m, "runner", 0)


class _PerConfig:
    """``build(cfg)``, reused while the same configuration object comes back.

    A replay builds one pipeline per recording, nearly always from the same (frozen) configuration,
    and checking its settings again each time was a quarter of building a pipeline. One entry,
    keyed by identity: hashing a configuration costs about as much as building its settings.

    Parameters
    ----------
    build : callable
        ``build(cfg) -> settings``.
    """

    def __init__(self, build: Callable[[Config], Any]) -> None:
        self._build = build
        self._last: tuple[Config, Any] | None = None

    def __call__(self, cfg: Config) -> Any:
        last = self._last
        if last is not None and last[0] is cfg:
            return last[1]
        value = self._build(cfg)
        self._last = (cfg, value)
        return value


def _stride_settings(cfg: Config) -> StrideSettings:
    """Return the stride settings of ``cfg``'s ``[stride]``."""
    from dsp.stride import StrideSettings

    return StrideSettings(
        scale_walk=cfg.stride.scale_walk,
        scale_run=cfg.stride.scale_run,
        sensor_height_m=cfg.stride.foot_sensor_height_m,
    )


def step_settings(cfg: Config) -> StepSettings:
    """Return the step detector's settings of ``cfg``: ``[runner] run_cadence_spm``, if set.

    Parameters
    ----------
    cfg : Config
        A configuration from :func:`load_config`.

    Returns
    -------
    dsp.StepSettings
        The defaults, with the foot's running cadence from ``[runner]`` when given.
    """
    from dsp.steps import StepSettings

    c = cfg.runner.run_cadence_spm
    return StepSettings() if c is None else StepSettings(run_cadence_spm=c)


#: The coach, stride and step settings of :func:`make_pipeline`, reused while its configuration returns.
_coach_settings_of = _PerConfig(coach_settings)
_stride_settings_of = _PerConfig(_stride_settings)
_step_settings_of = _PerConfig(step_settings)


def make_pipeline(
    cfg: Config,
    *,
    sampling_rate_hz: float,
    placement: str,
    has_gyro: bool,
    placement_side: str | None = None,
    runner_height_m: float | None = None,
    accel_range_g: float | None = None,
    gyro_range_dps: float | None = None,
) -> Pipeline:
    """Build the signal-processing pipeline a configuration describes (live and replay alike).

    Parameters
    ----------
    cfg : Config
        A configuration from :func:`load_config`.
    sampling_rate_hz : float
        Sampling rate of the blocks, Hz.
    placement : str
        Where the sensor is worn.
    has_gyro : bool
        Whether blocks carry gyroscope data.
    placement_side : str, optional
        ``left``/``right`` for a foot sensor.
    runner_height_m : float, optional
        Overrides ``[runner] height_m`` (e.g. a recording's sidecar knows the subject's height).
    accel_range_g, gyro_range_dps : float, optional
        The sensor's configured full-scale ranges (a native log's header has them), so that
        clipped samples are counted.

    Returns
    -------
    dsp.Pipeline
        Steps, stride (with the calibrated scales of ``[stride]``) and, when ``[coach] enabled``,
        the coach with the profile's targets.
    """
    from dsp.coach import Coach
    from dsp.pipeline import Pipeline
    from firmware_py.imu.base import STANDARD_GRAVITY_MPS2

    coach = Coach(_coach_settings_of(cfg), runner_baseline(cfg)) if cfg.coach.enabled else None
    return Pipeline(
        sampling_rate_hz=sampling_rate_hz,
        placement=placement,
        has_gyro=has_gyro,
        placement_side=placement_side,
        step_settings=_step_settings_of(cfg),
        stride_settings=_stride_settings_of(cfg),
        runner_height_m=runner_height_m if runner_height_m is not None else cfg.runner.height_m,
        coach=coach,
        acc_range_mps2=None if accel_range_g is None else float(accel_range_g) * STANDARD_GRAVITY_MPS2,
        gyro_range_rads=None if gyro_range_dps is None else math.radians(float(gyro_range_dps)),
    )
