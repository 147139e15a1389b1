"""Replay memory: a perceptual fingerprint of a face capture, and how alike two of them are.

Pure module (numpy and OpenCV; PyAV only for the optional audio track). An attacker who holds
one recording of the victim doing the challenge may upload it again, as is, re-encoded,
cropped, rescaled or re-timed. The fingerprint keeps what survives those edits and nothing
from which the video could be rebuilt:

- ``hashes``: per sample (``RATE`` samples a second, at fixed times from the first frame), a
  64-bit DCT hash (pHash) of a 32×32 grey thumbnail of each of ``len(SCALES)`` centred crops
  of the frame. 64 bits of the lowest spatial frequencies per crop cannot be inverted into
  a picture of anyone; the nested crops let a cropped or rescaled copy (±15 %) be compared
  at the scale where the two views coincide.
- ``motion``: per sample, how much a 16×16 grey thumbnail changed since the previous sample
  (one number). It is what tells two honest captures apart: the same person in the same
  room gives near-identical hashes whenever they hold still, but never the same motion at
  the same moments, while a replay repeats its motion exactly.
- ``audio`` (optional): per audio frame (``RATE`` a second) 15 bits, the signs of the
  band-energy differences across 16 bands and time (Haitsma–Kalker), from a 4 kHz mono track.

:func:`match` searches time offsets and speeds (0.88–1.12: another frame rate, a trimmed
start or end, ±10 % speed) and the crop pairs, and returns a score in [0, 1]: the share of
aligned samples whose hashes agree times the correlation of the two motion curves (with
audio, the audio bit agreement is folded in). A replay scores near 1; two honest captures of
the same person score at most the still share times a chance correlation (bench/replay_eval.py).
"""

from __future__ import annotations

import io
import itertools
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from app.liveness.video import Frame

VERSION = 1
RATE = 8.0  # samples a second
SCALES = (1.0, 0.86, 0.74)  # side of each centred crop, share of the frame
GRID = 4  # motion: signed brightness change of each cell of a GRID x GRID split
HASH_BITS_AGREE = 14  # a sample "agrees" when its hashes differ in at most this many bits
MIN_OVERLAP_SECONDS = 1.5  # shorter aligned spans say nothing
MIN_OVERLAP_SHARE = 0.5  # of the shorter capture
SPEEDS = np.round(np.arange(0.88, 1.1201, 0.02), 3)
# Scores at or above this are replays. Decided on honest captures of one man in one car
# (testkit/replays.py, bench/replay_eval.py): the highest honest score and the lowest replay
# score are printed there with the margin to this value.
THRESHOLD = 0.65


@dataclass(frozen=True)
class Fingerprint:
    hashes: np.ndarray  # (n, len(SCALES)) uint64
    motion: np.ndarray  # (n, GRID * GRID) float32
    audio: np.ndarray | None = None  # (m,) uint16, 15 bits per audio frame
    rate: float = RATE

    @property
    def seconds(self) -> float:
        return len(self.hashes) / self.rate

    def to_bytes(self) -> bytes:
        """A compact, versioned encoding (a few KB for 15 s) for storage."""
        n, s = self.hashes.shape
        m = 0 if self.audio is None else len(self.audio)
        head = struct.pack("<BBfII", VERSION, s, self.rate, n, m)
        body = self.hashes.astype("<u8").tobytes() + self.motion.astype("<f2").tobytes()
        if self.audio is not None:
            body += self.audio.astype("<u2").tobytes()
        return head + body

    @classmethod
    def from_bytes(cls, data: bytes) -> Fingerprint:
        version, s, rate, n, m = struct.unpack_from("<BBfII", data)
        if version != VERSION:
            raise ValueError(f"fingerprint version {version} is not {VERSION}")
        off = struct.calcsize("<BBfII")
        hashes = np.frombuffer(data, "<u8", n * s, off).reshape(n, s).astype(np.uint64)
        off += 8 * n * s
        g = GRID * GRID
        motion = np.frombuffer(data, "<f2", n * g, off).reshape(n, g).astype(np.float32)
        off += 2 * n * g
        audio = np.frombuffer(data, "<u2", m, off).astype(np.uint16) if m else None
        return cls(hashes, motion, audio, float(rate))


def _grey(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _phash(grey: np.ndarray) -> int:
    thumb = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(thumb)[:8, :8].ravel()
    bits = low > np.median(low[1:])  # the DC term is brightness, not structure
    return int(np.packbits(bits).view(">u8")[0])


def _crop(grey: np.ndarray, side: float) -> np.ndarray:
    if side >= 1.0:
        return grey
    h, w = grey.shape
    ch, cw = max(8, round(h * side)), max(8, round(w * side))
    y, x = (h - ch) // 2, (w - cw) // 2
    return grey[y : y + ch, x : x + cw]


def fingerprint(frames: Sequence[Frame], audio: np.ndarray | None = None) -> Fingerprint:
    """The fingerprint of a capture's frames (any order, ``t`` in seconds).

    ``audio``: the optional audio fingerprint from :func:`audio_fingerprint`.
    """
    if not frames:
        raise ValueError("a fingerprint needs at least one frame")
    ordered = sorted(frames, key=lambda f: f.t)
    times = np.array([f.t for f in ordered])
    n = int(np.floor((times[-1] - times[0]) * RATE)) + 1
    want = times[0] + np.arange(n) / RATE
    nearest = np.clip(np.searchsorted(times, want), 0, len(times) - 1)
    prev = np.clip(nearest - 1, 0, len(times) - 1)
    pick = np.where(np.abs(times[prev] - want) < np.abs(times[nearest] - want), prev, nearest)
    hashes = np.zeros((n, len(SCALES)), np.uint64)
    cache: dict[int, list[int]] = {}
    for k, i in enumerate(pick):
        if int(i) not in cache:
            g = _grey(ordered[i].image)
            cache[int(i)] = [_phash(_crop(g, s)) for s in SCALES]
        hashes[k] = cache[int(i)]
    # Motion from every frame's cell means, interpolated at the sample times: a copy at
    # another frame rate then samples the same motion, not the nearest frames' jitter.
    g2 = GRID * GRID
    every = np.stack(
        [
            cv2.resize(_grey(f.image), (GRID, GRID), interpolation=cv2.INTER_AREA)
            .astype(np.float32)
            .ravel()
            for f in ordered
        ]
    )  # (frames, cells)
    # Each sample averages its 1/RATE window (5 points), which smooths the jumps of a copy
    # re-timed by dropping or repeating frames.
    sub = (want[:, None] + np.linspace(-0.5, 0.5, 5)[None, :] / RATE).ravel()
    cells = np.stack([np.interp(sub, times, every[:, c]) for c in range(g2)], axis=1)
    cells = cells.reshape(n, 5, g2).mean(axis=1)
    motion = np.zeros((n, GRID * GRID), np.float32)
    if n > 1:
        motion[1:] = np.diff(cells, axis=0)
        motion[0] = motion[1]  # no previous sample: a trimmed copy's first one is not 0
    return Fingerprint(hashes, motion, audio)


# -- audio --------------------------------------------------------------------------------

AUDIO_RATE = 4000


def audio_fingerprint(samples: np.ndarray, sample_rate: int) -> np.ndarray | None:
    """15 bits per 1/RATE s of mono audio: signs of band-energy differences (None: silence)."""
    x = np.asarray(samples, np.float32).ravel()
    if sample_rate != AUDIO_RATE and len(x):
        idx = np.arange(0, len(x), sample_rate / AUDIO_RATE)
        x = np.interp(idx, np.arange(len(x)), x).astype(np.float32)
    hop = int(AUDIO_RATE / RATE)
    win = 2 * hop
    if len(x) < win * 2 or float(np.abs(x).max(initial=0.0)) < 1e-4:
        return None
    nfr = (len(x) - win) // hop + 1
    frames = np.stack([x[i * hop : i * hop + win] for i in range(nfr)]) * np.hanning(win)
    spec = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(win, 1 / AUDIO_RATE)
    edges = np.geomspace(150, 1900, 17)
    bands = np.stack(
        [spec[:, (freqs >= lo) & (freqs < hi)].sum(axis=1) for lo, hi in itertools.pairwise(edges)],
        axis=1,
    )
    e = np.log(bands + 1e-9)
    d = np.diff(e, axis=1)  # (nfr, 15)
    bits = (d[1:] - d[:-1]) > 0  # (nfr - 1, 15)
    weights = (1 << np.arange(15)).astype(np.uint16)
    out = (bits.astype(np.uint16) * weights).sum(axis=1).astype(np.uint16)
    return np.concatenate([[0], out]).astype(np.uint16)


def decode_audio(data: bytes) -> np.ndarray | None:
    """The audio track of a video as the fingerprint's bits, or None (no or silent track)."""
    import av

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                return None
            resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
            chunks = []
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().ravel())
                if sum(len(c) for c in chunks) > AUDIO_RATE * 20:
                    break
    except (av.FFmpegError, ValueError, OSError):
        return None
    if not chunks:
        return None
    return audio_fingerprint(np.concatenate(chunks), AUDIO_RATE)


# -- matching -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchResult:
    score: float
    hash_agreement: float
    motion_correlation: float
    speed: float
    offset_seconds: float
    audio_agreement: float | None = None


def _popcount(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.bitwise_count(x).astype(np.int16)
    return out


def compare(a: Fingerprint, b: Fingerprint) -> MatchResult:
    """The best alignment of ``a`` onto ``b`` (time offset, speed, crop pair) and its score."""
    na, nb = len(a.hashes), len(b.hashes)
    none = MatchResult(0.0, 0.0, 0.0, 1.0, 0.0)
    min_overlap = max(MIN_OVERLAP_SECONDS * RATE, MIN_OVERLAP_SHARE * min(na, nb), 3)
    if min(na, nb) < min_overlap:
        return none
    ns = len(SCALES)
    # Crop pairs one step apart at most (a copy cropped ~15 % compares its full view with
    # the original's first crop, and so on).
    pairs = [(i, j) for i in range(ns) for j in range(ns) if abs(i - j) <= 1]
    dist = np.stack(
        [_popcount(a.hashes[:, i][:, None] ^ b.hashes[:, j][None, :]) for i, j in pairs]
    )  # (pairs, na, nb)
    agree = dist <= HASH_BITS_AGREE
    # Cheap rejection: most of a's samples must have an agreeing sample somewhere in b.
    if agree.any(axis=2).mean(axis=1).max() < MIN_OVERLAP_SHARE * min(1.0, nb / na):
        return none
    best = none
    ia = np.arange(na)
    offs = np.arange(-int(np.ceil(SPEEDS.max() * na)), nb)
    for speed in SPEEDS:
        jj = np.round(ia * speed).astype(int)[:, None] + offs[None, :]  # (na, offsets)
        valid = (jj >= 0) & (jj < nb)
        cnt = valid.sum(axis=0)
        use = cnt >= min_overlap
        if not use.any():
            continue
        jc = np.clip(jj[:, use], 0, nb - 1)
        v = valid[:, use]
        c = cnt[use].astype(np.float64)
        share = (agree[:, ia[:, None], jc] & v).sum(axis=1) / c  # (pairs, offsets)
        pair = share.argmax(axis=0)
        top = share[pair, np.arange(share.shape[1])]
        # Motion correlation over the aligned samples of each offset (masked sums over the
        # samples and the grid cells).
        vv = v[:, :, None]
        ma = np.where(vv, a.motion[:, None, :], 0.0)
        mb = np.where(vv, b.motion[jc], 0.0)
        cg = c * a.motion.shape[1]
        sa, sb = ma.sum(axis=(0, 2)), mb.sum(axis=(0, 2))
        cov = (ma * mb).sum(axis=(0, 2)) - sa * sb / cg
        va = (ma * ma).sum(axis=(0, 2)) - sa * sa / cg
        vb = (mb * mb).sum(axis=(0, 2)) - sb * sb / cg
        den = np.sqrt(np.maximum(va, 0) * np.maximum(vb, 0))
        r = np.where(den > 1e-9, cov / np.where(den > 1e-9, den, 1.0), 0.0)
        score = top * np.clip(r, 0.0, 1.0)
        k = int(score.argmax())
        if score[k] > best.score:
            best = MatchResult(
                float(score[k]), float(top[k]), float(r[k]), float(speed),
                float(offs[use][k]) / RATE,
            )  # fmt: skip
    if best.score > 0 and a.audio is not None and b.audio is not None:
        agreement = _audio_agreement(a.audio, b.audio, best.speed, best.offset_seconds)
        if agreement is not None:
            # Random bits agree half the time: 0.5 -> 0, 1.0 -> 1.
            weight = float(np.clip((agreement - 0.5) / 0.35, 0.0, 1.0))
            best = MatchResult(
                best.score * (0.5 + 0.5 * weight),
                best.hash_agreement,
                best.motion_correlation,
                best.speed,
                best.offset_seconds,
                agreement,
            )
    return best


def _audio_agreement(a: np.ndarray, b: np.ndarray, speed: float, offset: float) -> float | None:
    j = np.round(np.arange(len(a)) * speed + offset * RATE).astype(int)
    ok = (j >= 0) & (j < len(b))
    if ok.sum() < MIN_OVERLAP_SECONDS * RATE:
        return None
    diff = np.bitwise_count(a[ok] ^ b[j[ok]]).astype(np.float64)
    return float(1.0 - diff.mean() / 15.0)


def match(a: Fingerprint, b: Fingerprint) -> float:
    """How surely ``a`` replays ``b`` (or the reverse), in [0, 1]; ``THRESHOLD`` decides."""
    return max(compare(a, b).score, compare(b, a).score)
