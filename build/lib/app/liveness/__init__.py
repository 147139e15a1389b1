"""Face capture library: detection, landmarks, challenged actions, anti-spoof, face match.

Pure: numpy arrays in, dataclasses with scores out; no web, database or settings imports.
"""

from pathlib import Path

from app.inference.session import InferenceModel, ModelInfo
from app.liveness.analyzer import FaceAnalyzer, FaceVerdict, LivenessConfig
from app.liveness.models import list_models, list_speech_models
from app.liveness.video import Frame, VideoError, decode_video


def prepare_models(cache_dir: Path, *, force: bool = False) -> list[ModelInfo]:
    """Build the model cache (see :mod:`app.liveness.prepare.build`; imported lazily)."""
    from app.liveness.prepare.build import prepare_models as _prepare  # build time only

    return _prepare(cache_dir, force=force)


__all__ = [
    "FaceAnalyzer",
    "FaceVerdict",
    "Frame",
    "InferenceModel",
    "LivenessConfig",
    "ModelInfo",
    "VideoError",
    "decode_video",
    "list_models",
    "list_speech_models",
    "prepare_models",
]
