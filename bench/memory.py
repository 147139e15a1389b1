# ruff: noqa: T201  (a benchmark prints its tables)
"""Where a serving process's memory goes (issue #20 item 5), stage by stage, in one process.

    .venv/bin/python -m bench.memory [--rounds 5] [--json OUT]

Builds the full-check pipeline exactly as ``serve`` does (app.lifespan.build_pipeline, the
default settings: read-aloud digits off), then runs the load test's labelled-synthetic
inputs (bench/load/samples.py: licence, ID front and back, sheet, a genuine face video)
through it: once (first use loads lazily what a model needs), then ``--rounds`` more times.
After each stage it prints RSS, peak RSS (VmHWM) and the growth since the stage before, so a
leak shows as growth across rounds and a heavy model as a step at its first use.

Nothing is timed here; bench/load measures throughput. Figures depend on the onnxruntime and
OpenCV builds and on glibc's allocator (MALLOC_ARENA_MAX is printed when set).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

from app.analysis.pipeline import DocumentExpectation  # noqa: E402
from app.config import Settings  # noqa: E402
from app.lifespan import build_pipeline  # noqa: E402


def _mem() -> dict[str, float]:
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return {
        "rss_mib": int(status["VmRSS"].split()[0]) / 1024,
        "peak_mib": int(status["VmHWM"].split()[0]) / 1024,
    }


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    from bench.load.samples import DEFAULT, ensure_samples, video_name

    rows: list[dict[str, Any]] = []
    last = 0.0

    def stage(name: str) -> None:
        nonlocal last
        gc.collect()
        m = _mem()
        rows.append({"stage": name, **m, "delta_mib": m["rss_mib"] - last})
        print(f"{name:<34} RSS {m['rss_mib']:7.1f} MiB  peak {m['peak_mib']:7.1f}  "
              f"Δ {m['rss_mib'] - last:+7.1f}")  # fmt: skip
        last = m["rss_mib"]

    stage("python + imports")
    ensure_samples()
    samples = DEFAULT
    order = json.loads((samples / "order.json").read_text())
    stage("samples ready (face models used)")
    settings = Settings(capture_checks="full", app_env="dev")
    pipeline = build_pipeline(settings)
    stage("pipeline built (lazy)")
    principal = order["subject"]["principal"]
    today = date.today()
    subject, E = order["subject"], DocumentExpectation
    docs = [
        ("licence.jpg", E(doc_type="business_licence", today=today, subject_name=subject["name"],
                          subject_number=subject["document"]["number"], is_unit=True)),
        ("id_front.jpg", E(doc_type="resident_id", side="front", today=today,
                           person_name=principal["name"],
                           person_number=principal["document"]["number"])),
        ("id_back.jpg", E(doc_type="resident_id", side="back", today=today)),
        ("sheet.jpg", E(doc_type="verification_sheet", today=today, subject_name=subject["name"],
                        domains=tuple(order["websites"][0]["domains"]), is_unit=True)),
    ]  # fmt: skip
    actions = ["blink", "shake_head"]
    video = (samples / video_name(actions)).read_bytes()
    portrait = (samples / "id_front.jpg").read_bytes()

    async def one_flow() -> None:
        for name, expect in docs:
            await pipeline.document((samples / name).read_bytes(), expect)
        await pipeline.face(
            video=video, frames=None, actions=actions, digits=None, flash=[],
            portrait=portrait, mirrored=False,
        )  # fmt: skip

    for name, expect in docs:
        await pipeline.document((samples / name).read_bytes(), expect)
        stage(f"first {name}")
    await pipeline.face(
        video=video, frames=None, actions=actions, digits=None, flash=[],
        portrait=portrait, mirrored=False,
    )  # fmt: skip
    stage("first face video")
    for i in range(args.rounds):
        await one_flow()
        stage(f"round {i + 1} (4 documents + face)")
    if arena := os.environ.get("MALLOC_ARENA_MAX"):
        print(f"MALLOC_ARENA_MAX={arena}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    pipeline.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
