"""WAV preview of the cues: right length, sound exactly where the cues are, silence elsewhere."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from dsp.coach import CueEvent
from firmware_py.cues_wav import ACTIVE_BUZZER_HZ, SAMPLE_RATE_HZ, render_wav, timeline
from firmware_py.outputs import cue_duration_s, cue_segments


def read(path):
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, SAMPLE_RATE_HZ)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float) / 32767


def mask_of(segments, n, start_s=0.0):
    mask = np.zeros(n, dtype=bool)
    for s in segments:
        i0, i1 = round((s.start_s - start_s) * SAMPLE_RATE_HZ), round((s.end_s - start_s) * SAMPLE_RATE_HZ)
        mask[i0:i1] = True
    return mask


def test_duration_and_energy_exactly_where_the_cues_are(tmp_path):
    cues = [
        CueEvent(2.0, "quicken_steps", 1, "a"),
        CueEvent(5.5, "hike", 2, "b"),
        CueEvent(11.0, "sensor_lost", 1, "c"),
    ]
    info = render_wav(cues, tmp_path / "run.wav", start_s=0.0, duration_s=15.0)
    x = read(info.path)
    assert len(x) == 15 * SAMPLE_RATE_HZ
    assert info.duration_s == 15.0
    assert info.n_cues == 3
    mask = mask_of(info.segments, len(x))
    # Digital silence outside the cues ...
    assert not np.any(x[~mask])
    # ... and sound in every segment (a tone has RMS ≈ 0.35, a rumble less).
    for s in info.segments:
        i0, i1 = round(s.start_s * SAMPLE_RATE_HZ), round(s.end_s * SAMPLE_RATE_HZ)
        assert np.sqrt(np.mean(x[i0:i1] ** 2)) > 0.1, s
    # The first sound is the first beep of quicken_steps at 2.0 s, the last ends with sensor_lost.
    loud = np.flatnonzero(np.abs(x) > 0.01)
    assert loud[0] / SAMPLE_RATE_HZ == pytest.approx(2.0, abs=0.005)
    assert loud[-1] / SAMPLE_RATE_HZ == pytest.approx(11.0 + cue_duration_s(cues[2]), abs=0.005)


def test_tones_come_from_the_pattern_table(tmp_path):
    info = render_wav([CueEvent(0.5, "quicken_steps", 1, "a")], tmp_path / "q.wav", vibration=False)
    x = read(info.path)
    first = info.segments[0]
    i0, i1 = round(first.start_s * SAMPLE_RATE_HZ), round(first.end_s * SAMPLE_RATE_HZ)
    spectrum = np.abs(np.fft.rfft(x[i0:i1], n=16 * (i1 - i0)))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE_HZ / (16 * (i1 - i0))
    assert peak_hz == pytest.approx(first.value, rel=0.01)
    assert first.value == 2000.0
    # Default length: the end of the last cue plus 1 s.
    assert info.duration_s == pytest.approx(
        0.5 + cue_duration_s(CueEvent(0, "quicken_steps", 1, "")) + 1.0, abs=1e-3
    )
    active = render_wav([CueEvent(0.5, "shorten_stride", 1, "a")], tmp_path / "a.wav", buzzer_kind="active")
    x = read(active.path)
    seg = next(s for s in active.segments if s.output == "buzzer")
    i0, i1 = round(seg.start_s * SAMPLE_RATE_HZ), round(seg.end_s * SAMPLE_RATE_HZ)
    spectrum = np.abs(np.fft.rfft(x[i0:i1]))
    assert np.argmax(spectrum) * SAMPLE_RATE_HZ / (i1 - i0) == pytest.approx(ACTIVE_BUZZER_HZ, rel=0.01)


def test_cues_that_overlap_play_one_after_the_other():
    a = CueEvent(1.0, "hike", 1, "a")
    b = CueEvent(1.2, "run", 1, "b")  # due while the hike cue is still playing
    segs, n = timeline([a, b])
    assert n == 2
    n_a = sum(s.output != "led" for s in cue_segments(a))
    assert len(segs) == n_a + sum(s.output != "led" for s in cue_segments(b))
    assert min(s.start_s for s in segs[n_a:]) == pytest.approx(1.0 + cue_duration_s(a))
    assert max(s.end_s for s in segs[:n_a]) <= 1.0 + cue_duration_s(a)


def test_time_line_offset_and_cut(tmp_path):
    info = render_wav(
        [CueEvent(102.0, "run", 1, "a"), CueEvent(109.9, "ready", 1, "b")],
        tmp_path / "o.wav",
        start_s=100.0,
        duration_s=10.0,
    )
    x = read(info.path)
    assert len(x) == 10 * SAMPLE_RATE_HZ
    assert not np.any(x[: 2 * SAMPLE_RATE_HZ])
    assert np.any(x[2 * SAMPLE_RATE_HZ : int(2.01 * SAMPLE_RATE_HZ)])
    assert not np.any(x[~mask_of(info.segments, len(x), start_s=100.0)])
    empty = render_wav([], tmp_path / "e.wav")
    assert empty.duration_s == 1.0
    assert not np.any(read(empty.path))


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="buzzer_kind"):
        render_wav([], tmp_path / "x.wav", buzzer_kind="piezo")
    with pytest.raises(ValueError, match="duration_s"):
        render_wav([], tmp_path / "x.wav", duration_s=-1.0)
    (tmp_path / "afile").write_text("")  # a missing folder is created; a file in the way is not
    with pytest.raises(OSError, match="cannot write the WAV file"):
        render_wav([], tmp_path / "afile" / "x.wav")
