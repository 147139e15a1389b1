"""Read-aloud digits: hear which digits the person said, and judge them against the asked ones.

Whisper base (CTranslate2, int8, CPU) through faster-whisper, decoding constrained to digit
tokens: every token whose text is not made only of ASCII digits, Chinese numerals or spaces
is suppressed, so the model can only answer with digits or stop. One 30 s window, no
timestamps, no VAD, at most :data:`MAX_NEW_TOKENS` new tokens, greedy (or beam 2).

Pure library: the model directory comes from :func:`app.liveness.models.list_speech_models`;
faster-whisper is imported when the model is loaded, never at import time.
"""

from __future__ import annotations

import math
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.inference import modeltime
from app.inference.checks import Check, ModelRef, check
from app.inference.session import ModelInfo
from app.liveness.audio import RATE, AudioTrack, speech_energy, speech_level_db
from app.liveness.lipsync import LipSync, lip_sync_score
from app.liveness.models import list_speech_models

AUDIO_MISSING = "AUDIO_MISSING"
DIGITS_NOT_READ = "DIGITS_NOT_READ"
DIGITS_WRONG = "DIGITS_WRONG"
LIP_SYNC_MISMATCH = "LIP_SYNC_MISMATCH"

# What a digit may be written as: ASCII digits and the Chinese numerals (幺 is "one" when
# reading out numbers, 两 "two" before a measure, 〇 the numeral zero).
CHINESE_DIGITS: dict[str, str] = {
    "零": "0",
    "〇": "0",
    "一": "1",
    "幺": "1",
    "二": "2",
    "两": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
}
DIGIT_CHARS = frozenset("0123456789") | frozenset(CHINESE_DIGITS)
MAX_NEW_TOKENS = 16
DEFAULT_LANGUAGE = "zh"
MAX_WINDOW_S = 30.0  # Whisper hears one 30 s window; a capture video is at most 15 s


def normalise_digits(text: str) -> str:
    """The digits in ``text``, Chinese numerals and full-width digits made ASCII, in order."""
    out = []
    for ch in unicodedata.normalize("NFKC", text):
        if "0" <= ch <= "9":
            out.append(ch)
        elif ch in CHINESE_DIGITS:
            out.append(CHINESE_DIGITS[ch])
    return "".join(out)


def _edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def score_digits(asked: str, heard: str) -> float:
    """1 − Levenshtein distance / the longer length, on the normalised digits; 1 = same."""
    a, h = normalise_digits(asked), normalise_digits(heard)
    longest = max(len(a), len(h))
    if longest == 0:
        return 1.0
    return 1.0 - _edit_distance(a, h) / longest


@dataclass(frozen=True)
class DigitsHeard:
    digits: str  # normalised ASCII digits, e.g. "4827"
    text: str  # what the constrained decoder wrote, e.g. "四八二七" or " 4 8 2 7"
    avg_logprob: float  # mean log-probability per token, end of text included; NaN: no token
    no_speech_prob: float  # Whisper's probability that the window holds no speech


def digit_suppress_tokens(tokenizer: Any, vocab_size: int = 0) -> list[int]:
    """Ids of every token that cannot be part of a digit string, for ``suppress_tokens``.

    ``tokenizer`` is the ``tokenizers.Tokenizer`` of the model, ``vocab_size`` the model's
    own (vocabulary.txt: it also has the timestamp tokens, which tokenizer.json lacks).
    Allowed: tokens whose text is only ASCII digits, Chinese numerals and spaces; the
    byte-level pieces of numerals that take more than one token (零, 〇, 幺); and end-of-text,
    so the decoder can stop. Every other special token (language, task, no-speech,
    timestamps) is suppressed: they are given in the prompt, never generated.
    """
    eot = tokenizer.token_to_id("<|endoftext|>")
    pieces: set[int] = set()
    for ch in CHINESE_DIGITS:
        for text in (ch, " " + ch):
            ids = tokenizer.encode(text, add_special_tokens=False).ids
            if len(ids) > 1:
                pieces.update(ids)
    allowed_chars = DIGIT_CHARS | {" "}
    out = []
    for i in range(max(tokenizer.get_vocab_size(), vocab_size)):
        if i == eot or i in pieces:
            continue
        if i < eot:
            text = tokenizer.decode([i])
            if text and all(c in allowed_chars for c in text):
                continue
        out.append(i)
    return out


class DigitReader:
    """Whisper base constrained to digits; loaded once, then ``predict`` from any thread.

    The same public shape as :class:`app.inference.session.InferenceModel` (``load()``,
    ``loaded``, ``predict()``, ``ref()``, ``info``). CTranslate2 runs one call at a time per
    worker and is safe to call from several threads; only loading takes the lock.
    ``language`` is the language Whisper is told (Chinese for the product; a test may tell
    it "en"), ``beam_size`` 1 (greedy) or 2.
    """

    def __init__(
        self,
        info: ModelInfo,
        *,
        threads: int = 2,
        language: str = DEFAULT_LANGUAGE,
        beam_size: int = 1,
        max_new_tokens: int = MAX_NEW_TOKENS,
    ) -> None:
        if beam_size < 1:
            raise ValueError("beam_size must be at least 1")
        self.info = info
        self.threads = threads
        self.language = language
        self.beam_size = beam_size
        self.max_new_tokens = max_new_tokens
        self._model: Any = None
        self._prompt: list[int] = []
        self._suppress: list[int] = []
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_dir(cls, speech_dir: Path, **kwargs: Any) -> DigitReader:
        """The reader of the model prepared in ``speech_dir`` (MODEL_DIR/speech)."""
        infos = list_speech_models(Path(speech_dir))
        if not infos:
            raise FileNotFoundError(
                f"no speech model in {speech_dir}: run `python -m app models prepare`"
            )
        return cls(infos[0], **kwargs)

    @property
    def model_dir(self) -> Path:
        return Path(self.info.file).parent

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            # The tokenizer must be local: faster-whisper would fetch it from a hub otherwise.
            if not (self.model_dir / "tokenizer.json").is_file():
                raise FileNotFoundError(f"{self.model_dir / 'tokenizer.json'} is missing")
            from faster_whisper import WhisperModel  # lazy: only when digits are asked

            model = WhisperModel(
                str(self.model_dir),
                device="cpu",
                compute_type="int8",
                cpu_threads=self.threads,
                num_workers=1,
            )
            with (self.model_dir / "vocabulary.txt").open(encoding="utf-8") as fh:
                vocab_size = sum(1 for _ in fh)
            self._set_model(model, digit_suppress_tokens(model.hf_tokenizer, vocab_size))

    def _set_model(self, model: Any, suppress: list[int]) -> None:
        from faster_whisper.tokenizer import Tokenizer  # lazy: as load() above

        tok = Tokenizer(
            model.hf_tokenizer,
            model.model.is_multilingual,
            task="transcribe",
            language=self.language,
        )
        self._tokenizer = tok
        self._prompt = [*tok.sot_sequence, tok.no_timestamps]
        self._suppress = suppress
        self._model = model

    def with_options(
        self,
        *,
        language: str | None = None,
        beam_size: int | None = None,
        max_new_tokens: int | None = None,
    ) -> DigitReader:
        """Another reader on the same loaded model (loaded here if it was not yet)."""
        self.load()
        other = DigitReader(
            self.info,
            threads=self.threads,
            language=language or self.language,
            beam_size=beam_size or self.beam_size,
            max_new_tokens=max_new_tokens or self.max_new_tokens,
        )
        other._set_model(self._model, self._suppress)
        return other

    def predict(self, track: AudioTrack) -> DigitsHeard:
        """The digits heard in ``track`` (its first 30 s)."""
        if self._model is None:
            self.load()
        if track.rate != RATE:
            raise ValueError(f"audio must be {RATE} Hz (decode_audio resamples)")
        with modeltime.timed(self.info.name):
            return self._predict(track.samples[: int(MAX_WINDOW_S * RATE)])

    def _predict(self, samples: np.ndarray) -> DigitsHeard:
        # What WhisperModel.transcribe does for one window (log-Mel, pad to 30 s, encode,
        # generate), without its segment loop, temperature fallback or silence skipping:
        # the caller wants no_speech_prob and avg_logprob even when nothing was said.
        from faster_whisper.audio import pad_or_trim

        model = self._model
        features = model.feature_extractor(np.ascontiguousarray(samples, dtype=np.float32))
        encoded = model.encode(pad_or_trim(features))
        result = model.model.generate(
            encoded,
            [self._prompt],
            beam_size=self.beam_size,
            max_length=len(self._prompt) + self.max_new_tokens,
            return_scores=True,
            return_no_speech_prob=True,
            # Allow end-of-text at once: silence must be able to say nothing.
            suppress_blank=False,
            suppress_tokens=self._suppress,
        )[0]
        tokens = result.sequences_ids[0]
        # avg_logprob as faster-whisper recovers it (length_penalty 1; +1 for end-of-text).
        # Nothing written (end of text at once): ctranslate2 has no length to average over.
        avg_logprob = (
            float(result.scores[0]) * len(tokens) / (len(tokens) + 1) if tokens else math.nan
        )
        text = self._tokenizer.decode(tokens)
        return DigitsHeard(
            digits=normalise_digits(text),
            text=text,
            avg_logprob=avg_logprob,
            no_speech_prob=float(result.no_speech_prob),
        )

    def ref(self) -> ModelRef:
        return self.info.ref()


@dataclass(frozen=True)
class DigitsConfig:
    """Thresholds of the read-aloud step (defaults: see bench/speech_eval.py)."""

    # Loudest speech-band moments below this (dB full scale): no usable sound recorded.
    min_level_db: float = -45.0
    # score_digits at least this; 1.0 = exact match. 5/6 ≈ 0.83 lets one of six digits slip.
    min_digits_score: float = 1.0
    # Whisper's no-speech probability above this and nothing confident heard: not read.
    max_no_speech_prob: float = 0.6
    # Mean token log-probability below this: what was said were not digits.
    min_avg_logprob: float = -1.0
    # lip_sync_score at least this; only checked when mouth measurements were given.
    min_lip_sync: float = 0.5
    max_lag_s: float = 0.25


def judge_digits(
    asked: str,
    level_db: float | None,
    heard: DigitsHeard | None,
    lip: LipSync | None = None,
    config: DigitsConfig | None = None,
    *,
    model: ModelRef | None = None,
) -> list[Check]:
    """The read-aloud verdict, one check per rule, stopping at the first that fails.

    ``level_db`` is :func:`speech_level_db` of the track (None: the video has no sound);
    ``heard`` what the reader heard (None when it was not run); ``lip`` the lip-sync score
    (None when no mouth measurements exist: that check is then left out).
    """
    cfg = config or DigitsConfig()
    want = normalise_digits(asked)
    if not want:
        raise ValueError("asked must contain digits")
    level = -120.0 if level_db is None else level_db
    checks = [
        check(
            AUDIO_MISSING,
            level >= cfg.min_level_db and heard is not None,
            level,
            cfg.min_level_db,
            detail={"audio_stream": level_db is not None},
        )
    ]
    if not checks[-1].passed or heard is None:
        return checks
    confident = math.isfinite(heard.avg_logprob)
    not_read = (
        not heard.digits
        or not confident
        or heard.avg_logprob < cfg.min_avg_logprob
        # Whisper thinks the window is silent and is unsure of what it wrote.
        or (heard.no_speech_prob > cfg.max_no_speech_prob and heard.avg_logprob < -0.5)
    )
    checks.append(
        check(
            DIGITS_NOT_READ,
            not not_read,
            heard.avg_logprob if confident else None,
            cfg.min_avg_logprob,
            detail={"no_speech_prob": round(heard.no_speech_prob, 4), "heard": heard.digits},
            model=model,
        )
    )
    if not_read:
        return checks
    score = score_digits(want, heard.digits)
    checks.append(
        check(
            DIGITS_WRONG,
            score >= cfg.min_digits_score - 1e-9,
            score,
            cfg.min_digits_score,
            detail={"asked": want, "heard": heard.digits},
            model=model,
        )
    )
    if not checks[-1].passed or lip is None:
        return checks
    checks.append(
        check(
            LIP_SYNC_MISMATCH,
            lip.score >= cfg.min_lip_sync,
            lip.score,
            cfg.min_lip_sync,
            detail={"lag_s": round(lip.lag_s, 3)},
        )
    )
    return checks


class PendingDigits:
    """Whisper hearing a capture's sound on its own thread while the video is analysed.

    The read-aloud check needs the mouth track (lip sync) only after the video analysis, but
    Whisper needs nothing from it: started first, its ~0.7 s run overlaps decoding and the
    face models (CTranslate2 and onnxruntime both release the GIL). ``result()`` waits for it;
    None when the sound was too quiet to run the model at all (AUDIO_MISSING decides).
    """

    def __init__(
        self, reader: DigitReader, track: AudioTrack | None, config: DigitsConfig | None = None
    ) -> None:
        cfg = config or DigitsConfig()
        self.level = None if track is None else speech_level_db(track)
        self._heard: DigitsHeard | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if track is not None and self.level is not None and self.level >= cfg.min_level_db:
            self._thread = threading.Thread(
                target=self._run, args=(reader, track), name="digit-reader", daemon=True
            )
            self._thread.start()

    def _run(self, reader: DigitReader, track: AudioTrack) -> None:
        try:
            self._heard = reader.predict(track)
        except BaseException as exc:  # re-raised in the caller's thread by result()
            self._error = exc

    def result(self) -> DigitsHeard | None:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._heard


def check_read_digits(
    reader: DigitReader,
    track: AudioTrack | None,
    asked: str,
    *,
    times: np.ndarray | None = None,
    mouth_open: np.ndarray | None = None,
    config: DigitsConfig | None = None,
    pending: PendingDigits | None = None,
) -> list[Check]:
    """Everything for one capture: loudness, recognition, digits, lip sync when measured.

    ``times`` and ``mouth_open`` are the video frame times and
    :func:`app.liveness.lipsync.mouth_open_ratio` per frame (NaN without a face). The model
    is not run when there is no audible sound. ``pending``: Whisper already started on
    ``track`` (:class:`PendingDigits`), waited for here.
    """
    cfg = config or DigitsConfig()
    if pending is None:
        pending = PendingDigits(reader, track, cfg)
    level = pending.level
    heard = pending.result()
    lip = None
    if track is not None and times is not None and mouth_open is not None:
        energy = speech_energy(track, np.asarray(times, np.float64))
        lip = lip_sync_score(
            np.asarray(times, np.float64), np.asarray(mouth_open), energy, max_lag_s=cfg.max_lag_s
        )
    return judge_digits(asked, level, heard, lip, cfg, model=reader.ref())


__all__ = [
    "AUDIO_MISSING",
    "DIGITS_NOT_READ",
    "DIGITS_WRONG",
    "LIP_SYNC_MISMATCH",
    "DigitReader",
    "DigitsConfig",
    "DigitsHeard",
    "PendingDigits",
    "check_read_digits",
    "digit_suppress_tokens",
    "judge_digits",
    "normalise_digits",
    "score_digits",
]
