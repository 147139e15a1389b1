"""ORM tables. The schema is created only by Alembic migrations (migrations/versions)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.models.base import Base
from app.security import crypto


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class TZDateTime(TypeDecorator[datetime]):
    """Timezone-aware everywhere; SQLite hands back naive values, so we re-attach UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class EncryptedText(TypeDecorator[str]):
    """A string stored as AES-256-GCM ciphertext (app.security.crypto), bound to its column."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else crypto.keyring("fields").seal(value, self.context)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else crypto.keyring("fields").open(value, self.context)


class EncryptedJSON(TypeDecorator[dict[str, Any]]):
    """A JSON object stored encrypted (OCR results hold names, numbers, addresses)."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Any) -> str | None:
        if value is None:
            return None
        raw = json.dumps(value, ensure_ascii=False, sort_keys=True)
        return crypto.keyring("fields").seal(raw, self.context)

    def process_result_value(self, value: str | None, dialect: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        out: dict[str, Any] = json.loads(crypto.keyring("fields").open(value, self.context))
        return out


class EncryptedBytes(TypeDecorator[bytes]):
    """Bytes stored as AES-256-GCM ciphertext under the keyring ``purpose`` (text column)."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str, purpose: str = "fields") -> None:
        super().__init__()
        self.context = context
        self.purpose = purpose

    def process_bind_param(self, value: bytes | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return crypto.keyring(self.purpose).seal(base64.b64encode(value).decode(), self.context)

    def process_result_value(self, value: str | None, dialect: Any) -> bytes | None:
        if value is None:
            return None
        return base64.b64decode(crypto.keyring(self.purpose).open(value, self.context))


BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class Provider(Base):
    __tablename__ = "providers"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("provider_id", "external_id"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(128))
    body_hash: Mapped[str] = mapped_column(String(64))
    business_type: Mapped[str] = mapped_column(String(64))
    subject_nature: Mapped[str] = mapped_column(String(32))
    # An individual's subject name and ID number are personal data: encrypted like all such.
    subject_name: Mapped[str] = mapped_column(EncryptedText("orders.subject_name"))
    subject_doc_type: Mapped[str] = mapped_column(String(40))
    subject_doc_number: Mapped[str] = mapped_column(EncryptedText("orders.subject_doc_number"))
    province: Mapped[str | None] = mapped_column(String(40), nullable=True)
    subject_principal_id: Mapped[str] = mapped_column(String(32))
    # What the order asks beyond documents and faces, e.g. {"pledge": true} (the 承诺书 step,
    # app/orders/state.py); None: nothing more (every order created before 0013).
    requirements: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    # Optimistic concurrency: every state-changing write is `UPDATE ... WHERE version = :v`.
    version: Mapped[int] = mapped_column(Integer, default=0)
    # Id of the newest event: the cursor for `changed_since` polling.
    last_event_id: Mapped[int] = mapped_column(BigIntPK, default=0, index=True)
    # The hash of the newest event (app.models.audit): the head of the order's audit chain.
    audit_head: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Set when retention deleted the files and identity data (the events stay).
    purged_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)


class Principal(Base):
    """A person named on the order (主体负责人 / 网站负责人); one row per document number."""

    __tablename__ = "principals"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(EncryptedText("principals.name"))
    doc_type: Mapped[str] = mapped_column(String(40))
    doc_number: Mapped[str] = mapped_column(EncryptedText("principals.doc_number"))
    mobile: Mapped[str] = mapped_column(EncryptedText("principals.mobile"))
    # Keyed hashes (app.security.crypto.blind_index) for equality look-ups without decrypting.
    doc_number_hmac: Mapped[str] = mapped_column(String(64), index=True)
    mobile_hmac: Mapped[str] = mapped_column(String(64), index=True)


class Website(Base):
    __tablename__ = "websites"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    domains: Mapped[list[str]] = mapped_column(JSON)
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id"))
    # website, app, mini_program or quick_app: each is one part, verified like a website.
    kind: Mapped[str] = mapped_column(String(20), default="website", server_default="website")
    # The kind's own fields (app: platforms, package_name, bundle_id, signing_cert_sha256;
    # mini-program and quick app: platform, platform_id); None for websites.
    attrs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class QrToken(Base):
    __tablename__ = "qr_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(TZDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    # PHONE_MISMATCH scans of this token; at the limit the token is locked (423 QR_LOCKED).
    mismatch_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class CaptureSession(Base):
    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    qr_token_id: Mapped[str] = mapped_column(ForeignKey("qr_tokens.id"))
    scope: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[str] = mapped_column(ForeignKey("principals.id"))
    platform: Mapped[str] = mapped_column(String(16))
    phone_masked: Mapped[str] = mapped_column(String(20))
    # Keyed hash of platform, device id and phone: who holds the session.
    phone_hmac: Mapped[str] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(TZDateTime())


class Challenge(Base):
    """A liveness challenge: actions in a server-chosen order, single use, short-lived."""

    __tablename__ = "challenges"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    actions: Mapped[list[str]] = mapped_column(JSON)
    # Nonce, per-step time hints, digits to read, colour flashes (app.liveness.challenge).
    spec: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(TZDateTime())
    used_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)


class Material(Base):
    """A stored upload (accepted or not) or a file derived from one (portrait, best frame)."""

    __tablename__ = "materials"
    __table_args__ = (Index("ix_materials_order_step", "order_id", "step"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    session_id: Mapped[str | None] = mapped_column(ForeignKey("sessions.id"), nullable=True)
    # The person the material is about (None for the subject document and the sheet).
    person_id: Mapped[str | None] = mapped_column(ForeignKey("principals.id"), nullable=True)
    # Canonical step: subject_document, id_front, id_back, id_document, face, verification_sheet,
    # pledge, pledge_photo, authorisation_letter, domain_certificate:<website id>[:<domain>].
    step: Mapped[str] = mapped_column(String(320))
    # upload | portrait | best_frame
    kind: Mapped[str] = mapped_column(String(20), default="upload")
    parent_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    storage_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))
    original_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(40))
    accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when a re-verify clears the part (the file stays for audit until retention).
    cleared_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    extracted: Mapped[dict[str, Any]] = mapped_column(
        EncryptedJSON("materials.extracted"), default=dict
    )
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)

    @property
    def current(self) -> bool:
        """Evidence now: accepted and not cleared by a re-verify (the one definition)."""
        return bool(self.accepted) and self.cleared_at is None


class CheckRow(Base):
    __tablename__ = "checks"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    material_id: Mapped[str] = mapped_column(
        ForeignKey("materials.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    passed: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    model: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class FaceFingerprint(Base):
    """The replay memory of one face capture (app.liveness.fingerprint), accepted or not.

    Derived from a face, so sealed under the face keyring. It outlives the purge of the
    order's materials (a replay may come months later) and is deleted
    FACE_FINGERPRINT_DAYS after the capture (app.ops.retention). Looked up per provider, newest
    first: the index serves exactly that query.
    """

    __tablename__ = "face_fingerprints"
    __table_args__ = (
        Index("ix_face_fingerprints_provider_created", "provider_id", "created_at"),
        Index("ix_face_fingerprints_provider_person", "provider_id", "person_hmac"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    provider_id: Mapped[str] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    # The blind index of the person's document number (Principal.doc_number_hmac): a replay
    # of someone's recording comes with an order in their name, so their earlier captures
    # are compared first. Kept as long as the fingerprint, for that purpose only.
    person_hmac: Mapped[str | None] = mapped_column(String(64), nullable=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    material_id: Mapped[str] = mapped_column(ForeignKey("materials.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, index=True)
    data: Mapped[bytes] = mapped_column(EncryptedBytes("face_fingerprints.data", "faces"))


class Event(Base):
    """Append-only audit trail, hash-chained per order: never updated (but for the purge's
    tombstone of the personal fields), never deleted."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    provider_id: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(64))
    part: Mapped[str | None] = mapped_column(String(64), nullable=True)
    session_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    platform: Mapped[str | None] = mapped_column(String(16), nullable=True)
    phone_masked: Mapped[str | None] = mapped_column(String(20), nullable=True)
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)
    # The hash chain (app.models.audit): the previous event's hash, this one's, and the hash
    # of its personal fields (kept when the purge blanks them: redacted_at is then set).
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    personal_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    redacted_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)


class RateLimitWindow(Base):
    """One fixed one-minute window of a rate-limit key, shared by every API process.

    ``key`` is a keyed hash (never an address or an API key in clear); ``minute`` is the
    window's number (unix seconds // 60). Old windows are deleted by app.access.ratelimit.
    """

    __tablename__ = "rate_limit_windows"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
