"""Labelled-synthetic evaluation data built from real footage (tests and bench only).

Nothing here runs in the API. Every builder starts from a real image or video frame and
says what it simulates:

- :func:`turn_head`: a real face re-rendered with its own 3-D mesh rotated about the
  vertical axis (piecewise-affine warp of the mesh triangles, drawn back to front), so that
  genuine head shakes beyond the ±12° of the carphone clip exist.
- :func:`print_attack`: a real photo held as a print and turned by hand: the whole image
  moves through the planar homographies of a rotating plane.
- :func:`screen_replay`: real frames shown on an RGB-stripe screen and re-filmed: sub-pixel
  grid, optical blur, slight rotation, resampling (moiré).
- :func:`swap_face`: another real person's face warped onto the mesh of a video frame
  (a face swap from some frame on).
- :func:`white_background`: the real person cut out (GrabCut seeded by a head-and-shoulders
  shape around the face mesh) and put in front of a white wall.
- :func:`genuine_clip`: a real clip with a white background and a rendered head shake
  placed before or after its real blinks, in the order a challenge asks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from app.liveness.landmarks import yaw_degrees, yaw_from_template

_RING = 24  # anchor points around the face that stay still (hair, neck, background)


def _triangles(points: np.ndarray, w: int, h: int) -> np.ndarray:
    """Delaunay triangles of ``points`` as index triples."""
    sub = cv2.Subdiv2D((-w, -h, 3 * w, 3 * h))
    pts = [(float(x), float(y)) for x, y in points]
    sub.insert(pts)
    # Subdiv2D hands back the inserted coordinates as float32: look the vertices up exactly
    # (the virtual outer vertices it adds are not found and their triangles are dropped).
    index: dict[tuple[float, float], int] = {}
    for i, (x, y) in enumerate(np.asarray(points, dtype=np.float32).tolist()):
        index.setdefault((x, y), i)
    tri = np.asarray(sub.getTriangleList(), dtype=np.float32).reshape(-1, 3, 2).tolist()
    out = []
    for t in tri:
        idx = [index.get((x, y), -1) for x, y in t]
        if min(idx) >= 0 and len(set(idx)) == 3:
            out.append(idx)
    return np.array(out, dtype=np.int64).reshape(-1, 3)


def _anchors(mesh: np.ndarray, w: int, h: int) -> np.ndarray:
    lo, hi = mesh[:, :2].min(axis=0), mesh[:, :2].max(axis=0)
    c, r = (lo + hi) / 2, (hi - lo) / 2
    ang = np.linspace(0, 2 * np.pi, _RING, endpoint=False)
    ring = c + np.column_stack([np.cos(ang) * r[0] * 1.7, np.sin(ang) * r[1] * 1.5])
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], dtype=np.float64)
    return np.concatenate([ring, corners])


def _warp_triangles(
    src_img: np.ndarray,
    dst_img: np.ndarray,
    src_pts: np.ndarray,
    dst_pts: np.ndarray,
    tris: np.ndarray,
    order: np.ndarray,
) -> None:
    h, w = dst_img.shape[:2]
    for k in order:
        s = src_pts[tris[k]].astype(np.float32)
        d = dst_pts[tris[k]].astype(np.float32)
        x, y, bw, bh = cv2.boundingRect(d)
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + bw, w), min(y + bh, h)
        if x1 <= x0 or y1 <= y0:
            continue
        m = cv2.getAffineTransform(s, d - np.array([x0, y0], dtype=np.float32))
        patch = cv2.warpAffine(
            src_img,
            m,
            (x1 - x0, y1 - y0),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
        mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
        cv2.fillConvexPoly(mask, np.round(d - [x0, y0]).astype(np.int32), 255, lineType=cv2.LINE_8)
        roi = dst_img[y0:y1, x0:x1]
        roi[mask > 0] = patch[mask > 0]


def turned_mesh(mesh: np.ndarray, yaw_deg: float) -> np.ndarray:
    """``mesh`` (468, 3) rotated by ``yaw_deg`` about a vertical axis behind the face."""
    mesh = mesh.astype(np.float64)
    fw = float(np.ptp(mesh[:, 0]))
    cx = float(mesh[:, 0].mean())
    cz = float(mesh[:, 2].mean()) + 0.45 * fw
    th = math.radians(yaw_deg)
    c, s = math.cos(th), math.sin(th)
    x, z = mesh[:, 0] - cx, mesh[:, 2] - cz
    new = mesh.copy()
    new[:, 0] = cx + x * c - z * s
    new[:, 2] = cz + x * s + z * c
    return new


def turn_head(image: np.ndarray, mesh: np.ndarray, yaw_deg: float) -> np.ndarray:
    """Re-render ``image`` with the face (mesh (468, 3), image pixels) turned by ``yaw_deg``.

    Positive turns the nose to image right (the sign of :func:`landmarks.yaw_degrees`).
    The head rotates about a vertical axis behind the face (a neck), so the face also
    shifts a little, as it does for a real person.
    """
    h, w = image.shape[:2]
    mesh = mesh.astype(np.float64)
    fw = float(np.ptp(mesh[:, 0]))
    new = turned_mesh(mesh, yaw_deg)
    anchors = _anchors(mesh, w, h)
    src = np.concatenate([mesh[:, :2], anchors])
    dst = np.concatenate([new[:, :2], anchors])
    tris = _triangles(src, w, h)
    depth = np.concatenate([new[:, 2], np.full(len(anchors), new[:, 2].max() + fw)])
    order = np.argsort(-depth[tris].mean(axis=1))  # far first
    out = image.copy()
    _warp_triangles(image, out, src, dst, tris, order)
    return out


def yaw_profile(n: int, amplitude: float, start: float = 0.1, end: float = 0.8) -> np.ndarray:
    """Yaw per frame: still, then one full shake (+A, -A, back to 0), then still."""
    out = np.zeros(n)
    a, b = int(start * n), int(end * n)
    if b > a:
        ph = np.linspace(0, 1, b - a)
        out[a:b] = amplitude * np.sin(2 * np.pi * ph)
    return out


def plane_homography(
    w: int,
    h: int,
    yaw_deg: float,
    pitch_deg: float = 0.0,
    shift: tuple[float, float] = (0.0, 0.0),
    scale: float = 1.0,
) -> np.ndarray:
    """Homography of a w×h picture on a plane rotated in front of a pinhole camera."""
    f = 1.2 * max(w, h)
    ry, rx = math.radians(yaw_deg), math.radians(pitch_deg)
    rot_y = np.array([[math.cos(ry), 0, math.sin(ry)], [0, 1, 0], [-math.sin(ry), 0, math.cos(ry)]])
    rot_x = np.array([[1, 0, 0], [0, math.cos(rx), -math.sin(rx)], [0, math.sin(rx), math.cos(rx)]])
    r = rot_x @ rot_y
    k = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]])
    # Plane at depth f (so it fills the view at scale 1), points centred on the optical axis.
    src = np.array([[0, 0], [w, 0], [0, h], [w, h]], dtype=np.float64)
    p3 = np.column_stack([(src[:, 0] - w / 2) * scale, (src[:, 1] - h / 2) * scale, np.zeros(4)])
    cam = p3 @ r.T + np.array([shift[0] * w, shift[1] * h, f])
    proj = cam @ k.T
    dst = proj[:, :2] / proj[:, 2:3]
    hom: np.ndarray = cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32))
    return hom


def print_attack(
    photo: np.ndarray, n: int, amplitude: float, *, pitch: float = 0.0, seed: int = 0
) -> list[np.ndarray]:
    """A print of ``photo`` turned left and right by hand (±amplitude degrees), hand jitter."""
    rng = np.random.default_rng(seed)
    h, w = photo.shape[:2]
    yaws = yaw_profile(n, amplitude, 0.05, 0.95)
    out = []
    for i, y in enumerate(yaws):
        hom = plane_homography(
            w, h, y, pitch * math.sin(i / 7.0), (rng.normal(0, 0.004), rng.normal(0, 0.004)), 0.95
        )
        img = cv2.warpPerspective(
            photo,
            hom,
            (w, h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(40, 40, 40),
        )
        noise = rng.normal(0, 2.0, img.shape)
        out.append(np.clip(img.astype(np.float64) + noise, 0, 255).astype(np.uint8))
    return out


def screen_replay(
    frames: list[np.ndarray],
    *,
    out_size: tuple[int, int] | None = None,
    pitch: float = 1.6,
    angle: float = 2.0,
    seed: int = 0,
) -> list[np.ndarray]:
    """Frames shown full-screen on an RGB-stripe display and filmed by a phone.

    ``pitch`` is the number of screen pixels per camera pixel (1.2–2.5 is typical of a
    phone filming a phone or monitor at arm's length): the sub-pixel grid aliases into
    moiré when resampled to the camera's pixels.
    """
    rng = np.random.default_rng(seed)
    h0, w0 = frames[0].shape[:2]
    ow, oh = out_size or (w0, h0)
    sw, sh = int(ow * pitch), int(oh * pitch)
    # Each screen pixel: three vertical sub-pixel stripes R, G, B and a dark gap row.
    sub = np.zeros((3, 3, 3), dtype=np.float32)
    sub[:2, 0, 2] = 1.0  # BGR order: column 0 red
    sub[:2, 1, 1] = 1.0
    sub[:2, 2, 0] = 1.0
    mask = np.tile(sub, (sh, sw, 1))
    rot = np.asarray(cv2.getRotationMatrix2D((sw * 3 / 2, sh * 3 / 2), angle, 1.0), np.float64)
    rot = rot / (3 * pitch)  # screen sub-pixel grid -> camera pixels
    out = []
    for f in frames:
        screen = cv2.resize(f, (sw, sh), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        lit: np.ndarray = np.repeat(np.repeat(screen, 3, axis=0), 3, axis=1) * mask * 4.5
        lit = np.asarray(cv2.GaussianBlur(lit, (0, 0), 0.8))
        cam = cv2.warpAffine(
            lit, rot, (ow, oh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        cam = cam + rng.normal(0, 2.0, cam.shape)
        out.append(np.clip(cam, 0, 255).astype(np.uint8))
    return out


def swap_face(
    target: np.ndarray, target_mesh: np.ndarray, source: np.ndarray, source_mesh: np.ndarray
) -> np.ndarray:
    """Paste ``source``'s face onto ``target`` at ``target_mesh`` (feathered, colour-matched)."""
    h, w = target.shape[:2]
    tris = _triangles(target_mesh[:, :2], w, h)
    warped = target.copy()
    order = np.arange(len(tris))
    _warp_triangles(source, warped, source_mesh[:, :2], target_mesh[:, :2], tris, order)
    hull = cv2.convexHull(np.round(target_mesh[:, :2]).astype(np.int32))
    mask: np.ndarray = np.zeros((h, w), dtype=np.float32)
    cv2.fillConvexPoly(mask, hull, 1.0)
    k = max(3, int(np.ptp(target_mesh[:, 0]) * 0.08) | 1)
    mask = cv2.GaussianBlur(cv2.erode(mask, np.ones((k, k))), (k, k), 0)[..., None]
    # Match the pasted face's mean colour to the target face (lighting).
    inner = mask[..., 0] > 0.5
    if inner.any():
        shift = target[inner].mean(axis=0) - warped[inner].mean(axis=0)
        warped = np.clip(warped.astype(np.float32) + shift, 0, 255)
    out = target.astype(np.float32) * (1 - mask) + warped.astype(np.float32) * mask
    return np.clip(out, 0, 255).astype(np.uint8)


def person_mask(image: np.ndarray, mesh: np.ndarray, iterations: int = 3) -> np.ndarray:
    """Soft (0..1) mask of the person: head with hair, neck and shoulders.

    GrabCut decides the edge; the seed says the face (mesh hull) is the person and that
    nothing outside a head ellipse and a shoulder trapezoid is.
    """
    h, w = image.shape[:2]
    lo, hi = mesh[:, :2].min(axis=0), mesh[:, :2].max(axis=0)
    (cx, cy), (fw, fh) = (lo + hi) / 2, hi - lo
    head = (int(cx), int(cy - 0.12 * fh))

    def body(spread: float, top: float) -> np.ndarray:
        y0 = hi[1] - top * fh
        return np.array(
            [
                [cx - 0.55 * spread * fw, y0],
                [cx + 0.55 * spread * fw, y0],
                [cx + 1.6 * spread * fw, h],
                [cx - 1.6 * spread * fw, h],
            ],
            np.int32,
        )

    allowed = np.zeros((h, w), np.uint8)
    cv2.ellipse(allowed, head, (int(0.95 * fw), int(1.0 * fh)), 0, 0, 360, 1, -1)
    cv2.fillConvexPoly(allowed, body(1.2, 0.2), 1)
    mask = np.full((h, w), cv2.GC_BGD, np.uint8)
    mask[allowed > 0] = cv2.GC_PR_BGD
    probable = np.zeros((h, w), np.uint8)
    cv2.ellipse(probable, head, (int(0.8 * fw), int(0.85 * fh)), 0, 0, 360, 1, -1)
    cv2.fillConvexPoly(probable, body(1.0, 0.0), 1)
    mask[(probable > 0) & (allowed > 0)] = cv2.GC_PR_FGD
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(mesh[:, :2]).astype(np.int32)), cv2.GC_FGD)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut seeds its colour models with k-means: same input, same cut
    cv2.grabCut(image, mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)  # type: ignore[call-overload]
    fg = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).astype(np.float32)
    out: np.ndarray = cv2.GaussianBlur(fg, (5, 5), 0)
    return out


def white_background(
    image: np.ndarray, mesh: np.ndarray, wall: int = 242, mask: np.ndarray | None = None
) -> np.ndarray:
    """The person of ``image`` in front of an evenly lit white wall (``mask``: precomputed)."""
    m = (person_mask(image, mesh) if mask is None else mask)[..., None]
    out = image.astype(np.float32) * m + float(wall) * (1.0 - m)
    white: np.ndarray = np.clip(out, 0, 255).astype(np.uint8)
    return white


def own_yaw(meshes: list[np.ndarray]) -> list[float]:
    """The head's own yaw in each frame of a real clip (the analyser's estimate)."""

    tmpl = min(meshes, key=lambda m: abs(yaw_degrees(m)))
    return [yaw_degrees(tmpl) + yaw_from_template(tmpl, m) for m in meshes]


def genuine_clip(
    images: list[np.ndarray],
    meshes: list[np.ndarray],
    blink_frames: tuple[int, ...],
    actions: list[str],
    amplitude: float,
    *,
    scale: float = 2.0,
    mask_every: int = 3,
) -> list[np.ndarray]:
    """A genuine capture in the challenged order, from a real clip with real blinks.

    The background is made white, the frames are upscaled by ``scale`` (camera resolution),
    and a head shake reaching ±``amplitude``° is rendered with :func:`turn_head` (the turn
    added to each frame is the target minus the head's own measured yaw there): before the
    last blink when the shake comes first, after the first blink otherwise. The blinks stay
    the person's own. The cut-out runs on every ``mask_every``-th frame and is moved with
    the face in between (GrabCut is the slow part).
    """
    n = len(images)
    first, last = min(blink_frames), max(blink_frames)
    if actions and actions[0] == "shake_head":
        start, end = 0.05, (last - 6) / n  # the shake is over before the last blink
    else:
        start, end = (first + 4) / n, 0.97
    target = yaw_profile(n, amplitude, start, end)
    own = own_yaw(meshes)
    masks: dict[int, np.ndarray] = {}
    out = []
    for i, (img, mesh) in enumerate(zip(images, meshes, strict=True)):
        k = i - i % mask_every
        if k not in masks:
            masks[k] = person_mask(images[k], meshes[k], iterations=2)
        shift = mesh[:, :2].mean(axis=0) - meshes[k][:, :2].mean(axis=0)
        move = np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]]])
        mask = cv2.warpAffine(masks[k], move, (img.shape[1], img.shape[0]))
        white = white_background(img, mesh, mask=mask)
        big = cv2.resize(white, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        yaw = float(target[i] - own[i]) if target[i] != 0.0 else 0.0
        out.append(turn_head(big, mesh * scale, yaw) if abs(yaw) > 0.05 else big)
    return out


# -- challenge captures: any sequence of actions -------------------------------------------

# Inner lip contours (MediaPipe FaceMesh): upper from corner to corner, lower back again.
_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
_INNER_LOWER = (324, 318, 402, 317, 14, 87, 178, 88, 95)


def posed_mesh(mesh: np.ndarray, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """``mesh`` turned by ``yaw_deg`` (nose to image right when > 0), then tilted up by
    ``pitch_deg`` (> 0 looks up: the nose tip rises, the forehead goes back), about a neck
    behind and below the face."""
    new = turned_mesh(mesh, yaw_deg) if yaw_deg else mesh.astype(np.float64).copy()
    if not pitch_deg:
        return new
    fw = float(np.ptp(mesh[:, 0]))
    cy = float(mesh[:, 1].mean()) + 0.35 * fw
    cz = float(mesh[:, 2].mean()) + 0.45 * fw
    th = math.radians(pitch_deg)
    c, s = math.cos(th), math.sin(th)
    y, z = new[:, 1] - cy, new[:, 2] - cz
    new[:, 1] = cy + y * c + z * s
    new[:, 2] = cz - y * s + z * c
    return new


def mouth_opened_mesh(mesh: np.ndarray, amount: float) -> np.ndarray:
    """The jaw dropped by ``amount`` inter-ocular distances (at the chin).

    Everything below the line between the inner lips moves down (the lower lip, the chin,
    the jaw), less towards the sides of the face (the jaw hinges near the ears); the upper
    lip and everything above stay.
    """
    new = mesh.astype(np.float64).copy()
    if amount <= 0:
        return new
    ca, cb = mesh[[33, 133], :2].mean(0), mesh[[362, 263], :2].mean(0)
    iod = float(np.linalg.norm(ca - cb))
    up = mesh[list(_INNER_UPPER), :2]
    low = mesh[[78, *reversed(_INNER_LOWER), 308], :2]
    # Midline between the inner lips as a function of x (flat beyond the corners).
    xs = up[:, 0]
    order = np.argsort(xs)
    mid_y = (up[order, 1] + np.interp(xs[order], low[np.argsort(low[:, 0]), 0],
                                      low[np.argsort(low[:, 0]), 1])) / 2  # fmt: skip
    line = np.interp(mesh[:, 0], xs[order], mid_y)
    below = np.clip((mesh[:, 1] - line) / (0.03 * iod) + 0.5, 0.0, 1.0)
    mx = float(mesh[[61, 291], 0].mean())
    fw = float(np.ptp(mesh[:, 0]))
    lateral = np.clip(1.0 - np.abs(mesh[:, 0] - mx) / (0.6 * fw), 0.0, 1.0) ** 0.5
    new[:, 1] += amount * iod * below * lateral
    return new


def pose_face(
    image: np.ndarray, mesh: np.ndarray, yaw_deg: float, pitch_deg: float, mouth: float
) -> np.ndarray:
    """Re-render ``image`` with its face posed (turn, look up, open mouth) by its own mesh."""
    if abs(yaw_deg) < 0.05 and abs(pitch_deg) < 0.05 and mouth <= 0.005:
        return image
    h, w = image.shape[:2]
    mesh = mesh.astype(np.float64)
    fw = float(np.ptp(mesh[:, 0]))
    new = posed_mesh(mouth_opened_mesh(mesh, mouth), yaw_deg, pitch_deg)
    anchors = _anchors(mesh, w, h)
    src = np.concatenate([mesh[:, :2], anchors])
    dst = np.concatenate([new[:, :2], anchors])
    tris = _triangles(src, w, h)
    depth = np.concatenate([new[:, 2], np.full(len(anchors), new[:, 2].max() + fw)])
    order = np.argsort(-depth[tris].mean(axis=1))
    out = image.copy()
    _warp_triangles(image, out, src, dst, tris, order)
    if mouth > 0.005:
        poly = np.round(new[list(_INNER_UPPER) + list(_INNER_LOWER), :2]).astype(np.int32)
        inside = np.zeros((h, w), np.uint8)
        cv2.fillPoly(inside, [poly], 255)
        dark = np.zeros_like(out)
        dark[:] = (38, 30, 70)  # BGR: the dark red of an open mouth
        top = np.round(new[list(_INNER_UPPER), :2]).astype(np.int32)
        teeth_h = max(1, int(0.05 * fw))
        cv2.polylines(dark, [top + np.array([0, teeth_h // 2])], False, (190, 196, 205),
                      thickness=teeth_h)  # fmt: skip
        m = cv2.GaussianBlur(inside.astype(np.float32) / 255.0, (3, 3), 0)[..., None]
        out = np.clip(out * (1 - m) + dark * m, 0, 255).astype(np.uint8)
    return out


@dataclass(frozen=True)
class CaptureParams:
    """How one labelled-synthetic challenge capture is rendered (drawn from a seed)."""

    turn_deg: float = 26.0  # peak of a turn (the check asks 15)
    nod_deg: float = 16.0  # peak of a look-up (the check asks 10)
    mouth: float = 0.42  # jaw drop at the chin, inter-ocular distances
    seconds: dict[str, float] = field(default_factory=dict, hash=False)  # per action
    lead_in_s: float = 0.6
    tail_s: float = 0.4
    wall: int = 242
    camera_shake_px: float = 0.0  # hand-held camera: smooth random drift of the whole view
    noise: float = 0.0
    seed: int = 0


NATURAL_YAW = 0.35  # share of the source's own head turn kept in a challenge capture
_SECONDS = {"blink": 0.9, "turn_left": 1.3, "turn_right": 1.3, "nod": 1.3,
            "open_mouth": 1.2, "shake_head": 2.2, "read_digits": 2.5}  # fmt: skip


def draw_params(seed: int, *, split: str) -> CaptureParams:
    """Render parameters for the ``tune`` or ``test`` split: different ranges per split."""
    rng = np.random.default_rng(seed)
    if split == "tune":
        turn, nod, mouth, speed, shake = (24, 32), (15, 20), (0.35, 0.5), (0.9, 1.15), (0, 2)
    else:
        turn, nod, mouth, speed, shake = (20, 36), (13, 22), (0.3, 0.55), (0.8, 1.3), (1, 4)
    k = float(rng.uniform(*speed))
    return CaptureParams(
        turn_deg=float(rng.uniform(*turn)),
        nod_deg=float(rng.uniform(*nod)),
        mouth=float(rng.uniform(*mouth)),
        seconds={a: v * k for a, v in _SECONDS.items()},
        lead_in_s=float(rng.uniform(0.4, 0.9)),
        wall=int(rng.integers(225, 250)),
        camera_shake_px=float(rng.uniform(*shake)),
        noise=float(rng.uniform(0.0, 2.5)),
        seed=seed,
    )


def _bump(n: int) -> np.ndarray:
    """0 → 1 → 0 over ``n`` frames with a held top (ease in, hold, ease out)."""
    if n <= 0:
        return np.zeros(0)
    ph = np.linspace(0.0, 1.0, n)
    return np.clip(1.6 * np.sin(np.pi * ph), 0.0, 1.0)


def challenge_timeline(
    n_source: int,
    blink_frames: tuple[int, ...],
    actions: list[str],
    params: CaptureParams,
    fps: float = 30.0,
    frames: tuple[int, int] | None = None,
    no_go: frozenset[int] = frozenset(),
) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
    """Source frame per output frame, and the yaw/pitch/mouth to add to each.

    The source clip is walked one frame at a time, back and forth, so the video has no cut;
    a blink step walks across one of the source's own blinks (±5 frames around it); other
    steps bounce inside the stretch between blinks. ``frames`` limits the walk to a range
    of source frames (the tuning and test splits use different halves of the clip);
    ``no_go`` frames (the source person talking) are bounced off like the range's ends.
    """
    lo, hi = frames or (0, n_source - 1)
    blinks = [b for b in blink_frames if lo + 5 < b < hi - 5]
    if not blinks:
        raise ValueError("the source range holds no blink")
    windows = [(b - 5, b + 5) for b in blinks]

    def in_blink(i: int) -> bool:
        return any(a <= i <= b for a, b in windows)

    # Start next to the first blink in range, outside it and off the no-go frames.
    pos, step = next(j for j in range(windows[0][0] - 1, lo - 1, -1) if j not in no_go), -1
    idx: list[int] = []
    yaw: list[float] = []
    pitch: list[float] = []
    mouth: list[float] = []

    def blocked(j: int) -> bool:
        return j < lo or j > hi or j in no_go or (in_blink(j) and not in_blink(pos))

    def walled(j: int) -> bool:  # the range's ends and the blinks, never crossed by walk()
        return j < lo or j > hi or (in_blink(j) and not in_blink(pos))

    def walk(n: int) -> None:
        nonlocal pos, step
        for _ in range(n):
            if blocked(pos + step):
                step = -step
            if not blocked(pos + step) or not walled(pos + step):
                pos += step
            elif not walled(pos - step):
                step = -step
                pos += step
            idx.append(pos)

    def add(n: int, y: float = 0.0, p: float = 0.0, m: float = 0.0) -> None:
        bump = _bump(n)
        yaw.extend(y * bump)
        pitch.extend(p * bump)
        mouth.extend(m * bump)

    def cross_blink() -> int:
        """Walk to the nearest blink window and across it; returns frames used."""
        nonlocal pos, step
        start = len(idx)
        target = min(windows, key=lambda w: min(abs(pos - w[0]), abs(pos - w[1])))
        step = 1 if pos < target[0] else -1
        while not in_blink(pos):
            pos += step
            idx.append(pos)
        while in_blink(pos):
            pos += step
            idx.append(pos)
        return len(idx) - start

    n_lead = int(params.lead_in_s * fps)
    walk(n_lead)
    add(n_lead)
    for a in actions:
        n = max(8, int(params.seconds.get(a, _SECONDS.get(a, 1.2)) * fps))
        if a == "blink":
            used = cross_blink()
            add(used)
            continue
        walk(n)
        if a == "turn_left":
            add(n, y=params.turn_deg)  # the person's left: nose to image right
        elif a == "turn_right":
            add(n, y=-params.turn_deg)
        elif a == "nod":
            add(n, p=params.nod_deg)
        elif a == "open_mouth":
            add(n, m=params.mouth)
        elif a == "shake_head":
            ph = np.linspace(0.0, 1.0, n)
            yaw.extend(params.turn_deg * np.sin(2 * np.pi * ph))
            pitch.extend(np.zeros(n))
            mouth.extend(np.zeros(n))
        else:
            add(n)
    n_tail = int(params.tail_s * fps)
    walk(n_tail)
    add(n_tail)
    return idx, np.array(yaw), np.array(pitch), np.array(mouth)


def challenge_clip(
    images: list[np.ndarray],
    meshes: list[np.ndarray],
    blink_frames: tuple[int, ...],
    actions: list[str],
    params: CaptureParams,
    *,
    scale: float = 2.0,
    frames: tuple[int, int] | None = None,
    no_go: frozenset[int] = frozenset(),
) -> list[np.ndarray]:
    """A genuine capture of ``actions`` in order, from a real clip with real blinks.

    LABELLED-SYNTHETIC: the person, his blinks and his small natural head motion are real;
    the white wall, the turns, the look-up and the open mouth are rendered from his own
    3-D mesh (:func:`pose_face`); a hand-held camera is simulated by a smooth drift.
    """
    idx, yaw_add, pitch_add, mouth_add = challenge_timeline(
        len(images), blink_frames, actions, params, frames=frames, no_go=no_go
    )
    own = own_yaw(meshes)
    rng = np.random.default_rng(params.seed + 7)
    masks: dict[int, np.ndarray] = {}
    drift = np.cumsum(rng.normal(0, 1, (len(idx), 2)), axis=0)
    drift = np.asarray(cv2.GaussianBlur(drift.astype(np.float64), (1, 15), 5), np.float64)
    drift = drift.reshape(-1, 2)
    if np.abs(drift).max() > 0:
        drift *= params.camera_shake_px / np.abs(drift).max()
    out = []
    for n, i in enumerate(idx):
        img, mesh = images[i], meshes[i]
        if i not in masks:
            masks[i] = person_mask(img, mesh, iterations=2)
        white = white_background(img, mesh, wall=params.wall, mask=masks[i])
        big = cv2.resize(white, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        # A person doing a challenge faces the phone between prompts: most of the source's
        # own turn is taken out (a third of it stays, as natural motion), then the step's.
        y = float(yaw_add[n] - (1.0 - NATURAL_YAW) * own[i])
        frame = pose_face(big, mesh * scale, y, float(pitch_add[n]), float(mouth_add[n]))
        if params.camera_shake_px > 0:
            h, w = frame.shape[:2]
            mv = np.array([[1.0, 0.0, drift[n, 0]], [0.0, 1.0, drift[n, 1]]])
            frame = cv2.warpAffine(frame, mv, (w, h), borderMode=cv2.BORDER_REPLICATE)
        if params.noise > 0:
            frame = np.clip(frame + rng.normal(0, params.noise, frame.shape), 0, 255).astype(
                np.uint8
            )
        out.append(frame)
    return out


def fit_canvas(img: np.ndarray, w: int = 352, h: int = 288, fill: int = 215) -> np.ndarray:
    """``img`` scaled to fit a w×h frame on a plain ``fill`` background (a photo to print)."""
    s = min(w / img.shape[1], h / img.shape[0])
    r = cv2.resize(img, (int(img.shape[1] * s), int(img.shape[0] * s)))
    out = np.full((h, w, 3), fill, np.uint8)
    y, x = (h - r.shape[0]) // 2, (w - r.shape[1]) // 2
    out[y : y + r.shape[0], x : x + r.shape[1]] = r
    return out


def crop_faces(fa: Any, img: np.ndarray, margin: float = 0.6) -> list[np.ndarray]:
    """Every face of ``img`` at least 40 px wide, cropped with ``margin`` × its width around."""
    crops = []
    for d in fa._detect(img, 1280):
        x1, y1, x2, y2 = d.box
        if x2 - x1 < 40:
            continue
        m = margin * (x2 - x1)
        crops.append(
            img[max(0, int(y1 - m)) : int(y2 + m), max(0, int(x1 - m)) : int(x2 + m)].copy()
        )
    return crops
