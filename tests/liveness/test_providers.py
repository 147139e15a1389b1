"""ONNX_PROVIDERS: which onnxruntime execution providers the face models and OCR get."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.documents.ocr import rapidocr_provider_flags
from app.inference.session import CPU, make_session, select_providers
from app.liveness.models import DETECTOR, SPECS
from app.main import build_pipeline
from tests.conftest import make_settings

GPU_HOST = ["TensorrtExecutionProvider", "CUDAExecutionProvider", CPU]


def test_order_is_kept_and_cpu_ends_the_list() -> None:
    got = select_providers("CUDAExecutionProvider,TensorrtExecutionProvider", GPU_HOST)
    assert got == ("CUDAExecutionProvider", "TensorrtExecutionProvider", CPU)
    assert select_providers(f"{CPU}, CUDAExecutionProvider", GPU_HOST) == (
        "CUDAExecutionProvider",
        CPU,
    )
    assert select_providers(["CUDAExecutionProvider", "CUDAExecutionProvider"], GPU_HOST) == (
        "CUDAExecutionProvider",
        CPU,
    )
    assert select_providers("", GPU_HOST) == (CPU,)


def test_unavailable_provider_is_dropped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="app.inference.session"):
        got = select_providers("CUDAExecutionProvider,CPUExecutionProvider", [CPU])
    assert got == (CPU,)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1
    assert "CUDAExecutionProvider" in warned[0]


def test_session_on_this_build_falls_back_to_cpu(model_dir: Path) -> None:
    """This machine's onnxruntime has no CUDA: the session still opens, on the CPU."""
    session = make_session(
        model_dir / SPECS[DETECTOR].filename,
        providers=("CUDAExecutionProvider", "NoSuchExecutionProvider"),
    )
    assert session.get_providers() == [CPU]


def test_ocr_flags_follow_the_first_provider_rapidocr_knows() -> None:
    assert not any(rapidocr_provider_flags((CPU,)).values())
    flags = rapidocr_provider_flags(("TensorrtExecutionProvider", "CUDAExecutionProvider", CPU))
    assert flags["EngineConfig.onnxruntime.use_cuda"] is True
    assert sum(flags.values()) == 1


def test_setting_reaches_the_face_models_and_ocr(tmp_path: Path) -> None:
    db = {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", "data_dir": str(tmp_path)}
    settings = make_settings(
        db, capture_checks="full", onnx_providers="CUDAExecutionProvider,CPUExecutionProvider"
    )
    pipeline = build_pipeline(settings)  # builds, does not load: no model is read here
    try:
        assert pipeline.face_analyzer is not None
        assert pipeline.document_analyzer is not None
        assert pipeline.face_analyzer.config.providers == (CPU,)  # no CUDA in this build
        assert pipeline.document_analyzer.ocr._providers == (CPU,)  # type: ignore[attr-defined]
    finally:
        pipeline.close()
    assert make_settings(db).onnx_providers == CPU
