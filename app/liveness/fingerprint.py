"""Replay memory: a perceptual fingerprint of a face capture, and how alike two of them are.

Pure module (numpy and OpenCV; PyAV only for the optional audio track). An attacker who holds
one recording of the victim doing the challenge may upload it again, as is, re-encoded,
cropped, rescaled or re-timed. The fingerprint keeps what survives those edits and nothing
from which the video could be rebuilt:

- ``hashes``: per sample (``RATE`` samples a second, at fixed times from the first frame), a
  64-bit DCT hash (pHash) of a 32×32 grey thumbnail of the mean of the frames in the
  sample's 1/RATE window (so frames dropped, repeated or jittering do not move it) and of 34
  crops of it (86 %
  of its side at 5×5 positions, 74 % at 3×3: ``CROPS``). 64 bits of the lowest spatial
  frequencies per view cannot be turned back into a picture of anyone; the crops let a copy
  cropped (centred or off-centre), translated or rescaled by up to ~15 % be compared where
  the two views coincide.
- ``motion``: per sample, the signed change of the mean brightness of each cell of a 4×4
  split of the frame since the previous sample (16 numbers, from every frame, interpolated
  at 9 points over two sample periods and averaged with triangle weights). It is what
  tells two honest captures apart: the same person in the same room gives alike hashes
  whenever they hold still, but not the same motion at the same moments, while a replay
  repeats its motion exactly.
- ``audio`` (optional): per audio frame (``RATE`` a second) 15 bits, the signs of the
  band-energy differences across 16 bands and time (Haitsma–Kalker), from a 4 kHz mono track.

:func:`match` searches time offsets and speeds (0.88–1.12: another frame rate, a trimmed
start or end, ±10 % speed) and the crop pairs, and returns a score in [0, 1]: the graded
hash agreement of the aligned samples times the correlation of the two motion series (with
audio, the audio bit agreement is folded in). A replay scores near 1; honest captures of the
same man in the same place scored at most 0.38 (bench/replay_eval.py, which prints every
class and the margins; testkit/replays.py says what one source clip can and cannot show).

Known limit: two captures pixel-identical but for the action (a person who holds perfectly
still, in the same light, before a camera that does not move) look like one recording to
any fingerprint that survives re-encoding.
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
# The crops hashed per sample: (side as a share of the frame, x anchor, y anchor), the
# anchor 0 = left/top, 0.5 = centred, 1 = right/bottom. A copy cropped by up to ~15 %
# anywhere shows about what one of these shows of the original, and the reverse.
_STEPS = (0.0, 0.25, 0.5, 0.75, 1.0)
CROPS: tuple[tuple[float, float, float], ...] = (
    (1.0, 0.5, 0.5),
    *((0.86, ax, ay) for ay in _STEPS for ax in _STEPS),
    *((0.74, ax, ay) for ay in _STEPS[::2] for ax in _STEPS[::2]),
)
TOP_PAIRS = 3  # crop pairs searched in time: those whose views coincide best
SMALL_SIDE = 160  # the longer side of the greys the hashes are taken from
MOTION_POINTS, MOTION_SPAN = 9, 2.0
GRID = 4  # motion: signed brightness change of each cell of a GRID x GRID split
# Hash agreement of two aligned samples, graded by how many of the 64 bits differ: full at
# HASH_BITS_SAME or fewer, none from HASH_BITS_APART. A re-encoded, cropped or re-timed copy
# differs in 0-4 bits (median, bench/replay_eval.py); another moment of the same man in the
# same car in 8-10: the same room is alike, but not as alike as the same recording.
HASH_BITS_SAME = 4
HASH_BITS_APART = 12
HASH_BITS_NEAR = 14  # the cheap pre-check: a sample has a near sample somewhere in the other
MIN_OVERLAP_SECONDS = 1.5  # shorter aligned spans say nothing
MIN_OVERLAP_SHARE = 0.5  # of the shorter capture
SPEEDS = np.round(np.arange(0.88, 1.1201, 0.02), 3)
# Scores at or above this are replays. Decided on the honest captures first (a retry after a
# failed attempt must not be refused): their highest score was 0.38 and the lowest replay's
# 0.57 (an off-centre crop of the genuine capture), bench/replay_eval.py.
THRESHOLD = 0.5


@dataclass(frozen=True)
class Fingerprint:
    hashes: np.ndarray  # (n, len(CROPS)) uint64
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


def _crop(grey: np.ndarray, side: float, ax: float, ay: float) -> np.ndarray:
    if side >= 1.0:
        return grey
    h, w = grey.shape
    ch, cw = max(8, round(h * side)), max(8, round(w * side))
    y, x = round((h - ch) * ay), round((w - cw) * ax)
    return grey[y : y + ch, x : x + cw]


def _pairs() -> list[tuple[int, int]]:
    """Crop pairs compared: a full view with any crop (either way), a crop with itself,
    and the centred crops one step apart (a copy rescaled and cropped in the middle)."""
    n = len(CROPS)
    out = {(0, j) for j in range(n)} | {(i, 0) for i in range(n)} | {(i, i) for i in range(n)}
    centred = [i for i, (_, ax, ay) in enumerate(CROPS) if ax == ay == 0.5]
    out |= {(i, j) for i, j in itertools.permutations(centred, 2)}
    # A translated copy (a few % of the frame): same-size crops one anchor step apart.
    for i, j in itertools.permutations(range(1, n), 2):
        (si, xi, yi), (sj, xj, yj) = CROPS[i], CROPS[j]
        if si == sj == 0.86 and abs(xi - xj) <= 0.25 and abs(yi - yj) <= 0.25:
            out.add((i, j))
    return sorted(out)


PAIRS = _pairs()


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
    # Each sample's hashes are of the mean of the frames in its 1/RATE window (greys at
    # SMALL_SIDE px), not of the nearest frame: a copy re-timed by dropping or repeating
    # frames, or a capture whose frames jitter between two states, then hashes the same
    # picture; the nearest frame alone gave a re-upload sped up x1.1 a score of 0.45
    # (bench/face_eval.py, test split, a render whose source frames alternate).
    h0, w0 = _grey(ordered[0].image).shape
    size = (SMALL_SIDE, max(8, round(SMALL_SIDE * h0 / w0))) if w0 >= h0 else (
        max(8, round(SMALL_SIDE * w0 / h0)), SMALL_SIDE)  # fmt: skip
    small = [
        cv2.resize(_grey(f.image), size, interpolation=cv2.INTER_AREA).astype(np.float32)
        for f in ordered
    ]
    hashes = np.zeros((n, len(CROPS)), np.uint64)
    half = 0.5 / RATE
    for k, tw in enumerate(want):
        sel = np.flatnonzero(np.abs(times - tw) <= half + 1e-6)
        if sel.size == 0:
            sel = np.array([pick[k]])
        mean = np.mean([small[i] for i in sel], axis=0)
        hashes[k] = [_phash(_crop(mean, *crop)) for crop in CROPS]
    # Motion from every frame's cell means, interpolated at the sample times: a copy at
    # another frame rate then samples the same motion, not the nearest frames' jitter.
    g2 = GRID * GRID
    every = np.stack(
        [cv2.resize(g, (GRID, GRID), interpolation=cv2.INTER_AREA).ravel() for g in small]
    )  # (frames, cells)
    # Each sample averages MOTION_POINTS points over MOTION_SPAN sample periods (a
    # triangle), which smooths the jumps of a copy re-timed by dropping or repeating frames.
    pts = np.linspace(-0.5, 0.5, MOTION_POINTS) * MOTION_SPAN / RATE
    wts = 1.0 - np.abs(np.linspace(-1.0, 1.0, MOTION_POINTS + 2)[1:-1])
    sub = (want[:, None] + pts[None, :]).ravel()
    cells = np.stack([np.interp(sub, times, every[:, c]) for c in range(g2)], axis=1)
    cells = (cells.reshape(n, MOTION_POINTS, g2) * wts[None, :, None]).sum(axis=1) / wts.sum()
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
    import av  # lazy: PyAV (FFmpeg) is loaded only when a video arrives

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


def _similarity(bits_apart: np.ndarray) -> np.ndarray:
    """1 at HASH_BITS_SAME bits apart or fewer, 0 from HASH_BITS_APART, linear between."""
    d = bits_apart.astype(np.float32)
    out: np.ndarray = np.clip((HASH_BITS_APART - d) / (HASH_BITS_APART - HASH_BITS_SAME), 0, 1)
    return out


def compare(a: Fingerprint, b: Fingerprint) -> MatchResult:
    """The best alignment of ``a`` onto ``b`` (time offset, speed, crop pair) and its score."""
    na, nb = len(a.hashes), len(b.hashes)
    none = MatchResult(0.0, 0.0, 0.0, 1.0, 0.0)
    min_overlap = max(MIN_OVERLAP_SECONDS * RATE, MIN_OVERLAP_SHARE * min(na, nb), 3)
    if min(na, nb) < min_overlap:
        return none
    if a.hashes.shape[1] != len(CROPS) or b.hashes.shape[1] != len(CROPS):
        return none  # made with other crops: not comparable
    # For each crop pair, each of a's samples' nearest sample anywhere in b (bits apart).
    ha, hb = a.hashes[:, :, None], b.hashes.T[None, :, :]  # (na, crops, 1), (1, crops, nb)
    nearest = np.empty((len(PAIRS), na), np.uint8)
    for k, (i, j) in enumerate(PAIRS):
        nearest[k] = np.bitwise_count(ha[:, i] ^ hb[:, j]).min(axis=1)
    # Cheap rejection: most of a's samples must have a near sample somewhere in b; then
    # only the crop pairs whose views coincide best are searched in time.
    if (nearest <= HASH_BITS_NEAR).mean(axis=1).max() < MIN_OVERLAP_SHARE * min(1.0, nb / na):
        return none
    fit = _similarity(nearest).mean(axis=1)
    chosen = [PAIRS[k] for k in np.argsort(-fit)[:TOP_PAIRS]]
    agree = np.stack([_similarity(np.bitwise_count(ha[:, i] ^ hb[:, j])) for i, j in chosen])
    # Coarse to fine: every offset at every third speed, then the speeds around the best
    # one at offsets near its best offset.
    full = np.arange(-int(np.ceil(SPEEDS.max() * na)), nb)
    best = none
    for speed in SPEEDS[::3]:
        best = max(best, _scan(a, b, agree, float(speed), full, min_overlap), key=_score)
    if best.score > 0:
        near = np.arange(-6, 7) + round(best.offset_seconds * RATE)
        for speed in SPEEDS[np.abs(SPEEDS - best.speed) <= 0.041]:
            best = max(best, _scan(a, b, agree, float(speed), near, min_overlap), key=_score)
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


def _score(m: MatchResult) -> float:
    return m.score


def _scan(
    a: Fingerprint, b: Fingerprint, agree: np.ndarray, speed: float, offs: np.ndarray,
    min_overlap: float,
) -> MatchResult:  # fmt: skip
    """The best offset among ``offs`` (in samples) at one speed."""
    na, nb = len(a.hashes), len(b.hashes)
    ia = np.arange(na)
    jj = np.round(ia * speed).astype(int)[:, None] + offs[None, :]  # (na, offsets)
    valid = (jj >= 0) & (jj < nb)
    cnt = valid.sum(axis=0)
    use = cnt >= min_overlap
    if not use.any():
        return MatchResult(0.0, 0.0, 0.0, speed, 0.0)
    jc = np.clip(jj[:, use], 0, nb - 1)
    v = valid[:, use]
    c = cnt[use].astype(np.float64)
    share = (agree[:, ia[:, None], jc] * v).sum(axis=1) / c  # (pairs, offsets)
    top = share.max(axis=0)
    # The motion is only worth correlating where the hashes agree best.
    keep = np.argsort(-top)[:24]
    top, jc, v, c = top[keep], jc[:, keep], v[:, keep], c[keep]
    offs = offs[use][keep]
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
    return MatchResult(float(score[k]), float(top[k]), float(r[k]), speed, float(offs[k]) / RATE)


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
