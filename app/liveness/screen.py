"""Screen-replay signals: a recording played on a phone or monitor and filmed again.

A replayed genuine recording beats the parallax check (the recorded head really turned in
3-D) and, on a high-DPI screen whose sub-pixels are finer than the camera's pixels, the
moiré check. What the screen cannot hide, each a named, explainable signal:

- ``bezel``: the phone's dark, straight-edged border around the face. Above, below, left
  and right of the face: a straight edge (RANSAC line through edge points whose brighter
  side faces the face) with a dark band just beyond it (the bezel) and brighter just inside
  (the screen), covering the length a screen around that face must have, on at least three
  sides. Hair and a suit give curved edges; a dark room merging with the bezel on one side
  still leaves three.
- ``coplanar_surround``: the face's nearest surroundings (outside the person) moving as one
  plane that is NOT the plane of the rest of the scene: a phone held in front of a room.
  A hand-held genuine selfie shakes the whole frame, but then the wall near the head and the
  wall far from it move together, so only the disagreement between the near-surround
  homography and the far scene's motion counts.
- ``screen_colour``: a screen's rendering of the face and its surround: lifted blacks (its
  black is the room light it reflects and its backlight) and a bluish white point against
  the camera's balance. A cool camera white balance moves the white but leaves blacks black;
  a dim exposure lowers the white but not the black: the score needs both.
- ``flicker``: rolling-shutter refresh banding: the screen's refresh and the camera's row
  readout are not locked, so horizontal bands of one period, at a different phase in every
  frame, cover the screen. Power at one row frequency, summed over frames, against the
  spectrum's median; video-block frequencies (k/8 cycles per row) are ignored.

Known limits (bench/screen_eval.py is labelled-synthetic, one real person): screen_colour's
black level and white point are relative to a daylight-balanced camera; a phone whose auto
white balance adapts to a full-frame screen removes most of the blue, and a real scene with
a window or a pale-blue wall adds some. A phone whose bezel leaves the frame, or a black
TV behind a head, are not in the evaluation. flicker only sees banding when it is there
(a screen refreshing in step with the camera shows none).

Pure: numpy arrays in, :class:`ScreenSignal` out. Each signal abstains (``score=None``,
not fired) when the capture cannot tell, e.g. no texture outside the person.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np


@dataclass(frozen=True)
class ScreenConfig:
    """Thresholds calibrated on the tuning split of bench/screen_eval.py (never its test split):
    each is the middle between the top genuine tuning score and the lower quartile of the
    tuning attack scores above it (``python -m bench.screen_eval --split tune --tune``)."""

    max_side: int = 320  # frames are analysed downscaled to this (bezel, colour)
    frames: int = 5  # frames examined by the per-frame signals (evenly spread)
    # bezel: per frame, the mean over the best three sides of the share of the side's
    # expected length that a straight screen edge with a dark band beyond covers; the
    # median over the examined frames.
    bezel_threshold: float = 0.65
    bezel_dark_max: float = 70.0  # 8-bit luma: at most this dark...
    bezel_dark_face: float = 0.45  # ...and darker than this share of the face's median luma
    # coplanar_surround: far-scene motion unexplained by the near-surround plane, in
    # inter-ocular distances (median over informative frame pairs).
    coplanar_threshold: float = 0.04
    coplanar_min_points: int = 8
    coplanar_pairs: int = 8
    coplanar_max_side: int = 240  # tracking resolution
    coplanar_min_pairs: int = 4  # fewer informative frame pairs: abstain
    # screen_colour: black level + white blueness, see _colour_score.
    colour_threshold: float = 0.71
    colour_blue_ref: float = 0.1  # (B - R) / luma of the brightest neutral pixels
    colour_black_ref: float = 18.0  # 8-bit luma of the darkest 1 %: above this is lifted
    colour_black_scale: float = 3.0
    colour_black_cap: float = 0.7
    # flicker: log10 peak/median of the summed row spectra.
    flicker_threshold: float = 0.82
    flicker_frames: int = 32  # at most this many frames, evenly spread (more: sharper peak)
    flicker_min_period: float = 1 / 40  # band period range, as shares of the frame height
    flicker_max_period: float = 1 / 6


@dataclass(frozen=True)
class ScreenSignal:
    name: str
    score: float | None  # None: the capture could not tell (the signal abstains)
    threshold: float
    fired: bool
    detail: dict[str, Any] = field(default_factory=dict)


def _pick(n: int, k: int) -> list[int]:
    return sorted({round(x) for x in np.linspace(0, n - 1, min(n, k))})


def _face_box(mesh: np.ndarray) -> tuple[float, float, float, float]:
    lo, hi = mesh[:, :2].min(axis=0), mesh[:, :2].max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def _iod(mesh: np.ndarray) -> float:
    return float(np.linalg.norm(mesh[[33, 133], :2].mean(0) - mesh[[362, 263], :2].mean(0)))


def _luma(img: np.ndarray) -> np.ndarray:
    y: np.ndarray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return y


def _down(img: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    h, w = img.shape[:2]
    s = min(1.0, max_side / max(h, w))
    if s < 1.0:
        img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    return img, s


# -- bezel -------------------------------------------------------------------------------
def _ransac_line(
    u: np.ndarray, v: np.ndarray, tol: float, rng: np.random.Generator, iters: int = 120
) -> tuple[float, float, np.ndarray] | None:
    """Line v = a·u + b through most of the points (|a| <= 0.35: near the expected axis)."""
    n = len(u)
    if n < 8:
        return None
    p, q = rng.integers(0, n, size=(2, iters))
    du = u[q] - u[p]
    ok = du != 0
    p, q = p[ok], q[ok]
    a = (v[q] - v[p]) / (u[q] - u[p])
    keep = np.abs(a) <= 0.35
    p, a = p[keep], a[keep]
    if len(p) == 0:
        return None
    # All hypotheses at once: (hypotheses, points) residuals.
    res = np.abs(v[None, :] - (v[p][:, None] + a[:, None] * (u[None, :] - u[p][:, None])))
    counts = (res <= tol).sum(axis=1)
    best = res[int(np.argmax(counts))] <= tol
    if best.sum() < 8:
        return None
    slope, icpt = np.polyfit(u[best], v[best], 1)
    inl = np.abs(v - (slope * u + icpt)) <= tol
    return float(slope), float(icpt), inl


def _bezel_frame(
    gray: np.ndarray, box: tuple[float, float, float, float], cfg: ScreenConfig
) -> tuple[float, dict[str, Any]]:
    """How well four straight screen edges with a dark band beyond enclose the face.

    Per side (top, bottom, left, right of the face): edge points whose brighter side faces
    the face, a RANSAC line through them, and the share of the side's expected length that
    the line's inliers cover where the band just outside the line is dark (the bezel) and
    the inside brighter (the screen). The frame's score: the mean of the best three sides.
    """
    h, w = gray.shape
    x1, y1, x2, y2 = box
    fw, fh = x2 - x1, y2 - y1
    face = gray[int(max(0, y1)) : int(min(h, y2)), int(max(0, x1)) : int(min(w, x2))]
    if face.size == 0 or fw < 4:
        return 0.0, {}
    dark = min(cfg.bezel_dark_max, cfg.bezel_dark_face * float(np.median(face)))
    g = gray.astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    edges = cv2.Canny(gray, 40, 90) > 0
    ys, xs = np.nonzero(edges)
    ex, ey = gx[ys, xs], gy[ys, xs]
    rng = np.random.default_rng(0)
    tol = max(1.5, 0.006 * max(h, w))
    out: dict[str, float] = {}
    # (name, selector, u = along-side coordinate, v = across, outward normal sign)
    sides = {
        "top": (
            (ys < y1 - 0.05 * fh) & (ey > np.abs(ex)) & (np.abs(xs - (x1 + x2) / 2) < 1.5 * fw),
            xs,
            ys,
            -1,
        ),
        "bottom": (
            (ys > y2 + 0.05 * fh) & (-ey > np.abs(ex)) & (np.abs(xs - (x1 + x2) / 2) < 2.5 * fw),
            xs,
            ys,
            1,
        ),
        "left": (
            (xs < x1 - 0.05 * fw) & (ex > np.abs(ey)) & (ys > y1 - 1.5 * fh) & (ys < y2 + 2.5 * fh),
            ys,
            xs,
            -1,
        ),
        "right": (
            (xs > x2 + 0.05 * fw)
            & (-ex > np.abs(ey))
            & (ys > y1 - 1.5 * fh)
            & (ys < y2 + 2.5 * fh),
            ys,
            xs,
            1,
        ),
    }
    off = max(2, round(0.01 * max(h, w)))
    for name, (sel, u_all, v_all, sign) in sides.items():
        u, v = u_all[sel].astype(np.float64), v_all[sel].astype(np.float64)
        fit = _ransac_line(u, v, tol, rng)
        if fit is None:
            out[name] = 0.0
            continue
        a, b, inl = fit
        ui = np.unique(np.round(u[inl]).astype(int))
        vi = np.round(a * ui + b).astype(int)
        horizontal = name in ("top", "bottom")
        if horizontal:
            px_out, py_out = ui, vi + sign * off
            px_in, py_in = ui, vi - sign * off
        else:
            px_out, py_out = vi + sign * off, ui
            px_in, py_in = vi - sign * off, ui
        okb = (px_out >= 0) & (px_out < w) & (py_out >= 0) & (py_out < h)
        okb &= (px_in >= 0) & (px_in < w) & (py_in >= 0) & (py_in < h)
        if not okb.any():
            out[name] = 0.0
            continue
        band = (g[py_out[okb], px_out[okb]] < dark) & (g[py_in[okb], px_in[okb]] >= dark)
        # Expected length: the face's extent grown to where a screen around it must reach.
        span = (2.2 * fw) if horizontal else (2.0 * fh)
        out[name] = float(min(1.0, band.sum() / span))
    ranked = sorted(out.values(), reverse=True)
    score = float(np.mean(ranked[:3]))
    return score, {k: round(v, 3) for k, v in out.items()}


def bezel_signal(
    images: list[np.ndarray], meshes: list[np.ndarray], cfg: ScreenConfig
) -> ScreenSignal:
    scores, details = [], []
    for i in _pick(len(images), cfg.frames):
        small, s = _down(images[i], cfg.max_side)
        x1, y1, x2, y2 = _face_box(meshes[i])
        sc, info = _bezel_frame(_luma(small), (x1 * s, y1 * s, x2 * s, y2 * s), cfg)
        scores.append(sc)
        details.append(info)
    score = float(np.median(scores)) if scores else 0.0
    k = int(np.argmax(scores)) if scores else 0
    return ScreenSignal(
        "bezel",
        round(score, 4),
        cfg.bezel_threshold,
        score >= cfg.bezel_threshold,
        {
            "frames": len(scores),
            "found_in": sum(v >= cfg.bezel_threshold for v in scores),
            "best": details[k] if details else {},
        },
    )


# -- coplanar surround -------------------------------------------------------------------
def _person_mask(shape: tuple[int, int], box: tuple[float, float, float, float]) -> np.ndarray:
    """Where the person (head with hair, neck, body below) may be: excluded from the surround."""
    h, w = shape
    x1, y1, x2, y2 = box
    cx, cy, fw, fh = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(
        m, (int(cx), int(cy - 0.1 * fh)), (int(0.95 * fw), int(0.95 * fh)), 0, 0, 360, 1, -1
    )
    body = np.array(
        [
            [cx - 0.9 * fw, y2 - 0.1 * fh],
            [cx + 0.9 * fw, y2 - 0.1 * fh],
            [cx + 2.2 * fw, h],
            [cx - 2.2 * fw, h],
        ],
        np.int32,
    )
    cv2.fillConvexPoly(m, body, 1)
    return m


def coplanar_signal(
    images: list[np.ndarray], meshes: list[np.ndarray], cfg: ScreenConfig
) -> ScreenSignal:
    idx = _pick(len(images), cfg.coplanar_pairs + 1)
    grays = {i: _down(_luma(images[i]), cfg.coplanar_max_side) for i in idx}
    rows: list[float] = []
    used = 0
    for a, b in itertools.pairwise(idx):
        ga, s = grays[a]
        gb, _ = grays[b]
        box = tuple(v * s for v in _face_box(meshes[a]))
        iod = _iod(meshes[a]) * s
        allowed = (1 - _person_mask(ga.shape, box)).astype(np.uint8) * 255  # type: ignore[arg-type]
        pts = cv2.goodFeaturesToTrack(ga, 100, 0.01, 5, mask=allowed)
        if pts is None or len(pts) < 2 * cfg.coplanar_min_points:
            continue
        nxt, st, _ = cv2.calcOpticalFlowPyrLK(ga, gb, pts, None, winSize=(15, 15), maxLevel=3)  # type: ignore[call-overload]
        back, st2, _ = cv2.calcOpticalFlowPyrLK(gb, ga, nxt, None, winSize=(15, 15), maxLevel=3)  # type: ignore[call-overload]
        ok = (
            (st.ravel() == 1)
            & (st2.ravel() == 1)
            & (np.linalg.norm(back - pts, axis=2).ravel() < 0.5)
        )
        p0, p1 = pts.reshape(-1, 2)[ok], nxt.reshape(-1, 2)[ok]
        if len(p0) < 2 * cfg.coplanar_min_points:
            continue
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        fw = box[2] - box[0]
        d = np.hypot(p0[:, 0] - cx, p0[:, 1] - cy) / fw
        order = np.argsort(d)
        k = max(cfg.coplanar_min_points, len(p0) // 3)
        near, far = order[:k], order[k:]
        if len(far) < cfg.coplanar_min_points:
            continue
        hn, inl = cv2.findHomography(p0[near], p1[near], cv2.RANSAC, 1.0)
        hf, _ = cv2.findHomography(p0[far], p1[far], cv2.RANSAC, 1.0)
        if hn is None or hf is None or inl is None or inl.mean() < 0.6:
            continue
        pred_n = cv2.perspectiveTransform(p0[far][None].astype(np.float64), hn)[0]
        pred_f = cv2.perspectiveTransform(p0[far][None].astype(np.float64), hf)[0]
        err_n = np.linalg.norm(pred_n - p1[far], axis=1)
        err_f = np.linalg.norm(pred_f - p1[far], axis=1)
        # The far scene's own plane explains it (inliers); does the near plane too?
        good = err_f < 1.0
        if good.sum() < cfg.coplanar_min_points:
            continue
        rows.append(float(np.median(err_n[good]) - np.median(err_f[good])) / max(iod, 1.0))
        used += 1
    if len(rows) < cfg.coplanar_min_pairs:
        return ScreenSignal(
            "coplanar_surround", None, cfg.coplanar_threshold, False, {"pairs": len(rows)}
        )
    score = float(np.median(rows))
    return ScreenSignal(
        "coplanar_surround",
        round(score, 4),
        cfg.coplanar_threshold,
        score >= cfg.coplanar_threshold,
        {"pairs": used},
    )


# -- colour ------------------------------------------------------------------------------
def _region(img: np.ndarray, mesh: np.ndarray) -> np.ndarray:
    """The face and its surround: the face box grown 1.5× on each side, inside the frame."""
    h, w = img.shape[:2]
    x1, y1, x2, y2 = _face_box(mesh)
    fw, fh = x2 - x1, y2 - y1
    a, b = int(max(0, x1 - 0.75 * fw)), int(max(0, y1 - 0.6 * fh))
    c, d = int(min(w, x2 + 0.75 * fw)), int(min(h, y2 + 0.9 * fh))
    out: np.ndarray = img[b:d, a:c]
    return out


def colour_measures(img: np.ndarray, mesh: np.ndarray) -> tuple[float, float]:
    """(black level, white blueness) of the face and its surround."""
    reg = _region(img, mesh)
    y = _luma(reg).ravel()
    px = reg.reshape(-1, 3).astype(np.float32)
    n = len(y)
    if n < 100:
        return 0.0, 0.0
    black = float(np.partition(y, n // 100)[n // 100])
    top = px[y >= np.partition(y, n - n // 20)[n - n // 20]]
    mx, mn = top.max(axis=1), top.min(axis=1)
    neutral = top[(mx - mn) < 0.25 * np.maximum(mx, 1.0)]
    if len(neutral) < 20:
        neutral = top
    blue = float(np.mean((neutral[:, 0] - neutral[:, 2]) / np.maximum(neutral.mean(axis=1), 1.0)))
    return black, blue


def colour_signal(
    images: list[np.ndarray], meshes: list[np.ndarray], cfg: ScreenConfig
) -> ScreenSignal:
    blacks, blues = [], []
    for i in _pick(len(images), cfg.frames):
        small, s = _down(images[i], cfg.max_side)
        bl, bu = colour_measures(small, meshes[i] * s)
        blacks.append(bl)
        blues.append(bu)
    black, blue = float(np.median(blacks)), float(np.median(blues))
    score = _colour_score(black, blue, cfg)
    return ScreenSignal(
        "screen_colour",
        round(score, 4),
        cfg.colour_threshold,
        score >= cfg.colour_threshold,
        {"black": round(black, 2), "blue": round(blue, 4)},
    )


def _colour_score(black: float, blue: float, cfg: ScreenConfig) -> float:
    # Lifted blacks plus the white point's blueness. The black term is capped below the
    # threshold: a person with no dark clothes or hair, or a hazy lens, has no black to
    # lose, so lifted blacks alone never refuse; with the cap reached, a white point
    # bluer than ``(threshold - cap) * colour_blue_ref`` is needed too.
    lift = max(0.0, black - cfg.colour_black_ref) / cfg.colour_black_scale
    return min(cfg.colour_black_cap, lift) + blue / cfg.colour_blue_ref


# -- flicker -----------------------------------------------------------------------------
def flicker_signal(
    images: list[np.ndarray], meshes: list[np.ndarray], cfg: ScreenConfig
) -> ScreenSignal:
    # Rows around the face over the whole capture (the screen, when there is one).
    boxes = np.array([_face_box(m) for m in meshes])
    fh = float(np.median(boxes[:, 3] - boxes[:, 1]))
    r0 = int(max(0, boxes[:, 1].min() - 1.0 * fh))
    r1 = int(min(images[0].shape[0], boxes[:, 3].max() + 1.0 * fh))
    h = r1 - r0
    n = 1 << int(np.ceil(np.log2(max(h, 16))))
    freqs = np.fft.rfftfreq(n)
    full = images[0].shape[0]
    lo_p, hi_p = cfg.flicker_min_period * full, cfg.flicker_max_period * full
    band = (freqs >= 1.0 / hi_p) & (freqs <= 1.0 / lo_p)
    for k in range(1, 5):  # video blocks: 8- and 16-row grids and their harmonics
        band &= np.abs(freqs - k / 16) > 1.5 / n
    profiles = []
    for i in _pick(len(images), cfg.flicker_frames):
        img, mesh = images[i], meshes[i]
        x1, _, x2, _ = _face_box(mesh)
        fw = x2 - x1
        a, c = int(max(0, x1 - fw)), int(min(img.shape[1], x2 + fw))
        p = np.log1p(_luma(img[r0:r1, a:c]).astype(np.float32).mean(axis=1)).astype(np.float64)
        # Slow shading and the wobble's drift are not bands: keep periods below hi_p.
        p = p - cv2.GaussianBlur(p.reshape(-1, 1), (1, 0), hi_p / 2).ravel()
        profiles.append(p)
    if len(profiles) < 3 or not band.any() or h < 32:
        return ScreenSignal("flicker", None, cfg.flicker_threshold, False, {})
    # What stays from frame to frame is the scene; bands crawl, so they survive the median.
    still = np.median(np.array(profiles), axis=0)
    win = np.hanning(h)
    total = np.zeros(len(freqs))
    for p in profiles:
        spec = np.abs(np.fft.rfft((p - still) * win, n)) ** 2
        total += spec / (spec[band].sum() + 1e-12)
    # A peak against its neighbourhood: residual spectra fall with frequency.
    ks = np.nonzero(band)[0]
    if len(ks) == 0:
        return ScreenSignal("flicker", None, cfg.flicker_threshold, False, {})
    # Neighbourhood: 12 bins either side (mirrored at the ends), the peak's own bin and its
    # two neighbours left out.
    padded = np.pad(total, 12, mode="reflect")
    offs = np.r_[-12:-1, 2:13]
    level = np.median(padded[ks[:, None] + 12 + offs[None, :]], axis=1)
    ratio = total[ks] / (level + 1e-12)
    j = int(np.argmax(ratio))
    best, period = float(ratio[j]), float(1.0 / freqs[ks[j]])
    score = float(np.log10(max(best, 1e-6)))
    return ScreenSignal(
        "flicker",
        round(score, 4),
        cfg.flicker_threshold,
        score >= cfg.flicker_threshold,
        {"period_rows": round(period, 1), "frames": len(profiles)},
    )


def screen_signals(
    images: list[np.ndarray],
    meshes: list[np.ndarray],
    times: np.ndarray,
    config: ScreenConfig | None = None,
) -> list[ScreenSignal]:
    """Every screen-replay signal of one capture (analysed BGR frames, their (468, 3) meshes
    in image pixels, and their times in seconds)."""
    cfg = config or ScreenConfig()
    if len(images) != len(meshes) or len(images) != len(times):
        raise ValueError("images, meshes and times differ in length")
    if not images:
        return []
    return [
        bezel_signal(images, meshes, cfg),
        coplanar_signal(images, meshes, cfg),
        colour_signal(images, meshes, cfg),
        flicker_signal(images, meshes, cfg),
    ]
