"""Locust user for bench/bare_app.py: GET /ping as fast as the server answers."""

from __future__ import annotations

from locust import FastHttpUser, constant, task


class BarePing(FastHttpUser):
    wait_time = constant(0)

    @task
    def ping(self) -> None:
        self.client.get("/ping", name="GET /ping (bare FastAPI)")
