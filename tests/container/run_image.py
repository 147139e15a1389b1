"""The image, run as an operator runs it: `make container-test` (also the last step of .ci/run).

Not a pytest module (it builds and runs an image, minutes): a script that exits non-zero on the
first failure. It needs podman and runc (deploy/podman.sh installs them when root) and the
PostgreSQL on 127.0.0.1:5432. Never skipped: a missing tool is a failure.

1. `make image` has built IMAGE (default heyan:local, FROM the local Debian base).
2. A fresh database (heyan_container) and fresh keys; the container runs on the host network
   with a read-only root filesystem (/tmp a tmpfs, /data a new volume), the full checks, and
   every secret passed by name from this process's environment (never on a command line).
3. /readyz answers 200 (database, migrations at head, storage), the image's HEALTHCHECK passes.
4. `python -m app provider create` inside the container gives an API key; over real HTTP:
   create an order, its QR token, a mini-program session (platform "dev": APP_ENV=dev, the only
   difference from prod here), the licence and both sides of the ID card (labelled-synthetic,
   bench/load/samples.py) with the full checks, then the order reads subject_verified.
5. SIGTERM (`podman stop`): the container exits 0 after uvicorn's graceful shutdown.
6. The container's whole log has no ERROR/CRITICAL line and no traceback.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from testkit.net import free_port
from tests.container.flow import FlowError, document_flow, ensure_samples

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("IMAGE", "heyan:local")
PG_ADMIN = os.environ.get("CONTAINER_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
DB_NAME = "heyan_container"
NAME = "heyan-container-test"
# The same podman flags as `make image` (deploy/podman.sh: storage driver and root, runc, ...).
PODMAN = [
    "podman",
    *subprocess.run(
        ["bash", "-c", '. deploy/podman.sh && printf "%s\\n" "${PODMAN_FLAGS[@]}"'],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.splitlines(),
]  # fmt: skip
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
BAD_LINE = re.compile(
    r"\b(ERROR|CRITICAL)\b|Traceback \(most recent call last\)|\"level\": \"ERROR\""
)


def step(msg: str) -> None:
    sys.stdout.write(f"container-test: {msg}\n")
    sys.stdout.flush()


def podman(*args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [*PODMAN, *args], capture_output=True, text=True, env=env, timeout=600, check=False
    )
    if check and done.returncode != 0:
        raise SystemExit(f"podman {shlex.join(args[:3])} failed:\n{done.stderr[-2000:]}")
    return done.stdout


async def recreate_database(drop_only: bool = False) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        if not drop_only:
            await conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    finally:
        await conn.close()


def secrets_env() -> dict[str, str]:
    from app.security.crypto import new_key_spec

    return {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATA_KEYS": new_key_spec("d1"),
        "FACE_DATA_KEYS": new_key_spec("f1"),
        "DATA_INDEX_KEY": base64.b64encode(os.urandom(32)).decode(),
    }


def wait_ready(base: str, deadline_s: float = 240) -> None:
    end = time.monotonic() + deadline_s
    last = ""
    while time.monotonic() < end:
        state = podman("inspect", "--format", "{{.State.Status}}", NAME).strip()
        if state not in ("running", "created", "configured"):
            raise SystemExit(f"the container is {state} before /readyz:\n{logs()}")
        try:
            r = httpx.get(f"{base}/readyz", timeout=5)
            if r.status_code == 200:
                return
            last = f"{r.status_code} {r.text[:300]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(2)
    raise SystemExit(f"/readyz not 200 after {deadline_s} s (last: {last}):\n{logs()}")


def logs() -> str:
    done = subprocess.run([*PODMAN, "logs", NAME], capture_output=True, text=True, check=False)
    return done.stdout + done.stderr


def expect(cond: bool, what: str, detail: Any = "") -> None:
    if not cond:
        raise SystemExit(f"FAILED: {what}\n{detail}")
    step(f"ok: {what}")


def flow(base: str) -> None:
    out = podman("exec", NAME, "python", "-m", "app", "provider", "create", "容器测试")
    api_key = json.loads(out)["api_key"]
    expect(bool(api_key), "`python -m app provider create` inside the container")
    try:
        document_flow(base, api_key, SAMPLES, step)
    except FlowError as exc:
        raise SystemExit(f"FAILED: {exc}") from None


def main() -> int:
    global SAMPLES
    start = time.monotonic()
    if subprocess.run([*PODMAN, "image", "exists", IMAGE], check=False).returncode:
        raise SystemExit(f"image {IMAGE} is missing: run `make image`")
    SAMPLES = ensure_samples()
    asyncio.run(recreate_database())
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, **secrets_env()}
    podman("rm", "-f", "-v", NAME, check=False)
    podman("volume", "rm", "-f", f"{NAME}-data", check=False)
    env_names = ["SECRET_KEY", "DATA_KEYS", "FACE_DATA_KEYS", "DATA_INDEX_KEY"]
    run = ["run", "-d", "--name", NAME, "--network", "host", *ULIMITS]
    run += ["--read-only", "--tmpfs", "/tmp", "-v", f"{NAME}-data:/data"]
    for name in env_names:
        run += ["-e", name]  # the value comes from this process's environment
    run += ["-e", "APP_ENV=dev", "-e", "CAPTURE_CHECKS=full", "-e", "WEB_CONCURRENCY=2"]
    run += ["-e", f"DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/{DB_NAME}"]
    run += ["-e", f"PUBLIC_BASE_URL={base}", "-e", f"HEALTHCHECK_URL={base}/healthz"]
    run += [IMAGE, "python", "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)]
    ok = False
    try:
        podman(*run, env=env)
        step(f"started {IMAGE} on {base} (read-only root, host network)")
        wait_ready(base)
        expect(True, f"/readyz 200 after {time.monotonic() - start:.0f} s")
        hc = subprocess.run([*PODMAN, "healthcheck", "run", NAME], capture_output=True, text=True)
        expect(hc.returncode == 0, "the image's HEALTHCHECK passes", hc.stdout + hc.stderr)
        user = podman("exec", NAME, "id", "-u").strip()
        expect(user == "10001", f"runs as uid {user}, not root")
        flow(base)
        t0 = time.monotonic()
        podman("stop", "--time", "40", NAME)
        code = podman("inspect", "--format", "{{.State.ExitCode}}", NAME).strip()
        text = logs()
        expect(code == "0", f"SIGTERM: exit code {code} after {time.monotonic() - t0:.1f} s", text)
        for needle in ("Shutting down", "Application shutdown complete", "Finished server process"):
            expect(needle in text, f"graceful shutdown logged: {needle!r}", text[-3000:])
        bad = [line for line in text.splitlines() if BAD_LINE.search(line)]
        expect(
            not bad,
            f"no error line in the container's log ({len(text.splitlines())} lines)",
            "\n".join(bad[:40]),
        )
        ok = True
    finally:
        if not ok:
            sys.stderr.write("---- container log ----\n" + logs()[-8000:] + "\n")
        podman("rm", "-f", "-v", NAME, check=False)
        podman("volume", "rm", "-f", f"{NAME}-data", check=False)
        asyncio.run(recreate_database(drop_only=True))
    step(f"passed in {time.monotonic() - start:.0f} s")
    return 0


SAMPLES = Path()

if __name__ == "__main__":
    raise SystemExit(main())
