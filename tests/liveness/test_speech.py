"""Read-aloud digits: the rules alone, then the real Whisper model on the committed clips.

The model is loaded once per run (``digit_reader`` in conftest.py). The clips are English
espeak-ng speech (tests/data/speech/README.md): Whisper base reads them back with the
language set to Chinese, as the product runs it.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from app.inference.checks import message_for
from app.liveness.audio import RATE, AudioTrack, decode_audio, speech_level_db
from app.liveness.lipsync import LipSync
from app.liveness.speech import (
    AUDIO_MISSING,
    DIGITS_NOT_READ,
    DIGITS_WRONG,
    LIP_SYNC_MISMATCH,
    DigitReader,
    DigitsConfig,
    DigitsHeard,
    check_read_digits,
    digit_suppress_tokens,
    judge_digits,
    normalise_digits,
    score_digits,
)

SPEECH = Path(__file__).resolve().parents[1] / "data" / "speech"
FACE = Path(__file__).resolve().parents[1] / "data" / "face"


def track_of(name: str) -> AudioTrack:
    track = decode_audio((SPEECH / name).read_bytes(), max_seconds=15)
    assert track is not None
    return track


def heard(digits: str, logprob: float = -0.2, no_speech: float = 0.2) -> DigitsHeard:
    return DigitsHeard(digits, digits, logprob, no_speech)


# -- the rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("四八二七", "4827"),
        ("幺两三", "123"),
        ("一二两零〇", "12200"),
        (" 4 8 2 7", "4827"),
        ("９１５", "915"),  # full width
        ("4-1,3。", "413"),
        ("十", ""),  # "ten" is not a digit read one by one
        ("", ""),
    ],
)
def test_normalise_digits(text: str, digits: str) -> None:
    assert normalise_digits(text) == digits


@pytest.mark.parametrize(
    ("asked", "got", "score"),
    [
        ("4827", "4827", 1.0),
        ("4827", "四八二七", 1.0),
        ("4827", "4821", 0.75),
        ("915306", "91536", 5 / 6),  # one digit missed
        ("4827", "48277", 0.8),  # one digit too many
        ("4827", "", 0.0),
        ("", "", 1.0),
    ],
)
def test_score_digits_is_one_minus_normalised_edit_distance(
    asked: str, got: str, score: float
) -> None:
    assert score_digits(asked, got) == pytest.approx(score)


def codes(checks: list) -> list[tuple[str, bool]]:
    return [(c.code, c.passed) for c in checks]


def test_judge_digits_table() -> None:
    ok_lip = LipSync(0.8, 0.04)
    bad_lip = LipSync(0.1, 0.2)
    cases = [
        # (level_db, heard, lip, config, expected)
        (None, None, None, None, [(AUDIO_MISSING, False)]),
        (-80.0, None, None, None, [(AUDIO_MISSING, False)]),
        (-20.0, heard(""), None, None, [(AUDIO_MISSING, True), (DIGITS_NOT_READ, False)]),
        (
            -20.0,
            heard("4", -1.5, 0.7),
            None,
            None,
            [(AUDIO_MISSING, True), (DIGITS_NOT_READ, False)],
        ),
        (
            -20.0,
            heard("4821", -0.7, 0.9),
            None,
            None,
            [(AUDIO_MISSING, True), (DIGITS_NOT_READ, False)],
        ),
        (
            -20.0,
            heard("4821"),
            None,
            None,
            [(AUDIO_MISSING, True), (DIGITS_NOT_READ, True), (DIGITS_WRONG, False)],
        ),
        (
            -20.0,
            heard("4827"),
            None,
            None,
            [(AUDIO_MISSING, True), (DIGITS_NOT_READ, True), (DIGITS_WRONG, True)],
        ),
        (
            -20.0,
            heard("4827"),
            ok_lip,
            None,
            [
                (AUDIO_MISSING, True),
                (DIGITS_NOT_READ, True),
                (DIGITS_WRONG, True),
                (LIP_SYNC_MISMATCH, True),
            ],
        ),
        (
            -20.0,
            heard("4827"),
            bad_lip,
            None,
            [
                (AUDIO_MISSING, True),
                (DIGITS_NOT_READ, True),
                (DIGITS_WRONG, True),
                (LIP_SYNC_MISMATCH, False),
            ],
        ),
        # Tolerance: one of four digits may slip when configured so.
        (
            -20.0,
            heard("4821"),
            None,
            DigitsConfig(min_digits_score=0.75),
            [(AUDIO_MISSING, True), (DIGITS_NOT_READ, True), (DIGITS_WRONG, True)],
        ),
        (
            -20.0,
            heard("4811"),
            None,
            DigitsConfig(min_digits_score=0.75),
            [(AUDIO_MISSING, True), (DIGITS_NOT_READ, True), (DIGITS_WRONG, False)],
        ),
    ]
    for level, h, lip, cfg, expected in cases:
        assert codes(judge_digits("4827", level, h, lip, cfg)) == expected, (level, h, lip)


def test_failed_checks_carry_messages_a_phone_can_show() -> None:
    [c] = judge_digits("4827", None, None)
    assert c.message_zh == "未检测到声音,请开启麦克风并大声读出屏幕上的数字"
    assert c.message_en
    assert c.detail == {"audio_stream": False}
    for code in (DIGITS_NOT_READ, DIGITS_WRONG, LIP_SYNC_MISMATCH):
        zh, en = message_for(code)
        assert "数字" in zh or "口型" in zh
        assert en.endswith(("aloud", "again", "recording", "one by one"))
    with pytest.raises(ValueError, match="digits"):
        judge_digits("", -20.0, heard("1"))


# -- the real model -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "digits"),
    [("digits_915306.mp4", "915306"), ("digits_20483.webm", "20483"), ("digits_5721.mp4", "5721")],
)
def test_the_digits_read_are_heard(digit_reader: DigitReader, name: str, digits: str) -> None:
    checks = check_read_digits(digit_reader, track_of(name), digits)
    assert codes(checks) == [(AUDIO_MISSING, True), (DIGITS_NOT_READ, True), (DIGITS_WRONG, True)]
    assert checks[1].score is not None
    assert checks[1].score > DigitsConfig().min_avg_logprob  # mean token log-probability
    assert checks[-1].detail == {"asked": digits, "heard": digits}
    assert checks[-1].score == 1.0
    assert checks[-1].model == digit_reader.ref()


def test_other_digits_than_asked_are_wrong(digit_reader: DigitReader) -> None:
    # The clip says 5 7 2 1; the screen showed 5 7 2 9.
    track = track_of("digits_5721.mp4")
    got = digit_reader.predict(track)
    assert got.digits == "5721"
    checks = judge_digits("5729", speech_level_db(track), got)
    assert codes(checks)[-1] == (DIGITS_WRONG, False)
    assert checks[-1].detail == {"asked": "5729", "heard": "5721"}
    assert checks[-1].score == pytest.approx(0.75)
    assert checks[-1].message_zh.startswith("读出的数字与屏幕上的不一致")
    # ... and accepted when one wrong digit in four is tolerated.
    lenient = DigitsConfig(min_digits_score=0.75)
    assert judge_digits("5729", speech_level_db(track), got, config=lenient)[-1].passed


def test_words_that_are_not_digits_are_not_read(digit_reader: DigitReader) -> None:
    checks = check_read_digits(digit_reader, track_of("words_no_digits.mp4"), "4827")
    assert codes(checks) == [(AUDIO_MISSING, True), (DIGITS_NOT_READ, False)]


def test_silence_is_missing_audio_and_the_model_hears_nothing_in_it(
    digit_reader: DigitReader,
) -> None:
    silent = track_of("silence.mp4")
    checks = check_read_digits(digit_reader, silent, "4827")
    assert codes(checks) == [(AUDIO_MISSING, False)]
    # Had it been loud enough to reach the model, the model would not hear digits either.
    got = digit_reader.predict(silent)
    assert codes(judge_digits("4827", -20.0, got)) == [
        (AUDIO_MISSING, True),
        (DIGITS_NOT_READ, False),
    ]


def test_a_video_without_sound_is_missing_audio(digit_reader: DigitReader) -> None:
    track = decode_audio((FACE / "carphone_pristine.mp4").read_bytes(), max_seconds=15)
    assert track is None
    checks = check_read_digits(digit_reader, track, "4827")
    assert codes(checks) == [(AUDIO_MISSING, False)]
    assert speech_level_db(track) == -120.0


def test_decoding_only_writes_digits_and_stops_early(digit_reader: DigitReader) -> None:
    rng = np.random.default_rng(0)
    noise = AudioTrack((0.05 * rng.standard_normal(3 * RATE)).astype(np.float32), RATE, 0.0)
    t0 = time.perf_counter()
    got = digit_reader.predict(noise)
    assert time.perf_counter() - t0 < 60  # a bound against a decoding loop, not a benchmark
    assert set(got.text) <= set("0123456789 零〇一二两三四五六七八九幺")
    assert len(got.digits) <= digit_reader.max_new_tokens * 3


def test_the_language_is_a_parameter(digit_reader: DigitReader) -> None:
    # Same loaded model, told the speech is English (and beam 2).
    english = digit_reader.with_options(language="en", beam_size=2)
    assert english.language == "en"
    assert english._model is digit_reader._model
    got = english.predict(track_of("digits_5721.mp4"))
    assert got.digits == "5721"
    assert got.text.startswith(" ")  # English writes " 5 7 2 1"
    assert english.ref() == digit_reader.ref()
    assert DigitReader(digit_reader.info, language="en").language == "en"


def test_only_digit_tokens_may_be_written(digit_reader: DigitReader) -> None:
    tok = digit_reader._model.hf_tokenizer
    suppressed = set(digit_reader._suppress)
    assert suppressed == set(digit_suppress_tokens(tok, 51865))
    eot = tok.token_to_id("<|endoftext|>")
    assert eot not in suppressed
    for text in ("4", " 4", "四", "两", "幺", "零", "48"):
        ids = tok.encode(text, add_special_tokens=False).ids
        assert not suppressed & set(ids), text
    for text in (" hello", "十", "a", ".", ","):
        ids = tok.encode(text, add_special_tokens=False).ids
        assert suppressed & set(ids), text
    for special in ("<|zh|>", "<|transcribe|>", "<|notimestamps|>", "<|nocaptions|>"):
        assert tok.token_to_id(special) in suppressed, special
    # The timestamp tokens <|0.00|>…<|30.00|> (50364–51864) exist only in the model's vocabulary.
    assert set(range(50364, 51865)) <= suppressed
    assert max(suppressed) == 51864


def test_the_reader_reports_its_model(digit_reader: DigitReader) -> None:
    ref = digit_reader.ref()
    assert ref.name == "speech_recognizer"
    assert ref.version.startswith("whisper-base")
    assert len(ref.sha256) == 64
    with pytest.raises(ValueError, match="16000"):
        digit_reader.predict(AudioTrack(np.zeros(8000, np.float32), 8000, 0.0))
