"""A throw-away PostgreSQL cluster in a temporary folder on a free port, for the fault tests
(tests/test_faults.py) and the fault soak (bench/chaos.py): stopping or restarting it
disturbs nobody else. As root, initdb refuses to run: the postgres OS user runs it then."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

from testkit.net import free_port


def bindir() -> Path | None:
    """The newest installed server's bin folder (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


class PrivatePostgres:
    def __init__(
        self,
        root: Path,
        *,
        max_connections: int = 30,
        shared_buffers: str = "16MB",
        fsync: bool = True,
        timeout: float = 90,
    ) -> None:
        found = bindir()
        if found is None:
            raise RuntimeError("PostgreSQL server binaries are not installed (apt: postgresql)")
        self.bin = found
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        self.port = free_port()
        self.options = f"-c max_connections={max_connections} -c shared_buffers={shared_buffers}"
        if not fsync:
            self.options += " -c fsync=off"
        self.timeout = timeout

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=self.timeout)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync")  # fmt: skip

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 {self.options}"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", opts, "-w", "-t", "60", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
