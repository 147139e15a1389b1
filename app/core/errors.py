"""One error type for the whole service; rendered as RFC 9457 problem+json by app.main.

``code`` is stable and documented; ``zh`` is what a mini-program shows as is; ``en`` is for
logs and integrators. Never put an unmasked ID number, name or mobile in either message.
"""

from __future__ import annotations

from typing import Any

# Kept upper case in a problem's title (the rest of the code is lower-cased).
_ACRONYMS = frozenset({"API", "DB", "ID", "JSON", "MRZ", "QR", "SMS", "URL", "USCC"})


def problem_title(code: str) -> str:
    """The problem type's title: a function of the code alone, so it never changes between
    occurrences (RFC 9457 §3.1.3); what varies goes in ``detail`` / ``detail_en``."""
    words = [w if w in _ACRONYMS else w.lower() for w in code.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


class AppError(Exception):
    status: int = 400
    code: str = "BAD_REQUEST"
    zh: str = "请求有误"
    en: str = "Bad request"
    # Every 401 names the scheme (RFC 9110 §15.5.2); a credential that was sent and refused
    # is an invalid token (RFC 6750 §3.1). Raisers may give their own header.
    www_authenticate: str = 'Bearer error="invalid_token"'
    # The request's unit of work (app.deps.get_db) rolls back when an endpoint raises, but
    # some refusals are themselves the record: an ``abuse.limited`` event, a refused capture
    # kept for audit. Those errors keep what the request wrote (committed, then rendered).
    keeps_writes: bool = False

    def __init__(
        self,
        code: str | None = None,
        zh: str | None = None,
        en: str | None = None,
        *,
        status: int | None = None,
        checks: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.code = code or self.code
        self.zh = zh or self.zh
        self.en = en or self.en
        self.status = status or self.status
        self.checks = checks
        self.headers = dict(headers or {})
        if self.status == 401:
            self.headers.setdefault("WWW-Authenticate", self.www_authenticate)
        self.extra = extra or {}
        super().__init__(f"{self.code}: {self.en}")

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://heyan.dev/problems/{self.code.lower().replace('_', '-')}",
            "title": problem_title(self.code),
            "status": self.status,
            "code": self.code,
            "detail": self.zh,
            "detail_en": self.en,
        }
        if instance:
            body["instance"] = instance
        if self.checks is not None:
            body["checks"] = self.checks
        body.update(self.extra)
        return body


class NotFound(AppError):
    status = 404
    code = "NOT_FOUND"
    zh = "未找到该资源"
    en = "Resource not found"


class Unauthorized(AppError):
    status = 401
    code = "UNAUTHORIZED"
    zh = "身份验证失败,请重新扫码"
    en = "Authentication failed"


class Forbidden(AppError):
    status = 403
    code = "FORBIDDEN"
    zh = "无权执行此操作"
    en = "Not permitted"


class Conflict(AppError):
    status = 409
    code = "CONFLICT"
    zh = "操作冲突,请刷新后重试"
    en = "Conflict"
