"""Operations schemas: what /healthz and /readyz answer (plain JSON, not problem+json)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    """Only the keys that apply are sent (the endpoint excludes the unset ones)."""

    status: Literal["ok", "migrations_pending", "unavailable"]
    database: Literal["unreachable"] | None = Field(default=None, description="503: down")
    storage: Literal["unreachable"] | None = Field(default=None, description="503: down")
    revision: str | None = Field(
        default=None, description="the database's migration revision (null: none applied)"
    )
    head: str | None = Field(default=None, description="the code's newest migration")
