"""Face embedding (MobileFaceNet, 192-d) on ArcFace-aligned 112x112 crops; cosine match."""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort

from app.inference.session import InferenceModel

# ArcFace's 5-point template for 112x112 crops (eyes, nose, mouth corners, image left first).
ARCFACE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)

# Mesh indices that correspond to the five template points (eye centres are averages).
MESH_FIVE = ((33, 133), (362, 263), (1,), (61,), (291,))


def five_from_mesh(mesh: np.ndarray) -> np.ndarray:
    return np.array([mesh[list(ix), :2].mean(axis=0) for ix in MESH_FIVE], dtype=np.float64)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (Umeyama) mapping ``src`` to ``dst``: 2x3."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - ms, dst - md
    cov = b.T @ a / len(src)
    u, d, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    r = u @ np.diag(sign) @ vt
    var = (a**2).sum() / len(src)
    scale = float((d * sign).sum() / var) if var > 0 else 1.0
    m = np.zeros((2, 3))
    m[:, :2] = scale * r
    m[:, 2] = md - m[:, :2] @ ms
    return m


def align_112(image_bgr: np.ndarray, five: np.ndarray) -> np.ndarray:
    """Similarity-warp a face to the ArcFace template; returns RGB 112x112."""
    m = similarity(five, ARCFACE_112)
    crop = cv2.warpAffine(
        image_bgr, m, (112, 112), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )
    return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)


class FaceEmbedder(InferenceModel):
    """``predict([rgb112, ...]) -> (N, D)`` L2-normalised embeddings.

    The converted MobileFaceNet has a fixed batch of two; faces are fed in pairs (the last
    one twice when the count is odd). An operator model with a dynamic batch works too.
    """

    def _load(self, session: ort.InferenceSession) -> None:
        super()._load(session)
        shape = session.get_inputs()[0].shape
        self.batch = shape[0] if isinstance(shape[0], int) else 0

    def _predict(self, session: ort.InferenceSession, faces: list[np.ndarray]) -> np.ndarray:
        if not faces:
            return np.zeros((0, 0), dtype=np.float32)
        x = (np.stack(faces).astype(np.float32) - 127.5) / 128.0
        x = x.transpose(0, 3, 1, 2)
        n = len(faces)
        outs = []
        step = self.batch or n
        for i in range(0, n, step):
            chunk = x[i : i + step]
            real = len(chunk)
            if self.batch and real < self.batch:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], self.batch - real, axis=0)])
            outs.append(self.run(session, np.ascontiguousarray(chunk))[0][:real])
        emb = np.concatenate(outs).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True) + 1e-10
        return emb


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-10))
