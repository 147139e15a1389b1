"""PP-OCR (rapidocr's bundled ONNX det/rec models) behind one small, thread-safe interface.

The models come inside the ``rapidocr`` wheel: nothing is downloaded at run time. The
engine is created once (:meth:`OcrEngine.load`), with onnxruntime's intra-op threads set on
purpose (2-core machines: 2 threads, 1 inter-op thread, arena off) and reused. Calls are
serialised with a lock: rapidocr mutates its own state per call, and on two cores one OCR
at a time is as fast as two interleaved ones.

Text direction classification is off: the document is rectified upright before OCR, and the
classifier would cost a pass over every text line.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.documents.validators import nfkc
from app.inference import modeltime
from app.inference.checks import ModelRef


@dataclass(frozen=True, slots=True)
class OcrLine:
    """One recognised text line; box in pixels of the image given to :meth:`OcrEngine.read`."""

    text: str  # NFKC-normalised
    score: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1

    @property
    def cx(self) -> float:
        return (self.box[0] + self.box[2]) / 2

    @property
    def cy(self) -> float:
        return (self.box[1] + self.box[3]) / 2

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# rapidocr builds its own provider list from use_* flags; these are the ones it knows.
_RAPIDOCR_FLAGS = {
    "CUDAExecutionProvider": "EngineConfig.onnxruntime.use_cuda",
    "DmlExecutionProvider": "EngineConfig.onnxruntime.use_dml",
    "CANNExecutionProvider": "EngineConfig.onnxruntime.use_cann",
    "CoreMLExecutionProvider": "EngineConfig.onnxruntime.use_coreml",
}


def rapidocr_provider_flags(providers: tuple[str, ...]) -> dict[str, bool]:
    """rapidocr's use_* switches for the first non-CPU provider it supports (ONNX_PROVIDERS).

    rapidocr puts one accelerator before the CPU provider; a provider it has no switch for
    (TensorRT, OpenVINO...) leaves OCR on the CPU.
    """
    flags = dict.fromkeys(_RAPIDOCR_FLAGS.values(), False)
    for name in providers:
        if name in _RAPIDOCR_FLAGS:
            flags[_RAPIDOCR_FLAGS[name]] = True
            break
    return flags


def default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class OcrEngine:
    """rapidocr with the det (PP-OCRv6 small) and rec (PP-OCRv6 small) models of its wheel."""

    def __init__(
        self,
        threads: int | None = None,
        det_limit_side: int = 736,
        providers: tuple[str, ...] = ("CPUExecutionProvider",),
    ) -> None:
        self._threads = threads or default_threads()
        self._providers = providers  # already filtered by app.liveness.select_providers
        self._det_limit_side = det_limit_side
        self._engine: Any = None
        self._models: list[ModelRef] = []
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()

    def load(self) -> None:
        """Create the onnxruntime sessions once; idempotent and thread-safe."""
        if self._engine is not None:
            return
        with self._load_lock:
            if self._engine is not None:
                return
            # lazy: rapidocr loads onnxruntime and its models, only when OCR is used
            import rapidocr
            from rapidocr import RapidOCR

            logging.getLogger("RapidOCR").setLevel(logging.ERROR)
            params = {
                "Global.log_level": "error",  # "no text found" is an answer, not a warning
                "Global.use_cls": False,
                "Global.text_score": 0.0,  # keep low-confidence reads: they become FIELD_UNREADABLE
                "EngineConfig.onnxruntime.intra_op_num_threads": self._threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                "EngineConfig.onnxruntime.enable_cpu_mem_arena": False,
                "Det.limit_side_len": self._det_limit_side,
                **rapidocr_provider_flags(self._providers),
            }
            engine = RapidOCR(params=params)
            # Create the det and rec sessions now rather than on the first request.
            engine._load_det_model()  # type: ignore[no-untyped-call]
            engine._load_rec_model()  # type: ignore[no-untyped-call]
            try:
                version = importlib.metadata.version("rapidocr")
            except importlib.metadata.PackageNotFoundError:
                version = "unknown"
            model_dir = Path(rapidocr.__file__).parent / "models"
            self._models = [
                ModelRef(name=f"rapidocr/{p.stem}", version=str(version), sha256=_sha256(p))
                for p in sorted(model_dir.glob("PP-OCRv6_*.onnx"))
            ]
            self._engine = engine

    @property
    def loaded(self) -> bool:
        return self._engine is not None

    def models(self) -> list[ModelRef]:
        self.load()
        return list(self._models)

    def model_ref(self) -> ModelRef:
        """One reference naming both models (det+rec), for per-check provenance."""
        refs = self.models()
        digest = hashlib.sha256("".join(r.sha256 for r in refs).encode()).hexdigest()
        return ModelRef(
            name="rapidocr/PP-OCRv6_small(det+rec)", version=refs[0].version, sha256=digest
        )

    def recognize(self, crop_bgr: np.ndarray) -> tuple[str, float]:
        """Recognise one text line without detection: for short values the detector missed
        (a lone 男/女). A few milliseconds."""
        self.load()
        from rapidocr.ch_ppocr_rec import TextRecInput  # lazy: as load() above

        with self._lock, modeltime.timed("rapidocr/rec"):
            res = self._engine.text_rec(TextRecInput(img=[crop_bgr]))
        if not res.txts:
            return "", 0.0
        return nfkc(str(res.txts[0])).strip(), float(res.scores[0])

    def read(self, image_bgr: np.ndarray) -> list[OcrLine]:
        """Detect and recognise every text line once; lines sorted top-to-bottom, left-to-right."""
        self.load()
        with self._lock, modeltime.timed("rapidocr/det+rec"):
            result = self._engine(image_bgr)
        boxes = getattr(result, "boxes", None)
        txts = getattr(result, "txts", None)
        scores = getattr(result, "scores", None)
        if boxes is None or txts is None or scores is None:
            return []
        lines: list[OcrLine] = []
        for box, txt, score in zip(boxes, txts, scores, strict=False):
            pts = np.asarray(box, dtype=np.float32).reshape(-1, 2)
            text = nfkc(str(txt)).strip()
            if not text:
                continue
            x0, y0 = float(pts[:, 0].min()), float(pts[:, 1].min())
            x1, y1 = float(pts[:, 0].max()), float(pts[:, 1].max())
            lines.append(OcrLine(text=text, score=float(score), box=(x0, y0, x1, y1)))
        lines.sort(key=lambda ln: (ln.cy, ln.box[0]))
        return lines
