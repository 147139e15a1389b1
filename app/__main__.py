"""Command line: serve, migrate, provider create/list, models list/prepare."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from app.access.providers import add_api_key, create_provider, revoke_api_key
from app.config import config_problems, get_settings
from app.core.db import make_engine, make_sessionmaker
from app.core.migrate import upgrade
from app.lifespan import build_storage
from app.models.orders import ApiKey, Provider
from app.ops.retention import purge_due
from app.ops.rotate import rotate
from app.security import crypto
from app.security.crypto import new_key_spec


def _print(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


async def _provider_create(name: str) -> dict[str, str]:
    settings = get_settings()
    engine = make_engine(settings.database_url, schema=settings.database_schema or None)
    try:
        async with make_sessionmaker(engine)() as db:
            provider_id, key = await create_provider(db, name)
            return {"provider_id": provider_id, "api_key": key}
    finally:
        await engine.dispose()


async def _keys_cmd(revoke: str | None = None, add: str | None = None) -> dict[str, object]:
    settings = get_settings()
    engine = make_engine(settings.database_url, schema=settings.database_schema or None)
    try:
        async with make_sessionmaker(engine)() as db:
            if revoke is not None:
                return {"revoked": await revoke_api_key(db, revoke)}
            assert add is not None
            return {"provider_id": add, "api_key": await add_api_key(db, add)}
    finally:
        await engine.dispose()


async def _provider_list() -> list[dict[str, object]]:
    settings = get_settings()
    engine = make_engine(settings.database_url, schema=settings.database_schema or None)
    try:
        async with make_sessionmaker(engine)() as db:
            out = []
            for p in (await db.execute(select(Provider).order_by(Provider.created_at))).scalars():
                keys = (
                    await db.execute(select(ApiKey).where(ApiKey.provider_id == p.id))
                ).scalars()
                out.append(
                    {
                        "provider_id": p.id,
                        "name": p.name,
                        "created_at": p.created_at,
                        "keys": [
                            {"prefix": k.prefix, "revoked": k.revoked_at is not None} for k in keys
                        ],
                    }
                )
            return out
    finally:
        await engine.dispose()


async def _purge() -> dict[str, int]:
    settings = get_settings()
    engine = make_engine(settings.database_url, schema=settings.database_schema or None)
    try:
        async with make_sessionmaker(engine)() as db:
            storage = build_storage(settings)
            return await purge_due(
                db, storage, retention_days=settings.retention_days,
                abandon_days=settings.abandon_days,
                fingerprint_days=settings.face_fingerprint_days,
                orphan_age_seconds=settings.orphan_file_age_seconds,
            )  # fmt: skip
    finally:
        await engine.dispose()


async def _audit_verify(order_id: str | None) -> int:
    """Print one report per order (JSON lines); exit 1 if any chain is broken."""
    from app.orders.audit import verify_all  # lazy: only the audit command needs it

    settings = get_settings()
    engine = make_engine(settings.database_url, schema=settings.database_schema or None)
    broken = checked = 0
    try:
        async with make_sessionmaker(engine)() as db:
            async for report in verify_all(db, order_id):
                checked += 1
                if not report["ok"]:
                    broken += 1
                if order_id is not None or not report["ok"]:
                    sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    finally:
        await engine.dispose()
    if order_id is None:
        sys.stdout.write(json.dumps({"orders": checked, "broken": broken}) + "\n")
    return 1 if broken else 0


async def _rotate() -> dict[str, int]:
    settings = get_settings()
    engine = make_engine(settings.database_url, schema=settings.database_schema or None)
    try:
        async with make_sessionmaker(engine)() as db:
            storage = build_storage(settings)
            return await rotate(db, storage)
    finally:
        await engine.dispose()


def ocr_models() -> list[dict[str, object]]:
    """The OCR models that ship inside the rapidocr wheel (nothing to prepare)."""
    import rapidocr  # lazy: the OCR package is loaded by this command only

    out: list[dict[str, object]] = []
    for path in sorted(Path(rapidocr.__file__).parent.rglob("*.onnx")):
        out.append(
            {
                "name": f"rapidocr/{path.name}",
                "role": "ocr",
                "source": f"rapidocr=={metadata.version('rapidocr')} (PyPI wheel)",
                "licence": "Apache-2.0 (code and PP-OCR weights)",
                "path": str(path),
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            }
        )
    return out


def uvicorn_options(host: str, port: int, workers: int) -> dict[str, Any]:
    """The uvicorn settings of `serve`; bench/bare_app.py serves with the same ones."""
    return {
        "host": host,
        "port": port,
        "workers": workers,
        "proxy_headers": True,
        "timeout_graceful_shutdown": 30,
        # Keep idle keep-alive connections open longer than a load balancer's own idle
        # timeout (nginx upstream keepalive: 60 s), else it may reuse a closed one (502).
        "timeout_keep_alive": 75,
    }


def prepare_metrics_dir(workers: int) -> Path | None:
    """Set up prometheus_client multiprocess mode before uvicorn starts its workers.

    With several workers (or PROMETHEUS_MULTIPROC_DIR set by the operator) every worker writes
    its metrics to files in one directory and `/metrics` merges them. The variable must be in
    the environment before a worker imports prometheus_client, so the parent exports it here
    and the spawned workers inherit it. The directory starts empty: files left by a previous
    run would add old counts. Returns a directory created here, to remove at exit."""
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not configured:
        # Set but empty would make prometheus_client write its files to the working directory.
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        if workers <= 1:
            return None
    created = None
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
    else:
        path = created = Path(tempfile.mkdtemp(prefix="heyan-metrics-"))
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)
    return created


def _eval_faces(folder: Path, settings: Any) -> int:
    """The liveness table on an operator's labelled recordings (app.liveness.evaluation)."""
    # Lazy here and below: the face library loads onnxruntime and OpenCV, which the other
    # commands never need.
    from app.liveness import FaceAnalyzer, LivenessConfig, VideoError, decode_video
    from app.liveness import evaluation as ev

    fa = FaceAnalyzer(
        settings.resolved_model_dir / "face",
        LivenessConfig(
            yaw_threshold_deg=settings.liveness_turn_degrees,
            nod_threshold_deg=settings.liveness_nod_degrees,
            mouth_open_threshold=settings.liveness_mouth_open,
        ),
    )
    fa.load()
    cases = []
    for row in ev.load_folder(folder):
        try:
            frames = decode_video(
                row["file"].read_bytes(),
                max_seconds=settings.max_video_seconds,
                max_frames=fa.config.decode_max_frames,
                max_side=fa.config.decode_max_side,
            )
        except VideoError as exc:
            print(f"{row['file'].name}: {exc.code}", file=sys.stderr)  # noqa: T201
            continue
        cases.append(
            ev.Case(row["label"], row["file"].name, frames, row["actions"], row["mirrored"])
        )
    outcomes = ev.run(
        cases,
        lambda c: list(fa.analyze(c.frames, c.actions, None, mirrored=c.mirrored).checks),
    )
    print(ev.table(outcomes, title=f"{folder} ({len(outcomes)} captures)"))  # noqa: T201
    print("\n" + ev.margins(outcomes) + "\n\n" + ev.failures(outcomes))  # noqa: T201
    return 0


def _eval_documents(folder: Path) -> int:
    """The document table on an operator's labelled photos (app.documents.evaluation)."""
    import cv2  # lazy: OCR and OpenCV are loaded by this command only

    from app.documents import evaluation as ev
    from app.documents.analyzer import DocKind, DocumentAnalyzer, Expectation

    analyzer = DocumentAnalyzer()
    analyzer.load()
    outcomes = []
    for row in ev.load_folder(folder):
        img = cv2.imread(str(row["file"]), cv2.IMREAD_COLOR)
        if img is None:
            print(f"{row['file'].name}: not an image", file=sys.stderr)  # noqa: T201
            continue
        v = analyzer.analyze(
            img, DocKind(row["kind"]), Expectation(today=row["today"], **row["expect"])
        )
        outcomes.append(
            ev.outcome(
                row["label"], row["file"].name, row["kind"], row["must_fail"], row["truth"],
                frozenset(v.failed()), v.fields,
            )
        )  # fmt: skip
    print(ev.table(outcomes, f"{folder} ({len(outcomes)} photos)"))  # noqa: T201
    print("\n" + ev.failures(outcomes))  # noqa: T201
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="Heyan (核验) service")
    sub = parser.add_subparsers(dest="cmd", required=True)
    serve = sub.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY", "1")),
        help="API processes on one port (default: WEB_CONCURRENCY or 1); each loads the models",
    )
    serve.add_argument("--no-migrate", action="store_true", help="do not migrate at start")
    sub.add_parser("migrate", help="apply database migrations")
    prov = sub.add_parser("provider", help="manage providers (access providers)")
    psub = prov.add_subparsers(dest="pcmd", required=True)
    create = psub.add_parser("create", help="create a provider and print its API key once")
    create.add_argument("name")
    psub.add_parser("list", help="list providers")
    revoke = psub.add_parser("revoke-key", help="revoke an API key by its prefix")
    revoke.add_argument("prefix")
    addkey = psub.add_parser("add-key", help="add an API key to a provider (printed once)")
    addkey.add_argument("provider_id")
    sub.add_parser("purge", help="delete materials and identity data past retention")
    aud = sub.add_parser("audit", help="the events' hash chain")
    asub = aud.add_subparsers(dest="acmd", required=True)
    averify = asub.add_parser(
        "verify", help="check every order's chain (or one); print the first broken link"
    )
    averify.add_argument("order", nargs="?", help="an order id (default: every order)")
    keys = sub.add_parser("keys", help="encryption keys")
    keys.add_argument(
        "action", choices=["rotate", "new"], help="rotate: re-encrypt; new: print a key"
    )
    models = sub.add_parser("models", help="list models, or prepare them (convert and verify)")
    models.add_argument("action", nargs="?", default="list", choices=["list", "prepare"])
    models.add_argument("--force", action="store_true")
    models.add_argument(
        "--json", action="store_true", help="print every model's details (source, sha256, ...)"
    )
    evalf = sub.add_parser(
        "eval-faces",
        help="liveness APCER/BPCER on a folder of your own labelled captures (labels.csv)",
    )
    evalf.add_argument("folder", type=Path)
    evald = sub.add_parser(
        "eval-documents",
        help="document checks on a folder of your own labelled photos (labels.csv)",
    )
    evald.add_argument("folder", type=Path)
    args = parser.parse_args(argv)

    try:
        settings = get_settings()
    except ValidationError as exc:
        # One line per problem, no traceback: pydantic's own text repeats the values given.
        for line in config_problems(exc):
            sys.stderr.write(f"heyan: configuration error: {line}\n")
        return 2
    crypto.configure(*settings.encryption_keys())
    if args.cmd == "migrate":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade(settings.database_url, schema=settings.database_schema)
        return 0
    if args.cmd == "serve":
        import uvicorn  # lazy: the other commands never start a server

        if not args.no_migrate:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            upgrade(settings.database_url, schema=settings.database_schema)
        # In development the signing key is generated into DATA_DIR on first use: create it
        # here, before the workers fork, or each worker would race to write its own and
        # reject the tokens the others signed. (The data keys were created just above.)
        settings.signing_key()
        metrics_dir = prepare_metrics_dir(args.workers)
        try:
            uvicorn.run(
                "app.main:create_app",
                factory=True,
                **uvicorn_options(args.host, args.port, args.workers),
            )
        finally:
            if metrics_dir is not None:
                shutil.rmtree(metrics_dir, ignore_errors=True)
        return 0
    if args.cmd == "provider":
        if args.pcmd == "create":
            _print(asyncio.run(_provider_create(args.name)))
        elif args.pcmd == "revoke-key":
            _print(asyncio.run(_keys_cmd(revoke=args.prefix)))
        elif args.pcmd == "add-key":
            _print(asyncio.run(_keys_cmd(add=args.provider_id)))
        else:
            _print(asyncio.run(_provider_list()))
        return 0
    if args.cmd == "purge":
        _print(asyncio.run(_purge()))
        return 0
    if args.cmd == "audit":
        return asyncio.run(_audit_verify(args.order))
    if args.cmd == "keys":
        if args.action == "new":
            _print({"key": new_key_spec()})
            return 0
        _print(asyncio.run(_rotate()))
        return 0
    if args.cmd == "eval-documents":
        return _eval_documents(args.folder)
    if args.cmd == "eval-faces":
        return _eval_faces(args.folder, settings)
    if args.cmd == "models":
        # lazy: the face library (onnxruntime, OpenCV) is loaded by this command only
        from app.liveness import list_models, list_speech_models, prepare_models
        from app.liveness.prepare.build import prepare_speech_models

        model_dir = settings.resolved_model_dir / "face"
        speech_dir = settings.resolved_model_dir / "speech"
        if args.action == "prepare":
            prepared = prepare_models(model_dir, force=args.force)
            prepared += prepare_speech_models(speech_dir, force=args.force)
            if not args.json:
                # One line per prepared model: `make run` and `make test` run this each time.
                for p in prepared:
                    sys.stdout.write(f"model {p.name}: {Path(p.file).name} {p.sha256[:12]}\n")
                return 0
        infos = [i.as_dict() for i in list_models(model_dir)]
        infos += [i.as_dict() for i in list_speech_models(speech_dir)]
        infos += ocr_models()
        if args.json:
            _print(infos)
        else:
            for i in infos:
                sys.stdout.write(
                    f"{i['name']}: {Path(str(i.get('file') or i.get('path'))).name} "
                    f"{str(i['sha256'])[:12]} {i['source']} ({i['licence']})\n"
                )
        return 0
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
