"""Colour-flash liveness: the face must reflect a server-chosen sequence of screen colours.

The challenge carries a short random sequence of full-screen colours with timings (relative
to the moment the client starts recording). The phone shows them during the capture; a real
face a few tens of centimetres from the screen picks up the screen's light, so the chroma of
its skin follows the sequence in time. A pre-recorded or injected video made without the
sequence cannot (peers: Alibaba 炫彩, AWS Rekognition light challenge, Baidu 炫瞳).

The scorer measures, per frame, the mean colour of three skin patches inside the MediaPipe
mesh (forehead, both cheeks; kept apart, and dropped where a turned head shows only a sliver)
and of the surround beside and above the head. Both are taken to linear light and logged;
their difference cancels what the camera does to the whole frame (auto white balance,
exposure) and keeps what the screen does to the near face only: the far wall gets almost
none of the screen's light. At each boundary of the sequence (white -> first colour -> ... ->
white) the change of that difference over short windows on both sides must point in the
expected chroma direction. One strength is fitted to all changes, weighting each chroma
direction by the capture's own drift (skin chroma wanders mostly along one axis as the head
turns), and the client clock's offset (up to ``max_offset_s``) is searched. A whole-frame
tint (an injected video coloured in the asked colours) moves the surround with the face and
is refused by ``max_tint_ratio``; every other colour sequence with the same timings is also
fitted, so ``detail["alternative_margin"]`` says whether the asked colours are the best
explanation.

Pure: numpy arrays and dataclasses in, a :class:`FlashResult` out. The thresholds were tuned
on labelled-synthetic reflections (``bench/flash_eval.py``); real reflections on real phones
need field tuning before a deployment relies on them.
"""

from __future__ import annotations

import itertools
import math
import random
import secrets
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from app.inference.checks import Check, check

FLASH_NOT_SEEN = "FLASH_NOT_SEEN"
FLASH_SEQUENCE_WRONG = "FLASH_SEQUENCE_WRONG"

# Full-saturation screen colours, RGB order (what the client paints): the six corners of
# the RGB cube other than black and white, 60° apart around the chroma plane.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0),
    "yellow": (255, 255, 0),
    "green": (0, 255, 0),
    "cyan": (0, 255, 255),
    "blue": (0, 0, 255),
    "magenta": (255, 0, 255),
}


@dataclass(frozen=True, slots=True)
class FlashStep:
    """Show ``rgb`` full-screen from ``start_s`` for ``duration_s`` (s from recording start)."""

    colour: str
    rgb: tuple[int, int, int]  # R, G, B as the client paints it
    start_s: float
    duration_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


def make_flash_sequence(
    rng: random.Random | secrets.SystemRandom,
    *,
    steps: int = 4,
    min_duration_s: float = 0.3,
    max_duration_s: float = 0.6,
    lead_s: tuple[float, float] = (0.8, 1.2),
    palette: dict[str, tuple[int, int, int]] | None = None,
) -> list[FlashStep]:
    """A random sequence of ``steps`` back-to-back flashes, no two consecutive alike.

    The first flash starts ``lead_s`` after recording starts; before it and after the last
    one the client shows its normal light page, which is the scorer's no-flash baseline.
    Times are rounded to 10 ms. Use ``secrets.SystemRandom()`` for real challenges.
    """
    pal = PALETTE if palette is None else palette
    if steps < 1 or len(pal) < 2:
        raise ValueError("need at least one step and two palette colours")
    if not 0 < min_duration_s <= max_duration_s:
        raise ValueError("durations must be positive and ordered")
    names = sorted(pal)
    t = round(rng.uniform(*lead_s), 2)
    out: list[FlashStep] = []
    prev = ""
    for _ in range(steps):
        colour = rng.choice([n for n in names if n != prev])
        dur = round(rng.uniform(min_duration_s, max_duration_s), 2)
        out.append(FlashStep(colour, pal[colour], t, dur))
        t = round(t + dur, 2)
        prev = colour
    return out


def flash_to_json(sequence: list[FlashStep]) -> list[dict[str, Any]]:
    """The sequence as JSON-ready dicts (stored in the challenge's spec, sent to the client)."""
    return [
        {"colour": s.colour, "rgb": list(s.rgb), "start_s": s.start_s, "duration_s": s.duration_s}
        for s in sequence
    ]


def flash_from_json(data: object) -> list[FlashStep]:
    """Parse :func:`flash_to_json` output; ``ValueError`` on anything malformed."""
    if not isinstance(data, list):
        raise ValueError("flash sequence must be a list")
    out: list[FlashStep] = []
    for item in data:
        if not isinstance(item, dict):
            raise ValueError("flash step must be an object")
        try:
            colour = str(item["colour"])
            rgb_raw = item["rgb"]
            start, dur = float(item["start_s"]), float(item["duration_s"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError("flash step needs colour, rgb, start_s, duration_s") from exc
        if not (isinstance(rgb_raw, list | tuple) and len(rgb_raw) == 3):
            raise ValueError("flash rgb must have three components")
        rgb = (int(rgb_raw[0]), int(rgb_raw[1]), int(rgb_raw[2]))
        if not all(0 <= c <= 255 for c in rgb):
            raise ValueError("flash rgb components must be 0..255")
        if not (math.isfinite(start) and math.isfinite(dur)) or start < 0 or dur <= 0:
            raise ValueError("flash timings must be finite, start >= 0 and duration > 0")
        out.append(FlashStep(colour, rgb, start, dur))
    return out


@dataclass(frozen=True)
class FlashConfig:
    # Thresholds: chosen by bench/flash_eval.py on its tuning split of labelled-synthetic
    # reflections (2026-12-01); real phones need field tuning.
    # The client's clock against the recording's first frame: searched within ± this.
    max_offset_s: float = 0.5
    offset_step_s: float = 0.02
    # Left out at both ends of each step: display latency, exposure time, frame timing.
    edge_s: float = 0.08
    # Frames averaged on each side of a boundary (within the step, minus its edges), and the
    # longest white stretch before the first and after the last step that may be used.
    window_s: float = 0.2
    baseline_s: float = 0.6
    min_window_frames: int = 2
    # Seen: the median step response (log linear-light chroma, face minus surround) and its
    # ratio to the frame-to-frame noise.
    min_amplitude: float = 0.04
    min_snr: float = 2.0
    # The expected pattern's fitted strength in units of the capture's own drift.
    min_z: float = 3.5
    # Drift below this (chroma, per boundary change) is not believed: compression and sensor
    # noise never vanish on a real capture.
    noise_floor: float = 0.003
    # A physical reflection lights the near face far more than the surround: the surround's
    # own response along the asked colours, as a share of the face's, stays below this.
    max_tint_ratio: float = 0.3
    # Sequence: each step's response within acos(min_cosine) of its colour's direction and at
    # least this share of the median response (every step answered, not only one).
    min_cosine: float = 0.6
    max_bad_boundaries: int = 1
    # The asked colours must explain the changes better than any other colour sequence with
    # the same timings, by at least this share of their energy.
    min_alternative_margin: float = -1.0  # -1: off (the tuning did not pick it)
    min_step_share: float = 0.0
    # Share of the changes' energy that the expected pattern explains.
    min_explained: float = 0.6


@dataclass(frozen=True)
class FlashResult:
    seen: bool
    sequence_ok: bool
    # The weakest boundary's cosine with its expected change after the max_bad_boundaries
    # weakest are set aside (-1..1); 0 when not seen.
    score: float
    offset_s: float  # the client clock's offset that fitted best (flash i seen at start+offset)
    # Cosine of the measured change with the expected one at each boundary: into step 1,
    # ..., into step n, back to white (when recorded; detail['boundaries'] says which).
    per_step: list[float]
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.seen and self.sequence_ok


# MediaPipe FaceMesh-468 points around three skin patches that face the camera and are free
# of eyes, brows, lips and beard: the forehead and both cheeks.
_FOREHEAD = (10, 109, 67, 338, 297, 151, 108, 337)
_CHEEK_R = (50, 101, 36, 205, 187, 123)
_CHEEK_L = (280, 330, 266, 425, 411, 352)
_SKIN_PATCHES = (_FOREHEAD, _CHEEK_R, _CHEEK_L)


def _srgb_to_linear(v: np.ndarray) -> np.ndarray:
    x = np.clip(v / 255.0, 0.0, 1.0)
    out: np.ndarray = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    return out


def _masks(shape: tuple[int, ...], mesh: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Skin patches (forehead, cheeks; eroded) and the surround (beside and above the head)."""
    h, w = shape[:2]
    lo, hi = mesh[:, :2].min(axis=0), mesh[:, :2].max(axis=0)
    (cx, cy), (fw, fh) = (lo + hi) / 2, hi - lo
    k = max(1, int(0.03 * fw))
    kernel = np.ones((2 * k + 1, 2 * k + 1), np.uint8)
    patches = []
    for patch in _SKIN_PATCHES:
        m = np.zeros((h, w), np.uint8)
        pts = np.round(mesh[list(patch), :2]).astype(np.int32)
        cv2.fillConvexPoly(m, cv2.convexHull(pts), 1)
        # Off the patch's rim: a turned head's far cheek is a sliver whose rim is wall.
        patches.append(cv2.erode(m, kernel).astype(bool))
    head = np.zeros((h, w), np.uint8)
    # Hair and ears sit inside this ellipse; below the chin come neck and shoulders, which
    # are near the screen too.
    cv2.ellipse(
        head,
        (int(cx), int(cy - 0.1 * fh)),
        (int(0.95 * fw) + 1, int(0.95 * fh) + 1),
        0,
        0,
        360,
        1,
        -1,
    )
    sur = (head == 0).copy()
    sur[int(max(0, min(h, hi[1]))) :, :] = False
    if sur.sum() < 0.01 * h * w:  # the face fills the frame: the frame's outer ring
        b = max(2, int(0.06 * min(h, w)))
        sur = np.zeros((h, w), bool)
        sur[:b, :], sur[-b:, :], sur[:, :b], sur[:, -b:] = True, True, True, True
    return patches, sur


def _region_mean(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, int] | None:
    px = image[mask]
    if len(px) == 0:
        return None
    ok = (px.max(axis=1) < 250) & (px.min(axis=1) > 8)  # clipped or black pixels say nothing
    if ok.sum() < max(8, 0.2 * len(px)):
        return None
    mean: np.ndarray = px[ok].astype(np.float64).mean(axis=0)[::-1]  # BGR -> RGB
    return mean, int(ok.sum())


def _centred_log(rgb_mean: np.ndarray) -> np.ndarray:
    lg = np.log(np.maximum(_srgb_to_linear(rgb_mean), 1e-4))
    out: np.ndarray = lg - lg.mean()
    return out


def chroma_signals(
    images: list[np.ndarray], meshes: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Centred log linear-light RGB per frame of each skin patch ``(n, 3 patches, 3)`` and of
    the surround ``(n, 3)``; NaN where unusable.

    A patch is unusable in a frame where it has under half its usual area (turned away).
    Patches are kept apart so that a head turn, which changes how much of each is seen,
    does not change the face's mean colour by mixing them differently.
    """
    n, p = len(images), len(_SKIN_PATCHES)
    face = np.full((n, p, 3), np.nan)
    area = np.zeros((n, p))
    sur = np.full((n, 3), np.nan)
    for i, (img, mesh) in enumerate(zip(images, meshes, strict=True)):
        patches, sur_m = _masks(img.shape, mesh)
        for j, m in enumerate(patches):
            got = _region_mean(img, m)
            if got is not None:
                face[i, j], area[i, j] = _centred_log(got[0]), got[1]
        sm = _region_mean(img, sur_m)
        if sm is not None:
            sur[i] = _centred_log(sm[0])
    usual = np.array([np.median(a[a > 0]) if (a > 0).any() else np.inf for a in area.T])
    small = area < 0.5 * usual[None, :]
    face[small] = np.nan
    return face, sur


def _level(rgb: tuple[int, int, int]) -> np.ndarray:
    """The screen's light in linear 0..1 per channel (what it adds to the skin, up to scale)."""
    return _srgb_to_linear(np.asarray(rgb, dtype=np.float64))


_WHITE = (255, 255, 255)


def _expected_jumps(seq: list[FlashStep]) -> np.ndarray:
    """Centred chroma change expected at each boundary (white -> step 1 -> ... -> white).

    A screen adding ``s * level`` to the light on the skin changes its log linear light by
    about ``s * level``; centring removes brightness. Unit scale: ``s`` is fitted.
    """
    levels = [_level(_WHITE)] + [_level(s.rgb) for s in seq] + [_level(_WHITE)]
    out = np.array([b - a for a, b in itertools.pairwise(levels)])
    centred: np.ndarray = out - out.mean(axis=1, keepdims=True)
    return centred


# An orthonormal basis of the chroma plane (vectors whose components sum to zero).
_PLANE = np.array([[1.0, -1.0, 0.0], [1.0, 1.0, -2.0]]) / np.sqrt([[2.0], [6.0]])


def _screen_levels(t: np.ndarray, seq: list[FlashStep]) -> np.ndarray:
    """Centred linear level of what the screen shows at each recording time ``t``."""
    out = np.zeros((len(t), 3))
    for s in seq:
        lv = _level(s.rgb)
        out[(t >= s.start_s) & (t < s.end_s)] = lv - lv.mean()
    return out


def _noise_whitener(
    t: np.ndarray,
    sig: np.ndarray,
    seq: list[FlashStep],
    offset: float,
    gain: float,
    cfg: FlashConfig,
) -> np.ndarray:
    """(2, 3): maps a chroma change to units of this capture's own drift.

    Skin chroma drifts mostly along one axis (shading as the head turns changes it); the
    drift is measured as what the fitted flash pattern leaves unexplained, compared over the
    same spans as a boundary's change, and the fit then weights each direction by it.
    """
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1 / 30
    kw = max(1, round(cfg.window_s / dt))
    lag = max(1, round((2 * cfg.edge_s + cfg.window_s) / dt))
    r = sig - gain * _screen_levels(t - offset, seq)[:, None, :]
    r2 = r @ _PLANE.T  # (n, P, 2)
    ok = ~np.isnan(r2[..., 0])
    val = np.where(ok[..., None], r2, 0.0)
    cs = np.concatenate([np.zeros((1, *val.shape[1:])), np.cumsum(val, axis=0)])
    cn = np.concatenate([np.zeros((1, ok.shape[1])), np.cumsum(ok, axis=0)])
    n = len(t) - kw + 1
    ma = (cs[kw:] - cs[:-kw]) / np.maximum(cn[kw:] - cn[:-kw], 1)[..., None]
    full = (cn[kw:] - cn[:-kw]) == kw
    if n - lag < 2:
        cov = np.eye(2) * cfg.noise_floor**2
    else:
        d = ma[lag:] - ma[:-lag]
        good = full[lag:] & full[:-lag]
        dd = d[good]
        cov = dd.T @ dd / max(len(dd), 1) + np.eye(2) * cfg.noise_floor**2
    vals, vecs = np.linalg.eigh(cov)
    inv_sqrt = vecs @ np.diag(1.0 / np.sqrt(np.maximum(vals, 1e-12))) @ vecs.T
    out: np.ndarray = inv_sqrt @ _PLANE
    return out


@dataclass
class _Fit:
    raw: np.ndarray  # (k, 3) measured change at each usable boundary, face minus surround
    raw_expected: np.ndarray  # (k, 3) expected change at unit strength
    jumps: np.ndarray  # (k, 2) measured change at each usable boundary, face minus surround,
    # in the whitened chroma plane
    expected: np.ndarray  # (k, 2) expected change at unit strength, whitened alike
    face: np.ndarray  # (k, 3) skin-only change
    sur: np.ndarray  # (k, 3) surround-only change
    index: list[int]  # which boundaries (0 = into the first step) were measurable
    counts: list[int]  # frames on the smaller side of each boundary
    gain: float  # least-squares strength of the expected pattern in the jumps
    sigma: float


def _side_means(x: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the frames ``m`` of ``x`` (n, P, 3) per patch, ignoring NaN; and counts."""
    sel = x[m]
    ok = ~np.isnan(sel[..., 0])
    cnt = ok.sum(axis=0)
    tot = np.where(ok[..., None], sel, 0.0).sum(axis=0)
    mean: np.ndarray = tot / np.maximum(cnt, 1)[:, None]
    return mean, cnt


def _fit(
    t: np.ndarray,
    face: np.ndarray,
    sur: np.ndarray,
    seq: list[FlashStep],
    expected: np.ndarray,
    offset: float,
    cfg: FlashConfig,
    whiten: np.ndarray,
) -> _Fit | None:
    e, w = cfg.edge_s, cfg.window_s
    sig = face - sur[:, None, :]
    cuts = [seq[0].start_s] + [s.end_s for s in seq]
    spans = [cfg.baseline_s] + [s.duration_s for s in seq] + [cfg.baseline_s]
    rows: list[tuple[int, np.ndarray, np.ndarray, np.ndarray, int]] = []
    res: list[np.ndarray] = []
    for k, c in enumerate(cuts):
        b = c + offset
        w_pre = min(w, spans[k] - 2 * e)
        w_post = min(w, spans[k + 1] - 2 * e)
        pre = (t >= b - e - w_pre) & (t <= b - e)
        post = (t >= b + e) & (t <= b + e + w_post)
        a_mean, a_cnt = _side_means(sig, pre)
        b_mean, b_cnt = _side_means(sig, post)
        use = (a_cnt >= cfg.min_window_frames) & (b_cnt >= cfg.min_window_frames)
        if not use.any():
            if k < len(seq):  # every step's onset must be measurable; the last exit may not
                return None
            continue
        jump = (b_mean - a_mean)[use].mean(axis=0)
        fa, _ = _side_means(face, pre)
        fb, _ = _side_means(face, post)
        sa, sb = sur[pre].mean(axis=0), sur[post].mean(axis=0)
        n = int(min(a_cnt[use].min(), b_cnt[use].min()))
        rows.append((k, jump, (fb - fa)[use].mean(axis=0), sb - sa, n))
        for m, mean in ((pre, a_mean), (post, b_mean)):
            d = sig[m][:, use] - mean[use][None]
            res.append(d[~np.isnan(d)])
    idx = [r[0] for r in rows]
    raw = np.array([r[1] for r in rows])
    jumps = raw @ whiten.T
    exp = expected[idx] @ whiten.T
    gain = float(np.sum(jumps * exp) / max(float(np.sum(exp * exp)), 1e-12))
    r = np.concatenate(res)
    sigma = float(1.4826 * np.median(np.abs(r))) if len(r) else 0.0
    return _Fit(
        raw,
        expected[idx],
        jumps,
        exp,
        np.array([r[2] for r in rows]),
        np.array([r[3] for r in rows]),
        idx,
        [r[4] for r in rows],
        gain,
        sigma,
    )


def _alternatives(
    fit: _Fit, whiten: np.ndarray, seq: list[FlashStep]
) -> tuple[float, float, list[str]]:
    """How well the asked colours explain the changes, against every other colour sequence
    with the same timings: (asked's explained share, best other's, best other's colours).

    The measured changes do not depend on the colours asked, so each alternative costs a few
    dot products. A recording made for other colours, or the asked ones in another order, is
    explained better by what was really shown than by what was asked.
    """
    rgbs = {s.colour: s.rgb for s in seq}
    for name, rgb in PALETTE.items():
        rgbs.setdefault(name, rgb)
    names = sorted(rgbs)
    lv = np.array([_level(rgbs[n]) for n in names] + [_level(_WHITE)])
    lv = lv - lv.mean(axis=1, keepdims=True)
    lw = lv @ whiten.T  # (colours + white, 2)
    white = len(names)
    asked = tuple(names.index(s.colour) for s in seq)
    cands = [
        c
        for c in itertools.product(range(len(names)), repeat=len(seq))
        if all(a != b for a, b in itertools.pairwise(c)) and c != asked
    ]
    full = np.array([(white, *asked, white), *[(white, *c, white) for c in cands]])
    exp = (lw[full[:, 1:]] - lw[full[:, :-1]])[:, fit.index]  # (A, k, 2)
    j = fit.jumps
    jj = max(float(np.sum(j * j)), 1e-12)
    dot = np.einsum("akd,kd->a", exp, j)
    ee = np.maximum(np.einsum("akd,akd->a", exp, exp), 1e-12)
    expl = np.where(dot > 0, dot**2 / (ee * jj), 0.0)
    k = int(np.argmax(expl[1:])) + 1 if len(cands) else 0
    best_other = float(expl[k]) if len(cands) else 0.0
    return float(expl[0]), best_other, [names[i] for i in full[k, 1:-1]] if len(cands) else []


def flash_response(
    images: list[np.ndarray],
    meshes: list[np.ndarray],
    times: np.ndarray,
    sequence: list[FlashStep],
    config: FlashConfig | None = None,
) -> FlashResult:
    """Did the face reflect ``sequence``? Frames BGR, meshes (468, 3) in image pixels,
    ``times`` in seconds from the first frame.

    The measure is the change of the face-minus-surround chroma across each boundary of the
    sequence (white -> first colour -> ... -> last colour -> white), over short windows on
    both sides, so that slow changes (head turns, daylight) count little. One strength is
    fitted to all changes; ``per_step`` holds each change's cosine with its expected
    direction, the onset of each step first and the return to white last (when recorded).
    """
    cfg = config or FlashConfig()
    if not sequence:
        raise ValueError("empty flash sequence")
    if not (len(images) == len(meshes) == len(times)):
        raise ValueError("images, meshes and times must have the same length")
    face, sur = chroma_signals(images, meshes)
    valid = ~np.isnan(sur[:, 0]) & ~np.isnan(face[..., 0]).all(axis=1)
    t = np.asarray(times, dtype=np.float64)[valid]
    face, sur = face[valid], sur[valid]
    expected = _expected_jumps(sequence)
    n_off = round(cfg.max_offset_s / cfg.offset_step_s)
    offsets = [k * cfg.offset_step_s for k in sorted(range(-n_off, n_off + 1), key=abs)]

    def search(whiten: np.ndarray) -> tuple[float, _Fit] | None:
        best: tuple[float, _Fit] | None = None
        for off in offsets:  # ties go to the smallest offset
            fit = _fit(t, face, sur, sequence, expected, off, cfg, whiten)
            if fit is not None and (best is None or fit.gain > best[1].gain + 1e-12):
                best = (off, fit)
        return best

    base_detail: dict[str, Any] = {"frames": len(images), "usable_frames": int(valid.sum())}
    first = search(_PLANE)
    if first is None:
        return FlashResult(False, False, 0.0, 0.0, [], {**base_detail, "reason": "too_few_frames"})
    # Second pass: the same search with each chroma direction weighted by this capture's
    # drift (estimated around the first pass's fit).
    whiten = _noise_whitener(t, face - sur[:, None, :], sequence, first[0], first[1].gain, cfg)
    best = search(whiten)
    assert best is not None  # the same frames fitted in the first pass
    off, fit = best
    mags = np.linalg.norm(fit.jumps, axis=1)
    exp_mags = np.linalg.norm(fit.expected, axis=1)
    ee = float(np.sum(fit.expected**2))
    # Seen: the changes at the boundaries, whatever their direction, against the drift
    # (whitened units: 1 = the drift's own size) and in physical size (the screen strength
    # that would explain them).
    snr = float(np.sqrt(np.mean(mags**2)))
    amplitude = float(np.sqrt(np.sum(fit.raw**2) / np.sum(fit.raw_expected**2)))
    z = fit.gain * math.sqrt(ee)  # the expected pattern's strength in drift units
    proj = np.sum(fit.jumps * fit.expected, axis=1) / np.maximum(exp_mags, 1e-12)
    cosines = [float(p / m) if m > 0 else 0.0 for p, m in zip(proj, mags, strict=True)]
    resid = float(np.sum((fit.jumps - fit.gain * fit.expected) ** 2))
    explained = 1.0 - resid / max(float(np.sum(mags**2)), 1e-12)
    re = float(np.sum(fit.raw_expected**2))
    face_gain = float(np.sum(fit.face * fit.raw_expected)) / re
    sur_gain = float(np.sum(fit.sur * fit.raw_expected)) / re
    tint = sur_gain / face_gain if face_gain > 0 else math.inf
    detail: dict[str, Any] = {
        **base_detail,
        "amplitude": round(amplitude, 5),
        "gain": round(fit.gain, 5),
        "z": round(z, 2),
        "explained": round(explained, 3),
        "snr": round(min(snr, 1e6), 2),
        "tint_ratio": round(min(max(tint, -1e6), 1e6), 3),
        "boundaries": fit.index,
        "boundary_frames": fit.counts,
    }
    share = proj / max(fit.gain * float(np.median(exp_mags)), 1e-12)
    detail["step_share"] = [round(float(x), 3) for x in share]
    asked_expl, other_expl, other = _alternatives(fit, whiten, sequence)
    detail["alternative_margin"] = round(asked_expl - other_expl, 4)
    detail["best_alternative"] = other
    measured = FlashResult(False, False, min(cosines), off, [round(c, 4) for c in cosines], detail)
    return decide(measured, cfg)


def decide(measured: FlashResult, config: FlashConfig | None = None) -> FlashResult:
    """Apply ``config``'s thresholds to the measurements of a :func:`flash_response` result.

    The measurements do not depend on the thresholds, so a benchmark can measure once and
    try thresholds (``bench/flash_eval.py``).
    """
    cfg = config or FlashConfig()
    d = {k: v for k, v in measured.detail.items() if k != "reason"}
    if "amplitude" not in d:
        return measured
    strong = d["amplitude"] >= cfg.min_amplitude and d["snr"] >= cfg.min_snr
    if not strong or d["tint_ratio"] > cfg.max_tint_ratio:
        d["reason"] = "whole_frame_tint" if strong else "no_response"
        return FlashResult(False, False, 0.0, measured.offset_s, measured.per_step, d)
    # One boundary may be lost to a blink or a quick turn; colours in the wrong order or
    # from another sequence change at least three of them.
    score = sorted(measured.per_step)[min(cfg.max_bad_boundaries, len(measured.per_step) - 1)]
    ok = (
        score >= cfg.min_cosine
        and d["explained"] >= cfg.min_explained
        and d["z"] >= cfg.min_z
        and min(d["step_share"]) >= cfg.min_step_share
        and d["alternative_margin"] >= cfg.min_alternative_margin
    )
    return FlashResult(True, ok, score, measured.offset_s, measured.per_step, d)


def flash_checks(result: FlashResult, config: FlashConfig | None = None) -> list[Check]:
    """The verdicts of a :func:`flash_response`: ``FLASH_NOT_SEEN``, then (when seen)
    ``FLASH_SEQUENCE_WRONG``."""
    cfg = config or FlashConfig()
    d = result.detail
    amp = float(d.get("amplitude", 0.0))
    public: dict[str, Any] = {k: d[k] for k in ("snr", "z", "tint_ratio", "reason") if k in d}
    out = [
        check(
            FLASH_NOT_SEEN,
            result.seen,
            amp,
            cfg.min_amplitude,
            detail={**public, "offset_s": round(result.offset_s, 3)},
        )
    ]
    if result.seen:
        out.append(
            check(
                FLASH_SEQUENCE_WRONG,
                result.sequence_ok,
                result.score,
                cfg.min_cosine,
                detail={"per_step": result.per_step, "looks_like": d.get("looks_like", [])},
            )
        )
    return out


def interpolate_meshes(
    times: np.ndarray, mesh_times: np.ndarray, meshes: list[np.ndarray]
) -> list[np.ndarray]:
    """Meshes at ``times`` linearly interpolated from meshes found at ``mesh_times``.

    The scorer wants every decoded frame (>= 15 fps: a 0.3 s step keeps ~0.14 s after its
    edges) but the mesh need not run on each: the skin patches move little in 1/30 s.
    """
    if not meshes or len(meshes) != len(mesh_times):
        raise ValueError("need one mesh per mesh time")
    mt = np.asarray(mesh_times, dtype=np.float64)
    stack = np.stack(meshes)
    out = []
    for t in np.asarray(times, dtype=np.float64):
        j = int(np.searchsorted(mt, t))
        if j <= 0:
            out.append(stack[0].copy())
        elif j >= len(mt):
            out.append(stack[-1].copy())
        else:
            a = (t - mt[j - 1]) / max(mt[j] - mt[j - 1], 1e-9)
            out.append((1 - a) * stack[j - 1] + a * stack[j])
    return out
