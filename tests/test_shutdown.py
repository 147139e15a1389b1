"""SIGTERM drains in-flight requests: a capture being uploaded when the signal arrives still
completes and is stored; the process then exits cleanly. A real server process on 127.0.0.1."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import synthetic_jpeg
from tests.live_server import live_server


def test_sigterm_drains_an_upload_in_flight(tmp_path: Path) -> None:
    with live_server(tmp_path, stdout=subprocess.PIPE) as live:
        server, base, session = live.process, live.base, live.session
        boundary = "heyanboundary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
                "Content-Type: image/jpeg\r\n\r\n"
            ).encode()
            + synthetic_jpeg()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        started = threading.Event()

        def slow_body():  # type: ignore[no-untyped-def]
            for i in range(0, len(body), 4096):
                if i == 4096:
                    started.set()
                    time.sleep(1.5)  # the signal arrives while the upload is in flight
                yield body[i : i + 4096]

        result: dict[str, object] = {}

        def send() -> None:
            r = httpx.post(
                f"{base}/m/v1/captures/subject_document",
                content=slow_body(),
                headers={"Authorization": f"Bearer {session}",
                         "Content-Type": f"multipart/form-data; boundary={boundary}"},
                timeout=30,
            )  # fmt: skip
            result["status"] = r.status_code

        t = threading.Thread(target=send)
        t.start()
        assert started.wait(20)
        server.send_signal(signal.SIGTERM)
        t.join(40)
        assert result.get("status") == 201
        # uvicorn drains, then re-raises SIGTERM so the exit status says why it stopped.
        assert server.wait(40) in (0, -signal.SIGTERM)
        assert server.stdout is not None
        log = server.stdout.read().decode("utf-8", "replace")
        assert "Finished server process" in log
    files = list((tmp_path / "materials").rglob("*.jpg"))
    assert len(files) == 1
