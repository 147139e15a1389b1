"""Run the load test on this machine and write the figures README quotes.

    .venv/bin/python -m bench.load.run                 # about 7 minutes on 2 cores
    .venv/bin/python -m bench.load.run --processes 1 --flow-seconds 30 --step-seconds 5

First it prepares the labelled-synthetic samples once (bench/load/samples.py, cached in
bench/load/.samples: documents whose ID card carries the genuine face clip's man, and his
videos for both orders of the challenge's actions), so flows pass every full check and their
orders end ``complete``. For each process count (``--processes``, default 1 and 2) it starts,
on free local ports:

1. the bare FastAPI app (bench/bare_app.py, same uvicorn options as ``python -m app serve``)
   and drives ``GET /ping`` at each ``--levels`` user count (no think time);
2. Heyan (``python -m app serve --workers N``, full model checks, a fresh PostgreSQL schema
   and data folder) and drives provider polling alone at the same levels (ETag reads and
   changed-since lists, no think time), then the mixed scenario for ``--flow-seconds``:
   ``--flow-users-per-process`` × N users each playing whole mini-program flows back to back
   (1 s think time) next to ``--pollers`` providers polling once a second. Flows still running
   at the end are finished; flows/min = flows run to the end / (last end − first start), and
   the summary counts how many of those orders ended ``complete``.

Then, unless ``--skip-capacity``, one process with ``CAPTURE_CHECKS=intake`` runs complete
flows to count the bytes of materials and the PostgreSQL rows one completed order leaves.

Outputs (``--out``, default bench/load/results): ``summary.json`` and ``summary.md`` (the
figures), and the raw locust CSVs in ``raw/``. The load generator runs on the same cores as the
server, so the figures are a floor; re-measure on a quiet machine before quoting them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from testkit.net import free_port

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PY = sys.executable
P99_LIMIT_MS = 50.0
POLL_NAMES = ("GET /v1/orders/[id] If-None-Match", "GET /v1/orders?changed_since")
CAPACITY_SECONDS = 20
# Flows still running when the measuring time ends are finished (and counted) within this.
FLOW_DRAIN_SECONDS = 180
FLOW_NAME = "whole flow (order→scan→documents→face→sheet)"


def log(msg: str) -> None:
    sys.stderr.write(f"[load {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


# -- processes -------------------------------------------------------------------------


class Server:
    """A server started in its own process group, stopped by its own pid."""

    def __init__(self, cmd: list[str], env: dict[str, str], log_path: Path, workers: int) -> None:
        self.cmd, self.env, self.log_path, self.workers = cmd, env, log_path, workers
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, port: int, timeout: float = 240.0) -> None:
        self.log_fh = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.cmd,
            env=self.env,
            cwd=ROOT,
            stdout=self.log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: see {self.log_path}")
            text = self.log_path.read_text(errors="replace")
            if text.count("Application startup complete") >= self.workers:
                with contextlib.suppress(OSError):
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
                return
            time.sleep(0.5)
        raise RuntimeError(f"server not ready after {timeout} s: see {self.log_path}")

    def pids(self) -> dict[str, int]:
        """The serving processes: the one process, or uvicorn's supervisor and its workers."""
        assert self.proc is not None
        root = self.proc.pid
        if self.workers == 1:
            return {"server": root}
        out = {"supervisor": root}
        for child in children(root):
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"multiprocessing.spawn" in cmdline:
                out[f"worker{len(out)}"] = child
        return out

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # our own process group only
            self.proc.wait()
        self.log_fh.close()


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return sorted(out)


def memory(pid: int) -> dict[str, float]:
    """RSS, peak RSS (VmHWM) and PSS (shared pages split between processes) in MiB."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    mib = {
        "rss_mib": int(status["VmRSS"].split()[0]) / 1024,
        "peak_rss_mib": int(status["VmHWM"].split()[0]) / 1024,
    }
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                mib["pss_mib"] = int(line.split()[1]) / 1024
    return {k: round(v, 1) for k, v in mib.items()}


@contextlib.contextmanager
def running(server: Server, port: int) -> Iterator[Server]:
    try:
        server.start(port)
        yield server
    finally:
        server.stop()


# -- locust ----------------------------------------------------------------------------


def locust(
    locustfile: str,
    host: str,
    users: int,
    seconds: int,
    prefix: Path,
    classes: list[str],
    env: dict[str, str],
    stop_timeout: int = 0,
) -> dict[str, dict[str, Any]]:
    """Run locust headless; return its stats rows by name."""
    cmd = [
        PY,
        "-m",
        "locust",
        "-f",
        str(HERE / locustfile),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{seconds}s",
        "--host",
        host,
        "--csv",
        str(prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--stop-timeout",
        str(stop_timeout),
        *classes,
    ]
    out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if out.returncode not in (0, 1):  # 1: some requests failed; the figures show them
        raise RuntimeError(f"locust failed ({out.returncode}): {out.stderr[-2000:]}")
    rows: dict[str, dict[str, Any]] = {}
    with open(f"{prefix}_stats.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            rows[row["Name"]] = {
                "type": row["Type"],
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rps": round(float(row["Requests/s"]), 1),
                "avg_ms": round(float(row["Average Response Time"]), 1),
                "p50_ms": num(row["50%"]),
                "p95_ms": num(row["95%"]),
                "p99_ms": num(row["99%"]),
                "max_ms": num(row["Max Response Time"]),
            }
    return rows


def num(v: str) -> float | None:
    try:
        return round(float(v), 1)
    except ValueError:
        return None


def read_outcomes(path: Path) -> dict[str, Any]:
    """Outcome counts, and completed flows per minute over the flows' own time window (from
    the first flow's start to the last one's end: flows in progress at the end were finished)."""
    data = json.loads(path.read_text()) if path.exists() else {"outcomes": {}, "window": {}}
    window = data["window"]
    seconds = window.get("last_end", 0.0) - window.get("first_start", 0.0)
    completed = data["outcomes"].get("flow: completed", 0)
    return {
        "outcomes": data["outcomes"],
        "window_seconds": round(seconds, 1),
        "flows_per_minute": round(completed * 60 / seconds, 1) if seconds > 0 else 0.0,
    }


def best_level(levels: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The highest throughput among the levels whose p99 stayed under 50 ms, without errors."""
    ok = [lv for lv in levels if lv["p99_ms"] is not None and lv["p99_ms"] < P99_LIMIT_MS]
    ok = [lv for lv in ok if lv["failures"] == 0]
    return max(ok, key=lambda lv: lv["rps"]) if ok else None


# -- database and storage --------------------------------------------------------------


def pg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def pg(url: str, sql: str, *, schema: str | None = None) -> list[Any]:
    import asyncpg

    async def go() -> list[Any]:
        conn = await asyncpg.connect(pg_dsn(url))
        try:
            if schema:
                await conn.execute(f'SET search_path TO "{schema}"')
            return list(await conn.fetch(sql))
        finally:
            await conn.close()

    return asyncio.run(go())


def ensure_database(url: str) -> None:
    """Create the load test's database when it does not exist yet (never drops anything)."""
    import asyncpg

    async def go() -> None:
        try:
            await (await asyncpg.connect(pg_dsn(url))).close()
        except asyncpg.InvalidCatalogNameError:
            base, _, name = pg_dsn(url).rpartition("/")
            conn = await asyncpg.connect(f"{base}/postgres")
            try:
                await conn.execute(f'CREATE DATABASE "{name.split("?")[0]}"')
            finally:
                await conn.close()

    asyncio.run(go())


def table_rows(url: str, schema: str) -> dict[str, int]:
    tables = pg(
        url,
        "SELECT table_name FROM information_schema.tables "
        f"WHERE table_schema = '{schema}' AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    out = {}
    for (name,) in tables:
        out[name] = pg(url, f'SELECT count(*) FROM "{schema}"."{name}"')[0][0]
    return out


def folder_bytes(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


# -- scenarios -------------------------------------------------------------------------


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.raw = args.out / "raw"
        self.raw.mkdir(parents=True, exist_ok=True)
        self.work = Path(tempfile.mkdtemp(prefix="heyan-load-"))
        self.stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        self.base_env = {k: v for k, v in os.environ.items() if not k.startswith("LOAD_")}
        self.base_env["LOAD_SAMPLES"] = str(HERE / ".samples")
        # The pre-rendered sample videos answer the two legacy orders (blink, shake_head):
        # the servers under load ask those, so every flow can complete with the full checks.
        self.base_env.setdefault("LIVENESS_ACTIONS", "blink,shake_head")
        if args.face_video:
            self.base_env["LOAD_FACE_VIDEO"] = str(Path(args.face_video).resolve())
        self.schemas: list[str] = []

    def drop_schemas(self) -> None:
        """Drop the schemas this run created (unless --keep-schemas)."""
        for schema in self.schemas:
            pg(self.args.database_url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        self.schemas.clear()

    def heyan_env(self, name: str, **extra: str) -> tuple[dict[str, str], str, Path]:
        schema = f"load_{self.stamp}_{name}"
        pg(self.args.database_url, f'CREATE SCHEMA "{schema}"')
        self.schemas.append(schema)
        data_dir = self.work / name
        data_dir.mkdir()
        env = {
            **self.base_env,
            "APP_ENV": "dev",  # the dev phone proof
            "DATA_DIR": str(data_dir),
            "MODEL_DIR": str(self.args.model_dir),
            "DATABASE_URL": self.args.database_url,
            "DATABASE_SCHEMA": schema,
            # One address sends everything: lift the per-process abuse limits.
            "RATE_LIMIT_ADDRESS_PER_MINUTE": "100000000",
            "RATE_LIMIT_PROVIDER_PER_MINUTE": "100000000",
            # ... and the caps per identity: every flow is one made-up person and phone.
            "ABUSE_CAPS": json.dumps(
                {
                    cap: []
                    for cap in (
                        "id_number.verifications",
                        "id_number.face_failures",
                        "mobile.verifications",
                        "device.verifications",
                        "provider.verifications",
                    )
                }
            ),
            "RETENTION_INTERVAL_SECONDS": "0",
            # Every flow sends one of two recordings for one provider: with the replay memory
            # on, all but the first would be refused as replays (the fingerprint is still
            # computed and stored, so that cost stays in the figures).
            "FACE_REPLAY_CHECK": "false",
            **extra,
        }
        return env, schema, data_dir

    def provider_key(self, env: dict[str, str]) -> str:
        out = subprocess.run(
            [PY, "-m", "app", "provider", "create", "load test"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return str(json.loads(out.stdout)["api_key"])

    def levels(
        self,
        name: str,
        locustfile: str,
        host: str,
        classes: list[str],
        env: dict[str, str],
        names: tuple[str, ...],
    ) -> list[dict[str, Any]]:
        out = []
        for users in self.args.levels:
            rows = locust(
                locustfile,
                host,
                users,
                self.args.step_seconds,
                self.raw / f"{name}_u{users}",
                classes,
                env,
            )
            picked = [rows[n] for n in names if n in rows]
            level = {
                "users": users,
                "rps": round(sum(r["rps"] for r in picked), 1),
                "failures": sum(r["failures"] for r in picked),
                "p50_ms": max((r["p50_ms"] or 0) for r in picked) if picked else None,
                "p99_ms": max((r["p99_ms"] or 0) for r in picked) if picked else None,
                "by_name": {n: rows[n] for n in names if n in rows},
            }
            log(f"{name} users={users}: {level['rps']} req/s, p99 {level['p99_ms']} ms")
            out.append(level)
        return out

    def processes(self, n: int) -> dict[str, Any]:
        result: dict[str, Any] = {"processes": n}
        # 1. bare FastAPI
        port = free_port()
        bare = Server(
            [PY, str(ROOT / "bench" / "bare_app.py"), "--port", str(port), "--workers", str(n)],
            self.base_env,
            self.work / f"bare{n}.log",
            n,
        )
        with running(bare, port):
            result["bare"] = self.levels(
                f"bare_p{n}",
                "bare_locustfile.py",
                f"http://127.0.0.1:{port}",
                ["BarePing"],
                self.base_env,
                ("GET /ping (bare FastAPI)",),
            )
        # 2. Heyan, full checks
        env, schema, data_dir = self.heyan_env(f"p{n}")
        port = free_port()
        server = Server(
            [PY, "-m", "app", "serve", "--port", str(port), "--workers", str(n)],
            env,
            self.work / f"heyan{n}.log",
            n,
        )
        host = f"http://127.0.0.1:{port}"
        t0 = time.monotonic()
        with running(server, port):
            result["startup_seconds"] = round(time.monotonic() - t0, 1)
            result["memory_idle"] = {k: memory(p) for k, p in server.pids().items()}
            lenv = {**env, "HEYAN_API_KEY": self.provider_key(env), "LOAD_POLL_WAIT": "0"}
            result["polling"] = self.levels(
                f"poll_p{n}", "locustfile.py", host, ["ProviderPoller"], lenv, POLL_NAMES
            )
            outcomes = self.raw / f"mixed_p{n}_outcomes.json"
            flow_users = self.args.flow_users_per_process * n
            menv = {
                **lenv,
                "LOAD_POLL_WAIT": "1",
                "LOAD_FLOW_PAUSE": "1",
                "LOAD_FLOW_WEIGHT": str(flow_users),
                "LOAD_POLL_WEIGHT": str(self.args.pollers),
                "LOAD_OUTCOMES": str(outcomes),
            }
            load_before = os.getloadavg()[0]
            rows = locust(
                "locustfile.py",
                host,
                flow_users + self.args.pollers,
                self.args.flow_seconds,
                self.raw / f"mixed_p{n}",
                ["MiniProgramFlow", "ProviderPoller"],
                menv,
                stop_timeout=FLOW_DRAIN_SECONDS,
            )
            result["memory_after_flows"] = {k: memory(p) for k, p in server.pids().items()}
            done = read_outcomes(outcomes)
            result["mixed"] = {
                "flow_users": flow_users,
                "pollers": self.args.pollers,
                "seconds": self.args.flow_seconds,
                "flows": done["outcomes"].get("flow: completed", 0)
                + done["outcomes"].get("flow: failed", 0),
                "flows_failed": done["outcomes"].get("flow: failed", 0),
                "flow_window_seconds": done["window_seconds"],
                "flows_per_minute": done["flows_per_minute"],
                "orders_complete": done["outcomes"].get("order status: complete", 0),
                "endpoints": rows,
                "outcomes": done["outcomes"],
                "load_average_1m_before": round(load_before, 2),
                "load_average_1m_after": round(os.getloadavg()[0], 2),
            }
            log(
                f"mixed p{n}: {result['mixed']['flows_per_minute']} flows/min, "
                f"{result['mixed']['orders_complete']} orders complete"
            )
            nbytes, nfiles = folder_bytes(data_dir / "materials")
            rows_now = table_rows(self.args.database_url, schema)
            result["storage_after_flows"] = {"bytes": nbytes, "files": nfiles, "rows": rows_now}
        return result

    def capacity(self) -> dict[str, Any]:
        """Complete orders (intake checks only) to count bytes and rows per completed order."""
        env, schema, data_dir = self.heyan_env("capacity", CAPTURE_CHECKS="intake")
        port = free_port()
        server = Server(
            [PY, "-m", "app", "serve", "--port", str(port)], env, self.work / "capacity.log", 1
        )
        with running(server, port):
            lenv = {**env, "HEYAN_API_KEY": self.provider_key(env), "LOAD_FLOW_PAUSE": "0"}
            outcomes = self.raw / "capacity_outcomes.json"
            lenv["LOAD_OUTCOMES"] = str(outcomes)
            locust(
                "locustfile.py",
                f"http://127.0.0.1:{port}",
                2,
                CAPACITY_SECONDS,
                self.raw / "capacity",
                ["MiniProgramFlow"],
                lenv,
                stop_timeout=FLOW_DRAIN_SECONDS,
            )
        done = read_outcomes(outcomes)
        # The status is derived, not stored: each flow's last GET of its order reports it.
        complete = done["outcomes"].get("order status: complete", 0)
        orders = pg(self.args.database_url, f'SELECT count(*) FROM "{schema}".orders')[0][0]
        tables = table_rows(self.args.database_url, schema)
        nbytes, nfiles = folder_bytes(data_dir / "materials")
        per_order = {
            t: round(c / orders, 2)
            for t, c in tables.items()
            if c and t not in ("alembic_version", "providers", "api_keys")
        }
        return {
            "note": "CAPTURE_CHECKS=intake: every capture passes, so every flow completes",
            "orders": orders,
            "complete": complete,
            "flows_per_minute_intake_only": done["flows_per_minute"],
            "material_bytes": nbytes,
            "material_files": nfiles,
            "bytes_per_completed_order": round(nbytes / complete) if complete else None,
            "rows_per_order": per_order,
            "rows_per_order_total": round(sum(per_order.values()), 1),
            "outcomes": done["outcomes"],
        }


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    from importlib import metadata

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "uvicorn": metadata.version("uvicorn"),
        "locust": metadata.version("locust"),
        "commit": commit,
        # Passed through to the servers: "auto" counts rate limits in PostgreSQL.
        "rate_limit_backend": os.environ.get("RATE_LIMIT_BACKEND", "auto"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def summarise(report: dict[str, Any]) -> str:
    lines = [
        "# Load test results",
        "",
        f"Command: `{report['command']}`  ",
        f"When: {report['started']} ({report['duration_seconds']} s). Machine: "
        f"{report['machine']['cores']} cores, {report['machine']['cpu']}; load average at "
        f"start {report['machine']['load_average_at_start']}; commit "
        f"{report['machine']['commit']}; RATE_LIMIT_BACKEND="
        f"{report['machine']['rate_limit_backend']}.",
        "",
        "The load generator (locust) runs on the same cores as the servers, and this machine",
        "was shared with other work: figures are a floor, re-measure on a quiet machine.",
        "",
        "## Throughput and memory by process count",
        "",
        "| processes | flows/min (full checks) | polling req/s at p99 < 50 ms | bare FastAPI req/s"
        " | ratio | RSS per worker after flows (MiB) | PSS per worker (MiB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["runs"]:
        poll, bare = best_level(r["polling"]), best_level(r["bare"])
        ratio = f"{poll['rps'] / bare['rps']:.2f}" if poll and bare else "n/a"
        workers = {k: v for k, v in r["memory_after_flows"].items() if k != "supervisor"}
        rss = ", ".join(f"{v['rss_mib']:.0f}" for v in workers.values())
        pss = ", ".join(f"{v.get('pss_mib', 0):.0f}" for v in workers.values())
        lines.append(
            f"| {r['processes']} | {r['mixed']['flows_per_minute']} | "
            f"{poll['rps'] if poll else 'none'} ({poll['users'] if poll else '-'} users) | "
            f"{bare['rps'] if bare else 'none'} ({bare['users'] if bare else '-'} users) | "
            f"{ratio} | {rss} | {pss} |"
        )
    for r in report["runs"]:
        m = r["mixed"]
        lines += [
            "",
            f"## {r['processes']} process(es): mixed scenario, {m['flow_users']} flow users + "
            f"{m['pollers']} pollers (1 req/s each), {m['seconds']} s",
            "",
            f"{m['flows']} flows ({m['flows_failed']} failed, "
            f"{m.get('orders_complete', 0)} orders complete) → **{m['flows_per_minute']} "
            f"flows/min**; start-up with models {r['startup_seconds']} s; load average "
            f"{m['load_average_1m_before']} → {m['load_average_1m_after']}.",
            "",
            "| endpoint | requests | failures | p50 ms | p95 ms | p99 ms |",
            "|---|---|---|---|---|---|",
        ]
        for name, row in m["endpoints"].items():
            if name == "Aggregated":
                continue
            lines.append(
                f"| {name} | {row['requests']} | {row['failures']} | {row['p50_ms']} | "
                f"{row['p95_ms']} | {row['p99_ms']} |"
            )
        lines += ["", "Outcomes: " + "; ".join(f"{k} ×{v}" for k, v in m["outcomes"].items())]
        lines += ["", "Polling alone and bare FastAPI, by users (no think time):", ""]
        lines += [
            "| users | polling req/s | p99 ms | bare req/s | p99 ms |",
            "|---|---|---|---|---|",
        ]
        for p, b in zip(r["polling"], r["bare"], strict=True):
            lines.append(
                f"| {p['users']} | {p['rps']} | {p['p99_ms']} | {b['rps']} | {b['p99_ms']} |"
            )
        mem = "; ".join(
            f"{k} {v['rss_mib']:.0f} MiB RSS (peak {v['peak_rss_mib']:.0f})"
            for k, v in r["memory_after_flows"].items()
        )
        idle = "; ".join(f"{k} {v['rss_mib']:.0f}" for k, v in r["memory_idle"].items())
        lines += [
            "",
            f"Memory after start-up (models loaded), MiB RSS: {idle}.",
            f"After the flows: {mem}.",
        ]
        st = r.get("storage_after_flows")
        if st:
            done = m.get("orders_complete", 0)
            per = f" ≈ {round(st['bytes'] / done)} bytes per complete order" if done else ""
            lines += [
                f"Materials after the flows (full checks, encrypted): {st['bytes']} bytes in "
                f"{st['files']} files for {done} complete orders{per}."
            ]
    cap = report.get("capacity")
    if cap:
        lines += [
            "",
            "## Per completed order (CAPTURE_CHECKS=intake, so every flow completes)",
            "",
            f"{cap['complete']} of {cap['orders']} orders complete; materials "
            f"{cap['material_bytes']} bytes in {cap['material_files']} files → "
            f"**{cap['bytes_per_completed_order']} bytes per completed order** (encrypted); "
            f"**{cap['rows_per_order_total']} PostgreSQL rows per order**: "
            + ", ".join(f"{t} {c}" for t, c in cap["rows_per_order"].items())
            + ".",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", default="1,2", help="process counts to measure")
    parser.add_argument("--levels", default="1,2,8,24", help="user counts for the read tests")
    parser.add_argument("--step-seconds", type=int, default=10)
    parser.add_argument("--flow-seconds", type=int, default=60)
    parser.add_argument("--flow-users-per-process", type=int, default=3)
    parser.add_argument("--pollers", type=int, default=4)
    parser.add_argument("--skip-capacity", action="store_true")
    parser.add_argument(
        "--face-video",
        default="",
        help="one video for every challenge (default: the prepared samples' matching video)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "LOAD_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/heyan_load"
        ),
        help="PostgreSQL database the runner may create schemas in (load_<time>_<scenario>)",
    )
    parser.add_argument(
        "--keep-schemas", action="store_true", help="keep the run's schemas for inspection"
    )
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=HERE / "results", help="results folder")
    args = parser.parse_args()
    args.levels = [int(x) for x in args.levels.split(",")]
    if args.model_dir is None:
        from app.config import get_settings

        args.model_dir = get_settings().resolved_model_dir.resolve()
    started = time.monotonic()
    ensure_database(args.database_url)
    from bench.load.samples import ensure_samples

    log("samples (bench/load/samples.py, cached in bench/load/.samples)")
    ensure_samples(HERE / ".samples")
    run = Run(args)
    report: dict[str, Any] = {
        "command": "python -m bench.load.run " + " ".join(sys.argv[1:]),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "runs": [],
    }
    try:
        for n in [int(x) for x in args.processes.split(",")]:
            log(f"{n} process(es)")
            report["runs"].append(run.processes(n))
        if not args.skip_capacity:
            log("capacity (intake checks)")
            report["capacity"] = run.capacity()
    finally:
        if not args.keep_schemas:
            run.drop_schemas()
    report["duration_seconds"] = round(time.monotonic() - started)
    out = args.out
    (out / "summary.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (out / "summary.md").write_text(summarise(report))
    sys.stdout.write(summarise(report))


if __name__ == "__main__":
    main()
