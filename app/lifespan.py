"""What a process holds while it serves: the engine, storage, model pipeline, phone resolvers,
token codec and caches (one AppContext), and the background loops (webhook dispatcher, SMS
sweeper, retention). Built in the lifespan and torn down in reverse order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from app.access.providers import ApiKeyCache
from app.analysis.pipeline import CapturePipeline, Limits
from app.config import Settings
from app.context import AppContext
from app.core.cache import ByVersion
from app.core.db import make_engine, make_sessionmaker
from app.filing.service import start_sms_sweeper
from app.ops.retention import purge_due
from app.phone_match import AlipayConfig, PhoneMatchConfig, PhoneResolvers, WeChatConfig
from app.security import crypto
from app.security.tokens import TokenCodec
from app.storage import EncryptedStorage, LocalStorage, parse_storage_url
from app.webhooks.dispatcher import Dispatcher

log = logging.getLogger("heyan")


def limits_of(settings: Settings) -> Limits:
    """The upload limits of the settings, as the pipeline takes them."""
    return Limits(
        max_image_bytes=settings.max_image_bytes,
        max_video_bytes=settings.max_video_bytes,
        max_video_seconds=settings.max_video_seconds,
        max_image_pixels=settings.max_image_pixels,
        min_image_side=settings.min_image_side,
    )


def build_pipeline(settings: Settings) -> CapturePipeline:
    limits = limits_of(settings)
    document = face = None
    if settings.capture_checks == "full":
        # Lazy: the analysers load onnxruntime, OpenCV and the OCR, only for the full checks.
        from app.documents.analyzer import DocumentAnalyzer
        from app.documents.ocr import OcrEngine
        from app.inference.session import select_providers
        from app.liveness import FaceAnalyzer, LivenessConfig

        providers = select_providers(settings.onnx_providers)
        document = DocumentAnalyzer(ocr=OcrEngine(providers=providers))
        reader = None
        if settings.liveness_digits:
            from app.liveness.speech import DigitReader  # CTranslate2, only with read-digits

            reader = DigitReader.from_dir(settings.resolved_model_dir / "speech")
        face = FaceAnalyzer(
            settings.resolved_model_dir / "face",
            LivenessConfig(
                providers=providers,
                passive_model=settings.face_passive_model,
                yaw_threshold_deg=settings.liveness_turn_degrees,
                nod_threshold_deg=settings.liveness_nod_degrees,
                mouth_open_threshold=settings.liveness_mouth_open,
            ),
            digit_reader=reader,
        )
    return CapturePipeline(limits, document=document, face=face, workers=settings.inference_workers)


def build_phones(settings: Settings, http: httpx.AsyncClient) -> Any:
    wechat = (
        WeChatConfig(
            appid=settings.wechat_appid,
            secret=settings.wechat_secret,
            base_url=settings.wechat_api_base,
        )
        if settings.wechat_appid and settings.wechat_secret
        else None
    )
    alipay = (
        AlipayConfig(
            app_id=settings.alipay_app_id,
            alipay_public_key_pem=settings.alipay_public_key_pem,
            aes_key_b64=settings.alipay_aes_key,
        )
        if settings.alipay_public_key and settings.alipay_aes_key
        else None
    )
    return PhoneResolvers(
        PhoneMatchConfig(dev_mode=settings.dev_mode, wechat=wechat, alipay=alipay), http
    )


async def _retention_loop(ctx: AppContext) -> None:
    """Purge orders past retention periodically; each order is claimed by one process."""
    s = ctx.settings
    while True:
        await asyncio.sleep(s.retention_interval_seconds)
        try:
            async with ctx.sessionmaker() as db:
                done = await purge_due(
                    db,
                    ctx.storage,
                    retention_days=s.retention_days,
                    abandon_days=s.abandon_days,
                    fingerprint_days=s.face_fingerprint_days,
                    orphan_age_seconds=s.orphan_file_age_seconds,
                )
            if done["orders"] or done.get("orphan_files"):
                log.info("retention purged %d orders, %d files; %d orphan files",
                         done["orders"], done["files"], done.get("orphan_files", 0))  # fmt: skip
        except Exception:
            log.exception("retention pass failed; retrying next interval")


def make_lifespan(
    settings: Settings, pipeline: CapturePipeline | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The lifespan of one app: `pipeline` is a test's preloaded one (not closed here)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        crypto.configure(*settings.encryption_keys())
        engine = make_engine(
            settings.database_url,
            schema=settings.database_schema or None,
            connect_timeout=settings.database_connect_timeout_seconds,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_pool_overflow,
            pool_timeout=settings.database_pool_timeout_seconds,
        )
        http = httpx.AsyncClient(timeout=httpx.Timeout(5.0))
        pipe = pipeline or build_pipeline(settings)
        # Preload every model now: no 9-second first request.
        pipe.load()
        app.state.ctx = AppContext(
            settings=settings,
            engine=engine,
            reader=engine.execution_options(isolation_level="AUTOCOMMIT"),
            sessionmaker=make_sessionmaker(engine),
            storage=build_storage(settings),
            codec=TokenCodec(
                settings.signing_key(),
                [k.strip() for k in settings.previous_secret_keys.split(",") if k.strip()],
            ),
            pipeline=pipe,
            http=http,
            phones=build_phones(settings, http),
            api_keys=ApiKeyCache(settings.api_key_cache_seconds),
            views=ByVersion(1000, settings.order_view_cache_seconds),
        )
        dispatcher = None
        if settings.webhook_dispatcher:
            # One background sender per process; several processes share the outbox safely.
            dispatcher = Dispatcher.from_settings(app.state.ctx.sessionmaker, settings)
            dispatcher.start()
        app.state.webhook_dispatcher = dispatcher
        # SMS-check deadlines (20 h / 24 h webhooks); SMS_SWEEPER=false turns it off.
        sms_sweeper = start_sms_sweeper(app.state.ctx.sessionmaker)
        retention = (
            asyncio.create_task(_retention_loop(app.state.ctx))
            if settings.retention_interval_seconds > 0
            else None
        )
        try:
            yield
        finally:
            if retention is not None:
                retention.cancel()
            if sms_sweeper is not None:
                await sms_sweeper.stop()
            if dispatcher is not None:
                await dispatcher.stop()
            if pipeline is None:
                pipe.close()
            await http.aclose()
            await engine.dispose()
            app.state.ctx.storage.close()

    return lifespan


def build_storage(settings: Settings) -> EncryptedStorage:
    """The app's storage from its settings: the chosen backend under the encryption layer."""
    loc = parse_storage_url(settings.storage_url, settings.data_dir / "materials")
    if loc.scheme == "file":
        assert loc.path is not None
        return EncryptedStorage(LocalStorage(loc.path))
    from app.storage.s3 import S3Storage  # boto3 only when S3 is used

    return EncryptedStorage(
        S3Storage(
            loc.bucket,
            loc.prefix,
            endpoint_url=settings.s3_endpoint_url or None,
            region=settings.s3_region or None,
            access_key_id=settings.s3_access_key_id or None,
            secret_access_key=settings.s3_secret_access_key or None,
            sse=settings.s3_sse or None,
            sse_kms_key_id=settings.s3_sse_kms_key_id or None,
            addressing_style=settings.s3_addressing_style,
            timeout_seconds=settings.s3_timeout_seconds,
            max_attempts=settings.s3_max_attempts,
        )
    )
