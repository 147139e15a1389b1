"""Image-quality and authenticity measurements on a document photo. Pure numpy/OpenCV.

Each function returns a score; :mod:`app.documents.analyzer` compares scores with thresholds.
Locating works on a copy scaled to ``LOCATE_SIDE`` px: the document is what differs from the
background colour (sampled on the image border) or is enclosed by strong edges; the largest
such region is fitted with a quadrilateral, which is then used to rectify the full image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

LOCATE_SIDE = 640


@dataclass(frozen=True)
class Located:
    quad: np.ndarray  # 4x2 float32, full-resolution corners tl, tr, br, bl
    fill: float  # quad area / image area
    border_margin: float  # min distance of the region to the frame / short side (< 0: touches)
    solidity: float  # region area / quad area
    mask_small: np.ndarray  # uint8 region mask at locate scale
    scale: float  # locate scale / full scale


def _order_corners(pts: np.ndarray) -> np.ndarray:
    pts = pts.reshape(-1, 2).astype(np.float32)
    s = pts.sum(axis=1)
    d = np.diff(pts, axis=1).ravel()
    tl, br = pts[np.argmin(s)], pts[np.argmax(s)]
    tr, bl = pts[np.argmin(d)], pts[np.argmax(d)]
    return np.array([tl, tr, br, bl], np.float32)


def _quad_from_contour(contour: np.ndarray) -> np.ndarray:
    hull = cv2.convexHull(contour)
    peri = cv2.arcLength(hull, True)
    for eps in (0.01, 0.02, 0.03, 0.05, 0.08):
        approx = cv2.approxPolyDP(hull, eps * peri, True)
        if len(approx) == 4:
            return _order_corners(approx)
    # Rounded or clipped shapes: the min-area rectangle is the safest quad.
    return _order_corners(cv2.boxPoints(cv2.minAreaRect(hull)))


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Everything but the background becomes foreground; the background is the largest empty
    region that reaches the frame. Unlike a contour fill this also closes a document cut off
    by the frame (its gaps touch the edge), and unlike "largest empty region" it keeps the
    inside of a large white page (which does not reach the frame) as foreground."""
    empty = (mask == 0).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(empty, connectivity=4)
    if n <= 1:
        return mask.copy()
    frame = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    frame = frame[frame > 0]
    if frame.size == 0:
        return np.full_like(mask, 255)
    background = int(frame[np.argmax(stats[frame, cv2.CC_STAT_AREA])])
    return np.where(labels == background, 0, 255).astype(np.uint8)


def _candidate_masks(small: np.ndarray) -> list[np.ndarray]:
    h, w = small.shape[:2]
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    p99 = float(np.percentile(gray, 99))
    if p99 < 200:  # dim photo: stretch it so colour differences keep their size
        small = cv2.convertScaleAbs(small, alpha=220.0 / max(p99, 8.0))
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    lab = cv2.cvtColor(cv2.GaussianBlur(small, (5, 5), 0), cv2.COLOR_BGR2LAB).astype(np.float32)
    b = max(4, int(0.03 * min(h, w)))
    border = np.concatenate(
        [
            lab[:b].reshape(-1, 3),
            lab[-b:].reshape(-1, 3),
            lab[:, :b].reshape(-1, 3),
            lab[:, -b:].reshape(-1, 3),
        ]
    )
    bg = np.median(border, axis=0)
    # Lightness differences count less: shadows and uneven light change L, not colour.
    weights = np.array([0.5, 1.0, 1.0], np.float32)
    dist = np.sqrt((((lab - bg) * weights) ** 2).sum(axis=2))
    # Robust spread of the background itself (the document may touch part of the border).
    spread = float(np.percentile(np.sqrt((((border - bg) * weights) ** 2).sum(axis=1)), 60))
    thr = max(7.0, 4.0 * spread)
    colour = (dist > thr).astype(np.uint8) * 255
    k = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9))
    colour = cv2.morphologyEx(
        colour, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    )
    colour = _fill_holes(cv2.morphologyEx(colour, cv2.MORPH_CLOSE, k))
    edges = cv2.Canny(cv2.GaussianBlur(gray, (5, 5), 0), 12, 36)
    edges = cv2.morphologyEx(edges, cv2.MORPH_CLOSE, k)
    edge_mask = _fill_holes(cv2.dilate(edges, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))))
    union = _fill_holes(cv2.morphologyEx(cv2.bitwise_or(colour, edge_mask), cv2.MORPH_CLOSE, k))
    return [colour, edge_mask, union]


def locate(image_bgr: np.ndarray, min_fill: float = 0.03) -> Located | None:
    """Find the document: the largest near-convex region that stands out from the background."""
    h, w = image_bgr.shape[:2]
    scale = min(1.0, LOCATE_SIDE / max(h, w))
    small = cv2.resize(
        image_bgr, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA
    )
    sh, sw = small.shape[:2]
    best: tuple[float, Located] | None = None
    for mask in _candidate_masks(small):
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        if n <= 1:
            continue
        idx = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        area = float(stats[idx, cv2.CC_STAT_AREA])
        if area < min_fill * sh * sw:
            continue
        region = (labels == idx).astype(np.uint8) * 255
        contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        contour = max(contours, key=cv2.contourArea)
        quad = _quad_from_contour(contour)
        quad_area = float(cv2.contourArea(quad))
        if quad_area <= 0:
            continue
        solidity = min(1.0, area / quad_area)
        if area > 0.97 * sh * sw:  # the whole frame: nothing stands out
            continue
        ys, xs = np.nonzero(region)
        touch = int((xs <= 1).sum() + (xs >= sw - 2).sum() + (ys <= 1).sum() + (ys >= sh - 2).sum())
        if touch:
            margin = -touch / (2.0 * (sh + sw))
        else:
            margin = float(min(xs.min(), ys.min(), sw - 1 - xs.max(), sh - 1 - ys.max())) / min(
                sh, sw
            )
        located = Located(
            quad=quad / scale,
            fill=quad_area / (sh * sw),
            border_margin=margin,
            solidity=solidity,
            mask_small=region,
            scale=scale,
        )
        # Prefer convex regions; among those, the larger (a cut-off document is no quad).
        convexity = area / max(float(cv2.contourArea(cv2.convexHull(contour))), 1.0)
        rank = convexity * 2 + min(quad_area / (sh * sw), 0.9)
        if convexity < 0.85:
            rank -= 2
        if best is None or rank > best[0]:
            best = (rank, located)
    if best is None or best[1].solidity < 0.6:
        return None
    return best[1]


def quad_size(quad: np.ndarray) -> tuple[float, float]:
    top = np.linalg.norm(quad[1] - quad[0])
    bottom = np.linalg.norm(quad[2] - quad[3])
    left = np.linalg.norm(quad[3] - quad[0])
    right = np.linalg.norm(quad[2] - quad[1])
    return float(top + bottom) / 2, float(left + right) / 2


def rectify(image_bgr: np.ndarray, quad: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Perspective-correct the quadrilateral to ``size`` = (width, height)."""
    w, h = size
    dst = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
    m = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    return cv2.warpPerspective(
        image_bgr, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


# --- measurements on the rectified document --------------------------------------------


def _inner(doc: np.ndarray, frac: float = 0.03) -> np.ndarray:
    h, w = doc.shape[:2]
    dy, dx = int(h * frac), int(w * frac)
    return doc[dy : h - dy, dx : w - dx]


def sharpness(doc_bgr: np.ndarray, quad_width_px: float) -> float:
    """Focus measure on the document only: mean gradient energy of the finest scale over the
    mean edge contrast, at the resolution the camera actually captured (capped at 800 px)."""
    width = int(max(200, min(800, quad_width_px)))
    h = int(doc_bgr.shape[0] * width / doc_bgr.shape[1])
    g = cv2.cvtColor(
        cv2.resize(_inner(doc_bgr), (width, h), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY
    )
    g = g.astype(np.float32)
    lap = cv2.Laplacian(g, cv2.CV_32F, ksize=1)
    smooth = cv2.GaussianBlur(g, (0, 0), 2.0)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1)
    coarse = np.sqrt(gx * gx + gy * gy)
    strong = coarse > np.percentile(coarse, 90)
    if not strong.any():
        return 0.0
    return float(np.abs(lap)[strong].mean() / (coarse[strong].mean() + 1e-3) * 10)


def brightness(doc_bgr: np.ndarray) -> float:
    """Mean luminance (0-255) of the document."""
    return float(cv2.cvtColor(_inner(doc_bgr), cv2.COLOR_BGR2GRAY).mean())


def clipped_fraction(doc_bgr: np.ndarray, level: int = 250) -> float:
    """Share of the document's pixels that are blown out (all channels ≥ level)."""
    d = _inner(doc_bgr)
    return float((d.min(axis=2) >= level).mean())


def ink_floor(doc_bgr: np.ndarray) -> float:
    """The document's darkest ink (1st percentile of luminance, 0-255). Brighter light keeps
    printed ink dark; an overexposed photo lifts it towards grey with the highlights."""
    return float(np.percentile(cv2.cvtColor(_inner(doc_bgr), cv2.COLOR_BGR2GRAY), 1))


def _paper_plane(v: np.ndarray, cell: int = 10) -> np.ndarray:
    """The paper's brightness under the room's light, as a plane fitted (robustly, three
    passes dropping outliers) to the 80th percentile of each cell: ink, the portrait and a hot
    spot are outliers; an even or graded light is the plane."""
    h, w = v.shape
    hb, wb = h // cell, w // cell
    cells = v[: hb * cell, : wb * cell].reshape(hb, cell, wb, cell).transpose(0, 2, 1, 3)
    z = np.percentile(cells.reshape(hb, wb, -1), 80, axis=2).ravel()
    yy, xx = np.mgrid[0:hb, 0:wb].astype(np.float32)
    a = np.stack([np.ones(hb * wb, np.float32), xx.ravel() / wb, yy.ravel() / hb], 1)
    keep = np.ones_like(z, bool)
    coef = np.array([float(np.median(z)), 0.0, 0.0])
    for _ in range(3):
        if keep.sum() < 3:
            break
        coef, *_ = np.linalg.lstsq(a[keep], z[keep], rcond=None)
        r = z - a @ coef
        mad = float(np.median(np.abs(r[keep] - np.median(r[keep])))) * 1.48 + 1.0
        keep = np.abs(r) < 2.5 * mad
    py, px = np.mgrid[0:h, 0:w].astype(np.float32)
    plane: np.ndarray = coef[0] + coef[1] * px / (cell * wb) + coef[2] * py / (cell * hb)
    return plane


def glare_fraction(doc_bgr: np.ndarray, rise: float = 12.0, halo: float = 6.0) -> float:
    """Largest specular highlight over the document, as a share of its area.

    A highlight is what a reviewer sends back: a near-white, colourless blob that is brighter
    than the paper around it (``rise`` over the paper plane, :func:`_paper_plane`) and fades
    out through a halo of lifted paper (the ring 3-7 px outside the blob, at 320 px wide, sits
    ``halo`` levels over the plane at its 70th percentile), washing out the text or the
    portrait under it. A card that is bright all over, or bright on one side, is the plane
    itself and is not glare; nor is a white patch with a crisp edge (a portrait's white
    background, clipped under bright light), which has no halo."""
    small = cv2.resize(
        _inner(doc_bgr),
        (320, int(320 * doc_bgr.shape[0] / doc_bgr.shape[1])),
        interpolation=cv2.INTER_AREA,
    )
    s = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)[..., 1]
    v = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
    if min(v.shape) < 20:
        return 0.0
    plane = _paper_plane(v)
    hot_raw = ((v >= 245) & (s < 40) & (v >= plane + rise)).astype(np.uint8)
    hot = cv2.morphologyEx(hot_raw, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(hot)
    inner_k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    outer_k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))
    best = 0.0
    for i in range(1, n):
        area = float(stats[i, cv2.CC_STAT_AREA]) / hot.size
        if area < 0.001 or area <= best:
            continue
        comp = (lab == i).astype(np.uint8)
        ring = (cv2.dilate(comp, outer_k) > 0) & ~(cv2.dilate(comp, inner_k) > 0)
        if ring.any() and float(np.percentile(v[ring] - plane[ring], 70)) >= halo:
            best = area
    return best


def colour_spread(doc_bgr: np.ndarray) -> float:
    """How much real colour the document carries: 99th percentile of chroma distance from the
    document's median colour (a*, b*). A black-and-white copy stays near the noise floor even
    under a colour cast; the printed colours of a real card or licence do not."""
    small = cv2.resize(_inner(doc_bgr), (320, int(320 * doc_bgr.shape[0] / doc_bgr.shape[1])))
    lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB).astype(np.float32)
    a = lab[..., 1] - np.median(lab[..., 1])
    b = lab[..., 2] - np.median(lab[..., 2])
    chroma = np.sqrt(a * a + b * b)
    return float(np.percentile(chroma, 99))


def moire_score(image_bgr: np.ndarray, quad: np.ndarray) -> float:
    """Screen-recapture evidence at native resolution inside the document: the strongest
    isolated high-frequency peak of the spectrum (pixel grid / moiré), combined with
    high-frequency colour energy (sub-pixel stripes). Higher = more screen-like."""
    x0, y0 = quad.min(axis=0)
    x1, y1 = quad.max(axis=0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    side = int(min(256, (x1 - x0) * 0.5, (y1 - y0) * 0.5))
    side -= side % 2
    if side < 64:
        return 0.0
    ix, iy = int(cx - side / 2), int(cy - side / 2)
    ix = max(0, min(ix, image_bgr.shape[1] - side))
    iy = max(0, min(iy, image_bgr.shape[0] - side))
    patch = image_bgr[iy : iy + side, ix : ix + side].astype(np.float32)
    gray = patch.mean(axis=2)
    hp = gray - cv2.GaussianBlur(gray, (0, 0), 3)
    win = np.outer(np.hanning(side), np.hanning(side)).astype(np.float32)
    spec = np.abs(np.fft.fftshift(np.fft.fft2(hp * win)))
    yy, xx = np.mgrid[0:side, 0:side]
    r = np.hypot(yy - side / 2, xx - side / 2) / side
    # Printed text and guilloche put their energy below ~1/4 cycle per pixel; a pixel grid
    # seen through a camera leaves isolated peaks above that.
    band = (r > 0.25) & (r < 0.5)
    # JPEG's 8x8 block grid puts peaks at multiples of 1/8 cycle/pixel: not evidence.
    step = side / 8

    def near_grid(f: np.ndarray) -> np.ndarray:
        off = np.abs(f - side / 2) % step
        return np.minimum(off, step - off) <= 1.5

    band &= ~(near_grid(yy) & near_grid(xx))
    vals = spec[band]
    peak = float(np.log1p(vals.max()) - np.log1p(np.median(vals)))
    # Sub-pixel stripes: high-pass colour energy relative to high-pass luminance energy.
    lab = cv2.cvtColor(np.clip(patch, 0, 255).astype(np.uint8), cv2.COLOR_BGR2LAB).astype(
        np.float32
    )
    hp_ab = [lab[..., c] - cv2.GaussianBlur(lab[..., c], (0, 0), 3) for c in (1, 2)]
    hp_l = lab[..., 0] - cv2.GaussianBlur(lab[..., 0], (0, 0), 3)
    chroma_ratio = float(
        np.sqrt((hp_ab[0] ** 2 + hp_ab[1] ** 2).mean()) / max(float(np.sqrt((hp_l**2).mean())), 6.0)
    )
    return peak / 4.0 + 2.5 * chroma_ratio


def background_whiteness(image_bgr: np.ndarray, located: Located) -> float:
    """Share of the background (outside the document, away from its shadow) that is white:
    low saturation and bright relative to the photo's exposure."""
    small = cv2.resize(
        image_bgr,
        (located.mask_small.shape[1], located.mask_small.shape[0]),
        interpolation=cv2.INTER_AREA,
    )
    ring = cv2.dilate(located.mask_small, np.ones((15, 15), np.uint8))
    bg = ring == 0
    if bg.sum() < 0.02 * bg.size:
        return 1.0  # the document fills the frame: nothing to judge
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    s, v = hsv[..., 1][bg].astype(np.float32), hsv[..., 2][bg].astype(np.float32)
    ref = max(float(np.percentile(hsv[..., 2], 99)), 1.0)
    white = (s < 45) & (v > 0.72 * ref) & (v > 40)
    return float(white.mean())


def red_seal_score(doc_bgr: np.ndarray) -> float:
    """Evidence of a red seal: the largest red, roughly round blob, scored by its area share
    of the page times how round its outline is (0 when there is none)."""
    width = 500
    small = cv2.resize(doc_bgr, (width, int(width * doc_bgr.shape[0] / doc_bgr.shape[1])))
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    red_raw = (((h <= 10) | (h >= 165)) & (s >= 90) & (v >= 70)).astype(np.uint8) * 255
    red = cv2.morphologyEx(red_raw, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    contours, _ = cv2.findContours(red, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    best = 0.0
    for c in contours:
        (_, _), radius = cv2.minEnclosingCircle(c)
        if radius < 0.04 * width:
            continue
        circle_area = np.pi * radius * radius
        hull_area = cv2.contourArea(cv2.convexHull(c))
        roundness = hull_area / circle_area
        share = circle_area / red.size
        best = max(best, roundness * min(1.0, share / 0.01))
    return float(best)


def red_mark_score(doc_bgr: np.ndarray, min_radius: float, max_radius: float) -> float:
    """Evidence of a small red ink mark (a fingerprint in 印泥): the best red blob whose
    enclosing radius, as a share of the page width, is within [min_radius, max_radius],
    scored by how much of its hull the ink fills (0 when there is none). A presence test
    only: the ridges are not analysed, so any red mark of that size passes."""
    width = 500
    small = cv2.resize(doc_bgr, (width, int(width * doc_bgr.shape[0] / doc_bgr.shape[1])))
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    raw = (((h <= 10) | (h >= 165)) & (s >= 80) & (v >= 60)).astype(np.uint8) * 255
    red = cv2.morphologyEx(raw, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    contours, _ = cv2.findContours(red, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    best = 0.0
    for c in contours:
        (_, _), radius = cv2.minEnclosingCircle(c)
        if not (min_radius * width <= radius <= max_radius * width):
            continue
        hull = cv2.convexHull(c)
        hull_area = cv2.contourArea(hull)
        if hull_area <= 0:
            continue
        mask = np.zeros_like(red)
        cv2.drawContours(mask, [hull], -1, 255, -1)
        filled = float((red[mask > 0] > 0).mean())
        best = max(best, filled)
    return best


# --- authenticity: screens, copies, pasted portraits -----------------------------------
#
# Each function returns named signals (floats, higher = more evidence); analyzer.py combines
# them with the thresholds in DocThresholds and names every signal in the check's detail.


def _lab_small(image_bgr: np.ndarray, located: Located) -> tuple[np.ndarray, np.ndarray]:
    """The photo at locate scale (LAB float32) and the document's quad at that scale."""
    sh, sw = located.mask_small.shape[:2]
    small = cv2.resize(image_bgr, (sw, sh), interpolation=cv2.INTER_AREA)
    return _lab(small), located.quad * located.scale


def _lab(bgr: np.ndarray) -> np.ndarray:
    """CIELAB in float (L 0-100, a* b* signed): 8-bit LAB rounds chroma to whole units."""
    return cv2.cvtColor(bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2LAB)


def _side_profiles(
    lum: np.ndarray, quad: np.ndarray, outward: bool, depth: float, samples: int = 14
) -> list[np.ndarray]:
    """Luminance along normals of each side of ``quad`` (4 x samples x steps), going out of the
    quad (``outward``) or into it, up to ``depth`` x the quad's short side."""
    h, w = lum.shape
    centre = quad.mean(axis=0)
    qw, qh = quad_size(quad)
    steps = max(8, int(depth * min(qw, qh)))
    out: list[np.ndarray] = []
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        edge = b - a
        n = np.array([-edge[1], edge[0]], np.float32)
        n /= max(float(np.linalg.norm(n)), 1e-6)
        if np.dot(((a + b) / 2) - centre, n) < 0:
            n = -n
        if not outward:
            n = -n
        ts = np.linspace(0.15, 0.85, samples, dtype=np.float32)
        base = a[None] + ts[:, None] * edge[None]
        ds = np.arange(1, steps + 1, dtype=np.float32)
        pts = base[:, None, :] + ds[None, :, None] * n[None, None, :]
        xs = np.clip(pts[..., 0], 0, w - 1).astype(np.int32)
        ys = np.clip(pts[..., 1], 0, h - 1).astype(np.int32)
        prof = lum[ys, xs]
        inside = (pts[..., 0] >= 0) & (pts[..., 0] <= w - 1) & (pts[..., 1] >= 0)
        inside &= pts[..., 1] <= h - 1
        prof = np.where(inside, prof, np.nan)
        out.append(prof)
    return out


def _frame_sides(profiles: list[np.ndarray], dark: float, bright: float) -> tuple[float, float]:
    """How many sides show a dark straight band that is bounded on its far side by something
    brighter (a bezel, not a dark table): (sides with a band 0-4, straightness 0-1)."""
    sides = 0.0
    straight: list[float] = []
    for prof in profiles:
        found: list[float] = []
        for row in prof:
            valid = row[~np.isnan(row)]
            is_dark = valid < dark
            if not is_dark.any():
                continue
            start = int(np.argmax(is_dark))
            run_end = start
            while run_end < len(valid) and is_dark[run_end]:
                run_end += 1
            width = run_end - start
            if width < 2 or start > 0.6 * len(valid):
                continue
            beyond = valid[run_end:]
            if beyond.size >= 2 and float(np.median(beyond[: max(2, width)])) > bright:
                found.append(float(start))
        if len(found) >= 0.7 * prof.shape[0]:
            sides += 1
            pos = np.asarray(found)
            straight.append(float(np.std(pos - np.median(pos))))
    if not straight:
        return sides, 0.0
    return sides, float(np.clip(1.0 - np.mean(straight) / 6.0, 0.0, 1.0))


def bezel_score(image_bgr: np.ndarray, located: Located) -> float:
    """A phone or monitor frame around the document: a dark, straight-edged band outside the
    document's edge (or just inside the located region, when the whole phone was taken for
    the document) with something brighter beyond it. 0 (none) to 1 (all four sides)."""
    lab, quad = _lab_small(image_bgr, located)
    lum8 = np.clip(lab[..., 0] * 2.55, 0, 255).astype(np.uint8)
    lum = cv2.medianBlur(lum8, 3).astype(np.float32)
    ref = float(np.percentile(lum, 99))
    dark, bright = 0.28 * ref, 0.5 * ref
    best = 0.0
    for outward in (True, False):
        sides, straight = _frame_sides(_side_profiles(lum, quad, outward, 0.45), dark, bright)
        best = max(best, sides / 4.0 * (0.5 + 0.5 * straight))
    return float(best)


def screen_tone(doc_bgr: np.ndarray, image_bgr: np.ndarray, located: Located) -> dict[str, float]:
    """Tone signals of an emitting display (on the rectified document):

    - ``white_point``: how much bluer the document's whites are than the surroundings' whites
      (or than neutral when the document fills the photo), in b* units;
    - ``black_lift``: the document's darkest ink over its white (a display's black glows);
    - ``flat_light``: no paper shading: 1 - the low-frequency brightness slope over the
      document's light areas (emitted light is even, room light on paper is not)."""
    small = cv2.resize(_inner(doc_bgr), (320, int(320 * doc_bgr.shape[0] / doc_bgr.shape[1])))
    lab = _lab(small)
    L, bb = lab[..., 0], lab[..., 2]
    bright = np.percentile(L, 85) <= L
    doc_b = float(np.median(bb[bright]))
    glab, _ = _lab_small(image_bgr, located)
    ring = cv2.dilate(located.mask_small, np.ones((25, 25), np.uint8)) == 0
    bg_b = bg_chroma = 0.0
    if ring.sum() > 0.03 * ring.size:
        gl = glab[..., 0][ring]
        sel = gl >= np.percentile(gl, 70)
        bg_b = float(np.median(glab[..., 2][ring][sel]))
        bg_a = float(np.median(glab[..., 1][ring][sel]))
        bg_chroma = float(np.hypot(bg_a, bg_b))
    white_point = bg_b - doc_b
    ambient_blue = -bg_b if ring.sum() > 0.03 * ring.size else -doc_b
    lo = float(np.percentile(L, 0.5))
    hi = float(np.percentile(L, 99.5))
    black_lift = lo / max(hi, 1.0)
    # Light-area brightness on a coarse grid, fitted with a plane.
    gh, gw = 6, 10
    ch, cw = L.shape[0] // gh, L.shape[1] // gw
    blocks = L[: gh * ch, : gw * cw].reshape(gh, ch, gw, cw).transpose(0, 2, 1, 3)
    cells = np.percentile(blocks.reshape(gh, gw, -1), 90, axis=2).astype(np.float32)
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    a = np.column_stack([xx.ravel() / gw, yy.ravel() / gh, np.ones(gh * gw)])
    coef, *_ = np.linalg.lstsq(a, cells.ravel(), rcond=None)
    slope = float(np.hypot(coef[0], coef[1]) / max(float(cells.mean()), 1.0))
    return {
        "white_point": round(white_point, 3),
        "ambient_blue": round(ambient_blue, 3),
        "ambient_chroma": round(bg_chroma, 3),
        "black_lift": round(black_lift, 4),
        "flat_light": round(1.0 - min(1.0, slope / 0.08), 4),
    }


def banding_score(image_bgr: np.ndarray, located: Located) -> float:
    """Refresh banding: a periodic brightness ripple along the photo's rows (a screen's PWM
    dimming caught by the rolling shutter). Measured on each row's mean of the light pixels
    outside the document (a display's flat page around the card) and inside it; the peak of
    the row profile's spectrum over its median, the larger of the two (log units)."""
    h = image_bgr.shape[0]
    gray = cv2.cvtColor(image_bgr[:, ::3], cv2.COLOR_BGR2GRAY).astype(np.float32)
    mask = cv2.resize(located.mask_small, (gray.shape[1], h), interpolation=cv2.INTER_NEAREST)
    outside = cv2.dilate(mask, np.ones((31, 11), np.uint8)) == 0
    inside = cv2.erode(mask, np.ones((15, 5), np.uint8)) > 0
    best = 0.0
    for region in (outside, inside):
        if region.sum() < 64 * 64:
            continue
        # Light pixels only: text and drawings are not the screen's ripple. The cut is far
        # below the light level, so a ripple of a few per cent does not move pixels across it.
        ref = float(np.percentile(gray[region][::7], 80))
        sel = region & (gray >= 0.6 * ref)
        count = sel.sum(axis=1)
        ok_rows = count >= 16
        if ok_rows.sum() < 160:
            continue
        rows_all = (gray * sel).sum(axis=1) / np.maximum(count, 1)
        # The longest run of usable rows.
        idx = np.nonzero(ok_rows)[0]
        breaks = np.nonzero(np.diff(idx) > 1)[0]
        starts = np.concatenate([[0], breaks + 1])
        ends = np.concatenate([breaks + 1, [idx.size]])
        k = int(np.argmax(ends - starts))
        rows = rows_all[idx[starts[k] : ends[k]]]
        if rows.size < 160:
            continue
        trend = cv2.GaussianBlur(rows.reshape(-1, 1).astype(np.float32), (1, 0), 20).ravel()
        rel = (rows - trend) / np.maximum(trend, 1.0)
        n = len(rel)
        spec = np.abs(np.fft.rfft(rel * np.hanning(n)))
        freqs = np.fft.rfftfreq(n)
        band = (freqs > 1 / 120) & (freqs < 1 / 14)
        if band.sum() < 4:
            continue
        vals = spec[band]
        best = max(best, float(np.log1p(vals.max() / (np.median(vals) + 1e-9))))
    return best


def halftone_score(doc_bgr: np.ndarray) -> dict[str, float]:
    """Print-screen evidence on the rectified document (card axes):

    - ``halftone``: spectral peaks of a dot screen set at the angles printers use (15°, 45°,
      75°: well away from the card's axes, where a display's pixel grid and JPEG's block grid
      put theirs), over the spectrum's median (log units);
    - ``axis_peaks``: the same for peaks on the axes (a pixel grid or stripes)."""
    h, w = doc_bgr.shape[:2]
    side = int(min(256, h * 0.45, w * 0.45))
    side -= side % 2
    if side < 64:
        return {"halftone": 0.0, "axis_peaks": 0.0}
    best_off = best_axis = 0.0
    for cx, cy in ((0.3, 0.5), (0.7, 0.5)):
        ix = int(min(max(0, cx * w - side / 2), w - side))
        iy = int(min(max(0, cy * h - side / 2), h - side))
        patch = doc_bgr[iy : iy + side, ix : ix + side].astype(np.float32)
        gray = patch.mean(axis=2)
        # per ink: the high-passed minimum channel carries the yellow/cyan/magenta dots
        hp = gray - cv2.GaussianBlur(gray, (0, 0), 2.5)
        win = np.outer(np.hanning(side), np.hanning(side)).astype(np.float32)
        spec = np.abs(np.fft.fftshift(np.fft.fft2(hp * win)))
        # the inks differ in colour: a blue-minus-red image carries the yellow and cyan dots
        diff = patch[..., 0] - patch[..., 2]
        hpc = diff - cv2.GaussianBlur(diff, (0, 0), 2.5)
        spec = spec + 0.5 * np.abs(np.fft.fftshift(np.fft.fft2(hpc * win)))
        yy, xx = np.mgrid[0:side, 0:side]
        dy, dx = yy - side / 2, xx - side / 2
        r = np.hypot(dy, dx) / side
        ang = np.degrees(np.arctan2(np.abs(dy), np.abs(dx)))  # 0..90
        band = (r > 0.12) & (r < 0.46)
        off_axis = band & (ang > 8) & (ang < 82)
        on_axis = band & ((ang < 3) | (ang > 87))
        med = float(np.median(spec[band])) + 1e-6
        # + 1e-6: an exactly flat patch (a screenshot's UI) has no spectrum at all, log 0
        best_off = max(best_off, float(np.log((spec[off_axis].max() + 1e-6) / med)))
        best_axis = max(best_axis, float(np.log((spec[on_axis].max() + 1e-6) / med)))
    return {"halftone": round(best_off, 4), "axis_peaks": round(best_axis, 4)}


def paper_white(doc_bgr: np.ndarray) -> float:
    """Chroma of the document's light areas (C*ab, median of the brightest 30 %, unclipped
    pixels only): a card's printed background tint is gone on a copy, which shows the copier
    paper's plain white. When the light areas are mostly blown out in every channel, all of
    them are used (clipped white counts as white)."""
    small = cv2.resize(_inner(doc_bgr), (320, int(320 * doc_bgr.shape[0] / doc_bgr.shape[1])))
    lab = _lab(small)
    L = lab[..., 0]
    sel = np.percentile(L, 70) <= L
    # A tint survives one channel clipping (the others still show it); a pixel blown out in
    # every channel is white whatever was printed there.
    unclipped = small.min(axis=2) < 250
    use = sel & unclipped
    if use.sum() < 0.6 * sel.sum():
        # Mostly blown out: judged on the light areas as they are (a tint blown out in every
        # channel looks like copier paper; bench/doc_eval.py --split test run 1 lost 6 of 15
        # licence colour copies when this was "not judged").
        use = sel
    chroma = np.hypot(lab[..., 1][use], lab[..., 2][use])
    return float(np.median(chroma))


def _noise_map(gray: np.ndarray, block: int = 8) -> np.ndarray:
    """Per-block noise level (Immerkaer's estimator on a Laplacian residual), over the blocks
    that are not clipped: a blown-out (or crushed) block has lost its noise to the light, not
    to an editor."""
    lap = cv2.filter2D(
        gray, cv2.CV_32F, np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    )
    res = np.abs(lap)
    h, w = res.shape
    hb, wb = h // block, w // block
    if hb == 0 or wb == 0:
        return np.zeros((0,), np.float32)
    blocks = res[: hb * block, : wb * block].reshape(hb, block, wb, block)
    g = gray[: hb * block, : wb * block].reshape(hb, block, wb, block)
    unclipped = ((g.max(axis=(1, 3)) < 250) & (g.min(axis=(1, 3)) > 5)).ravel()
    # Immerkaer's estimator: sigma = sqrt(pi/2) / 6 * mean |L|
    out: np.ndarray = blocks.mean(axis=(1, 3)).ravel()[unclipped] * 0.2089
    return out


def _grid_strength(gray: np.ndarray) -> np.ndarray:
    """Blockiness per 8x8 phase: mean |horizontal + vertical step| at each column / row phase
    over the mean at the others (JPEG leaves steps at its own grid's block boundaries)."""
    dx = np.abs(np.diff(gray, axis=1)).mean(axis=0)
    dy = np.abs(np.diff(gray, axis=0)).mean(axis=1)
    out = np.zeros(8, np.float32)
    for k in range(8):
        sx = dx[k::8].mean() / (dx.mean() + 1e-6) if dx.size > 8 else 1.0
        sy = dy[k::8].mean() / (dy.mean() + 1e-6) if dy.size > 8 else 1.0
        out[k] = (sx + sy) / 2
    return out


def _grid_phases(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blockiness per 8x8 phase, robust to content: the median over rows (columns) of the
    absolute second difference at each column (row), averaged per phase and normalised to a
    mean of 1. Index k is the phase x % 8 of the pixel at the centre of the second difference,
    so a JPEG grid aligned with the crop shows at phases 7 and 0."""

    def phases(c: np.ndarray) -> np.ndarray:
        out = np.ones(8, np.float32)
        if c.size < 16:
            return out
        idx = (np.arange(c.size) + 1) % 8
        for k in range(8):
            out[k] = c[idx == k].mean()
        mean = float(out.mean())
        return out / (mean + 1e-6) if mean > 0 else np.ones(8, np.float32)

    d2x = np.abs(2 * gray[:, 1:-1] - gray[:, :-2] - gray[:, 2:])
    d2y = np.abs(2 * gray[1:-1, :] - gray[:-2, :] - gray[2:, :])
    return phases(np.median(d2x, axis=0)), phases(np.median(d2y, axis=1))


def _mid_noise(gray: np.ndarray, block: int = 16) -> float:
    """Noise a re-save at the photo's JPEG quality leaves: the 25th percentile, over unclipped
    16x16 blocks, of the spread of the residual after a sigma-1.5 blur."""
    r = gray - cv2.GaussianBlur(gray, (0, 0), 1.5)
    h, w = r.shape
    hb, wb = h // block, w // block
    if hb == 0 or wb == 0:
        return 0.0
    b = r[: hb * block, : wb * block].reshape(hb, block, wb, block)
    g = gray[: hb * block, : wb * block].reshape(hb, block, wb, block)
    ok = ((g.max(axis=(1, 3)) < 250) & (g.min(axis=(1, 3)) > 5)).ravel()
    spread = b.std(axis=(1, 3)).ravel()[ok]
    return float(np.percentile(spread, 25)) if spread.size else 0.0


def portrait_consistency(
    image_bgr: np.ndarray, quad: np.ndarray, box: tuple[float, float, float, float]
) -> dict[str, float]:
    """Does the portrait carry the same noise and JPEG history as the rest of the card?
    Measured on the photo's own pixels (no resampling). ``box`` is the portrait's place in
    the rectified document (fractions). Returns ``noise_ratio`` (|log| of the portrait's noise
    level over the card's, smooth blocks) and ``grid_shift`` (blockiness of an 8x8 grid at a
    phase other than the photo's own, portrait minus card), ``mid_noise`` (|log| of the
    noise one band lower, :func:`_mid_noise`), ``grid_native`` (the photo's own JPEG grid in
    the portrait minus in the card: negative when the portrait carries another compression's
    history) and ``grid_spread`` (how unevenly the other grid phases show in the portrait)."""
    src = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32)
    m = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    x0, y0, x1, y1 = box
    inset = 0.12
    px0, px1 = x0 + (x1 - x0) * inset, x1 - (x1 - x0) * inset
    py0, py1 = y0 + (y1 - y0) * inset, y1 - (y1 - y0) * inset
    pq = cv2.perspectiveTransform(
        np.array([[[px0, py0], [px1, py0], [px1, py1], [px0, py1]]], np.float32), m
    )[0]
    ih, iw = image_bgr.shape[:2]
    ax0, ay0 = int(max(0, pq[:, 0].min())), int(max(0, pq[:, 1].min()))
    ax1, ay1 = int(min(iw, pq[:, 0].max())), int(min(ih, pq[:, 1].max()))
    # The card's reference: the band left of the portrait, between the text columns.
    # (left of the portrait on the ID card, right of it on a passport's data page).
    rx0, rx1 = (0.05, x0 - 0.03) if x0 > 0.3 else (x1 + 0.03, 0.95)
    rq = cv2.perspectiveTransform(
        np.array([[[rx0, 0.08], [rx1, 0.08], [rx1, 0.75], [rx0, 0.75]]], np.float32), m
    )[0]
    bx0, by0 = int(max(0, rq[:, 0].min())), int(max(0, rq[:, 1].min()))
    bx1, by1 = int(min(iw, rq[:, 0].max())), int(min(ih, rq[:, 1].max()))
    if ax1 - ax0 < 32 or ay1 - ay0 < 32 or bx1 - bx0 < 32 or by1 - by0 < 32:
        return {
            "noise_ratio": 0.0,
            "grid_shift": 0.0,
            "mid_noise": 0.0,
            "grid_native": 0.0,
            "grid_spread": 0.0,
        }
    gray = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    # Align the crops on the photo's 8x8 grid so phase 0 means the photo's own grid.
    ax0, ay0, bx0, by0 = ax0 - ax0 % 8, ay0 - ay0 % 8, bx0 - bx0 % 8, by0 - by0 % 8
    por, ref = gray[ay0:ay1, ax0:ax1], gray[by0:by1, bx0:bx1]
    np_, nr = _noise_map(por), _noise_map(ref)
    # Smooth blocks only: edges of the face or of text are not noise.
    pn = float(np.percentile(np_, 25)) if np_.size else 0.0
    rn = float(np.percentile(nr, 25)) if nr.size else 0.0
    noise_ratio = abs(float(np.log((pn + 0.1) / (rn + 0.1))))
    gp, gr = _grid_strength(por), _grid_strength(ref)
    # Phase 7 -> 0 steps are the photo's own grid (diff index 7 = boundary between 7 and 8).
    other = [k for k in range(8) if k != 7]
    grid_shift = float(max(gp[other]) - max(gr[other]))
    # The same noise a band lower: what survives the photo's own JPEG (a beauty-filtered or a
    # grainier face differs from the card here even when the finest scale was quantised away).
    mid_noise = abs(float(np.log((_mid_noise(por) + 0.1) / (_mid_noise(ref) + 0.1))))
    # JPEG history: the photo's own 8x8 grid (phases 7 and 0) is weaker in a portrait that was
    # compressed before on a grid of its own, whose blocks show at the other phases.
    px, py = _grid_phases(por)
    rx, ry = _grid_phases(ref)
    native = float((px[0] + px[7] + py[0] + py[7]) / 4 - (rx[0] + rx[7] + ry[0] + ry[7]) / 4)
    spread = float(np.std(px[1:7]) + np.std(py[1:7]))
    return {
        "noise_ratio": round(noise_ratio, 4),
        "grid_shift": round(grid_shift, 4),
        "mid_noise": round(mid_noise, 4),
        "grid_native": round(native, 4),
        "grid_spread": round(spread, 4),
    }
