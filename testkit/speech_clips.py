"""Labelled-synthetic read-aloud clips: espeak-ng speech muxed with a plain video track.

Tests and bench only; nothing here runs in the API. ``python -m testkit.speech_clips``
rebuilds ``tests/data/speech/`` (needs Debian's ``espeak-ng``; deterministic for one
espeak-ng version). The speech is English: espeak-ng's Mandarin is unintelligible to Whisper
base, its English digits are read back even with the language set to Chinese.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np

from app.liveness.audio import RATE, decode_audio

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "speech"
VOICE = "en-us"
WPM = 130
LEAD_S = 0.5  # silence before the first word: a person starts reading after the prompt
TAIL_S = 0.3

# file name -> (what is said, digits in it, container)
CLIPS: dict[str, tuple[str, str, str]] = {
    "digits_915306.mp4": ("9, 1, 5, 3, 0, 6", "915306", "mp4"),
    "digits_20483.webm": ("2, 0, 4, 8, 3", "20483", "webm"),
    "digits_5721.mp4": ("5, 7, 2, 1", "5721", "mp4"),
    "words_no_digits.mp4": ("hello, how are you today", "", "mp4"),
    "silence.mp4": ("", "", "mp4"),
}


def espeak(text: str, *, voice: str = VOICE, wpm: int = WPM) -> np.ndarray:
    """``text`` spoken by espeak-ng, 16 kHz mono float32, with lead and tail silence."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is needed (apt-get install espeak-ng)")
    wav = subprocess.run(
        [exe, "-v", voice, "-s", str(wpm), "--stdout", text],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    track = decode_audio(wav, max_seconds=60)
    assert track is not None
    lead = np.zeros(int(LEAD_S * RATE), np.float32)
    tail = np.zeros(int(TAIL_S * RATE), np.float32)
    return np.concatenate([lead, track.samples, tail])


def mux(
    samples: np.ndarray,
    *,
    container: str = "mp4",
    fps: int = 15,
    size: tuple[int, int] = (64, 48),
    audio_offset_s: float = 0.0,
    video_s: float | None = None,
    frames: list[np.ndarray] | None = None,
) -> bytes:
    """A small video (grey frames, or ``frames`` as BGR) with ``samples`` as its sound.

    mp4: H.264 + AAC; webm: VP8 + Opus. ``audio_offset_s`` delays the first audio sample
    against the first video frame (what :func:`decode_audio` reports as ``t0``).
    """
    buf = io.BytesIO()
    out = av.open(buf, mode="w", format=container)
    vcodec, acodec, arate = (
        ("libx264", "aac", RATE) if container == "mp4" else ("libvpx", "libopus", 48000)
    )
    if frames is not None:
        size = (frames[0].shape[1], frames[0].shape[0])
    vs = cast("av.VideoStream", out.add_stream(vcodec, rate=fps))
    vs.width, vs.height = size
    vs.pix_fmt = "yuv420p"
    if vcodec == "libx264":
        vs.options = {"preset": "veryfast", "crf": "35"}
    aus = cast("av.AudioStream", out.add_stream(acodec, rate=arate))
    aus.layout = "mono"
    aus.bit_rate = 24000
    duration = video_s if video_s is not None else len(samples) / RATE + audio_offset_s
    n_frames = len(frames) if frames is not None else max(1, round(duration * fps))
    grey = np.full((size[1], size[0], 3), 128, np.uint8)
    for i in range(n_frames):
        img = frames[i] if frames is not None else grey
        vf = av.VideoFrame.from_ndarray(img, format="bgr24")
        vf.pts = i
        vf.time_base = Fraction(1, fps)
        for p in vs.encode(vf):
            out.mux(p)
    for p in vs.encode():
        out.mux(p)
    x = samples.astype(np.float32)
    if arate != RATE:
        x = _resample(x, RATE, arate)
    step = 1024
    first = round(audio_offset_s * arate)
    for k in range(0, len(x), step):
        chunk = x[k : k + step]
        af = av.AudioFrame.from_ndarray(chunk[None, :], format="flt", layout="mono")
        af.sample_rate = arate
        af.pts = first + k
        af.time_base = Fraction(1, arate)
        for p in aus.encode(af):
            out.mux(p)
    for p in aus.encode():
        out.mux(p)
    out.close()
    return buf.getvalue()


def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    t_src = np.arange(len(x)) / src
    t_dst = np.arange(int(len(x) * dst / src)) / dst
    out: np.ndarray = np.interp(t_dst, t_src, x).astype(np.float32)
    return out


def build(out_dir: Path = OUT) -> dict[str, str]:
    """Write every clip of :data:`CLIPS` into ``out_dir``; returns name -> digits."""
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = {}
    for name, (text, digits, container) in CLIPS.items():
        samples = espeak(text) if text else np.zeros(3 * RATE, np.float32)
        (out_dir / name).write_bytes(mux(samples, container=container))
        labels[name] = digits
    return labels


if __name__ == "__main__":
    for name, digits in build().items():
        print(f"{name}\t{digits or '-'}")  # noqa: T201
