"""Fake document and face analysers that record verdicts the way the real models do.

For flow tests of what the service states about the checks (the verification method on the
sheet, the manifest and the order view) without loading any model: every check they return
names a (fake) model, the face verdict has passed challenged actions and a face-match score.
The real models are tested on images in tests/capture and tests/liveness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.analysis.pipeline import CapturePipeline, Limits
from app.inference.checks import Check, ModelRef

DOC_MODEL = ModelRef("fake-ocr", "0", "0" * 64)
FACE_MODEL = ModelRef("fake-embedding", "0", "1" * 64)


@dataclass
class _DocVerdict:
    checks: list[Check]
    fields: dict[str, str] = field(default_factory=dict)
    portrait: np.ndarray | None = None


@dataclass
class _FaceVerdict:
    checks: list[Check]
    best_frame: np.ndarray | None
    match_score: float | None


@dataclass
class _FaceConfig:
    decode_max_frames: int = 30
    decode_max_side: int = 320


class FakeDocumentAnalyzer:
    def load(self) -> None:
        return None

    def models(self) -> list[ModelRef]:
        return [DOC_MODEL]

    def analyze(self, image_bgr: np.ndarray, kind: Any, expect: Any) -> _DocVerdict:  # noqa: ARG002
        # The ID portrait the face is matched with (any crop will do for a fake).
        front = getattr(kind, "value", kind) == "id_front"
        portrait = image_bgr[:120, :100].copy() if front else None
        return _DocVerdict(
            [Check("WRONG_DOCUMENT_TYPE", True, 0.9, 0.5, model=DOC_MODEL),
             Check("FIELD_UNREADABLE", True, 0.95, 0.6, model=DOC_MODEL)],
            portrait=portrait,
        )  # fmt: skip


class FakeFaceAnalyzer:
    config = _FaceConfig()

    def load(self) -> None:
        return None

    def models(self) -> list[ModelRef]:
        return [FACE_MODEL]

    def analyze(
        self,
        frames: list[Any],
        actions: list[str],
        portrait_bgr: Any,  # noqa: ARG002
        **_: Any,
    ) -> _FaceVerdict:
        checks = [Check("NO_FACE", True, 1.0, 0.8)]
        if "blink" in actions:
            checks.append(Check("BLINK_NOT_DETECTED", True, 0.1, 0.6))
        if "shake_head" in actions:
            checks.append(Check("HEAD_SHAKE_NOT_DETECTED", True, 30.0, 20.0))
        if {"turn_left", "turn_right", "nod", "open_mouth"} & set(actions):
            checks.append(Check("ACTION_NOT_DETECTED", True, 25.0, 15.0))
        checks.append(Check("FACE_MISMATCH", True, 0.8, 0.6, model=FACE_MODEL))
        return _FaceVerdict(checks, frames[0].image.copy(), 0.8)


def fake_full_pipeline(limits: Limits) -> CapturePipeline:
    return CapturePipeline(limits, document=FakeDocumentAnalyzer(), face=FakeFaceAnalyzer())
