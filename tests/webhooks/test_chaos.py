"""The short fault soak (bench/chaos.py, small): two API processes on a private PostgreSQL and
a private SeaweedFS (the material store), whole flows and polling, while it injects once
each: an API process SIGKILLed and restarted, the webhook receiver down then answering 500,
PostgreSQL stopped and started, SeaweedFS killed and started, SeaweedFS's disk (a tmpfs) full,
the links to PostgreSQL and SeaweedFS slowed by a delay proxy.
Nothing lost, every 2xx capture readable, deliveries in order, chains intact, the service
recovered from each fault without a restart."""

from __future__ import annotations

import os

from testkit.pg import bindir as pg_bindir
from tests.conftest import require


async def test_short_fault_soak() -> None:
    from bench.chaos import healthy, soak
    from tests.storage.seaweed import binary_runs, weed_binary

    weed = weed_binary()
    require(weed is not None and binary_runs(weed), "the SeaweedFS `weed` binary cannot run")
    require(pg_bindir() is not None, "PostgreSQL server binaries are not installed")
    report = await soak(
        flows=3, kills=1, outages=1, outage_seconds=1.5, pg_restarts=1, pg_down_seconds=2,
        weed_stops=1, weed_down_seconds=2, disk_fulls=1, full_seconds=2, slow_periods=1,
        slow_seconds=2, slow_delay_ms=40, concurrency=3, seed=1,
    )  # fmt: skip
    faults = {"sigkill_api": 1, "receiver_down": 1, "receiver_500": 1, "postgres_restart": 1,
              "seaweedfs_stopped": 1, "network_delay": 1}  # fmt: skip
    if os.geteuid() == 0:  # the full disk needs a tmpfs mount
        faults["store_disk_full"] = 1
    assert report["faults"] == faults, report
    assert report["faults_under_load"] == report["faults_planned"] == 6, report
    assert report["chunks_delayed"] > 0, report  # the delay really held traffic
    assert report["events"] > 0 and report["delivered_unique"] == report["events"]
    assert report["lost"] == 0 and report["out_of_order"] == 0 and report["dead"] == 0
    assert report["captures_2xx"] >= report["flows"] * 5 >= 15, report  # 3 documents, face, sheet
    # Each outage really refused requests, and each was recovered from without a restart.
    assert report["refused_during"]["pg"].get("DB_UNAVAILABLE", 0) > 0, report
    assert report["refused_during"]["weed"].get("STORAGE_UNAVAILABLE", 0) > 0, report
    assert report["api_restarts"] == [1, 0] or report["api_restarts"] == [0, 1], report
    assert healthy(report), report
