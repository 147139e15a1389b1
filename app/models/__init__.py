"""The ORM, one package: orders.py (providers, keys, orders, sessions, captures, events,
challenges, fingerprints, limits), webhooks.py (endpoints, outbox, attempts), filing.py
(sheets, SMS rounds), sms.py (the one-time codes of the SMS phone proof). Importing any of
them registers every table on Base.metadata. The schema is created only by Alembic
migrations (migrations/versions)."""

from app.models import filing, orders, sms, webhooks

__all__ = ["filing", "orders", "sms", "webhooks"]
