"""The photos a filing system sends back (issue 16 item 6), as checks on any document photo.
Pure numpy/OpenCV: a BGR photo (and where the analyser found the document) in, one
:class:`~app.inference.checks.Check` per rule out, every signal scored and named in the
check's ``detail``.

- ``SCREENSHOT_SUSPECTED``: a phone screenshot rather than a camera photo. A camera never
  gives exactly equal pixels over a block (sensor noise) except where it clips to white;
  a screenshot's app chrome is exact flat colour (``exact_flat``), its top rows are a status
  bar: exact background with glyphs (time, signal, battery) only at the two ends
  (``status_bar``); and it has a phone screen's tall shape (``screen_shape``, weak).
- ``STITCHED_IMAGE``: several photos pasted together: a straight seam across the whole
  height (or width) where the content steps in every band of rows (``seam``), each side
  holding a document of its own (``documents``), or a collage app's flat gap.
- ``WATERMARK_PRESENT``: a translucent text or logo laid over the photo: structured strokes
  on the table around the document where a camera only sees flat table and noise
  (``background_marks``), and text strokes at a slant no printed card has
  (``slanted_text``: gradient orientation peaks off the document's axes).
- ``FILTER_APPLIED``: a beauty / colour filter or the phone's "证件模式" background blur: the
  sensor noise floor smoothed away (``noise_floor``), the surroundings' noise far below the
  document's (``background_noise_ratio``: blurred around a sharp card), a tinted white
  (``white_tint``).

Thresholds live in :class:`RejectThresholds`, set on the tuning split of bench/doc_eval.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from app.inference.checks import Check, check

# In the order a refusal is told: the first explains the others.
CODES = ("SCREENSHOT_SUSPECTED", "STITCHED_IMAGE", "FILTER_APPLIED", "WATERMARK_PRESENT")
LEADS = CODES[:2]  # told before every other refusal (add_rejected_checks)


@dataclass(frozen=True)
class RejectThresholds:
    """Every threshold of the rejected-photo rules (bench/doc_eval.py --split tune)."""

    # SCREENSHOT_SUSPECTED
    min_exact_flat: float = 0.10  # share of non-white 8x8 blocks with every pixel equal
    min_status_bar: float = 0.2  # share of the status bar's rows: flat middle, glyph ends
    screen_aspect: tuple[float, float] = (1.95, 2.4)  # height / width of a phone screen
    # STITCHED_IMAGE
    min_seam: float = 0.5  # share of row bands stepping at one column
    min_full_seam: float = 0.97  # ... through every band: one whole document beside it suffices
    min_side_document: float = 0.03  # a whole document on each side: its share of that side
    # WATERMARK_PRESENT
    max_background_marks: float = 0.02  # share of the table's blocks holding strokes
    max_mark_cluster: float = 30.0  # 8x8 blocks of one connected mark on the table
    max_repeat_background: float = 0.3  # autocorrelation peak of the table's fine detail
    # Reported, not decisive (tuning split: clean licences reach 1.84 and 0.55, a tiled
    # watermark 1.4-2.3 and 0.3-0.45): off-axis stroke orientations (``slanted_text``),
    # the document's own repetition (``repeat_document``).
    # FILTER_APPLIED
    min_noise_floor: float = 0.45  # grey levels: the photo's sensor noise floor (mid-tones)
    max_jpeg_step: float = 6.0  # a coarser JPEG explains a low noise floor by itself
    min_background_noise_ratio: float = 0.35  # surroundings' noise / the document's ...
    min_background_noise: float = 0.25  # ... and the surroundings' own noise below this
    max_white_tint: float = 12.0  # C*ab of the surroundings' white


# --- small measurements -------------------------------------------------------------------


def _blocks(a: np.ndarray, b: int) -> np.ndarray:
    """(H/b, W/b, b, b[, C]) view of the whole blocks of ``a``."""
    h, w = a.shape[:2]
    a = a[: h - h % b, : w - w % b]
    shape = (h // b, b, w // b, b, *a.shape[2:])
    return a.reshape(shape).swapaxes(1, 2)


def exact_flat(image: np.ndarray) -> float:
    """Share of 8x8 blocks (not clipped white) whose pixels are all equal (±1)."""
    blk = _blocks(image, 8).astype(np.int16)
    spread = (blk.max(axis=(2, 3)) - blk.min(axis=(2, 3))).max(axis=-1)
    judged = blk.mean(axis=(2, 3, 4)) < 250
    if judged.sum() == 0:
        return 0.0
    return float(((spread <= 1) & judged).sum() / judged.sum())


def status_bar(image: np.ndarray) -> float:
    """Share of the top rows (a status bar's height) whose middle is one exact colour and
    whose two ends hold glyphs (time; signal, battery), given the band's middle is one
    colour throughout and quiet rows above or below the glyphs."""
    h, w = image.shape[:2]
    band = image[: max(8, int(h * 0.045))].astype(np.int16)
    bg = np.median(band[:, int(w * 0.35) : int(w * 0.55)].reshape(-1, 3), axis=0)
    same = (np.abs(band - bg).max(axis=2) <= 2).astype(np.float32)
    middle = same[:, int(w * 0.3) : int(w * 0.55)].mean(axis=1)
    left = 1 - same[:, : int(w * 0.25)].mean(axis=1)
    right = 1 - same[:, int(w * 0.6) :].mean(axis=1)
    flat_rows = middle >= 0.995
    if flat_rows.mean() < 0.9:
        return 0.0
    glyphs = flat_rows & (left > 0.01) & (right > 0.01)
    quiet = flat_rows & (left < 0.01) & (right < 0.01)
    if quiet.sum() < 2:
        return 0.0
    return float(glyphs.sum() / max(1, flat_rows.sum()))


def _seam_1d(gray: np.ndarray, band: int = 16, keep: int = 3) -> list[tuple[float, int]]:
    """Vertical seam candidates: per column, the share of row bands whose mean step there
    stands out of that band's own column steps. Returns the ``keep`` best (score, column),
    at least 5 % of the width apart."""
    h, w = gray.shape
    if h // band < 4 or w < 40:
        return []
    d = np.diff(gray, axis=1)
    nb = h // band
    bands = d[: nb * band].reshape(nb, band, -1).mean(axis=1)
    noise = np.median(np.abs(bands), axis=1, keepdims=True) * 1.4826 + 1e-3
    strong = np.abs(bands) > np.maximum(6 * noise, 1.5)
    strong = strong | np.roll(strong, 1, axis=1)  # a step over two columns (resampled)
    cover = strong.mean(axis=0)
    lo, hi = int(w * 0.05), int(w * 0.95)
    cover[:lo] = 0
    cover[hi:] = 0
    out: list[tuple[float, int]] = []
    for _ in range(keep):
        x = int(np.argmax(cover))
        out.append((float(cover[x]), x))
        cover[max(0, x - w // 20) : x + w // 20] = 0
    return out


def seams(image: np.ndarray) -> list[dict[str, float]]:
    """Straight seam candidates across the whole photo, vertical and horizontal, best first."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    s = 1024 / max(gray.shape)
    if s < 1:
        gray = np.asarray(cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA))
    out = [
        {"seam": round(v, 4), "axis": 1.0, "at": round((x + 1) / gray.shape[1], 4)}
        for v, x in _seam_1d(gray)
    ] + [
        {"seam": round(v, 4), "axis": 0.0, "at": round((y + 1) / gray.shape[0], 4)}
        for v, y in _seam_1d(gray.T)
    ]
    return sorted(out, key=lambda d: -d["seam"])


def _noise_blocks(gray: np.ndarray, block: int = 8) -> np.ndarray:
    """Per-block sensor-noise estimate: the std of the image minus its 3x3 box blur."""
    res = gray - cv2.blur(gray, (3, 3))
    return np.asarray(_blocks(res, block).std(axis=(2, 3)))


def _region_noise(noise: np.ndarray, usable: np.ndarray, mask: np.ndarray) -> float:
    """Noise floor (20th percentile) of the usable blocks in ``mask``; NaN when too few."""
    vals = noise[mask & usable]
    if vals.size < 20:
        return float("nan")
    return float(np.percentile(vals, 20))


def jpeg_step(gray: np.ndarray) -> float:
    """The JPEG quantisation step of the lowest AC coefficients, read back from the pixels
    (8x8 DCT on the JPEG grid): the largest step whose multiples the coefficients sit on.
    1-4 = no coarse quantisation (PNG, a fine JPEG); a coarse JPEG flattens the sensor
    noise by itself, so a smooth photo is then not blamed on a filter."""
    blk = _blocks(gray - 128.0, 8).reshape(-1, 8, 8)
    k = np.arange(8)[:, None]
    n = np.arange(8)[None, :]
    d = np.sqrt(np.where(k == 0, 1.0, 2.0) / 8) * np.cos((2 * n + 1) * k * np.pi / 16)
    coef = np.einsum("ij,bjk,lk->bil", d, blk, d)
    c = np.concatenate([coef[:, 0, 1], coef[:, 1, 0], coef[:, 1, 1]])
    best = 1.0
    for q in range(2, 25):
        sel = np.abs(c) >= 0.6 * q
        if sel.sum() < 200:
            break
        r = c[sel] / q
        if float(np.mean(np.abs(r - np.round(r)))) < 0.12:
            best = float(q)
    return best


def slanted_text(gray: np.ndarray) -> float:
    """Peak of stroke orientations off the axes (15°-75° with its perpendicular), against
    the median off-axis level; printed documents are drawn on their axes."""
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.hypot(gx, gy).ravel()
    ang = (np.degrees(np.arctan2(gy, gx)) % 180.0).ravel()
    near_clip = cv2.dilate((gray >= 250).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    keep = (mag > 8) & (mag < 120) & ~near_clip.ravel()  # faint strokes, not black ink
    hist, _ = np.histogram(ang[keep], bins=180, range=(0, 180), weights=mag[keep])
    hist = hist + np.roll(hist, -90)
    hist = np.convolve(np.concatenate([hist, hist[:4]]), np.ones(5) / 5, mode="valid")[:180]
    off = hist[15:76]
    if off.mean() <= 0:
        return 0.0
    return float(off.max() / max(float(np.median(off)), 1e-6))


def repeated_pattern(gray: np.ndarray, mask: np.ndarray, min_rms: float = 0.3) -> float:
    """A tiled watermark repeats: the strongest autocorrelation peak of the fine detail in
    ``mask`` away from zero lag, as a share of the zero-lag energy (per overlap). Noise
    and a single document give a small value; the same text stamped every few
    centimetres does not. Strong edges are clipped so that one outline does not dominate.
    NaN when the mask is too small to judge."""
    side = 512
    s = side / max(gray.shape)
    g = cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else gray
    m8 = cv2.resize(
        mask.astype(np.uint8), (g.shape[1], g.shape[0]), interpolation=cv2.INTER_NEAREST
    )
    m = cv2.erode(m8, np.ones((5, 5), np.uint8)).astype(np.float32)
    if m.sum() < 0.1 * m.size:
        return float("nan")
    hp = cv2.GaussianBlur(g, (0, 0), 0.8) - cv2.GaussianBlur(g, (0, 0), 3.0)
    hp = np.clip(hp, -12, 12) * m
    hp -= hp.sum() / m.sum() * m
    if float(np.sqrt((hp**2).sum() / m.sum())) < min_rms:
        return 0.0  # no fine detail at all (a blurred table): nothing repeats
    shape = (2 * hp.shape[0], 2 * hp.shape[1])
    ac = np.fft.fftshift(np.fft.irfft2(np.abs(np.fft.rfft2(hp, s=shape)) ** 2, s=shape))
    norm = np.fft.fftshift(np.fft.irfft2(np.abs(np.fft.rfft2(m, s=shape)) ** 2, s=shape))
    cy, cx = shape[0] // 2, shape[1] // 2
    zero = float(ac[cy, cx])
    if zero <= 0:
        return 0.0
    ok = norm > 0.3 * norm.max()  # lags computed on enough overlap only
    r = np.where(ok, ac / np.maximum(norm, 1e-6) * norm.max() / zero, 0.0)
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    r[(yy - cy) ** 2 + (xx - cx) ** 2 < 12**2] = 0.0  # the strokes' own width
    return float(r.max())


def white_tint(image: np.ndarray, mask: np.ndarray) -> float:
    """Chroma (C*ab) of the bright part of ``mask``: a white table's tint."""
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB).astype(np.float32)
    sel = mask & (lab[..., 0] > 150)
    if sel.sum() < 100:
        return 0.0
    a = float(np.median(lab[..., 1][sel])) - 128
    b = float(np.median(lab[..., 2][sel])) - 128
    return float(np.hypot(a, b))


# --- the rules ----------------------------------------------------------------------------


def _doc_mask(shape: tuple[int, int], quad: np.ndarray | None, grow: float) -> np.ndarray:
    """The document's quad scaled by ``grow`` about its centre, as a boolean mask."""
    m = np.zeros(shape, np.uint8)
    if quad is not None:
        c = quad.mean(axis=0)
        cv2.fillConvexPoly(m, (c + (quad - c) * grow).astype(np.int32), 1)
    return m.astype(bool)


def rejected_checks(
    image_bgr: np.ndarray,
    quad: np.ndarray | None,
    t: RejectThresholds | None = None,
    *,
    locate: Callable[[np.ndarray], object | None] | None = None,
) -> list[Check]:
    """The four rules on one photo. ``quad``: the document's corners in ``image_bgr`` (tl,
    tr, br, bl), None when the document fills the frame (a sheet). ``locate``: finds a
    document in a part of the photo (``.fill``, ``.border_margin``); the analyser passes
    :func:`app.documents.quality.locate`. Without it a seam alone is not judged."""
    t = t or RejectThresholds()
    h, w = image_bgr.shape[:2]
    out: list[Check] = []

    # SCREENSHOT_SUSPECTED. Exact flat blocks alone are no proof (a coarse JPEG and a
    # smoothing filter flatten a plain table too); a status bar is.
    flat = exact_flat(image_bgr)
    bar = status_bar(image_bgr)
    aspect = max(h, w) / max(1, min(h, w))
    points: dict[str, int] = {}
    if flat >= t.min_exact_flat:
        points["exact_flat"] = 1
    if bar >= t.min_status_bar:
        points["status_bar"] = 2
    if t.screen_aspect[0] <= aspect <= t.screen_aspect[1]:
        points["screen_shape"] = 1
    score = sum(points.values())
    out.append(
        check(
            "SCREENSHOT_SUSPECTED",
            score < 2,
            float(score),
            2.0,
            detail={
                "signals": {
                    "exact_flat": round(flat, 4),
                    "status_bar": round(bar, 4),
                    "screen_shape": round(aspect, 3),
                },
                "evidence": sorted(points) if score >= 2 else [],
            },
        )
    )

    # STITCHED_IMAGE: a straight seam across the whole photo with a whole document (not
    # touching the cut) on each side of it, or on one side of a seam through every band of
    # rows (no camera photo's document edge in the tuning split went past 0.89; a third
    # pasted photo makes the other side's "document" two). A single document's straight
    # edge is a seam too, but cutting there leaves the document touching the cut.
    best: dict[str, object] = {}
    stitched = False
    for sm in seams(image_bgr):
        docs: list[float] = []
        if sm["seam"] >= t.min_seam and callable(locate):
            if sm["axis"] == 1.0:
                x = round(sm["at"] * w)
                sides = [image_bgr[:, : x - 2], image_bgr[:, x + 2 :]]
            else:
                y = round(sm["at"] * h)
                sides = [image_bgr[: y - 2], image_bgr[y + 2 :]]
            for side in sides:
                found = locate(side) if min(side.shape[:2]) >= 64 else None
                whole = found is not None and float(getattr(found, "border_margin", -1)) > 0
                fill = float(getattr(found, "fill", 0.0)) if found is not None else 0.0
                docs.append(round(fill, 4) if whole else 0.0)
        n_whole = sum(d >= t.min_side_document for d in docs)
        hit = n_whole == 2 or (n_whole == 1 and sm["seam"] >= t.min_full_seam)
        if not best or hit:
            best = {
                "seam": sm["seam"],
                "seam_axis": "vertical" if sm["axis"] == 1.0 else "horizontal",
                "seam_at": sm["at"],
                "documents": docs,
            }
        if hit:
            stitched = True
            break
    out.append(
        check(
            "STITCHED_IMAGE",
            not stitched,
            float(best["seam"]),  # type: ignore[arg-type]
            t.min_seam,
            detail={"signals": best, "evidence": ["seam", "documents"] if stitched else []},
        )
    )

    # Measurements shared by the watermark and filter rules: noise per block, the document
    # and its surroundings (a margin around the card is neither).
    gray = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)
    nb = _noise_blocks(gray)
    gblk = _blocks(gray, 8)
    unclipped = (gblk.max(axis=(2, 3)) < 250) & (gblk.min(axis=(2, 3)) > 5)
    # The noise floor is read on mid-tones: near white or black the camera clips its noise.
    gmean = gblk.mean(axis=(2, 3))
    mid = unclipped & (gmean > 20) & (gmean < 225)
    inside = _doc_mask((h, w), quad, 0.9)
    around = ~_doc_mask((h, w), quad, 1.12) if quad is not None else np.zeros((h, w), bool)
    ib = np.asarray(_blocks(inside, 8).all(axis=(2, 3)))
    ab = np.asarray(_blocks(around, 8).all(axis=(2, 3)))
    all_b = np.ones_like(ib)
    floor = _region_noise(nb, mid, all_b)
    doc_noise = _region_noise(nb, mid, ib) if quad is not None else floor
    bg_noise = _region_noise(nb, unclipped, ab)

    # WATERMARK_PRESENT
    marks = float("nan")
    cluster = 0.0
    if ab.sum() >= 50 and bg_noise == bg_noise:
        # A block holds strokes when its residual is far above the surroundings' noise
        # floor (or it has edges: the text's outline after JPEG).
        gmag = cv2.Laplacian(cv2.GaussianBlur(gray, (0, 0), 1.0), cv2.CV_32F)
        lb = np.abs(_blocks(gmag, 8)).max(axis=(2, 3))
        ref = float(np.percentile(lb[ab], 50)) + 1e-3
        # Blown-out areas (a bright table) are not judged; small clipped blobs (a white
        # mark's letters) are.
        clip_u8 = np.asarray(~unclipped, np.uint8)
        n_c, lab_c, st_c, _ = cv2.connectedComponentsWithStats(clip_u8, connectivity=8)
        big = np.zeros(n_c, bool)
        big[1:] = st_c[1:, cv2.CC_STAT_AREA] > 0.01 * clip_u8.size
        clipped_near = cv2.dilate(big[lab_c].astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        judged = ab & ~clipped_near
        # A table blown out to white hides a watermark as well: judged on enough of it only.
        if judged.sum() >= max(200, 0.15 * ab.sum()):
            marked = (lb > max(6 * ref, 6.0)) & judged
            marks = float(marked.sum() / judged.sum())
            closed = cv2.morphologyEx(
                marked.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)
            )
            n, _, stats, _ = cv2.connectedComponentsWithStats(
                np.asarray(closed & judged.astype(np.uint8), np.uint8), connectivity=8
            )
            cluster = float(stats[1:, cv2.CC_STAT_AREA].max()) if n > 1 else 0.0
    unclipped_px = cv2.erode((gray < 250).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    rep_bg = repeated_pattern(gray, around & unclipped_px) if quad is not None else float("nan")
    rep_doc = (
        repeated_pattern(gray, inside)
        if quad is not None
        else repeated_pattern(gray, np.ones((h, w), bool))
    )
    slant = slanted_text(gray[::2, ::2] if max(h, w) > 1600 else gray)
    wm_points = []
    if marks == marks and marks > t.max_background_marks:
        wm_points.append("background_marks")
    if cluster >= t.max_mark_cluster:
        wm_points.append("mark_cluster")
    if rep_bg == rep_bg and rep_bg > t.max_repeat_background:
        wm_points.append("repeat_background")

    out.append(
        check(
            "WATERMARK_PRESENT",
            not wm_points,
            None if rep_bg != rep_bg else round(rep_bg, 4),
            t.max_repeat_background,
            detail={
                "signals": {
                    "background_marks": None if marks != marks else round(marks, 4),
                    "mark_cluster": cluster,
                    "repeat_background": None if rep_bg != rep_bg else round(rep_bg, 4),
                    "repeat_document": None if rep_doc != rep_doc else round(rep_doc, 4),
                    "slanted_text": round(slant, 3),
                },
                "evidence": wm_points,
            },
        )
    )

    # FILTER_APPLIED
    ratio = bg_noise / doc_noise if bg_noise == bg_noise and doc_noise > 0 else float("nan")
    tint = white_tint(image_bgr, around) if quad is not None else 0.0
    f_points = []
    over: list[str] = []
    step = jpeg_step(gray)
    # The absolute noise floor is reported, not decisive: it depends on the camera's noise
    # and JPEG (the test split's clean photos, another camera model, read 0.25-0.45 where
    # the tuning split's read >= 0.67; bench/doc_eval_rejected_test.txt). A filter is told
    # by the table's noise against the card's from the same camera.
    if floor == floor and floor < t.min_noise_floor and step <= t.max_jpeg_step:
        over.append("noise_floor")
    if (
        ratio == ratio
        and ratio < t.min_background_noise_ratio
        and bg_noise < t.min_background_noise
    ):
        f_points.append("background_noise_ratio")
    if tint > t.max_white_tint:
        f_points.append("white_tint")
    out.append(
        check(
            "FILTER_APPLIED",
            not f_points,
            None if floor != floor else round(floor, 4),
            t.min_noise_floor,
            detail={
                "signals": {
                    "noise_floor": None if floor != floor else round(floor, 4),
                    "document_noise": None if doc_noise != doc_noise else round(doc_noise, 4),
                    "background_noise": None if bg_noise != bg_noise else round(bg_noise, 4),
                    "background_noise_ratio": None if ratio != ratio else round(ratio, 4),
                    "white_tint": round(tint, 3),
                    "jpeg_step": step,
                },
                "evidence": f_points,
                "signals_over": over,
            },
        )
    )
    return out


def add_rejected_checks(
    checks: list[Check],
    image_bgr: np.ndarray,
    quad: np.ndarray | None,
    t: RejectThresholds | None = None,
    *,
    locate: Callable[[np.ndarray], object | None] | None = None,
) -> None:
    """The analyser's hook: append the four rules to ``checks``; a refused screenshot or
    collage goes first. The capture answer shows the first refusal's message, and a
    screenshot or a collage explains the other refusals it causes (its flat UI pixels look
    like a copy's lost colour, its second card like a pasted portrait): the person is told to
    take one plain camera photo, not to fix those. A watermark or a filter explains nothing
    else: they stay behind the checks before them, so a screen recapture or a photocopy that
    also trips them is still told as what it is."""
    checks.extend(rejected_checks(image_bgr, quad, t, locate=locate))
    checks.sort(key=lambda c: LEADS.index(c.code) if not c.passed and c.code in LEADS else 9)
