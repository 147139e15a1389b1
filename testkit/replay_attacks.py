"""LABELLED-SYNTHETIC screen-replay attacks and hand-held genuine captures (tests, bench).

Everything here starts from real footage and says what it simulates. The attacks are built
the way an outside tester beat the parallax + moiré checks: the project's own genuine
capture (:mod:`testkit.genuine`, the real carphone man on a white wall) played on a high-DPI
phone and filmed by the capturing phone.

- :func:`bezel_replay`: the recording on a phone screen occupying part of the camera view,
  in front of a real room. The room is a real photo (tests/data/face/t1.jpg, insightface:
  the table in its lower quarter, no face in it; or the car interior of the carphone clip
  with the man in-painted away), blurred as an out-of-focus background. The phone: black
  bezel with rounded corners; the hand's wobble as a small smooth 3-D rotation/translation
  of the phone plane (a homography per frame); the screen's colour rendering (white point
  of 7000–9000 K against the camera's daylight balance, lifted blacks, a compressed dynamic
  range, a gamma change); the sub-pixel pitch far below a camera pixel, so the lens
  averages it away (no moiré: the pixel grid is rendered as its area average, plus optical
  blur); optional rolling-shutter refresh banding (rows brighter and darker, drifting from
  frame to frame); sensor noise; and a phone-like H.264 re-encode.
- :func:`fullframe_replay`: the same with the screen filling the whole view (no bezel, no
  room): only the colour, banding and the whole-frame planar wobble remain.
- (The moiré replay of a low-DPI screen stays :func:`testkit.faces.screen_replay`.)
- :func:`genuine_capture`: GENUINE variants a detector must not refuse: the carphone man
  (real face, real blinks; head shake rendered from his own mesh as in
  :func:`testkit.faces.genuine_clip`) in front of a wall of chosen brightness and warmth with
  a lighting gradient, a warm or cool camera white balance, filmed hand-held (the whole frame
  shakes by the camera's small rotations), or in front of a textured background (the car he
  was really filmed in).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import av
import cv2
import numpy as np

from app.liveness import FaceAnalyzer
from testkit.faces import own_yaw, person_mask, turn_head, yaw_profile
from testkit.genuine import BLINK_FRAMES, CLIP, _source

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "face"
FPS = 30.0


# -- colour ------------------------------------------------------------------------------
def kelvin_bgr(kelvin: float) -> np.ndarray:
    """Relative BGR of a black body at ``kelvin`` (Tanner Helland's fit), 6500 K = (1, 1, 1)."""

    def rgb(k: float) -> np.ndarray:
        t = k / 100.0
        r = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
        g = (
            99.4708025861 * math.log(t) - 161.1195681661
            if t <= 66
            else 288.1221695283 * (t - 60) ** -0.0755148492
        )
        b = (
            255.0
            if t >= 66
            else (0.0 if t <= 19 else 138.5177312231 * math.log(t - 10) - 305.0447927307)
        )
        return np.asarray(np.clip(np.array([b, g, r]), 1.0, 255.0))

    v = rgb(kelvin) / rgb(6500.0)
    out: np.ndarray = v / v[1]  # keep green (≈ luminance) fixed
    return out


def _to_lin(img: np.ndarray) -> np.ndarray:
    out: np.ndarray = (img.astype(np.float32) / 255.0) ** 2.2
    return out


def _to_8bit(lin: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.clip(np.clip(lin, 0, 1) ** (1 / 2.2) * 255.0, 0, 255)
    return out


def white_balance(img: np.ndarray, kelvin_shift: float) -> np.ndarray:
    """The camera's white balance off by ``kelvin_shift`` (positive: the picture cooler/bluer)."""
    g = kelvin_bgr(6500.0 + kelvin_shift)
    out: np.ndarray = _to_8bit(_to_lin(img) * g.astype(np.float32)).astype(np.uint8)
    return out


# -- parameters --------------------------------------------------------------------------
@dataclass(frozen=True)
class ScreenStyle:
    """How the phone shows the recording and how the camera films it (render parameters)."""

    size: tuple[int, int] = (640, 480)  # camera frame (w, h)
    screen_frac: float = 0.7  # screen width / camera frame width (bezel replay)
    bezel_frac: float = 0.05  # bezel width / screen width
    corner_frac: float = 0.08  # corner radius / screen width
    bezel_level: float = 14.0  # the black glass of the bezel in camera 8-bit
    offset: tuple[float, float] = (0.0, 0.0)  # phone centre offset / frame size
    wobble_deg: float = 2.5  # hand wobble: rotation amplitude (yaw/pitch/roll), degrees
    wobble_shift: float = 0.012  # hand wobble: translation amplitude / frame width
    camera_shake_deg: float = 0.0  # the filming phone's own shake (moves the room too)
    white_kelvin: float = 8000.0  # the screen's white point (camera balanced for 6500 K)
    black_lift: float = 24.0  # the screen's black in camera 8-bit (reflections, backlight)
    peak: float = 238.0  # the screen's white in camera 8-bit
    gamma: float = 1.1  # the screen's tone curve relative to the recording's
    banding: float = 0.0  # rolling-shutter refresh banding: relative amplitude (0: none)
    band_period: float = 40.0  # rows per band on the camera sensor
    noise: float = 2.0  # sensor noise (8-bit std)
    blur: float = 0.7  # optics (pixels)
    crf: int = 26  # the capturing phone's H.264 quality
    room: str = "table"  # "table" (t1.jpg) or "car" (the carphone interior)
    fps: float = FPS  # frame rate of the content given (lower when it is a sub-sample)


@dataclass(frozen=True)
class GenuineStyle:
    """How a genuine capture is lit and filmed (render parameters)."""

    wall_bgr: tuple[float, float, float] = (242.0, 242.0, 242.0)
    wall_gradient: float = 0.0  # brightness falloff across the wall (relative)
    background: str = "wall"  # "wall" or "car" (the clip's own car interior, textured)
    wb_shift: float = 0.0  # camera white balance error in kelvin (+: cooler picture)
    exposure: float = 1.0  # linear exposure gain
    shake_deg: float = 0.0  # hand-held: camera rotation amplitude, degrees
    shake_shift: float = 0.0  # hand-held: translation amplitude / frame width
    noise: float = 1.5
    crf: int = 23
    fps: float = FPS  # of the frames rendered (lower when only some are asked for)


# -- motion ------------------------------------------------------------------------------
def _tremor(n: int, rng: np.random.Generator, amplitude: float, fps: float = FPS) -> np.ndarray:
    """A smooth hand tremor: a few sinusoids at 0.4–3 Hz with random phases, peak ~amplitude."""
    t = np.arange(n) / fps
    out = np.zeros(n)
    for f in (0.4, 1.1, 2.3, 3.1):
        out += rng.uniform(0.4, 1.0) * np.sin(
            2 * np.pi * f * rng.uniform(0.8, 1.25) * t + rng.uniform(0, 2 * np.pi)
        )
    peak = float(np.max(np.abs(out))) or 1.0
    return amplitude * out / peak


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    a, b, c = (math.radians(v) for v in (yaw, pitch, roll))
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    out: np.ndarray = rz @ rx @ ry
    return out


def _camera(w: int, h: int) -> np.ndarray:
    f = 1.1 * max(w, h)
    return np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1.0]])


def plane_to_camera(
    pw: int,
    ph: int,
    w: int,
    h: int,
    scale: float,
    centre: tuple[float, float],
    rot: tuple[float, float, float],
    shift: tuple[float, float],
) -> np.ndarray:
    """Homography from a pw×ph picture on a plane (shown ``scale`` camera px per picture px
    when facing the camera, centred at ``centre``) rotated by ``rot`` to the camera frame."""
    k = _camera(w, h)
    f = k[0, 0]
    r = _rotation(*rot)
    src = np.array([[0, 0], [pw, 0], [0, ph], [pw, ph]], dtype=np.float64)
    p3 = np.column_stack([(src[:, 0] - pw / 2) * scale, (src[:, 1] - ph / 2) * scale, np.zeros(4)])
    off = np.array([centre[0] - w / 2 + shift[0] * w, centre[1] - h / 2 + shift[1] * w, f])
    cam = p3 @ r.T + off
    proj = cam @ k.T
    dst = proj[:, :2] / proj[:, 2:3]
    hom: np.ndarray = cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32))
    return hom


def camera_shake(
    w: int, h: int, rot: tuple[float, float, float], shift: tuple[float, float]
) -> np.ndarray:
    """Homography of the camera's own small rotation (and a shift) for a distant scene."""
    k = _camera(w, h)
    hom = k @ _rotation(*rot) @ np.linalg.inv(k)
    t = np.array([[1, 0, shift[0] * w], [0, 1, shift[1] * w], [0, 0, 1.0]])
    out: np.ndarray = t @ hom
    return np.asarray(out / out[2, 2])


# -- real backgrounds --------------------------------------------------------------------
@cache
def _room_photo(kind: str) -> np.ndarray:
    if kind == "table":
        img = cv2.imread(str(DATA / "t1.jpg"))
        assert img is not None
        h = img.shape[0]
        return img[int(0.8 * h) :, :].copy()  # the poker table: chips, glasses, no face
    if kind == "car":
        from app.liveness import decode_video

        frame = decode_video(CLIP.read_bytes(), max_frames=1)[0].image
        h, w = frame.shape[:2]
        # The car interior beside the man: his right-hand side of the frame is window and
        # door; his silhouette region is in-painted away (left third and right strip kept).
        hole = np.zeros((h, w), np.uint8)
        cv2.ellipse(
            hole, (int(0.47 * w), int(0.35 * h)), (int(0.2 * w), int(0.35 * h)), 0, 0, 360, 255, -1
        )
        cv2.rectangle(hole, (int(0.18 * w), int(0.55 * h)), (int(0.82 * w), h), 255, -1)
        out: np.ndarray = cv2.inpaint(frame, hole, 7, cv2.INPAINT_TELEA)
        return out
    raise ValueError(kind)


def room(kind: str, w: int, h: int, blur: float = 3.0) -> np.ndarray:
    """A real room photo filling w×h, out of focus (the camera focuses on the phone)."""
    photo = _room_photo(kind)
    ph, pw = photo.shape[:2]
    s = max(w / pw, h / ph)
    big = cv2.resize(
        photo, (math.ceil(pw * s) + 1, math.ceil(ph * s) + 1), interpolation=cv2.INTER_AREA
    )
    y0, x0 = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
    out: np.ndarray = cv2.GaussianBlur(big[y0 : y0 + h, x0 : x0 + w], (0, 0), blur)
    return out


# -- the screen ---------------------------------------------------------------------------
def screen_colour(img: np.ndarray, style: ScreenStyle) -> np.ndarray:
    """The recording as the screen emits it, in camera 8-bit (float32)."""
    lin = _to_lin(img) ** style.gamma
    white = ((style.peak / 255.0) ** 2.2) * kelvin_bgr(style.white_kelvin)
    black = ((style.black_lift / 255.0) ** 2.2) * kelvin_bgr(style.white_kelvin + 2000.0)
    out: np.ndarray = _to_8bit(black + (white - black) * lin)
    return out.astype(np.float32)


def _phone(content: np.ndarray, style: ScreenStyle, bezel: bool) -> tuple[np.ndarray, np.ndarray]:
    """The phone face: screen content inside a black rounded bezel, and its mask."""
    ch, cw = content.shape[:2]
    b = round(style.bezel_frac * cw) if bezel else 0
    ph, pw = ch + 2 * b, cw + 2 * b
    img = np.full((ph, pw, 3), style.bezel_level, np.float32)
    # The black glass shows a faint sheen toward one corner.
    yy, xx = np.mgrid[0:ph, 0:pw].astype(np.float32)
    img += (6.0 * (xx / pw + yy / ph))[..., None]
    img[b : b + ch, b : b + cw] = content
    mask = np.zeros((ph, pw), np.float32)
    if bezel:
        r = max(2, int(style.corner_frac * pw))
        cv2.rectangle(mask, (r, 0), (pw - 1 - r, ph - 1), 1.0, -1)
        cv2.rectangle(mask, (0, r), (pw - 1, ph - 1 - r), 1.0, -1)
        for cx, cy in ((r, r), (pw - 1 - r, r), (r, ph - 1 - r), (pw - 1 - r, ph - 1 - r)):
            cv2.circle(mask, (cx, cy), r, 1.0, -1, lineType=cv2.LINE_AA)
    else:
        mask[:] = 1.0
    return img, mask


def _finish(
    lin_img: np.ndarray,
    screen_mask: np.ndarray,
    i: int,
    style: ScreenStyle,
    rng: np.random.Generator,
    phase: float,
) -> np.ndarray:
    out = cv2.GaussianBlur(lin_img, (0, 0), style.blur) if style.blur > 0 else lin_img
    if style.banding > 0:
        h = out.shape[0]
        rows = np.arange(h, dtype=np.float32)
        drift = phase + 0.37 * i  # the refresh and the readout are not locked: bands crawl
        band = 1.0 + style.banding * np.sin(2 * np.pi * (rows / style.band_period + drift))
        gain = 1.0 + (band[:, None] - 1.0) * screen_mask
        out = out * gain[..., None]
    out = out + rng.normal(0, style.noise, out.shape).astype(np.float32)
    res: np.ndarray = np.clip(out, 0, 255).astype(np.uint8)
    return res


def bezel_replay(content: list[np.ndarray], style: ScreenStyle, seed: int = 0) -> list[np.ndarray]:
    """``content`` (a recording, BGR) played on a phone held in front of a room and filmed."""
    return _replay(content, style, seed, bezel=True)


def fullframe_replay(
    content: list[np.ndarray], style: ScreenStyle, seed: int = 0
) -> list[np.ndarray]:
    """``content`` played on a screen that fills the whole camera view (no bezel)."""
    return _replay(content, style, seed, bezel=False)


def _replay(
    content: list[np.ndarray], style: ScreenStyle, seed: int, *, bezel: bool
) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    w, h = style.size
    n = len(content)
    ch, cw = content[0].shape[:2]
    if bezel:
        scale = style.screen_frac * w / cw
        backdrop = room(style.room, int(w * 1.2), int(h * 1.2))
    else:
        # Large enough that the wobble never shows the screen's edge.
        scale = 1.1 * max(w / cw, h / ch)
        backdrop = np.zeros((int(h * 1.2), int(w * 1.2), 3), np.uint8)
    tremor = [_tremor(n, rng, style.wobble_deg, style.fps) for _ in range(3)]
    sway = [_tremor(n, rng, style.wobble_shift, style.fps) for _ in range(2)]
    shake = [_tremor(n, rng, style.camera_shake_deg, style.fps) for _ in range(3)]
    phase = float(rng.uniform(0, 1))
    centre = (w / 2 + style.offset[0] * w, h / 2 + style.offset[1] * h)
    bh, bw = backdrop.shape[:2]
    to_frame = np.array([[1, 0, -(bw - w) / 2], [0, 1, -(bh - h) / 2], [0, 0, 1.0]])
    out = []
    for i, img in enumerate(content):
        phone, mask = _phone(screen_colour(img, style), style, bezel)
        ph, pw = phone.shape[:2]
        cam = camera_shake(w, h, (shake[0][i], shake[1][i], 0.5 * shake[2][i]), (0.0, 0.0))
        # The phone: centred on the screen area (the bezel is part of the phone plane).
        hom = plane_to_camera(
            pw,
            ph,
            w,
            h,
            scale,
            centre,
            (tremor[0][i], tremor[1][i], 0.6 * tremor[2][i]),
            (sway[0][i], sway[1][i]),
        )
        hom = cam @ hom
        frame = cv2.warpPerspective(
            backdrop.astype(np.float32),
            cam @ to_frame,
            (w, h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
        ph_img = cv2.warpPerspective(
            phone, hom, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        a = cv2.warpPerspective(
            mask, hom, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        b = round(style.bezel_frac * cw) if bezel else 0
        scr = np.zeros((ph, pw), np.float32)
        scr[b : ph - b, b : pw - b] = 1.0
        s_mask = cv2.warpPerspective(scr, hom, (w, h), flags=cv2.INTER_LINEAR)
        frame = frame * (1 - a[..., None]) + ph_img * a[..., None]
        out.append(_finish(frame, s_mask, i, style, rng, phase))
    return h264_roundtrip(out, style.crf)


# -- video -------------------------------------------------------------------------------
def encode_mp4(images: list[np.ndarray], crf: int = 23, fps: int = 30) -> bytes:
    """H.264 (yuv420p) mp4 of ``images`` at the given quality (a phone's encoder)."""
    buf = io.BytesIO()
    h, w = images[0].shape[:2]
    with av.open(buf, mode="w", format="mp4") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
        st.options = {"crf": str(crf), "preset": "veryfast"}
        for img in images:
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(img[: h - h % 2, : w - w % 2]), format="bgr24"
            )
            for pkt in st.encode(frame):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return buf.getvalue()


def decode_mp4(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data), mode="r") as f:
        return [fr.to_ndarray(format="bgr24") for fr in f.decode(video=0)]


def h264_roundtrip(images: list[np.ndarray], crf: int) -> list[np.ndarray]:
    """``images`` as they come out of a phone's H.264 encoder at ``crf``."""
    return decode_mp4(encode_mp4(images, crf))


# -- genuine -----------------------------------------------------------------------------
@cache
def _masks(analyzer: FaceAnalyzer, every: int = 3) -> dict[int, np.ndarray]:
    images, meshes = _source(analyzer)
    return {
        k: person_mask(images[k], meshes[k], iterations=2) for k in range(0, len(images), every)
    }


def _wall(w: int, h: int, style: GenuineStyle) -> np.ndarray:
    if style.background == "car":
        return room("car", w, h, blur=0.6).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # Light from one side and above: a smooth falloff across the wall.
    fall = 1.0 - style.wall_gradient * (0.6 * xx / w + 0.4 * yy / h)
    out: np.ndarray = fall[..., None] * np.array(style.wall_bgr, np.float32)
    return out


def genuine_frames(
    analyzer: FaceAnalyzer,
    actions: tuple[str, ...],
    amplitude: float = 30.0,
    style: GenuineStyle | None = None,
    seed: int = 0,
    scale: float = 2.0,
    frames: list[int] | None = None,
) -> list[np.ndarray]:
    """The carphone man doing ``actions`` (as :func:`testkit.faces.genuine_clip`), lit and
    filmed as ``style`` says; frames as the phone's H.264 encoder leaves them. ``frames``:
    only these source frame indices (pass ``style.fps`` to match their spacing)."""
    style = style or GenuineStyle()
    rng = np.random.default_rng(seed)
    images, meshes = _source(analyzer)
    masks = _masks(analyzer)
    n = len(images)
    first, last = min(BLINK_FRAMES), max(BLINK_FRAMES)
    if actions and actions[0] == "shake_head":
        start, end = 0.05, (last - 6) / n
    else:
        start, end = (first + 4) / n, 0.97
    target = yaw_profile(n, amplitude, start, end)
    own = own_yaw(meshes)
    h0, w0 = images[0].shape[:2]
    wall = _wall(w0, h0, style)
    w, h = int(w0 * scale), int(h0 * scale)
    keep = list(range(n)) if frames is None else list(frames)
    shake = [_tremor(len(keep), rng, style.shake_deg, style.fps) for _ in range(3)]
    sway = [_tremor(len(keep), rng, style.shake_shift, style.fps) for _ in range(2)]
    out = []
    for j, i in enumerate(keep):
        img, mesh = images[i], meshes[i]
        k = i - i % 3
        shift = mesh[:, :2].mean(axis=0) - meshes[k][:, :2].mean(axis=0)
        move = np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]]])
        m = cv2.warpAffine(masks[k], move, (w0, h0))[..., None]
        comp = np.clip(img.astype(np.float32) * m + wall * (1.0 - m), 0, 255).astype(np.uint8)
        big = cv2.resize(comp, (w, h), interpolation=cv2.INTER_CUBIC)
        yaw = float(target[i] - own[i]) if target[i] != 0.0 else 0.0
        frame = turn_head(big, mesh * scale, yaw) if abs(yaw) > 0.05 else big
        if style.shake_deg > 0 or style.shake_shift > 0:
            # Hand-held: the camera turns a little; zoom 6 % so no border shows.
            zoom = np.array([[1.06, 0, -0.03 * w], [0, 1.06, -0.03 * h], [0, 0, 1.0]])
            hom = camera_shake(
                w, h, (shake[0][j], shake[1][j], 0.5 * shake[2][j]), (sway[0][j], sway[1][j])
            )
            frame = cv2.warpPerspective(
                frame, hom @ zoom, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
            )
        lin = (
            _to_lin(frame) * style.exposure * kelvin_bgr(6500.0 + style.wb_shift).astype(np.float32)
        )
        f8 = _to_8bit(lin) + rng.normal(0, style.noise, frame.shape)
        out.append(np.clip(f8, 0, 255).astype(np.uint8))
    return h264_roundtrip(out, style.crf)


def recording(
    analyzer: FaceAnalyzer, actions: tuple[str, ...], amplitude: float = 30.0
) -> list[np.ndarray]:
    """The project's own genuine capture (testkit.genuine.genuine_video) as decoded frames:
    what the outside tester replayed."""
    from testkit.genuine import genuine_video

    return decode_mp4(genuine_video(analyzer, actions, amplitude))


__all__ = [
    "GenuineStyle",
    "ScreenStyle",
    "bezel_replay",
    "encode_mp4",
    "fullframe_replay",
    "genuine_frames",
    "h264_roundtrip",
    "kelvin_bgr",
    "recording",
    "room",
    "white_balance",
]
