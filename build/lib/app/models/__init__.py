"""The ORM, one package: orders.py (providers, keys, orders, sessions, captures, events,
challenges, fingerprints, limits), webhooks.py (endpoints, outbox, attempts), filing.py
(sheets, SMS rounds). Importing any of them registers every table on Base.metadata. The
schema is created only by Alembic migrations (migrations/versions)."""

from app.models import filing, orders, webhooks

__all__ = ["filing", "orders", "webhooks"]
