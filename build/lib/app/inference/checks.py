"""Check verdicts shared by every capture analyser.

Pure module: no FastAPI, SQLAlchemy or settings imports. Every check has a stable
``code``, a score, the threshold it was compared with, and a zh/en message that tells
the person what to do, from the static table in :mod:`app.inference.messages`; verdicts are built
with :func:`check`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.inference.messages import MESSAGES

# The static table (app/inference/messages.py) is complete from import: a code's message never
# depends on which analysers a process happened to import.
_MESSAGES: dict[str, tuple[str, str]] = dict(MESSAGES)


def register_messages(messages: dict[str, tuple[str, str]]) -> None:
    """Register ``code -> (message_zh, message_en)``; a code may be registered once."""
    for code, pair in messages.items():
        if code in _MESSAGES and _MESSAGES[code] != pair:
            raise ValueError(f"check code {code} registered twice with different messages")
        _MESSAGES[code] = pair


def message_for(code: str) -> tuple[str, str]:
    return _MESSAGES.get(code, ("照片未通过检查,请重新拍摄", "The capture did not pass; retake it"))


@dataclass(frozen=True, slots=True)
class ModelRef:
    """Which model produced a verdict: recorded with every check that used one."""

    name: str
    version: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Check:
    code: str
    passed: bool
    score: float | None = None
    threshold: float | None = None
    message_zh: str = ""
    message_en: str = ""
    # Extra facts for the provider and the audit trail (e.g. {"field": "name"}).
    detail: dict[str, Any] = field(default_factory=dict)
    model: ModelRef | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "passed": self.passed,
            "score": None if self.score is None else round(float(self.score), 4),
            "threshold": None if self.threshold is None else round(float(self.threshold), 4),
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }
        if self.detail:
            out["detail"] = self.detail
        if self.model is not None:
            out["model"] = {
                "name": self.model.name,
                "version": self.model.version,
                "sha256": self.model.sha256,
            }
        return out


def check(
    code: str,
    passed: bool,
    score: float | None = None,
    threshold: float | None = None,
    *,
    detail: dict[str, Any] | None = None,
    model: ModelRef | None = None,
) -> Check:
    """Build a verdict; the messages come from the registry.

    A passing check carries an empty message so that the person only reads what to fix.
    """
    zh, en = message_for(code)
    return Check(
        code=code,
        passed=passed,
        score=score,
        threshold=threshold,
        message_zh="" if passed else zh,
        message_en="" if passed else en,
        detail=detail or {},
        model=model,
    )


def all_passed(checks: list[Check]) -> bool:
    return all(c.passed for c in checks)
