"""create_app(): assembles the service (middleware, error handlers, routers); the lifespan
(app/lifespan.py) builds what a process holds, the handlers (app/handlers.py) answer errors."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from app import handlers
from app.access.middleware import RequestMiddleware
from app.access.ratelimit import RateLimits, build_limiters
from app.analysis.pipeline import CapturePipeline
from app.capture.extra import router as extra_capture_router
from app.capture.router import provider_router as precheck_router
from app.capture.router import router as capture_router
from app.config import Settings, get_settings
from app.core import docs, openapi
from app.core.bodylimit import BodyLimitMiddleware, upload_route
from app.core.logs import configure_logging
from app.core.metrics import observe_model
from app.filing.router import materials_router
from app.filing.router import mini_router as pledge_router
from app.filing.router import public_router as sheet_check_router
from app.filing.router import router as filing_router
from app.inference import modeltime
from app.lifespan import build_pipeline, make_lifespan
from app.mini.router import landing
from app.mini.router import router as mini_router
from app.ops import router as ops
from app.orders.audit import router as audit_router
from app.orders.router import router as orders_router
from app.webhooks.router import router as webhooks_router

__all__ = ["build_pipeline", "create_app"]


def create_app(
    settings: Settings | None = None, pipeline: CapturePipeline | None = None
) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(json_logs=settings.app_env == "prod")
    # httpx logs request URLs at INFO, and WeChat puts its access token in the query string.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    lifespan = make_lifespan(settings, pipeline)

    app = FastAPI(
        title="Heyan (核验) API",
        version="0.1.0",
        description="Mobile-capture verification backend for ICP and algorithm filing.",
        lifespan=lifespan,
        # Every operation documents its errors as problem+json (app/core/openapi.py).
        responses=openapi.PROBLEM_RESPONSES,
        # Served by app/core/docs.py with the assets the project ships, not from a CDN.
        docs_url=None,
        redoc_url=None,
        # Operation ids are the endpoint functions' names (create_order, get_order, ...), so
        # generated clients get short method names; tests/test_openapi_exact.py keeps them
        # unique.
        generate_unique_id_function=openapi.operation_id,
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

    handlers.install(app)

    for router in (
        materials_router,  # before orders: /materials/id-composite is not a material id
        orders_router,
        audit_router,
        mini_router,
        pledge_router,
        extra_capture_router,  # before capture: its two paths are not the generic {step}
        capture_router,
        precheck_router,
        landing,
        webhooks_router,
        filing_router,
        sheet_check_router,
        ops.router,
    ):
        app.include_router(router)
    return app
