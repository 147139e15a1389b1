"""Tables of the filing step: issued verification sheets and SMS-check rounds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base
from app.models.orders import TZDateTime, utcnow


class FilingSheet(Base):
    """One issued verification sheet: its public code, what it attested, and the PDF's hash.

    The code is derived from the sheet's content (HMAC), so the same content always gets the
    same code; the row is what lets the public check find the order from a printed code.
    """

    __tablename__ = "filing_sheets"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    # The order's status the sheet shows (not complete: the sheet says 未完成).
    status: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[datetime] = mapped_column(TZDateTime(), default=utcnow)


class SmsRound(Base):
    """The SMS check after submission to the authority: one per order, with its deadline.

    The *_sent_at columns are the once-only flags of the deadline sweep: they are set by a
    conditional UPDATE ... WHERE flag IS NULL, so with several processes one of them wins.
    """

    __tablename__ = "sms_rounds"
    order_id: Mapped[str] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    provider_id: Mapped[str] = mapped_column(String(32))
    business_type: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(TZDateTime())
    approaching_at: Mapped[datetime] = mapped_column(TZDateTime(), index=True)
    deadline_at: Mapped[datetime] = mapped_column(TZDateTime(), index=True)
    approaching_sent_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    expired_sent_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
    # Set when every required person is done (or at once when nobody is required).
    completed_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)


class SmsPerson(Base):
    """A person who must finish the SMS check in a round (one per mobile number: 同人)."""

    __tablename__ = "sms_people"
    order_id: Mapped[str] = mapped_column(
        ForeignKey("sms_rounds.order_id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), primary_key=True)
    # Comma-separated: subject_principal, website_principal.
    roles: Mapped[str] = mapped_column(String(64))
    done_at: Mapped[datetime | None] = mapped_column(TZDateTime(), nullable=True)
