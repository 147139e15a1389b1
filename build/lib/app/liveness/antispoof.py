"""Anti-spoof signals that need no attack-trained model.

Parallax (primary): a printed photo or a screen is a plane, so whatever the hand does, every
point of the face in frame B is the image of the same point in frame A under one
homography. A real head turning is not a plane: the nose moves against the cheeks. Texture
points tracked over the face from the most frontal frame are fitted, frame by frame, with a
similarity (rigid 2-D motion) and a homography (any plane); the share of the non-rigid
deformation that the homography cannot explain is the parallax score. Frames that barely
deform (no turn) say nothing and are ignored. (The 468-point mesh was tried first: the model
fits a face prior and returns a non-planar shape even for a print, residual 0.04 IOD against
0.08 for a real head; tracked texture separates them far better.)

Moiré: a screen re-photographed adds a periodic grid to the face: sharp isolated peaks in
the high-frequency spectrum of the face region that a real face does not have.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from app.liveness.match import similarity


@dataclass(frozen=True)
class ParallaxResult:
    # Share of the 2-D deformation that no plane explains: homography residual / similarity
    # residual, at the most deformed frames. ~0.1–0.3 for a plane, ~0.8 for a turning head.
    # None when the face did not deform enough to tell (no turn).
    score: float | None
    residual: float  # homography residual / inter-ocular distance there
    deformation: float  # similarity residual / inter-ocular distance there
    frames_used: int


def _rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum((a - b) ** 2, axis=1))))


def _fit_residuals(src: np.ndarray, dst: np.ndarray) -> tuple[float, float]:
    sim = similarity(src, dst)
    hom, _ = cv2.findHomography(src, dst, 0)
    if hom is None:
        return 0.0, 0.0
    s = src @ sim[:, :2].T + sim[:, 2]
    p = cv2.perspectiveTransform(src[None].astype(np.float64), hom)[0]
    return _rms(s, dst), _rms(p, dst)


def moire_score(gray_face: np.ndarray) -> float:
    """Peak-to-background ratio of the face's high-frequency spectrum (log10).

    Natural skin gives a smooth spectrum (ratio ~1–1.5); a pixel grid or moiré gives
    isolated peaks. Bins on the axes at multiples of 1/8 cycle per pixel (video/JPEG block
    edges) are ignored.
    """
    g = gray_face.astype(np.float32)
    n = min(g.shape[:2])
    if n < 32:
        return 0.0
    g = g[:n, :n]
    g = g - cv2.GaussianBlur(g, (0, 0), 2.0)
    win = np.outer(np.hanning(n), np.hanning(n)).astype(np.float32)
    spec = np.abs(np.fft.fftshift(np.fft.fft2(g * win)))
    fy, fx = np.meshgrid(
        np.fft.fftshift(np.fft.fftfreq(n)), np.fft.fftshift(np.fft.fftfreq(n)), indexing="ij"
    )
    r = np.hypot(fx, fy)
    band = (r >= 0.12) & (r <= 0.71)
    tol = 1.5 / n
    for k in range(1, 5):
        for f in (k / 8, -k / 8):
            band &= ~((np.abs(fx - f) <= tol) & (np.abs(fy) <= tol))
            band &= ~((np.abs(fy - f) <= tol) & (np.abs(fx) <= tol))
    vals = spec[band]
    if vals.size == 0:
        return 0.0
    # A peak against the typical level at the same radius (spectra fall with frequency).
    ring = np.digitize(r[band], np.linspace(0.12, 0.71, 12))
    level = np.zeros_like(vals)
    for b in np.unique(ring):
        level[ring == b] = np.median(vals[ring == b])
    return float(np.log10(np.max(vals / (level + 1e-6))))


def flow_parallax(
    grays: list[np.ndarray],
    meshes: list[np.ndarray],
    ref: int,
    *,
    min_deformation: float,
    top_k: int = 3,
    max_points: int = 150,
    min_alive: float = 0.5,
) -> ParallaxResult:
    """Parallax from image texture tracked across the face (pyramidal Lucas–Kanade).

    Landmark models fit a face prior and return a slightly non-planar shape even for a
    print; tracked texture points follow the image itself, so a plane gives a homography
    residual at tracking-noise level. Points are found inside the face hull of the reference
    frame and tracked frame to frame in both directions from it; a frame counts while at
    least ``min_alive`` of them are still tracked.
    """
    m = meshes[ref]
    iod = float(np.linalg.norm(m[[33, 133], :2].mean(0) - m[[362, 263], :2].mean(0)))
    hull = cv2.convexHull(np.round(meshes[ref][:, :2]).astype(np.int32))
    mask: np.ndarray = np.zeros(grays[ref].shape, dtype=np.uint8)
    cv2.fillConvexPoly(mask, hull, 255)
    mask = cv2.erode(mask, np.ones((5, 5), np.uint8))
    pts = cv2.goodFeaturesToTrack(grays[ref], max_points, 0.01, max(2.0, iod / 12), mask=mask)
    if pts is None or len(pts) < 12 or iod <= 0:
        return ParallaxResult(None, 0.0, 0.0, 0)
    src = pts.reshape(-1, 2).astype(np.float32)
    win = (max(9, int(iod / 4) | 1),) * 2
    rows: list[tuple[float, float]] = []
    for direction in (1, -1):
        cur, alive = src.copy(), np.ones(len(src), dtype=bool)
        i = ref + direction
        while 0 <= i < len(grays) and alive.sum() >= max(12, min_alive * len(src)):
            nxt, st, _ = cv2.calcOpticalFlowPyrLK(  # type: ignore[call-overload]
                grays[i - direction], grays[i], cur, None, winSize=win, maxLevel=3
            )
            back, st2, _ = cv2.calcOpticalFlowPyrLK(  # type: ignore[call-overload]
                grays[i], grays[i - direction], nxt, None, winSize=win, maxLevel=3
            )
            ok = (st.ravel() == 1) & (st2.ravel() == 1)
            ok &= np.linalg.norm(back - cur, axis=1) < 0.05 * iod
            alive &= ok
            cur = nxt
            # A turning head hides its far side: once most tracks are lost, the survivors
            # cover one cheek, which is nearly planar, and say nothing about the whole face
            # (a genuine ±35° turn read 0.34 on its last frames, like a print).
            if alive.sum() >= max(12, min_alive * len(src)):
                a, b = src[alive].astype(np.float64), cur[alive].astype(np.float64)
                sim_r, hom_r = _fit_residuals(a, b)
                rows.append((sim_r / iod, hom_r / iod))
            i += direction
    informative = sorted((r for r in rows if r[0] >= min_deformation), reverse=True)[:top_k]
    if not informative:
        return ParallaxResult(None, 0.0, max((r[0] for r in rows), default=0.0), 0)
    return ParallaxResult(
        float(np.median([r[1] / r[0] for r in informative])),
        float(np.median([r[1] for r in informative])),
        float(np.median([r[0] for r in informative])),
        len(informative),
    )
