"""The sound of a capture video: decoding with PyAV, speech-band energy over time.

Pure: bytes in, numpy arrays out. The audio is put on the same clock as
:func:`app.liveness.video.decode_video` (seconds from the first video frame), so the
energy sampled at the frame times lines up with what the face mesh measured there.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

from app.liveness.video import VIDEO_UNDECODABLE, VideoError, _error

RATE = 16_000  # Whisper's rate; plenty for the 300–3400 Hz speech band
SPEECH_BAND = (300.0, 3400.0)
AUDIO_UNDECODABLE = "AUDIO_UNDECODABLE"
MAX_GAP_SAMPLES = RATE // 50  # a hole of more than 20 ms in the timestamps is filled with zeros
MAX_BAD_PACKETS = 200  # ~4 s of AAC: past that the stream is noise, not a few bad packets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AudioTrack:
    samples: np.ndarray  # float32 mono, full scale ±1
    rate: int
    t0: float  # time of samples[0], seconds from the first video frame (0 when unknown)

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate


def _first_video_time(packet: av.Packet[Any]) -> float | None:
    for frame in packet.decode():
        if frame.time is not None:
            return float(frame.time)
    return None


def decode_audio(data: bytes, *, max_seconds: float) -> AudioTrack | None:
    """The first audio stream of ``data`` as 16 kHz mono float32, or None when it has none.

    Decodes at most ``max_seconds`` (+0.5 s) of sound: the video's own length limit is
    :func:`decode_video`'s to enforce. ``t0`` is the first audio sample's time minus the
    first decoded video frame's time (decode_video's zero), when both are known. Packets the
    decoder refuses are skipped and holes in the timestamps filled with silence, so the
    samples stay on the video's clock; a stream that breaks keeps what was decoded (the
    digits are usually in it); one that yields no audio at all raises ``AUDIO_UNDECODABLE``.
    """
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise _error(VIDEO_UNDECODABLE, type(exc).__name__) from exc
    try:
        if not container.streams.audio:
            return None
        astream = container.streams.audio[0]
        vstream = container.streams.video[0] if container.streams.video else None
        resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        limit = round((max_seconds + 0.5) * RATE)
        chunks: list[np.ndarray] = []
        n = 0
        a_time: float | None = None
        v_time: float | None = None
        v_done = vstream is None
        streams = [astream] if vstream is None else [astream, vstream]
        bad = 0  # audio packets the decoder refused: skipped, the rest is still heard
        broken: str | None = None
        try:
            for packet in container.demux(*streams):
                if packet.stream is vstream:
                    if not v_done:
                        try:
                            v_time = _first_video_time(packet)
                        except av.FFmpegError:
                            v_done = True  # decode_video reports a broken video stream
                        else:
                            v_done = v_time is not None
                elif n < limit:
                    try:
                        frames = packet.decode()
                    except av.FFmpegError as exc:
                        bad += 1
                        broken = type(exc).__name__
                        if bad > MAX_BAD_PACKETS:
                            break
                        continue
                    for frame in frames:
                        if not isinstance(frame, av.AudioFrame):
                            continue
                        if a_time is None and frame.time is not None:
                            a_time = float(frame.time)
                        elif a_time is not None and frame.time is not None:
                            # Skipped packets or a recorder's drop-out: keep the clock.
                            gap = int((float(frame.time) - a_time) * RATE) - n
                            if gap > MAX_GAP_SAMPLES and n + gap < limit:
                                chunks.append(np.zeros(gap, np.float32))
                                n += gap
                        for out in resampler.resample(frame):
                            chunk = out.to_ndarray().reshape(-1)
                            chunks.append(chunk)
                            n += chunk.size
                if n >= limit and v_done:
                    break
            if n < limit:
                for out in resampler.resample(None):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    n += chunk.size
        except av.FFmpegError as exc:  # the container itself broke: keep what was heard
            broken = type(exc).__name__
        if broken is not None:
            if n == 0:
                raise _error(AUDIO_UNDECODABLE, broken)
            log.warning("audio: %d bad packets, %s; kept %.2f s", bad, broken, n / RATE)
    finally:
        container.close()
    samples = np.concatenate(chunks)[:limit] if chunks else np.zeros(0, np.float32)
    t0 = a_time - v_time if a_time is not None and v_time is not None else 0.0
    return AudioTrack(np.ascontiguousarray(samples, dtype=np.float32), RATE, float(t0))


def _band_power(track: AudioTrack, centres: np.ndarray, window_s: float) -> np.ndarray:
    """Mean-square amplitude of the speech band in Hann windows centred on ``centres`` (s)."""
    x = track.samples
    win = max(16, round(window_s * track.rate))
    if x.size == 0 or centres.size == 0:
        return np.zeros(centres.shape, np.float64)
    nfft = 1 << (win - 1).bit_length()
    start = np.round((centres - track.t0) * track.rate).astype(np.int64) - win // 2
    idx = start[:, None] + np.arange(win)[None, :]
    inside = (idx >= 0) & (idx < x.size)
    w = np.hanning(win + 2)[1:-1]  # no zero end points: every sample counts
    seg = np.where(inside, x[np.clip(idx, 0, x.size - 1)], 0.0) * w
    spec = np.abs(np.fft.rfft(seg, nfft, axis=1)) ** 2
    freqs = np.fft.rfftfreq(nfft, 1.0 / track.rate)
    band = (freqs >= SPEECH_BAND[0]) & (freqs <= SPEECH_BAND[1])
    # Parseval: one-sided bins count twice; divide by the window's energy.
    power: np.ndarray = 2.0 * spec[:, band].sum(axis=1) / (nfft * float(np.sum(w**2)))
    return power


def speech_energy(track: AudioTrack, times: np.ndarray, window_s: float = 0.08) -> np.ndarray:
    """Short-time 300–3400 Hz energy (mean square, full scale) at each video frame time.

    ``times`` are decode_video's frame times; windows reaching outside the sound count
    zeros there.
    """
    return _band_power(track, np.asarray(times, np.float64), window_s)


def speech_level_db(track: AudioTrack | None, window_s: float = 0.08) -> float:
    """Loudness of the loudest speech-band moments: the 95th percentile of 80 ms windows.

    In dB relative to full scale; digital silence gives -120. A phone held at arm's length
    reading digits aloud is far above -45 dB; an unplugged or muted microphone is below.
    """
    if track is None or track.samples.size == 0:
        return -120.0
    centres = track.t0 + np.arange(window_s / 2, max(track.duration, window_s), window_s / 2)
    p95 = float(np.percentile(_band_power(track, centres, window_s), 95))
    return float(10.0 * np.log10(max(p95, 1e-12)))


__all__ = [
    "AUDIO_UNDECODABLE",
    "RATE",
    "AudioTrack",
    "VideoError",
    "decode_audio",
    "speech_energy",
    "speech_level_db",
]
