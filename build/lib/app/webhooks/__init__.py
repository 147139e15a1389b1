"""Webhooks: a per-provider endpoint, a durable outbox written with each event, a dispatcher."""
