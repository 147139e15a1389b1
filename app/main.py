"""create_app(): the lifespan builds the engine, storage and model registry; routers mount here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app import crypto, docs, modeltime, openapi
from app.bodylimit import BodyLimitMiddleware, upload_route
from app.capture.pipeline import CapturePipeline, Limits
from app.config import Settings, get_settings
from app.context import AppContext
from app.db import is_db_unavailable, is_storage_full, make_engine, make_sessionmaker
from app.errors import AppError
from app.logs import configure_logging
from app.metrics import WEBHOOK_BACKLOG, exposition, observe_model
from app.middleware import RequestMiddleware
from app.orders.cache import ByVersion
from app.providers import ApiKeyCache
from app.ratelimit import RateLimits, build_limiters
from app.storage import StorageUnavailable, build_storage
from app.tokens import TokenCodec

log = logging.getLogger("heyan")
PROBLEM = "application/problem+json"


def problem_response(err: AppError, request: Request) -> JSONResponse:
    return JSONResponse(
        err.problem(instance=request.url.path),
        status_code=err.status,
        media_type=PROBLEM,
        headers=err.headers,
    )


def build_pipeline(settings: Settings) -> CapturePipeline:
    limits = Limits(
        max_image_bytes=settings.max_image_bytes,
        max_video_bytes=settings.max_video_bytes,
        max_video_seconds=settings.max_video_seconds,
        max_image_pixels=settings.max_image_pixels,
        min_image_side=settings.min_image_side,
    )
    document = face = None
    if settings.capture_checks == "full":
        from app.capture.documents import DocumentAnalyzer
        from app.capture.ocr import OcrEngine
        from app.liveness import FaceAnalyzer, LivenessConfig
        from app.liveness.inference import select_providers

        providers = select_providers(settings.onnx_providers)
        document = DocumentAnalyzer(ocr=OcrEngine(providers=providers))
        reader = None
        if settings.liveness_digits:
            from app.liveness.speech import DigitReader

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
    from app.phone_match import AlipayConfig, PhoneMatchConfig, PhoneResolvers, WeChatConfig

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
    from app.retention import purge_due

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
                )
            if done["orders"]:
                log.info("retention purged %d orders, %d files", done["orders"], done["files"])
        except Exception:
            log.exception("retention pass failed; retrying next interval")


def create_app(
    settings: Settings | None = None, pipeline: CapturePipeline | None = None
) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(json_logs=settings.app_env == "prod")
    # httpx logs request URLs at INFO, and WeChat puts its access token in the query string.
    logging.getLogger("httpx").setLevel(logging.WARNING)

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
            from app.webhooks.dispatcher import Dispatcher

            # One background sender per process; several processes share the outbox safely.
            dispatcher = Dispatcher.from_settings(app.state.ctx.sessionmaker, settings)
            dispatcher.start()
        app.state.webhook_dispatcher = dispatcher
        from app.filing.service import start_sms_sweeper

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

    app = FastAPI(
        title="Heyan (核验) API",
        version="0.1.0",
        description="Mobile-capture verification backend for ICP and algorithm filing.",
        lifespan=lifespan,
        # Every operation documents its errors as problem+json (app/openapi.py).
        responses=openapi.PROBLEM_RESPONSES,
        # Served by app/docs.py with the assets the project ships, not from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    openapi.install(app)
    docs.install(app)

    # Both plain ASGI (no BaseHTTPMiddleware task group or streamed copy per request); the
    # body limits innermost, so the request id, metrics and rate limits apply to its 413s.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_json_body_bytes,
        idle_timeout=settings.upload_idle_timeout_seconds,
        total_timeout=settings.upload_timeout_seconds,
        exempt=upload_route,
    )
    app.state.limits = RateLimits(
        *build_limiters(
            settings.rate_limit_backend,
            settings.database_url,
            settings.rate_limit_provider_per_minute,
            settings.rate_limit_address_per_minute,
            engine=lambda: app.state.ctx.engine,
        )
    )
    app.add_middleware(RequestMiddleware, limits=app.state.limits)
    modeltime.listen(observe_model)  # every model call, per model name

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if (
            ctype
            and not (ctype == "application/json" or ctype.endswith("+json"))
            and any(tuple(e.get("loc", ()))[:1] == ("body",) for e in exc.errors())
        ):
            # A JSON endpoint sent another media type (text/plain, a form): 415, not 422.
            return problem_response(
                AppError(
                    code="UNSUPPORTED_MEDIA_TYPE",
                    status=415,
                    zh="请求格式有误,请以 JSON 提交",
                    en="Send the body as application/json",
                    headers={"Accept": "application/json"},
                ),
                request,
            )
        errors = [
            {
                "field": ".".join(str(x) for x in e.get("loc", ()) if x != "body"),
                "detail_en": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        err = AppError(
            code="VALIDATION_ERROR",
            status=422,
            zh="提交的信息有误,请检查后重新提交",
            en="The request is not valid",
            extra={"errors": errors},
        )
        return problem_response(err, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            404: ("NOT_FOUND", "未找到该资源"),
            405: ("METHOD_NOT_ALLOWED", "不支持该请求方法"),
        }
        code, zh = codes.get(exc.status_code, ("HTTP_ERROR", "请求有误"))
        if exc.status_code == 405:
            # Allow lists every method of the resource (RFC 9110 §15.5.6): Starlette's
            # names only the first route that matched the path (GET and POST /v1/orders
            # are two routes).
            allowed = [
                method
                for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
                if any(
                    route.matches({**request.scope, "method": method})[0] is Match.FULL
                    for route in app.router.routes
                )
            ]
            if allowed:
                exc.headers = {**(exc.headers or {}), "Allow": ", ".join(allowed)}
        # Starlette's headers pass through: a 405 carries Allow.
        err = AppError(
            code=code,
            status=exc.status_code,
            zh=zh,
            en=str(exc.detail),
            headers=dict(exc.headers or {}),
        )
        return problem_response(err, request)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        del exc  # logged with its traceback by log.exception
        log.exception("unhandled error on %s", request.url.path)
        err = AppError(code="INTERNAL", status=500, zh="服务异常,请稍后重试", en="Internal error")
        return problem_response(err, request)

    @app.exception_handler(SQLAlchemyError)
    @app.exception_handler(OSError)
    async def _db_or_disk(request: Request, exc: Exception) -> JSONResponse:
        """A database that cannot be reached (503) or a full disk (507); else a bug (500).

        Every capture writes its files before it commits, and take_capture deletes them
        again on any error: a refused request leaves the order as it was.
        """
        if is_storage_full(exc):
            log.error("storage full: a write was refused on %s", request.url.path)
            err = AppError(
                code="STORAGE_FULL",
                status=507,
                zh="服务器存储空间不足,本次上传未保存,请稍后重试",
                en="Insufficient storage: the upload was not saved",
                headers={"Retry-After": "60"},
            )
        elif is_db_unavailable(exc):
            log.warning("database unavailable: %s", type(exc).__name__)
            err = AppError(
                code="DB_UNAVAILABLE",
                status=503,
                zh="服务暂时不可用,请稍后重试",
                en="The database is unavailable",
                headers={"Retry-After": "5"},
            )
        else:
            return await _unhandled(request, exc)
        return problem_response(err, request)

    @app.exception_handler(StorageUnavailable)
    async def _storage_down(request: Request, exc: StorageUnavailable) -> JSONResponse:
        log.warning("object storage unavailable on %s: %s", request.url.path, exc)
        err = AppError(
            code="STORAGE_UNAVAILABLE",
            status=503,
            zh="服务暂时不可用,请稍后重试",
            en="The object storage is unavailable",
            headers={"Retry-After": "5"},
        )
        return problem_response(err, request)

    from app.capture.router import provider_router as precheck_router
    from app.capture.router import router as capture_router
    from app.mini.router import landing
    from app.mini.router import router as mini_router
    from app.orders.router import router as orders_router

    app.include_router(orders_router)
    app.include_router(mini_router)
    app.include_router(capture_router)
    app.include_router(precheck_router)
    app.include_router(landing)
    from app.webhooks.router import router as webhooks_router

    app.include_router(webhooks_router)
    from app.filing.router import public_router as sheet_check_router
    from app.filing.router import router as filing_router

    app.include_router(filing_router)
    app.include_router(sheet_check_router)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Report that the process is up."""
        return {"status": "ok"}

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    async def metrics(request: Request) -> PlainTextResponse:
        """Expose Prometheus metrics: of this process, or merged over every worker when
        several share the port (PROMETHEUS_MULTIPROC_DIR, set by `serve --workers N`)."""
        from sqlalchemy import func, select

        from app.webhooks.models import WebhookDelivery

        ctx: AppContext = request.app.state.ctx
        try:
            async with ctx.sessionmaker() as db:
                backlog = await db.scalar(
                    select(func.count())
                    .select_from(WebhookDelivery)
                    .where(WebhookDelivery.status.in_(["pending", "failed"]))
                )
            WEBHOOK_BACKLOG.set(backlog or 0)
        except Exception:
            log.warning("metrics: webhook backlog unavailable")
        return PlainTextResponse(exposition(), media_type="text/plain; version=0.0.4")

    @app.get(
        "/readyz",
        tags=["ops"],
        responses={
            503: {
                "description": "Database or storage unreachable, migrations pending (plain JSON)",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    )
    async def readyz(request: Request) -> JSONResponse:
        """Report whether the database and the storage are reachable, migrations at head."""
        from app.migrate import head_revision

        ctx: AppContext = request.app.state.ctx
        try:
            async with ctx.engine.connect() as conn:
                current = (
                    await conn.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar_one_or_none()
        except Exception:
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        try:
            # One HEAD on the bucket (S3) or a writable-folder check, answered within 5 s.
            await asyncio.wait_for(asyncio.to_thread(ctx.storage.ping), timeout=5)
        except Exception as exc:
            log.warning("readyz: storage unreachable: %r", exc)
            return JSONResponse({"status": "unavailable", "storage": "unreachable"}, 503)
        head = head_revision()
        ok = current == head
        return JSONResponse(
            {"status": "ok" if ok else "migrations_pending", "revision": current, "head": head},
            200 if ok else 503,
        )

    return app
