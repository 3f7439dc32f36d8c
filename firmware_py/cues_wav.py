"""Render cues into a WAV file on the run's time line: hear what the runner would have heard.

Tones come from the same pattern table as the buzzer (:data:`firmware_py.outputs.PATTERNS`), cues
are placed as the device plays them (:func:`firmware_py.outputs.schedule`), the vibration motor is
rendered as a low rumble, and everything between cues is exact digital silence.
"""

from __future__ import annotations

import math
import wave
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dsp.coach import CueEvent
from firmware_py.exc import LogWriteError
from firmware_py.outputs import Segment, cue_segments, schedule

__all__ = ["ACTIVE_BUZZER_HZ", "SAMPLE_RATE_HZ", "WavInfo", "render_wav", "timeline"]

#: Sample rate of the WAV files, Hz (16-bit mono).
SAMPLE_RATE_HZ = 16000
#: Pitch an active buzzer sounds at (its own oscillator, typically 2.3-2.7 kHz), Hz.
ACTIVE_BUZZER_HZ = 2400.0
#: Fundamental of the vibration-motor rumble, Hz (a 10 mm coin motor spins at ~150 rev/s).
RUMBLE_HZ = 150.0
#: Peak amplitude of a tone and of a full-intensity rumble, as a fraction of full scale.
TONE_AMPLITUDE = 0.5
RUMBLE_AMPLITUDE = 0.3
#: Fade in and out of every segment, s (no clicks); the segment keeps its length.
FADE_S = 0.003


@dataclass(frozen=True)
class WavInfo:
    """What :func:`render_wav` wrote.

    Attributes
    ----------
    path : pathlib.Path
        The WAV file.
    duration_s : float
        Its length, s.
    start_s : float
        Run time of its first sample, s.
    segments : tuple of Segment
        The audible segments on the run's time line (``start_s`` in run time).
    n_cues : int
        Cues rendered (stale cues the device would have dropped are left out).
    """

    path: Path
    duration_s: float
    start_s: float
    segments: tuple[Segment, ...]
    n_cues: int


def timeline(
    cues: Iterable[CueEvent], *, vibration: bool = True, buzzer: bool = True
) -> tuple[list[Segment], int]:
    """Place every audible segment of ``cues`` on the run's time line.

    Parameters
    ----------
    cues : iterable of CueEvent
        Cues in the order the coach emitted them.
    vibration : bool
        Include the vibration motor's rumble.
    buzzer : bool
        Include the buzzer's beeps and tones.

    Returns
    -------
    segments : list of Segment
        Buzzer (and vibration) segments, ``start_s`` in run time, s.
    n_cues : int
        Cues that are played.
    """
    played = schedule(cues)
    out = []
    for cue, start in played:
        for s in cue_segments(cue):
            if (buzzer and s.output == "buzzer") or (vibration and s.output == "vibration"):
                out.append(Segment(s.output, start + s.start_s, s.duration_s, s.value))
    return out, len(played)


def _fade(n: int, sr: int) -> np.ndarray:
    env = np.ones(n)
    k = min(int(FADE_S * sr), n // 2)
    if k > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(k) + 0.5) / k)
        env[:k] = ramp
        env[n - k :] = ramp[::-1]
    return env


def render_wav(
    cues: Iterable[CueEvent],
    path: str | Path,
    *,
    start_s: float = 0.0,
    duration_s: float | None = None,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    buzzer_kind: str = "passive",
    vibration: bool = True,
    buzzer: bool = True,
) -> WavInfo:
    """Write the cues of a run to a 16-bit mono WAV file.

    Parameters
    ----------
    cues : iterable of CueEvent
        Cues in the order the coach emitted them (``t_s`` on the run's time base).
    path : str or pathlib.Path
        The WAV file to write.
    start_s : float
        Run time of the first sample, s (usually the start of the recording).
    duration_s : float, optional
        Length of the file, s (usually the length of the recording); by default the end of the
        last cue plus 1 s. Cues after the end are cut off.
    sample_rate_hz : int
        Sample rate, Hz.
    buzzer_kind : str
        ``"passive"``: the pattern's tones; ``"active"``: every beep at :data:`ACTIVE_BUZZER_HZ`.
    vibration : bool
        Render the vibration motor as a low rumble (false when the device has none).
    buzzer : bool
        Render the buzzer (false when the device has none).

    Returns
    -------
    WavInfo
        The path, length and the audible segments.

    Raises
    ------
    ValueError
        For a negative duration, a bad sample rate or an unknown ``buzzer_kind``.
    LogWriteError
        When the file cannot be written.
    """
    if buzzer_kind not in ("passive", "active"):
        raise ValueError(f"buzzer_kind={buzzer_kind!r}; allowed: passive, active")
    if not (isinstance(sample_rate_hz, int) and 1000 <= sample_rate_hz <= 192000):
        raise ValueError(f"sample_rate_hz={sample_rate_hz!r}; allowed: an integer from 1000 to 192000")
    segments, n_cues = timeline(cues, vibration=vibration, buzzer=buzzer)
    if duration_s is None:
        end_s = max((s.end_s for s in segments), default=start_s)
        duration_s = max(0.0, end_s - start_s) + 1.0
    if not (math.isfinite(duration_s) and duration_s >= 0):
        raise ValueError(f"duration_s={duration_s!r}; allowed: a number ≥ 0")
    sr = sample_rate_hz
    n = round(duration_s * sr)
    audio = np.zeros(n)
    kept = []
    for seg in segments:
        i0 = round((seg.start_s - start_s) * sr)
        i1 = round((seg.end_s - start_s) * sr)
        i0, i1 = max(i0, 0), min(i1, n)
        if i1 <= i0:
            continue
        kept.append(seg)
        t = np.arange(i0, i1) / sr
        if seg.output == "buzzer":
            f = ACTIVE_BUZZER_HZ if buzzer_kind == "active" else float(seg.value)
            wave_ = TONE_AMPLITUDE * np.sin(2 * np.pi * f * t)
        else:
            a = RUMBLE_AMPLITUDE * float(seg.value)
            wave_ = a * (0.7 * np.sin(2 * np.pi * RUMBLE_HZ * t) + 0.3 * np.sin(4 * np.pi * RUMBLE_HZ * t))
        audio[i0:i1] += wave_ * _fade(i1 - i0, sr)
    pcm = np.clip(np.round(audio * 32767), -32767, 32767).astype("<i2")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # as the other replay outputs do
        with path.open("wb") as fh, wave.open(fh, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(sr)
            w.writeframes(pcm.tobytes())
    except OSError as e:
        raise LogWriteError(f"{path}: cannot write the WAV file ({e.strerror or e}); check the folder") from e
    return WavInfo(path, n / sr, start_s, tuple(kept), n_cues)
