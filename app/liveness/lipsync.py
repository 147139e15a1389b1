"""Lip sync: does the mouth move with the voice?

Pure functions over time series. The mouth opening comes from the face mesh
(:func:`mouth_open_ratio`, the same measure for the analyzer and the tests), the voice from
:func:`app.liveness.audio.speech_energy` sampled at the same frame times. A genuine reader
opens the mouth on the syllables the microphone hears; a replayed or dubbed voice over a
still or differently moving mouth does not correlate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.liveness.landmarks import inter_ocular

UPPER_LIP = 13  # MediaPipe FaceMesh inner lip, upper middle
LOWER_LIP = 14  # inner lip, lower middle
GRID_S = 0.02  # both series are resampled on a 50 Hz grid before correlating
# A mouth whose opening moves less than this (fraction of the inter-ocular distance, 5th to
# 95th percentile) is still: mesh jitter alone, nothing to correlate with the voice.
MIN_MOUTH_RANGE = 0.03
# Speech-band energy is compared in dB, floored this far below the clip's loudest moment
# (below that is room noise, whose ups and downs say nothing about the mouth).
ENERGY_RANGE_DB = 40.0
MIN_ENERGY_RANGE_DB = 10.0  # quieter swings than this: no syllables to follow
MIN_SAMPLES = 8
# The voice's stretch: from the first to the last moment within this many dB of its loudest,
# padded on both sides (the mouth opens before the first sound and closes after the last).
SPEECH_DB = 20.0
SPEECH_PAD_S = 0.4


@dataclass(frozen=True)
class LipSync:
    score: float  # best Pearson correlation over the lags tried; 0 when either side is flat
    lag_s: float  # the lag of the best correlation; > 0: the voice comes after the mouth


def mouth_open_ratio(mesh: np.ndarray) -> float:
    """Inner-lip gap (points 13–14) over the inter-ocular distance, of a (468, 3) mesh.

    In the image plane, like :func:`app.liveness.landmarks.inter_ocular`: about 0.0–0.05
    closed, 0.1–0.5 open while speaking.
    """
    iod = inter_ocular(mesh)
    if not math.isfinite(iod) or iod <= 0:
        return float("nan")
    return float(np.linalg.norm(mesh[UPPER_LIP, :2] - mesh[LOWER_LIP, :2]) / iod)


def _zscore(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < MIN_SAMPLES:
        return 0.0
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / den if den > 0 else 0.0


def lip_sync_score(
    t: np.ndarray,
    mouth_open: np.ndarray,
    energy: np.ndarray,
    *,
    max_lag_s: float = 0.25,
) -> LipSync:
    """Correlation of mouth opening with speech energy, best over lags within ±``max_lag_s``.

    ``t`` are the frame times (any spacing), ``mouth_open`` :func:`mouth_open_ratio` per frame
    (NaN where no face was measured), ``energy`` the speech-band energy at the same times.
    Both series are resampled on a 50 Hz grid over the frames measured, the energy taken in dB
    (floored :data:`ENERGY_RANGE_DB` below its peak); the lag absorbs the camera/microphone
    offset and the mouth opening slightly before the sound. Only the frames of the voice's
    stretch (:data:`SPEECH_DB`, :data:`SPEECH_PAD_S`) are compared. A still mouth or a flat
    voice scores 0.
    """
    t = np.asarray(t, np.float64)
    m = np.asarray(mouth_open, np.float64)
    e = np.asarray(energy, np.float64)
    if not (t.shape == m.shape == e.shape):
        raise ValueError("t, mouth_open and energy must have the same shape")
    ok = np.isfinite(t) & np.isfinite(m) & np.isfinite(e)
    t, m, e = t[ok], m[ok], e[ok]
    order = np.argsort(t, kind="stable")
    t, m, e = t[order], m[order], e[order]
    if t.size < MIN_SAMPLES or t[-1] - t[0] < 4 * GRID_S:
        return LipSync(0.0, 0.0)
    peak = float(e.max())
    if peak <= 0:
        return LipSync(0.0, 0.0)
    e_db = 10.0 * np.log10(np.maximum(e, peak * 10 ** (-ENERGY_RANGE_DB / 10)))
    # Only the stretch where the voice is: elsewhere the capture holds the other actions (an
    # open mouth, turns), and a mouth that opened for another step must not lend its range
    # to a voice dubbed over a still mouth (bench/face_eval.py's dubbed replays).
    loud = np.flatnonzero(e_db >= e_db.max() - SPEECH_DB)
    keep = (t >= t[loud[0]] - SPEECH_PAD_S) & (t <= t[loud[-1]] + SPEECH_PAD_S)
    t, m, e_db = t[keep], m[keep], e_db[keep]
    if t.size < MIN_SAMPLES or t[-1] - t[0] < 4 * GRID_S:
        return LipSync(0.0, 0.0)
    lo, hi = np.percentile(m, [5, 95])
    if hi - lo < MIN_MOUTH_RANGE:
        return LipSync(0.0, 0.0)
    if float(np.percentile(e_db, 95) - np.percentile(e_db, 5)) < MIN_ENERGY_RANGE_DB:
        return LipSync(0.0, 0.0)
    grid = np.arange(t[0], t[-1] + GRID_S / 2, GRID_S)
    mg = _zscore(np.interp(grid, t, m))
    eg = _zscore(np.interp(grid, t, e_db))
    max_k = round(max_lag_s / GRID_S)
    best, best_k = -1.0, 0
    for k in range(-max_k, max_k + 1):
        # energy[i + k] against mouth[i]: k > 0 means the voice follows the mouth.
        r = _corr(mg[: mg.size - k], eg[k:]) if k >= 0 else _corr(mg[-k:], eg[: eg.size + k])
        if r > best or (r == best and abs(k) < abs(best_k)):
            best, best_k = r, k
    return LipSync(max(best, 0.0), best_k * GRID_S)


__all__ = ["LipSync", "lip_sync_score", "mouth_open_ratio"]
