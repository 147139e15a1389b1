"""The replay fingerprint on real footage: re-uploads match, other honest captures do not.

Inputs are built from the real carphone clip and the labelled-synthetic genuine capture
(testkit/replays.py says what each variant stands for and the limits of one source clip).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from app.liveness import FaceAnalyzer, decode_video
from app.liveness import fingerprint as fp
from testkit import genuine
from testkit import replays as R


def _fp(video: bytes) -> fp.Fingerprint:
    # As the pipeline decodes an upload.
    return fp.fingerprint(decode_video(video, max_frames=150, max_side=640))


@cache
def _carphone() -> bytes:
    return R.encode(R.carphone())


@pytest.mark.parametrize("variant", sorted(R.REPLAYS))
def test_a_reupload_of_the_real_clip_matches(variant: str) -> None:
    original = _fp(_carphone())
    copy = _fp(R.REPLAYS[variant](_carphone()))
    assert fp.match(copy, original) >= fp.THRESHOLD


@pytest.mark.parametrize(
    "variant",
    [
        "same",
        "reencoded_crf32",
        "cropped_10",
        "retimed_24fps",
        "trimmed",
        "speed_1.1",
        "translated_5",
        "cropped_corner_8",
    ],
)
def test_a_reupload_of_a_genuine_capture_matches(analyzer: FaceAnalyzer, variant: str) -> None:
    video = genuine.genuine_video(analyzer, ("blink", "shake_head"))
    assert fp.match(_fp(R.REPLAYS[variant](video)), _fp(video)) >= fp.THRESHOLD


def test_the_same_capture_sent_as_frames_matches_the_video(analyzer: FaceAnalyzer) -> None:
    video = genuine.genuine_video(analyzer, ("blink", "shake_head"))
    frames = decode_video(video, max_frames=150)[::2]  # a frame listener at 15 fps
    assert fp.match(fp.fingerprint(frames), _fp(video)) >= fp.THRESHOLD


@pytest.mark.parametrize(
    "other",
    ["segments_adjacent", "segments_apart", "mirrored", "reversed_shifted", "reversed"],
)
def test_another_capture_of_the_same_man_in_the_same_car_does_not_match(other: str) -> None:
    images = R.carphone()
    pairs = {
        "segments_adjacent": (images[:60], images[60:]),
        "segments_apart": (images[:50], images[70:]),
        "mirrored": (images, R.mirrored(images)),
        "reversed_shifted": (images, R.shifted(R.reversed_clip(images))),
        "reversed": (images, R.reversed_clip(images)),
    }
    a, b = pairs[other]
    assert fp.match(_fp(R.encode(a)), _fp(R.encode(b))) < fp.THRESHOLD


@pytest.mark.parametrize(
    ("frame", "amplitude", "start", "end"), [(60, 30.0, 0.15, 0.85), (100, 20.0, 0.3, 0.75)]
)
def test_holding_still_and_shaking_the_head_again_does_not_match(
    analyzer: FaceAnalyzer, frame: int, amplitude: float, start: float, end: float
) -> None:
    """The worst honest retry one clip allows: still but for one head turn, both times."""
    first = _fp(R.still_shake(analyzer, 10, 30.0, 0.1, 0.8, 1))
    again = _fp(R.still_shake(analyzer, frame, amplitude, start, end, 2))
    assert fp.match(again, first) < fp.THRESHOLD
    # ...while that first capture re-encoded is still caught.
    assert (
        fp.match(_fp(R.reencode(R.still_shake(analyzer, 10, 30.0, 0.1, 0.8, 1))), first)
        >= fp.THRESHOLD
    )


def test_overlapping_segments_are_one_recording_trimmed() -> None:
    """Two cuts sharing most of their frames are the same recording: a replay."""
    images = R.carphone()
    assert fp.match(_fp(R.encode(images[:100])), _fp(R.encode(images[15:]))) >= fp.THRESHOLD


def test_a_still_or_blank_capture_never_matches() -> None:
    """Flat frames carry no motion: nothing says two of them are one recording."""
    grey = [np.full((120, 160, 3), 128, np.uint8)] * 60
    a = _fp(R.encode(grey))
    assert fp.match(a, a) == 0.0


def test_the_stored_form_round_trips_and_holds_no_picture() -> None:
    f = _fp(_carphone())
    data = f.to_bytes()
    # 35 hashes of 64 bits and 16 motion numbers a sample, 8 samples a second: less than one
    # 32x32 grey thumbnail (1024 bytes) a frame of the 30 fps clip.
    assert len(data) < 400 * len(f.hashes) < 1024 * 120
    back = fp.Fingerprint.from_bytes(data)
    assert np.array_equal(back.hashes, f.hashes)
    assert fp.match(back, f) == pytest.approx(1.0, abs=1e-3)


def test_audio_bits_match_a_noisy_copy_and_not_another_track() -> None:
    rng = np.random.default_rng(7)
    rate = 16000
    # A labelled-synthetic "voice": noise shaped by a slowly moving resonance.
    t = np.arange(rate * 4) / rate
    track = rng.normal(size=t.size) * (1 + np.sin(2 * np.pi * 1.3 * t)) + np.sin(
        2 * np.pi * (300 + 200 * np.sin(2 * np.pi * 0.7 * t)) * t
    )
    other = rng.normal(size=t.size) * (1 + np.sin(2 * np.pi * 0.4 * t))
    a = fp.audio_fingerprint(track, rate)
    noisy = fp.audio_fingerprint(track + 0.1 * rng.normal(size=t.size), rate)
    b = fp.audio_fingerprint(other, rate)
    assert a is not None and noisy is not None and b is not None
    assert fp._audio_agreement(noisy, a, 1.0, 0.0) > 0.8
    assert fp._audio_agreement(b, a, 1.0, 0.0) < 0.65
    assert fp.audio_fingerprint(np.zeros(rate), rate) is None  # silence: no signal


def _mp4_with_audio(seed: int) -> bytes:
    """A labelled-synthetic mp4 (grey ramp, 4 s) with an AAC track of modulated noise."""
    import io
    from fractions import Fraction

    import av

    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        v = out.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 160, 120, "yuv420p"
        a = out.add_stream("aac", rate=16000)
        a.layout = "mono"
        for i in range(40):
            img = np.full((120, 160, 3), i * 5, np.uint8)
            for p in v.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(p)
        t = np.arange(16000 * 4) / 16000
        x = (rng.normal(size=t.size) * (1 + np.sin(2 * np.pi * 1.3 * t)) * 0.2).astype(np.float32)
        for k in range(0, len(x), 1024):
            fr = av.AudioFrame.from_ndarray(x[None, k : k + 1024], format="flt", layout="mono")
            fr.sample_rate, fr.pts, fr.time_base = 16000, k, Fraction(1, 16000)
            for p in a.encode(fr):
                out.mux(p)
        for p in a.encode(None):
            out.mux(p)
        for p in v.encode():
            out.mux(p)
    return buf.getvalue()


def test_the_audio_track_is_fingerprinted_when_there_is_one() -> None:
    a = fp.decode_audio(_mp4_with_audio(1))
    again = fp.decode_audio(_mp4_with_audio(1))
    other = fp.decode_audio(_mp4_with_audio(2))
    assert a is not None and again is not None and other is not None
    assert len(a) == pytest.approx(4 * fp.RATE, abs=2)
    assert fp._audio_agreement(again, a, 1.0, 0.0) > 0.9
    assert fp._audio_agreement(other, a, 1.0, 0.0) < 0.65
    assert fp.decode_audio(_carphone()) is None  # no audio track: no audio fingerprint
    f = fp.Fingerprint(np.zeros((32, len(fp.CROPS)), np.uint64), np.zeros((32, 16), np.float32), a)
    back = fp.Fingerprint.from_bytes(f.to_bytes())
    assert back.audio is not None and np.array_equal(back.audio, a)


@cache
def _jittery() -> bytes:
    """The real clip with every other frame moved 8 px and 8 levels brighter: frames that
    jitter between two states (a shaky hand-held phone, or a render whose source frames
    alternate, as bench/face_eval.py's test split does)."""
    out = []
    for k, img in enumerate(R.carphone()):
        if k % 2:
            img = np.clip(R.shifted([img], 8, 4)[0].astype(np.int16) + 8, 0, 255)
        out.append(img.astype(np.uint8))
    return R.encode(out)


@pytest.mark.parametrize(
    "make",
    [
        lambda v: R.retime(v, 30, speed=1.1),
        lambda v: R.retime(v, 30, speed=0.9),
        lambda v: R.crop(R.retime(v, 30, speed=1.1), 0.06, rescale=1.1),
    ],
    ids=["speed_1.1", "speed_0.9", "speed_1.1_cropped_rescaled_1.1"],
)
def test_a_reupload_of_a_jittery_capture_re_timed_still_matches(make: object) -> None:
    # Hashing the nearest frame per sample scored these 0.32-0.41: a copy re-timed by
    # dropping frames lands on the other state. The window's mean frame does not.
    original = _fp(_jittery())
    copy = _fp(make(_jittery()))  # type: ignore[operator]
    assert fp.match(copy, original) >= fp.THRESHOLD
