"""Every error the service answers, as RFC 9457 problem+json with a stable code and a
Chinese message: AppError as raised, request validation, Starlette's 404/405, an unusable
upload (the document library's IntakeError), the database or disk (503/507), object storage
(503) and anything unexpected (500, logged with its traceback, nothing leaked)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.core.db import is_db_unavailable, is_storage_full
from app.core.errors import AppError
from app.documents.intake import IntakeError
from app.storage import StorageUnavailable

log = logging.getLogger("heyan")
PROBLEM = "application/problem+json"


def problem_response(err: AppError, request: Request) -> JSONResponse:
    return JSONResponse(
        err.problem(instance=request.url.path),
        status_code=err.status,
        media_type=PROBLEM,
        headers=err.headers,
    )


def from_intake(exc: IntakeError) -> AppError:
    """An unusable upload: 415 when the format is not one we take, else 422."""
    status = 415 if exc.code == "UNSUPPORTED_FORMAT" else 422
    return AppError(exc.code, exc.zh, exc.en, status=status, extra=exc.extra or None)


def install(app: FastAPI) -> None:
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

    @app.exception_handler(IntakeError)
    async def _intake(request: Request, exc: IntakeError) -> JSONResponse:
        return problem_response(from_intake(exc), request)
