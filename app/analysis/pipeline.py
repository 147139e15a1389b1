"""The capture check pipeline: intake, then the step's analyser, run off the event loop.

The analysers (documents, liveness) are pure libraries; this module adapts uploads to
them and bounds how many run at once. With ``capture_checks="intake"`` only the intake
checks run (used by fast flow tests of the state machine and by operators who must
degrade); every analyser is loaded once at start-up, never per request.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

import numpy as np
from PIL import Image, ImageOps

from app.core.errors import AppError
from app.core.metrics import INFERENCE_SECONDS, QUEUE_DEPTH
from app.documents.intake import (
    DecodedImage,
    decode_image,
    decode_stored,
    probe_video,
    require_video,
    video_creation_time,
)
from app.documents.kinds import kind_for
from app.inference.checks import Check, ModelRef

T = TypeVar("T")


class FileTooLarge(AppError):
    status = 413
    code = "FILE_TOO_LARGE"
    zh = "文件过大,请压缩后重新上传"
    en = "The file is too large"


class Busy(AppError):
    status = 503
    code = "BUSY"
    zh = "当前核验人数较多,请稍后重试"
    en = "Too many captures in progress; retry shortly"


@dataclass(frozen=True, slots=True)
class Limits:
    max_image_bytes: int
    max_video_bytes: int
    max_video_seconds: float
    max_image_pixels: int
    min_image_side: int


@dataclass(frozen=True, slots=True)
class DocumentExpectation:
    """What the order says about the document in this step (None: not cross-checked)."""

    doc_type: str  # the order's document type (resident_id, business_licence, ...)
    side: str | None  # "front" | "back" | None (one-page documents, licences, sheet)
    today: date
    person_name: str | None = None
    person_number: str | None = None
    subject_name: str | None = None
    subject_number: str | None = None
    domains: tuple[str, ...] = ()
    is_unit: bool = False
    # The province's sheet rules (app/filing/provinces.sheet_expectation); defaults: unchecked.
    domain_placement: str | None = None
    fingerprint: bool = False
    pledge_text: str | None = None
    signature: bool = False  # SIGNATURE_MISSING (the sheet, the pledge photo)
    pledge_wording: str | None = None  # the pledge photo: the text the person confirmed


@dataclass(slots=True)
class Derived:
    kind: str  # "portrait" | "best_frame"
    data: bytes
    content_type: str


@dataclass(slots=True)
class CaptureOutcome:
    checks: list[Check]
    stored: bytes
    stored_type: str
    original_sha256: str
    extracted: dict[str, Any] = field(default_factory=dict)
    derived: list[Derived] = field(default_factory=list)
    match_score: float | None = None
    # Face step: the replay fingerprint (app.liveness.fingerprint, serialised) when the face
    # models ran, and when the capture says it started (a video's creation_time), if it does.
    fingerprint: bytes | None = None
    started_at: datetime | None = None
    # Set by the replay check: the earlier capture this one replays (order and material ids).
    replay_of: dict[str, Any] | None = None

    @property
    def accepted(self) -> bool:
        return all(c.passed for c in self.checks)


class DocumentAnalyzerLike(Protocol):
    def load(self) -> None: ...
    def models(self) -> list[ModelRef]: ...
    def analyze(self, image_bgr: np.ndarray, kind: Any, expect: Any) -> Any: ...


class FaceAnalyzerLike(Protocol):
    config: Any

    def load(self) -> None: ...
    def models(self) -> list[ModelRef]: ...
    def analyze(
        self,
        frames: list[Any],
        actions: list[str],
        portrait_bgr: Any,
        *,
        mirrored: bool = False,
        audio: Any = None,
        digits: str | None = None,
        flash: Any = None,
    ) -> Any: ...


def encode_jpeg(bgr: np.ndarray, quality: int = 92) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1])).save(out, "JPEG", quality=quality)
    return out.getvalue()


def decode_frame(data: bytes, max_side: int) -> np.ndarray:
    """One frame of a face capture as BGR, its longer side at most ``max_side``.

    Frames are decoded at a reduced JPEG scale where possible: 60 full-size phone frames
    would otherwise take gigabytes, for a face the analyser reads at 640 px anyway.
    """
    src = Image.open(io.BytesIO(data))
    src.draft("RGB", (max_side, max_side))
    img = ImageOps.exif_transpose(src).convert("RGB")
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return np.asarray(img)[:, :, ::-1].copy()


class CapturePipeline:
    def __init__(
        self,
        limits: Limits,
        *,
        document: DocumentAnalyzerLike | None = None,
        face: FaceAnalyzerLike | None = None,
        workers: int = 2,
        queue_limit: int = 16,
    ) -> None:
        self.limits = limits
        self.document_analyzer = document
        self.face_analyzer = face
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="infer")
        self._slots = asyncio.Semaphore(workers)
        self._queue_limit = queue_limit
        self._waiting = 0

    def load(self) -> None:
        for analyzer in (self.document_analyzer, self.face_analyzer):
            if analyzer is not None:
                analyzer.load()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    @property
    def queue_depth(self) -> int:
        return self._waiting

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work in the inference pool; refuse at once when the queue is full."""
        if self._waiting >= self._queue_limit:
            raise Busy(headers={"Retry-After": "2"})
        self._waiting += 1
        QUEUE_DEPTH.set(self._waiting)
        try:
            async with self._slots:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._pool, fn, *args)
        finally:
            self._waiting -= 1
            QUEUE_DEPTH.set(self._waiting)

    @staticmethod
    def _timed(name: str, fn: Callable[..., T]) -> Callable[..., T]:
        def run(*args: Any) -> T:
            with INFERENCE_SECONDS.labels(name).time():
                return fn(*args)

        return run

    # -- documents -------------------------------------------------------------------

    def _decode(self, data: bytes) -> DecodedImage:
        return decode_image(
            data, max_pixels=self.limits.max_image_pixels, min_side=self.limits.min_image_side
        )

    async def document(self, data: bytes, expect: DocumentExpectation) -> CaptureOutcome:
        decoded = await self.run(self._decode, data)
        outcome = CaptureOutcome(
            checks=list(decoded.checks),
            stored=decoded.stored,
            stored_type=decoded.stored_type,
            original_sha256=decoded.original_sha256,
        )
        if self.document_analyzer is None or not outcome.accepted:
            return outcome
        verdict = await self.run(
            self._timed("document", self._analyze_document), decoded.bgr, expect
        )
        outcome.checks += verdict.checks
        outcome.extracted = dict(verdict.fields)
        if verdict.portrait is not None:
            outcome.derived.append(Derived("portrait", encode_jpeg(verdict.portrait), "image/jpeg"))
        return outcome

    def _analyze_document(self, bgr: np.ndarray, expect: DocumentExpectation) -> Any:
        # Lazy: the document library loads OpenCV; intake-only processes never need it.
        from app.documents.analyzer import DocKind, Expectation

        assert self.document_analyzer is not None
        kind = document_kind(expect)
        return self.document_analyzer.analyze(
            bgr,
            DocKind(kind),
            Expectation(
                today=expect.today,
                person_name=expect.person_name,
                person_number=expect.person_number,
                subject_name=expect.subject_name,
                subject_number=expect.subject_number,
                domains=expect.domains,
                is_unit=expect.is_unit,
                domain_placement=expect.domain_placement,
                fingerprint=expect.fingerprint,
                pledge_text=expect.pledge_text,
                signature=expect.signature,
                pledge_wording=expect.pledge_wording,
            ),
        )

    # -- face ------------------------------------------------------------------------

    async def face(
        self,
        *,
        video: bytes | None,
        frames: list[tuple[float, bytes]] | None,
        actions: list[str],
        portrait: bytes | None,
        mirrored: bool = False,
        digits: str | None = None,
        flash: list[dict[str, Any]] | None = None,
    ) -> CaptureOutcome:
        if video is not None:
            ctype = require_video(video)
            if len(video) > self.limits.max_video_bytes:
                raise FileTooLarge()
            await self.run(
                probe_video, video, self.limits.max_video_seconds, self.limits.max_image_pixels
            )
            started_at = await self.run(video_creation_time, video)
            stored, stored_type = video, ctype
        else:
            assert frames is not None
            span = frames[-1][0] - frames[0][0]
            if span > self.limits.max_video_seconds + 0.5:
                raise AppError(
                    code="VIDEO_TOO_LONG",
                    status=422,
                    zh=f"采集时间过长,请在 {int(self.limits.max_video_seconds)} 秒内完成动作",
                    en=f"The frames span {span:.1f} s, over {self.limits.max_video_seconds:.0f} s",
                )
            # Validate every frame at intake: real JPEG/PNG, decodable, bounded pixels.
            for _, f in frames:
                decode_image(f, max_pixels=self.limits.max_image_pixels, min_side=1)
            stored, stored_type = frames[0][1], "image/jpeg"
            started_at = None
        import hashlib

        outcome = CaptureOutcome(
            checks=[],
            stored=stored,
            stored_type=stored_type,
            original_sha256=hashlib.sha256(stored).hexdigest(),
            started_at=started_at,
        )
        if self.face_analyzer is None:
            return outcome
        verdict, outcome.fingerprint = await self.run(
            self._timed("face", self._analyze_face),
            video,
            frames,
            actions,
            portrait,
            mirrored,
            digits,
            flash,
        )
        outcome.checks += verdict.checks
        outcome.match_score = verdict.match_score
        if verdict.best_frame is not None:
            outcome.derived.append(
                Derived("best_frame", encode_jpeg(verdict.best_frame), "image/jpeg")
            )
        return outcome

    def _analyze_face(
        self,
        video: bytes | None,
        frames: list[tuple[float, bytes]] | None,
        actions: list[str],
        portrait: bytes | None,
        mirrored: bool = False,
        digits: str | None = None,
        flash: list[dict[str, Any]] | None = None,
    ) -> tuple[Any, bytes]:
        """The analyser's verdict and the capture's replay fingerprint, from one decode."""
        # Lazy: the face library loads onnxruntime and OpenCV, only for a face capture.
        from app.liveness import Frame, VideoError, decode_video
        from app.liveness import fingerprint as fp

        assert self.face_analyzer is not None
        cfg = self.face_analyzer.config
        audio = None
        pending = None
        if digits and video is not None:  # the frames path carries no sound: AUDIO_MISSING
            from app.liveness.audio import decode_audio  # PyAV audio, only with read-digits

            try:
                audio = decode_audio(video, max_seconds=self.limits.max_video_seconds)
            except VideoError as exc:
                raise AppError(code=exc.code, status=422, zh=exc.zh, en=exc.en) from exc
        if digits and "read_digits" in actions and hasattr(self.face_analyzer, "start_digits"):
            # Whisper hears the sound on its own thread while the video is decoded and analysed.
            pending = self.face_analyzer.start_digits(audio)
        if video is not None:
            try:
                decoded = decode_video(
                    video,
                    max_seconds=self.limits.max_video_seconds,
                    max_frames=cfg.decode_max_frames,
                    max_side=cfg.decode_max_side,
                )
            except VideoError as exc:
                raise AppError(code=exc.code, status=422, zh=exc.zh, en=exc.en) from exc
        else:
            assert frames is not None
            if len(frames) > cfg.decode_max_frames:  # the same budget as a decoded video
                keep = np.linspace(0, len(frames) - 1, cfg.decode_max_frames)
                frames = [frames[i] for i in sorted({round(x) for x in keep})]
            decoded = [Frame(t=t, image=decode_frame(f, cfg.decode_max_side)) for t, f in frames]
        portrait_bgr = decode_stored(portrait) if portrait is not None else None
        verdict = self.face_analyzer.analyze(
            decoded,
            actions,
            portrait_bgr,
            mirrored=mirrored,
            audio=audio,
            digits=digits,
            flash=flash or None,
            **({"pending": pending} if pending is not None else {}),
        )
        if audio is not None:  # decoded once for the digits: reuse it
            sound = fp.audio_fingerprint(audio.samples, audio.rate)
        else:
            sound = fp.decode_audio(video) if video is not None else None
        return verdict, fp.fingerprint(decoded, sound).to_bytes()


def document_kind(expect: DocumentExpectation) -> str:
    """The analyser's document kind for a step: the side for two-sided cards."""
    return kind_for(expect.doc_type, expect.side)
