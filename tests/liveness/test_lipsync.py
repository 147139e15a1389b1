"""Lip sync on constructed time series, and on the real carphone face against built voices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.liveness import Frame
from app.liveness.audio import RATE, decode_audio, speech_energy
from app.liveness.lipsync import LOWER_LIP, UPPER_LIP, lip_sync_score, mouth_open_ratio
from app.liveness.speech import DigitsConfig
from testkit.speech_clips import mux

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech"
THRESHOLD = DigitsConfig().min_lip_sync
FPS = 30


def syllables(seed: int, seconds: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """A mouth opening on syllables 0.25–0.7 s apart from a random start: times, ratio."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, seconds, 1 / FPS)
    mouth = np.full(t.shape, 0.04)
    at = rng.uniform(0.2, 0.9)
    while at < seconds - 0.3:
        width = rng.uniform(0.06, 0.14)
        mouth += rng.uniform(0.15, 0.4) * np.exp(-0.5 * ((t - at) / width) ** 2)
        at += rng.uniform(0.25, 0.7)
    return t, mouth


def energy_of(mouth: np.ndarray, t: np.ndarray, lag_s: float, seed: int) -> np.ndarray:
    """Speech-band energy a voice driven by ``mouth`` makes, ``lag_s`` later, with room noise."""
    rng = np.random.default_rng(seed)
    amp = np.clip(np.interp(t - lag_s, t, mouth) - 0.05, 0, None)
    return amp**2 * 0.05 + 1e-7 * (1 + rng.random(t.size))


def test_a_voice_that_follows_the_mouth_scores_high_and_finds_its_lag() -> None:
    t, mouth = syllables(1)
    for lag in (0.0, 0.1, -0.08):
        rng = np.random.default_rng(2)
        measured = mouth + rng.normal(0, 0.01, mouth.shape)  # mesh jitter
        got = lip_sync_score(t, measured, energy_of(mouth, t, lag, 3))
        assert got.score > 0.8, lag
        assert got.lag_s == pytest.approx(lag, abs=0.041)


def test_a_still_mouth_under_a_speaking_voice_scores_zero() -> None:
    t, mouth = syllables(4)
    still = 0.05 + np.random.default_rng(5).normal(0, 0.004, t.shape)
    assert lip_sync_score(t, still, energy_of(mouth, t, 0.0, 6)).score == 0.0


def test_a_silent_track_scores_zero() -> None:
    t, mouth = syllables(7)
    assert lip_sync_score(t, mouth, np.zeros_like(t)).score == 0.0
    hiss = 1e-6 * (1 + 0.2 * np.random.default_rng(8).random(t.size))  # < 10 dB swings
    assert lip_sync_score(t, mouth, hiss).score == 0.0


def test_another_utterance_mostly_scores_below_the_threshold() -> None:
    # Two unrelated syllable trains can line up by chance within ±0.25 s (4 s of reading
    # holds only ~8 syllables): the score separates them on the whole, not every time. The
    # digit check, not lip sync, is what rejects a recording of other digits.
    unrelated = []
    for seed in range(40):
        t, mouth = syllables(1000 + seed)
        _, other = syllables(5000 + seed)
        unrelated.append(lip_sync_score(t, mouth, energy_of(other, t, 0.0, seed)).score)
    assert float(np.median(unrelated)) < 0.45
    assert float(np.mean(np.array(unrelated) < THRESHOLD)) >= 0.7
    genuine = []
    for seed in range(40):
        t, mouth = syllables(1000 + seed)
        rng = np.random.default_rng(seed)
        jitter = rng.normal(0, 0.01, mouth.shape)
        genuine.append(lip_sync_score(t, mouth + jitter, energy_of(mouth, t, 0.05, seed)).score)
    assert min(genuine) > 0.8


def test_uneven_frames_and_frames_without_a_face_are_handled() -> None:
    t, mouth = syllables(9)
    keep = np.sort(np.random.default_rng(10).choice(t.size, size=t.size // 3, replace=False))
    t2, m2 = t[keep], mouth[keep].copy()
    m2[::7] = np.nan  # no face on those frames
    e2 = energy_of(mouth, t, 0.05, 11)[keep]
    assert lip_sync_score(t2, m2, e2).score > 0.7
    assert lip_sync_score(t[:3], mouth[:3], e2[:3]).score == 0.0
    with pytest.raises(ValueError, match="shape"):
        lip_sync_score(t, mouth[:-1], e2)


def test_mouth_open_ratio_is_the_inner_lip_gap_over_the_eye_distance() -> None:
    mesh = np.zeros((468, 3))
    mesh[[33, 133], 0] = [100, 140]  # one eye centred at x=120
    mesh[[362, 263], 0] = [180, 220]  # the other at x=200: 80 px apart
    mesh[UPPER_LIP] = [160, 250, 5]
    mesh[LOWER_LIP] = [160, 270, -5]
    assert mouth_open_ratio(mesh) == pytest.approx(20 / 80)
    assert np.isnan(mouth_open_ratio(np.zeros((468, 3))))


# -- the real face of the carphone clip ----------------------------------------------------------
# The clip has no sound. His mouth is measured with the real face mesh on every frame; the
# "synced" voice is built from that measurement (noise shaped by his mouth opening, muxed as
# AAC and decoded again): labelled synthetic, but the mesh jitter, the codec and the frame
# clock are all real. Against it: the same voice shifted, a different utterance (espeak
# digits), and a dub over a still mouth (his first frame repeated).


def voice_from_mouth(t: np.ndarray, mouth: np.ndarray, delay_s: float) -> np.ndarray:
    n = int((t[-1] + 0.3) * RATE)
    ts = np.arange(n) / RATE
    env = np.clip((np.interp(ts - delay_s, t, mouth) - 0.06) / 0.4, 0, 1)
    noise = np.random.default_rng(0).standard_normal(n) * 0.1
    return (noise * env).astype(np.float32)


@pytest.fixture(scope="module")
def carphone_mouth(
    carphone: list[Frame], carphone_meshes: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    t = np.array([f.t for f in carphone])
    mouth = np.array([mouth_open_ratio(m) for m in carphone_meshes])
    # He talks: the mouth goes from nearly closed to wide open.
    lo, hi = np.percentile(mouth, [5, 95])
    assert lo < 0.07
    assert hi > 0.35
    return t, mouth


def score_clip(t: np.ndarray, mouth: np.ndarray, sound: np.ndarray, offset_s: float = 0.0) -> float:
    data = mux(sound, audio_offset_s=offset_s, video_s=float(t[-1]) + 0.1)
    track = decode_audio(data, max_seconds=15)
    assert track is not None
    return lip_sync_score(t, mouth, speech_energy(track, t)).score


def test_real_mouth_against_its_own_voice_scores_high(
    carphone_mouth: tuple[np.ndarray, np.ndarray],
) -> None:
    t, mouth = carphone_mouth
    assert score_clip(t, mouth, voice_from_mouth(t, mouth, 0.0)) > 0.75
    # A microphone 0.1 s late is within the lags tried.
    assert score_clip(t, mouth, voice_from_mouth(t, mouth, 0.0), offset_s=0.1) > 0.75


def test_real_mouth_against_a_shifted_voice_scores_low(
    carphone_mouth: tuple[np.ndarray, np.ndarray],
) -> None:
    t, mouth = carphone_mouth
    for delay in (0.6, 1.0, -0.6):
        assert score_clip(t, mouth, voice_from_mouth(t, mouth, delay)) < THRESHOLD, delay


def test_real_mouth_against_another_utterance_scores_low(
    carphone_mouth: tuple[np.ndarray, np.ndarray],
) -> None:
    t, mouth = carphone_mouth
    for name in ("digits_915306.mp4", "digits_20483.webm", "digits_5721.mp4"):
        track = decode_audio((SPEECH / name).read_bytes(), max_seconds=15)
        assert track is not None
        assert lip_sync_score(t, mouth, speech_energy(track, t)).score < THRESHOLD, name


def test_a_voice_dubbed_over_a_still_face_scores_zero(
    carphone_mouth: tuple[np.ndarray, np.ndarray], carphone_meshes: list[np.ndarray]
) -> None:
    t, mouth = carphone_mouth
    still = np.full(t.shape, mouth_open_ratio(carphone_meshes[0]))
    assert score_clip(t, still, voice_from_mouth(t, mouth, 0.0)) == 0.0
