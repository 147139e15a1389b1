# ruff: noqa: T201  (a benchmark prints its tables)
"""Read-aloud digits: recognition time per 3-s clip, and accuracy on labelled clips.

    python -m bench.speech_eval [--model-dir DATA_DIR/models/speech] [--runs 5]
                                [--espeak 20] [--clips DIR] [--language zh] [--beam 1]
                                [--face-model-dir DATA_DIR/models/face]

Speed: one 3-s clip (tests/data/speech/digits_5721.mp4, trimmed to 3 s), medians of: PyAV
decoding (decode_audio), DigitReader.predict (log-Mel, encoder, digit-constrained decoding),
and the bare model time (the same encoder + decoder with nothing suppressed and no token
cap), plus faster-whisper's own transcribe() with its defaults for reference.

Accuracy: every clip of tests/data/speech (labelled synthetic, espeak-ng English), then
``--espeak N`` more random codes in four espeak-ng English voices (needs espeak-ng), then the
clips of ``--clips DIR``.

MANDARIN ACCURACY ON REAL RECORDINGS IS NOT ESTABLISHED HERE: no recording of a person reading
digits in Mandarin exists on this machine, and espeak-ng's Mandarin is unintelligible to
Whisper. To measure it, an operator records people reading the digits on their phones (the
capture app's own videos are best: same microphones, rooms, distances), puts the videos in a
folder with a ``labels.tsv`` (one line per clip: file name, TAB, the digits that were asked,
empty for a clip in which no digits should be heard; optionally TAB ``pass`` or ``refuse``
for the verdict expected, e.g. ``refuse`` for a replay or a dub), and runs
``python -m bench.speech_eval --clips FOLDER``. Without labels.tsv the digits are taken from
the file name (``anything_4827.mp4``). The same table is printed, with the lip-sync score when
the face models are prepared; use it to set DigitsConfig (min_avg_logprob, min_lip_sync,
min_digits_score) before the step is switched on.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

from app.liveness.audio import (  # noqa: E402
    RATE,
    AudioTrack,
    decode_audio,
    speech_energy,
    speech_level_db,
)
from app.liveness.speech import (  # noqa: E402
    DigitReader,
    DigitsConfig,
    judge_digits,
)

DATA = ROOT / "tests" / "data" / "speech"
VIDEO_EXT = (".mp4", ".mov", ".webm", ".m4a", ".wav", ".mkv")
PLACEHOLDER_ASK = "4827"  # asked of clips that should contain no digits


@dataclass
class Clip:
    name: str
    data: bytes
    digits: str  # "" = no digits should be heard
    source: str
    expect_pass: bool | None = None  # None: pass when digits were asked, refuse otherwise


def speed(reader: DigitReader, runs: int) -> None:
    from faster_whisper.audio import pad_or_trim

    data = (DATA / "digits_5721.mp4").read_bytes()
    full = decode_audio(data, max_seconds=15)
    assert full is not None
    start = int(0.3 * RATE)
    clip = AudioTrack(full.samples[start : start + 3 * RATE].copy(), RATE, 0.0)
    model = reader._model
    dec, pred, bare, plain = [], [], [], []
    heard = None
    for _ in range(runs + 1):  # the first run warms up
        t0 = time.perf_counter()
        decode_audio(data, max_seconds=15)
        t1 = time.perf_counter()
        heard = reader.predict(clip)
        t2 = time.perf_counter()
        enc = model.encode(pad_or_trim(model.feature_extractor(clip.samples)))
        model.model.generate(enc, [reader._prompt], beam_size=reader.beam_size)
        t3 = time.perf_counter()
        segments, _ = model.transcribe(clip.samples, language=reader.language)
        list(segments)
        t4 = time.perf_counter()
        dec.append(t1 - t0)
        pred.append(t2 - t1)
        bare.append(t3 - t2)
        plain.append(t4 - t3)
    med = statistics.median
    print(
        f"\n## Digit recognition speed: one 3-s clip, {runs} runs, "
        f"int8 CPU, {reader.threads} threads, beam {reader.beam_size}, "
        f"language {reader.language} (heard {heard.digits if heard else '?'!r})\n"
    )
    print("| stage | median ms |")
    print("|---|---|")
    rows = [
        (f"decode_audio (PyAV, whole {len(full.samples) / RATE:.1f} s mp4)", dec),
        ("DigitReader.predict (log-Mel + encoder + digit-constrained decoder)", pred),
        ("bare model: same encoder + decoder, nothing suppressed, no token cap", bare),
        ("for reference: faster-whisper transcribe() defaults (beam 5, timestamps)", plain),
    ]
    for label, times in rows:
        print(f"| {label} | {1000 * med(times[1:]):.0f} |")
    print(f"\nratio predict/bare = {med(pred[1:]) / med(bare[1:]):.2f}")


def committed_clips() -> list[Clip]:
    out = []
    for path in sorted(DATA.iterdir()):
        if path.suffix in VIDEO_EXT:
            m = re.search(r"_(\d{3,})\.", path.name)
            out.append(Clip(path.name, path.read_bytes(), m.group(1) if m else "", "committed"))
    return out


def espeak_clips(n: int) -> list[Clip]:
    import shutil

    if n <= 0:
        return []
    if shutil.which("espeak-ng") is None:
        print("\n(espeak-ng not installed: --espeak skipped)")
        return []
    from testkit.speech_clips import espeak, mux

    rng = np.random.default_rng(20261201)
    voices = ("en-us", "en-gb", "en-us+f3", "en-gb+m3")
    out = []
    for i in range(n):
        digits = "".join(rng.choice(list("0123456789"), size=int(rng.integers(4, 7))))
        voice, wpm = voices[i % len(voices)], int(rng.integers(120, 170))
        data = mux(espeak(", ".join(digits), voice=voice, wpm=wpm))
        out.append(Clip(f"espeak_{voice}_{wpm}_{digits}.mp4", data, digits, "espeak"))
    return out


def folder_clips(folder: Path) -> list[Clip]:
    labels: dict[str, str] = {}
    expect: dict[str, bool] = {}
    tsv = folder / "labels.tsv"
    if tsv.is_file():
        for line in tsv.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                name, digits, outcome = [*line.split("\t"), "", ""][:3]
                labels[name.strip()] = digits.strip()
                if outcome.strip():
                    expect[name.strip()] = outcome.strip().lower() == "pass"
    out = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in VIDEO_EXT:
            continue
        if labels:
            if path.name not in labels:
                continue
            digits = labels[path.name]
        else:
            m = re.search(r"_(\d{3,})\.", path.name)
            digits = m.group(1) if m else ""
        out.append(Clip(path.name, path.read_bytes(), digits, "operator", expect.get(path.name)))
    return out


def mouth_series(face_dir: Path | None, data: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """Frame times and mouth opening from the face mesh, when the face models exist."""
    if face_dir is None:
        return None
    from app.liveness import FaceAnalyzer, VideoError, decode_video, list_models
    from app.liveness.lipsync import mouth_open_ratio

    if len(list_models(face_dir)) < 4:
        return None
    global _ANALYZER
    if _ANALYZER is None:
        _ANALYZER = FaceAnalyzer(face_dir)
        _ANALYZER.load()
    try:
        frames = decode_video(data, max_frames=150)
    except VideoError:
        return None
    t, m = [], []
    for f in frames:
        mesh = _ANALYZER.face_mesh(f.image)
        t.append(f.t)
        m.append(np.nan if mesh is None else mouth_open_ratio(mesh))
    if np.isfinite(m).sum() < 8:
        return None
    return np.array(t), np.array(m)


_ANALYZER = None


def accuracy(reader: DigitReader, clips: list[Clip], face_dir: Path | None) -> None:
    cfg = DigitsConfig()
    print(
        f"\n## Accuracy on {len(clips)} labelled clips "
        f"(language {reader.language}, beam {reader.beam_size})\n"
    )
    cols = [
        "clip",
        "source",
        "asked",
        "heard",
        "text",
        "avg_logprob",
        "no_speech",
        "level_dB",
        "lip",
        "verdict",
        "ok",
        "ms",
    ]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    tally: dict[str, list[int]] = {}
    for c in clips:
        asked = c.digits or PLACEHOLDER_ASK
        t0 = time.perf_counter()
        try:
            track = decode_audio(c.data, max_seconds=30)
        except Exception as exc:  # a bench reports a broken file and goes on
            cells = [c.name, c.source, asked, "-", type(exc).__name__, "", "", "", "", "error"]
            print("| " + " | ".join(cells) + " | | |")
            continue
        level = speech_level_db(track)
        heard = reader.predict(track) if track is not None and level >= cfg.min_level_db else None
        ms = 1000 * (time.perf_counter() - t0)
        lip = None
        series = mouth_series(face_dir, c.data) if track is not None else None
        if series is not None and track is not None:
            from app.liveness.lipsync import lip_sync_score

            t, mouth = series
            lip = lip_sync_score(t, mouth, speech_energy(track, t), max_lag_s=cfg.max_lag_s)
        checks = judge_digits(asked, None if track is None else level, heard, lip, cfg)
        failed = [ch.code for ch in checks if not ch.passed]
        verdict = failed[0] if failed else "PASS"
        should_pass = bool(c.digits) if c.expect_pass is None else c.expect_pass
        ok = (verdict == "PASS") == should_pass
        tally.setdefault(c.source, [0, 0])
        tally[c.source][0] += ok
        tally[c.source][1] += 1
        nan = float("nan")
        cells = [
            c.name,
            c.source,
            c.digits or "(none)",
            heard.digits if heard else "-",
            repr(heard.text.strip()) if heard else "-",
            f"{heard.avg_logprob if heard else nan:.2f}",
            f"{heard.no_speech_prob if heard else nan:.2f}",
            f"{level:.0f}",
            "-" if lip is None else f"{lip.score:.2f}",
            verdict,
            "yes" if ok else "NO",
            f"{ms:.0f}",
        ]
        print("| " + " | ".join(cells) + " |")
    print("\n| source | right verdicts |")
    print("|---|---|")
    for src, (good, n) in tally.items():
        print(f"| {src} | {good}/{n} ({100 * good / n:.0f} %) |")
    print(
        "\nA right verdict: PASS for a clip whose digits were asked, a refusal for one with no\n"
        "digits. The committed and espeak clips are labelled synthetic English TTS: they show\n"
        "that decoding, the digit constraint and the rules work. MANDARIN ACCURACY ON REAL\n"
        "RECORDINGS IS NOT ESTABLISHED HERE: run this with --clips on a folder of real\n"
        "recordings (see the module docstring)."
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    models = Path(
        os.environ.get("MODEL_DIR") or Path(os.environ.get("DATA_DIR", ROOT / "data")) / "models"
    )
    ap.add_argument("--model-dir", type=Path, default=models / "speech")
    ap.add_argument("--face-model-dir", type=Path, default=models / "face")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--espeak", type=int, default=0, help="also N random espeak-ng clips")
    ap.add_argument("--clips", type=Path, help="a folder of recordings (+ labels.tsv)")
    ap.add_argument("--language", default="zh")
    ap.add_argument("--beam", type=int, default=1)
    ap.add_argument("--no-speed", action="store_true")
    args = ap.parse_args()
    from app.liveness import list_speech_models

    if not list_speech_models(args.model_dir):
        from app.liveness.prepare.build import prepare_speech_models

        prepare_speech_models(args.model_dir)
    reader = DigitReader.from_dir(args.model_dir, language=args.language, beam_size=args.beam)
    t0 = time.perf_counter()
    reader.load()
    info = reader.info
    took = time.perf_counter() - t0
    print(f"model loaded in {took:.1f} s ({info.version}, sha256 {info.sha256[:12]})")
    if not args.no_speed:
        speed(reader, args.runs)
    clips = committed_clips() + espeak_clips(args.espeak)
    if args.clips is not None:
        clips += folder_clips(args.clips)
    face_dir = args.face_model_dir if args.face_model_dir.is_dir() else None
    accuracy(reader, clips, face_dir)


if __name__ == "__main__":
    main()
