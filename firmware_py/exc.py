"""One exception tree for the device runtime.

Every class also inherits the matching builtin, so callers may catch either
``LogFormatError`` or plain ``ValueError``.  Messages are one line and name the
file, field or register at fault and, where there is one, the fix.
"""

from __future__ import annotations


class CadenceError(Exception):
    """Root of every error raised on purpose by cadence-coach."""


class LogFormatError(CadenceError, ValueError):
    """A recorded log (``.csv`` or ``.cclog``) cannot be read as it stands."""


class LogNotFoundError(LogFormatError, FileNotFoundError):
    """A log file that was asked for does not exist (also a ``FileNotFoundError``)."""


class LogWriteError(CadenceError, OSError):
    """A log could not be written (disk full, read-only directory, ...).

    ``errno`` is the operating system's error number when one caused it, and ``reason`` its
    short text (``"No space left on device"``).
    """

    reason: str = ""


class LogExistsError(LogWriteError, FileExistsError):
    """A log writer refused to overwrite an existing file (also a ``FileExistsError``)."""


class ConfigError(CadenceError, ValueError):
    """A configuration file or value is wrong; the message names file, key and allowed values."""


class ConfigNotFoundError(ConfigError, FileNotFoundError):
    """A configuration file that was asked for does not exist (also a ``FileNotFoundError``)."""


class UsageError(CadenceError, ValueError):
    """A command-line argument is wrong."""


class ImuNotFoundError(CadenceError, RuntimeError):
    """No supported IMU answered at the configured bus and address."""


class ImuFaultError(CadenceError, OSError):
    """The IMU stopped answering or answered nonsense (unplugged, reset, bus error)."""


class I2CBusError(CadenceError, OSError):
    """The I2C bus itself cannot be opened (I2C not enabled, no permission, smbus2 missing)."""

    def __str__(self) -> str:
        # the message alone: the user reads it on one line, and "[Errno 2]" tells them nothing
        return self.strerror if self.strerror else super().__str__()


class DeviceClosedError(CadenceError, RuntimeError):
    """A sensor driver was used after ``close()``."""


class CadenceWarning(UserWarning):
    """Root of the warnings cadence-coach emits."""


class DataGapWarning(CadenceWarning):
    """Samples are missing in a log (a gap in time); the data on either side are kept."""


class LogTruncatedWarning(CadenceWarning):
    """A native log ends in an incomplete or corrupt block; everything before it is kept."""


class LogCorruptWarning(DataGapWarning):
    """A corrupt stretch inside a native log was skipped; the reader resynchronised and flagged a gap."""


class BadSampleWarning(CadenceWarning):
    """Samples were flagged (NaN, saturated, frozen) and repaired or skipped."""


class UnitsWarning(CadenceWarning):
    """A CSV's samples look like g or °/s rather than m/s² and rad/s; they are kept as they are."""


class ConfigWarning(CadenceWarning):
    """A configuration could not be used as recorded (e.g. a log's snapshot); the defaults were."""


class TimestampRepairWarning(CadenceWarning):
    """Repeated timestamps (a rounded sensor clock) were re-spaced; every sample was kept."""


class SensorWarning(CadenceWarning):
    """What a recording says about its sensor: a gyroscope the device ran without, |a| at rest off gravity."""
