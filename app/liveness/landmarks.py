"""Face mesh (468 3-D points) and eyelid contours (MediaPipe FaceMesh + Iris, as ONNX).

Blinks are measured on the Iris model's eyelid contour: on the carphone clip the 468-point
mesh alone misses both blinks, the eyelid contour catches them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import onnxruntime as ort

from app.inference.session import InferenceModel

MESH_SIZE = 192
MESH_ROI_SCALE = 1.5
IRIS_SIZE = 64
IRIS_ROI_SCALE = 2.3
FACE_FLAG_THRESHOLD = 0.5

# Eye corners in the mesh (person's right eye = image left for a frontal face).
EYE_A = (33, 133)
EYE_B = (362, 263)
# Symmetric pairs (image-left point, image-right point) used for yaw.
YAW_PAIRS = ((234, 454), (93, 323), (132, 361), (127, 356), (58, 288))
NOSE_TIP = 1
# Inner-face points used for the face region (brightness, blur, moiré).
FACE_OVAL = (
    10,
    338,
    297,
    332,
    284,
    251,
    389,
    356,
    454,
    323,
    361,
    288,
    397,
    365,
    379,
    378,
    400,
    377,
    152,
    148,
    176,
    149,
    150,
    136,
    172,
    58,
    132,
    93,
    234,
    127,
    162,
    21,
    54,
    103,
    67,
    109,
)


@dataclass(frozen=True)
class Roi:
    """A rotated square: centre, side (pixels) and rotation (radians)."""

    cx: float
    cy: float
    size: float
    angle: float

    def matrix(self, out: int, flip: bool = False) -> np.ndarray:
        """2x3 affine from image pixels to the ``out``-sized crop."""
        s = out / self.size
        c, si = math.cos(-self.angle) * s, math.sin(-self.angle) * s
        m = np.array(
            [[c, -si, 0.0], [si, c, 0.0]],
            dtype=np.float64,
        )
        m[:, 2] = np.array([out / 2, out / 2]) - m[:, :2] @ np.array([self.cx, self.cy])
        if flip:
            m[0] = -m[0]
            m[0, 2] += out
        return m


def _crop(
    image_rgb: np.ndarray, roi: Roi, out: int, flip: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    m = roi.matrix(out, flip)
    crop = cv2.warpAffine(
        image_rgb, m, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return crop, m


def _to_image(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Map (N, 2|3) crop points back to image pixels (z scaled like x)."""
    inv = cv2.invertAffineTransform(m)
    xy = points[:, :2] @ inv[:, :2].T + inv[:, 2]
    if points.shape[1] == 2:
        return xy
    scale = math.hypot(inv[0, 0], inv[1, 0])
    return np.column_stack([xy, points[:, 2] * scale])


def roi_from_points(points: np.ndarray, left: int, right: int, scale: float) -> Roi:
    """Square ROI around ``points`` rotated so that the ``left``→``right`` line is level."""
    p, q = points[left, :2], points[right, :2]
    angle = math.atan2(q[1] - p[1], q[0] - p[0])
    c, s = math.cos(-angle), math.sin(-angle)
    rot = points[:, :2] @ np.array([[c, s], [-s, c]])
    lo, hi = rot.min(axis=0), rot.max(axis=0)
    mid = (lo + hi) / 2
    center = mid @ np.array([[c, -s], [s, c]])
    size = float(max(hi - lo)) * scale
    return Roi(float(center[0]), float(center[1]), size, angle)


def roi_from_detection(box: tuple[float, float, float, float], eyes: np.ndarray) -> Roi:
    """FaceMesh ROI from a detector box and its two eye points (MediaPipe's recipe)."""
    x1, y1, x2, y2 = box
    angle = math.atan2(eyes[1, 1] - eyes[0, 1], eyes[1, 0] - eyes[0, 0])
    size = max(x2 - x1, y2 - y1) * MESH_ROI_SCALE
    return Roi((x1 + x2) / 2, (y1 + y2) / 2, size, angle)


@dataclass(frozen=True)
class MeshResult:
    points: np.ndarray  # (468, 3) image pixels; z in pixel units, smaller = nearer
    face_score: float
    roi: Roi


class FaceMesh(InferenceModel):
    """``predict(rgb, roi) -> MeshResult | None``."""

    def _predict(
        self, session: ort.InferenceSession, image_rgb: np.ndarray, roi: Roi
    ) -> MeshResult | None:
        crop, m = _crop(image_rgb, roi, MESH_SIZE)
        feed = (crop.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        raw, flag = self.run(session, np.ascontiguousarray(feed))
        score = float(1.0 / (1.0 + math.exp(-float(flag.ravel()[0]))))
        if score < FACE_FLAG_THRESHOLD:
            return None
        pts = raw.reshape(468, 3).astype(np.float64)
        return MeshResult(_to_image(pts, m), score, roi)


@dataclass(frozen=True)
class EyeResult:
    contour: np.ndarray  # (71, 2) image pixels; 0..8 lower lid (corner to corner), 9..15 upper
    iris: np.ndarray  # (5, 2)

    @property
    def openness(self) -> float:
        """Eye aspect ratio from the eyelid contour: lid gap / eye width."""
        c = self.contour
        width = float(np.linalg.norm(c[0] - c[8])) + 1e-6
        gaps = [np.linalg.norm(c[9 + k] - c[1 + k]) for k in (1, 2, 3, 4, 5)]
        return float(np.mean(gaps)) / width


class EyeContour(InferenceModel):
    """``predict(rgb, mesh_points) -> (eye_a, eye_b)``; eye_b is mirrored as the model wants."""

    def _predict(
        self, session: ort.InferenceSession, image_rgb: np.ndarray, mesh: np.ndarray
    ) -> tuple[EyeResult, EyeResult]:
        out = []
        for (a, b), flip in ((EYE_A, False), (EYE_B, True)):
            roi = roi_from_points(mesh[[a, b]], 0, 1, IRIS_ROI_SCALE)
            crop, m = _crop(image_rgb, roi, IRIS_SIZE, flip)
            feed = (crop.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
            contour, iris = self.run(session, np.ascontiguousarray(feed))
            c = _to_image(contour.reshape(71, 3)[:, :2].astype(np.float64), m)
            i = _to_image(iris.reshape(5, 3)[:, :2].astype(np.float64), m)
            out.append(EyeResult(c, i))
        return out[0], out[1]


def yaw_degrees(mesh: np.ndarray) -> float:
    """Head yaw from the mesh's 3-D points: positive when the nose turns to image right.

    For symmetric cheek/jaw pairs, the depth difference over the horizontal distance is the
    tangent of the turn (the mesh's z is in the same units as x). Roll is removed first.
    """
    a, b = mesh[EYE_A[0], :2], mesh[EYE_B[1], :2]
    roll = math.atan2(b[1] - a[1], b[0] - a[0])
    c, s = math.cos(-roll), math.sin(-roll)
    angles = []
    for i, j in YAW_PAIRS:
        d = mesh[j] - mesh[i]
        dx = d[0] * c - d[1] * s
        # z grows away from the camera: when the nose turns to image right, the image-right
        # point goes back (dz > 0).
        angles.append(math.degrees(math.atan2(d[2], dx)))
    return float(np.median(angles))


# Points that stay visible up to ~40° of yaw: eyes, brows, nose base, mouth, chin, inner
# cheeks. The face oval is left out: the model puts its far side on the silhouette, not where
# the turned 3-D point projects. Also left out: the nose bridge and tip (1, 4, 5, 6, 168, 195,
# 197), the inner eye corners (133, 362), the inner brow ends (285, 336, 105) and 159: on
# faces re-rendered at a known ±20–30° turn the model moves them only 0.4–0.74 of the way
# their 3-D points project (a frontal prior), against 0.85–1.1 for the points kept, and with
# them in the fit a rendered ±20° read ±15° (bench/face_eval.py, yaw table).
POSE_POINTS = (
    2, 98, 327,  # nose base
    33, 144, 145, 160, 263, 374, 380, 385, 386,  # eyes
    55, 70, 107, 300, 334,  # brows
    0, 13, 14, 17, 61, 291,  # mouth
    10, 151, 152,  # forehead, chin
    36, 50, 205, 266, 280, 425,  # inner cheeks
)  # fmt: skip


def yaw_from_template(template: np.ndarray, mesh: np.ndarray) -> float:
    """Yaw of ``mesh`` relative to ``template``, from 2-D landmark positions only.

    ``template`` is the same person's 468-point 3-D mesh in a near-frontal frame of the same
    capture. The rotation that best projects the template's :data:`POSE_POINTS` onto this
    frame's (orthographic camera, least squares) gives the turn. :func:`yaw_degrees` reads the
    turn from the model's regressed depth, which shrinks towards frontal: on faces re-rendered
    at a known ±35° it reads ±22–26°, this fit reads ±23–35° (bench/face_eval.py).
    """
    idx = list(POSE_POINTS)
    a = template[idx].astype(np.float64)
    b = mesh[idx, :2].astype(np.float64)
    a -= a.mean(axis=0)
    b -= b.mean(axis=0)
    m, *_ = np.linalg.lstsq(a, b, rcond=None)  # b ≈ a @ m; column 0 = s·(first row of R)
    r1 = m[:, 0]
    # First row of R = (cos roll·cos yaw, ·, -cos roll·sin yaw): roll cancels in the ratio.
    return float(math.degrees(math.atan2(-r1[2], r1[0])))


def inter_ocular(mesh: np.ndarray) -> float:
    ca = (mesh[EYE_A[0], :2] + mesh[EYE_A[1], :2]) / 2
    cb = (mesh[EYE_B[0], :2] + mesh[EYE_B[1], :2]) / 2
    return float(np.linalg.norm(ca - cb))


# Pitch uses the rigid upper face only (nose base, outer eye corners, brows, forehead): the
# mouth, chin and lower cheeks move when the person talks or opens the mouth (an open mouth
# read as a 5–20° look-up with them), the eyelids when they blink (a blink read as a nod).
PITCH_POINTS = (2, 98, 327, 33, 263, 55, 70, 107, 300, 334, 10, 151)
# The fit reads 0.55–0.62 of a known look-up (faces re-rendered at 5–25° by rotating their
# own 3-D mesh: testkit.faces.pose_face), like the yaw fit the landmark model's frontal
# prior shrinks it; the gain brings it back to degrees.
PITCH_GAIN = 1.65


def pitch_from_template(template: np.ndarray, mesh: np.ndarray) -> float:
    """Pitch of ``mesh`` relative to ``template`` (degrees, positive = looking up).

    The same orthographic fit as :func:`yaw_from_template`; the second row of the rotation
    carries the pitch: (sin p·sin y, cos p, -sin p·cos y) times the scale, whose size the
    first row gives. Image y grows downwards and mesh z away from the camera, so a face
    looking up moves its near points (nose tip, z < 0) up: that sign is returned positive.
    """
    idx = list(PITCH_POINTS)
    a = template[idx].astype(np.float64)
    b = mesh[idx, :2].astype(np.float64)
    a -= a.mean(axis=0)
    b -= b.mean(axis=0)
    m, *_ = np.linalg.lstsq(a, b, rcond=None)
    r1, r2 = m[:, 0], m[:, 1]
    s = float(np.linalg.norm(r1))
    cy = abs(float(r1[0])) / s if s > 0 else 1.0
    if s <= 0 or cy <= 1e-3:
        return 0.0
    return PITCH_GAIN * math.degrees(math.asin(float(np.clip(r2[2] / (s * cy), -1.0, 1.0))))


MOUTH_INNER = (13, 14)  # inner upper lip, inner lower lip (MediaPipe FaceMesh)


def mouth_open_ratio(mesh: np.ndarray) -> float:
    """Gap between the inner lips over the inter-ocular distance (0 for a closed mouth)."""
    iod = inter_ocular(mesh)
    if iod <= 0:
        return 0.0
    return float(np.linalg.norm(mesh[MOUTH_INNER[1], :2] - mesh[MOUTH_INNER[0], :2]) / iod)
