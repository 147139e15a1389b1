"""SMS one-time codes of the phone proof (app.mini.sms): only keyed hashes, never a code or
a number in clear. Rows go with their order (cascade) and are deleted two days after they
were sent (the daily caps look back 24 hours)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base
from app.models.orders import TZDateTime, new_id, utcnow


class SmsCode(Base):
    __tablename__ = "sms_codes"
    __table_args__ = (
        Index("ix_sms_codes_qr_created", "qr_token_id", "created_at"),
        Index("ix_sms_codes_mobile_created", "mobile_hmac", "created_at"),
        Index("ix_sms_codes_address_created", "address_hmac", "created_at"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    qr_token_id: Mapped[str] = mapped_column(ForeignKey("qr_tokens.id", ondelete="CASCADE"))
    # Blind indexes (app.security.crypto.blind_index) of the mobile and the client address:
    # the per-mobile and per-address daily caps count them.
    mobile_hmac: Mapped[str] = mapped_column(String(64))
    address_hmac: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # HMAC-SHA256 under the app secret of the row id and the code: nothing to look a code up
    # by, and a stolen table gives no code without the secret.
    code_hmac: Mapped[str] = mapped_column(String(64))
    gateway: Mapped[str] = mapped_column(String(16))
    # sending → sent | failed (the gateway refused or was down: counts for no cap)
    status: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow, index=True)
    expires_at: Mapped[datetime] = mapped_column(TZDateTime())
    used_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
