"""Logging that never leaks identity data: masking at record creation, JSON in production.

A log record factory masks ID numbers, mainland mobiles, bearer tokens, JWTs and API keys
in every record of every logger (ours, uvicorn's access log, libraries'), whatever handler
later writes it. Production logs are one JSON object a line with the request id.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from typing import Any

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_PATTERNS: list[tuple[re.Pattern[str], Any]] = [
    # JWTs (QR and session tokens): header.payload.signature, base64url.
    (re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]{5,}"), "[token]"),
    # Short QR tokens (app.security.tokens): hq_ + 38 base64url characters.
    (re.compile(r"\bhq_[\w-]{20,}"), "[token]"),
    (re.compile(r"\bhy_[\w-]{20,}"), "hy_[key]"),
    (re.compile(r"(?i)(bearer\s+)[\w.~+/=-]{8,}"), r"\1[token]"),
    # 18-character ID numbers (GB 11643) and residence permits: keep 4 + 4.
    (re.compile(r"(?<![\dA-Za-z])(\d{4})\d{10}(\d{3}[\dXx])(?![\dA-Za-z])"), r"\1**********\2"),
    # Mainland mobiles, with or without +86.
    (re.compile(r"(?<!\d)((?:\+?86)?1[3-9]\d)\d{4}(\d{4})(?!\d)"), r"\1****\2"),
]


# Something at least one pattern needs (a JWT's "eyJ", "hy_", "bearer", or 11 digits in a
# row: a mobile; an ID number has more): one scan rules out nearly every log text (a request
# line, an order id) instead of five, on every access-log record of every request.
_MAYBE = re.compile(r"eyJ|hy_|(?i:bearer)|\d{11}")


def mask(text: str) -> str:
    if _MAYBE.search(text) is None:
        return text
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


_installed = False


def install_masking() -> None:
    """Wrap the record factory once per process."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = request_id.get()
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            # uvicorn's AccessFormatter unpacks the args (client, method, path, version,
            # status): keep the tuple, mask the texts (a token can sit in the query string).
            # This runs for every request: the usual five args cost one scan, of the path.
            args = record.args
            if len(args) == 5 and isinstance(args[2], str):
                path = mask(args[2])
                if path is not args[2]:
                    record.args = (args[0], args[1], path, args[3], args[4])
            else:
                record.args = tuple(mask(a) if isinstance(a, str) else a for a in args)
            return record
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not take logging down
            message = str(record.msg)
        record.msg = mask(message)
        record.args = None
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            out["exc"] = mask(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False)


def configure_logging(json_logs: bool, level: str = "INFO") -> None:
    install_masking()
    root = logging.getLogger()
    if json_logs:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        root.handlers = [handler]
        for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
            lg = logging.getLogger(name)
            lg.handlers = []
            lg.propagate = True
    elif not root.handlers:
        logging.basicConfig(
            format="%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
        )
    root.setLevel(level)
