"""Read-aloud digits and colour flash inside FaceAnalyzer.analyze, on the real models.

Inputs are LABELLED-SYNTHETIC: the carphone man's challenge captures (testkit.genuine), an
espeak-ng voice reading digits (tests/data/speech), rendered screen reflections
(testkit.flash).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.liveness import FaceAnalyzer, Frame, decode_video
from app.liveness.audio import decode_audio
from app.liveness.flash import flash_to_json, make_flash_sequence
from app.liveness.speech import DigitReader
from testkit import flash as tf

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech"


def _codes(v: Any) -> dict[str, Any]:
    return {c.code: c for c in v.checks}


@pytest.fixture(scope="module")
def reader_en(digit_reader: DigitReader) -> DigitReader:
    return digit_reader.with_options(language="en")  # the clips are English TTS


def test_a_silent_capture_fails_read_digits(analyzer: FaceAnalyzer, reader_en: DigitReader) -> None:
    from testkit import genuine

    frames = decode_video(genuine.challenge_video(analyzer, ("turn_left", "open_mouth", "nod")),
                          max_frames=240)  # fmt: skip
    fa = FaceAnalyzer(analyzer.model_dir, analyzer.config, digit_reader=reader_en)
    fa._models = analyzer._models  # the session's loaded models
    v = fa.analyze(frames, ["turn_left", "read_digits", "nod"], None, audio=None, digits="5721")
    assert not _codes(v)["AUDIO_MISSING"].passed


def test_dubbed_digits_over_a_still_mouth_fail_lip_sync(
    analyzer: FaceAnalyzer, reader_en: DigitReader
) -> None:
    # A replay of the victim with the right digits dubbed in: the voice says 5721, the
    # mouth on the video never moves with it.
    data = (SPEECH / "digits_5721.mp4").read_bytes()
    track = decode_audio(data, max_seconds=15)
    assert track is not None
    from testkit import genuine

    frames = decode_video(genuine.challenge_video(analyzer, ("turn_right", "blink", "nod")),
                          max_frames=240)  # fmt: skip
    fa = FaceAnalyzer(analyzer.model_dir, analyzer.config, digit_reader=reader_en)
    fa._models = analyzer._models
    v = fa.analyze(frames, ["turn_right", "read_digits", "nod"], None, audio=track, digits="5721")
    c = _codes(v)
    assert c["DIGITS_WRONG"].passed if "DIGITS_WRONG" in c else True  # the digits are right
    assert "LIP_SYNC_MISMATCH" in c and not c["LIP_SYNC_MISMATCH"].passed


def test_colour_flash_is_read_from_the_face(analyzer: FaceAnalyzer) -> None:
    images, meshes, times = tf.source_clip(analyzer, ("blink", "shake_head"))
    seq = make_flash_sequence(random.Random(11))
    lit = tf.render_flash(images, meshes, times, seq, tf.Flash(strength=0.14), tf.Camera(), 5)
    frames = [Frame(float(t), x) for t, x in zip(times, lit, strict=True)]
    v = analyzer.analyze(frames, ["blink", "shake_head"], None, flash=flash_to_json(seq))
    c = _codes(v)
    assert c["FLASH_NOT_SEEN"].passed, c["FLASH_NOT_SEEN"].detail
    # The same capture answered to another flash sequence is refused.
    other = make_flash_sequence(random.Random(12))
    v2 = analyzer.analyze(frames, ["blink", "shake_head"], None, flash=flash_to_json(other))
    c2 = _codes(v2)
    assert not (
        c2["FLASH_NOT_SEEN"].passed and c2.get("FLASH_SEQUENCE_WRONG", c2["FLASH_NOT_SEEN"]).passed
    )
    # A pre-recorded capture with no flash at all.
    plain = [Frame(float(t), x) for t, x in zip(times, images, strict=True)]
    v3 = analyzer.analyze(plain, ["blink", "shake_head"], None, flash=flash_to_json(seq))
    assert not _codes(v3)["FLASH_NOT_SEEN"].passed
    assert np.isfinite(c["FLASH_NOT_SEEN"].score)
