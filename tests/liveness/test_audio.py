"""decode_audio and speech_energy on committed clips and on clips built here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.liveness.audio import (
    AUDIO_UNDECODABLE,
    RATE,
    AudioTrack,
    decode_audio,
    speech_energy,
    speech_level_db,
)
from app.liveness.video import VIDEO_UNDECODABLE, VideoError, decode_video
from testkit.speech_clips import mux

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech"
FACE = Path(__file__).resolve().parents[1] / "data" / "face"


def tone(freq: float, seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize(
    ("name", "seconds"),
    [("digits_915306.mp4", 5.8), ("digits_20483.webm", 4.6), ("silence.mp4", 3.0)],
)
def test_decodes_the_sound_of_mp4_and_webm_as_16k_mono_float(name: str, seconds: float) -> None:
    track = decode_audio((SPEECH / name).read_bytes(), max_seconds=15)
    assert track is not None
    assert track.rate == RATE
    assert track.samples.dtype == np.float32
    assert track.samples.ndim == 1
    assert track.duration == pytest.approx(seconds, abs=0.15)
    assert float(np.abs(track.samples).max()) <= 1.0
    assert track.t0 == pytest.approx(0.0, abs=0.03)


def test_a_video_without_sound_has_no_track() -> None:
    assert decode_audio((FACE / "carphone_pristine.mp4").read_bytes(), max_seconds=15) is None


def test_start_time_is_relative_to_the_first_video_frame() -> None:
    # The microphone starts 0.5 s after the camera, and the voice 0.2 s after that.
    burst = np.concatenate(
        [np.zeros(RATE // 5, np.float32), tone(1000, 0.3), np.zeros(RATE, np.float32)]
    )
    for container in ("mp4", "webm"):
        data = mux(burst, container=container, audio_offset_s=0.5, video_s=2.0)
        track = decode_audio(data, max_seconds=15)
        assert track is not None
        # AAC keeps its 1024 priming samples (64 ms) before the first real one: t0 is the
        # time of samples[0], whatever the codec put there.
        assert 0.4 <= track.t0 <= 0.55, container
        onset = track.t0 + int(np.argmax(np.abs(track.samples) > 0.1)) / RATE
        assert onset == pytest.approx(0.7, abs=0.01), container
        frames = decode_video(data, max_frames=60)
        assert frames[0].t == 0.0
        # The burst is heard at 0.7–1.0 s of the video's clock, not at 0.2–0.5 s.
        e = speech_energy(track, np.array([0.35, 0.85, 1.5]))
        assert e[1] > 100 * max(e[0], e[2]), (container, e)


def test_decoding_stops_at_the_budget() -> None:
    data = mux(tone(440, 6.0, 0.1), video_s=1.0)
    track = decode_audio(data, max_seconds=2.0)
    assert track is not None
    assert track.duration == pytest.approx(2.5, abs=0.1)


def test_bytes_that_are_no_video_are_refused_like_decode_video() -> None:
    with pytest.raises(VideoError) as err:
        decode_audio(b"not a video at all" * 100, max_seconds=15)
    assert err.value.code == VIDEO_UNDECODABLE


def garble(data: bytes, start: int, end: int) -> bytes:
    b = bytearray(data)
    b[start:end] = np.random.default_rng(0).integers(0, 256, end - start, dtype=np.uint8).tobytes()
    return bytes(b)


def test_damaged_sound_is_kept_where_it_can_be_and_refused_where_not() -> None:
    mp4 = (SPEECH / "digits_915306.mp4").read_bytes()
    whole = decode_audio(mp4, max_seconds=15)
    assert whole is not None
    # Bad packets in the middle: skipped, the clock kept (same length, the end unchanged).
    hurt = decode_audio(garble(mp4, 6000, 9000), max_seconds=15)
    assert hurt is not None
    assert hurt.samples.size == whole.samples.size
    assert np.array_equal(hurt.samples[-3 * RATE :], whole.samples[-3 * RATE :])
    # Every audio packet garbage: nothing to hear.
    mdat, moov = mp4.find(b"mdat"), mp4.find(b"moov")
    with pytest.raises(VideoError) as err:
        decode_audio(garble(mp4, mdat + 8, moov - 4), max_seconds=15)
    assert err.value.code == AUDIO_UNDECODABLE
    # An mp4 cut short loses its index (written last): the whole file is unreadable.
    with pytest.raises(VideoError) as err:
        decode_audio(mp4[: len(mp4) // 2], max_seconds=15)
    assert err.value.code == VIDEO_UNDECODABLE
    # A webm cut short keeps its first half.
    webm = (SPEECH / "digits_20483.webm").read_bytes()
    half = decode_audio(webm[: len(webm) // 2], max_seconds=15)
    assert half is not None
    assert 1.0 < half.duration < 3.5


def test_speech_energy_is_the_speech_band_only() -> None:
    times = np.array([0.5])
    in_band = speech_energy(AudioTrack(tone(1000, 1.0), RATE, 0.0), times)
    low = speech_energy(AudioTrack(tone(100, 1.0), RATE, 0.0), times)
    high = speech_energy(AudioTrack(tone(6000, 1.0), RATE, 0.0), times)
    # A 0.5 amplitude sine has mean square 0.125.
    assert in_band[0] == pytest.approx(0.125, rel=0.05)
    assert low[0] < 0.01 * in_band[0]
    assert high[0] < 0.01 * in_band[0]


def test_speech_energy_follows_the_sound_over_time() -> None:
    x = np.concatenate(
        [np.zeros(RATE // 2, np.float32), tone(800, 0.5), np.zeros(RATE, np.float32)]
    )
    track = AudioTrack(x, RATE, t0=0.25)  # sound from 0.75 s to 1.25 s of the video
    t = np.arange(0.0, 2.0, 1 / 30)
    e = speech_energy(track, t)
    loud = (t > 0.8) & (t < 1.2)
    quiet = (t < 0.65) | (t > 1.35)
    assert e[loud].min() > 1000 * max(e[quiet].max(), 1e-12)
    # Before the first sample and after the last: zeros, no error.
    assert speech_energy(track, np.array([-5.0, 99.0])).tolist() == [0.0, 0.0]
    assert speech_energy(AudioTrack(np.zeros(0, np.float32), RATE, 0.0), t).shape == t.shape


def test_speech_level_separates_silence_from_reading() -> None:
    silent = decode_audio((SPEECH / "silence.mp4").read_bytes(), max_seconds=15)
    reading = decode_audio((SPEECH / "digits_5721.mp4").read_bytes(), max_seconds=15)
    assert speech_level_db(None) == -120.0
    assert speech_level_db(silent) < -90
    assert speech_level_db(reading) > -30
    hum = AudioTrack(tone(1000, 2.0, amp=0.001), RATE, 0.0)  # -63 dB: a muted microphone
    assert speech_level_db(hum) < -45
