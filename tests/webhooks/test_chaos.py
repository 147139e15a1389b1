"""The short fault soak (bench/chaos.py, small): two API processes on PostgreSQL, whole
flows and polling, an API process SIGKILLed and restarted, the webhook receiver down then
answering 500. Nothing lost, every 2xx capture readable, deliveries in order, chains intact."""

from __future__ import annotations

from tests.conftest import require_postgres


async def test_short_fault_soak() -> None:
    require_postgres()
    from bench.chaos import healthy, soak

    report = await soak(flows=3, kills=2, outages=1, outage_seconds=1.5, concurrency=3, seed=1)
    assert report["faults"] == {"sigkill_api": 2, "receiver_down": 1, "receiver_500": 1}
    assert report["events"] > 0 and report["delivered_unique"] == report["events"]
    assert report["lost"] == 0 and report["out_of_order"] == 0 and report["dead"] == 0
    assert report["captures_2xx"] >= 3 * 4, report  # 3 documents and the sheet per flow
    assert healthy(report), report
