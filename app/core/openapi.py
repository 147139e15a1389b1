"""The error shape in the OpenAPI document: every operation declares its problem+json answers.

FastAPI documents only the success answer and a 422 in its own (unused) format; a provider
generating a client from /openapi.json must see what the service really sends: RFC 9457
problem+json with a stable ``code`` (app.core.errors.AppError.problem).
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

PROBLEM = "application/problem+json"


class FieldError(BaseModel):
    field: str = Field(description="dotted path of the field, e.g. subject.principal.name")
    detail_en: str
    code: str | None = Field(default=None, description="business rule, e.g. ID_NUMBER_INVALID")
    detail: str | None = Field(default=None, description="Chinese message for this field")
    type: str | None = Field(default=None, description="schema rule, e.g. missing, string_too_long")


class Problem(BaseModel):
    """RFC 9457 problem details; ``code`` is stable, ``detail`` can be shown to a person."""

    # Some problems carry more members (e.g. limit_bytes, retry_after_seconds, reason).
    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI naming the problem type")
    title: str = Field(description="English summary of the code, the same on every occurrence")
    status: int = Field(description="the HTTP status")
    code: str = Field(description="stable machine-readable code, e.g. ORDER_NOT_FOUND")
    detail: str = Field(description="Chinese message a mini-program can show as is")
    detail_en: str = Field(description="the same in English")
    instance: str | None = Field(default=None, description="the request path")
    checks: list[dict[str, Any]] | None = Field(
        default=None, description="CAPTURE_REJECTED: every check, with what to do"
    )
    errors: list[FieldError] | None = Field(
        default=None, description="VALIDATION_ERROR: one entry per invalid field"
    )


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


# Declared on every operation (FastAPI(responses=...)); routes add or refine their own.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem("Malformed request or upload (e.g. UPLOAD_MALFORMED)"),
    401: _problem("Missing or invalid API key / session token"),
    404: _problem("No such resource, or not this caller's (never 403 across tenants)"),
    422: _problem("VALIDATION_ERROR with `errors`, or a refused input with its own code"),
    429: _problem("RATE_LIMITED and similar; see Retry-After"),
    "4XX": _problem("Other client errors, each with a stable `code` (409, 410, 413, 415, ...)"),
    503: _problem("DB_UNAVAILABLE or BUSY; see Retry-After"),
    "5XX": _problem("INTERNAL: an unexpected error (reported, never expected)"),
}


def problem_content_types(schema: dict[str, Any]) -> dict[str, Any]:
    """Serve every error answer whose schema is Problem as application/problem+json."""
    ref = "#/components/schemas/Problem"
    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            for status, response in op.get("responses", {}).items():
                content = response.get("content", {})
                if str(status)[0] not in "45":
                    continue
                # FastAPI files the model under the route's own media type (JSON, text, ...).
                for media in [
                    m for m, c in content.items() if c.get("schema", {}).get("$ref") == ref
                ]:
                    content[PROBLEM] = content.pop(media)
    return schema


def install(app: Any) -> None:
    """Wrap app.openapi so the generated document names the problem+json media type."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problem_content_types(generate())
        return app.openapi_schema  # type: ignore[no-any-return]

    app.openapi = openapi


def operation_id(route: APIRoute) -> str:
    """An operation's id: its endpoint function's name (FastAPI's default appends the path
    and method, which client generators turn into names like get_order_v1_orders_order_id_get)."""
    return route.name
